/* request.c: decode, admit and route each received request, and the one way out for every
 * call. */
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cache.h"
#include "clock.h"
#include "front_int.h"
#include "heap.h"
#include "log.h"

#define DEADLINE_MAX_MS (24ull * 3600 * 1000)

/* A new nng message holding an encoded body (the caller owns it), or NULL without memory. */
nng_msg *front_buffer_msg(const msgpack_sbuffer *buf)
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
	ingress_reply(ctx, buf != NULL ? front_buffer_msg(buf) : NULL);
}

static void reply_error(ing_ctx *ctx, bool has_id, uint64_t id, cb_err code, const char *text)
{
	msgpack_sbuffer buf;
	msgpack_packer pk;
	cb_err rv;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	rv = cbp_error_reply_encode(&pk, has_id, id, code, text, strlen(text));
	send_buffer(ctx, rv == CB_OK ? &buf : NULL);
	msgpack_sbuffer_destroy(&buf);
}

/* Fills rep's outcome from a (borrowed: rep points into a's strings). */
void front_reply_from_answer(cb_reply *rep, const answer *a, const cb_meta *meta)
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
static void cell_finish(front *f, cell *c, answer *a, bool cached, uint64_t batch_size,
                        uint64_t wait_ns);

/* Arms the one timer for the earliest deadline. */
static void deadline_arm(front *f)
{
	heap_node *first = heap_min(&f->deadlines);
	uint64_t now = now_ns();

	if (first == NULL) {
		uv_timer_stop(&f->deadline_timer);
		return;
	}
	uv_timer_start(&f->deadline_timer, deadline_timer_cb,
	               first->key > now ? (first->key - now + 999999) / 1000000 : 0, 0);
}

static int deadline_add(front *f, request *r)
{
	if (heap_push(&f->deadlines, &r->deadline) != 0)
		return -1;
	if (heap_min(&f->deadlines) == &r->deadline)
		deadline_arm(f);
	return 0;
}

static void deadline_remove(front *f, request *r)
{
	heap_remove(&f->deadlines, &r->deadline);
}

/* Every cell still waiting when its deadline passes gets TIMEOUT now, even while upstream. */
static void deadline_timer_cb(uv_timer_t *t)
{
	front *f = t->data;
	uint64_t now = now_ns();

	heap_node *first;

	while ((first = heap_min(&f->deadlines)) != NULL && first->key <= now) {
		request *r = deadline_owner(first);
		uint32_t n = r->ncells, left = r->nleft;
		answer *a = answer_error_or_oom(
		    answer_error(CB_ETIMEOUT, "no answer within %.0f ms",
		                 (double)(r->deadline.key - r->t_arrive_ns) / 1e6));

		deadline_remove(f, r);
		/* the last cell_finish frees r: count down a local, not r->nleft */
		for (uint32_t i = 0; i < n && left > 0; i++) {
			cell *c = &r->cells[i];
			if (c->a != NULL)
				continue;
			left--;
			batcher_drop_waiter(f->bt, &c->w);
			cell_finish(f, c, a, false, 0, 0);
		}
		answer_unref(a);
	}
	deadline_arm(f);
}

static void deadlines_init(front *f)
{
	uv_timer_init(f->loop, &f->deadline_timer);
	uv_timer_init(f->loop, &f->trim_timer);
	f->deadline_timer.data = f->trim_timer.data = f;
}

/*
 * 200 ms after the last call of a burst was answered, if nothing came since,
 * hand the freed heap back: glibc keeps it mapped otherwise, and a
 * long-running server's RSS would stay at its busiest.
 */
static void trim_cb(uv_timer_t *t)
{
	front *f = t->data;
	if (f->c.pending == 0)
		malloc_trim(0);
}

/* ------------------------------------------------------------ replies */

/* Encodes and sends the reply of a request whose cells are all answered, then frees it. */
static void request_reply(front *f, request *r)
{
	cb_reply rep = {.has_id = r->has_id, .id = r->id};
	msgpack_sbuffer buf;
	msgpack_packer pk;
	cb_err rv = CB_ENOMEM;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	if (!r->multi) {
		front_reply_from_answer(&rep, r->cells[0].a, &r->cells[0].meta);
		rv = cbp_reply_encode(&pk, &rep);
	} else if ((rep.results = calloc(r->ncells, sizeof(*rep.results))) != NULL) {
		rep.is_multi = true;
		rep.nresults = r->ncells;
		for (uint32_t i = 0; i < r->ncells; i++)
			front_reply_from_answer(&rep.results[i], r->cells[i].a, &r->cells[i].meta);
		rv = cbp_reply_encode(&pk, &rep);
		free(rep.results);
	}
	if (rv == CB_OK) {
		send_buffer(r->ctx, &buf);
	} else {
		log_error("cannot encode a reply: %s", cb_strerror(rv));
		reply_error(r->ctx, r->has_id, r->id, CB_EINTERNAL, "out of memory");
	}
	msgpack_sbuffer_destroy(&buf);
	for (uint32_t i = 0; i < r->ncells; i++)
		answer_unref(r->cells[i].a);
	deadline_remove(f, r);
	free(r);
}

