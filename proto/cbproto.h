/* cbproto.h: wire protocol v1 — message structs, strict decoding of untrusted bytes, encoding.
 * Its functions are cbp_*: cb_* is libcellbatch's public API (cellbatch.h, cbwire.h). */
#ifndef CBPROTO_H
#define CBPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <msgpack.h>

#include "cbwire.h"

#define CB_PROTO_VERSION 1
/*
 * Default cap on one message body: the largest valid request, a multi of
 * 10,000 calls each at the protocol's limits (a 1,024-byte text and all five
 * options at 1,024 bytes: 6,221 bytes a call, 62,210,055 in all, as
 * tests/unit/test_limits.c encodes it), rounded up to 64 MiB.
 */
#define CB_MAX_BYTES_DEFAULT (64u << 20)
/* Bodies up to this much over a server's cap still get BAD_REQUEST; nng drops larger ones. */
#define CB_MAX_BYTES_SLACK (1u << 20)
#define CB_MAX_DEPTH       8     /* deepest valid request nests 4 levels */
#define CB_MAX_MULTI       10000 /* calls in one multi request */
#define CB_TEXT_MAX        1024  /* bytes of one text argument or option */
#define CB_ERRMSG_MAX      256   /* room for a decode error message */
#define CB_AUTH_MAX        1024  /* bytes of a request's auth token */

/* A string that points into a message buffer: not NUL-terminated, not owned. */
typedef struct cb_str {
	const char *ptr;
	uint32_t len;
} cb_str;

typedef enum cb_op { CB_OP_CALL, CB_OP_MULTI, CB_OP_STATS, CB_OP_PING, CB_OP_COUNT } cb_op;

/* cb_fn, the functions a call may name, is public (cellbatch.h); the argument shape of each is in
 * cbp_fns. */

typedef enum cb_args_kind {
	CB_ARGS_TEXT,  /* [text] */
	CB_ARGS_LATLON /* [lat, lon] */
} cb_args_kind;

typedef struct cb_fn_info {
	const char *name;
	cb_args_kind args;
} cb_fn_info;

/* Options, in their canonical (encoding) order. */
typedef enum cb_opt {
	CB_OPT_LANG,
	CB_OPT_TYPE,
	CB_OPT_FILTER,
	CB_OPT_BIAS,
	CB_OPT_COUNTRYCODES,
	CB_OPT_COUNT
} cb_opt;

typedef struct cb_opts {
	cb_str v[CB_OPT_COUNT]; /* ptr == NULL: option absent */
} cb_opts;

typedef struct cb_wire_call {
	cb_fn fn;
	cb_str text;     /* CB_ARGS_TEXT */
	double lat, lon; /* CB_ARGS_LATLON */
	cb_opts opts;
} cb_wire_call;

typedef struct cb_decode_error {
	cb_err code;
	char message[CB_ERRMSG_MAX];
} cb_decode_error;

typedef struct cb_request {
	cb_op op;
	bool has_id;
	uint64_t id;
	bool has_auth; /* auth given: a token, 1 to CB_AUTH_MAX bytes, any op */
	cb_str auth;
	bool has_deadline; /* deadline_ms given (call and multi) */
	uint64_t deadline_ms;
	cb_wire_call call;   /* op == CB_OP_CALL */
	cb_wire_call *calls; /* op == CB_OP_MULTI: owned, freed by cbp_request_free */
	uint32_t ncalls;
	/*
	 * op == CB_OP_MULTI, decoded: NULL when every call is valid, else ncalls
	 * entries, code CB_OK for the valid ones; an invalid call is answered on its
	 * own, the others go ahead. Owned, freed by cbp_request_free.
	 */
	cb_decode_error *call_errors;
} cb_request;

typedef struct cb_wire_result {
	double lat, lon;
	cb_str formatted;
	bool has_confidence;
	double confidence;
	cb_str result_type; /* ptr == NULL: absent */
} cb_wire_result;

typedef struct cb_meta {
	bool cached;
	uint64_t batch_size;
	double wait_ms;
} cb_meta;

/*
 * One reply. ok == (err == CB_OK). A successful call carries result and meta,
 * a multi carries results, ping carries version, stats carries its map as a
 * msgpack object (opaque here: its contents belong to the server).
 */
typedef struct cb_reply {
	bool has_id;
	uint64_t id;
	cb_err err;
	cb_str message;  /* failure text */
	bool has_result; /* result and meta present */
	cb_wire_result result;
	cb_meta meta;
	struct cb_reply *results; /* multi: owned, freed by cbp_reply_free */
	uint32_t nresults;
	bool is_multi;
	cb_str version; /* ping; ptr == NULL: absent */
	bool has_stats;
	msgpack_object stats; /* lives in zone */
	msgpack_zone *zone;   /* decoded replies only: owned, freed by cbp_reply_free */
} cb_reply;

