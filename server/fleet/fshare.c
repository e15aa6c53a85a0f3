/* fshare.c: answers and leases per item in Redis, results on a channel (fshare.h). */
#include "fshare.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htab.h"
#include "fmsg.h"
#include "log.h"
#include "rowbytes.h"

#define CHANNEL     "cellbatch:results"
#define VALUE_PFX   "cellbatch:v:"
#define LEASE_PFX   "cellbatch:l:"
#define PFX_LEN     12
#define STORE_CHUNK 200 /* items per EVAL: one script runs alone on Redis, keep it short */
#define RENEW_CHUNK 500

/* A lease this instance holds: renewed until its item's answer is stored. */
typedef struct lease {
	htab_node node;
	size_t len;
	char key[]; /* LEASE_PFX + the item's key */
} lease;

/* An answer waiting for the next write: its record (key, rowbytes or none) and TTL. */
typedef struct pending {
	fmsg_rec r;
	uint64_t ttl_ms;
} pending;

struct fshare {
	uv_loop_t *loop;
	rconn *cmd, *sub;
	fshare_config cfg;
	char owner[64];
	char lease_ms[24];
	htab leases;
	pending *pend;
	size_t npend, cappend;
	uv_timer_t flush_timer, renew_timer;
	unsigned open_handles;
	fshare_counters c;
};

typedef struct claim {
	fshare *fs;
	fshare_claim_cb cb;
	void *arg;
	size_t keylen;
	char key[];
} claim;

/* KEYS: value, lease. ARGV: owner, lease ms. {1, value} | {0} (the lease is ours) | {2, pttl} */
static const char claim_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then return {1, v} end\n"
    "if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0} end\n"
    "return {2, redis.call('PTTL', KEYS[2])}\n";

/* KEYS: n values, then their n leases. ARGV: owner, channel, n, (value, ttl) x n, message.
 * An empty value is not kept; a lease is given up only by its owner. */
static const char store_lua[] =
    "local n = tonumber(ARGV[3])\n"
    "for i = 1, n do\n"
    "  local v = ARGV[2 + 2 * i]\n"
    "  if v ~= '' then redis.call('SET', KEYS[i], v, 'PX', ARGV[3 + 2 * i]) end\n"
    "  if redis.call('GET', KEYS[n + i]) == ARGV[1] then redis.call('DEL', KEYS[n + i]) end\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[2], ARGV[4 + 2 * n])\n"
    "return n\n";

/* KEYS: leases. ARGV: owner, lease ms. */
static const char renew_lua[] = "for i = 1, #KEYS do\n"
                                "  if redis.call('GET', KEYS[i]) == ARGV[1] then\n"
                                "    redis.call('PEXPIRE', KEYS[i], ARGV[2])\n"
                                "  end\n"
                                "end\n"
                                "return 0\n";

static char *prefixed(const char *pfx, const char *key, size_t keylen)
{
	char *s = malloc(PFX_LEN + keylen);

	if (s != NULL) {
		memcpy(s, pfx, PFX_LEN);
		memcpy(s + PFX_LEN, key, keylen);
	}
	return s;
}

/* ------------------------------------------------------------ leases held */

static void lease_hold(fshare *fs, const char *key, size_t keylen)
{
	lease *l;

	if (htab_find(&fs->leases, key, keylen) != NULL ||
	    (l = malloc(sizeof(*l) + keylen)) == NULL)
		return;
	memcpy(l->key, key, keylen);
	l->len = keylen;
	l->node.key = l->key;
	l->node.keylen = keylen;
	htab_insert(&fs->leases, &l->node);
}

static void lease_drop(fshare *fs, const char *key, size_t keylen)
{
	htab_node *n = htab_find(&fs->leases, key, keylen);

	if (n != NULL) {
		htab_remove(&fs->leases, n);
		free(n);
	}
}

static void ignore_cb(void *arg, const redisReply *r, const char *err)
{
	(void)arg, (void)r, (void)err; /* a lost one: the lease or the value expires by itself */
}

