/* test_integrity.c: every cell answered right and nothing leaked — deadlines that cannot
 * overflow, an API key never relayed, per-item isolation. */
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include "cellbatch.h"
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

static char texts[128][80]; /* addr(0..69): a test uses 70 distinct addresses */

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

/* ------------------------------------------------------------ 429s, Retry-After, lost jobs */

typedef struct batch_call {
	it_env *e;
	it_call call;
	it_reply reply;
	double done_ms;
} batch_call;

static void *batch_call_main(void *arg)
{
	batch_call *b = arg;
	it_calls(b->e->url, &b->call, 1, &b->reply, TIMEOUT_MS);
	b->done_ms = it_now_ms();
	return NULL;
}

/* One batch told Retry-After: 100000 waits --retry-after-max, and gives its slot to the others. */
static void test_retry_after_is_capped_and_frees_the_slot(void **state)
{
	it_env *e = *state;
	batch_call a = {
	    e, {.fn = CB_FN_GEOCODE, .text = "1 Patience Road, Waitby", .id = 1}, {0}, 0};
	it_call b = {.fn = CB_FN_GEOCODE, .text = "2 Hurry Lane, Quickton", .id = 2};
	it_reply r;
	pthread_t t;
	double t0 = it_now_ms(), b_done;

	assert_int_equal(it_start_mock(e, "--pending", "50ms", "--fault",
	                               "status=503,retry-after=100000@submit:1", NULL),
	                 0);
	assert_int_equal(it_start_server(e, "--max-jobs", "1", "--retry-after-max", "3s", NULL), 0);
	pthread_create(&t, NULL, batch_call_main, &a);
	/* a's batch was told to come back in 100000 s */
	assert_int_equal(it_wait_stat(e->url, "upstream_retries", 1, 1000, 5000), 0);
	assert_int_equal(it_calls(e->url, &b, 1, &r, TIMEOUT_MS), 0);
	b_done = it_now_ms();
	expect_located(e, &r.rep, b.text);
	it_replies_free(&r, 1);
	pthread_join(t, NULL);
	expect_located(e, &a.reply.rep, a.call.text);
	it_replies_free(&a.reply, 1);
	printf("b answered after %.0f ms, a after %.0f ms\n", b_done - t0, a.done_ms - t0);
	assert_true(b_done < a.done_ms);           /* b did not wait behind a's slot */
	assert_true(a.done_ms - t0 >= 2900);       /* a waited the capped Retry-After */
	assert_true(a.done_ms - t0 < 3000 + 5000); /* and not the upstream's 100000 s */
}

/*
 * 20,000 unique cells at the default flags against an upstream that admits
 * one request per 200 ms and answers faster ones 429 "Quota exceeded": every
 * cell located, none QUOTA_EXCEEDED. The time it takes against the floor is
 * printed here and measured in bench/run (c); a timed assertion belongs there.
 */
static void test_strict_spacing_loses_nothing(void **state)
{
	enum { N = 20000 };
	it_env *e = *state;
	it_call *c = calloc(N, sizeof(*c));
	it_reply *r = calloc(N, sizeof(*r));
	char(*t)[48] = calloc(N, sizeof(*t));
	double t0, wall, floor_s;
	long requests, refused;
	int ok = 0;

	assert_int_equal(it_start_mock(e, "--pending", "2s", "--min-interval", "200ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	for (int i = 0; i < N; i++) {
		snprintf(t[i], sizeof(t[i]), "%d Spacing Street, Throttleford", i);
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = t[i], .id = (uint64_t)i + 1};
	}
	t0 = it_now_ms();
	assert_int_equal(it_calls(e->url, c, N, r, 120000), 0);
	wall = (it_now_ms() - t0) / 1000;
	for (int i = 0; i < N; i++) {
		if (r[i].decoded && r[i].rep.err == CB_OK)
			ok++;
		else if (ok + 5 > i) /* print the first few failures */
			print_message("call %d: %s\n", i, cb_err_name(r[i].rep.err));
	}
	it_replies_free(r, N);
	requests = it_mock_stat(e, "requests");
	refused = it_mock_stat(e, "refused_429");
	/* 20 batches: a submit and at least one poll each, 200 ms apart */
	floor_s = (2.0 * N / 1000 - 1) * 0.2;
	printf("20,000 cells: %d OK in %.2f s (floor %.2f s, %+.0f%%); %ld requests, %ld "
	       "answered 429\n",
	       ok, wall, floor_s, (wall / floor_s - 1) * 100, requests, refused);
	assert_int_equal(ok, N);
	free(c);
	free(r);
	free(t);
}