static void cell_finish(front *f, cell *c, answer *a, bool cached, uint64_t batch_size,
                        uint64_t wait_ns)
{
	request *r = c->r;
	uint64_t now = now_ns();

	c->a = answer_ref(a);
	c->meta.cached = cached;
	c->meta.batch_size = batch_size;
	c->meta.wait_ms = (double)wait_ns / 1e6;
	stats_count_answer(f->c.answered, a->err);
	lathist_add(&f->c.queued, wait_ns);
	lathist_add(&f->c.total, now - r->t_arrive_ns);
	f->c.pending--;
	if (f->c.pending == 0 && !uv_is_active((uv_handle_t *)&f->trim_timer))
		uv_timer_start(&f->trim_timer, trim_cb, 200, 0);
	if (--r->nleft == 0)
		request_reply(f, r);
}

static void reply_ping(ing_ctx *ctx, const cb_request *req)
{
	cb_reply rep = {
	    .has_id = req->has_id, .id = req->id, .version = {CB_VERSION, sizeof(CB_VERSION) - 1}};
	msgpack_sbuffer buf;
	msgpack_packer pk;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	send_buffer(ctx, cbp_reply_encode(&pk, &rep) == CB_OK ? &buf : NULL);
	msgpack_sbuffer_destroy(&buf);
}

static void reply_stats(front *f, ing_ctx *ctx, const cb_request *req)
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
	rv |= f->stats(f->stats_arg, &pk);
	send_buffer(ctx, rv == 0 ? &buf : NULL);
	msgpack_sbuffer_destroy(&buf);
}

/* An invalid call of a multi gets its own error; the others of its message go ahead. */
static void cell_refuse(front *f, cell *c, const cb_decode_error *bad)
{
	answer *a = answer_error_or_oom(answer_error(bad->code, "%s", bad->message));

	cell_finish(f, c, a, false, 0, 0);
	answer_unref(a);
}

/*
 * A call's time to live: its own deadline_ms or --call-timeout, at most a
 * day. Larger values (up to 2^64-1 on the wire) would overflow the
 * nanosecond clock and time out at once; no upstream job lives longer.
 */
static uint64_t deadline_ns(const front *f, const cb_request *req)
{
	uint64_t ms = req->has_deadline ? req->deadline_ms : f->cfg.call_timeout_ms;

	return (ms < DEADLINE_MAX_MS ? ms : DEADLINE_MAX_MS) * 1000000;
}

/* Creates the request and hands each call to the batcher; every path ends in cell_finish. */
static void route_calls(front *f, ing_ctx *ctx, const cb_request *req)
{
	uint32_t n = req->op == CB_OP_MULTI ? req->ncalls : 1;
	request *r;

	f->c.calls_received += n;
	f->c.calls_by_op[req->op] += n;
	if (f->draining) {
		f->c.answered[CB_ESHUTTING_DOWN] += n;
		reply_error(ctx, req->has_id, req->id, CB_ESHUTTING_DOWN,
		            "the server is shutting down");
		return;
	}
	if (f->c.pending + n > f->cfg.max_pending) {
		char text[128];
		f->c.answered[CB_EBUSY] += n;
		snprintf(text, sizeof(text), "%llu calls pending, the limit is %llu",
		         (unsigned long long)f->c.pending, (unsigned long long)f->cfg.max_pending);
		reply_error(ctx, req->has_id, req->id, CB_EBUSY, text);
		return;
	}
	if ((r = calloc(1, sizeof(*r) + n * sizeof(cell))) == NULL) {
		f->c.answered[CB_EINTERNAL] += n;
		reply_error(ctx, req->has_id, req->id, CB_EINTERNAL, "out of memory");
		return;
	}
	r->f = f;
	r->ctx = ctx;
	r->has_id = req->has_id;
	r->id = req->id;
	r->multi = req->op == CB_OP_MULTI;
	r->t_arrive_ns = now_ns();
	r->deadline = HEAP_NODE_INIT(r->t_arrive_ns + deadline_ns(f, req));
	r->ncells = r->nleft = n;
	if (deadline_add(f, r) != 0) {
		free(r);
		f->c.answered[CB_EINTERNAL] += n;
		reply_error(ctx, req->has_id, req->id, CB_EINTERNAL, "out of memory");
		return;
	}
	f->c.pending += n;
	if (f->c.pending > f->c.pending_high_water)
		f->c.pending_high_water = f->c.pending;
	for (uint32_t i = 0; i < n; i++) {
		r->cells[i].r = r;
		batcher_waiter_init(&r->cells[i].w, r->t_arrive_ns);
	}
	/* the last cell may answer the whole request and free r: touch nothing of r after it */
	for (uint32_t i = 0; i < n; i++) {
		const cb_decode_error *bad = req->call_errors ? &req->call_errors[i] : NULL;
		if (bad != NULL && bad->code != CB_OK)
			cell_refuse(f, &r->cells[i], bad);
		else
			batcher_add(f->bt, &r->cells[i].w,
			            req->op == CB_OP_MULTI ? &req->calls[i] : &req->call);
	}
}

