/* flimit.c: the fleet's rate limiter — GCRA per API key in a Lua script on Redis's TIME. */
#include "flimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"

struct flimit {
	rconn *rc;
	char key[80];       /* cellbatch:gcra:<hash of the API key> */
	char slow_key[90];  /* the same, :slow */
	char interval[24];  /* T in microseconds, as the script reads it */
	char tolerance[24]; /* tau in microseconds */
	uint64_t granted, waits, errors;
};

/* One ask in flight. */
typedef struct flimit_ask {
	flimit *fl;
	flimit_done_cb done;
	void *arg;
} flimit_ask;

/*
 * KEYS[1] holds the theoretical arrival time (TAT, microseconds of Redis's
 * clock) with a TTL just past it, so that an idle key goes away. KEYS[2] is
 * the fleet's slow-down after 429s, as dispatch/ratelimit.c's for one
 * instance: f (T's factor, 1 to 16), s (when it last grew), c (no burst
 * until then). ARGV: T, tau, the mode, and its number. take: 0 and TAT moves
 * on when the request conforms, else how many microseconds until it would;
 * each grant takes a tenth of the rate back. sent: TAT at least one interval
 * after now. push: TAT at least ARGV[4] after now. slow: a 429 to a request
 * written ARGV[4] ago — the first to a burst ends the burst, a later one
 * doubles T (one signal per slow-down), and the next request waits an
 * interval. Numbers are formatted with %d: Lua's tostring loses digits
 * past 14.
 */
static const char script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local T, tau, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local st = redis.call('HMGET', KEYS[2], 'f', 's', 'c')\n"
    "local f, slowed, calm = tonumber(st[1]) or 1, tonumber(st[2]) or 0, tonumber(st[3]) or 0\n"
    "local function keep(v)\n"
    "  redis.call('SET', KEYS[1], string.format('%d', v), 'PX',\n"
    "             string.format('%d', math.floor((v - now) / 1000) + 1000))\n"
    "end\n"
    "local function later(v) if v > tat then keep(v) end end\n"
    "if mode == 'push' then later(now + tonumber(ARGV[4])) return 0 end\n"
    "if mode == 'sent' then later(now + T * f) return 0 end\n"
    "if mode == 'slow' then\n"
    "  local bursting = now >= calm and tau > 0\n"
    "  calm = now + 60000000\n"
    "  if now - tonumber(ARGV[4]) >= slowed then\n"
    "    slowed = now\n"
    "    if not bursting then f = math.min(f * 2, 16) end\n"
    "    later(now + T * f)\n"
    "  end\n"
    "  redis.call('HSET', KEYS[2], 'f', tostring(f), 's', string.format('%d', slowed),\n"
    "             'c', string.format('%d', calm))\n"
    "  redis.call('PEXPIRE', KEYS[2], 3600000)\n"
    "  return 0\n"
    "end\n"
    "if now < calm then tau = 0 end\n"
    "if now < tat - tau then return tat - tau - now end\n"
    "keep(math.max(tat, now) + T * f)\n"
    "if f > 1 then\n"
    "  f = 1 / (1 / f + 0.1)\n"
    "  redis.call('HSET', KEYS[2], 'f', tostring(f < 1.001 and 1 or f))\n"
    "end\n"
    "return 0\n";

/* The key's name: the first 128 bits of SHA-256 over a label and the API key. */
static int key_name(char *out, size_t outlen, const char *api_key)
{
	static const char label[] = "cellbatch fleet rate limit\n";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rv = -1;
	size_t n;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, label, sizeof(label) - 1) != 1 ||
	    EVP_DigestUpdate(ctx, api_key, strlen(api_key)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen < 16)
		goto out;
	n = (size_t)snprintf(out, outlen, "cellbatch:gcra:");
	for (unsigned i = 0; i < 16 && n + 3 <= outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%02x", md[i]);
	rv = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rv;
}

int flimit_open(flimit **out, rconn *rc, const char *api_key, uint64_t interval_ns,
                uint64_t tolerance_ns)
{
	flimit *fl = calloc(1, sizeof(*fl));

	if (fl == NULL || key_name(fl->key, sizeof(fl->key), api_key ? api_key : "") != 0) {
		free(fl);
		return -1;
	}
	fl->rc = rc;
	snprintf(fl->slow_key, sizeof(fl->slow_key), "%s:slow", fl->key);
	snprintf(fl->interval, sizeof(fl->interval), "%" PRIu64, (interval_ns + 999) / 1000);
	snprintf(fl->tolerance, sizeof(fl->tolerance), "%" PRIu64, tolerance_ns / 1000);
	*out = fl;
	return 0;
}

void flimit_close(flimit *fl)
{
	free(fl);
}

void flimit_set_conn(flimit *fl, rconn *rc)
{
	fl->rc = rc;
}

/* mode and its number (push's span, slow's age, in microseconds; NULL for take and sent). */
static int flimit_eval(flimit *fl, const char *mode, const char *num, rconn_reply_cb cb, void *arg)
{
	const char *argv[] = {"EVAL",       script,        "2",  fl->key, fl->slow_key,
	                      fl->interval, fl->tolerance, mode, num};

	return rconn_command(fl->rc, cb, arg, num ? 9 : 8, argv, NULL);
}

static void flimit_take_cb(void *arg, const redisReply *r, const char *err)
{
	flimit_ask *a = arg;
	flimit *fl = a->fl;
	int64_t wait = -1;

	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
		wait = r->integer * 1000;
		*(wait == 0 ? &fl->granted : &fl->waits) += 1;
	} else {
		fl->errors++;
		log_warn("redis: the fleet's rate limit did not answer: %s",
		         r != NULL && r->type == REDIS_REPLY_ERROR ? r->str
		         : err                                     ? err
		                                                   : "?");
	}
	a->done(a->arg, wait);
	free(a);
}

int flimit_take(void *ctx, flimit_done_cb done, void *arg)
{
	flimit *fl = ctx;
	flimit_ask *a = malloc(sizeof(*a));

	if (a == NULL)
		return -1;
	*a = (flimit_ask){fl, done, arg};
	if (flimit_eval(fl, "take", NULL, flimit_take_cb, a) != 0) {
		free(a);
		return -1;
	}
	return 0;
}

static void flimit_push_cb(void *arg, const redisReply *r, const char *err)
{
	(void)arg;
	(void)r;
	(void)err; /* a lost one only leaves the next request spaced from its grant */
}

void flimit_sent(void *ctx)
{
	flimit_eval(ctx, "sent", NULL, flimit_push_cb, NULL);
}

void flimit_slow(void *ctx, uint64_t age_ns)
{
	char age[24];

	snprintf(age, sizeof(age), "%" PRIu64, age_ns / 1000);
	flimit_eval(ctx, "slow", age, flimit_push_cb, NULL);
}

void flimit_rejoin(flimit *fl, uint64_t quiet_ns)
{
	char span[24];

	snprintf(span, sizeof(span), "%" PRIu64, quiet_ns / 1000);
	if (flimit_eval(fl, "push", span, flimit_push_cb, NULL) != 0)
		log_warn(
		    "redis: cannot hold the fleet's requests back while this instance rejoins");
}

uint64_t flimit_granted(const flimit *fl)
{
	return fl->granted;
}

uint64_t flimit_waits(const flimit *fl)
{
	return fl->waits;
}

uint64_t flimit_errors(const flimit *fl)
{
	return fl->errors;
}
