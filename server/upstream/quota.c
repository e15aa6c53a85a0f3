/* quota.c: telling an upstream per-second limit from an exhausted quota. */
#include "quota.h"

#define MIN_HITS 3

void quota_init(quota *q, uint64_t confirm_ms, uint64_t pause_ms)
{
	*q = (quota){.confirm_ns = confirm_ms * 1000000,
	             .pause_ns = pause_ms * 1000000,
	             .min_hits = MIN_HITS};
}

bool quota_seen(quota *q, uint64_t now)
{
	if (quota_paused(q, now))
		return false; /* a late answer to a request sent before the pause */
	if (q->first_ns == 0)
		q->first_ns = now;
	q->hits++;
	if (!q->probation && (q->hits < q->min_hits || now - q->first_ns < q->confirm_ns))
		return false;
	q->paused_until_ns = now + q->pause_ns;
	q->probation = true;
	q->first_ns = 0;
	q->hits = 0;
	q->pauses++;
	return true;
}

void quota_ok(quota *q)
{
	q->first_ns = 0;
	q->hits = 0;
	q->probation = false;
	q->paused_until_ns = 0;
}

bool quota_paused(const quota *q, uint64_t now)
{
	return q->paused_until_ns != 0 && now < q->paused_until_ns;
}
