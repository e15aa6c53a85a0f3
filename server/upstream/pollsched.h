/* pollsched.h: when to send a job's polls — the first learned from the jobs before it, then steps
 * that grow. Pure arithmetic on times the caller passes in: job.c and the tests run the same code.
 */
#ifndef CB_POLLSCHED_H
#define CB_POLLSCHED_H

/*
 * What the schedule knows about jobs of one size. All times are ms after the
 * submit was sent. Zero-initialised means nothing seen yet. Plain values, no
 * memory owned.
 */
typedef struct pollsched {
	double aim;    /* when to send the first poll; 0: unknown */
	double floor;  /* the last pending poll's time, sinking while polls hit; 0: none */
	unsigned hits; /* jobs done at their first poll since the last miss */
} pollsched;

/*
 * Learns from one finished job that needed polls: pend_ms is the send time of
 * its last poll that found it pending (0 when the first poll found it done),
 * done_ms the send time of the poll that found it done.
 */
void pollsched_learn(pollsched *p, double pend_ms, double done_ms);

#include <stdint.h>

#define POLL_FIRST_DEFAULT_MS 200 /* before any job of this size was seen */
#define POLL_STEP_DEFAULT_MS  50
#define POLL_STEP_MIN_MS      20

/*
 * The delay of a job's first poll, spent_ms after its submit was sent (the
 * time the submit's answer took), and the step after it (*step_ms).
 */
uint64_t pollsched_first_delay(const pollsched *p, double spent_ms, uint64_t *step_ms);

/*
 * The delay of the next poll after one that found the job pending and was
 * sent since_ms ago: one step, capped at poll_max_ms, counted from that send.
 * The step grows by half for the poll after.
 */
uint64_t pollsched_next_delay(uint64_t *step_ms, uint64_t poll_max_ms, uint64_t since_ms);

#endif
