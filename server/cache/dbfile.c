/* dbfile.c: the cache's SQLite file — opened, checked, moved aside when corrupt, migrated, its
 * statements prepared. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dbfile.h"
#include "log.h"

static const char create_sql[] = "CREATE TABLE IF NOT EXISTS answers("
                                 " key BLOB PRIMARY KEY,"
                                 " expires_ms INTEGER NOT NULL,"
                                 " found INTEGER NOT NULL,"
                                 " lat REAL, lon REAL, formatted TEXT, confidence REAL,"
                                 " result_type TEXT,"
                                 " checksum INTEGER"
                                 ") WITHOUT ROWID;";

bool dbfile_damaged(int rc)
{
	rc &= 0xff; /* the primary code of an extended one */
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

/* mkdir -p of the directory part of path, 0700: the cache holds what users looked up. */
static int make_parent(const char *path)
{
	char *dir = strdup(path), *p;
	int rv = 0;

	if (dir == NULL)
		return -1;
	for (p = dir + 1; *p && rv == 0; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			rv = -1;
		*p = '/';
	}
	free(dir);
	return rv;
}

/*
 * PRAGMA quick_check: O(file size), so once per open only. SQLITE_OK when it
 * says "ok"; SQLITE_CORRUPT with its first complaint in why when not; or the
 * code that kept it from running (a lock is not damage).
 */
static int quick_check(sqlite3 *db, char *why, size_t cap)
{
	sqlite3_stmt *q = NULL;
	const char *first;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &q, NULL);

	if (rc != SQLITE_OK)
		goto out;
	if ((rc = sqlite3_step(q)) != SQLITE_ROW)
		goto out;
	first = (const char *)sqlite3_column_text(q, 0);
	rc = SQLITE_OK;
	if (first == NULL || strcmp(first, "ok") != 0) {
		snprintf(why, cap, "quick_check: %s", first ? first : "no answer");
		for (char *p = why; (p = strchr(p, '\n')) != NULL;)
			*p = ' '; /* the log's lines are one event each */
		rc = SQLITE_CORRUPT;
	}
out:
	if (rc != SQLITE_OK && rc != SQLITE_CORRUPT)
		snprintf(why, cap, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(q);
	return rc;
}

/* Opens the connection and reads the file through: SQLITE_OK, or the first failure (why). */
static int open_checked(dbconn *c, const char *path, int busy_ms, char *why, size_t cap)
{
	int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

	if (rc != SQLITE_OK)
		goto out;
	/* a second server on the file holds its write lock for one batch: wait that out */
	sqlite3_busy_timeout(c->db, busy_ms);
	rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
	                  NULL);
	if (rc != SQLITE_OK)
		goto out;
	return quick_check(c->db, why, cap);
out:
	snprintf(why, cap, "%s", c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	return rc;
}

/*
 * Moves path and its -wal and -shm to "<path>.corrupt-<UTC time>[-N]"; the
 * -wal must not stay behind, or the new file would replay the old one's
 * pages. 0 with the new name in aside, or -1 (why).
 */
