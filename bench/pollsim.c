/* pollsim.c: the first-poll schedule (server/upstream/pollsched.c) against simulated upstreams
 * whose job times jitter; prints a Markdown table of how late the done poll comes and how many
 * polls a job takes. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pollsched.h"

/*
 * Polls through the server's own code (pollsched_first_delay and
 * pollsched_next_delay, as server/upstream/job.c calls them). The upstream
 * answers after LATENCY_MS, and a poll sent at t finds the job done when
 * t >= the job's time (the time is taken at the poll's send, so the round
 * trip needs no term of its own).
 */
#define LATENCY_MS  20.0
#define SEEDS       300
#define JOB_MS      302.0 /* bench (b): pending 300 ms, as the server sees it from its submit */
#define POLL_MAX_MS 5000  /* --poll-max's default */

typedef void (*learn_fn)(pollsched *p, double pend_ms, double done_ms);

/*
 * The rule before 2026-11-21, kept here only to print its numbers beside the
 * current one: after a miss three quarters up the bracket, each hit 10% of
 * the gap down, and retry steps counted from the pending poll's answer.
 */
static void learn_before(pollsched *p, double pend_ms, double done_ms)
{
	if (pend_ms > 0) {
		p->hits = 0;
		p->floor = pend_ms;
		p->aim = pend_ms + 0.75 * (done_ms - pend_ms);
	} else if (p->aim == 0) {
		p->aim = done_ms;
	} else if (p->floor == 0) {
		p->aim *= 0.97;
	} else {
		p->hits++;
		p->floor *= 1 - (p->hits < 1000 ? p->hits : 1000) * 0.0002;
		p->aim -= 0.10 * (p->aim - p->floor);
	}
}

static uint64_t rng;

static double uniform(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static double gauss(double sigma)
{
	double u = uniform(), v = uniform();
	if (u < 1e-300)
		u = 1e-300;
	return sigma * sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/*
 * One job taking job_ms, polled by the server's own schedule code; returns
 * its polls and sets *late to how long after job_ms the done poll went out.
 * Each answer arrives LATENCY_MS after its poll's send; with step_from_answer
 * (the rule before) the step counts from that answer instead of the send.
 */
static int run_job(pollsched *p, learn_fn learn, bool step_from_answer, double job_ms, double *late)
{
	uint64_t step;
	double t = (double)pollsched_first_delay(p, 0, &step), pend = 0;
	int polls = 1;

	while (t < job_ms) {
		uint64_t since = step_from_answer ? 0 : (uint64_t)LATENCY_MS;
		pend = t;
		t += LATENCY_MS + (double)pollsched_next_delay(&step, POLL_MAX_MS, since);
		polls++;
	}
	learn(p, pend, t);
	*late = t - job_ms;
	return polls;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* warm jobs, then measured ones, SEEDS times over; prints one table row */
static void row(const char *rule, learn_fn learn, bool from_answer, double sigma, int warm,
                int measured)
{
	size_t n = (size_t)SEEDS * (size_t)measured, k = 0;
	double *late = malloc(n * sizeof(*late)), sum = 0, l;
	long polls = 0;

	if (late == NULL)
		exit(1);
	for (int s = 0; s < SEEDS; s++) {
		pollsched p = {0};
		rng = 0x9e3779b97f4a7c15ull * (uint64_t)(s + 1);
		for (int i = 0; i < warm; i++)
			run_job(&p, learn, from_answer, JOB_MS + gauss(sigma), &l);
		for (int i = 0; i < measured; i++) {
			polls += run_job(&p, learn, from_answer, JOB_MS + gauss(sigma), &l);
			late[k++] = l;
			sum += l;
		}
	}
	qsort(late, n, sizeof(*late), cmp_double);
	printf("| %s | %.1f | %d + %d | %.1f | %.1f | %.1f | %.3f |\n", rule, sigma, warm, measured,
	       sum / (double)n, late[n * 90 / 100], late[n * 99 / 100], (double)polls / (double)n);
	free(late);
}

int main(void)
{
	static const double sigmas[] = {0, 0.5, 2, 5};

	printf("| rule | job time jitter σ ms | warm + measured jobs | late mean ms | late p90 ms "
	       "| late p99 ms | polls per job |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < sizeof(sigmas) / sizeof(sigmas[0]); i++) {
		for (int phase = 0; phase < 2; phase++) {
			int warm = phase == 0 ? 10 : 40, measured = phase == 0 ? 5 : 200;
			row("before", learn_before, true, sigmas[i], warm, measured);
			row("now", pollsched_learn, false, sigmas[i], warm, measured);
		}
	}
	return 0;
}
