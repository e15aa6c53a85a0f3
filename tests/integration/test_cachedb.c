/* test_cachedb.c: the cache's database under damage and sharing — bytes flipped in stored answers
 * (main file and WAL) while the server runs, two servers on one file, a lock held too long. */
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sqlite3.h>

#include "harness.h"

#define TIMEOUT_MS 60000

/* ------------------------------------------------------------ calls and their right answers */

/* What the mock itself answers for one text: the only right answer. */
typedef struct want {
	double lat, lon;
	char *formatted;
} want;

typedef struct batch {
	int n;
	char (*text)[64];
	it_call *calls;
	want *want;
} batch;

static size_t to_buf(char *d, size_t size, size_t n, void *arg)
{
	char **buf = arg;
	size_t have = *buf ? strlen(*buf) : 0;
	char *p = realloc(*buf, have + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + have, d, size * n);
	p[have + size * n] = '\0';
	*buf = p;
	return size * n;
}

/*
 * The mock's own single-lookup answer for text, as it_mock_lookup asks it,
 * over one kept-alive connection (h): tens of thousands of lookups, each on
 * a new connection, took 39 s under ASan.
 */
static int mock_lookup(CURL *h, unsigned port, const char *text, want *w)
{
	char url[512], *esc = curl_easy_escape(h, text, 0), *body = NULL;
	json_t *j = NULL, *first;
	int rv = -1;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/geocode/search?format=json&text=%s",
	         port, esc);
	curl_free(esc);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(h) != CURLE_OK || body == NULL ||
	    (j = json_loads(body, 0, NULL)) == NULL)
		goto out;
	first = json_array_get(json_object_get(j, "results"), 0);
	if (first == NULL || json_string_value(json_object_get(first, "formatted")) == NULL)
		goto out;
	w->lat = json_number_value(json_object_get(first, "lat"));
	w->lon = json_number_value(json_object_get(first, "lon"));
	w->formatted = strdup(json_string_value(json_object_get(first, "formatted")));
	rv = w->formatted != NULL ? 0 : -1;
out:
	json_decref(j);
	free(body);
	return rv;
}

/* n geocode calls "<prefix> <i> Checksum Road" for i = first …, and the mock's answer to each. */
static batch *batch_new(it_env *e, const char *prefix, int first, int n)
{
	batch *b = calloc(1, sizeof(*b));
	CURL *h = curl_easy_init();
	it_place p;

	b->n = n;
	b->text = calloc((size_t)n, sizeof(*b->text));
	b->calls = calloc((size_t)n, sizeof(*b->calls));
	b->want = calloc((size_t)n, sizeof(*b->want));
	for (int i = 0; i < n; i++) {
		snprintf(b->text[i], sizeof(b->text[0]), "%s %05d Checksum Road", prefix,
		         first + i);
		b->calls[i] = (it_call){.fn = CB_FN_GEOCODE, .text = b->text[i], .id = (uint64_t)i};
		if (mock_lookup(h, e->mock_port, b->text[i], &b->want[i]) != 0)
			fail_msg("the mock has no answer for %s", b->text[i]);
	}
	curl_easy_cleanup(h);
	/* the same as the harness's own lookup */
	assert_int_equal(it_mock_lookup(e, b->text[0], &p), 0);
	assert_true(p.lat == b->want[0].lat && p.lon == b->want[0].lon);
	assert_string_equal(p.formatted, b->want[0].formatted);
	return b;
}

static void batch_free(batch *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->want[i].formatted);
	free(b->want);
	free(b->calls);
	free(b->text);
	free(b);
}

typedef struct outcome {
	int wrong, failed, cached;
} outcome;

/* Sends every call of b at once to url and compares each answer with the mock's, bit for bit. */
static outcome ask(const char *url, const batch *b)
{
	it_reply *r = calloc((size_t)b->n, sizeof(*r));
	outcome o = {0};

	if (it_calls(url, b->calls, (size_t)b->n, r, TIMEOUT_MS) != 0)
		o.failed = b->n;
	for (int i = 0; i < b->n && o.failed < b->n; i++) {
		const want *w = &b->want[i];
		const cb_wire_result *res = &r[i].rep.result;
		if (!r[i].decoded || r[i].rep.id != b->calls[i].id || r[i].rep.err != CB_OK) {
			o.failed++;
			continue;
		}
		o.cached += r[i].rep.meta.cached;
		if (res->lat != w->lat || res->lon != w->lon ||
		    res->formatted.len != strlen(w->formatted) ||
		    memcmp(res->formatted.ptr, w->formatted, res->formatted.len) != 0) {
			if (o.wrong++ < 3)
				print_message("WRONG %s: %.17g,%.17g '%.*s' (mock: %.17g,%.17g)\n",
				              b->text[i], res->lat, res->lon,
				              (int)res->formatted.len, res->formatted.ptr, w->lat,
				              w->lon);
		}
	}
	it_replies_free(r, (size_t)b->n);
	free(r);
	return o;
}

