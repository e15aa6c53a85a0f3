/* store.c: the cache's rows on disk — checked on every read, written a batch at a time, expired
 * ones swept a few at a time, and a failing database retried with backoff, never given up. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dbfile.h"
#include "dbrow.h"
#include "log.h"
#include "store.h"

/* A row waiting for the next flush. */
typedef struct qrow {
	answer *a;
	uint64_t expires;
	size_t keylen;
	char *key;
} qrow;

struct store {
	char *path;
	uint64_t (*now_ms)(void);
	int busy_ms;
	dbconn conn;          /* conn.db NULL: closed, opened again at the next retry */
	uint64_t retry_at_ms; /* in backoff nothing touches the database before this */
	uint64_t delay_ms;    /* the backoff now; doubles with every failed retry */
	bool dropping;        /* rows were dropped since the last flush that worked (logged once) */
	qrow *q;              /* rows for the next flush */
	size_t nq, qcap;
	char *sweep_from; /* the sweep's cursor: the last key it looked at; NULL: the start */
	size_t sweep_len;
	store_counters st;
};

/* ------------------------------------------------------------ failure and backoff */

/*
 * Something failed: the database is left alone for a while that doubles per
 * failed retry (1 s to 60 s), then tried again. Logged when the state
 * changes, not per call. A damaged file is closed so that the retry reopens
 * it, which moves it aside (dbfile.c).
 */
static void backoff(store *s, const char *what, const char *why, bool reopen)
{
	bool was_ok = s->st.state == STORE_OK;

	s->st.errors++;
	s->delay_ms = was_ok ? STORE_BACKOFF_MIN_MS : s->delay_ms * 2;
	if (s->delay_ms > STORE_BACKOFF_MAX_MS)
		s->delay_ms = STORE_BACKOFF_MAX_MS;
	s->retry_at_ms = s->now_ms() + s->delay_ms;
	s->st.state = STORE_BACKOFF;
	if (was_ok)
		log_warn("cache database %s: %s: %s; caching in memory only, trying it again in "
		         "%" PRIu64 " ms",
		         s->path, what, why, s->delay_ms);
	else
		log_debug("cache database %s: %s: %s; next try in %" PRIu64 " ms", s->path, what,
		          why, s->delay_ms);
	if (reopen)
		dbfile_close(&s->conn);
}

static void fail(store *s, const char *what, int rc)
{
	backoff(s, what, s->conn.db ? sqlite3_errmsg(s->conn.db) : sqlite3_errstr(rc),
	        dbfile_damaged(rc));
}

static void recovered(store *s)
{
	if (s->st.state == STORE_OK)
		return;
	log_info("cache database %s: working again (%" PRIu64 " errors since start)", s->path,
	         s->st.errors);
	s->st.state = STORE_OK;
	s->delay_ms = 0;
}

/* Whether the database may be used now: not during a backoff; after one it is tried again. */
static bool usable(store *s, uint64_t now)
{
	char why[512];

	if (s->st.state == STORE_OK)
		return true; /* and open: only backoff() closes it */
	/* the wall clock may step back: a retry never waits longer than the backoff itself */
	if (now < s->retry_at_ms && s->retry_at_ms - now <= s->delay_ms)
		return false;
	if (s->conn.db != NULL)
		return true;
	if (dbfile_open(&s->conn, s->path, s->busy_ms, now, why, sizeof(why)) == 0)
		return true;
	backoff(s, "open", why, false);
	return false;
}

/* ------------------------------------------------------------ reads */

/* A row that failed its checksum: deleted (the upstream's answer replaces it), counted, logged. */
static void drop_corrupt(store *s, const char *key, size_t keylen)
{
	sqlite3_stmt *d = s->conn.del;
	int rc;

	s->st.corrupt++;
	/* 1, 2, 4, 8…: one damaged page holds many rows */
	if ((s->st.corrupt & (s->st.corrupt - 1)) == 0)
		log_warn("cache database %s: a row failed its checksum (%" PRIu64 " so far): "
		         "deleted, and asked upstream again",
		         s->path, s->st.corrupt);
	sqlite3_bind_blob(d, 1, key, (int)keylen, SQLITE_STATIC);
	rc = sqlite3_step(d);
	sqlite3_reset(d);
	if (rc != SQLITE_DONE)
		fail(s, "delete", rc);
}

