/* rconn.c: one connection to Redis on the loop — URL, state machine, per-command timers,
 * reconnection with backoff. */
#include "rconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

#include "log.h"
#include "rlibuv.h"
#include "rurl.h"

struct rconn {
	uv_loop_t *loop;
	rconn_state state;
	rurl u;
	char *password;
	uint64_t op_timeout_ms, connect_timeout_ms;
	redisAsyncContext *ac; /* NULL when none: hiredis may be freeing the last one */
	uv_timer_t timer;      /* the connect deadline, then the backoff */
	uint64_t backoff_ms;
	unsigned handshake_left;
	uint64_t connects, losses, fails_in_row;
	rconn_state_cb state_cb;
	void *arg;
	char *subscribe; /* a subscriber's channel; NULL: commands */
	void (*message_cb)(void *arg, const char *msg, size_t len);
};

/* One command in flight; freed in its timer's close callback. */
typedef struct rconn_op {
	rconn *rc;
	uv_timer_t timer;
	rconn_reply_cb cb;
	void *arg;
	bool answered;
} rconn_op;

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS RCONN_BACKOFF_MAX_MS

static const char *const names[RCONN_STATE_COUNT] = {
    [RCONN_IDLE] = "IDLE",   [RCONN_CONNECTING] = "CONNECTING", [RCONN_HANDSHAKE] = "HANDSHAKE",
    [RCONN_READY] = "READY", [RCONN_BACKOFF] = "BACKOFF",       [RCONN_CLOSED] = "CLOSED",
};

#define TO(st) (1u << (st))

/* For each state, the states it may go to. */
static const unsigned legal[RCONN_STATE_COUNT] = {
    [RCONN_IDLE] = TO(RCONN_CONNECTING) | TO(RCONN_CLOSED),
    [RCONN_CONNECTING] = TO(RCONN_HANDSHAKE) | TO(RCONN_BACKOFF) | TO(RCONN_CLOSED),
    [RCONN_HANDSHAKE] = TO(RCONN_READY) | TO(RCONN_BACKOFF) | TO(RCONN_CLOSED),
    [RCONN_READY] = TO(RCONN_BACKOFF) | TO(RCONN_CLOSED),
    [RCONN_BACKOFF] = TO(RCONN_CONNECTING) | TO(RCONN_CLOSED),
    [RCONN_CLOSED] = 0,
};

const char *rconn_state_name(rconn_state st)
{
	return st < RCONN_STATE_COUNT ? names[st] : "?";
}

/*
 * The one way the state changes: refused (logged as a bug) when the table
 * does not allow it. The retries of an outage are logged at debug level, so
 * that a Redis down for an hour is two lines, not one every five seconds.
 */
static int rconn_set_state(rconn *rc, rconn_state to, const char *why)
{
	rconn_state from = rc->state;
	bool quiet = rc->fails_in_row > 1 && (to == RCONN_CONNECTING || to == RCONN_BACKOFF);

	if (to >= RCONN_STATE_COUNT || (legal[from] & TO(to)) == 0) {
		log_error("redis: illegal state change %s -> %s refused", rconn_state_name(from),
		          rconn_state_name(to));
		return -1;
	}
	rc->state = to;
	log_at(quiet                 ? LOG_DEBUG
	       : to == RCONN_BACKOFF ? LOG_WARN
	                             : LOG_INFO,
	       "redis%s: %s -> %s%s%s", rc->subscribe ? " (results channel)" : "", names[from],
	       names[to], why ? ": " : "", why ? why : "");
	if (rc->state_cb != NULL)
		rc->state_cb(rc->arg, from, to);
	return 0;
}

/* ------------------------------------------------------------ commands */

static void op_closed_cb(uv_handle_t *h)
{
	free(h->data);
}

static void op_answer(rconn_op *op, const redisReply *reply, const char *err)
{
	if (op->answered)
		return;
	op->answered = true;
	op->cb(op->arg, reply, err);
}

/* hiredis's end of a command: a reply, or NULL when the context is freed or disconnected. */
static void op_reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	rconn_op *op = privdata;
	(void)ac;

	op_answer(op, r, r == NULL ? "connection lost" : NULL);
	uv_close((uv_handle_t *)&op->timer, op_closed_cb);
}

static void rconn_lost(rconn *rc, const char *why);

static void op_timeout_cb(uv_timer_t *t)
{
	rconn_op *op = t->data;
	rconn *rc = op->rc;

	/* answered first, so that the others' "connection lost" cannot reach this one's caller
	 * before its own "timeout"; the state moves on before any caller can ask again */
	op->answered = true;
	rconn_lost(rc, "a command timed out");
	op->cb(op->arg, NULL, "timeout");
}

