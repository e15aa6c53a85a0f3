/* nngfix.h: every workaround for a bug of nng 1.5.2 that reaches cellbatchd, in one place
 * (docs/nng.md says what each is for, how it was found and how it is tested). */
#ifndef CB_NNGFIX_H
#define CB_NNGFIX_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

/*
 * nanomsg/nng#1518 (fixed by PR #1519, first released in 1.6.0): a peer that
 * connects and disconnects before the SP handshake stops an ipc listener from
 * accepting anyone again. Off where the fix is present.
 */
#if NNG_MAJOR_VERSION == 1 && NNG_MINOR_VERSION < 6
#define NNGFIX_LISTENER_WEDGE 1
#else
#define NNGFIX_LISTENER_WEDGE 0
#endif

typedef enum nngfix_probe_result {
	PROBE_ANSWERED, /* an SP peer completed the handshake */
	PROBE_ABSENT,   /* nothing listens: no such socket file, or the connection was refused */
	PROBE_SILENT,   /* connected, but no handshake within the timeout */
	PROBE_ERROR,    /* the URL cannot be probed (scheme, name, local failure) */
} nngfix_probe_result;

/*
 * Connects to an ipc:// or tcp:// URL as an SP REQ peer and completes the
 * handshake before closing, so that the probe never leaves a listener
 * mid-negotiation. Blocks up to timeout_ms. Any thread.
 */
nngfix_probe_result nngfix_probe(const char *url, int timeout_ms);

typedef struct nngfix_listeners nngfix_listeners;

/* The socket's connection notices, counted by the caller; called on the watchdog's thread. */
typedef struct nngfix_pipe_counts {
	uint64_t (*added)(void *arg);   /* NNG_PIPE_EV_ADD_PRE notices so far */
	uint64_t (*removed)(void *arg); /* NNG_PIPE_EV_REM_POST notices so far */
	void *arg;
} nngfix_pipe_counts;

/*
 * Listens on every URL on sock: ipc sockets get mode 0600; an existing ipc
 * socket file is probed first — removed when stale, refused (NNG_EADDRINUSE)
 * when a server answers there — so that nng's own stale check (a bare connect)
 * never runs against a live server. With NNGFIX_LISTENER_WEDGE a watchdog
 * thread probes each ipc and tcp listener every interval_ms and re-creates one
 * that completes handshakes but stops handing connections to the socket (pc
 * counts what the socket took in; copied). On failure logs which URL failed
 * and returns an nng error; listeners already started stay with sock. *out is
 * owned by the caller. tls+tcp:// and wss:// listeners get tls (each holds a reference;
 * NNG_EINVAL when NULL); tls listeners are not probed.
 */
int nngfix_listen(nngfix_listeners **out, nng_socket sock, const char *const *urls, int n,
                  int interval_ms, const nngfix_pipe_counts *pc, nng_tls_config *tls);

/* Stops the watchdog (joins its thread) and frees ls; call before closing the socket. */
void nngfix_listeners_stop(nngfix_listeners *ls);

/* Listener restarts done by the watchdog since start. Any thread. */
uint64_t nngfix_listener_restarts(void);
/* True once the watchdog found nng's reaper thread stuck (docs/nng.md). Any thread. */
bool nngfix_reaper_stuck(void);
/* The watchdog's probes that the socket took in (each one connection). Any thread. */
uint64_t nngfix_probes_answered(void);

#endif