answer *store_get(store *s, const char *key, size_t keylen, uint64_t now, uint64_t *expires)
{
	sqlite3_stmt *q;
	answer *a = NULL;
	bool corrupt = false;
	dbrow r;
	int rc;

	if (!usable(s, now))
		return NULL;
	q = s->conn.get;
	sqlite3_bind_blob(q, 1, key, (int)keylen, SQLITE_STATIC);
	if ((rc = sqlite3_step(q)) != SQLITE_ROW)
		goto out;
	rc = SQLITE_DONE; /* a row is a successful read, whatever it holds */
	dbrow_of_stmt(q, &r);
	if (sqlite3_column_type(q, COL_SUM) == SQLITE_NULL) {
		s->st.unverified++; /* an older version's: its answer is asked again, not trusted */
	} else if ((uint64_t)sqlite3_column_int64(q, COL_SUM) != dbrow_checksum(key, keylen, &r)) {
		corrupt = true;
	} else if ((uint64_t)r.expires_ms > now && (a = dbrow_answer(&r)) != NULL) {
		*expires = (uint64_t)r.expires_ms;
	}
out:
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		fail(s, "read", rc);
	else if (corrupt)
		drop_corrupt(s, key, keylen);
	else if (s->nq == 0)
		recovered(s); /* with rows waiting, only their write tells */
	return a;
}

/* ------------------------------------------------------------ writes and the sweep */

/* Room for one more queued row: the queue grows by doubling up to STORE_UNWRITTEN_MAX. */
static bool queue_room(store *s)
{
	size_t cap = s->qcap ? s->qcap * 2 : 1024;
	qrow *q;

	if (s->nq < s->qcap)
		return true;
	if (s->qcap == STORE_UNWRITTEN_MAX)
		return false;
	if (cap > STORE_UNWRITTEN_MAX)
		cap = STORE_UNWRITTEN_MAX;
	if ((q = realloc(s->q, cap * sizeof(*q))) == NULL)
		return false;
	s->q = q;
	s->qcap = cap;
	return true;
}

void store_add(store *s, const char *key, size_t keylen, answer *a, uint64_t expires)
{
	char *k = NULL;

	if (!queue_room(s) || (k = malloc(keylen ? keylen : 1)) == NULL) {
		if (!s->dropping)
			log_warn("cache database %s: %zu rows wait to be written; dropping more",
			         s->path, s->nq);
		s->dropping = true;
		s->st.dropped++;
		return;
	}
	memcpy(k, key, keylen);
	s->q[s->nq++] = (qrow){answer_ref(a), expires, keylen, k};
}

static void queue_clear(store *s)
{
	for (size_t i = 0; i < s->nq; i++) {
		answer_unref(s->q[i].a);
		free(s->q[i].key);
	}
	s->nq = 0;
}

/* Failures that one row causes and no retry cures: that row is dropped, not retried forever. */
static bool row_poisoned(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_TOOBIG || rc == SQLITE_CONSTRAINT || rc == SQLITE_MISMATCH ||
	       rc == SQLITE_RANGE;
}

