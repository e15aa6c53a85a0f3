/* test_jobstate.c: the job state machine's table — every path a job takes is legal, and nothing
 * leaves a final state or skips the upstream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "jobstate.h"

/* The paths job.c takes, each state to the next. */
static void test_paths_are_legal(void **state)
{
	static const batch_state paths[][7] = {
	    /* full window, free slot, pending, one poll */
	    {BATCH_OPEN, BATCH_SUBMITTING, BATCH_PENDING, BATCH_POLLING, BATCH_DONE},
	    /* waited for a slot, results at submit */
	    {BATCH_OPEN, BATCH_QUEUED, BATCH_SUBMITTING, BATCH_DONE},
	    /* a 503 on submit, then on a poll, then done */
	    {BATCH_OPEN, BATCH_SUBMITTING, BATCH_RETRY_WAIT, BATCH_SUBMITTING, BATCH_PENDING,
	     BATCH_POLLING, BATCH_RETRY_WAIT},
	    {BATCH_RETRY_WAIT, BATCH_POLLING, BATCH_PENDING, BATCH_POLLING, BATCH_DONE},
	};
	(void)state;
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
		for (size_t i = 0; i + 1 < 7 && paths[p][i + 1] != BATCH_OPEN; i++)
			assert_true(batch_state_legal(paths[p][i], paths[p][i + 1]));
	/* every state but the final ones can fail (shutdown, deadline, upstream error) */
	for (int st = BATCH_OPEN; st < BATCH_DONE; st++)
		assert_true(batch_state_legal((batch_state)st, BATCH_FAILED));
}

static void test_illegal_changes(void **state)
{
	(void)state;
	for (int to = 0; to < BATCH_STATE_COUNT; to++) {
		assert_false(batch_state_legal(BATCH_DONE, (batch_state)to));
		assert_false(batch_state_legal(BATCH_FAILED, (batch_state)to));
		assert_false(batch_state_legal((batch_state)to, BATCH_OPEN)); /* only at creation */
	}
	assert_false(batch_state_legal(BATCH_OPEN, BATCH_DONE)); /* never upstream */
	assert_false(
	    batch_state_legal(BATCH_QUEUED, BATCH_PENDING));        /* no job id without a submit */
	assert_false(batch_state_legal(BATCH_PENDING, BATCH_DONE)); /* done only from an answer */
	assert_false(batch_state_legal(BATCH_PENDING, BATCH_SUBMITTING));
	assert_false(batch_state_legal(BATCH_STATE_COUNT, BATCH_FAILED));
	assert_string_equal(batch_state_name(BATCH_RETRY_WAIT), "RETRY_WAIT");
	assert_string_equal(batch_state_name(BATCH_STATE_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paths_are_legal),
	    cmocka_unit_test(test_illegal_changes),
	};
	return cmocka_run_group_tests_name("jobstate", tests, NULL, NULL);
}
