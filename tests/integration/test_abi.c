/* test_abi.c: libcellbatch reads cb_call and cb_client_options by the caller's size (docs/abi.md),
 * against a real cellbatchd + mock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cellbatch.h"
#include "harness.h"

/* A caller built against a newer header: one more field after ours. */
typedef struct newer_call {
	cb_call call;
	uint64_t extra;
} newer_call;

typedef struct newer_options {
	cb_client_options o;
	const char *extra;
} newer_options;

static void test_versions(void **state)
{
	char want[32];

	(void)state;
	snprintf(want, sizeof(want), "%d.%d.%d", CELLBATCH_VERSION_MAJOR, CELLBATCH_VERSION_MINOR,
	         CELLBATCH_VERSION_PATCH);
	assert_string_equal(cb_version(), want);
	assert_string_equal(cb_version(), CELLBATCH_VERSION_STRING);
	assert_int_equal(cb_version_hex(), CELLBATCH_VERSION_HEX);
	assert_int_equal(CELLBATCH_VERSION_HEX >> 16, CELLBATCH_VERSION_MAJOR);
	cb_free(NULL);
}

static void test_options_by_size(void **state)
{
	it_env *e = *state;
	cb_client_options zero = {0}, old = CB_CLIENT_OPTIONS_INIT(.timeout_ms = 5000);
	newer_options nw = {.o = CB_CLIENT_OPTIONS_INIT()};
	cb_client *c;

	assert_int_equal(it_start_mock(e, "--pending", "10ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	/* no size: a caller that forgot CB_CLIENT_OPTIONS_INIT */
	assert_int_equal(cb_client_open(&c, e->url, &zero), CB_EINVAL);
	/* the 0.2 fields only (a header before anything was appended) */
	old.size = offsetof(cb_client_options, token) + sizeof(const char *);
	assert_int_equal(cb_client_open(&c, e->url, &old), CB_OK);
	cb_client_close(c);
	/* a newer caller's unknown field: accepted when 0, refused when set */
	nw.o.size = sizeof(nw);
	assert_int_equal(cb_client_open(&c, e->url, &nw.o), CB_OK);
	cb_client_close(c);
	nw.extra = "something this library cannot honour";
	assert_int_equal(cb_client_open(&c, e->url, &nw.o), CB_EINVAL);
}

typedef struct answers {
	cb_result r[2];
	atomic_int fired;
} answers;

static void multi_cb(void *user, const cb_result *res, size_t n)
{
	answers *a = user;

	for (size_t i = 0; i < n && i < 2; i++)
		a->r[i] = (cb_result){.err = res[i].err, .lat = res[i].lat};
	atomic_fetch_add(&a->fired, 1);
}

static void never_cb(void *user, const cb_result *res)
{
	(void)user;
	(void)res;
	fail_msg("a refused call's callback fired");
}

static void test_calls_by_size(void **state)
{
	it_env *e = *state;
	const char *known = "Tour Eiffel Champ de Mars, Paris";
	cb_call zero = {.fn = CB_FN_GEOCODE, .text = known};
	newer_call calls[2];
	answers a = {.fired = 0};
	double end;
	cb_client *c;
	it_place want;

	assert_int_equal(it_start_mock(e, "--pending", "10ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(it_mock_lookup(e, known, &want), 0);
	assert_true(want.found);
	assert_int_equal(cb_client_open(&c, e->url, NULL), CB_OK);
	assert_int_equal(cb_call_async(c, &zero, NULL, NULL), CB_EINVAL);
	assert_int_equal(cb_call_async(c, &zero, never_cb, NULL), CB_EINVAL);
	/* an array of a newer header's calls: the stride is their size, not ours */
	for (int i = 0; i < 2; i++)
		calls[i] = (newer_call){.call = CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = known)};
	calls[0].call.size = calls[1].call.size = sizeof(newer_call);
	calls[1].extra = 1;
	assert_int_equal(cb_multi_async(c, &calls[0].call, 2, multi_cb, &a), CB_EINVAL);
	calls[1].extra = 0;
	calls[1].call.size = sizeof(cb_call); /* sizes must agree with the stride */
	assert_int_equal(cb_multi_async(c, &calls[0].call, 2, multi_cb, &a), CB_EINVAL);
	calls[1].call.size = sizeof(newer_call);
	assert_int_equal(cb_multi_async(c, &calls[0].call, 2, multi_cb, &a), CB_OK);
	for (end = it_now_ms() + 10000; atomic_load(&a.fired) == 0 && it_now_ms() < end;)
		it_sleep_ms(5);
	cb_client_close(c);
	assert_int_equal(atomic_load(&a.fired), 1);
	for (int i = 0; i < 2; i++)
		if (a.r[i].err != CB_OK || a.r[i].lat != want.lat)
			fail_msg("call %d: %s, lat %f (want %f)", i, cb_strerror(a.r[i].err),
			         a.r[i].lat, want.lat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test_setup_teardown(test_options_by_size, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_calls_by_size, it_setup, it_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
