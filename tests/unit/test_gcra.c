/* test_gcra.c: the rate limiter's arithmetic on a simulated clock — the burst, the spacing after
 * it, and never more than rate requests in any closed second of arrivals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gcra.h"

#define MS 1000000ull

/* --rate 5 --burst 5: five at once, then one every 204 ms (1/5 s, 2% wider). */
static void test_burst_then_spacing(void **state)
{
	uint64_t t = 1000 * MS, wait;
	gcra g;

	(void)state;
	gcra_init(&g, 5, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(gcra_take(&g, t), 0);
	assert_true(gcra_would_wait(&g, t));
	wait = gcra_take(&g, t);
	assert_int_equal(wait, 204 * MS);
	assert_int_not_equal(gcra_take(&g, t + wait - 1), 0); /* a nanosecond early: still waits */
	assert_int_equal(gcra_take(&g, t + wait), 0);
	assert_int_equal(gcra_take(&g, t + wait + 204 * MS), 0);
	/* an idle stretch refills the burst, never beyond it */
	t += 10000 * MS;
	for (int i = 0; i < 5; i++)
		assert_int_equal(gcra_take(&g, t), 0);
	assert_int_not_equal(gcra_take(&g, t), 0);
}

/*
 * Requests as fast as the limiter lets them through, for 60 s at several
 * rates and bursts: in no closed one-second window after the first burst
 * do more than rate arrive (the upstream's own rule).
 */
static void test_no_window_over_rate(void **state)
{
	static const struct {
		double rate;
		uint64_t burst;
	} cases[] = {{5, 1}, {5, 5}, {10, 3}, {1, 1}};
	static uint64_t at[1000];

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		gcra g;
		uint64_t t = 0;
		size_t n = 0;

		gcra_init(&g, cases[c].rate, cases[c].burst);
		while (t < 60000 * MS && n < 1000) {
			uint64_t w = gcra_take(&g, t);
			if (w == 0)
				at[n++] = t;
			else
				t += w;
		}
		for (size_t i = cases[c].burst; i < n; i++) {
			size_t in_window = 0;
			for (size_t j = i; j < n && at[j] <= at[i] + 1000 * MS; j++)
				in_window++;
			assert_true(in_window <= (size_t)cases[c].rate);
		}
		assert_true(n >= (size_t)(cases[c].rate * 60 * 0.97)); /* and not much slower */
	}
}

/* A request let through at t but written at t + 30 ms: the next waits until t + 30 + 204 ms. */
static void test_late_send_spaces_the_next(void **state)
{
	uint64_t t = 5000 * MS;
	gcra g;

	(void)state;
	gcra_init(&g, 5, 1);
	assert_int_equal(gcra_take(&g, t), 0);
	gcra_sent(&g, t + 30 * MS);
	assert_int_equal(gcra_take(&g, t + 204 * MS), 30 * MS);
	assert_int_equal(gcra_take(&g, t + 234 * MS), 0);
	gcra_sent(&g, t + 234 * MS); /* sent at once: nothing moves */
	assert_int_equal(gcra_take(&g, t + 437 * MS), 1 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_spacing),
	    cmocka_unit_test(test_no_window_over_rate),
	    cmocka_unit_test(test_late_send_spaces_the_next),
	};
	return cmocka_run_group_tests_name("gcra", tests, NULL, NULL);
}
