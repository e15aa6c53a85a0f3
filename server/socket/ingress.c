/* ingress.c: the nng REP socket — a growing pool of contexts whose messages are handed to the libuv
 * loop. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include "conn.h"
#include "ingress.h"
#include "list.h"
#include "log.h"
#include "nngfix.h"

/* How often the watchdog checks that each listener still completes a handshake. */
#define LISTENER_PROBE_MS 500

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
	int result;         /* of the last nng operation, read on the loop */
	uint32_t pipe;      /* the connection of the request held, 0 when none */
	bool counted;       /* conntab counts its reply as unread until the send is over */
	ing_ctx *next_done; /* handoff queue link */
	list_node link;     /* in ingress.all */
};

struct ingress {
	nng_socket sock;
	uv_loop_t *loop;
	uv_async_t async;
	ingress_recv_cb cb;
	ingress_hot_cb hot;
	void *arg;
	size_t max_contexts, min_idle;
	nng_duration send_timeout;
	size_t ncontexts, held, sending;
	size_t receiving; /* changed by nng threads too (the hot path): __atomic */
	list_node all;    /* of ing_ctx: every context open */
	bool closing;     /* read by nng threads too: __atomic */
	conntab *conns;
	nngfix_listeners *listeners;

	/* nng threads append completed contexts here; the loop drains it */
	nng_mtx *mtx;
	ing_ctx *done_head, *done_tail;
};

/*
 * A reply's send is over: sent, dropped by nng with its closed connection, or
 * failed. Releases the request's place on its connection; a send that timed
 * out means the peer reads nothing, so the connection is closed and nng drops
 * the replies queued behind it. Any thread.
 */
static void ctx_sent(ingress *in, ing_ctx *c, int rv)
{
	if (rv == NNG_ETIMEDOUT && c->pipe != 0) {
		if (conntab_send_timeout(in->conns, c->pipe))
			log_warn("connection %u: a reply waited %d ms to be sent (the client reads "
			         "nothing); closing the connection",
			         (unsigned)c->pipe, (int)in->send_timeout);
		nng_pipe_close((nng_pipe){.id = c->pipe});
	}
	if (c->counted)
		conntab_sent(in->conns, c->pipe, rv == 0);
	c->counted = false;
	c->pipe = 0;
}

/* Hands the reply in c's aio to nng, counted as unread on its connection until sent. */
static void ctx_send(ingress *in, ing_ctx *c)
{
	if (c->pipe != 0) {
		conntab_sending(in->conns, c->pipe);
		c->counted = true;
	}
	nng_aio_set_timeout(c->aio, in->send_timeout);
	nng_ctx_send(c->ctx, c->aio);
}

/*
 * Notes the connection of a received request. Returns false when that
 * connection reads none of its replies and has too many waiting: the request
 * was freed unanswered (its peer could not see an answer).
 */
static bool ctx_admit(ingress *in, ing_ctx *c)
{
	nng_msg *msg = nng_aio_get_msg(c->aio);
	bool first;

	c->pipe = nng_pipe_id(nng_msg_get_pipe(msg));
	if (conntab_admit(in->conns, c->pipe, &first))
		return true;
	if (first)
		log_warn(
		    "connection %u reads none of its replies (--max-pending-per-conn waiting): "
		    "dropping its requests until --send-timeout closes it",
		    (unsigned)c->pipe);
	nng_msg_free(msg);
	c->pipe = 0;
	return false;
}

/* Starts the next receive from an nng thread; false when closing (the loop then sees ECLOSED). */
static bool ctx_rearm(ingress *in, ing_ctx *c)
{
	if (__atomic_load_n(&in->closing, __ATOMIC_ACQUIRE)) {
		c->result = NNG_ECLOSED;
		return false;
	}
	nng_aio_set_timeout(c->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(c->ctx, c->aio);
	return true;
}

/*
 * What an nng thread does with a completion before the loop sees it. Returns
 * true when c is busy again and the loop need not see it: a dropped request,
 * or the hot path — a context answered on its nng thread goes from RECEIVING
 * to HOT and back without the loop. A HOT context is not receiving, so when
 * too few are left the loop is woken to add more: replies that wait on a peer
 * that reads nothing must never starve everyone else's receives.
 */
static bool ctx_on_nng(ingress *in, ing_ctx *c, int rv)
{
	nng_msg *msg, *reply;

	if (c->state == CTX_HOT) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(c->aio));
		ctx_sent(in, c, rv);
		c->state = CTX_RECEIVING;
		__atomic_add_fetch(&in->receiving, 1, __ATOMIC_RELAXED);
		return ctx_rearm(in, c);
	}
	if (c->state != CTX_RECEIVING || rv != 0 || __atomic_load_n(&in->closing, __ATOMIC_ACQUIRE))
		return false;
	if (!ctx_admit(in, c))
		return ctx_rearm(in, c);
	msg = nng_aio_get_msg(c->aio);
	if (in->hot == NULL || !in->hot(in->arg, msg, &reply))
		return false;
	nng_msg_free(msg);
	c->state = CTX_HOT;
	if (__atomic_sub_fetch(&in->receiving, 1, __ATOMIC_RELAXED) < in->min_idle)
		uv_async_send(&in->async); /* top_up on the loop */
	nng_aio_set_msg(c->aio, reply);
	ctx_send(in, c);
	return true;
}