/* One call that must be refused with QUOTA_EXCEEDED. */
static void one_quota_call(it_env *e, const char *text)
{
	it_call one = {.fn = CB_FN_GEOCODE, .text = text, .id = 99};
	it_reply r;

	assert_int_equal(it_calls(e->url, &one, 1, &r, TIMEOUT_MS), 0);
	assert_int_equal(r.rep.err, CB_EQUOTA_EXCEEDED);
	it_replies_free(&r, 1);
}

/* A quota truly gone: QUOTA_EXCEEDED within 15 s, then at most one request per pause. */
static void test_exhausted_quota(void **state)
{
	it_env *e = *state;
	it_call c[30];
	it_reply r[30];
	double t0 = it_now_ms(), t_pauses;
	long before;

	assert_int_equal(it_start_mock(e, "--pending", "50ms", "--quota", "0", NULL), 0);
	assert_int_equal(it_start_server(e, "--quota-pause", "3s", NULL), 0);
	for (int i = 0; i < 30; i++)
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = addr(i), .id = (uint64_t)i + 1};
	assert_int_equal(it_calls(e->url, c, 30, r, TIMEOUT_MS), 0);
	printf("quota: 30 calls answered in %.1f s\n", (it_now_ms() - t0) / 1000);
	assert_true(it_now_ms() - t0 < 15000);
	for (int i = 0; i < 30; i++)
		assert_int_equal(r[i].rep.err, CB_EQUOTA_EXCEEDED);
	it_replies_free(r, 30);
	assert_int_equal(it_stats(e->url, r, TIMEOUT_MS), 0);
	assert_true(it_mp_get(it_mp_get(&r[0].rep.stats, "quota"), "paused")->via.boolean);
	it_replies_free(r, 1);
	/* two pauses of 3 s: calls during one are refused without a request; after it, one probe */
	before = it_mock_stat(e, "requests");
	t_pauses = it_now_ms();
	for (int pause = 0; pause < 2; pause++) {
		one_quota_call(e, addr(40 + pause));
		assert_int_equal(it_mock_stat(e, "requests") - before, pause);
		assert_int_equal(it_wait_stat(e->url, "quota.paused", 0, 0, 10000), 0);
		one_quota_call(e, addr(50 + pause)); /* the probe, answered with the quota again */
		assert_int_equal(it_mock_stat(e, "requests") - before, pause + 1);
		assert_int_equal(it_wait_stat(e->url, "quota.paused", 1, 1, 5000), 0);
	}
	printf("quota: %ld upstream requests in %.1f s of pauses of 3 s\n",
	       it_mock_stat(e, "requests") - before, (it_now_ms() - t_pauses) / 1000);
	assert_true(it_mock_stat(e, "requests") - before <= 2);
}

typedef struct held_calls {
	it_env *e;
	it_call c[50];
	it_reply r[50];
} held_calls;

static void *held_calls_main(void *arg)
{
	held_calls *h = arg;
	it_calls(h->e->url, h->c, 50, h->r, TIMEOUT_MS);
	return NULL;
}

/*
 * The quota runs out while a paid job is still pending: its polls keep
 * passing, which must not hide that submits are refused.
 */
