/* gcra.c: the arithmetic of the rate limiter (GCRA, "virtual scheduling"), on a clock the caller
 * passes in, so that it is tested without waiting. */
#include "gcra.h"

/*
 * A request at time t conforms when t >= TAT - tau, and then moves TAT to
 * max(TAT, t) + T, with T = 1/rate and tau = (burst - 1) * T.
 *
 * T is 2% longer than 1/rate: requests spaced exactly 1/rate apart put
 * rate + 1 of them into one closed second, and the upstream counts arrivals,
 * which network and scheduling jitter move by milliseconds (seen: 6 in one
 * second at --rate 5 --burst 1 under ASan). 2% tolerates 20 ms of jitter at 5/s.
 */
#define RATE_MARGIN 1.02

void gcra_set(gcra *g, double rate, uint64_t burst)
{
	g->interval_ns = (uint64_t)(1e9 * RATE_MARGIN / rate);
	g->tolerance_ns = (burst - 1) * g->interval_ns;
}

void gcra_init(gcra *g, double rate, uint64_t burst)
{
	gcra_set(g, rate, burst);
	g->tat_ns = 0;
}

static uint64_t due(const gcra *g)
{
	return g->tat_ns > g->tolerance_ns ? g->tat_ns - g->tolerance_ns : 0;
}

uint64_t gcra_take(gcra *g, uint64_t now)
{
	if (now < due(g))
		return due(g) - now;
	g->tat_ns = (g->tat_ns > now ? g->tat_ns : now) + g->interval_ns;
	return 0;
}

bool gcra_would_wait(const gcra *g, uint64_t now)
{
	return now < due(g);
}

void gcra_restart(gcra *g, uint64_t now)
{
	g->tat_ns = now + g->interval_ns;
}

void gcra_sent(gcra *g, uint64_t now)
{
	if (now + g->interval_ns > g->tat_ns)
		g->tat_ns = now + g->interval_ns;
}