static void ctx_aio_cb(void *arg)
{
	ing_ctx *c = arg;
	ingress *in = c->in;
	int rv = nng_aio_result(c->aio);

	c->result = rv;
	if (ctx_on_nng(in, c, rv))
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
	__atomic_add_fetch(&c->in->receiving, 1, __ATOMIC_RELAXED);
	nng_aio_set_timeout(c->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(c->ctx, c->aio);
}

static size_t receiving(const ingress *in)
{
	return __atomic_load_n(&in->receiving, __ATOMIC_RELAXED);
}

static void ctx_free(ing_ctx *c)
{
	ingress *in = c->in;

	nng_aio_free(c->aio); /* stops it and waits for a running callback */
	nng_ctx_close(c->ctx);
	list_remove(&c->link);
	in->ncontexts--;
	free(c);
}

static void free_all(ingress *in)
{
	while (!list_empty(&in->all))
		ctx_free(list_entry(list_first(&in->all), ing_ctx, link));
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
	list_push_back(&in->all, &c->link);
	in->ncontexts++;
	ctx_recv(c);
}

/* Keeps min_idle contexts receiving, so a burst never waits on the pool to grow. */
static void top_up(ingress *in)
{
	while (!in->closing && receiving(in) < in->min_idle && in->ncontexts < in->max_contexts)
		ctx_add(in);
}

static void handle_done(ingress *in, ing_ctx *c)
{
	if (c->state == CTX_RECEIVING) {
		__atomic_sub_fetch(&in->receiving, 1, __ATOMIC_RELAXED);
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
	ctx_sent(in, c, c->result);
	if (in->closing)
		return;
	/* shrink back when the burst is over, so memory follows the load */
	if (receiving(in) >= 2 * in->min_idle)
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
	top_up(h->data); /* hot replies may have taken receiving contexts */
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
	ctx_send(in, c);
}

size_t ingress_held(const ingress *in)
{
	return in->held;
}

size_t ingress_sending(const ingress *in)
{
	return in->sending;
}

void ingress_conn_counters(ingress *in, conn_counters *out)
{
	conntab_counters(in->conns, out);
}

/* A new ingress with nothing open yet; NULL when out of memory. */
static ingress *ingress_new(uv_loop_t *loop, const ingress_config *cfg, ingress_recv_cb cb,
                            ingress_hot_cb hot, void *arg)
{
	ingress *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return NULL;
	in->loop = loop;
	in->cb = cb;
	in->hot = hot;
	in->arg = arg;
	in->max_contexts = cfg->max_contexts;
	in->min_idle = cfg->min_idle;
	in->send_timeout = cfg->send_timeout_ms;
	list_init(&in->all);
	return in;
}

int ingress_open(ingress **out, uv_loop_t *loop, const ingress_config *cfg, ingress_recv_cb cb,
                 ingress_hot_cb hot, void *arg)
{
	ingress *in = ingress_new(loop, cfg, cb, hot, arg);
	bool sock_open = false, async_init = false;
	nngfix_pipe_counts pc;
	int rv = NNG_ENOMEM;

	if (in == NULL)
		return NNG_ENOMEM;
	if ((rv = nng_mtx_alloc(&in->mtx)) != 0)
		goto out;
	if ((rv = conntab_open(&in->conns, cfg->max_conns, cfg->max_unread_per_conn)) != 0)
		goto out;
	if ((rv = nng_rep0_open(&in->sock)) != 0)
		goto out;
	sock_open = true;
	if (cfg->ws_addr != NULL) /* before any connection can arrive */
		conntab_set_gate(in->conns, wsep_gate, (void *)cfg->ws_origins);
	if ((rv = conntab_watch(in->conns, in->sock)) != 0)
		goto out;
	if ((rv = nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, cfg->max_recv)) != 0)
		goto out;
	if ((rv = uv_async_init(loop, &in->async, async_cb)) != 0) {
		rv = NNG_ENOMEM;
		goto out;
	}
	in->async.data = in;
	async_init = true;
	pc = (nngfix_pipe_counts){
	    .added = conntab_added, .removed = conntab_removed, .arg = in->conns};
	if ((rv = nngfix_listen(&in->listeners, in->sock, cfg->urls, cfg->nurls, LISTENER_PROBE_MS,
	                        &pc, cfg->tls)) != 0)
		goto out;
	if (cfg->ws_addr != NULL &&
	    (rv = wsep_listen(in->sock, cfg->ws_addr, cfg->max_recv, cfg->tls)) != 0)
		goto out;
	top_up(in);
	*out = in;
	return 0;
out:
	nngfix_listeners_stop(in->listeners);
	if (sock_open) {
		__atomic_store_n(&in->closing, true, __ATOMIC_RELEASE);
		nng_close(in->sock);
		free_all(in);
	}
	if (async_init) {
		/* the handle must be closed through the loop; free the rest in its close callback
		 */
		uv_close((uv_handle_t *)&in->async, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
	}
	if (in->mtx != NULL)
		nng_mtx_free(in->mtx);
	conntab_close(in->conns);
	free(in);
	return rv;
}

static void async_closed_cb(uv_handle_t *h)
{
	ingress *in = h->data;
	nng_mtx_free(in->mtx);
	conntab_close(in->conns);
	free(in);
}

void ingress_close(ingress *in)
{
	list_node *n;
	ing_ctx *c;

	__atomic_store_n(&in->closing, true, __ATOMIC_RELEASE);
	nngfix_listeners_stop(in->listeners);
	in->listeners = NULL;
	nng_close(in->sock);
	/* after the stops no callback runs, so the queue can be drained without the race */
	for (n = in->all.next; n != &in->all; n = n->next)
		nng_aio_stop(list_entry(n, ing_ctx, link)->aio);
	for (c = in->done_head; c != NULL; c = c->next_done) {
		bool has_msg = (c->state == CTX_RECEIVING && c->result == 0) ||
		               (c->state == CTX_SENDING && c->result != 0);
		if (has_msg)
			nng_msg_free(nng_aio_get_msg(c->aio));
	}
	in->done_head = in->done_tail = NULL;
	free_all(in);
	uv_close((uv_handle_t *)&in->async, async_closed_cb);
}
