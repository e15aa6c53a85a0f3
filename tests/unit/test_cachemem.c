/* test_cachemem.c: the answer cache under a fake clock — hits and misses, TTLs, negative
 * entries, LRU eviction, the SQLite store across a reopen, cache_peek's counting; the store's
 * checksums, its migration of an older schema, the expiry sweep, backoff, damaged files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "cache.h"
#include "store.h"

#define TTL     1000
#define NEG_TTL 100
#define BUSY_MS 50 /* a held lock fails a statement after this, not after the server's 2 s */

static uint64_t fake_ms;

static uint64_t fake_now(void)
{
	return fake_ms;
}

static cache *open_cache_ttl(size_t max_entries, const char *db_path, uint64_t ttl)
{
	cache_config cfg = {.max_entries = max_entries,
	                    .ttl_ms = ttl,
	                    .neg_ttl_ms = NEG_TTL,
	                    .db_path = db_path,
	                    .now_ms = fake_now,
	                    .busy_timeout_ms = BUSY_MS};
	cache *c = NULL;

	assert_int_equal(cache_open(&c, &cfg), 0);
	assert_non_null(c);
	return c;
}

static cache *open_cache(size_t max_entries, const char *db_path)
{
	return open_cache_ttl(max_entries, db_path, TTL);
}

/* For tests whose clock runs through backoffs: longer than they last. */
#define LONG_TTL 3600000

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

#define TMPDIR_TEMPLATE "/tmp/cb_cachemem.XXXXXX"
static char tmpdir[] = TMPDIR_TEMPLATE, dbpath[sizeof(tmpdir) + 16];

static int tmpdb_setup(void **state)
{
	(void)state;
	memcpy(tmpdir, TMPDIR_TEMPLATE, sizeof(tmpdir)); /* mkdtemp wrote over the last one */
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(dbpath, sizeof(dbpath), "%s/cache.db", tmpdir);
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Everything the test left: the database, its -wal and -shm, files moved aside. */
static int tmpdb_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_database_across_reopen(void **state)
{
	answer *r = result("4 Pine Ln, Springfield", 40.123456789, true);
	answer *bare = result("", -33.5, false);
	answer *nf = answer_error(CB_ENOT_FOUND, "no result");
	cache *c = open_cache(16, dbpath);

	(void)state;
	fake_ms = 1700000000000ull;
	assert_non_null(cache_db_path(c));
	assert_int_equal(stats(c).db_state, CACHE_DB_OK); /* really on disk, not in backoff */
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

/* ------------------------------------------------------------ integrity, migration, sweep, backoff
 */

/* The test's own connection to the cache's file, for what the cache must not be asked to do. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 1000);
	return db;
}

static void raw_exec(const char *sql)
{
	sqlite3 *db = raw_open(dbpath);
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

/* The first column of the first row of sql, an integer. */
static int64_t raw_int(const char *sql)
{
	sqlite3 *db = raw_open(dbpath);
	sqlite3_stmt *q = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* The whole file, or NULL. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf != NULL)
		*len = (size_t)n;
	if (f != NULL)
		fclose(f);
	return buf;
}

#define ROWS_OF(k) "SELECT count(*) FROM answers WHERE key = CAST('" k "' AS BLOB)"
#define PINE       " WHERE key = CAST('pine' AS BLOB)"

/* Writes "pine" (a result with every field) and "nowhere" (NOT_FOUND) and closes. */
static void store_two(const answer *r, const answer *nf)
{
	cache *c = open_cache(16, dbpath);

	cache_begin(c);
	put(c, "pine", (answer *)r);
	put(c, "nowhere", (answer *)nf);
	cache_commit(c);
	assert_int_equal(stats(c).db_written, 2);
	cache_close(c);
}

/* After damage: key reads as a miss, counted as corrupt, and its row is gone; the other stays. */
static void expect_corrupt(const char *key, const char *other, const answer *want, int line)
{
	cache *c = open_cache(16, dbpath);
	char sql[128];

	if (cache_get(c, key, strlen(key)) != NULL)
		fail_msg("line %d: a damaged row was served", line);
	_assert_int_equal(stats(c).corrupt, 1, __FILE__, line);
	_assert_int_equal(stats(c).misses, 1, __FILE__, line);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM answers WHERE key = CAST('%s' AS BLOB)",
	         key);
	_assert_int_equal(raw_int(sql), 0, __FILE__, line); /* deleted */
	_assert_int_equal(raw_int("SELECT count(*) FROM answers"), 1, __FILE__, line);
	expect_hit(c, other, want);
	cache_close(c);
}