static void test_quota_gone_while_a_job_is_polled(void **state)
{
	it_env *e = *state;
	held_calls *h = calloc(1, sizeof(*h));
	it_call c[20];
	it_reply r[20];
	pthread_t t;
	double t0;

	h->e = e;
	assert_int_equal(it_start_mock(e, "--pending", "8s", "--quota", "50", NULL), 0);
	assert_int_equal(it_start_server(e, "--quota-confirm", "2s", "--poll-max", "300ms", NULL),
	                 0);
	for (int i = 0; i < 50; i++)
		h->c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = addr(i), .id = (uint64_t)i + 1};
	pthread_create(&t, NULL, held_calls_main, h); /* the day's last 50 items, paid */
	assert_int_equal(it_wait_mock_stat(e, "jobs", 1, 10000), 0);
	for (int i = 0; i < 20; i++)
		c[i] =
		    (it_call){.fn = CB_FN_GEOCODE, .text = addr(i + 50), .id = (uint64_t)i + 100};
	t0 = it_now_ms();
	assert_int_equal(it_calls(e->url, c, 20, r, TIMEOUT_MS), 0);
	printf("quota gone while a job is polled: refused after %.1f s\n",
	       (it_now_ms() - t0) / 1000);
	/* while the paid job is still pending (8 s): its polls did not hide the quota */
	assert_true(it_now_ms() - t0 < 7000);
	for (int i = 0; i < 20; i++)
		if (r[i].rep.err != CB_EQUOTA_EXCEEDED)
			fail_msg("call %d: %s: %.*s", i, cb_err_name(r[i].rep.err),
			         (int)r[i].rep.message.len, r[i].rep.message.ptr);
	it_replies_free(r, 20);
	pthread_join(t, NULL); /* the paid job is still polled through the pause */
	for (int i = 0; i < 50; i++)
		expect_located(e, &h->r[i].rep, addr(i));
	it_replies_free(h->r, 50);
	free(h);
}

