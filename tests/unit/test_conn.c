/* test_conn.c: the per-connection table — membership under collisions, the connection cap, and
 * when a connection that reads nothing is cut off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <cmocka.h>

#include "conn.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Thousands of ids in and out, in an order that makes long probe runs: counts stay exact. */
static void test_add_remove(void **state)
{
	conntab *t;
	conn_counters cc;
	bool first;

	(void)state;
	assert_int_equal(conntab_open(&t, 5000, 10), 0);
	for (uint32_t id = 1; id <= 5000; id++)
		assert_true(conntab_add(t, id * 64));
	assert_false(conntab_add(t, 999999)); /* the cap */
	for (uint32_t id = 1; id <= 5000; id += 2)
		conntab_remove(t, id * 64);
	/* every remaining id is still found: its replies count against it */
	for (uint32_t id = 2; id <= 5000; id += 2) {
		for (int i = 0; i < 10; i++)
			conntab_sending(t, id * 64);
		assert_true(conntab_admit(t, id * 64, &first)); /* just queued: not stalled */
	}
	conntab_counters(t, &cc);
	assert_int_equal(cc.open, 2500);
	assert_int_equal(cc.open_max, 5000);
	assert_int_equal(cc.accepted, 5000);
	assert_int_equal(cc.rejected, 1);
	conntab_remove(t, 12345); /* unknown: nothing happens */
	conntab_close(t);
}

/* Under the limit always served; over it, cut off after a second without a send, at 20x at once. */
static void test_stalled_reader_is_cut_off(void **state)
{
	conntab *t;
	conn_counters cc;
	bool first, ok = true;
	double t0;
	int firsts = 0;

	(void)state;
	assert_int_equal(conntab_open(&t, 10, 100), 0);
	assert_true(conntab_add(t, 7));
	for (int i = 0; i < 99; i++)
		conntab_sending(t, 7);
	t0 = now_ms();
	while (now_ms() - t0 < 300) /* 99 waiting: never cut off */
		assert_true(conntab_admit(t, 7, &first));
	for (int i = 0; i < 2; i++)
		conntab_sending(t, 7);
	conntab_sent(t, 7, true); /* progress: 100 waiting, the clock starts again */
	t0 = now_ms();
	while (ok && now_ms() - t0 < 3000) {
		ok = conntab_admit(t, 7, &first);
		firsts += first;
	}
	assert_false(ok);
	assert_true(now_ms() - t0 >= 990);
	assert_false(conntab_admit(t, 7, &first));
	firsts += first;
	assert_int_equal(firsts, 1); /* logged once */
	conntab_sent(t, 7, true);    /* it reads again */
	assert_true(conntab_admit(t, 7, &first));
	for (int i = 0; i < 1901; i++) /* 2,000 waiting: cut off however recent the progress */
		conntab_sending(t, 7);
	assert_false(conntab_admit(t, 7, &first));
	assert_true(conntab_send_timeout(t, 7));
	assert_false(conntab_send_timeout(t, 7));
	conntab_counters(t, &cc);
	assert_int_equal(cc.dropped, 3);
	assert_int_equal(cc.send_timeouts, 1);
	conntab_close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_remove),
	    cmocka_unit_test(test_stalled_reader_is_cut_off),
	};
	return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
