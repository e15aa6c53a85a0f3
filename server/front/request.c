/* request.c: decode and route each received request, and the one way out for every cell. */
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "log.h"
#include "report.h"
#include "server.h"

/* A new nng message holding an encoded body (the caller owns it), or NULL without memory. */
static nng_msg *buffer_msg(const msgpack_sbuffer *buf)
{
	nng_msg *msg = NULL;

	if (nng_msg_alloc(&msg, buf->size) != 0)
		return NULL;
	memcpy(nng_msg_body(msg), buf->data, buf->size);
	return msg;
}

/* Sends an encoded body on ctx; a NULL buffer means "could not encode". */
static void send_buffer(ing_ctx *ctx, const msgpack_sbuffer *buf)
{
	/* without memory for a reply the client's own timeout is the only answer left */
	ingress_reply(ctx, buf != NULL ? buffer_msg(buf) : NULL);
}

void reply_error(server *s, ing_ctx *ctx, bool has_id, uint64_t id, cb_err code, const char *text)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	cb_err rv;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	rv = cbp_error_reply_encode(&pk, has_id, id, code, text, strlen(text));
	send_buffer(ctx, rv == CB_OK ? &buf : NULL);
	msgpack_sbuffer_destroy(&buf);
	(void)s;
}

/* Fills rep's outcome from a (borrowed: rep points into a's strings). */
static void reply_from_answer(cb_reply *rep, const answer *a, const cb_meta *meta)
{
	rep->err = a->err;
	rep->message = a->message;
	if (a->err == CB_OK) {
		rep->has_result = true;
		rep->result = a->result;
		rep->meta = *meta;
	}
}

/* ------------------------------------------------------------ deadlines: a min-heap of requests */

static request *deadline_owner(heap_node *n)
{
	return (request *)((char *)n - offsetof(request, deadline));
}

static void deadline_timer_cb(uv_timer_t *t);

/* Arms the one timer for the earliest deadline. */
static void deadline_arm(server *s)
{
	heap_node *first = heap_min(&s->deadlines);
	uint64_t now = now_ns();

	if (first == NULL) {
		uv_timer_stop(&s->deadline_timer);
		return;
	}
	uv_timer_start(&s->deadline_timer, deadline_timer_cb,
	               first->key > now ? (first->key - now + 999999) / 1000000 : 0, 0);
}

static int deadline_add(server *s, request *r)
{
	if (heap_push(&s->deadlines, &r->deadline) != 0)
		return -1;
	if (heap_min(&s->deadlines) == &r->deadline)
		deadline_arm(s);
	return 0;
}

static void deadline_remove(server *s, request *r)
{
	heap_remove(&s->deadlines, &r->deadline);
}

/* Every cell still waiting when its deadline passes gets TIMEOUT now, even while upstream. */
static void deadline_timer_cb(uv_timer_t *t)
{
	server *s = t->data;
	uint64_t now = now_ns();

	heap_node *first;

	while ((first = heap_min(&s->deadlines)) != NULL && first->key <= now) {
		request *r = deadline_owner(first);
		uint32_t n = r->ncells, left = r->nleft;
		answer *a = answer_error_or_oom(
		    answer_error(CB_ETIMEOUT, "no answer within %.0f ms",
		                 (double)(r->deadline.key - r->t_arrive_ns) / 1e6));

		deadline_remove(s, r);
		/* the last cell_finish frees r: count down a local, not r->nleft */
		for (uint32_t i = 0; i < n && left > 0; i++) {
			cell *c = &r->cells[i];
			if (c->a != NULL)
				continue;
			left--;
			batcher_drop_waiter(s, c);
			cell_finish(s, c, a, false, 0, 0);
		}
		answer_unref(a);
	}
	deadline_arm(s);
}

void deadlines_init(server *s)
{
	uv_timer_init(s->loop, &s->deadline_timer);
	uv_timer_init(s->loop, &s->trim_timer);
	s->deadline_timer.data = s->trim_timer.data = s;
}

void deadlines_fini(server *s)
{
	uv_close((uv_handle_t *)&s->deadline_timer, NULL);
	uv_close((uv_handle_t *)&s->trim_timer, NULL);
	heap_fini(&s->deadlines);
}

/*
 * 200 ms after the last call of a burst was answered, if nothing came since,
 * hand the freed heap back: glibc keeps it mapped otherwise, and a
 * long-running server's RSS would stay at its busiest.
 */
static void trim_cb(uv_timer_t *t)
{
	server *s = t->data;
	if (s->pending == 0)
		malloc_trim(0);
}

