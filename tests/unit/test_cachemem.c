/* test_cachemem.c: the answer cache under a fake clock — hits and misses, TTLs, negative
 * entries, LRU eviction, the SQLite store across a reopen, and cache_peek's counting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache.h"

#define TTL     1000
#define NEG_TTL 100

static uint64_t fake_ms;

static uint64_t fake_now(void)
{
	return fake_ms;
}

static cache *open_cache(size_t max_entries, const char *db_path)
{
	cache_config cfg = {max_entries, TTL, NEG_TTL, db_path, fake_now};
	cache *c = NULL;

	assert_int_equal(cache_open(&c, &cfg), 0);
	assert_non_null(c);
	return c;
}

static answer *result(const char *formatted, double lat, bool with_extras)
{
	double conf = 0.75;
	answer *a =
	    answer_result(lat, -lat / 2, formatted, strlen(formatted), with_extras ? &conf : NULL,
	                  with_extras ? "street" : NULL, with_extras ? 6 : 0);

	assert_non_null(a);
	return a;
}

static void assert_same_answer(const answer *got, const answer *want)
{
	assert_non_null(got);
	assert_int_equal(got->err, want->err);
	if (want->err != CB_OK)
		return; /* a NOT_FOUND's message is not kept */
	assert_true(got->result.lat == want->result.lat);
	assert_true(got->result.lon == want->result.lon);
	assert_int_equal(got->result.formatted.len, want->result.formatted.len);
	assert_string_equal(got->result.formatted.ptr, want->result.formatted.ptr);
	assert_int_equal(got->result.has_confidence, want->result.has_confidence);
	if (want->result.has_confidence)
		assert_true(got->result.confidence == want->result.confidence);
	assert_int_equal(got->result.result_type.ptr == NULL, want->result.result_type.ptr == NULL);
	if (want->result.result_type.ptr != NULL) {
		assert_int_equal(got->result.result_type.len, want->result.result_type.len);
		assert_string_equal(got->result.result_type.ptr, want->result.result_type.ptr);
	}
}

#define put(c, key, a)      cache_put(c, key, strlen(key), a)
#define expect_miss(c, key) assert_null(cache_get(c, key, strlen(key)))

static void expect_hit(cache *c, const char *key, const answer *want)
{
	answer *a = cache_get(c, key, strlen(key));

	assert_same_answer(a, want);
	answer_unref(a);
}

static cache_stats stats(cache *c)
{
	cache_stats st;

	cache_get_stats(c, &st);
	return st;
}

/* hits, negative hits, misses, database hits; a failure names the caller's line */
#define expect_counts(c, h, n, m, d) check_counts(c, h, n, m, d, __LINE__)
static void check_counts(cache *c, uint64_t h, uint64_t n, uint64_t m, uint64_t d, int line)
{
	cache_stats st = stats(c);

	_assert_int_equal(st.hits, h, __FILE__, line);
	_assert_int_equal(st.neg_hits, n, __FILE__, line);
	_assert_int_equal(st.misses, m, __FILE__, line);
	_assert_int_equal(st.db_hits, d, __FILE__, line);
}

static void test_put_then_get(void **state)
{
	cache *c = open_cache(16, NULL);
	answer *a = result("1 Main St", 48.5, true);

	(void)state;
	fake_ms = 5000;
	assert_null(cache_db_path(c));
	put(c, "main st", a);
	expect_hit(c, "main st", a);
	expect_miss(c, "main str");
	expect_miss(c, "main s"); /* a prefix of a stored key is another key */
	expect_hit(c, "main st", a);
	expect_counts(c, 2, 0, 2, 0);
	cache_stats st = stats(c);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.db_bytes, -1);
	answer_unref(a);
	cache_close(c);
}

static void test_ttl(void **state)
{
	cache *c = open_cache(16, NULL);
	answer *a = result("2 Oak Ave", 10.25, false);

	(void)state;
	fake_ms = 100000;
	put(c, "oak", a);
	fake_ms += TTL - 1;
	expect_hit(c, "oak", a);
	fake_ms += 2; /* TTL + 1 after the put */
	expect_miss(c, "oak");
	expect_counts(c, 1, 0, 1, 0);          /* the expired entry counts as a miss */
	assert_int_equal(stats(c).entries, 0); /* and is gone */
	answer_unref(a);
	cache_close(c);
}

static void test_negative_entries(void **state)
{
	cache *c = open_cache(16, NULL);
	answer *nf = answer_error(CB_ENOT_FOUND, "no result");
	answer *ue = answer_error(CB_EUPSTREAM_ERROR, "upstream said 500");
	answer *ok = result("3 Elm Rd", 1.5, true);

	(void)state;
	fake_ms = 7000;
	put(c, "nowhere", nf);
	put(c, "flaky", ue);
	put(c, "elm", ok);
	assert_int_equal(stats(c).entries, 2); /* the upstream error was not kept */
	expect_miss(c, "flaky");
	fake_ms += NEG_TTL - 1;
	expect_hit(c, "nowhere", nf);
	expect_counts(c, 0, 1, 1, 0);
	fake_ms += 2; /* NEG_TTL + 1: the negative entry is gone, the result is not */
	expect_miss(c, "nowhere");
	expect_hit(c, "elm", ok);
	expect_counts(c, 1, 1, 2, 0);
	answer_unref(nf);
	answer_unref(ue);
	answer_unref(ok);
	cache_close(c);
}