/* One command renewing n leases (keys already prefixed). */
static void renew_chunk(fshare *fs, const char **keys, const size_t *keylens, size_t n)
{
	const char *argv[RENEW_CHUNK + 5] = {"EVAL", renew_lua};
	size_t lens[RENEW_CHUNK + 5] = {4, sizeof(renew_lua) - 1};
	char nkeys[16];

	snprintf(nkeys, sizeof(nkeys), "%zu", n);
	argv[2] = nkeys;
	lens[2] = strlen(nkeys);
	memcpy(argv + 3, keys, n * sizeof(*keys));
	memcpy(lens + 3, keylens, n * sizeof(*keylens));
	argv[3 + n] = fs->owner;
	lens[3 + n] = strlen(fs->owner);
	argv[4 + n] = fs->lease_ms;
	lens[4 + n] = strlen(fs->lease_ms);
	rconn_command(fs->cmd, ignore_cb, NULL, (int)n + 5, argv, lens);
}

/* Renews every lease held, a chunk per command, so that a live owner's never expires. */
static void renew_timer_cb(uv_timer_t *t)
{
	fshare *fs = t->data;
	const char *keys[RENEW_CHUNK];
	size_t lens[RENEW_CHUNK], n = 0;

	for (size_t b = 0; b < fs->leases.nbuckets; b++) {
		for (htab_node *h = fs->leases.buckets[b]; h != NULL; h = h->next) {
			if ((keys[n] = prefixed(LEASE_PFX, h->key, h->keylen)) == NULL)
				continue;
			lens[n++] = PFX_LEN + h->keylen;
			if (n == RENEW_CHUNK) {
				renew_chunk(fs, keys, lens, n);
				while (n > 0)
					free((char *)keys[--n]);
			}
		}
	}
	if (n > 0)
		renew_chunk(fs, keys, lens, n);
	while (n > 0)
		free((char *)keys[--n]);
}

/* ------------------------------------------------------------ claims */

static void claim_cb(void *arg, const redisReply *r, const char *err)
{
	claim *cl = arg;
	fshare *fs = cl->fs;
	answer *a = NULL;
	uint64_t expires = 0, wait = 0;
	fshare_claim_rc rc = FSHARE_FAILED;
	rowbytes_rc why;
	(void)err;

	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER) {
		const redisReply *e1 = r->elements > 1 ? r->element[1] : NULL;
		switch (r->element[0]->integer) {
		case 0:
			rc = FSHARE_MINE;
			lease_hold(fs, cl->key, cl->keylen);
			break;
		case 1:
			if (e1 != NULL && e1->type == REDIS_REPLY_STRING &&
			    (a = rowbytes_decode(cl->key, cl->keylen, e1->str, e1->len,
			                         fs->cfg.now_ms(), &expires, &why)) != NULL)
				rc = FSHARE_VALUE;
			else if (why == ROWBYTES_CORRUPT)
				fs->c.corrupt++;
			break;
		case 2:
			rc = FSHARE_HELD;
			wait = e1 != NULL && e1->type == REDIS_REPLY_INTEGER && e1->integer > 0
			           ? (uint64_t)e1->integer
			           : 0;
			break;
		}
	}
	*(rc == FSHARE_MINE    ? &fs->c.mine
	  : rc == FSHARE_VALUE ? &fs->c.values
	  : rc == FSHARE_HELD  ? &fs->c.held
	                       : &fs->c.failed) += 1;
	cl->cb(cl->arg, rc, a, expires, wait);
	if (a != NULL)
		answer_unref(a);
	free(cl);
}

int fshare_claim(fshare *fs, const char *key, size_t keylen, fshare_claim_cb cb, void *arg)
{
	claim *cl = malloc(sizeof(*cl) + keylen);
	char *vk = prefixed(VALUE_PFX, key, keylen), *lk = prefixed(LEASE_PFX, key, keylen);
	const char *argv[] = {"EVAL", claim_lua, "2", vk, lk, fs->owner, fs->lease_ms};
	size_t lens[] = {4,
	                 sizeof(claim_lua) - 1,
	                 1,
	                 PFX_LEN + keylen,
	                 PFX_LEN + keylen,
	                 strlen(fs->owner),
	                 strlen(fs->lease_ms)};
	int rv = -1;

	if (cl == NULL || vk == NULL || lk == NULL)
		goto out;
	*cl = (claim){fs, cb, arg, keylen};
	memcpy(cl->key, key, keylen);
	if ((rv = rconn_command(fs->cmd, claim_cb, cl, 7, argv, lens)) == 0) {
		fs->c.claims++;
		cl = NULL;
	}
out:
	free(cl);
	free(vk);
	free(lk);
	return rv;
}