/* Each stored field is under the checksum: a change to any one of them is a miss, not an answer. */
static void test_checksum_covers_every_column(void **state)
{
	static const char *const damage[] = {
	    "UPDATE answers SET expires_ms = expires_ms + 1" PINE,
	    "UPDATE answers SET found = 0" PINE,
	    "UPDATE answers SET lat = lat + 1e-9" PINE,
	    "UPDATE answers SET lon = -lon" PINE,
	    "UPDATE answers SET formatted = 'X' || substr(formatted, 2)" PINE,
	    "UPDATE answers SET confidence = NULL" PINE,
	    "UPDATE answers SET result_type = 'house'" PINE,
	    "UPDATE answers SET checksum = checksum + 1" PINE,
	};
	answer *r = result("4 Pine Ln, Springfield", 40.123456789, true);
	answer *nf = answer_error(CB_ENOT_FOUND, "no result");

	(void)state;
	fake_ms = 1700000000000ull;
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		store_two(r, nf);
		raw_exec(damage[i]);
		print_message("%s\n", damage[i]);
		expect_corrupt("pine", "nowhere", nf, __LINE__);
	}
	/* a NOT_FOUND turned into a result, and a row moved to another key */
	store_two(r, nf);
	raw_exec("UPDATE answers SET found = 1 WHERE key = CAST('nowhere' AS BLOB)");
	expect_corrupt("nowhere", "pine", r, __LINE__);
	store_two(r, nf);
	raw_exec("UPDATE answers SET key = CAST('pinf' AS BLOB)" PINE);
	expect_corrupt("pinf", "nowhere", nf, __LINE__);
	answer_unref(r);
	answer_unref(nf);
}

/* The damage: one byte of a stored coordinate flipped in the file itself. */
static void test_flipped_byte_in_file(void **state)
{
	answer *r = result("4 Pine Ln, Springfield", 40.123456789, true);
	answer *nf = answer_error(CB_ENOT_FOUND, "no result");
	unsigned char be[8], *hit;
	uint64_t bits;
	size_t len;
	char *file;
	FILE *f;

	(void)state;
	fake_ms = 1700000000000ull;
	store_two(r, nf); /* the last close checkpoints: the rows are in the main file */
	memcpy(&bits, &r->result.lat, sizeof(bits));
	for (int i = 0; i < 8; i++)
		be[i] = (unsigned char)(bits >> (56 - 8 * i)); /* SQLite stores a REAL big-endian */
	assert_non_null(file = slurp(dbpath, &len));
	assert_non_null(hit = memmem(file, len, be, sizeof(be)));
	assert_null(memmem(hit + 1, len - (size_t)(hit + 1 - (unsigned char *)file), be, 8));
	hit[7] ^= 0x01; /* the lowest bit of the mantissa: 40.123456789 becomes 40.12345678900001 */
	assert_non_null(f = fopen(dbpath, "r+b"));
	assert_int_equal(fwrite(file, 1, len, f), len);
	fclose(f);
	free(file);
	expect_corrupt("pine", "nowhere", nf, __LINE__);
	answer_unref(r);
	answer_unref(nf);
}

/*
 * A database of the version before checksums: the column is added, its rows
 * read as misses (counted as unverified, asked upstream again) and their new
 * answers are kept with a checksum.
 */
static void test_old_schema_migrates(void **state)
{
	answer *r = result("Old Street, rewritten", 12.5, true);
	cache *c;

	(void)state;
	raw_exec("PRAGMA journal_mode=WAL;"
	         "CREATE TABLE answers(key BLOB PRIMARY KEY, expires_ms INTEGER NOT NULL,"
	         " found INTEGER NOT NULL, lat REAL, lon REAL, formatted TEXT, confidence REAL,"
	         " result_type TEXT) WITHOUT ROWID;"
	         "INSERT INTO answers VALUES (CAST('old' AS BLOB), 9000000000000000, 1, 1.5, 2.5,"
	         " 'Old St', NULL, NULL), (CAST('gone' AS BLOB), 9000000000000000, 0, NULL, NULL,"
	         " NULL, NULL, NULL);");
	fake_ms = 1700000000000ull;
	c = open_cache(16, dbpath);
	assert_int_equal(stats(c).db_state, CACHE_DB_OK);
	assert_int_equal(
	    raw_int("SELECT count(*) FROM pragma_table_info('answers') WHERE name = 'checksum'"),
	    1);
	expect_miss(c, "old");
	expect_miss(c, "gone");
	assert_int_equal(stats(c).unverified, 2);
	assert_int_equal(stats(c).corrupt, 0);
	cache_begin(c);
	put(c, "old", r); /* as the upstream's answer would be */
	cache_commit(c);
	cache_close(c);
	c = open_cache(16, dbpath); /* a second open finds the column there */
	expect_hit(c, "old", r);
	expect_counts(c, 1, 0, 0, 1);
	assert_int_equal(raw_int("SELECT count(*) FROM answers"), 2);
	cache_close(c);
	answer_unref(r);
}

