/* test_integrity.c: every cell answered right and nothing leaked — deadlines that cannot
 * overflow, an API key never relayed, per-item isolation. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define TIMEOUT_MS 30000

/* Sends one geocode call with deadline_ms as given, raw, and returns its reply. */
static void call_with_deadline(it_env *e, const char *text, uint64_t deadline_ms, it_reply *r)
{
	cb_request req = {.op = CB_OP_CALL,
	                  .has_id = true,
	                  .id = 1,
	                  .has_deadline = true,
	                  .deadline_ms = deadline_ms,
	                  .call = {.fn = CB_FN_GEOCODE, .text = {text, strlen(text)}}};
	msgpack_sbuffer buf;
	msgpack_packer pk;

	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	assert_int_equal(cbp_request_encode(&pk, &req), CB_OK);
	assert_int_equal(it_raw(e->url, buf.data, buf.size, r, TIMEOUT_MS), 0);
	msgpack_sbuffer_destroy(&buf);
	assert_true(r->decoded);
}

/* deadline_ms at the top of its range means "a long time", not "already past". */
static void test_huge_deadlines_do_not_overflow(void **state)
{
	it_env *e = *state;
	const uint64_t huge[] = {UINT64_MAX, 1ull << 63, UINT64_MAX / 1000000 + 1};
	it_reply r;

	assert_int_equal(it_start_mock(e, "--pending", "50ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "%zu Overflow Avenue, Clocktown", i);
		call_with_deadline(e, text, huge[i], &r);
		if (r.rep.err != CB_OK)
			fail_msg("deadline_ms %llu: %s: %.*s", (unsigned long long)huge[i],
			         cb_err_name(r.rep.err), (int)r.rep.message.len, r.rep.message.ptr);
		assert_false(r.rep.meta.cached);
		it_replies_free(&r, 1);
	}
}

static bool contains(const char *hay, size_t len, const char *needle)
{
	return memmem(hay, len, needle, strlen(needle)) != NULL;
}

/* An upstream that quotes the key back: neither the reply nor the log carries it. */
static void test_key_never_relayed(void **state)
{
	it_env *e = *state;
	it_call c = {.fn = CB_FN_GEOCODE, .text = "1 Secret Street, Keyham", .id = 9};
	char *log;
	size_t len;
	it_reply r;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", "--fault",
	                               "status=401,message=Invalid apiKey " IT_KEY "@submit:*",
	                               NULL),
	                 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	assert_int_equal(r.rep.err, CB_EUPSTREAM_AUTH);
	if (!contains(r.rep.message.ptr, r.rep.message.len, "Invalid apiKey ***"))
		fail_msg("the upstream's words are gone: %.*s", (int)r.rep.message.len,
		         r.rep.message.ptr);
	assert_false(contains(r.rep.message.ptr, r.rep.message.len, IT_KEY));
	it_replies_free(&r, 1);
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000), 0);
	log = it_slurp(e->server_log, &len);
	assert_non_null(log);
	assert_true(contains(log, len, "Invalid apiKey ***"));
	assert_false(contains(log, len, IT_KEY));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_huge_deadlines_do_not_overflow, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_key_never_relayed, it_setup, it_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