typedef struct ask_job {
	const char *url;
	const batch *b;
	outcome o;
	pthread_t t;
} ask_job;

static void *ask_thread(void *arg)
{
	ask_job *j = arg;

	j->o = ask(j->url, j->b);
	return NULL;
}

/* ------------------------------------------------------------ the server's cache stats */

/* A key of the stats' cache map: a number, or for a string 1 when it equals str, else 0. */
static long cache_stat(const char *url, const char *key, const char *str)
{
	const msgpack_object *v;
	it_reply s;
	long rv = -1;

	if (it_stats(url, &s, 5000) == 0) {
		v = it_mp_get(it_mp_get(&s.rep.stats, "cache"), key);
		if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			rv = (long)v->via.u64;
		else if (v->type == MSGPACK_OBJECT_STR && str != NULL)
			rv = v->via.str.size == strlen(str) &&
			     memcmp(v->via.str.ptr, str, v->via.str.size) == 0;
	}
	it_replies_free(&s, 1);
	return rv;
}

/* Waits until the cache's key is at least min; its value, or -1 after timeout_ms. */
static long wait_cache_stat(const char *url, const char *key, long min, int timeout_ms)
{
	char path[64];

	snprintf(path, sizeof(path), "cache.%s", key);
	if (it_wait_stat(url, path, min, LONG_MAX, timeout_ms) != 0)
		return -1;
	return cache_stat(url, key, NULL);
}

/* ------------------------------------------------------------ a second server on the same file */

static it_env second; /* stopped by the teardown whatever happened */

/* One more cellbatchd with e's upstream and cache file, on a socket of its own. */
static int start_second(it_env *e, const char *cache_entries)
{
	second = *e;
	second.server = 0;
	snprintf(second.url, sizeof(second.url), "ipc://%s/second.sock", e->dir);
	snprintf(second.server_log, sizeof(second.server_log), "%s/server2.log", e->dir);
	return it_start_server(&second, "--cache-entries", cache_entries, "--rate", "50", "--burst",
	                       "50", NULL);
}

static int teardown(void **state)
{
	it_stop(&second.server, SIGTERM, 5000);
	return it_teardown(state);
}