typedef struct cb_limits {
	size_t max_bytes; /* 0: CB_MAX_BYTES_DEFAULT */
} cb_limits;

/* Filled by the decoders on failure: a code and a sentence saying what was wrong. */

extern const cb_fn_info cbp_fns[CB_FN_COUNT];
extern const char *const cbp_op_names[CB_OP_COUNT];
extern const char *const cbp_opt_names[CB_OPT_COUNT];

/* Looks up a wire error code name ("NOT_FOUND"); CB_EINTERNAL when unknown. */
cb_err cbp_err_from_name(const char *name, size_t len);

/*
 * Non-allocating structural check of untrusted bytes: the size cap, every
 * length and count against the bytes that remain, the depth cap, string keys,
 * valid UTF-8 in every string, finite floats, no trailing bytes, and a map at
 * the top. On success *zone_bytes is what msgpack-c will need to unpack it.
 * Returns CB_OK or CB_EBAD_REQUEST with err filled.
 */
cb_err cbp_prescan(const void *buf, size_t len, const cb_limits *lim, size_t *zone_bytes,
                   cb_decode_error *err);

/*
 * Decodes a request. req borrows buf: its strings point into buf, so buf must
 * outlive req. On success the caller owns req and frees it with
 * cbp_request_free; on failure nothing is left to free, err says why
 * (CB_EBAD_REQUEST, CB_EUNSUPPORTED_VERSION, CB_EUNKNOWN_FN or CB_ENOMEM),
 * and req->has_id, req->id, req->has_auth and req->auth are still set when
 * they could be read (auth borrows buf as well).
 */
cb_err cbp_request_decode(const void *buf, size_t len, const cb_limits *lim, cb_request *req,
                          cb_decode_error *err);
void cbp_request_free(cb_request *req);

/* Decodes a reply; same ownership as cbp_request_decode, free with cbp_reply_free. */
cb_err cbp_reply_decode(const void *buf, size_t len, const cb_limits *lim, cb_reply *rep,
                        cb_decode_error *err);
void cbp_reply_free(cb_reply *rep);

/*
 * Encoders append one canonical message (fixed key order, smallest integer
 * forms, float64 for every float) to pk's buffer. They return CB_OK or
 * CB_ENOMEM; on failure the buffer holds a partial message to discard.
 */
cb_err cbp_request_encode(msgpack_packer *pk, const cb_request *req);
cb_err cbp_call_encode(msgpack_packer *pk,
                       const cb_wire_call *call); /* one element of multi calls */
cb_err cbp_reply_encode(msgpack_packer *pk, const cb_reply *rep);

/* Appends an error reply {v, id?, ok=false, error{code, message}}. */
cb_err cbp_error_reply_encode(msgpack_packer *pk, bool has_id, uint64_t id, cb_err code,
                              const char *message, size_t message_len);

/* Small packing helpers shared by the encoders and the server's stats. */
int cbp_pack_cstr(msgpack_packer *pk, const char *s);
int cbp_pack_str(msgpack_packer *pk, cb_str s);

/* The msgpack type a leading byte announces ("integer", "map", ...), for messages. */
const char *cbp_msgpack_type_of_byte(uint8_t b);

/*
 * The server URL when none is given: CELLBATCH_URL, else
 * ipc://$XDG_RUNTIME_DIR/cellbatch.sock, else ipc:///tmp/cellbatch-$UID/cellbatch.sock
 * (cbp_rundir). Writes into buf, returns buf.
 */
const char *cbp_default_url(char *buf, size_t cap);

/* /tmp/cellbatch-$UID (the effective uid) in buf; returns buf. */
const char *cbp_rundir(char *buf, size_t cap);
/*
 * Whether st, lstat of dir, may hold uid's socket: a directory (not a link)
 * of uid's, closed to group and others. 0, or -1 with why filled.
 */
int cbp_rundir_verdict(const char *dir, const struct stat *st, uid_t uid, char *why, size_t cap);
/*
 * For a URL in cbp_rundir (others pass: their user chose them): the
 * directory created 0700 when missing and create is set (the server), then
 * checked by cbp_rundir_verdict. A client (create 0) passes a missing
 * directory: nothing listens there. 0, or -1 with why filled.
 */
int cbp_rundir_check(const char *url, int create, char *why, size_t cap);

/* Expands shorthands: "5555" -> tcp://127.0.0.1:5555, "host:port" -> tcp://..., "/path" ->
 * ipc:///path. */
const char *cbp_url_normalize(const char *in, char *buf, size_t cap);

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates); *bad gets the offset. */
bool cb_utf8_valid(const char *s, size_t len, size_t *bad);

#endif
