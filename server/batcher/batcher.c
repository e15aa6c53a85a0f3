/* batcher.c: groups calls by (fn, opts) into batch windows, and sends identical calls upstream
 * once. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dispatch.h"
#include "job.h"
#include "log.h"
#include "normalize.h"
#include "server.h"

/* Group key: fn byte, then each option as a 2-byte length and its bytes (0xffff: absent). */
static size_t group_key(char *out, cb_fn fn, const cb_opts *o)
{
	size_t n = 0;

	out[n++] = (char)fn;
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		uint32_t len = o->v[i].ptr != NULL ? o->v[i].len : 0xffff;
		out[n++] = (char)(len >> 8);
		out[n++] = (char)(len & 0xff);
		if (o->v[i].ptr != NULL) {
			memcpy(out + n, o->v[i].ptr, o->v[i].len);
			n += o->v[i].len;
		}
	}
	return n;
}

static void group_free(group *g)
{
	for (int i = 0; i < CB_OPT_COUNT; i++)
		free(g->opt[i]);
	free(g->key);
	free(g);
}

static group *group_get(server *s, const cb_wire_call *call, const char *key, size_t keylen)
{
	htab_node *n = htab_find(&s->groups, key, keylen);
	group *g;
	size_t off;

	if (n != NULL)
		return (group *)n;
	if ((g = calloc(1, sizeof(*g))) == NULL || (g->key = malloc(keylen)) == NULL)
		goto fail;
	memcpy(g->key, key, keylen);
	g->keylen = keylen;
	g->fn = call->fn;
	off = (size_t)snprintf(g->label, sizeof(g->label), "%s", cbp_fns[call->fn].name);
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		const cb_str *v = &call->opts.v[i];
		if (v->ptr == NULL)
			continue;
		if ((g->opt[i] = strndup(v->ptr, v->len)) == NULL)
			goto fail;
		if (off < sizeof(g->label))
			off += (size_t)snprintf(g->label + off, sizeof(g->label) - off, " %s=%.20s",
			                        cbp_opt_names[i], g->opt[i]);
	}
	g->node.key = g->key;
	g->node.keylen = g->keylen;
	htab_insert(&s->groups, &g->node);
	return g;
fail:
	if (g != NULL)
		group_free(g);
	return NULL;
}

static void window_cb(uv_timer_t *t);

/* The window closed or the batch is full: hand it to the dispatcher (an empty one just ends). */
static void batch_flush(batch *b)
{
	uv_timer_stop(&b->timer);
	if (b->n == 0) {
		batch_release(b);
		return;
	}
	if (b->n >= b->s->cfg.batch_max)
		b->g->open = NULL;
	dispatch_flush(b);
}

static batch *batch_open(server *s, group *g)
{
	batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->cap = 16;
	if ((b->items = malloc(b->cap * sizeof(*b->items))) == NULL) {
		free(b);
		return NULL;
	}
	b->s = s;
	b->g = g;
	b->seq = ++s->batch_seq;
	b->state = BATCH_OPEN; /* created: the one state not reached through batch_set_state */
	b->t_first_ms = b->t_last_ms = now_ns() / 1000000;
	uv_timer_init(s->loop, &b->timer);
	b->timer.data = b;
	b->next = s->batches;
	if (s->batches != NULL)
		s->batches->prev = b;
	s->batches = b;
	g->open = b;
	uv_timer_start(&b->timer, window_cb,
	               s->cfg.batch_idle_ms < s->cfg.batch_wait_ms ? s->cfg.batch_idle_ms
	                                                           : s->cfg.batch_wait_ms,
	               0);
	return b;
}

/*
 * One timer per open batch, armed for the earlier of its two deadlines and
 * re-armed when arrivals moved the idle deadline: no timer restart per call.
 */
static void window_cb(uv_timer_t *t)
{
	batch *b = t->data;
	server *s = b->s;
	uint64_t now = now_ns() / 1000000;
	uint64_t due_wait = b->t_first_ms + s->cfg.batch_wait_ms;
	uint64_t due_idle = b->t_last_ms + s->cfg.batch_idle_ms;
	uint64_t due = due_wait < due_idle ? due_wait : due_idle;

	if (now >= due && due == due_idle && due_idle < due_wait) {
		/* calls may be waiting in the ingress queue behind a busy loop turn */
		ingress_poll(s->in);
		if (b->state != BATCH_OPEN)
			return; /* they filled it, and it left on batch-max */
		now = now_ns() / 1000000;
		due_idle = b->t_last_ms + s->cfg.batch_idle_ms;
		due = due_wait < due_idle ? due_wait : due_idle;
	}
	if (now >= due) {
		log_debug("batch %llu %s: window closed with %u items (%s)",
		          (unsigned long long)b->seq, b->g->label, b->n,
		          due == due_wait ? "batch-wait" : "batch-idle");
		batch_flush(b);
	} else {
		uv_timer_start(&b->timer, window_cb, due - now, 0);
	}
}

static item *item_new(const char *key, size_t keylen, const char *text, size_t text_len)
{
	item *it = calloc(1, sizeof(*it) + keylen + text_len + 1);

	if (it == NULL)
		return NULL;
	memcpy(it->buf, key, keylen);
	if (text_len > 0)
		memcpy(it->buf + keylen, text, text_len);
	it->buf[keylen + text_len] = '\0';
	it->node.key = it->buf;
	it->node.keylen = keylen;
	it->text = it->buf + keylen;
	it->text_len = (uint32_t)text_len;
	return it;
}