static long rows_in(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	long n = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM answers", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

/* ------------------------------------------------------------ bytes flipped in stored answers */

typedef struct damage {
	int rows;    /* rows with at least one copy damaged */
	int in_main; /* rows damaged in the main file */
	int in_wal;  /* rows damaged in the WAL */
	int shared;  /* rows left alone: another row holds the same value */
} damage;

/* Flips byte 4 of every copy of pat in buf (a file's bytes) through fd; how many copies. */
static int flip_copies(int fd, const char *buf, size_t len, const unsigned char pat[8])
{
	unsigned char flipped = pat[4] ^ 0x10; /* mid-mantissa: the place moves ~1e-7 degrees */
	const char *p = buf;
	int n = 0;

	while (buf != NULL && (p = memmem(p, len - (size_t)(p - buf), pat, 8)) != NULL) {
		if (pwrite(fd, &flipped, 1, (off_t)(p - buf) + 4) == 1)
			n++;
		p += 8;
	}
	return n;
}

/* How many lat and lon values of b equal v. */
static int copies_of(const batch *b, double v)
{
	int n = 0;

	for (int i = 0; i < b->n; i++)
		n += (b->want[i].lat == v) + (b->want[i].lon == v);
	return n;
}

/*
 * Damages every tenth row of b (from row first): one byte of its stored lat,
 * or of its lon every other time, in every copy in the main file and the WAL,
 * written through descriptors of the test's own while the server has both
 * files open. SQLite stores a REAL as 8 big-endian bytes. The mock has only
 * 130,000 latitudes: a value that another row (of b or other) also holds is
 * left alone, so that the damaged rows are exactly those counted.
 */
static void flip_rows(const char *db, const char *wal, const batch *b, int first,
                      const batch *other, damage *d)
{
	size_t mlen = 0, wlen = 0;
	char *mbuf = it_slurp(db, &mlen), *wbuf = it_slurp(wal, &wlen);
	int mfd = open(db, O_WRONLY), wfd = open(wal, O_WRONLY);
	unsigned char pat[8];
	uint64_t bits;

	assert_true(mbuf != NULL && mfd >= 0);
	for (int i = first; i < b->n; i += 10) {
		double v = (i / 10) % 2 ? b->want[i].lon : b->want[i].lat;
		if (copies_of(b, v) + copies_of(other, v) > 1) {
			d->shared++;
			continue;
		}
		memcpy(&bits, &v, sizeof(bits));
		for (int k = 0; k < 8; k++)
			pat[k] = (unsigned char)(bits >> (56 - 8 * k));
		int m = flip_copies(mfd, mbuf, mlen, pat);
		int w = wfd >= 0 ? flip_copies(wfd, wbuf, wlen, pat) : 0;
		d->in_main += m > 0;
		d->in_wal += w > 0;
		d->rows += m + w > 0;
	}
	free(mbuf);
	free(wbuf);
	close(mfd);
	if (wfd >= 0)
		close(wfd);
}

static void expect_right(const char *what, outcome o, int n)
{
	print_message("%s: %d calls, %d wrong, %d failed, %d cached\n", what, n, o.wrong, o.failed,
	              o.cached);
	assert_int_equal(o.failed, 0);
	assert_int_equal(o.wrong, 0);
}

/*
 * Rows of A in the main file (written by a server that then stopped), rows
 * of B in the WAL (written by a second server while the first ran). Bytes
 * flipped in both while the first runs: it serves no wrong answer, and
 * exactly the damaged rows go upstream again. The first server's SQLite page
 * cache was emptied by the second's writes, so its reads see the files.
 */
static void test_flipped_bytes_refetched(void **state)
{
	it_env *e = *state;
	char db[300], wal[320];
	damage d = {0};
	struct stat sb;
	long items;
	batch *a, *b;

	snprintf(db, sizeof(db), "%s/cache.db", e->dir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	a = batch_new(e, "alpha", 0, 2000);
	b = batch_new(e, "beta", 0, 2000); /* its keys sort after A's: its pages are others */
	assert_int_equal(it_start_server(e, "--cache-entries", "10", NULL), 0);
	expect_right("A, first", ask(e->url, a), a->n);
	assert_int_equal(wait_cache_stat(e->url, "db_written", 2000, 10000), 2000);
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000),
	                 0); /* checkpoint: A in the main file */
	assert_true(stat(wal, &sb) != 0 || sb.st_size == 0);

	assert_int_equal(it_start_server(e, "--cache-entries", "10", NULL), 0);
	assert_int_equal(start_second(e, "10"), 0);
	expect_right("B, first, second server", ask(second.url, b), b->n);
	assert_int_equal(wait_cache_stat(second.url, "db_written", 2000, 10000), 2000);
	assert_int_equal(it_stop(&second.server, SIGTERM, 10000), 0); /* the first keeps the WAL */
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);

	flip_rows(db, wal, a, 0, b, &d);
	flip_rows(db, wal, b, 5, a, &d);
	print_message("damaged %d rows: %d in the main file, %d in the WAL (%d left alone)\n",
	              d.rows, d.in_main, d.in_wal, d.shared);
	/* of 200 each: less the shared values, and integral REALs (stored shorter) */
	assert_true(d.in_main >= 180 && d.in_wal >= 180);
	items = it_mock_stat(e, "items");
	expect_right("A, after the damage", ask(e->url, a), a->n);
	expect_right("B, after the damage", ask(e->url, b), b->n);
	assert_int_equal(cache_stat(e->url, "corrupt", NULL), d.rows);
	assert_int_equal(it_mock_stat(e, "items") - items, d.rows); /* those, and only those */
	print_message("re-fetched %ld items\n", it_mock_stat(e, "items") - items);

	/* their answers were written again: a third round is all cache, and right */
	assert_int_equal(wait_cache_stat(e->url, "db_written", d.rows, 10000), d.rows);
	expect_right("A, again", ask(e->url, a), a->n);
	expect_right("B, again", ask(e->url, b), b->n);
	assert_int_equal(it_mock_stat(e, "items") - items, d.rows);
	assert_int_equal(cache_stat(e->url, "corrupt", NULL), d.rows);
	batch_free(a);
	batch_free(b);
}

/* ------------------------------------------------------------ two servers, one file */

/* n calls of all from first on, sharing its arrays. */
static batch view(const batch *all, int first, int n)
{
	return (batch){n, all->text + first, all->calls + first, all->want + first};
}

/* Both servers' calls at once, each from a thread of its own; their outcomes in o. */
static void ask_both(const char *url1, const batch *b1, const char *url2, const batch *b2,
                     const char *what, outcome o[2])
{
	ask_job j[2] = {{.url = url1, .b = b1}, {.url = url2, .b = b2}};
	char label[64];

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&j[i].t, NULL, ask_thread, &j[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(j[i].t, NULL);
		snprintf(label, sizeof(label), "%s, server %d", what, i + 1);
		expect_right(label, j[i].o, j[i].b->n);
		o[i] = j[i].o;
	}
}