/*
 * With --auth-token-file every request needs a token the file holds, checked
 * before anything else is said about it (even a malformed one); ping stays
 * open so that health checks need no secret, and tells nothing but the version.
 */
bool front_authorized(const front *f, cb_err decoded, const cb_request *req)
{
	if (f->cfg.tokens == NULL || (decoded == CB_OK && req->op == CB_OP_PING))
		return true;
	return req->has_auth && auth_check(f->cfg.tokens, req->auth.ptr, req->auth.len);
}

/* Answers UNAUTHORIZED, counted as the calls of the message (one when it could not be read). */
static void refuse_unauthorized(front *f, ing_ctx *ctx, cb_err decoded, const cb_request *req)
{
	unsigned slot = decoded == CB_OK ? (unsigned)req->op : FRONT_OP_INVALID;
	uint32_t n = decoded == CB_OK && req->op == CB_OP_MULTI ? req->ncalls : 1;

	log_debug("refused a request: %s", req->has_auth ? "wrong token" : "no token");
	f->c.unauthorized++;
	f->c.requests_by_op[slot]++;
	f->c.calls_received += n;
	f->c.calls_by_op[slot] += n;
	f->c.answered[CB_EUNAUTHORIZED] += n;
	reply_error(ctx, req->has_id, req->id, CB_EUNAUTHORIZED,
	            req->has_auth ? "the token is not accepted"
	                          : "this server wants a token: give auth (CELLBATCH_TOKEN)");
}

void front_received_cb(void *arg, ing_ctx *ctx, nng_msg *msg)
{
	front *f = arg;
	cb_limits lim = {.max_bytes = f->cfg.max_message};
	cb_decode_error err;
	cb_request req;
	cb_err rv;

	f->c.requests++;
	rv = cbp_request_decode(nng_msg_body(msg), nng_msg_len(msg), &lim, &req, &err);
	if (!front_authorized(f, rv, &req)) {
		refuse_unauthorized(f, ctx, rv, &req);
		cbp_request_free(&req);
		nng_msg_free(msg);
		return;
	}
	if (rv != CB_OK) {
		log_debug("rejected a request: %s: %s", cb_err_name(rv), err.message);
		f->c.calls_received++;
		f->c.requests_by_op[FRONT_OP_INVALID]++;
		f->c.calls_by_op[FRONT_OP_INVALID]++;
		stats_count_answer(f->c.answered, rv);
		reply_error(ctx, req.has_id, req.id, rv, err.message);
		nng_msg_free(msg);
		return;
	}
	f->c.requests_by_op[req.op]++;
	switch (req.op) {
	case CB_OP_PING:
		reply_ping(ctx, &req);
		break;
	case CB_OP_STATS:
		reply_stats(f, ctx, &req);
		break;
	default:
		/* items copy what they keep, so msg is not needed after routing */
		route_calls(f, ctx, &req);
		break;
	}
	cbp_request_free(&req);
	nng_msg_free(msg);
}

/* ------------------------------------------------------------ the front's life and counters */

void front_waiter_done_cb(void *arg, batcher_waiter *w, answer *a, bool cached, uint64_t batch_size,
                          uint64_t wait_ns)
{
	cell_finish(arg, list_entry(w, cell, w), a, cached, batch_size, wait_ns);
}

int front_open(front **out, uv_loop_t *loop, const front_config *cfg, batcher *bt, struct cache *c,
               front_stats_cb stats, void *stats_arg)
{
	front *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->cfg = *cfg;
	f->loop = loop;
	f->bt = bt;
	f->cache = c;
	f->stats = stats;
	f->stats_arg = stats_arg;
	deadlines_init(f);
	*out = f;
	return 0;
}

static void front_closed_cb(uv_handle_t *h)
{
	free(h->data);
}

void front_close(front *f)
{
	if (f == NULL)
		return;
	uv_close((uv_handle_t *)&f->deadline_timer, NULL);
	heap_fini(&f->deadlines);
	/* the last close frees f: libuv runs close callbacks in order */
	uv_close((uv_handle_t *)&f->trim_timer, front_closed_cb);
}

void front_set_draining(front *f)
{
	__atomic_store_n(&f->draining, true, __ATOMIC_RELEASE);
}

bool front_draining(const front *f)
{
	return __atomic_load_n(&f->draining, __ATOMIC_ACQUIRE);
}

uint64_t front_pending(const front *f)
{
	return f->c.pending;
}