/* Any state with a context (the handshake uses it too). */
static int rconn_send(rconn *rc, rconn_reply_cb cb, void *arg, int argc, const char **argv,
                      const size_t *argvlen)
{
	rconn_op *op;

	if (rc->ac == NULL || (op = calloc(1, sizeof(*op))) == NULL)
		return -1;
	*op = (rconn_op){.rc = rc, .cb = cb, .arg = arg};
	if (redisAsyncCommandArgv(rc->ac, op_reply_cb, op, argc, argv, argvlen) != REDIS_OK) {
		free(op);
		return -1;
	}
	uv_timer_init(rc->loop, &op->timer);
	op->timer.data = op;
	uv_timer_start(&op->timer, op_timeout_cb, rc->op_timeout_ms, 0);
	return 0;
}

int rconn_command(rconn *rc, rconn_reply_cb cb, void *arg, int argc, const char **argv,
                  const size_t *argvlen)
{
	if (rc->state != RCONN_READY || rc->subscribe != NULL)
		return -1;
	return rconn_send(rc, cb, arg, argc, argv, argvlen);
}

/* ------------------------------------------------------------ the connection's life */

static void rconn_timer_cb(uv_timer_t *t);

/* Drops the context (its commands answered NULL) and waits before the next try. */
static void rconn_lost(rconn *rc, const char *why)
{
	redisAsyncContext *ac = rc->ac;
	uint64_t wait;

	if (rc->state == RCONN_CLOSED || rc->state == RCONN_BACKOFF)
		return;
	if (rc->state == RCONN_READY)
		rc->losses++;
	rc->fails_in_row++;
	rc->ac = NULL;
	rconn_set_state(rc, RCONN_BACKOFF, why);
	if (ac != NULL)
		redisAsyncFree(
		    ac); /* inside a hiredis callback hiredis frees it once that returns */
	/* full jitter over the upper half: instances that lost Redis together do not return
	 * together */
	wait = rc->backoff_ms / 2 + (uint64_t)rand() % (rc->backoff_ms / 2 + 1);
	rc->backoff_ms = rc->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : rc->backoff_ms * 2;
	uv_timer_start(&rc->timer, rconn_timer_cb, wait, 0);
}

/* Every message of a subscriber's channel; NULL when the context goes away. */
static void rconn_message_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	const redisReply *r = reply;
	rconn *rc = privdata;
	(void)ac;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0)
		return; /* the subscription's confirmation, or the end */
	if (rc->message_cb != NULL && r->element[2]->type == REDIS_REPLY_STRING)
		rc->message_cb(rc->arg, r->element[2]->str, r->element[2]->len);
}

/* A subscriber listens from READY on: its messages have no end, so no timer. */
static void rconn_listen(rconn *rc)
{
	const char *argv[] = {"SUBSCRIBE", rc->subscribe};

	if (redisAsyncCommandArgv(rc->ac, rconn_message_cb, rc, 2, argv, NULL) != REDIS_OK)
		rconn_lost(rc, "cannot subscribe");
}

static void handshake_cb(void *arg, const redisReply *r, const char *err)
{
	rconn *rc = arg;
	char why[200];

	if (rc->state != RCONN_HANDSHAKE)
		return; /* lost meanwhile */
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "handshake refused: %s",
		         r != NULL     ? r->str
		         : err != NULL ? err
		                       : "?");
		rconn_lost(rc, why);
		return;
	}
	if (--rc->handshake_left == 0) {
		uv_timer_stop(&rc->timer);
		rc->connects++;
		rc->fails_in_row = 0;
		rc->backoff_ms = BACKOFF_MIN_MS;
		rconn_set_state(rc, RCONN_READY, NULL);
		if (rc->subscribe != NULL && rc->state == RCONN_READY)
			rconn_listen(rc);
	}
}

/* AUTH, SELECT, PING pipelined; READY after the last one's answer. */
static void rconn_handshake(rconn *rc)
{
	char db[16];
	const char *auth[] = {"AUTH", rc->password}, *sel[] = {"SELECT", db}, *ping[] = {"PING"};
	int rv = 0;

	rconn_set_state(rc, RCONN_HANDSHAKE, NULL);
	snprintf(db, sizeof(db), "%d", rc->u.db);
	rc->handshake_left = 1 + (rc->password != NULL) + (rc->u.db != 0);
	if (rc->password != NULL)
		rv |= rconn_send(rc, handshake_cb, rc, 2, auth, NULL);
	if (rc->u.db != 0)
		rv |= rconn_send(rc, handshake_cb, rc, 2, sel, NULL);
	rv |= rconn_send(rc, handshake_cb, rc, 1, ping, NULL);
	if (rv != 0)
		rconn_lost(rc, "cannot send the handshake");
}