/* ------------------------------------------------------------ answers stored and published */

/* One EVAL for pend[0..n): values kept, leases given up, the message published. */
static void store_chunk(fshare *fs, const pending *pend, size_t n)
{
	size_t argc = 7 + 4 * n, k = 0;
	const char **argv = calloc(argc, sizeof(*argv));
	size_t *lens = calloc(argc, sizeof(*lens));
	char **keys = calloc(2 * n, sizeof(*keys)), nbuf[16], (*ttl)[24] = calloc(n, 24),
	     *msg = NULL;

	if (argv == NULL || lens == NULL || keys == NULL || ttl == NULL ||
	    (msg = fmsg_pack(&pend->r, sizeof(*pend), n, &lens[argc - 1])) == NULL)
		goto out;
	snprintf(nbuf, sizeof(nbuf), "%zu", 2 * n);
	argv[k] = "EVAL", lens[k++] = 4;
	argv[k] = store_lua, lens[k++] = sizeof(store_lua) - 1;
	argv[k] = strdup(nbuf), lens[k++] = strlen(nbuf);
	for (size_t i = 0; i < 2 * n; i++) {
		const fmsg_rec *p = &pend[i % n].r;
		if ((keys[i] = prefixed(i < n ? VALUE_PFX : LEASE_PFX, p->key, p->keylen)) == NULL)
			goto out;
		argv[k] = keys[i], lens[k++] = PFX_LEN + p->keylen;
	}
	snprintf(nbuf, sizeof(nbuf), "%zu", n);
	argv[k] = fs->owner, lens[k++] = strlen(fs->owner);
	argv[k] = CHANNEL, lens[k++] = strlen(CHANNEL);
	argv[k] = nbuf, lens[k++] = strlen(nbuf);
	for (size_t i = 0; i < n; i++) {
		snprintf(ttl[i], 24, "%" PRIu64, pend[i].ttl_ms ? pend[i].ttl_ms : 1);
		argv[k] = pend[i].r.val ? pend[i].r.val : "", lens[k++] = pend[i].r.vlen;
		argv[k] = ttl[i], lens[k++] = strlen(ttl[i]);
	}
	argv[k] = msg;
	if (rconn_command(fs->cmd, ignore_cb, NULL, (int)argc, argv, lens) == 0)
		fs->c.published++;
out:
	for (size_t i = 0; keys != NULL && i < 2 * n; i++)
		free(keys[i]);
	if (argv != NULL)
		free((char *)argv[2]);
	free(keys), free(ttl), free(msg), free(lens), free(argv);
}

static void flush_timer_cb(uv_timer_t *t)
{
	fshare *fs = t->data;

	for (size_t i = 0; i < fs->npend; i += STORE_CHUNK)
		store_chunk(fs, fs->pend + i,
		            fs->npend - i < STORE_CHUNK ? fs->npend - i : STORE_CHUNK);
	for (size_t i = 0; i < fs->npend; i++) {
		free(fs->pend[i].r.key);
		free(fs->pend[i].r.val);
	}
	fs->npend = 0;
}

