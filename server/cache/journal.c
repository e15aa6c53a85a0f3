/* journal.c: the upstream jobs in flight, in a table of the cache database, so that a restart
 * polls them again instead of paying for them twice. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "journal.h"
#include "log.h"

#define BUSY_MS 2000

struct journal {
	sqlite3 *db;
	sqlite3_stmt *add, *del;
};

/* A growing byte buffer for the blobs; ok turns false when memory runs out. */
typedef struct buf {
	unsigned char *p;
	size_t len, cap;
	bool ok;
} buf;

static void put(buf *b, const void *src, size_t n)
{
	if (!b->ok)
		return;
	if (b->len + n > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256) + n;
		unsigned char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->ok = false;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

/* A string as a 2-byte length (0xffff: absent) and its bytes. */
static void put_str(buf *b, const char *s, size_t len)
{
	uint16_t l = s != NULL ? (uint16_t)len : 0xffff;
	put(b, &l, sizeof(l));
	if (s != NULL)
		put(b, s, len);
}

/* Reads what put_str wrote; false past the end. */
static bool get_str(const unsigned char **p, const unsigned char *end, const char **s, size_t *len)
{
	uint16_t l;

	if (end - *p < (long)sizeof(l))
		return false;
	memcpy(&l, *p, sizeof(l));
	*p += sizeof(l);
	if (l == 0xffff) {
		*s = NULL;
		*len = 0;
		return true;
	}
	if (end - *p < l)
		return false;
	*s = (const char *)*p;
	*len = l;
	*p += l;
	return true;
}

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, fn INTEGER NOT NULL, opts BLOB NOT "
    "NULL, submitted_ms INTEGER NOT NULL, items BLOB NOT NULL)";

void journal_open(journal **out, const char *path)
{
	journal *jn = NULL;

	*out = NULL;
	if (path == NULL || (jn = calloc(1, sizeof(*jn))) == NULL)
		return;
	if (sqlite3_open_v2(path, &jn->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	        SQLITE_OK ||
	    sqlite3_busy_timeout(jn->db, BUSY_MS) != SQLITE_OK ||
	    sqlite3_exec(jn->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(jn->db,
	                       "INSERT OR REPLACE INTO jobs (id, fn, opts, submitted_ms, items) "
	                       "VALUES (?1, ?2, ?3, ?4, ?5)",
	                       -1, &jn->add, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(jn->db, "DELETE FROM jobs WHERE id = ?1", -1, &jn->del, NULL) !=
	        SQLITE_OK) {
		log_warn("job journal in %s unusable (%s): a restart will not resume upstream jobs",
		         path, jn->db ? sqlite3_errmsg(jn->db) : "out of memory");
		journal_close(jn);
		return;
	}
	*out = jn;
}

void journal_close(journal *jn)
{
	if (jn == NULL)
		return;
	sqlite3_finalize(jn->add);
	sqlite3_finalize(jn->del);
	sqlite3_close(jn->db);
	free(jn);
}

/* The options and items of j as the two blobs of its row; false when out of memory. */
static bool encode(const journal_job *j, buf *opts, buf *items)
{
	for (int i = 0; i < CB_OPT_COUNT; i++)
		put_str(opts, j->opt[i], j->opt[i] ? strlen(j->opt[i]) : 0);
	put(items, &j->n, sizeof(j->n));
	for (uint32_t i = 0; i < j->n; i++) {
		const journal_item *it = &j->items[i];
		put_str(items, it->key, it->keylen);
		put_str(items, it->text ? it->text : "", it->text_len);
		put(items, &it->lat, sizeof(it->lat));
		put(items, &it->lon, sizeof(it->lon));
	}
	return opts->ok && items->ok;
}

void journal_add(journal *jn, const journal_job *j)
{
	buf opts = {.ok = true}, items = {.ok = true};
	int rc = SQLITE_NOMEM;

	if (jn == NULL)
		return;
	if (encode(j, &opts, &items)) {
		sqlite3_bind_text(jn->add, 1, j->id, -1, SQLITE_STATIC);
		sqlite3_bind_int(jn->add, 2, (int)j->fn);
		sqlite3_bind_blob(jn->add, 3, opts.p, (int)opts.len, SQLITE_STATIC);
		sqlite3_bind_int64(jn->add, 4, (sqlite3_int64)j->submitted_ms);
		sqlite3_bind_blob(jn->add, 5, items.p, (int)items.len, SQLITE_STATIC);
		rc = sqlite3_step(jn->add);
		sqlite3_reset(jn->add);
		sqlite3_clear_bindings(jn->add);
	}
	if (rc != SQLITE_DONE)
		log_warn("job journal: cannot keep job %s (%s): a restart would submit it again",
		         j->id, sqlite3_errstr(rc));
	free(opts.p);
	free(items.p);
}

void journal_remove(journal *jn, const char *id)
{
	int rc;

	if (jn == NULL)
		return;
	sqlite3_bind_text(jn->del, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(jn->del);
	sqlite3_reset(jn->del);
	if (rc != SQLITE_DONE)
		log_warn("job journal: cannot forget job %s (%s)", id, sqlite3_errstr(rc));
}

/* The row's blobs into j (pointing into the blobs and optbuf); false when they do not parse. */
static bool decode(const unsigned char *o, size_t olen, const unsigned char *p, size_t plen,
                   char optbuf[CB_OPT_COUNT][CB_TEXT_MAX + 1], journal_job *j)
{
	const unsigned char *oend = o + olen, *end = p + plen;
	const char *s;
	size_t len;

	for (int i = 0; i < CB_OPT_COUNT; i++) {
		if (!get_str(&o, oend, &s, &len) || len > CB_TEXT_MAX)
			return false;
		j->opt[i] = s != NULL ? memcpy(optbuf[i], s, len) : NULL;
		if (s != NULL)
			optbuf[i][len] = '\0';
	}
	if (end - p < (long)sizeof(j->n))
		return false;
	memcpy(&j->n, p, sizeof(j->n));
	p += sizeof(j->n);
	if (j->n == 0 || j->n > 1000 || (j->items = calloc(j->n, sizeof(*j->items))) == NULL)
		return false;
	for (uint32_t i = 0; i < j->n; i++) {
		journal_item *it = &j->items[i];
		if (!get_str(&p, end, &it->key, &it->keylen) || it->key == NULL ||
		    !get_str(&p, end, &it->text, &it->text_len) ||
		    end - p < (long)(2 * sizeof(double)))
			return false;
		memcpy(&it->lat, p, sizeof(double));
		memcpy(&it->lon, p + sizeof(double), sizeof(double));
		p += 2 * sizeof(double);
	}
	return true;
}

/* Visits one row; a row that does not parse is skipped (and forgotten with the old ones). */
static bool visit_row(sqlite3_stmt *st, void (*visit)(void *arg, const journal_job *j), void *arg)
{
	static char optbuf[CB_OPT_COUNT][CB_TEXT_MAX + 1];
	journal_job j = {.id = (const char *)sqlite3_column_text(st, 0),
	                 .fn = (cb_fn)sqlite3_column_int(st, 1),
	                 .submitted_ms = (uint64_t)sqlite3_column_int64(st, 3)};
	bool ok =
	    j.id != NULL && (unsigned)j.fn < CB_FN_COUNT &&
	    decode(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
	           sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4), optbuf, &j);

	if (ok)
		visit(arg, &j);
	else
		log_warn("job journal: skipped a damaged row (%s)", j.id ? j.id : "no id");
	free(j.items);
	return ok;
}

size_t journal_load(journal *jn, uint64_t now_ms, uint64_t max_age_ms,
                    void (*visit)(void *arg, const journal_job *j), void *arg)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	char *sql;

	if (jn == NULL)
		return 0;
	/* the upstream keeps results 24 h: older jobs are gone, and so is what was paid */
	sql = sqlite3_mprintf("DELETE FROM jobs WHERE submitted_ms < %lld",
	                      (long long)(now_ms > max_age_ms ? now_ms - max_age_ms : 0));
	if (sql == NULL || sqlite3_exec(jn->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		log_warn("job journal: cannot forget old jobs: %s", sqlite3_errmsg(jn->db));
	sqlite3_free(sql);
	if (sqlite3_prepare_v2(jn->db, "SELECT id, fn, opts, submitted_ms, items FROM jobs", -1,
	                       &st, NULL) != SQLITE_OK) {
		log_warn("job journal: cannot read it: %s", sqlite3_errmsg(jn->db));
		return 0;
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		n += visit_row(st, visit, arg);
	sqlite3_finalize(st);
	return n;
}
