/* test_cache.c: the result cache — repeat passes, restarts, TTLs, negative entries, eviction, a
 * damaged database file (moved aside), an unwritable one. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glob.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"

#define TIMEOUT_MS 30000

static char text_buf[10000][64];

static it_call *cells(int n, int base)
{
	it_call *c = calloc((size_t)n, sizeof(*c));
	for (int i = 0; i < n; i++) {
		snprintf(text_buf[i], sizeof(text_buf[0]), "%d Cache Lane, Memoryville", base + i);
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = text_buf[i], .id = (uint64_t)i};
	}
	return c;
}

/* Makes the calls; every one must succeed; returns how many came from the cache. */
static int pass(it_env *e, it_call *c, int n, double *ms)
{
	it_reply *r = calloc((size_t)n, sizeof(*r));
	double t0 = it_now_ms();
	int cached = 0;

	assert_int_equal(it_calls(e->url, c, (size_t)n, r, TIMEOUT_MS), 0);
	if (ms != NULL)
		*ms = it_now_ms() - t0;
	for (int i = 0; i < n; i++) {
		if (!r[i].decoded || r[i].rep.id != c[i].id)
			fail_msg("call %d: no reply of its own", i);
		if (r[i].rep.err != CB_OK)
			fail_msg("call %d: %s", i, cb_err_name(r[i].rep.err));
		cached += r[i].rep.meta.cached;
		if (r[i].rep.meta.cached)
			assert_int_equal(r[i].rep.meta.batch_size, 0);
	}
	it_replies_free(r, (size_t)n);
	free(r);
	return cached;
}

static void test_second_pass_is_free(void **state)
{
	it_env *e = *state;
	it_call *c = cells(10000, 0);
	double first, second;

	assert_int_equal(it_start_mock(e, "--pending", "100ms", NULL), 0);
	/* batches leave full, not at --batch-wait while a 2-core machine is still sending */
	assert_int_equal(it_start_server(e, "--batch-wait", "2s", NULL), 0);
	assert_int_equal(pass(e, c, 10000, &first), 0);
	assert_int_equal(it_mock_stat(e, "submits"), 10);
	assert_int_equal(pass(e, c, 10000, &second), 10000);
	assert_int_equal(it_mock_stat(e, "submits"), 10); /* not one more */
	print_message("10000 unique: first pass %.0f ms (10 submits), second %.0f ms from cache\n",
	              first, second);
	free(c);
}

static void test_restart_keeps_answers(void **state)
{
	it_env *e = *state;
	it_call *c = cells(1000, 50000);

	assert_int_equal(it_start_mock(e, "--pending", "50ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(pass(e, c, 1000, NULL), 0);
	assert_int_equal(it_mock_stat(e, "submits"), 1);
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000), 0);
	/* same database, fresh process: nothing in memory, everything on disk */
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(pass(e, c, 1000, NULL), 1000);
	assert_int_equal(it_mock_stat(e, "submits"), 1);
	free(c);
}

/* Hits are answered on nng threads (the hot path); they count in stats as any call does. */
static void test_hits_counted(void **state)
{
	it_env *e = *state;
	it_call c[3] = {{.fn = CB_FN_GEOCODE, .text = "1 Counted Road", .id = 1},
	                {.fn = CB_FN_GEOCODE, .text = "2 Nowhere Road", .id = 2},
	                {.fn = CB_FN_REVERSE, .lat = 10, .lon = 20, .id = 3}};
	const msgpack_object *st, *codes, *cache;
	uint64_t requests0;
	it_reply r[3], s;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(it_stats(e->url, &s, TIMEOUT_MS), 0);
	assert_true(s.decoded && s.rep.has_stats);
	requests0 = it_mp_get(&s.rep.stats, "requests")->via.u64; /* the harness pings at start */
	it_replies_free(&s, 1);
	for (int pass = 0; pass < 3; pass++) {
		assert_int_equal(it_calls(e->url, c, 3, r, TIMEOUT_MS), 0);
		for (int i = 0; i < 3; i++) {
			assert_true(r[i].decoded);
			assert_int_equal(r[i].rep.id, c[i].id);
			assert_int_equal(r[i].rep.err, i == 1 ? CB_ENOT_FOUND : CB_OK);
			if (i != 1)
				assert_int_equal(r[i].rep.meta.cached, pass > 0);
		}
		it_replies_free(r, 3);
	}
	assert_int_equal(it_stats(e->url, &s, TIMEOUT_MS), 0);
	assert_true(s.decoded && s.rep.has_stats);
	st = &s.rep.stats;
	codes = it_mp_get(st, "answered_by_code");
	cache = it_mp_get(st, "cache");
	assert_int_equal(it_mp_get(st, "requests")->via.u64, requests0 + 9 + 1); /* + this one */
	assert_int_equal(it_mp_get(st, "calls_received")->via.u64, 9);
	assert_int_equal(it_mp_get(st, "calls_answered")->via.u64, 9);
	assert_int_equal(it_mp_get(codes, "OK")->via.u64, 6);
	assert_int_equal(it_mp_get(codes, "NOT_FOUND")->via.u64, 3);
	assert_int_equal(it_mp_get(cache, "hits")->via.u64, 4);
	assert_int_equal(it_mp_get(cache, "negative_hits")->via.u64, 2);
	assert_int_equal(it_mp_get(cache, "misses")->via.u64, 3);
	assert_int_equal(it_mp_get(st, "calls_in_flight")->via.u64, 0);
	assert_true(it_mp_get(it_mp_get(st, "latency_total_ms"), "p50")->via.f64 > 0);
	assert_int_equal(it_mock_stat(e, "submits"), 2); /* geocode and reverse, once each */
	it_replies_free(&s, 1);
}