void fshare_store(fshare *fs, const char *key, size_t keylen, answer *a, uint64_t expires_ms)
{
	uint64_t now = fs->cfg.now_ms();
	pending p = {.r.keylen = keylen};

	lease_drop(fs, key, keylen);
	if (fs->npend == fs->cappend) {
		size_t cap = fs->cappend ? 2 * fs->cappend : 64;
		pending *np = realloc(fs->pend, cap * sizeof(*np));
		if (np == NULL)
			return; /* the lease expires by itself */
		fs->pend = np;
		fs->cappend = cap;
	}
	if ((p.r.key = malloc(keylen)) == NULL)
		return;
	memcpy(p.r.key, key, keylen);
	if (a != NULL && expires_ms > now &&
	    (p.r.vlen = rowbytes_encode(key, keylen, a, expires_ms, NULL, 0)) > 0) {
		if ((p.r.val = malloc(p.r.vlen)) != NULL)
			rowbytes_encode(key, keylen, a, expires_ms, p.r.val, p.r.vlen);
		p.r.vlen = p.r.val ? p.r.vlen : 0;
		p.ttl_ms = expires_ms - now;
		fs->c.stored++;
	}
	fs->pend[fs->npend++] = p;
	if (!uv_is_active((uv_handle_t *)&fs->flush_timer))
		uv_timer_start(&fs->flush_timer, flush_timer_cb, 0, 0);
}

/* A message of the results channel: each key's answer (or none) to the waiting instance. */
static void fshare_message_cb(void *arg, const char *m, size_t len)
{
	fshare *fs = arg;
	size_t off = 0;
	fmsg_rec r;

	/* bytes that are not records end it: the shared cache is the fallback */
	while (fmsg_next(m, len, &off, &r)) {
		uint64_t expires = 0;
		rowbytes_rc why;
		answer *a = NULL;

		fs->c.received++;
		if (r.vlen > 0 && (a = rowbytes_decode(r.key, r.keylen, r.val, r.vlen,
		                                       fs->cfg.now_ms(), &expires, &why)) == NULL) {
			fs->c.corrupt += why == ROWBYTES_CORRUPT;
			continue;
		}
		fs->cfg.result(fs->cfg.arg, r.key, r.keylen, a, expires);
		if (a != NULL)
			answer_unref(a);
	}
}

int fshare_open(fshare **out, uv_loop_t *loop, rconn *cmd, const fshare_config *cfg)
{
	fshare *fs = calloc(1, sizeof(*fs));
	rconn_config sub;
	char host[40] = "";

	if (fs == NULL || htab_init(&fs->leases) != 0) {
		free(fs);
		return -1;
	}
	sub = *cfg->sub;
	sub.subscribe = CHANNEL;
	sub.message_cb = fshare_message_cb;
	if (rconn_open(&fs->sub, loop, &sub, NULL, fs) != 0) {
		htab_fini(&fs->leases);
		free(fs);
		return -1;
	}
	gethostname(host, sizeof(host) - 1);
	/* an owner is one process's life: a restarted one does not renew the dead one's leases */
	snprintf(fs->owner, sizeof(fs->owner), "%s:%d:%08x", host, (int)getpid(), (unsigned)rand());
	fs->loop = loop;
	fs->cmd = cmd;
	fs->cfg = *cfg;
	snprintf(fs->lease_ms, sizeof(fs->lease_ms), "%" PRIu64, cfg->lease_ms);
	uv_timer_init(loop, &fs->flush_timer);
	uv_timer_init(loop, &fs->renew_timer);
	fs->flush_timer.data = fs->renew_timer.data = fs;
	fs->open_handles = 2;
	uv_timer_start(&fs->renew_timer, renew_timer_cb, cfg->lease_ms / 3, cfg->lease_ms / 3);
	*out = fs;
	return 0;
}

static void fshare_closed_cb(uv_handle_t *h)
{
	fshare *fs = h->data;

	if (--fs->open_handles > 0)
		return;
	for (size_t b = 0; b < fs->leases.nbuckets; b++)
		for (htab_node *n = fs->leases.buckets[b], *next; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	htab_fini(&fs->leases);
	free(fs->pend);
	free(fs);
}

void fshare_close(fshare *fs)
{
	if (uv_is_active((uv_handle_t *)&fs->flush_timer))
		flush_timer_cb(&fs->flush_timer); /* the last answers, while the connection lasts */
	rconn_close(fs->sub);
	uv_close((uv_handle_t *)&fs->flush_timer, fshare_closed_cb);
	uv_close((uv_handle_t *)&fs->renew_timer, fshare_closed_cb);
}

void fshare_get_counters(const fshare *fs, fshare_counters *out)
{
	*out = fs->c;
	out->leases = fs->leases.count;
}
