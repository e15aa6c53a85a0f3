/* conn.h: per-connection accounting for ingress — replies a connection has not read, the
 * connection cap, and the counters behind stats' "connections". Any thread. */
#ifndef CB_CONN_H
#define CB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

typedef struct conntab conntab;

typedef struct conn_counters {
	uint64_t open;          /* connections now */
	uint64_t open_max;      /* the most at once */
	uint64_t accepted;      /* since start */
	uint64_t rejected;      /* closed at once because max_conns were open */
	uint64_t removed;       /* ended (nng's REM_POST notices) */
	uint64_t dropped;       /* requests dropped from connections that read no replies */
	uint64_t send_timeouts; /* connections closed because a reply waited too long */
	uint64_t gated;         /* closed on arrival by the gate (wsep: a WebSocket's Origin) */
} conn_counters;

/*
 * max_conns: connections kept at once. max_unread: replies a connection that
 * reads nothing may have waiting; see conntab_admit.
 */
int conntab_open(conntab **out, size_t max_conns, uint32_t max_unread);
void conntab_close(conntab *t);

/*
 * Keeps t in step with sock's connections through nng's pipe notices: a new
 * one is added, or closed at once (logged, counted) when max_conns are open;
 * one that ends is removed. t must outlive sock.
 */
int conntab_watch(conntab *t, nng_socket sock);

/*
 * A check of each new connection, on nng's thread before the cap: false
 * closes it (counted in gated) before it can deliver a request. Set before
 * conntab_watch; NULL: none.
 */
typedef bool (*conntab_gate)(void *arg, nng_pipe p);
void conntab_set_gate(conntab *t, conntab_gate gate, void *arg);

/* A new connection; false (and counted) when max_conns are open: the caller closes it. */
bool conntab_add(conntab *t, uint32_t id);
/* The connection is gone; requests still outstanding on it are released without effect. */
void conntab_remove(conntab *t, uint32_t id);

/*
 * Whether to serve a request that just arrived on connection id. False (and
 * counted) when at least max_unread of its replies wait to be sent and none
 * was sent for a second, or 20 times max_unread wait: the peer reads nothing,
 * so the request is dropped unanswered. *first is true for the first drop on
 * a connection, so that it is logged once.
 */
bool conntab_admit(conntab *t, uint32_t id, bool *first);
/* A reply to connection id was handed to nng. */
void conntab_sending(conntab *t, uint32_t id);
/* That reply left, or was given up: one fewer waiting, and progress when it was sent. */
void conntab_sent(conntab *t, uint32_t id, bool ok);
/* A reply to connection id timed out; counted once per connection. True the first time. */
bool conntab_send_timeout(conntab *t, uint32_t id);

void conntab_counters(conntab *t, conn_counters *out);

/*
 * Connections the socket took in (refused ones too), and connections nng
 * released: the listener watchdog's signs of life (nngfix_pipe_counts; t is
 * the conntab). Any thread.
 */
uint64_t conntab_added(void *t);
uint64_t conntab_removed(void *t);

#endif
