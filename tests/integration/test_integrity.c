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

/* ------------------------------------------------------------ per-item isolation */

static char texts[64][80];

/* n distinct addresses of this test */
static const char *addr(int i)
{
	snprintf(texts[i], sizeof(texts[i]), "%d Isolation Row, Bulkhead", i + 1);
	return texts[i];
}

/* The reply's result is the mock's own answer for text. */
static void expect_located(it_env *e, const cb_reply *rep, const char *text)
{
	it_place p;

	if (rep->err != CB_OK)
		fail_msg("'%s': %s: %.*s", text, cb_err_name(rep->err), (int)rep->message.len,
		         rep->message.ptr);
	assert_int_equal(it_mock_lookup(e, text, &p), 0);
	assert_true(p.found);
	assert_float_equal(rep->result.lat, p.lat, 1e-9);
	assert_float_equal(rep->result.lon, p.lon, 1e-9);
}

/* A multi of 51 geocode calls, call 25 carrying a NUL: 50 located, that one BAD_REQUEST. */
static void test_multi_isolates_a_bad_call(void **state)
{
	it_env *e = *state;
	cb_wire_call calls[51];
	cb_request req = {.op = CB_OP_MULTI, .has_id = true, .id = 3, .calls = calls, .ncalls = 51};
	msgpack_sbuffer buf;
	msgpack_packer pk;
	it_reply r;

	assert_int_equal(it_start_mock(e, "--pending", "50ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	for (int i = 0; i < 51; i++)
		calls[i] = (cb_wire_call){.fn = CB_FN_GEOCODE,
		                          .text = {addr(i), (uint32_t)strlen(addr(i))}};
	calls[25].text.len += 1; /* its terminating NUL goes on the wire */
	msgpack_sbuffer_init(&buf);
	msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
	assert_int_equal(cbp_request_encode(&pk, &req), CB_OK);
	assert_int_equal(it_raw(e->url, buf.data, buf.size, &r, TIMEOUT_MS), 0);
	msgpack_sbuffer_destroy(&buf);
	assert_true(r.decoded);
	assert_int_equal(r.rep.err, CB_OK);
	assert_int_equal(r.rep.nresults, 51);
	for (int i = 0; i < 51; i++) {
		if (i == 25) {
			assert_int_equal(r.rep.results[i].err, CB_EBAD_REQUEST);
			assert_non_null(memmem(r.rep.results[i].message.ptr,
			                       r.rep.results[i].message.len,
			                       "control character U+0000", 24));
		} else {
			expect_located(e, &r.rep.results[i], addr(i));
		}
	}
	it_replies_free(&r, 1);
	assert_int_equal(it_mock_stat(e, "items"), 50);
	assert_int_equal(it_mock_stat(e, "submits"), 1);
}

/* One result of a batch the upstream garbled (fault): that cell fails alone. */
static void one_damaged_result(it_env *e, const char *fault)
{
	it_call c[20];
	it_reply r[20];
	int failed = 0;

	assert_int_equal(it_start_mock(e, "--pending", "50ms", "--fault", fault, NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	for (int i = 0; i < 20; i++)
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = addr(i), .id = (uint64_t)i + 1};
	assert_int_equal(it_calls(e->url, c, 20, r, TIMEOUT_MS), 0);
	for (int i = 0; i < 20; i++) {
		if (r[i].rep.err == CB_EUPSTREAM_ERROR)
			failed++;
		else
			expect_located(e, &r[i].rep, addr(i));
	}
	it_replies_free(r, 20);
	assert_int_equal(failed, 1);
	assert_int_equal(it_mock_stat(e, "submits"), 1); /* nothing retried for it */
}

static void test_a_nul_in_one_result(void **state)
{
	one_damaged_result(*state, "nul-item@result:1");
}

static void test_bad_utf8_in_one_result(void **state)
{
	one_damaged_result(*state, "bad-item@result:1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_huge_deadlines_do_not_overflow, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_key_never_relayed, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_multi_isolates_a_bad_call, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_a_nul_in_one_result, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_utf8_in_one_result, it_setup, it_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
