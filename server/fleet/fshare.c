/* fshare.c: answers and leases per item in Redis, results on a channel (fshare.h). */
#include "fshare.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flease.h"
#include "fmsg.h"
#include "log.h"
#include "rowbytes.h"

#define CHANNEL     "cellbatch:results"
#define VALUE_PFX   "cellbatch:v:"
#define LEASE_PFX   "cellbatch:l:"
#define PFX_LEN     12
#define STORE_CHUNK 200 /* items per EVAL: one script runs alone on Redis, keep it short */

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
	flease_set leases;
	pending *pend;
	size_t npend, cappend;
	uv_timer_t flush_timer, renew_timer;
	unsigned open_handles;
	fshare_counters c;
	fclaim_set claims;
};

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

static void ignore_cb(void *arg, const redisReply *r, const char *err)
{
	(void)arg, (void)r, (void)err; /* a lost one: the lease or the value expires by itself */
}

static void renew_timer_cb(uv_timer_t *t);

bool fshare_ready(const fshare *fs)
{
	return rconn_get_state(fs->cmd) == RCONN_READY;
}

int fshare_claim(fshare *fs, const char *key, size_t keylen, fshare_claim_cb cb, void *arg)
{
	return fclaim_claim(&fs->claims, key, keylen, cb, arg);
}

/* ------------------------------------------------------------ answers stored and published */

/* One EVAL for pend[0..n): values kept, leases given up, the message published. */
static void store_chunk(fshare *fs, const pending *pend, size_t n)
{
	size_t argc = 7 + 4 * n, k = 0;
	const char **argv = calloc(argc, sizeof(*argv));
	size_t *lens = calloc(argc, sizeof(*lens));
	char **keys = calloc(2 * n, sizeof(*keys)), nbuf[24], (*ttl)[24] = calloc(n, 24),
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
		if ((keys[i] = flease_key(i < n ? VALUE_PFX : LEASE_PFX, p->key, p->keylen)) ==
		    NULL)
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

	flease_drop(&fs->leases, key, keylen);
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

void fshare_flush(fshare *fs)
{
	if (uv_is_active((uv_handle_t *)&fs->flush_timer)) {
		uv_timer_stop(&fs->flush_timer);
		flush_timer_cb(&fs->flush_timer);
	}
}

void fshare_release(fshare *fs, const char *key, size_t keylen)
{
	if (htab_find(&fs->leases.held, key, keylen) != NULL)
		fshare_store(fs, key, keylen, NULL, 0);
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

	if (fs == NULL)
		return -1;
	sub = *cfg->sub;
	sub.subscribe = CHANNEL;
	sub.message_cb = fshare_message_cb;
	if (flease_init(&fs->leases, cmd, fs->owner, fs->lease_ms, LEASE_PFX) != 0 ||
	    rconn_open(&fs->sub, loop, &sub, NULL, fs) != 0) {
		htab_fini(&fs->leases.held);
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
	fs->open_handles = 3;
	fclaim_init(&fs->claims, loop, cmd, &fs->leases, fs->owner, fs->lease_ms, VALUE_PFX,
	            LEASE_PFX, cfg->now_ms);
	uv_timer_start(&fs->renew_timer, renew_timer_cb, cfg->lease_ms / 3, cfg->lease_ms / 3);
	*out = fs;
	return 0;
}

static void fshare_closed_cb(uv_handle_t *h)
{
	fshare *fs = h->data;

	if (--fs->open_handles > 0)
		return;
	flease_fini(&fs->leases);
	free(fs->pend);
	free(fs);
}

static void renew_timer_cb(uv_timer_t *t)
{
	fshare *fs = t->data;

	flease_renew(&fs->leases);
}

void fshare_close(fshare *fs)
{
	fclaim_close(&fs->claims, fshare_closed_cb, fs);
	fshare_flush(fs); /* the last answers, while the connection lasts */
	rconn_close(fs->sub);
	uv_close((uv_handle_t *)&fs->flush_timer, fshare_closed_cb);
	uv_close((uv_handle_t *)&fs->renew_timer, fshare_closed_cb);
}

const char *fshare_owner(const fshare *fs)
{
	return fs->owner;
}

void fshare_get_counters(const fshare *fs, fshare_counters *out)
{
	*out = fs->c;
	out->claims = fs->claims.c.claims;
	out->values = fs->claims.c.values;
	out->held = fs->claims.c.held;
	out->mine = fs->claims.c.mine;
	out->failed = fs->claims.c.failed;
	out->corrupt += fs->claims.c.corrupt;
	out->leases = fs->leases.held.count;
}
