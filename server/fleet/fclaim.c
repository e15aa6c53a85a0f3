/* fclaim.c: items claimed in the fleet, a few hundred per script (fclaim.h). */
#include "fclaim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rowbytes.h"

/* Items per script: one script runs alone on Redis, and its timer is the command's. */
#define CLAIM_CHUNK 256
/* Scripts in flight: more claims wait here, so that none waits behind a long queue in Redis. */
#define SENT_MAX 4

typedef struct claim {
	list_node link; /* in fclaim_set.waiting until sent */
	fshare_claim_cb cb;
	void *arg;
	size_t keylen;
	char key[];
} claim;

typedef struct chunk {
	fclaim_set *s;
	size_t n;
	claim *cl[CLAIM_CHUNK];
} chunk;

/* KEYS: n values, their n leases, their n marks (FCLAIM_JOB_PFX). ARGV: owner, lease ms. For each
 * item: {1, value} | {0} (the lease is ours now) | {2, ms to wait}: its lease's time left, or a
 * lease's length when it is inside a journalled job (whoever polls that job answers it). */
static const char claim_lua[] =
    "local n, out = #KEYS / 3, {}\n"
    "for i = 1, n do\n"
    "  local v = redis.call('GET', KEYS[i])\n"
    "  if v then out[i] = {1, v}\n"
    "  elseif redis.call('EXISTS', KEYS[2 * n + i]) == 1 then out[i] = {2, tonumber(ARGV[2])}\n"
    "  elseif redis.call('SET', KEYS[n + i], ARGV[1], 'NX', 'PX', ARGV[2]) then out[i] = {0}\n"
    "  else out[i] = {2, redis.call('PTTL', KEYS[n + i])} end\n"
    "end\n"
    "return out\n";

static void claims_pump(fclaim_set *s);

/* One item's answer e (NULL: Redis failed) to its claim, which is freed. */
static void claim_end(fclaim_set *s, claim *cl, const redisReply *e)
{
	const redisReply *e1 = e != NULL && e->elements > 1 ? e->element[1] : NULL;
	fshare_claim_rc rc = FSHARE_FAILED;
	rowbytes_rc why = ROWBYTES_OK;
	uint64_t expires = 0, wait = 0;
	answer *a = NULL;

	if (e != NULL && e->type == REDIS_REPLY_ARRAY && e->elements >= 1 &&
	    e->element[0]->type == REDIS_REPLY_INTEGER) {
		if (e->element[0]->integer == 0) {
			rc = FSHARE_MINE;
			flease_hold(s->leases, cl->key, cl->keylen);
		} else if (e->element[0]->integer == 1 && e1 != NULL &&
		           e1->type == REDIS_REPLY_STRING) {
			a = rowbytes_decode(cl->key, cl->keylen, e1->str, e1->len, s->now_ms(),
			                    &expires, &why);
			rc = a != NULL ? FSHARE_VALUE : FSHARE_FAILED;
			s->c.corrupt += why == ROWBYTES_CORRUPT;
		} else if (e->element[0]->integer == 2) {
			rc = FSHARE_HELD;
			if (e1 != NULL && e1->type == REDIS_REPLY_INTEGER && e1->integer > 0)
				wait = (uint64_t)e1->integer;
		}
	}
	*(rc == FSHARE_MINE    ? &s->c.mine
	  : rc == FSHARE_VALUE ? &s->c.values
	  : rc == FSHARE_HELD  ? &s->c.held
	                       : &s->c.failed) += 1;
	cl->cb(cl->arg, rc, a, expires, wait);
	if (a != NULL)
		answer_unref(a);
	free(cl);
}

static void chunk_cb(void *arg, const redisReply *r, const char *err)
{
	chunk *k = arg;
	fclaim_set *s = k->s;
	bool whole = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == k->n;
	(void)err;

	s->sent--;
	for (size_t i = 0; i < k->n; i++)
		claim_end(s, k->cl[i], whole ? r->element[i] : NULL);
	free(k);
	claims_pump(s);
}