/* Every answer the server fetched was written, and nothing switched its database off. */
static void expect_kept_writing(const char *url, long rows)
{
	assert_int_equal(wait_cache_stat(url, "db_written", rows, 20000), rows);
	print_message("%s: db_written %ld, db_errors %ld, db_unwritten %ld, corrupt %ld\n", url,
	              cache_stat(url, "db_written", NULL), cache_stat(url, "db_errors", NULL),
	              cache_stat(url, "db_unwritten", NULL), cache_stat(url, "corrupt", NULL));
	assert_int_equal(cache_stat(url, "db_state", "ok"), 1);
	assert_int_equal(cache_stat(url, "db_unwritten", NULL), 0);
	assert_int_equal(cache_stat(url, "db_dropped", NULL), 0);
	assert_int_equal(cache_stat(url, "corrupt", NULL), 0);
}

/*
 * The second case: two servers on one file, 15,000 different calls
 * each, at once. Both keep writing (no error switches either off), every
 * answer lands in the file, none is wrong, and each server then finds the
 * other's rows.
 */
static void test_two_servers_one_database(void **state)
{
	it_env *e = *state;
	const int n = 15000;
	char db[300];
	double t0, t1, t2;
	batch *all, one, two;
	outcome o[2];

	snprintf(db, sizeof(db), "%s/cache.db", e->dir);
	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	t0 = it_now_ms();
	all = batch_new(e, "shared", 0, 2 * n);
	t1 = it_now_ms();
	one = view(all, 0, n);
	two = view(all, n, n);
	assert_int_equal(
	    it_start_server(e, "--cache-entries", "1000", "--rate", "50", "--burst", "50", NULL),
	    0);
	assert_int_equal(start_second(e, "1000"), 0);
	ask_both(e->url, &one, second.url, &two, "first round", o);
	t2 = it_now_ms();
	assert_int_equal(o[0].cached + o[1].cached, 0);
	assert_int_equal(it_mock_stat(e, "items"), 2 * n);
	expect_kept_writing(e->url, n);
	expect_kept_writing(second.url, n);
	/* crosswise: each is asked the other's texts, and finds the other's rows */
	ask_both(e->url, &two, second.url, &one, "second round, crosswise", o);
	assert_int_equal(o[0].cached + o[1].cached, 2 * n);
	assert_int_equal(it_mock_stat(e, "items"), 2 * n);
	assert_int_equal(it_stop(&second.server, SIGTERM, 10000), 0);
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000), 0);
	assert_int_equal(rows_in(db), 2 * n);
	print_message("rows in the file: %ld of %d texts; mock lookups %.0f ms, first round %.0f "
	              "ms, all with the servers %.0f ms\n",
	              rows_in(db), 2 * n, t1 - t0, t2 - t1, it_now_ms() - t1);
	batch_free(all);
}

/* ------------------------------------------------------------ a lock held past the busy timeout */

/*
 * Another process holds the write lock for longer than the server's busy
 * timeout (2 s): the write fails, the server goes on in memory (one warning),
 * tries again after its backoff and writes every row it kept, the ones of
 * the failed batch too. The database is not switched off for good.
 */
static void test_locked_database_recovers(void **state)
{
	it_env *e = *state;
	char db[300], *log;
	batch *b, one;
	sqlite3 *lock = NULL;
	int calls = 0;

	snprintf(db, sizeof(db), "%s/cache.db", e->dir);
	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	b = batch_new(e, "locked", 0, 1100);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(sqlite3_open(db, &lock), SQLITE_OK);
	assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	one = view(b, 0, 1000);
	expect_right("under the lock", ask(e->url, &one), one.n); /* answered all the same */
	assert_int_equal(wait_cache_stat(e->url, "db_errors", 1, 10000), 1);
	assert_int_equal(cache_stat(e->url, "db_state", "backoff"), 1);
	assert_int_equal(cache_stat(e->url, "db_unwritten", NULL), 1000);
	assert_int_equal(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(lock);
	/* one new call at a time, until a commit comes after the backoff and writes */
	while (cache_stat(e->url, "db_state", "ok") != 1 && calls < 100) {
		one = view(b, 1000 + calls++, 1);
		expect_right("after the lock", ask(e->url, &one), 1);
	}
	print_message("%d more calls until a write after the backoff\n", calls);
	assert_int_equal(cache_stat(e->url, "db_written", NULL), 1000 + calls);
	assert_int_equal(cache_stat(e->url, "db_unwritten", NULL), 0);
	assert_int_equal(cache_stat(e->url, "db_errors", NULL), 1);
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000), 0);
	assert_int_equal(rows_in(db), 1000 + calls);
	log = it_slurp(e->server_log, NULL);
	assert_non_null(strstr(log, "write: database is locked; caching in memory only"));
	assert_non_null(strstr(log, "working again (1 errors since start)"));
	free(log);
	batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_flipped_bytes_refetched, it_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_servers_one_database, it_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_locked_database_recovers, it_setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("cachedb", tests, NULL, NULL);
}
