/* dbfile.h: the cache's SQLite file — opened, checked, moved aside when corrupt, migrated, its
 * statements prepared. store.c decides when; this file only knows how. */
#ifndef CB_DBFILE_H
#define CB_DBFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* One open connection and its statements; all NULL when closed. The loop thread's alone. */
typedef struct dbconn {
	sqlite3 *db;
	sqlite3_stmt *get; /* ?1 key → expires_ms, found, lat, lon, formatted, conf, type, sum */
	sqlite3_stmt *put; /* key, expires_ms, found, lat, lon, formatted, conf, type, sum */
	sqlite3_stmt *del; /* ?1 key */
	sqlite3_stmt
	    *sweep_end; /* ?1 from, ?2 n → the n-th key after from, and how many there are */
	sqlite3_stmt *sweep_del; /* ?1 from, ?2 to, ?3 now: expired rows in (from, to] */
} dbconn;

/* The columns of the get statement, in order. */
enum { COL_EXPIRES, COL_FOUND, COL_LAT, COL_LON, COL_FORMATTED, COL_CONF, COL_TYPE, COL_SUM };

/*
 * Opens path: creates its directory (0700) and the file, sets WAL and a busy
 * timeout of busy_ms, and checks the file (PRAGMA quick_check). A file that
 * is not a database or fails the check is moved aside as
 * "<path>.corrupt-<UTC time>" (its -wal and -shm with it), with a warning
 * naming both paths, and a new one is created. Then creates the table, or
 * adds the checksum column to one of an older version, and prepares the
 * statements. 0, or -1 with c closed and the reason in why.
 */
int dbfile_open(dbconn *c, const char *path, int busy_ms, uint64_t now_ms, char *why, size_t cap);

/* Finalizes the statements and closes the connection; a closed c is left as it is. */
void dbfile_close(dbconn *c);

/* Whether an SQLite result code says the file itself is damaged (reopening moves it aside). */
bool dbfile_damaged(int rc);

#endif