/* Expiry by short TTLs: results after 1.5 s, NOT_FOUND after 0.5 s. */
static void test_ttl_and_negative_ttl(void **state)
{
	it_env *e = *state;
	it_call c[2] = {{.fn = CB_FN_GEOCODE, .text = "221B Baker St, London, England", .id = 1},
	                {.fn = CB_FN_GEOCODE, .text = "1 Nowhere Lane", .id = 2}};
	it_reply r[2];

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(
	    it_start_server(e, "--cache-ttl", "1500ms", "--cache-negative-ttl", "500ms", NULL), 0);
	assert_int_equal(it_calls(e->url, c, 2, r, TIMEOUT_MS), 0);
	assert_int_equal(r[1].rep.err, CB_ENOT_FOUND);
	it_replies_free(r, 2);
	assert_int_equal(it_mock_stat(e, "items"), 2);

	/* both cached, the miss too */
	assert_int_equal(it_calls(e->url, c, 2, r, TIMEOUT_MS), 0);
	assert_true(r[0].rep.meta.cached);
	assert_int_equal(r[1].rep.err, CB_ENOT_FOUND);
	it_replies_free(r, 2);
	assert_int_equal(it_mock_stat(e, "items"), 2);

	/* 0.8 s: the negative entry expired, the result not */
	usleep(800000);
	assert_int_equal(it_calls(e->url, c, 2, r, TIMEOUT_MS), 0);
	assert_true(r[0].rep.meta.cached);
	assert_int_equal(r[1].rep.err, CB_ENOT_FOUND);
	it_replies_free(r, 2);
	assert_int_equal(it_mock_stat(e, "items"), 3);

	/* 1.7 s: the result expired as well (the item asked at 0.8 s is fresh again) */
	usleep(900000);
	assert_int_equal(it_calls(e->url, c, 1, r, TIMEOUT_MS), 0);
	assert_false(r[0].rep.meta.cached);
	it_replies_free(r, 1);
	assert_int_equal(it_mock_stat(e, "items"), 4);
}

/* Only results and NOT_FOUND are cached, never a failure. */
static void test_errors_not_cached(void **state)
{
	it_env *e = *state;
	it_call *c = cells(5, 70000);
	it_reply r[5];

	assert_int_equal(
	    it_start_mock(e, "--pending", "20ms", "--fault", "status=401@submit:1", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(it_calls(e->url, c, 5, r, TIMEOUT_MS), 0);
	assert_int_equal(r[0].rep.err, CB_EUPSTREAM_AUTH);
	it_replies_free(r, 5);
	assert_int_equal(pass(e, c, 5, NULL), 0); /* asked upstream again, and now answered */
	assert_int_equal(it_mock_stat(e, "submits"), 2);
	free(c);
}

/* A cell that timed out while its batch was upstream: the late result still lands in the cache. */
static void test_late_result_is_kept(void **state)
{
	it_env *e = *state;
	it_call c = {.fn = CB_FN_GEOCODE,
	             .text = "Statue of Liberty, Liberty Island New York, NY 10004",
	             .id = 7};
	it_reply r;

	assert_int_equal(it_start_mock(e, "--pending", "1s", NULL), 0);
	assert_int_equal(it_start_server(e, "--call-timeout", "300ms", NULL), 0);
	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	assert_int_equal(r.rep.err, CB_ETIMEOUT);
	it_replies_free(&r, 1);
	/* the job finishes with nobody waiting */
	assert_int_equal(it_wait_stat(e->url, "jobs_active", 0, 0, 5000), 0);
	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	assert_int_equal(r.rep.err, CB_OK);
	assert_true(r.rep.meta.cached);
	assert_float_equal(r.rep.result.lat, 40.6892, 1e-9);
	it_replies_free(&r, 1);
	assert_int_equal(it_mock_stat(e, "submits"), 1);
}

/*
 * Least recently used goes first. Single calls after the first batch, so the
 * order of use is known (calls of one burst may reach the server in any order).
 */
static void test_lru_eviction(void **state)
{
	it_env *e = *state;
	it_call *c = cells(11, 80000);

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, "--cache-entries", "10", "--no-cache-db", NULL), 0);
	assert_int_equal(pass(e, c, 10, NULL), 0);      /* the cache is full */
	assert_int_equal(pass(e, &c[0], 1, NULL), 1);   /* call 0 is now the most recent */
	assert_int_equal(pass(e, &c[10], 1, NULL), 0);  /* a new one evicts one of calls 1-9 */
	assert_int_equal(pass(e, &c[0], 1, NULL), 1);   /* not call 0 */
	assert_int_equal(pass(e, &c[10], 1, NULL), 1);  /* and the new one stays */
	assert_int_equal(it_mock_stat(e, "items"), 11); /* 10 + 1: nothing else went upstream */
	assert_int_equal(pass(e, c + 1, 9, NULL), 8);   /* exactly one of 1-9 was evicted */
	free(c);
}

