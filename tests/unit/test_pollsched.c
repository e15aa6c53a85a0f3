/* test_pollsched.c: the first-poll schedule against an upstream whose jobs take a known time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "pollsched.h"

#define POLL_MAX_MS 5000 /* --poll-max's default */

/*
 * A job taking job_ms, polled by the server's own schedule (pollsched.c):
 * the first poll when pollsched_first_delay says, each next one when
 * pollsched_next_delay says, counted from the pending poll's send (the
 * simulated upstream answers at once, and the submit too). step_ms is the
 * step the caller expects; the schedule's own is used. Returns the polls it
 * took; adds how late the done poll came to *late.
 */
static int run_job(pollsched *p, double job_ms, double step_ms, double *late)
{
	uint64_t step;
	double t = (double)pollsched_first_delay(p, 0, &step), pend = 0;
	int polls = 1;

	(void)step_ms;
	while (t < job_ms) {
		pend = t;
		t += (double)pollsched_next_delay(&step, POLL_MAX_MS, 0);
		polls++;
	}
	pollsched_learn(p, pend, t);
	if (late != NULL)
		*late += t - job_ms;
	return polls;
}

static void first_job_sets_the_aim(void **state)
{
	pollsched p = {0};
	(void)state;
	pollsched_learn(&p, 0, 250);
	assert_float_equal(p.aim, 250, 1e-9);
	assert_float_equal(p.floor, 0, 1e-9);
}

static void a_miss_aims_halfway_toward_the_done_poll(void **state)
{
	pollsched p = {.aim = 280, .floor = 0};
	(void)state;
	pollsched_learn(&p, 280, 320);
	assert_float_equal(p.aim, 300, 1e-9);
	assert_float_equal(p.floor, 280, 1e-9);
}

static void hits_before_any_miss_come_down_3_percent(void **state)
{
	pollsched p = {0};
	(void)state;
	pollsched_learn(&p, 0, 400);
	pollsched_learn(&p, 0, 400);
	assert_float_equal(p.aim, 388, 1e-9);
}

static void after_a_miss_hits_halve_the_gap_to_the_pending_poll(void **state)
{
	pollsched p = {0};
	double last_floor_ratio = 1;
	(void)state;
	pollsched_learn(&p, 300, 340); /* aim 320 */
	for (int i = 0; i < 40; i++) {
		double aim = p.aim, floor = p.floor;
		pollsched_learn(&p, 0, p.aim);
		assert_true(p.aim < aim);
		/* never closer than 1.5% to the pending poll */
		assert_true(p.aim >= p.floor * 1.015 - 1e-9);
		/* the pending poll's time sinks ever faster while the hits go on */
		assert_true(p.floor / floor < last_floor_ratio);
		last_floor_ratio = p.floor / floor;
	}
	assert_int_equal(p.hits, 40);
	assert_float_equal(p.aim, p.floor * 1.015, 1e-9);
	pollsched_learn(&p, 250, 270); /* a miss starts over from the new bracket */
	assert_int_equal(p.hits, 0);
	assert_float_equal(p.aim, 260, 1e-9);
	pollsched_learn(&p, 0, 260);
	assert_float_equal(p.aim, 260 - 0.5 * (260 - 250 * (1 - 0.0002)), 1e-9);
}

/*
 * A steady upstream: after a few jobs nearly every job needs one poll, sent on
 * average within 2% of the job time.
 */
static void converges_on_a_steady_upstream(void **state)
{
	pollsched p = {0};
	int polls = 0;
	double late = 0;
	(void)state;
	for (int i = 0; i < 10; i++)
		run_job(&p, 303, 20, NULL);
	for (int i = 0; i < 30; i++)
		polls += run_job(&p, 303, 20, &late);
	fprintf(stderr, "steady: %d polls, %.1f ms late on average\n", polls, late / 30);
	assert_true(polls <= 33); /* a probing poll now and then */
	assert_true(late / 30 <= 0.02 * 303);
}

/* Jobs get twice as fast: the aim follows within some tens of jobs instead of staying where it was.
 */
static void follows_a_faster_upstream(void **state)
{
	pollsched p = {0};
	double late = 0;
	(void)state;
	for (int i = 0; i < 20; i++)
		run_job(&p, 600, 30, NULL);
	for (int i = 0; i < 100; i++)
		run_job(&p, 300, 20, NULL);
	for (int i = 0; i < 20; i++)
		run_job(&p, 300, 20, &late);
	fprintf(stderr, "faster: %.1f ms late on average\n", late / 20);
	assert_true(late / 20 <= 0.05 * 300);
}

/* Jobs get slower: each miss moves the aim up to the new time at once. */
static void follows_a_slower_upstream(void **state)
{
	pollsched p = {0};
	int polls = 0;
	double late = 0;
	(void)state;
	for (int i = 0; i < 20; i++)
		run_job(&p, 300, 20, NULL);
	for (int i = 0; i < 5; i++)
		polls += run_job(&p, 500, 25, NULL);
	for (int i = 0; i < 10; i++)
		polls += run_job(&p, 500, 25, &late);
	fprintf(stderr, "slower: %d polls, %.1f ms late on average\n", polls, late / 10);
	assert_true(polls <= 15 + 12); /* the misses are in the first jobs after the change */
	assert_true(late / 10 <= 0.05 * 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(first_job_sets_the_aim),
	    cmocka_unit_test(a_miss_aims_halfway_toward_the_done_poll),
	    cmocka_unit_test(hits_before_any_miss_come_down_3_percent),
	    cmocka_unit_test(after_a_miss_hits_halve_the_gap_to_the_pending_poll),
	    cmocka_unit_test(converges_on_a_steady_upstream),
	    cmocka_unit_test(follows_a_faster_upstream),
	    cmocka_unit_test(follows_a_slower_upstream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
