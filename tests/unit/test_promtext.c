/* test_promtext.c: the Prometheus text writer — escaping of label values and HELP, exact integers,
 * histogram bucket lines (cumulative, +Inf = _count), and a lathist folded into second bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "promtext.h"

static void test_escaping(void **state)
{
	prom_buf b;

	(void)state;
	prom_init(&b);
	prom_head(&b, "x_total", "counter", "a \\ back\nslash \"quoted\"");
	prom_sample_u(&b, "x_total", (prom_label[]){{"a", "q\"\\\n"}, {"b", "plain"}}, 2,
	              18446744073709551615ull);
	assert_false(b.oom);
	assert_string_equal(b.p, "# HELP x_total a \\\\ back\\nslash \"quoted\"\n"
	                         "# TYPE x_total counter\n"
	                         "x_total{a=\"q\\\"\\\\\\n\",b=\"plain\"} 18446744073709551615\n");
	prom_free(&b);
}

static void test_floats(void **state)
{
	prom_buf b;

	(void)state;
	prom_init(&b);
	prom_sample_f(&b, "g", NULL, 0, 0.5);
	prom_sample_f(&b, "g", NULL, 0, 1350);
	prom_sample_f(&b, "g", NULL, 0, 1.0 / 0.0);
	assert_string_equal(b.p, "g 0.5\ng 1350\ng +Inf\n");
	prom_free(&b);
}

static void test_histogram_lines(void **state)
{
	const double le[] = {1, 2, 4, 1000};
	const uint64_t cum[] = {1, 1, 3, 7};
	prom_buf b;

	(void)state;
	prom_init(&b);
	prom_histogram(&b, "h", "sizes", le, cum, 4, 7, 1234);
	assert_string_equal(b.p,
	                    "# HELP h sizes\n# TYPE h histogram\n"
	                    "h_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"4\"} 3\n"
	                    "h_bucket{le=\"1000\"} 7\nh_bucket{le=\"+Inf\"} 7\n"
	                    "h_sum 1234\nh_count 7\n");
	prom_free(&b);
}

/* 3 ms, 3 ms, 40 ms and 20 minutes: cumulative counts at the bounds, the last only in +Inf. */
static void test_lathist(void **state)
{
	lathist h = {0};
	prom_buf b;

	(void)state;
	lathist_add(&h, 3000000);
	lathist_add(&h, 3000000);
	lathist_add(&h, 40000000);
	lathist_add(&h, 1200000000000ull);
	prom_init(&b);
	prom_lathist(&b, "d_seconds", "durations", &h);
	assert_non_null(strstr(b.p, "d_seconds_bucket{le=\"0.0025\"} 0\n"));
	assert_non_null(strstr(b.p, "d_seconds_bucket{le=\"0.005\"} 2\n"));
	assert_non_null(strstr(b.p, "d_seconds_bucket{le=\"0.025\"} 2\n"));
	assert_non_null(strstr(b.p, "d_seconds_bucket{le=\"0.05\"} 3\n"));
	assert_non_null(strstr(b.p, "d_seconds_bucket{le=\"600\"} 3\n"));
	assert_non_null(strstr(b.p, "d_seconds_bucket{le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(b.p, "d_seconds_sum 1200.046\n"));
	assert_non_null(strstr(b.p, "d_seconds_count 4\n"));
	prom_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_floats),
	    cmocka_unit_test(test_histogram_lines),
	    cmocka_unit_test(test_lathist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
