/* hot.c: the hot path — a single call whose answer is in the cache's memory is answered on the
 * nng thread that received it, without the loop. */
#include <string.h>

#include "cache.h"
#include "clock.h"
#include "front_int.h"

static void hot_count(hot_stats *h, cb_err code, uint64_t ns)
{
	__atomic_fetch_add(code == CB_OK ? &h->ok : &h->not_found, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->total.b[lathist_bucket(ns)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->total.count, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->total.sum_ns, ns, __ATOMIC_RELAXED);
}

/* Adds the hot path's counts to c as if the loop had answered those calls (queued 0 ns each). */
static void hot_merge(const hot_stats *h, front_counters *c)
{
	uint64_t ok = __atomic_load_n(&h->ok, __ATOMIC_RELAXED);
	uint64_t nf = __atomic_load_n(&h->not_found, __ATOMIC_RELAXED);

	c->requests += ok + nf;
	c->calls_received += ok + nf;
	c->requests_by_op[CB_OP_CALL] += ok + nf;
	c->calls_by_op[CB_OP_CALL] += ok + nf;
	c->answered[CB_OK] += ok;
	c->answered[CB_ENOT_FOUND] += nf;
	c->queued.b[0] += ok + nf;
	c->queued.count += ok + nf;
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++) {
		uint64_t n = __atomic_load_n(&h->total.b[i], __ATOMIC_RELAXED);
		c->total.b[i] += n;
		c->total.count += n;
	}
	c->total.sum_ns += __atomic_load_n(&h->total.sum_ns, __ATOMIC_RELAXED);
}

/* A single call is far smaller; anything larger (a multi) would only be decoded twice. */
#define HOT_MAX_BYTES 4096

bool front_hot_cb(void *arg, nng_msg *msg, nng_msg **reply)
{
	front *f = arg;
	cb_limits lim = {.max_bytes = f->cfg.max_message};
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
	if (f->cache == NULL || nng_msg_len(msg) > HOT_MAX_BYTES ||
	    __atomic_load_n(&f->draining, __ATOMIC_ACQUIRE))
		return false;
	if (cbp_request_decode(nng_msg_body(msg), nng_msg_len(msg), &lim, &req, &err) != CB_OK)
		return false;
	msgpack_sbuffer_init(&buf);
	/* a refusal is the loop's to answer and count */
	if (req.op != CB_OP_CALL || !front_authorized(f, CB_OK, &req))
		goto out;
	kl = batcher_key(&req.call, key, &gkl, &text, &text_len);
	if ((a = cache_peek(f->cache, key, kl)) == NULL)
		goto out;
	rep.has_id = req.has_id;
	rep.id = req.id;
	front_reply_from_answer(&rep, a, &(cb_meta){.cached = true});
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	if (cbp_reply_encode(&pk, &rep) != CB_OK || (*reply = front_buffer_msg(&buf)) == NULL)
		goto out; /* the loop tries again, and reports what it cannot do */
	hot_count(&f->hot, a->err, now_ns() - t0);
	sent = true;
out:
	answer_unref(a);
	msgpack_sbuffer_destroy(&buf);
	cbp_request_free(&req);
	return sent;
}

void front_get_counters(const front *f, front_counters *out)
{
	*out = f->c;
	hot_merge(&f->hot, out);
}