/* The upstream restarted and forgot its jobs: one resubmit, every cell located. */
static void test_lost_job_is_resubmitted_once(void **state)
{
	it_env *e = *state;
	held_calls *h = calloc(1, sizeof(*h));
	pthread_t t;

	h->e = e;
	assert_int_equal(it_start_mock(e, "--pending", "1500ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	for (int i = 0; i < 50; i++)
		h->c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = addr(i), .id = (uint64_t)i + 1};
	pthread_create(&t, NULL, held_calls_main, h);
	assert_int_equal(it_wait_mock_stat(e, "jobs", 1, 10000), 0);
	assert_int_equal(it_mock_config(e, "{\"forget\":true}"), 0);
	pthread_join(t, NULL);
	for (int i = 0; i < 50; i++)
		expect_located(e, &h->r[i].rep, addr(i));
	it_replies_free(h->r, 50);
	assert_int_equal(it_mock_stat(e, "submits"), 2); /* the first, and one after the 404 */
	assert_int_equal(it_mock_stat(e, "items"), 100);
	free(h);
}

/* A submit whose answer was lost, every caller gone, no database: dropped, not billed again. */
static void test_nobody_waits_nothing_resubmitted(void **state)
{
	it_env *e = *state;
	it_call c = {.fn = CB_FN_GEOCODE, .text = "1 Forsaken Road, Nobody", .id = 1};
	it_reply r;

	assert_int_equal(it_start_mock(e, "--pending", "50ms", "--fault", "slow=1s@submit:1", NULL),
	                 0);
	assert_int_equal(it_start_server(e, "--no-cache-db", "--http-timeout", "500ms",
	                                 "--call-timeout", "200ms", NULL),
	                 0);
	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	assert_int_equal(r.rep.err, CB_ETIMEOUT);
	it_replies_free(&r, 1);
	/* the submit's answer is lost at 500 ms; the job then ends instead of going again */
	assert_int_equal(it_wait_stat(e->url, "upstream_dropped", 1, 1, 10000), 0);
	assert_int_equal(it_mock_stat(e, "submits"), 1);
	assert_int_equal(it_wait_stat(e->url, "upstream_resubmits", 0, 0, 1), 0);
}

/* ------------------------------------------------------------ the job journal */

enum { JN = 2000 };

/* Callbacks per call, so that "answered once" is checked, not assumed. */
static struct {
	atomic_int fired[JN];
	cb_err err[JN];
	atomic_int total;
	pthread_mutex_t mu;
	pthread_cond_t all_in; /* signalled when total reaches JN */
} jt = {.mu = PTHREAD_MUTEX_INITIALIZER, .all_in = PTHREAD_COND_INITIALIZER};

static int jslot[JN];

static void journal_cb(void *user, const cb_result *res)
{
	int i = *(int *)user;
	jt.err[i] = res->err;
	atomic_fetch_add(&jt.fired[i], 1);
	if (atomic_fetch_add(&jt.total, 1) + 1 == JN) {
		pthread_mutex_lock(&jt.mu);
		pthread_cond_broadcast(&jt.all_in);
		pthread_mutex_unlock(&jt.mu);
	}
}

/* Waits until every call has had its callback, or timeout_ms. */
static void wait_all_in(int timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	pthread_mutex_lock(&jt.mu);
	while (atomic_load(&jt.total) < JN &&
	       pthread_cond_timedwait(&jt.all_in, &jt.mu, &until) == 0)
		;
	pthread_mutex_unlock(&jt.mu);
}

/*
 * SIGKILL with 2,000 cells upstream, a new server on the same database 2 s
 * later: libcellbatch resends, the new server polls the jobs the old one
 * submitted (the journal), every cell is answered once, nothing billed twice.
 */
static void test_restart_resumes_jobs(void **state)
{
	it_env *e = *state;
	static char texts_j[JN][48];
	cb_client *c;

	memset(jt.fired, 0, sizeof(jt.fired));
	atomic_store(&jt.total, 0);
	assert_int_equal(it_start_mock(e, "--pending", "4s", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(cb_client_open(&c, e->url, NULL), CB_OK);
	for (int i = 0; i < JN; i++) {
		cb_call call =
		    CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = texts_j[i], .timeout_ms = 30000);
		snprintf(texts_j[i], sizeof(texts_j[i]), "%d Journal Street, Restartville", i);
		jslot[i] = i;
		assert_int_equal(cb_call_async(c, &call, journal_cb, &jslot[i]), CB_OK);
	}
	/*
	 * both jobs accepted upstream (pending 4 s) and polled once: a job is
	 * journalled when its id arrives, before its first poll. Killed in the
	 * instant between the mock's accepting a submit and the server's reading
	 * the reply, the server never learned that job's id and must submit it
	 * again; that window is not what this test is about.
	 */
	assert_int_equal(it_wait_mock_stat(e, "items", JN, 10000), 0);
	assert_int_equal(it_wait_mock_stat(e, "jobs", 2, 10000), 0);
	assert_int_equal(it_wait_mock_stat(e, "polls", 2, 10000), 0);
	assert_int_equal(it_stop(&e->server, SIGKILL, 5000), 128 + SIGKILL);
	/* the restart the issue names is within 2 s: here at once */
	assert_int_equal(it_start_server(e, NULL), 0);
	wait_all_in(20000);
	cb_client_close(c);
	assert_int_equal(atomic_load(&jt.total), JN);
	for (int i = 0; i < JN; i++) {
		if (atomic_load(&jt.fired[i]) != 1 || jt.err[i] != CB_OK)
			fail_msg("call %d: %d callbacks, %s", i, atomic_load(&jt.fired[i]),
			         cb_strerror(jt.err[i]));
	}
	printf("journal: %ld items billed for %d cells, %ld submits\n", it_mock_stat(e, "items"),
	       JN, it_mock_stat(e, "submits"));
	assert_int_equal(it_mock_stat(e, "items"), JN); /* nothing billed twice */
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
	    cmocka_unit_test_setup_teardown(test_retry_after_is_capped_and_frees_the_slot, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_strict_spacing_loses_nothing, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_exhausted_quota, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_lost_job_is_resubmitted_once, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_quota_gone_while_a_job_is_polled, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_nobody_waits_nothing_resubmitted, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_restart_resumes_jobs, it_setup, it_teardown),
	};
	if (getenv("IT_ONLY")) /* one test by name, for measuring */
		cmocka_set_test_filter(getenv("IT_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
