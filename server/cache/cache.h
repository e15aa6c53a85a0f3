/* cache.h: answers by key — an LRU in memory with TTLs and negative entries, backed by SQLite
 * (store.c: checksummed rows, batch writes, the expiry sweep, backoff). */
#ifndef CB_CACHE_H
#define CB_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "answer.h"

typedef struct cache cache;

typedef struct cache_config {
	size_t max_entries;       /* in memory; the database keeps everything */
	uint64_t ttl_ms;          /* results */
	uint64_t neg_ttl_ms;      /* NOT_FOUND */
	const char *db_path;      /* NULL: memory only */
	uint64_t (*now_ms)(void); /* wall clock (entries outlive restarts); injectable for tests */
	int busy_timeout_ms;      /* waits for another process's lock up to this; 0: 2000 */
} cache_config;

typedef enum cache_db_state {
	CACHE_DB_OFF,     /* no database configured */
	CACHE_DB_OK,      /* in use */
	CACHE_DB_BACKOFF, /* it failed: memory only until tried again (1 s doubling to 60 s) */
} cache_db_state;

typedef struct cache_stats {
	uint64_t hits, neg_hits, misses, evictions, entries, db_hits;
	int64_t db_bytes;         /* -1: no database, or none in use now */
	uint64_t corrupt;         /* database rows that failed their checksum (deleted, misses) */
	uint64_t unverified;      /* rows of an older version, without checksum (misses) */
	uint64_t expired_deleted; /* expired rows deleted by the sweep */
	uint64_t db_errors;       /* database statements that failed after the busy timeout */
	uint64_t db_written;      /* rows committed to the database */
	uint64_t db_unwritten;    /* rows waiting to be written (the database in backoff) */
	uint64_t db_dropped;      /* rows never written: too many waited */
	cache_db_state db_state;
} cache_stats;

/*
 * Opens the cache. A database that cannot be opened or not written gives a
 * warning and memory-only operation until it is tried again (with backoff),
 * never a failure; a corrupt file is moved aside and a new one made (a
 * warning names both). -1 only when out of memory.
 */
int cache_open(cache **out, const cache_config *cfg);
void cache_close(cache *c);

/*
 * Looks key up in memory, then in the database (no table is loaded up
 * front). A fresh hit returns a new reference the caller owns: a result,
 * or a NOT_FOUND answer; NULL on a miss or an expired entry.
 */
answer *cache_get(cache *c, const char *key, size_t keylen);

/*
 * The database part of cache_get alone (on the loop): with a fleet, Redis is
 * asked between memory and the database. A hit (counted, put in memory) as a
 * new reference, its expiry in *expires_ms when not NULL; NULL on a miss
 * (counted).
 */
answer *cache_get_db(cache *c, const char *key, size_t keylen, uint64_t *expires_ms);
/* A miss found elsewhere than cache_get_db (Redis had the answer after memory missed). */
void cache_count_miss(cache *c);

/*
 * The memory part of cache_get alone, for any thread: a fresh hit (counted,
 * promoted) as a new reference the caller owns, else NULL without counting
 * a miss (the loop's cache_get that follows counts it).
 */
answer *cache_peek(cache *c, const char *key, size_t keylen);

/*
 * Stores answers of one upstream batch between begin and commit: in memory at
 * once, in the database at commit (one transaction, which also deletes up to
 * STORE_SWEEP_ROWS expired rows). Rows that cannot be written now wait for
 * the next commit after the backoff.
 */
void cache_begin(cache *c);
/* Keeps a result or a NOT_FOUND; other errors are never cached. Takes its own reference. */
void cache_put(cache *c, const char *key, size_t keylen, answer *a);
void cache_commit(cache *c);

/* When a (now) would expire if kept: a result after --cache-ttl, a NOT_FOUND after
 * --cache-negative-ttl; 0 for anything else (never kept). Wall clock, ms. */
uint64_t cache_expiry(const cache *c, const answer *a);

/* Loop thread only (the database part is the loop's). */
void cache_get_stats(cache *c, cache_stats *st);
const char *cache_db_path(const cache *c);          /* NULL when memory only by configuration */
const char *cache_db_state_name(cache_db_state st); /* "off", "ok", "backoff" */

#endif
