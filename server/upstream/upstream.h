/* upstream.h: what every upstream job shares — its settings, the HTTP client, the rate limiter,
 * the cache it writes results to, the learned poll schedule, the counters, and the completion
 * hooks that carry results up. */
#ifndef CB_UPSTREAM_H
#define CB_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "answer.h"
#include "clock.h"
#include "http.h"
#include "list.h"
#include "pollsched.h"
#include "quota.h"
#include "ratelimit.h"
#include "stats.h"

struct cache;
struct journal;
struct job;
struct job_item;

typedef struct upstream_config {
	const char *url;         /* base URL, no trailing slash */
	const char *api_key;     /* borrowed; never logged */
	const char *quota_match; /* a 429 whose message contains this: QUOTA_EXCEEDED */
	uint64_t http_timeout_ms, job_timeout_ms, poll_max_ms;
	uint64_t retries; /* per request, for transient failures (429s are not counted) */
	uint64_t retry_after_max_ms;               /* a longer Retry-After is cut to this */
	uint64_t quota_confirm_ms, quota_pause_ms; /* quota.h */
} upstream_config;

/*
 * Completions going up, wired by main.c. Both run on the loop thread, inline
 * from the job's own completion (an HTTP answer, a timer, job_fail()).
 */
typedef struct upstream_hooks {
	/* item it of job j has its answer a (borrowed: take a reference to keep it) */
	void (*item_done)(void *arg, struct job *j, struct job_item *it, answer *a);
	/* j is DONE or FAILED and every item has its answer; the owner may job_close() it now */
	void (*ended)(void *arg, struct job *j);
	/* j waits to retry: its job slot is free for others meanwhile */
	void (*retry_wait)(void *arg, struct job *j);
	/* j may retry now: the owner calls job_retry(j) once it holds a slot again (maybe inline)
	 */
	void (*retry_ready)(void *arg, struct job *j);
	/* whether anyone still wants j's results: a caller waits, or the cache database keeps them
	 */
	bool (*wanted)(void *arg, struct job *j);
	void *arg;
} upstream_hooks;

/* Upstream requests by kind, and answers by HTTP status (slot 0: none came: a transport error). */
typedef enum upstream_kind { UPSTREAM_SUBMIT, UPSTREAM_POLL, UPSTREAM_KINDS } upstream_kind;
#define UPSTREAM_STATUS_SLOTS 600

typedef struct upstream_counters {
	uint64_t batches_sent, batch_items;
	uint64_t batches_by_fn[CB_FN_COUNT];
	uint64_t size_hist[SIZE_BUCKETS];
	uint64_t submits, polls, http_errors, retries, resubmits;
	uint64_t items_submitted; /* items of every submit sent, resubmits too: what is billed */
	uint64_t rate_limited;    /* 429 answers */
	uint64_t dropped;         /* jobs not submitted again: nobody wanted them (hooks.wanted) */
	lathist job;              /* submit to results */
	lathist rl_wait;          /* a request's wait for the rate limiter */
	uint64_t answers[UPSTREAM_KINDS][UPSTREAM_STATUS_SLOTS];
	/* the latest answers, for readiness: the last status, and since when none was 200/202 */
	unsigned last_status; /* a slot of answers */
	uint64_t last_answer_ns, last_good_ns, bad_since_ns;
} upstream_counters;

typedef struct upstream {
	upstream_config cfg;
	http *http;              /* borrowed */
	ratelimit *rl;           /* borrowed */
	struct cache *cache;     /* borrowed; NULL: results are not kept */
	struct journal *journal; /* borrowed; NULL: jobs in flight are not kept */
	struct fjob *fjob;       /* borrowed; NULL: no fleet keeps them in Redis (--redis) */
	upstream_hooks hooks;
	pollsched poll_sched[SIZE_BUCKETS]; /* per power-of-two batch size */
	quota quota;
	list_node
	    quota_waiters; /* jobs retrying after a quota answer, failed once it is confirmed */
	upstream_counters c;
} upstream;

/* Initialises u; it borrows h, rl, c and jn (both may be NULL), which must outlive every job. */
static inline void upstream_init(upstream *u, const upstream_config *cfg, http *h, ratelimit *rl,
                                 struct cache *c, struct journal *jn, const upstream_hooks *hooks)
{
	*u = (upstream){
	    .cfg = *cfg, .http = h, .rl = rl, .cache = c, .journal = jn, .hooks = *hooks};
	quota_init(&u->quota, cfg->quota_confirm_ms, cfg->quota_pause_ms);
	list_init(&u->quota_waiters);
}

/*
 * Whether the quota is taken as exhausted now (quota.h): new calls that the
 * cache cannot answer are refused rather than batched.
 */
static inline bool upstream_quota_paused(const upstream *u)
{
	return quota_paused(&u->quota, now_ns());
}

/*
 * One upstream request ended with status (0: no HTTP answer) at now. A 429
 * or another 4xx than 401/403 is an answer, not a sign of trouble: the
 * limiter and the job deal with those. Loop thread.
 */
static inline void upstream_count_answer(upstream *u, bool submit, long status, uint64_t now)
{
	upstream_counters *c = &u->c;
	unsigned slot = status > 0 && status < UPSTREAM_STATUS_SLOTS ? (unsigned)status : 0;

	c->answers[submit ? UPSTREAM_SUBMIT : UPSTREAM_POLL][slot]++;
	c->last_status = slot;
	c->last_answer_ns = now;
	if (slot == 200 || slot == 202) {
		c->last_good_ns = now;
		c->bad_since_ns = 0;
	} else if ((slot == 0 || slot == 401 || slot == 403 || slot >= 500) &&
	           c->bad_since_ns == 0) {
		c->bad_since_ns = now;
	}
}

/* For stats: a copy of the counters. */
static inline void upstream_get_counters(const upstream *u, upstream_counters *out)
{
	*out = u->c;
}

#endif
