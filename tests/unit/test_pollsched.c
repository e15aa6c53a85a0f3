/* test_pollsched.c: the first-poll schedule against an upstream whose jobs take a known time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pollsched.h"

/*
 * A job taking job_ms, polled the way job.c polls: first at the aim (or at
 * 200 ms with no aim), then every step_ms until done. Returns the polls it took.
 */
static int run_job(pollsched *p, double job_ms, double step_ms)
{
	double t = p->aim > 0 ? p->aim : 200, pend = 0;
	int polls = 1;

	while (t < job_ms) {
		pend = t;
		t += step_ms;
		polls++;
	}
	pollsched_learn(p, pend, t);
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

static void a_miss_aims_three_quarters_toward_the_done_poll(void **state)
{
	pollsched p = {.aim = 280, .floor = 0};
	(void)state;
	pollsched_learn(&p, 280, 320);
	assert_float_equal(p.aim, 310, 1e-9);
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

static void after_a_miss_hits_close_the_gap_to_the_pending_poll(void **state)
{
	pollsched p = {0};
	double last_floor_ratio = 1;
	(void)state;
	pollsched_learn(&p, 300, 340); /* aim 330 */
	for (int i = 0; i < 40; i++) {
		double aim = p.aim, floor = p.floor;
		pollsched_learn(&p, 0, p.aim);
		assert_true(p.aim < aim && p.aim > p.floor);
		/* the pending poll's time sinks ever faster while the hits go on */
		assert_true(p.floor / floor < last_floor_ratio);
		last_floor_ratio = p.floor / floor;
	}
	assert_int_equal(p.hits, 40);
	pollsched_learn(&p, 250, 270); /* a miss starts over from the new bracket */
	assert_int_equal(p.hits, 0);
	assert_float_equal(p.aim, 265, 1e-9);
	pollsched_learn(&p, 0, 265);
	assert_float_equal(p.aim, 265 - 0.1 * (265 - 250 * (1 - 0.0002)), 1e-9);
}

/* A steady upstream: after a few jobs nearly every job needs one poll, sent within 5% of the job
 * time. */
static void converges_on_a_steady_upstream(void **state)
{
	pollsched p = {0};
	int polls = 0;
	(void)state;
	for (int i = 0; i < 10; i++)
		run_job(&p, 303, 15);
	for (int i = 0; i < 30; i++)
		polls += run_job(&p, 303, 15);
	assert_true(polls <= 33); /* an early probing poll about every 17th job */
	assert_true(p.aim >= 303 && p.aim <= 303 * 1.05);
}

/* Jobs get twice as fast: the aim follows within some tens of jobs instead of staying where it was.
 */
static void follows_a_faster_upstream(void **state)
{
	pollsched p = {0};
	(void)state;
	for (int i = 0; i < 20; i++)
		run_job(&p, 600, 30);
	for (int i = 0; i < 120; i++)
		run_job(&p, 300, 15);
	assert_true(p.aim >= 300 && p.aim <= 300 * 1.05);
}

/* Jobs get slower: each miss moves the aim up to the new time at once. */
static void follows_a_slower_upstream(void **state)
{
	pollsched p = {0};
	int polls = 0;
	(void)state;
	for (int i = 0; i < 20; i++)
		run_job(&p, 300, 15);
	for (int i = 0; i < 5; i++)
		polls += run_job(&p, 500, 25);
	assert_true(p.aim >= 500 && p.aim <= 500 * 1.05);
	for (int i = 0; i < 10; i++)
		polls += run_job(&p, 500, 25);
	assert_true(polls <= 15 + 12); /* the misses are in the first jobs after the change */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(first_job_sets_the_aim),
	    cmocka_unit_test(a_miss_aims_three_quarters_toward_the_done_poll),
	    cmocka_unit_test(hits_before_any_miss_come_down_3_percent),
	    cmocka_unit_test(after_a_miss_hits_close_the_gap_to_the_pending_poll),
	    cmocka_unit_test(converges_on_a_steady_upstream),
	    cmocka_unit_test(follows_a_faster_upstream),
	    cmocka_unit_test(follows_a_slower_upstream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
