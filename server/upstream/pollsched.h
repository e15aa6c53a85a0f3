/* pollsched.h: when to send a job's first poll, learned from the jobs before it. */
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

#endif
