/* fjob.c: the upstream jobs in flight, journalled in Redis (fjob.h). */
#include "fjob.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flease.h"
#include "jobbytes.h"
#include "log.h"

#define JOBS_KEY  "cellbatch:jobs" /* the set of journalled ids */
#define REC_PFX   "cellbatch:j:"   /* + id: the record (jobbytes_pack) */
#define OWN_PFX   "cellbatch:jo:"  /* + id: the owner's lease */
#define MARKS_PFX "cellbatch:jk:"  /* + id: the list of its items' marks */
#define ADOPT_MAX 4                /* jobs taken up per look: a dead instance's come over a few */

struct fjob {
	rconn *cmd;
	fshare *fs;
	fjob_config cfg;
	char lease_ms[24], max_age_ms[24];
	flease_set own; /* the jobs this instance polls */
	uv_timer_t timer;
	bool looking; /* a look for orphans in flight */
	bool closing;
	fjob_counters c;
};

/* KEYS: the set, the record, the lease, the marks' list, then the marks. ARGV: id, record, owner,
 * lease ms, max age ms. */
static const char keep_lua[] = "redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[5])\n"
                               "redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])\n"
                               "redis.call('SADD', KEYS[1], ARGV[1])\n"
                               "redis.call('DEL', KEYS[4])\n"
                               "for i = 5, #KEYS do\n"
                               "  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[5])\n"
                               "  redis.call('RPUSH', KEYS[4], KEYS[i])\n"
                               "end\n"
                               "redis.call('PEXPIRE', KEYS[4], ARGV[5])\n"
                               "return 0\n";

/* KEYS: the set, the record, the lease, the marks' list. ARGV: id. A mark another job set since
 * (the item went upstream again) stays. */
static const char forget_lua[] =
    "for _, k in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do\n"
    "  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end\n"
    "end\n"
    "redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])\n"
    "redis.call('SREM', KEYS[1], ARGV[1])\n"
    "return 0\n";

/* KEYS: the set. ARGV: owner, lease ms, max, record prefix, lease prefix. The ids and records of up
 * to max jobs whose lease had expired, now this owner's. The other keys are named by the ids in
 * the set, so this runs on one Redis (not a Cluster: docs/fleet.md). */
static const char adopt_lua[] =
    "local out = {}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  if #out >= 2 * tonumber(ARGV[3]) then break end\n"
    "  local rec = redis.call('GET', ARGV[4] .. id)\n"
    "  if not rec then redis.call('SREM', KEYS[1], id)\n"
    "  elseif redis.call('SET', ARGV[5] .. id, ARGV[1], 'NX', 'PX', ARGV[2]) then\n"
    "    out[#out + 1] = id\n"
    "    out[#out + 1] = rec\n"
    "  end\n"
    "end\n"
    "return out\n";

static void fjob_ignore_cb(void *arg, const redisReply *r, const char *err)
{
	(void)arg, (void)r,
	    (void)err; /* a record not kept: a dead owner's items are claimed again */
}

/* Sends script with the set, the id's record, lease and marks' list as its first four keys, then
 * nmore keys and nargs arguments (borrowed); -1 when it could not go. */
static int send_script(fjob *fj, const char *script, size_t slen, const char *id, size_t nmore,
                       char *const *more, const size_t *morelen, size_t nargs,
                       const char *const *args, const size_t *arglen)
{
	size_t argc = 7 + nmore + nargs, k = 0;
	const char **argv = calloc(argc, sizeof(*argv));
	size_t *lens = calloc(argc, sizeof(*lens));
	char *own[3] = {flease_key(REC_PFX, id, strlen(id)), flease_key(OWN_PFX, id, strlen(id)),
	                flease_key(MARKS_PFX, id, strlen(id))},
	     nkeys[24];
	int rv = -1;

	if (argv == NULL || lens == NULL || own[0] == NULL || own[1] == NULL || own[2] == NULL)
		goto out;
	snprintf(nkeys, sizeof(nkeys), "%zu", 4 + nmore);
	argv[k] = "EVAL", lens[k++] = 4;
	argv[k] = script, lens[k++] = slen;
	argv[k] = nkeys, lens[k++] = strlen(nkeys);
	argv[k] = JOBS_KEY, lens[k++] = strlen(JOBS_KEY);
	for (int i = 0; i < 3; i++)
		argv[k] = own[i], lens[k++] = strlen(own[i]);
	for (size_t i = 0; i < nmore; i++)
		argv[k] = more[i], lens[k++] = morelen[i];
	for (size_t i = 0; i < nargs; i++)
		argv[k] = args[i], lens[k++] = arglen[i];
	rv = rconn_command(fj->cmd, fjob_ignore_cb, NULL, (int)argc, argv, lens);
out:
	for (int i = 0; i < 3; i++)
		free(own[i]);
	free(lens), free(argv);
	return rv;
}

