/* journal.c: the upstream jobs in flight, in a table of the cache database, so that a restart
 * polls them again instead of paying for them twice. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "jobbytes.h"
#include "journal.h"
#include "log.h"

#define BUSY_MS 2000

struct journal {
	sqlite3 *db;
	sqlite3_stmt *add, *del;
};

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

void journal_add(journal *jn, const journal_job *j)
{
	jobbytes_buf opts = {.ok = true}, items = {.ok = true};
	int rc = SQLITE_NOMEM;

	if (jn == NULL)
		return;
	if (jobbytes_encode(j, &opts, &items)) {
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

/* Visits one row; a row that does not parse is skipped (and forgotten with the old ones). */
static bool visit_row(sqlite3_stmt *st, void (*visit)(void *arg, const journal_job *j), void *arg)
{
	static jobbytes_view v; /* the option strings are too big for the stack of a callback */
	const char *id = (const char *)sqlite3_column_text(st, 0);
	int fn = sqlite3_column_int(st, 1);
	bool ok =
	    id != NULL && (unsigned)fn < CB_FN_COUNT &&
	    jobbytes_decode(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
	                    sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4), &v);

	v.j.id = id;
	v.j.fn = (cb_fn)fn;
	v.j.submitted_ms = (uint64_t)sqlite3_column_int64(st, 3);
	if (ok)
		visit(arg, &v.j);
	else
		log_warn("job journal: skipped a damaged row (%s)", id ? id : "no id");
	jobbytes_view_fini(&v);
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