static void rconn_connect_cb(const redisAsyncContext *ac, int status)
{
	rconn *rc = ac->data;

	if (rc->ac != ac)
		return; /* one we dropped already */
	if (status != REDIS_OK) {
		rc->ac = NULL; /* hiredis frees it after this returns */
		rconn_lost(rc, ac->errstr[0] ? ac->errstr : "cannot connect");
		return;
	}
	rconn_handshake(rc);
}

static void rconn_disconnect_cb(const redisAsyncContext *ac, int status)
{
	rconn *rc = ac->data;
	(void)status;

	if (rc->ac != ac)
		return; /* dropped by us: rconn_lost or rconn_close said so */
	rc->ac = NULL;  /* hiredis is freeing it */
	rconn_lost(rc, ac->errstr[0] ? ac->errstr : "the server closed the connection");
}

static void rconn_connect(rconn *rc)
{
	redisAsyncContext *ac;
	char why[200];

	rconn_set_state(rc, RCONN_CONNECTING, NULL);
	ac = rc->u.host[0] ? redisAsyncConnect(rc->u.host, rc->u.port)
	                   : redisAsyncConnectUnix(rc->u.path);
	if (ac == NULL || ac->err != 0 || rlibuv_attach(ac, rc->loop) != 0) {
		snprintf(why, sizeof(why), "%s",
		         ac == NULL ? "out of memory"
		         : ac->err  ? ac->errstr
		                    : "cannot watch the socket");
		if (ac != NULL)
			redisAsyncFree(ac); /* never attached: safe with rlibuv */
		rconn_lost(rc, why);
		return;
	}
	ac->data = rc;
	rc->ac = ac;
	/* the connect callback last: setting it asks the loop for the first write event */
	redisAsyncSetDisconnectCallback(ac, rconn_disconnect_cb);
	redisAsyncSetConnectCallback(ac, rconn_connect_cb);
	uv_timer_start(&rc->timer, rconn_timer_cb, rc->connect_timeout_ms, 0);
}

/* Connects when idle or backing off; gives up a connect or handshake that took too long. */
static void rconn_timer_cb(uv_timer_t *t)
{
	rconn *rc = t->data;

	if (rc->state == RCONN_IDLE || rc->state == RCONN_BACKOFF)
		rconn_connect(rc);
	else if (rc->state == RCONN_CONNECTING || rc->state == RCONN_HANDSHAKE)
		rconn_lost(rc, "connect timed out");
}

int rconn_open(rconn **out, uv_loop_t *loop, const rconn_config *cfg, rconn_state_cb state_cb,
               void *arg)
{
	rconn *rc = calloc(1, sizeof(*rc));
	char why[200] = "";

	if (rc == NULL)
		return -1;
	if (rurl_parse(&rc->u, cfg->url, why, sizeof(why)) != 0 ||
	    (cfg->password != NULL && (rc->password = strdup(cfg->password)) == NULL) ||
	    (cfg->subscribe != NULL && (rc->subscribe = strdup(cfg->subscribe)) == NULL)) {
		log_error("--redis: %s", why[0] ? why : "out of memory");
		free(rc->password);
		free(rc);
		return -1;
	}
	rc->message_cb = cfg->message_cb;
	rc->loop = loop;
	rc->op_timeout_ms = cfg->op_timeout_ms;
	rc->connect_timeout_ms = cfg->connect_timeout_ms;
	rc->backoff_ms = BACKOFF_MIN_MS;
	rc->state_cb = state_cb;
	rc->arg = arg;
	uv_timer_init(loop, &rc->timer);
	rc->timer.data = rc;
	uv_timer_start(&rc->timer, rconn_timer_cb, 0, 0); /* from the loop: no callback inline */
	*out = rc;
	return 0;
}

static void rconn_closed_cb(uv_handle_t *h)
{
	rconn *rc = h->data;

	if (rc->password != NULL)
		memset(rc->password, 0, strlen(rc->password));
	free(rc->password);
	free(rc->subscribe);
	free(rc);
}

void rconn_close(rconn *rc)
{
	redisAsyncContext *ac = rc->ac;

	rc->state_cb = NULL; /* the modules told are closing too */
	if (rc->state != RCONN_CLOSED)
		rconn_set_state(rc, RCONN_CLOSED, "shutting down");
	rc->ac = NULL;
	if (ac != NULL)
		redisAsyncFree(ac);
	uv_close((uv_handle_t *)&rc->timer, rconn_closed_cb);
}

rconn_state rconn_get_state(const rconn *rc)
{
	return rc->state;
}

uint64_t rconn_connects(const rconn *rc)
{
	return rc->connects;
}

uint64_t rconn_losses(const rconn *rc)
{
	return rc->losses;
}