static int move_aside(const char *path, uint64_t now_ms, char *aside, size_t asz, char *why,
                      size_t cap)
{
	static const char *const side[] = {"-wal", "-shm"};
	time_t t = (time_t)(now_ms / 1000);
	char stamp[32], from[PATH_MAX + 8], to[PATH_MAX + 64];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(aside, asz, "%s.corrupt-%s", path, stamp);
	for (int n = 1; access(aside, F_OK) == 0 && n < 100; n++)
		snprintf(aside, asz, "%s.corrupt-%s-%d", path, stamp, n);
	if (rename(path, aside) != 0)
		goto fail;
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", path, side[i]);
		snprintf(to, sizeof(to), "%s%s", aside, side[i]);
		if (rename(from, to) != 0 && errno != ENOENT && unlink(from) != 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(why, cap, "cannot move the damaged file aside: %s", strerror(errno));
	return -1;
}

/* 1 when the table has the checksum column, 0 when not, -1 on error. */
static int has_checksum(sqlite3 *db)
{
	sqlite3_stmt *q = NULL;
	int rv = -1;

	if (sqlite3_prepare_v2(db,
	                       "SELECT count(*) FROM pragma_table_info('answers')"
	                       " WHERE name = 'checksum'",
	                       -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		rv = sqlite3_column_int(q, 0) > 0;
	sqlite3_finalize(q);
	return rv;
}

/*
 * The table of this version, or an older version's given the checksum column
 * (its rows have none and are read as misses: store.c). One write transaction,
 * so that two servers starting at once do not both add the column.
 */
static int create_or_migrate(sqlite3 *db, const char *path)
{
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), has = 0;

	if (rc != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_exec(db, create_sql, NULL, NULL, NULL)) != SQLITE_OK)
		goto out;
	if ((has = has_checksum(db)) < 0) {
		rc = sqlite3_errcode(db);
		goto out;
	}
	if (has == 0) {
		rc = sqlite3_exec(db, "ALTER TABLE answers ADD COLUMN checksum INTEGER", NULL, NULL,
		                  NULL);
		if (rc != SQLITE_OK)
			goto out;
		log_info("cache database %s: added the checksum column; rows of the older version "
		         "carry none and are asked upstream again",
		         path);
	}
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
out:
	if (rc != SQLITE_OK)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL,
		             NULL); /* may fail: then nothing was open */
	return rc;
}

static int prepare_all(dbconn *c)
{
	const struct {
		const char *sql;
		sqlite3_stmt **st;
	} t[] = {
	    {"SELECT expires_ms, found, lat, lon, formatted, confidence, result_type, checksum"
	     " FROM answers WHERE key = ?1",
	     &c->get},
	    {"INSERT OR REPLACE INTO answers(key, expires_ms, found, lat, lon, formatted,"
	     " confidence, result_type, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	     &c->put},
	    {"DELETE FROM answers WHERE key = ?1", &c->del},
	    {"SELECT max(key), count(*) FROM"
	     " (SELECT key FROM answers WHERE key > ?1 ORDER BY key LIMIT ?2)",
	     &c->sweep_end},
	    {"DELETE FROM answers WHERE key > ?1 AND key <= ?2 AND expires_ms <= ?3",
	     &c->sweep_del},
	};
	int rc = SQLITE_OK;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v2(c->db, t[i].sql, -1, t[i].st, NULL);
	return rc;
}

int dbfile_open(dbconn *c, const char *path, int busy_ms, uint64_t now_ms, char *why, size_t cap)
{
	char aside[PATH_MAX + 48], damage[256];
	int rc, rv = -1;

	memset(c, 0, sizeof(*c));
	if (make_parent(path) != 0) {
		snprintf(why, cap, "cannot create its directory: %s", strerror(errno));
		goto out;
	}
	rc = open_checked(c, path, busy_ms, damage, sizeof(damage));
	if (dbfile_damaged(rc)) {
		dbfile_close(c); /* before the rename: nothing of ours may write to it after */
		if (move_aside(path, now_ms, aside, sizeof(aside), why, cap) != 0)
			goto out;
		log_warn(
		    "cache database %s is damaged (%s): moved it aside to %s and started a new "
		    "one",
		    path, damage, aside);
		rc = open_checked(c, path, busy_ms, damage, sizeof(damage));
	}
	if (rc != SQLITE_OK) {
		snprintf(why, cap, "%s", damage);
		goto out;
	}
	if (create_or_migrate(c->db, path) != SQLITE_OK || prepare_all(c) != SQLITE_OK) {
		snprintf(why, cap, "%s", sqlite3_errmsg(c->db));
		goto out;
	}
	rv = 0;
out:
	if (rv != 0)
		dbfile_close(c);
	return rv;
}

void dbfile_close(dbconn *c)
{
	sqlite3_finalize(c->get);
	sqlite3_finalize(c->put);
	sqlite3_finalize(c->del);
	sqlite3_finalize(c->sweep_end);
	sqlite3_finalize(c->sweep_del);
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}
