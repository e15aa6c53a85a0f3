/* ingress.h: the nng REP socket — a growing pool of contexts whose messages are handed to the libuv
 * loop. */
#ifndef CB_INGRESS_H
#define CB_INGRESS_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>
#include <uv.h>

#include "conn.h"
#include "tlsconf.h"
#include "wsep.h"

typedef struct ingress ingress;
typedef struct ing_ctx ing_ctx; /* one nng context: holds one request until it is answered */

/*
 * Called on the loop thread for each received request. The callee owns msg
 * and must answer exactly once with ingress_reply(ctx, ...), now or later.
 */
typedef void (*ingress_recv_cb)(void *arg, ing_ctx *ctx, nng_msg *msg);

/*
 * Called on an nng thread for each received request first, to answer it
 * without the loop. Borrows msg. On true *reply is the reply, which ingress
 * sends (and frees msg); on false msg goes on to the recv callback.
 */
typedef bool (*ingress_hot_cb)(void *arg, nng_msg *msg, nng_msg **reply);

typedef struct ingress_config {
	const char *const *urls; /* listen addresses */
	int nurls;
	size_t max_contexts;          /* contexts never exceed this */
	size_t min_idle;              /* contexts kept receiving while below max_contexts */
	size_t max_recv;              /* NNG_OPT_RECVMAXSZ: larger messages drop the connection */
	size_t max_conns;             /* connections beyond are closed at once */
	uint32_t max_unread_per_conn; /* --max-pending-per-conn; see conntab_admit */
	int send_timeout_ms;          /* a reply waiting longer closes its connection */
	const char *ws_addr; /* --http HOST:PORT: also ws://HOST:PORT/cellbatch; NULL: not */
	const wsep_origins *ws_origins; /* the Origins served there; borrowed, outlives ingress */
	nng_tls_config *tls; /* tls+tcp:// listeners and wss:// (then https); NULL: none */
} ingress_config;

/*
 * Opens the socket, listens on every URL and starts receiving. On failure
 * returns an nng error, logs which URL failed, and leaves nothing open.
 */
int ingress_open(ingress **out, uv_loop_t *loop, const ingress_config *cfg, ingress_recv_cb cb,
                 ingress_hot_cb hot, void *arg);

/* Sends msg as the reply on ctx; takes msg in every case. Loop thread only. */
void ingress_reply(ing_ctx *ctx, nng_msg *msg);

/*
 * Hands every request already received to the callback now, instead of on
 * the next wake-up. Loop thread only; for decisions that must not overlook
 * arrivals waiting in the queue (libuv runs timers before I/O).
 */
void ingress_poll(ingress *in);

/* Contexts holding a request, and replies handed to nng but not yet completed. */
size_t ingress_held(const ingress *in);
size_t ingress_sending(const ingress *in);
/* Connection counters (any thread). */
void ingress_conn_counters(ingress *in, conn_counters *out);

/*
 * Closes the socket and frees everything (nng_close, stop and free every
 * aio, drain the handoff queue, uv_close the async handle). Held requests
 * are dropped: answer them first. Loop thread; the loop must run afterwards
 * for the close callback.
 */
void ingress_close(ingress *in);

#endif