static int write_rows(store *s, uint64_t *poisoned)
{
	sqlite3_stmt *p = s->conn.put;
	dbrow r;
	int rc = SQLITE_OK;

	for (size_t i = 0; i < s->nq && rc == SQLITE_OK; i++) {
		dbrow_of_answer(s->q[i].a, s->q[i].expires, &r);
		if ((rc = dbrow_bind(p, s->q[i].key, s->q[i].keylen, &r)) == SQLITE_OK &&
		    (rc = sqlite3_step(p)) == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_reset(p);
		if (row_poisoned(rc)) {
			log_warn("cache database %s: a row cannot be stored (%s): dropped", s->path,
			         sqlite3_errstr(rc));
			(*poisoned)++;
			rc = SQLITE_OK;
		}
	}
	return rc;
}

/*
 * Deletes the expired rows among the STORE_SWEEP_ROWS keys after the cursor
 * and moves it on, back to the start after the last key: every key is looked
 * at once per pass, and a flush never pays for more than a window.
 */
static int sweep(store *s, uint64_t now, uint64_t *deleted)
{
	sqlite3_stmt *e = s->conn.sweep_end, *d = s->conn.sweep_del;
	const char *from = s->sweep_from ? s->sweep_from : ""; /* "": an empty blob, not NULL */
	char *to = NULL;
	int rc, n = 0, tlen = 0;

	sqlite3_bind_blob(e, 1, from, (int)s->sweep_len, SQLITE_STATIC);
	sqlite3_bind_int(e, 2, STORE_SWEEP_ROWS);
	if ((rc = sqlite3_step(e)) != SQLITE_ROW)
		goto out;
	rc = SQLITE_OK;
	if ((n = sqlite3_column_int(e, 1)) == 0)
		goto out;
	tlen = sqlite3_column_bytes(e, 0);
	if ((to = malloc((size_t)tlen + 1)) == NULL) {
		rc = SQLITE_NOMEM;
		goto out;
	}
	memcpy(to, sqlite3_column_blob(e, 0), (size_t)tlen);
	sqlite3_bind_blob(d, 1, from, (int)s->sweep_len, SQLITE_STATIC);
	sqlite3_bind_blob(d, 2, to, tlen, SQLITE_STATIC);
	sqlite3_bind_int64(d, 3, (sqlite3_int64)now);
	if ((rc = sqlite3_step(d)) == SQLITE_DONE) {
		rc = SQLITE_OK;
		*deleted = (uint64_t)sqlite3_changes(s->conn.db);
	}
out:
	sqlite3_reset(e);
	sqlite3_reset(d);
	if (rc == SQLITE_OK) {
		free(s->sweep_from);
		s->sweep_from = n == STORE_SWEEP_ROWS ? to : NULL; /* a short window was the last */
		s->sweep_len = n == STORE_SWEEP_ROWS ? (size_t)tlen : 0;
		to = s->sweep_from == to ? NULL : to;
	}
	free(to);
	return rc;
}

void store_flush(store *s)
{
	uint64_t now = s->now_ms(), swept = 0, poisoned = 0;
	sqlite3 *db;
	char why[512];
	int rc;

	if (!usable(s, now))
		return;
	db = s->conn.db;
	if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = write_rows(s, &poisoned)) != SQLITE_OK ||
	    (rc = sweep(s, now, &swept)) != SQLITE_OK ||
	    (rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto out;
	s->st.written += s->nq - poisoned;
	s->st.dropped += poisoned;
	s->st.expired_deleted += swept;
	queue_clear(s);
	s->dropping = false;
	recovered(s);
out:
	if (rc == SQLITE_OK)
		return;
	snprintf(why, sizeof(why), "%s", sqlite3_errmsg(db)); /* before ROLLBACK replaces it */
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	backoff(s, "write", why, dbfile_damaged(rc));
}

/* ------------------------------------------------------------ life and counters */

store *store_open(const char *path, uint64_t (*now_ms)(void), int busy_ms)
{
	store *s = calloc(1, sizeof(*s));
	char why[512];

	if (s == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return NULL;
	}
	s->now_ms = now_ms;
	s->busy_ms = busy_ms;
	s->st.state = STORE_OK; /* so that a failure now is logged as the change it is */
	if (dbfile_open(&s->conn, path, busy_ms, now_ms(), why, sizeof(why)) == 0)
		log_info("cache database %s", path);
	else
		backoff(s, "open", why, false);
	return s;
}

void store_close(store *s)
{
	if (s == NULL)
		return;
	s->retry_at_ms = 0; /* one last try, backoff or not */
	if (s->nq > 0)
		store_flush(s);
	if (s->nq > 0)
		log_warn("cache database %s: %zu rows could not be written", s->path, s->nq);
	queue_clear(s);
	free(s->q);
	free(s->sweep_from);
	dbfile_close(&s->conn);
	free(s->path);
	free(s);
}

void store_get_counters(const store *s, store_counters *out)
{
	*out = s->st;
	out->unwritten = s->nq;
}

int64_t store_bytes(store *s)
{
	sqlite3_stmt *q;
	int64_t n = -1;

	if (s->conn.db == NULL || s->st.state != STORE_OK)
		return -1;
	if (sqlite3_prepare_v2(s->conn.db,
	                       "SELECT page_count * page_size FROM pragma_page_count(), "
	                       "pragma_page_size()",
	                       -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			n = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	return n;
}

const char *store_path(const store *s)
{
	return s->path;
}