void fjob_keep(fjob *fj, const journal_job *j)
{
	size_t reclen = 0, *marklen;
	char **marks, *rec;
	uint32_t n = 0;

	if (fj == NULL || rconn_get_state(fj->cmd) != RCONN_READY)
		return;
	marklen = calloc(j->n, sizeof(*marklen));
	marks = calloc(j->n, sizeof(*marks));
	if ((rec = jobbytes_pack(j, &reclen)) == NULL || marks == NULL || marklen == NULL) {
		log_warn("fleet: job %s not journalled in Redis: out of memory", j->id);
		goto out;
	}
	for (; n < j->n; n++) {
		if ((marks[n] = flease_key(FCLAIM_JOB_PFX, j->items[n].key, j->items[n].keylen)) ==
		    NULL)
			goto out;
		marklen[n] = FCLAIM_JOB_PFX_LEN + j->items[n].keylen;
	}
	if (send_script(fj, keep_lua, sizeof(keep_lua) - 1, j->id, n, marks, marklen, 5,
	                (const char *[]){j->id, rec, fj->cfg.owner, fj->lease_ms, fj->max_age_ms},
	                (size_t[]){strlen(j->id), reclen, strlen(fj->cfg.owner),
	                           strlen(fj->lease_ms), strlen(fj->max_age_ms)}) == 0) {
		flease_hold(&fj->own, j->id, strlen(j->id));
		fj->c.kept++;
	}
out:
	for (uint32_t i = 0; marks != NULL && i < n; i++)
		free(marks[i]);
	free(marks), free(marklen), free(rec);
}

void fjob_forget(fjob *fj, const char *id)
{
	if (fj == NULL)
		return;
	flease_drop(&fj->own, id, strlen(id));
	/* the answers first: an item's mark must not go before its value is there */
	fshare_flush(fj->fs);
	if (send_script(fj, forget_lua, sizeof(forget_lua) - 1, id, 0, NULL, NULL, 1,
	                (const char *[]){id}, (size_t[]){strlen(id)}) == 0)
		fj->c.forgotten++;
}

/* One record the look found: taken up, or forgotten when it is damaged. */
static void adopt_one(fjob *fj, const redisReply *id, const redisReply *rec)
{
	jobbytes_view *v = malloc(sizeof(*v));
	char idz[64];

	if (id->type != REDIS_REPLY_STRING || id->len == 0 || id->len >= sizeof(idz) ||
	    rec->type != REDIS_REPLY_STRING || v == NULL) {
		free(v);
		return; /* not ours after all: the lease lapses and another looks */
	}
	memcpy(idz, id->str, id->len);
	idz[id->len] = '\0';
	if (!jobbytes_unpack(rec->str, rec->len, v) || strcmp(v->id, idz) != 0) {
		log_warn("fleet: the record of job %s in Redis is damaged: forgotten", idz);
		fj->c.damaged++;
		fjob_forget(fj, idz);
	} else if (fj->cfg.adopt(fj->cfg.arg, &v->j)) {
		log_info("fleet: took up job %s (%" PRIu32 " items) from an instance that stopped "
		         "renewing it",
		         idz, v->j.n);
		flease_hold(&fj->own, idz, strlen(idz));
		fj->c.adopted++;
	}
	jobbytes_view_fini(v);
	free(v);
}

static void look_cb(void *arg, const redisReply *r, const char *err)
{
	fjob *fj = arg;
	(void)err;

	fj->looking = false;
	if (fj->closing || r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		adopt_one(fj, r->element[i], r->element[i + 1]);
}

static void fjob_timer_cb(uv_timer_t *t)
{
	fjob *fj = t->data;
	char max[8];
	const char *argv[] = {"EVAL",       adopt_lua, "1",     JOBS_KEY, NULL,
	                      fj->lease_ms, max,       REC_PFX, OWN_PFX};
	size_t lens[9];

	flease_renew(&fj->own);
	if (fj->looking || rconn_get_state(fj->cmd) != RCONN_READY)
		return;
	snprintf(max, sizeof(max), "%d", ADOPT_MAX);
	argv[4] = fj->cfg.owner;
	for (size_t i = 0; i < 9; i++)
		lens[i] = strlen(argv[i]);
	fj->looking = rconn_command(fj->cmd, look_cb, fj, 9, argv, lens) == 0;
}

int fjob_open(fjob **out, uv_loop_t *loop, rconn *cmd, fshare *fs, const fjob_config *cfg)
{
	fjob *fj = calloc(1, sizeof(*fj));
	uint64_t every = cfg->lease_ms / 3 ? cfg->lease_ms / 3 : 1;

	if (fj == NULL)
		return -1;
	*fj = (fjob){.cmd = cmd, .fs = fs, .cfg = *cfg};
	snprintf(fj->lease_ms, sizeof(fj->lease_ms), "%" PRIu64, cfg->lease_ms);
	snprintf(fj->max_age_ms, sizeof(fj->max_age_ms), "%" PRIu64, cfg->max_age_ms);
	if (flease_init(&fj->own, cmd, fj->cfg.owner, fj->lease_ms, OWN_PFX) != 0) {
		free(fj);
		return -1;
	}
	uv_timer_init(loop, &fj->timer);
	fj->timer.data = fj;
	uv_timer_start(&fj->timer, fjob_timer_cb, every, every);
	*out = fj;
	return 0;
}

static void fjob_closed_cb(uv_handle_t *h)
{
	fjob *fj = h->data;

	flease_fini(&fj->own);
	free(fj);
}

void fjob_close(fjob *fj)
{
	fj->closing = true;
	uv_close((uv_handle_t *)&fj->timer, fjob_closed_cb);
}

void fjob_get_counters(const fjob *fj, fjob_counters *out)
{
	*out = fj->c;
}