/*
 * Expired rows go STORE_SWEEP_ROWS keys at a time, one window per commit;
 * fresh ones stay. The commit that wrote the 600 already looked at the first
 * window (nothing had expired then), so the sweep goes on from row 256.
 */
static void test_expired_rows_swept(void **state)
{
	const int n = 600, w = STORE_SWEEP_ROWS;
	const int deleted[4] = {w, n - w, n, n}; /* rows 256-511; 512-599, wrap; 0-255; none */
	answer *r = result("Sweep St", 3, false);
	cache *c = open_cache(16, dbpath);
	char key[32];

	(void)state;
	fake_ms = 1700000000000ull;
	cache_begin(c);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%04d", i);
		put(c, key, r);
	}
	cache_commit(c);
	assert_int_equal(stats(c).expired_deleted, 0);
	fake_ms += TTL + 1;
	for (int round = 1; round <= 4; round++) {
		snprintf(key, sizeof(key), "zz fresh %d", round);
		cache_begin(c);
		put(c, key, r);
		cache_commit(c);
		assert_int_equal(stats(c).expired_deleted, deleted[round - 1]);
		assert_int_equal(raw_int("SELECT count(*) FROM answers"),
		                 n - deleted[round - 1] + round);
	}
	assert_int_equal(raw_int("SELECT count(*) FROM answers WHERE key >= CAST('zz' AS BLOB)"),
	                 4);
	cache_close(c);
	answer_unref(r);
}

/* The write lock held elsewhere past the busy timeout: backoff 1 s, 2 s, 4 s; nothing is lost. */
static void test_locked_database_backs_off(void **state)
{
	answer *r = result("Locked Rd", 5, true);
	cache *c;
	sqlite3 *lock;

	(void)state;
	fake_ms = 1700000000000ull;
	c = open_cache_ttl(1, dbpath, LONG_TTL);
	lock = raw_open(dbpath);
	assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	cache_begin(c);
	put(c, "locked", r);
	cache_commit(c); /* waits BUSY_MS for the lock, then fails */
	assert_int_equal(stats(c).db_state, CACHE_DB_BACKOFF);
	assert_int_equal(stats(c).db_errors, 1);
	assert_int_equal(stats(c).db_unwritten, 1);
	fake_ms += STORE_BACKOFF_MIN_MS - 1;
	cache_commit(c); /* too early: not tried */
	assert_int_equal(stats(c).db_errors, 1);
	fake_ms += 1;
	cache_commit(c); /* tried, fails again: the next try is 2 s away */
	assert_int_equal(stats(c).db_errors, 2);
	fake_ms += STORE_BACKOFF_MIN_MS;
	cache_commit(c);
	expect_miss(c, "elsewhere"); /* neither tries the database */
	assert_int_equal(stats(c).db_errors, 2);
	fake_ms -= 3600000; /* the wall clock steps back an hour: no hour of waiting */
	cache_commit(c);
	assert_int_equal(stats(c).db_errors, 3); /* the next try is 4 s away */
	assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(lock);
	fake_ms += 3 * STORE_BACKOFF_MIN_MS;
	cache_commit(c);
	assert_int_equal(stats(c).db_state, CACHE_DB_BACKOFF);
	fake_ms += STORE_BACKOFF_MIN_MS;
	cache_commit(c);
	assert_int_equal(stats(c).db_state, CACHE_DB_OK);
	assert_int_equal(stats(c).db_unwritten, 0);
	assert_int_equal(stats(c).db_written, 1);
	assert_int_equal(raw_int(ROWS_OF("locked")), 1);
	cache_close(c);
	answer_unref(r);
}