/*
 * A file that is no database is moved aside, with a warning naming both
 * paths, and a new one is made and used: answers survive a restart. (Before
 * the integrity work the server ran memory-only with such a file.)
 */
static void test_corrupt_database(void **state)
{
	it_env *e = *state;
	it_call *c = cells(50, 90000);
	char path[300], pattern[320], want[400], *log;
	struct stat sb;
	glob_t g;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cache.db", e->dir);
	f = fopen(path, "w");
	for (int i = 0; i < 2000; i++)
		fputs("this is not an SQLite database ", f);
	fclose(f);
	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(pass(e, c, 50, NULL), 0);
	assert_int_equal(pass(e, c, 50, NULL), 50);
	snprintf(pattern, sizeof(pattern), "%s.corrupt-*", path);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_int_equal(g.gl_pathc, 1);
	assert_int_equal(stat(g.gl_pathv[0], &sb), 0);
	assert_int_equal(sb.st_size, 2000 * 31); /* the damaged file, as it was */
	log = it_slurp(e->server_log, NULL);
	snprintf(want, sizeof(want),
	         "cache database %s is damaged (file is not a database): "
	         "moved it aside to %s and started a new one",
	         path, g.gl_pathv[0]);
	assert_non_null(strstr(log, want));
	assert_non_null(strstr(log, "warn"));
	print_message("%s", strstr(log, "cache database"));
	free(log);
	globfree(&g);
	/* the new file works: a fresh process finds every answer on disk */
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(pass(e, c, 50, NULL), 50);
	assert_int_equal(it_mock_stat(e, "items"), 50);
	free(c);
}

static void test_unwritable_database(void **state)
{
	it_env *e = *state;
	it_call *c = cells(10, 95000);
	char blocker[300], path[300], *log;
	FILE *f;

	/* the database's directory would have to be created where a file is */
	snprintf(blocker, sizeof(blocker), "%s/blocker", e->dir);
	snprintf(path, sizeof(path), "%s/blocker/cache.db", e->dir);
	f = fopen(blocker, "w");
	fclose(f);
	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, "--cache-db", path, NULL), 0);
	assert_int_equal(pass(e, c, 10, NULL), 0);
	assert_int_equal(pass(e, c, 10, NULL), 10);
	log = it_slurp(e->server_log, NULL);
	assert_non_null(strstr(log, "caching in memory only"));
	free(log);
	free(c);
}

/*
 * Issue 22's pairs: each spelling of a pair is one place, so one upstream item
 * (dedup within a pass, the cache across passes and restarts).
 */
static void test_unicode_spellings_share_an_item(void **state)
{
	static const char *const text[] = {
	    "Caf\xc3\xa9 de Flore, Paris",
	    "Cafe\xcc\x81 de Flore, Paris", /* é vs e + U+0301 */
	    "Łódź",
	    "ŁÓDŹ",
	    "Αθήνα",
	    "ΑΘΉΝΑ",
	    "Straße 1, Berlin",
	    "STRASSE 1, Berlin",
	};
	enum { N = sizeof(text) / sizeof(text[0]) };
	it_env *e = *state;
	it_call c[N];

	for (int i = 0; i < N; i++)
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = text[i], .id = (uint64_t)i};
	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, "--batch-wait", "200ms", NULL), 0);
	assert_int_equal(pass(e, c, 2, NULL), 0);         /* both Cafés in one batch: one item */
	assert_int_equal(pass(e, c + 1, 1, NULL), 1);     /* and then a hit */
	assert_int_equal(pass(e, c + 2, N - 2, NULL), 0); /* both of a pair in one batch */
	assert_int_equal(it_mock_stat(e, "items"), N / 2);
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(pass(e, c, N, NULL), N); /* from the file, whichever spelling */
	assert_int_equal(it_mock_stat(e, "items"), N / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_second_pass_is_free, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_restart_keeps_answers, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_ttl_and_negative_ttl, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_errors_not_cached, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_hits_counted, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_late_result_is_kept, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_lru_eviction, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_database, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable_database, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_unicode_spellings_share_an_item, it_setup,
	                                    it_teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
