/* ingress.c: the nng REP socket — a growing pool of contexts whose messages are handed to the libuv
 * loop. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include "ingress.h"
#include "log.h"

typedef enum ctx_state {
	CTX_RECEIVING, /* nng_ctx_recv outstanding */
	CTX_HELD,      /* a request was handed to the loop; no nng operation outstanding */
	CTX_SENDING,   /* nng_ctx_send outstanding */
	CTX_HOT,       /* a reply made on the nng thread is being sent; the loop never sees it */
} ctx_state;

struct ing_ctx {
	ingress *in;
	nng_ctx ctx;
	nng_aio *aio;
	ctx_state state;
	int result;           /* of the last nng operation, read on the loop */
	ing_ctx *next_done;   /* handoff queue link */
	ing_ctx *prev, *next; /* list of all contexts */
};

struct ingress {
	nng_socket sock;
	uv_loop_t *loop;
	uv_async_t async;
	ingress_recv_cb cb;
	ingress_hot_cb hot;
	void *arg;
	size_t max_contexts, min_idle;
	size_t ncontexts, receiving, held, sending;
	ing_ctx *all;
	bool closing; /* read by nng threads too: __atomic */

	/* nng threads append completed contexts here; the loop drains it */
	nng_mtx *mtx;
	ing_ctx *done_head, *done_tail;
};

/*
 * The hot path: a context answered on its nng thread goes from RECEIVING to
 * HOT and back to RECEIVING without the loop, which counts it as receiving
 * all along. Returns true when c is busy again (replying or receiving).
 */
static bool ctx_hot(ingress *in, ing_ctx *c, int rv)
{
	bool closing = __atomic_load_n(&in->closing, __ATOMIC_ACQUIRE);
	nng_msg *reply;

	if (c->state == CTX_HOT) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(c->aio));
		c->state = CTX_RECEIVING;
		if (closing) {
			c->result = NNG_ECLOSED; /* the loop sees a receive that failed */
			return false;
		}
		nng_ctx_recv(c->ctx, c->aio);
		return true;
	}
	if (c->state != CTX_RECEIVING || rv != 0 || closing || in->hot == NULL ||
	    !in->hot(in->arg, nng_aio_get_msg(c->aio), &reply))
		return false;
	nng_msg_free(nng_aio_get_msg(c->aio));
	c->state = CTX_HOT;
	nng_aio_set_msg(c->aio, reply);
	nng_ctx_send(c->ctx, c->aio);
	return true;
}

static void ctx_aio_cb(void *arg)
{
	ing_ctx *c = arg;
	ingress *in = c->in;
	int rv = nng_aio_result(c->aio);

	c->result = rv;
	if (ctx_hot(in, c, rv))
		return;
	nng_mtx_lock(in->mtx);
	c->next_done = NULL;
	if (in->done_tail != NULL)
		in->done_tail->next_done = c;
	else
		in->done_head = c;
	in->done_tail = c;
	nng_mtx_unlock(in->mtx);
	/* the async handle is closed only after every aio is stopped */
	uv_async_send(&in->async);
}

static void ctx_recv(ing_ctx *c)
{
	c->state = CTX_RECEIVING;
	c->in->receiving++;
	nng_ctx_recv(c->ctx, c->aio);
}

static void ctx_free(ing_ctx *c)
{
	ingress *in = c->in;

	nng_aio_free(c->aio); /* stops it and waits for a running callback */
	nng_ctx_close(c->ctx);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		in->all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	in->ncontexts--;
	free(c);
}

/* Opens one more context and starts it receiving; quietly does nothing when out of resources. */
static void ctx_add(ingress *in)
{
	ing_ctx *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		return;
	c->in = in;
	if ((rv = nng_ctx_open(&c->ctx, in->sock)) != 0) {
		free(c);
		log_warn("ingress: cannot open a context: %s", nng_strerror(rv));
		return;
	}
	if ((rv = nng_aio_alloc(&c->aio, ctx_aio_cb, c)) != 0) {
		nng_ctx_close(c->ctx);
		free(c);
		log_warn("ingress: cannot allocate an aio: %s", nng_strerror(rv));
		return;
	}
	c->next = in->all;
	if (in->all != NULL)
		in->all->prev = c;
	in->all = c;
	in->ncontexts++;
	ctx_recv(c);
}

/* Keeps min_idle contexts receiving, so a burst never waits on the pool to grow. */
static void top_up(ingress *in)
{
	while (!in->closing && in->receiving < in->min_idle && in->ncontexts < in->max_contexts)
		ctx_add(in);
}

static void handle_done(ingress *in, ing_ctx *c)
{
	if (c->state == CTX_RECEIVING) {
		in->receiving--;
		if (c->result != 0) {
			if (c->result != NNG_ECLOSED && !in->closing) {
				log_debug("ingress: receive failed: %s", nng_strerror(c->result));
				ctx_recv(c);
			}
			return;
		}
		c->state = CTX_HELD;
		in->held++;
		top_up(in);
		in->cb(in->arg, c, nng_aio_get_msg(c->aio));
		return;
	}
	/* CTX_SENDING */
	in->sending--;
	if (c->result != 0) {
		log_debug("ingress: reply not sent: %s", nng_strerror(c->result));
		nng_msg_free(nng_aio_get_msg(c->aio));
	}
	if (in->closing)
		return;
	/* shrink back when the burst is over, so memory follows the load */
	if (in->receiving >= 2 * in->min_idle)
		ctx_free(c);
	else
		ctx_recv(c);
}