/* A database that cannot even be opened is tried again, not given up on. */
static void test_unopenable_database_retried(void **state)
{
	answer *r = result("Later Ave", 6, false);
	char blocker[sizeof(tmpdir) + 16], path[sizeof(tmpdir) + 32];
	cache *c;
	FILE *f;

	(void)state;
	fake_ms = 1700000000000ull;
	snprintf(blocker, sizeof(blocker), "%s/sub", tmpdir);
	snprintf(path, sizeof(path), "%s/cache.db", blocker);
	assert_non_null(f = fopen(blocker, "w")); /* a file where its directory must go */
	fclose(f);
	c = open_cache_ttl(16, path, LONG_TTL);
	assert_int_equal(stats(c).db_state, CACHE_DB_BACKOFF);
	cache_begin(c);
	put(c, "later", r);
	cache_commit(c);
	assert_int_equal(stats(c).db_unwritten, 1);
	assert_int_equal(unlink(blocker), 0);
	fake_ms += STORE_BACKOFF_MIN_MS;
	cache_commit(c);
	assert_int_equal(stats(c).db_state, CACHE_DB_OK);
	assert_int_equal(stats(c).db_written, 1);
	cache_close(c);
	c = open_cache_ttl(16, path, LONG_TTL);
	expect_hit(c, "later", r);
	cache_close(c);
	answer_unref(r);
}

/* Opens dbpath, which is damaged: the cache must move it to aside and work on a new file. */
static void expect_moved_aside(const char *aside, size_t aside_len, const answer *r)
{
	struct stat sb;
	cache *c = open_cache(16, dbpath);

	assert_int_equal(stats(c).db_state, CACHE_DB_OK);
	assert_int_equal(stat(aside, &sb), 0);
	assert_int_equal((size_t)sb.st_size, aside_len); /* the damaged file, kept as it was */
	cache_begin(c);
	put(c, "pine", (answer *)r);
	cache_commit(c);
	cache_close(c);
	c = open_cache(16, dbpath);
	expect_hit(c, "pine", r);
	cache_close(c);
}

/* A file that is no database, then one whose b-tree is damaged: moved aside, a new one made. */
static void test_corrupt_file_moved_aside(void **state)
{
	answer *r = result("4 Pine Ln, Springfield", 40.5, true);
	char aside[sizeof(dbpath) + 64], key[32], *file;
	size_t len;
	cache *c;
	FILE *f;

	(void)state;
	fake_ms = 1700000000000ull; /* 2023-11-14 22:13:20 UTC */
	assert_non_null(f = fopen(dbpath, "w"));
	for (int i = 0; i < 300; i++)
		fputs("this is not an SQLite database ", f);
	fclose(f);
	snprintf(aside, sizeof(aside), "%s.corrupt-20231114T221320Z", dbpath);
	expect_moved_aside(aside, 300 * 31, r);

	c = open_cache(16, dbpath); /* enough rows for a b-tree of several pages */
	cache_begin(c);
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "row %04d", i);
		put(c, key, r);
	}
	cache_commit(c);
	cache_close(c);
	assert_non_null(file = slurp(dbpath, &len));
	assert_true(len >= 4 * 4096);
	memset(file + 2 * 4096 + 8, 0x5a, 64); /* inside page 3: cell pointers of a leaf */
	assert_non_null(f = fopen(dbpath, "r+b"));
	assert_int_equal(fwrite(file, 1, len, f), len);
	fclose(f);
	free(file);
	/* the same second: the second file moved aside gets a suffix */
	snprintf(aside, sizeof(aside), "%s.corrupt-20231114T221320Z-1", dbpath);
	expect_moved_aside(aside, len, r);
	answer_unref(r);
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
	    cmocka_unit_test_setup_teardown(test_checksum_covers_every_column, tmpdb_setup,
	                                    tmpdb_teardown),
	    cmocka_unit_test_setup_teardown(test_flipped_byte_in_file, tmpdb_setup, tmpdb_teardown),
	    cmocka_unit_test_setup_teardown(test_old_schema_migrates, tmpdb_setup, tmpdb_teardown),
	    cmocka_unit_test_setup_teardown(test_expired_rows_swept, tmpdb_setup, tmpdb_teardown),
	    cmocka_unit_test_setup_teardown(test_locked_database_backs_off, tmpdb_setup,
	                                    tmpdb_teardown),
	    cmocka_unit_test_setup_teardown(test_unopenable_database_retried, tmpdb_setup,
	                                    tmpdb_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_file_moved_aside, tmpdb_setup,
	                                    tmpdb_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