/* Answers c with a fresh answer and drops the creator's reference. */
static void finish_now(server *s, cell *c, answer *a)
{
	a = answer_error_or_oom(a);
	s->hooks.cell_done(s, c, a, false, 0, 0);
	answer_unref(a);
}

static void waiter_add(item *it, cell *c)
{
	c->it = it;
	c->wprev = NULL;
	c->wnext = it->waiters;
	if (it->waiters != NULL)
		it->waiters->wprev = c;
	it->waiters = c;
	it->nwaiters++;
}

size_t batcher_key(const cb_wire_call *call, char key[BATCHER_KEY_MAX], size_t *group_len,
                   const char **text, size_t *text_len)
{
	size_t gkl = group_key(key, call->fn, &call->opts), kl = gkl;

	*text = NULL;
	*text_len = 0;
	if (cbp_fns[call->fn].args == CB_ARGS_TEXT) {
		trim(call->text.ptr, call->text.len, text, text_len);
		kl += normalize_text(key + gkl, *text, *text_len);
	} else {
		kl += (size_t)snprintf(key + gkl, BATCHER_KEY_MAX - gkl, "%.6f,%.6f", call->lat,
		                       call->lon);
	}
	*group_len = gkl;
	return kl;
}

void batcher_add(server *s, cell *c, const cb_wire_call *call)
{
	char key[BATCHER_KEY_MAX];
	const char *text;
	size_t gkl, text_len, kl = batcher_key(call, key, &gkl, &text, &text_len);
	htab_node *n;
	answer *a;
	group *g;
	item *it;
	batch *b;

	/* the cache and dedup share one key: fn, options and the normal form of the argument */
	if (s->cache != NULL && (a = cache_get(s->cache, key, kl)) != NULL) {
		s->hooks.cell_done(s, c, a, true, 0, 0);
		answer_unref(a);
		return;
	}
	if ((n = htab_find(&s->items, key, kl)) != NULL) {
		s->st.dedup_hits++;
		waiter_add((item *)n, c);
		return;
	}
	if (text_len == 0 && cbp_fns[call->fn].args == CB_ARGS_TEXT) {
		finish_now(s, c, answer_error(CB_ENOT_FOUND, "the text is blank"));
		return;
	}
	if ((g = group_get(s, call, key, gkl)) == NULL)
		goto oom;
	if ((b = g->open) == NULL && (b = batch_open(s, g)) == NULL)
		goto oom;
	if (b->n == b->cap) {
		item **ni = realloc(b->items, 2 * b->cap * sizeof(*ni));
		if (ni == NULL)
			goto oom;
		b->items = ni;
		b->cap *= 2;
	}
	if ((it = item_new(key, kl, text, text_len)) == NULL)
		goto oom;
	it->lat = call->lat;
	it->lon = call->lon;
	it->b = b;
	b->items[b->n++] = it;
	/* not uv_now(): that is the loop's cached time, and one drain of the ingress
	 * queue can outlast batch-idle while calls keep arriving */
	b->t_last_ms = now_ns() / 1000000;
	htab_insert(&s->items, &it->node);
	waiter_add(it, c);
	if (b->n >= s->cfg.batch_max) {
		if (b->state == BATCH_OPEN)
			batch_flush(b);
		else
			g->open =
			    NULL; /* full while waiting for a slot: later calls start a new batch */
	}
	return;
oom:
	finish_now(s, c, NULL);
}

void item_finish(server *s, item *it, answer *a)
{
	uint64_t size = it->b->n, t_flush = it->b->t_flush_ns;

	htab_remove(&s->items, &it->node);
	while (it->waiters != NULL) {
		cell *c = it->waiters;
		uint64_t wait = t_flush > c->r->t_arrive_ns ? t_flush - c->r->t_arrive_ns : 0;
		it->waiters = c->wnext;
		if (it->waiters != NULL)
			it->waiters->wprev = NULL;
		s->hooks.cell_done(s, c, a, false, size, wait);
	}
	free(it);
}

void batcher_flush_all(server *s)
{
	for (size_t i = 0; i < s->groups.nbuckets; i++) {
		for (htab_node *n = s->groups.buckets[i]; n != NULL; n = n->next) {
			batch *b = ((group *)n)->open;
			if (b != NULL && b->state == BATCH_OPEN)
				batch_flush(b);
		}
	}
}

void batcher_drop_waiter(server *s, cell *c)
{
	item *it = c->it;
	batch *b;

	if (it == NULL)
		return;
	if (c->wprev != NULL)
		c->wprev->wnext = c->wnext;
	else
		it->waiters = c->wnext;
	if (c->wnext != NULL)
		c->wnext->wprev = c->wprev;
	c->it = NULL;
	if (--it->nwaiters > 0)
		return;
	b = it->b;
	if (b->state != BATCH_OPEN && b->state != BATCH_QUEUED)
		return; /* upstream already: its late result is dropped when it comes */
	/* nobody wants it any more and it has not left: take it out of the batch */
	for (uint32_t i = 0; i < b->n; i++) {
		if (b->items[i] == it) {
			b->items[i] = b->items[--b->n];
			break;
		}
	}
	htab_remove(&s->items, &it->node);
	free(it);
	if (b->n == 0 && b->state == BATCH_QUEUED)
		batch_release(b);
}

void batcher_fini(server *s)
{
	for (size_t i = 0; i < s->groups.nbuckets; i++) {
		htab_node *n = s->groups.buckets[i];
		while (n != NULL) {
			htab_node *next = n->next;
			group_free((group *)n);
			n = next;
		}
	}
	htab_fini(&s->groups);
	htab_fini(&s->items);
}