/* ------------------------------------------------------------ replies */

/* Encodes and sends the reply of a request whose cells are all answered, then frees it. */
static void request_reply(server *s, request *r)
{
	cb_reply rep = {.has_id = r->has_id, .id = r->id};
	msgpack_sbuffer buf;
	msgpack_packer pk;
	cb_err rv = CB_ENOMEM;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	if (!r->multi) {
		reply_from_answer(&rep, r->cells[0].a, &r->cells[0].meta);
		rv = cbp_reply_encode(&pk, &rep);
	} else if ((rep.results = calloc(r->ncells, sizeof(*rep.results))) != NULL) {
		rep.is_multi = true;
		rep.nresults = r->ncells;
		for (uint32_t i = 0; i < r->ncells; i++)
			reply_from_answer(&rep.results[i], r->cells[i].a, &r->cells[i].meta);
		rv = cbp_reply_encode(&pk, &rep);
		free(rep.results);
	}
	if (rv == CB_OK) {
		send_buffer(r->ctx, &buf);
	} else {
		log_error("cannot encode a reply: %s", cb_strerror(rv));
		reply_error(s, r->ctx, r->has_id, r->id, CB_EINTERNAL, "out of memory");
	}
	msgpack_sbuffer_destroy(&buf);
	for (uint32_t i = 0; i < r->ncells; i++)
		answer_unref(r->cells[i].a);
	deadline_remove(s, r);
	free(r);
}

void cell_finish(server *s, cell *c, answer *a, bool cached, uint64_t batch_size, uint64_t wait_ns)
{
	request *r = c->r;
	uint64_t now = now_ns();

	c->a = answer_ref(a);
	c->it = NULL;
	c->meta.cached = cached;
	c->meta.batch_size = batch_size;
	c->meta.wait_ms = (double)wait_ns / 1e6;
	stats_count_answer(&s->st, a->err);
	lathist_add(&s->st.queued, wait_ns);
	lathist_add(&s->st.total, now - r->t_arrive_ns);
	s->pending--;
	if (s->pending == 0 && !uv_is_active((uv_handle_t *)&s->trim_timer))
		uv_timer_start(&s->trim_timer, trim_cb, 200, 0);
	if (--r->nleft == 0)
		request_reply(s, r);
}

static void reply_ping(server *s, ing_ctx *ctx, const cb_request *req)
{
	cb_reply rep = {
	    .has_id = req->has_id, .id = req->id, .version = {CB_VERSION, sizeof(CB_VERSION) - 1}};
	msgpack_sbuffer buf;
	msgpack_packer pk;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	send_buffer(ctx, cbp_reply_encode(&pk, &rep) == CB_OK ? &buf : NULL);
	msgpack_sbuffer_destroy(&buf);
	(void)s;
}

static void reply_stats(server *s, ing_ctx *ctx, const cb_request *req)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	int rv = 0;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	rv |= msgpack_pack_map(&pk, 3 + req->has_id);
	rv |= cbp_pack_cstr(&pk, "v");
	rv |= msgpack_pack_uint8(&pk, CB_PROTO_VERSION);
	if (req->has_id) {
		rv |= cbp_pack_cstr(&pk, "id");
		rv |= msgpack_pack_uint64(&pk, req->id);
	}
	rv |= cbp_pack_cstr(&pk, "ok");
	rv |= msgpack_pack_true(&pk);
	rv |= cbp_pack_cstr(&pk, "stats");
	rv |= report_pack(s, &pk);
	send_buffer(ctx, rv == 0 ? &buf : NULL);
	msgpack_sbuffer_destroy(&buf);
}

