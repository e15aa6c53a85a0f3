/* pollsched.c: when to send a job's polls — the first learned from the jobs before it, then steps
 * that grow. */
#include "pollsched.h"

/*
 * A poll that finds the job pending costs one retry step (20 ms or 5% of the
 * job time, counted from its send) and one more rate-limited request; one sent
 * a little late costs only the difference. The job time lies between the last
 * pending poll and the done one. After a miss the aim is halfway up that
 * bracket; each job done at its first poll halves the gap to the pending
 * poll, but the aim stays 1.5% above it, so it settles just above the job time
 * and probes below it now and then. The pending poll's time sinks by 0.02%
 * times the hits since the last miss, so a much faster upstream is found too.
 * Before any miss the aim comes down 3% a job. The constants won a simulation
 * of upstreams whose job times jitter by 0-5 ms (bench/pollsim): the done
 * poll goes out 3-10 ms after the job is done where the rule before (three
 * quarters up, 10% down, steps from the pending poll's answer) took 14-23 ms,
 * for at most 1.09 polls per job instead of 1.06.
 */
#define AFTER_MISS 0.5
#define HIT_STEP   0.97
#define GAP_STEP   0.5
#define MARGIN     0.015
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
		if (p->aim < p->floor * (1 + MARGIN))
			p->aim = p->floor * (1 + MARGIN);
	}
}

uint64_t pollsched_first_delay(const pollsched *p, double spent_ms, uint64_t *step_ms)
{
	double d = (p->aim > 0 ? p->aim : POLL_FIRST_DEFAULT_MS) - spent_ms;

	/*
	 * With an estimate, a miss costs one small step (5%, at least 20 ms), not a
	 * whole period. Smaller steps (2%, 5 ms) made jobs of a 10,000-cell burst,
	 * whose times jitter more than that, take 18 polls for 10.
	 */
	*step_ms = (uint64_t)(p->aim > 0 ? p->aim / 20 : POLL_STEP_DEFAULT_MS);
	if (*step_ms < POLL_STEP_MIN_MS)
		*step_ms = POLL_STEP_MIN_MS;
	return d > 1 ? (uint64_t)d : 1;
}

/*
 * Steps count from the pending poll's send, not from its answer: a first poll
 * that came a little early then costs one step (20 ms) instead of a step plus
 * a round trip, which lets the schedule aim closer.
 */
uint64_t pollsched_next_delay(uint64_t *step_ms, uint64_t poll_max_ms, uint64_t since_ms)
{
	uint64_t d = *step_ms < poll_max_ms ? *step_ms : poll_max_ms;
	uint64_t next = *step_ms * 3 / 2;

	*step_ms = next < poll_max_ms ? next : poll_max_ms;
	return d > since_ms ? d - since_ms : 1;
}