static void test_lru_eviction(void **state)
{
	cache *c = open_cache(2, NULL);
	answer *a = result("A", 1, false), *b = result("B", 2, false), *d = result("C", 3, false);

	(void)state;
	fake_ms = 1;
	put(c, "A", a);
	put(c, "B", b);
	expect_hit(c, "A", a); /* A is now the most recent: B is the coldest */
	put(c, "C", d);
	assert_int_equal(stats(c).evictions, 1);
	expect_miss(c, "B");
	expect_hit(c, "A", a);
	expect_hit(c, "C", d);
	expect_counts(c, 3, 0, 1, 0);
	assert_int_equal(stats(c).evictions, 1);
	assert_int_equal(stats(c).entries, 2);
	answer_unref(a);
	answer_unref(b);
	answer_unref(d);
	cache_close(c);
}

static char tmpdir[] = "/tmp/cb_cachemem.XXXXXX", dbpath[sizeof(tmpdir) + 16];

static int tmpdb_setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/cache.db", tmpdir);
	return 0;
}

static int tmpdb_teardown(void **state)
{
	static const char *const files[] = {"", "-wal", "-shm", "-journal"};
	char p[sizeof(dbpath) + 16];

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", dbpath, files[i]);
		unlink(p); /* the -wal and -shm are normally gone after the last close */
	}
	return rmdir(tmpdir); /* fails, and says so, if anything else was left */
}

static void test_database_across_reopen(void **state)
{
	answer *r = result("4 Pine Ln, Springfield", 40.123456789, true);
	answer *bare = result("", -33.5, false);
	answer *nf = answer_error(CB_ENOT_FOUND, "no result");
	cache *c = open_cache(16, dbpath);

	(void)state;
	fake_ms = 1700000000000ull;
	assert_non_null(cache_db_path(c)); /* really on disk, not fallen back to memory */
	cache_begin(c);
	put(c, "pine", r);
	put(c, "bare", bare);
	put(c, "nowhere", nf);
	cache_commit(c);
	assert_true(stats(c).db_bytes > 0);
	cache_close(c);

	fake_ms += NEG_TTL / 2; /* every entry still fresh, the negative one too */
	c = open_cache(16, dbpath);
	assert_int_equal(stats(c).entries, 0); /* nothing loaded up front */
	expect_hit(c, "pine", r);
	expect_hit(c, "bare", bare);
	expect_hit(c, "nowhere", nf);
	expect_miss(c, "elsewhere");
	expect_counts(c, 2, 1, 1, 3);
	assert_int_equal(stats(c).entries, 3);
	expect_hit(c, "pine", r); /* now from memory */
	expect_counts(c, 3, 1, 1, 3);
	cache_close(c);

	fake_ms += TTL - NEG_TTL / 2 + 1; /* TTL + 1 after the put */
	c = open_cache(16, dbpath);
	expect_miss(c, "pine");
	expect_miss(c, "bare");
	expect_counts(c, 0, 0, 2, 0);
	cache_close(c);
	answer_unref(r);
	answer_unref(bare);
	answer_unref(nf);
}

static void test_peek(void **state)
{
	cache *c = open_cache(2, NULL);
	answer *a = result("5 Birch Ct", 7, true), *b = result("B", 8, false);
	answer *d = result("C", 9, false), *p;

	(void)state;
	fake_ms = 42;
	put(c, "A", a);
	put(c, "B", b);
	unsigned refs = a->refs;
	p = cache_peek(c, "A", 1);
	assert_same_answer(p, a);
	assert_int_equal(a->refs, refs + 1); /* a new reference, owned by the caller */
	assert_null(cache_peek(c, "nope", 4));
	expect_counts(c, 1, 0, 0, 0); /* a peek miss is not counted */
	expect_miss(c, "nope");
	expect_counts(c, 1, 0, 1, 0); /* the cache_get that follows counts it */
	put(c, "C", d);               /* the peek promoted A: B goes */
	assert_null(cache_peek(c, "B", 1));
	answer_unref(a);
	cache_close(c);
	assert_same_answer(p, a); /* the peeked reference outlives the cache */
	assert_int_equal(p->refs, 1);
	answer_unref(p);
	answer_unref(b);
	answer_unref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_then_get),
	    cmocka_unit_test(test_ttl),
	    cmocka_unit_test(test_negative_entries),
	    cmocka_unit_test(test_lru_eviction),
	    cmocka_unit_test_setup_teardown(test_database_across_reopen, tmpdb_setup,
	                                    tmpdb_teardown),
	    cmocka_unit_test(test_peek),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