void ingress_poll(ingress *in)
{
	ing_ctx *c;

	/*
	 * Wake-ups coalesce: take the whole queue, and take it again while
	 * handling it filled it, so that a busy stream costs one wake-up (an
	 * eventfd write and an epoll round) per burst rather than per message.
	 */
	for (;;) {
		nng_mtx_lock(in->mtx);
		c = in->done_head;
		in->done_head = in->done_tail = NULL;
		nng_mtx_unlock(in->mtx);
		if (c == NULL)
			return;
		while (c != NULL) {
			ing_ctx *next = c->next_done;
			handle_done(in, c);
			c = next;
		}
	}
}

static void async_cb(uv_async_t *h)
{
	ingress_poll(h->data);
}

void ingress_reply(ing_ctx *c, nng_msg *msg)
{
	ingress *in = c->in;

	in->held--;
	if (in->closing) {
		nng_msg_free(msg);
		return;
	}
	c->state = CTX_SENDING;
	in->sending++;
	nng_aio_set_msg(c->aio, msg);
	nng_ctx_send(c->ctx, c->aio);
}

size_t ingress_held(const ingress *in)
{
	return in->held;
}

size_t ingress_sending(const ingress *in)
{
	return in->sending;
}

size_t ingress_contexts(const ingress *in)
{
	return in->ncontexts;
}

/* ipc sockets are for this user only (mode 0600): the server spends the user's API credits. */
static int listen_one(ingress *in, const char *url)
{
	nng_listener l;
	int rv;

	if ((rv = nng_listener_create(&l, in->sock, url)) != 0)
		return rv;
	if (strncmp(url, "ipc://", 6) == 0 &&
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0)
		return rv;
	return nng_listener_start(l, 0);
}

int ingress_open(ingress **out, uv_loop_t *loop, const ingress_config *cfg, ingress_recv_cb cb,
                 ingress_hot_cb hot, void *arg)
{
	ingress *in = calloc(1, sizeof(*in));
	bool sock_open = false, async_init = false;
	int rv = NNG_ENOMEM;

	if (in == NULL)
		return NNG_ENOMEM;
	in->loop = loop;
	in->cb = cb;
	in->hot = hot;
	in->arg = arg;
	in->max_contexts = cfg->max_contexts;
	in->min_idle = cfg->min_idle;
	if ((rv = nng_mtx_alloc(&in->mtx)) != 0)
		goto out;
	if ((rv = nng_rep0_open(&in->sock)) != 0)
		goto out;
	sock_open = true;
	if ((rv = nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, cfg->max_recv)) != 0)
		goto out;
	if ((rv = uv_async_init(loop, &in->async, async_cb)) != 0) {
		rv = NNG_ENOMEM;
		goto out;
	}
	in->async.data = in;
	async_init = true;
	for (int i = 0; i < cfg->nurls; i++) {
		if ((rv = listen_one(in, cfg->urls[i])) != 0) {
			log_error("cannot listen on %s: %s", cfg->urls[i], nng_strerror(rv));
			goto out;
		}
		log_info("listening on %s", cfg->urls[i]);
	}
	top_up(in);
	*out = in;
	return 0;
out:
	if (sock_open) {
		__atomic_store_n(&in->closing, true, __ATOMIC_RELEASE);
		nng_close(in->sock);
		while (in->all != NULL)
			ctx_free(in->all);
	}
	if (async_init) {
		/* the handle must be closed through the loop; free the rest in its close callback
		 */
		uv_close((uv_handle_t *)&in->async, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
	}
	if (in->mtx != NULL)
		nng_mtx_free(in->mtx);
	free(in);
	return rv;
}

static void async_closed_cb(uv_handle_t *h)
{
	ingress *in = h->data;
	nng_mtx_free(in->mtx);
	free(in);
}

void ingress_close(ingress *in)
{
	ing_ctx *c;

	__atomic_store_n(&in->closing, true, __ATOMIC_RELEASE);
	nng_close(in->sock);
	/* after the stops no callback runs, so the queue can be drained without the race */
	for (c = in->all; c != NULL; c = c->next)
		nng_aio_stop(c->aio);
	for (c = in->done_head; c != NULL; c = c->next_done) {
		bool has_msg = (c->state == CTX_RECEIVING && c->result == 0) ||
		               (c->state == CTX_SENDING && c->result != 0);
		if (has_msg)
			nng_msg_free(nng_aio_get_msg(c->aio));
	}
	in->done_head = in->done_tail = NULL;
	while (in->all != NULL)
		ctx_free(in->all);
	uv_close((uv_handle_t *)&in->async, async_closed_cb);
}