/* One script for the claims of k; -1 when it cannot go (the caller ends them). */
static int chunk_send(fclaim_set *s, chunk *k)
{
	size_t n = k->n, argc = 5 + 3 * n;
	const char *pfx[3] = {s->vpfx, s->lpfx, FCLAIM_JOB_PFX};
	size_t pl[3] = {strlen(s->vpfx), strlen(s->lpfx), FCLAIM_JOB_PFX_LEN};
	const char **argv = calloc(argc, sizeof(*argv));
	size_t *lens = calloc(argc, sizeof(*lens));
	char *keys = NULL, nkeys[24], *p;
	size_t total = 0;
	int rv = -1;

	for (size_t i = 0; i < n; i++)
		total += pl[0] + pl[1] + pl[2] + 3 * k->cl[i]->keylen;
	if (argv == NULL || lens == NULL || (p = keys = malloc(total ? total : 1)) == NULL)
		goto out;
	snprintf(nkeys, sizeof(nkeys), "%zu", 3 * n);
	argv[0] = "EVAL", lens[0] = 4;
	argv[1] = claim_lua, lens[1] = sizeof(claim_lua) - 1;
	argv[2] = nkeys, lens[2] = strlen(nkeys);
	for (size_t i = 0; i < 3 * n; i++) {
		const claim *cl = k->cl[i % n];
		size_t which = i / n;
		memcpy(p, pfx[which], pl[which]);
		memcpy(p + pl[which], cl->key, cl->keylen);
		argv[3 + i] = p, lens[3 + i] = pl[which] + cl->keylen;
		p += pl[which] + cl->keylen;
	}
	argv[3 + 3 * n] = s->owner, lens[3 + 3 * n] = strlen(s->owner);
	argv[4 + 3 * n] = s->lease_ms, lens[4 + 3 * n] = strlen(s->lease_ms);
	if ((rv = rconn_command(s->cmd, chunk_cb, k, (int)argc, argv, lens)) == 0)
		s->sent++;
out:
	free(keys), free(lens), free(argv);
	return rv;
}

/* Sends what waits, a chunk per script, while fewer than SENT_MAX are out; claims that cannot go
 * (Redis gone meanwhile) end FAILED here, which is never inline from fclaim_claim. */
static void claims_pump(fclaim_set *s)
{
	while (s->sent < SENT_MAX && !list_empty(&s->waiting)) {
		chunk *k = malloc(sizeof(*k));
		list_node *n;

		if (k == NULL)
			return; /* the next answer pumps again */
		k->s = s;
		k->n = 0;
		while (k->n < CLAIM_CHUNK && (n = list_pop_front(&s->waiting)) != NULL)
			k->cl[k->n++] = list_entry(n, claim, link);
		if (chunk_send(s, k) == 0)
			continue;
		for (size_t i = 0; i < k->n; i++)
			claim_end(s, k->cl[i], NULL);
		free(k);
	}
}

static void claim_timer_cb(uv_timer_t *t)
{
	claims_pump(t->data);
}

int fclaim_claim(fclaim_set *s, const char *key, size_t keylen, fshare_claim_cb cb, void *arg)
{
	claim *cl;

	if (rconn_get_state(s->cmd) != RCONN_READY || (cl = malloc(sizeof(*cl) + keylen)) == NULL)
		return -1;
	*cl = (claim){.cb = cb, .arg = arg, .keylen = keylen};
	memcpy(cl->key, key, keylen);
	list_push_back(&s->waiting, &cl->link);
	s->c.claims++;
	/* the items of one turn of the loop (one drain of the calls received) go together */
	if (!uv_is_active((uv_handle_t *)&s->timer))
		uv_timer_start(&s->timer, claim_timer_cb, 0, 0);
	return 0;
}

void fclaim_init(fclaim_set *s, uv_loop_t *loop, rconn *cmd, flease_set *leases, const char *owner,
                 const char *lease_ms, const char *vpfx, const char *lpfx, uint64_t (*now_ms)(void))
{
	*s = (fclaim_set){.cmd = cmd,
	                  .leases = leases,
	                  .owner = owner,
	                  .lease_ms = lease_ms,
	                  .vpfx = vpfx,
	                  .lpfx = lpfx,
	                  .now_ms = now_ms};
	list_init(&s->waiting);
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
}

void fclaim_close(fclaim_set *s, uv_close_cb closed_cb, void *data)
{
	list_node *n;

	while ((n = list_pop_front(&s->waiting)) != NULL)
		claim_end(s, list_entry(n, claim, link), NULL);
	s->timer.data = data;
	uv_close((uv_handle_t *)&s->timer, closed_cb);
}
