/* pollsched.c: when to send a job's first poll, learned from the jobs before it. */
#include "pollsched.h"

/*
 * A poll that finds the job pending costs a whole round trip and one more
 * (rate-limited, counted) request; one sent a little late costs only the
 * difference. The job time lies between the last pending poll and the done
 * one, a bracket at least one poll round trip wide. After a miss the aim is
 * three quarters of the way up the bracket (the middle missed about every
 * other time, bench (b)); each job done at its first poll brings it 10% of
 * the way down to the pending poll, so it settles a little above the job
 * time and probes below it about every 8th job. The pending poll's time sinks
 * by 0.02% times the hits since the last miss, so a much faster upstream is
 * found too. Before any miss the aim comes down 3% a job.
 */
#define AFTER_MISS 0.75
#define HIT_STEP   0.97
#define GAP_STEP   0.10
#define FLOOR_SINK 0.0002

void pollsched_learn(pollsched *p, double pend_ms, double done_ms)
{
	if (pend_ms > 0) {
		p->hits = 0;
		p->floor = pend_ms;
		p->aim = pend_ms + AFTER_MISS * (done_ms - pend_ms);
	} else if (p->aim == 0) {
		p->aim = done_ms;
	} else if (p->floor == 0) {
		p->aim *= HIT_STEP;
	} else {
		p->hits++;
		p->floor *= 1 - (p->hits < 1000 ? p->hits : 1000) * FLOOR_SINK;
		p->aim -= GAP_STEP * (p->aim - p->floor);
	}
}
