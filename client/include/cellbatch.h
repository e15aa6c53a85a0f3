/* cellbatch.h: the public API of libcellbatch — per-cell geocoding calls to a cellbatchd server. */
#ifndef CELLBATCH_H
#define CELLBATCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The ABI rules (docs/abi.md): cb_client_options and cb_call start with
 * their size, set by CB_CLIENT_OPTIONS_INIT / CB_CALL_INIT; new fields are
 * only ever appended, and the library reads only what the caller's size
 * covers (the rest takes its default), so a program built against an
 * older header keeps working with a newer library of the same SONAME.
 * Anything else (a field moved or removed, cb_result changed, an enum
 * value renumbered) bumps CELLBATCH_SOVERSION.
 */
#include "cellbatch_version.h"

/* cb_err, cb_strerror(), cb_err_name() and cb_fn: the wire protocol's facts, owned by proto/. */
#include "cbwire.h"

typedef struct cb_client cb_client;

typedef struct cb_client_options {
	size_t size; /* sizeof(cb_client_options) as the caller was built: CB_CLIENT_OPTIONS_INIT */
	unsigned timeout_ms; /* default per-call timeout; 0: 60000 */
	unsigned retries;    /* resends of a call after a lost connection; 0: 3 */
	/*
	 * Sent as auth with every request, for a server started with
	 * --auth-token-file (without it calls get CB_EUNAUTHORIZED). NULL:
	 * $CELLBATCH_TOKEN; "": none. Copied by cb_client_open.
	 */
	const char *token;
	/*
	 * For tls+tcp:// and wss:// URLs (others ignore them); each a PEM file
	 * path, read and copied by cb_client_open (the paths are not kept).
	 * tls_ca: the CAs the server's certificate must chain to (NULL:
	 * $CELLBATCH_TLS_CA, else the system's /etc/ssl/certs/ca-certificates.crt).
	 * The certificate must name the URL's host (mbedTLS: a DNS name, so an
	 * address as 127.0.0.1 must appear as a DNS entry too). tls_cert and
	 * tls_key: this client's certificate and unencrypted key, for a server
	 * with --tls-client-auth (NULL: $CELLBATCH_TLS_CERT, $CELLBATCH_TLS_KEY;
	 * "": none).
	 */
	const char *tls_ca, *tls_cert, *tls_key;
	/* fields added later are appended here */
} cb_client_options;

/* cb_client_options o = CB_CLIENT_OPTIONS_INIT(.timeout_ms = 5000); unnamed fields are 0. */
#define CB_CLIENT_OPTIONS_INIT(...)                                                                \
	{                                                                                          \
		.size = sizeof(cb_client_options), __VA_ARGS__                                     \
	}

/* One call, as a spreadsheet cell makes it. Strings are copied by the call functions. */
typedef struct cb_call {
	size_t size; /* sizeof(cb_call) as the caller was built: CB_CALL_INIT */
	cb_fn fn;
	const char *text; /* CB_FN_GEOCODE: 1 to 1024 bytes of UTF-8 */
	double lat, lon;  /* CB_FN_REVERSE */
	/* upstream options; NULL: not set. Calls with different options never share a batch. */
	const char *lang, *type, *filter, *bias, *countrycodes;
	unsigned timeout_ms; /* 0: the client's default; sent to the server as deadline_ms */
	                     /* fields added later are appended here */
} cb_call;

/* cb_call call = CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = "..."); unnamed fields are 0. */
#define CB_CALL_INIT(...)                                                                          \
	{                                                                                          \
		.size = sizeof(cb_call), __VA_ARGS__                                               \
	}

/*
 * The answer to one call; written by the library only, so it has no size
 * field: its layout is fixed for a SONAME (multi callbacks index an array
 * of them). err is CB_OK with a location, or an error with
 * message. In a done callback the strings are borrowed and valid only
 * during the callback; results filled by the synchronous functions own
 * their strings and are released with cb_result_free().
 */
typedef struct cb_result {
	cb_err err;
	const char *message; /* failure text; "" on success */
	double lat, lon;
	const char *formatted; /* "" when the upstream gave none */
	int has_confidence;
	double confidence;             /* 0..1 */
	const char *result_type;       /* NULL when absent */
	int cached;                    /* answered from the server's cache */
	unsigned long long batch_size; /* items in the upstream batch that served it */
	double wait_ms;                /* time spent in the server's batch window */
} cb_result;

