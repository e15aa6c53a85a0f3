/* dbrow.h: one row of the cache's table — its checksum, and its way to and from an answer and
 * SQLite's statements. */
#ifndef CB_DBROW_H
#define CB_DBROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "answer.h"

/* The stored columns of a row; strings point into the answer or the statement they came from. */
typedef struct dbrow {
	int64_t expires_ms;
	int64_t found; /* 1: result, 0: NOT_FOUND */
	bool has_lat, has_lon, has_formatted, has_conf, has_type;
	double lat, lon, conf;
	const char *formatted, *type;
	size_t flen, tlen;
} dbrow;

/*
 * FNV-1a 64 over the key and every stored column (expiry, found, lat, lon,
 * formatted, confidence, result type), each with its length or null-ness.
 */
uint64_t dbrow_checksum(const char *key, size_t keylen, const dbrow *r);
/* FNV-1a 64 of n bytes: the same hash for other records kept outside the process. */
uint64_t dbrow_fnv(const void *p, size_t n);

/* The row that stores a (a result or a NOT_FOUND) until expires. */
void dbrow_of_answer(const answer *a, uint64_t expires, dbrow *r);
/* The row the get statement q stands on (dbfile.h's COL_ order). */
void dbrow_of_stmt(sqlite3_stmt *q, dbrow *r);
/* A new answer (the caller's reference) from r; NULL when out of memory. */
answer *dbrow_answer(const dbrow *r);
/* Binds key, r and r's checksum to the put statement; SQLITE_OK (0) or a failure. */
int dbrow_bind(sqlite3_stmt *p, const char *key, size_t keylen, const dbrow *r);

#endif