/* Creates the request and hands each call to the batcher; every path ends in cell_finish. */
static void route_calls(server *s, ing_ctx *ctx, const cb_request *req)
{
	uint32_t n = req->op == CB_OP_MULTI ? req->ncalls : 1;
	request *r;

	s->st.calls_received += n;
	if (s->draining) {
		s->st.answered[CB_ESHUTTING_DOWN] += n;
		reply_error(s, ctx, req->has_id, req->id, CB_ESHUTTING_DOWN,
		            "the server is shutting down");
		return;
	}
	if (s->pending + n > s->cfg.max_pending) {
		char text[128];
		s->st.answered[CB_EBUSY] += n;
		snprintf(text, sizeof(text), "%llu calls pending, the limit is %llu",
		         (unsigned long long)s->pending, (unsigned long long)s->cfg.max_pending);
		reply_error(s, ctx, req->has_id, req->id, CB_EBUSY, text);
		return;
	}
	if ((r = calloc(1, sizeof(*r) + n * sizeof(cell))) == NULL) {
		s->st.answered[CB_EINTERNAL] += n;
		reply_error(s, ctx, req->has_id, req->id, CB_EINTERNAL, "out of memory");
		return;
	}
	r->s = s;
	r->ctx = ctx;
	r->has_id = req->has_id;
	r->id = req->id;
	r->multi = req->op == CB_OP_MULTI;
	r->t_arrive_ns = now_ns();
	r->deadline = HEAP_NODE_INIT(
	    r->t_arrive_ns +
	    (req->has_deadline ? req->deadline_ms : s->cfg.call_timeout_ms) * 1000000);
	r->ncells = r->nleft = n;
	if (deadline_add(s, r) != 0) {
		free(r);
		s->st.answered[CB_EINTERNAL] += n;
		reply_error(s, ctx, req->has_id, req->id, CB_EINTERNAL, "out of memory");
		return;
	}
	s->pending += n;
	if (s->pending > s->pending_high_water)
		s->pending_high_water = s->pending;
	for (uint32_t i = 0; i < n; i++)
		r->cells[i].r = r;
	/* the last add may answer the whole request and free r: touch nothing of r after it */
	for (uint32_t i = 0; i < n; i++)
		batcher_add(s, &r->cells[i], req->op == CB_OP_MULTI ? &req->calls[i] : &req->call);
}

/* A single call is far smaller; anything larger (a multi) would only be decoded twice. */
#define HOT_MAX_BYTES 4096

bool request_hot(void *arg, nng_msg *msg, nng_msg **reply)
{
	server *s = arg;
	cb_limits lim = {.max_bytes = s->cfg.max_message};
	uint64_t t0 = now_ns();
	char key[BATCHER_KEY_MAX];
	const char *text;
	size_t gkl, text_len, kl;
	cb_decode_error err;
	cb_request req;
	cb_reply rep = {0};
	msgpack_sbuffer buf;
	msgpack_packer pk;
	answer *a = NULL;
	bool sent = false;

	/* everything but a fresh hit goes to the loop, which also counts and logs it */
	if (s->cache == NULL || nng_msg_len(msg) > HOT_MAX_BYTES ||
	    __atomic_load_n(&s->draining, __ATOMIC_ACQUIRE))
		return false;
	if (cbp_request_decode(nng_msg_body(msg), nng_msg_len(msg), &lim, &req, &err) != CB_OK)
		return false;
	msgpack_sbuffer_init(&buf);
	if (req.op != CB_OP_CALL)
		goto out;
	kl = batcher_key(&req.call, key, &gkl, &text, &text_len);
	if ((a = cache_peek(s->cache, key, kl)) == NULL)
		goto out;
	rep.has_id = req.has_id;
	rep.id = req.id;
	reply_from_answer(&rep, a, &(cb_meta){.cached = true});
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	if (cbp_reply_encode(&pk, &rep) != CB_OK || (*reply = buffer_msg(&buf)) == NULL)
		goto out; /* the loop tries again, and reports what it cannot do */
	hot_stats_count(&s->hot, a->err, now_ns() - t0);
	sent = true;
out:
	answer_unref(a);
	msgpack_sbuffer_destroy(&buf);
	cbp_request_free(&req);
	return sent;
}

void request_received(void *arg, ing_ctx *ctx, nng_msg *msg)
{
	server *s = arg;
	cb_limits lim = {.max_bytes = s->cfg.max_message};
	cb_decode_error err;
	cb_request req;
	cb_err rv;

	s->st.requests++;
	rv = cbp_request_decode(nng_msg_body(msg), nng_msg_len(msg), &lim, &req, &err);
	if (rv != CB_OK) {
		log_debug("rejected a request: %s: %s", cb_err_name(rv), err.message);
		s->st.calls_received++;
		stats_count_answer(&s->st, rv);
		reply_error(s, ctx, req.has_id, req.id, rv, err.message);
		nng_msg_free(msg);
		return;
	}
	switch (req.op) {
	case CB_OP_PING:
		reply_ping(s, ctx, &req);
		break;
	case CB_OP_STATS:
		reply_stats(s, ctx, &req);
		break;
	default:
		/* items copy what they keep, so msg is not needed after routing */
		route_calls(s, ctx, &req);
		break;
	}
	cbp_request_free(&req);
	nng_msg_free(msg);
}
