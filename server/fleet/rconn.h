/* rconn.h: one connection to Redis on the loop (--redis): its URL, its state machine, a timer for
 * every command (hiredis 0.14 has none), reconnection with backoff. */
#ifndef CB_RCONN_H
#define CB_RCONN_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

/* The connection's life; rconn.c's table says which changes are legal. */
typedef enum rconn_state {
	RCONN_IDLE,       /* opened, not connecting yet */
	RCONN_CONNECTING, /* the socket connects */
	RCONN_HANDSHAKE,  /* AUTH and SELECT in flight */
	RCONN_READY,      /* commands go */
	RCONN_BACKOFF,    /* lost or refused: the reconnect timer runs */
	RCONN_CLOSED,     /* rconn_close: never again */
	RCONN_STATE_COUNT
} rconn_state;

/*
 * The longest wait between two connection attempts. Short, so that the
 * instances of a fleet see a restarted Redis within this of each other
 * (fleet.c's quiet period counts on it); a try costs one connect.
 */
#define RCONN_BACKOFF_MAX_MS 500

typedef struct rconn_config {
	const char *url;      /* redis://host[:port][/db] or unix:///path[?db=N] */
	const char *password; /* NULL: no AUTH */
	uint64_t op_timeout_ms;
	uint64_t connect_timeout_ms;
	/* a channel: this connection only listens to it (subscribed again after each reconnect),
	 * and each message goes to message_cb (with rconn_open's arg); NULL: commands */
	const char *subscribe;
	void (*message_cb)(void *arg, const char *msg, size_t len);
} rconn_config;

typedef struct rconn rconn;

/* A command's end: reply, or NULL with err ("timeout", "connection lost", ...). hiredis frees
 * the reply after this returns. */
typedef void (*rconn_reply_cb)(void *arg, const redisReply *reply, const char *err);
/* The connection changed state (already logged); may call rconn_command. */
typedef void (*rconn_state_cb)(void *arg, rconn_state from, rconn_state to);

/*
 * Opens a connection on loop's thread (every call below must be on it) and
 * starts connecting from the loop (state_cb never runs inline). Returns 0, or
 * -1 (out of memory, a bad URL). The config's strings are copied.
 */
int rconn_open(rconn **out, uv_loop_t *loop, const rconn_config *cfg, rconn_state_cb state_cb,
               void *arg);

/*
 * Sends a command when READY: returns 0 and cb runs exactly once, never
 * inline, with the reply, or NULL after op_timeout_ms (which also drops the
 * connection: a server that does not answer one command is not trusted with
 * the next), a lost connection or rconn_close. Returns -1 when not READY
 * (or a subscriber): then cb never runs.
 */
int rconn_command(rconn *rc, rconn_reply_cb cb, void *arg, int argc, const char **argv,
                  const size_t *argvlen);

/* Stops for good: commands in flight get their cb (NULL, "closing") inline; the memory goes once
 * the loop ran the close callbacks. rc is not used after. */
void rconn_close(rconn *rc);

rconn_state rconn_get_state(const rconn *rc);
const char *rconn_state_name(rconn_state st);
/* For stats: times it became READY, and was lost after. */
uint64_t rconn_connects(const rconn *rc);
uint64_t rconn_losses(const rconn *rc);

#endif