/*
 * Called exactly once per accepted call: with the result, an error from
 * the server, CB_ETIMEOUT, CB_EUNREACHABLE when the connection was lost
 * and could not be re-established in time, or CB_ECLOSED when the client
 * is closed first. It runs on a library thread (possibly before
 * cb_call_async returns); it must not block for long and must not call
 * cb_client_close or the synchronous functions.
 */
typedef void (*cb_done_fn)(void *user, const cb_result *res);

/*
 * Connects to the server at url (NULL: $CELLBATCH_URL, else
 * ipc://$XDG_RUNTIME_DIR/cellbatch.sock, else
 * ipc:///tmp/cellbatch-$UID/cellbatch.sock). Shorthands: "5555" is
 * tcp://127.0.0.1:5555, "host:port" is tcp://, "/path" is ipc://.
 * Several servers, separated by commas (a fleet sharing one Redis,
 * docs/fleet.md): all are dialled, calls spread over those connected, and
 * a dead server's calls are resent to the others (same ids, answered once).
 * opts->size must cover at least timeout_ms, retries and token (else
 * CB_EINVAL); fields of a newer header than the library's must be 0.
 * Returns CB_EUNREACHABLE when nothing listens there, or when
 * /tmp/cellbatch-$UID is not the caller's own directory closed to others
 * (another user may be listening there), or when a TLS handshake fails (the
 * server's certificate is not trusted, or it requires one from the client);
 * CB_EINVAL for a token over 1024 bytes, or TLS files that cannot be read
 * or used. opts may be NULL. The client is thread-safe; one client carries
 * thousands of calls at once.
 */
CB_API cb_err cb_client_open(cb_client **out, const char *url, const cb_client_options *opts);

/*
 * Cancels every outstanding call: each one's done callback fires with
 * CB_ECLOSED (or its real answer, if that won the race) before
 * cb_client_close returns. Then frees the client.
 */
CB_API void cb_client_close(cb_client *c);

/*
 * Starts one call and returns at once, like a spreadsheet's async UDF.
 * call->size as for cb_client_open's options (else CB_EINVAL). On CB_OK, done fires exactly once
 * later. On any other return (CB_EINVAL, CB_ENOMEM, CB_ECLOSED) done is never called.
 */
CB_API cb_err cb_call_async(cb_client *c, const cb_call *call, cb_done_fn done, void *user);

/* Called exactly once per accepted multi call, with n results in the calls' order. */
typedef void (*cb_multi_done_fn)(void *user, const cb_result *results, size_t n);

/*
 * Sends n calls (1 to 10000) as one message; calls is an array of
 * calls[0].size-byte elements, every one with that size, so that they reach the
 * server's batch window together, and returns at once. done fires exactly
 * once with one result per call; when the message as a whole fails (BUSY,
 * timeout, lost connection, close) every result carries that error. The
 * timeout is the largest of the calls' timeout_ms (0: the client's).
 * Same return rules as cb_call_async.
 */
CB_API cb_err cb_multi_async(cb_client *c, const cb_call *calls, size_t n, cb_multi_done_fn done,
                             void *user);

/*
 * Makes one call and waits for its answer. Fills out (release with
 * cb_result_free) and returns out->err. Must not be called from a done
 * callback.
 */
CB_API cb_err cb_call_sync(cb_client *c, const cb_call *call, cb_result *out);
CB_API cb_err cb_geocode(cb_client *c, const char *text, cb_result *out);
CB_API cb_err cb_reverse(cb_client *c, double lat, double lon, cb_result *out);
CB_API void cb_result_free(cb_result *r);

/* Asks the server for its version; writes it to version (NUL-terminated). */
CB_API cb_err cb_ping(cb_client *c, char *version, size_t cap);

/*
 * Fetches the server's stats map (see docs/stats.md) as msgpack bytes in
 * *buf, which the caller owns and releases with cb_free().
 */
CB_API cb_err cb_stats(cb_client *c, void **buf, size_t *len);

/*
 * Releases a buffer the library returned (cb_stats). The library's free,
 * not the caller's: a binding or a program with its own allocator must not
 * call free() on it. NULL is a no-op.
 */
CB_API void cb_free(void *p);

/* The loaded library's version, e.g. "0.2.0" (CELLBATCH_VERSION_STRING is the header's). */
CB_API const char *cb_version(void);

/* The loaded library's version as CELLBATCH_VERSION_HEX, to compare with the header's. */
CB_API unsigned cb_version_hex(void);

#ifdef __cplusplus
}
#endif
#endif
