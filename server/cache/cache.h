/* cache.h: answers by key — an LRU in memory with TTLs and negative entries, backed by SQLite. */
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
} cache_config;

typedef struct cache_stats {
	uint64_t hits, neg_hits, misses, evictions, entries, db_hits;
	int64_t db_bytes; /* -1: no database */
} cache_stats;

/*
 * Opens the cache. A database that cannot be opened, is corrupt or not
 * writable gives a warning and memory-only operation, never a failure;
 * -1 only when out of memory.
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
 * The memory part of cache_get alone, for any thread: a fresh hit (counted,
 * promoted) as a new reference the caller owns, else NULL without counting
 * a miss (the loop's cache_get that follows counts it).
 */
answer *cache_peek(cache *c, const char *key, size_t keylen);

/* Stores answers of one upstream batch between begin and commit (one database transaction). */
void cache_begin(cache *c);
/* Keeps a result or a NOT_FOUND; other errors are never cached. Takes its own reference. */
void cache_put(cache *c, const char *key, size_t keylen, answer *a);
void cache_commit(cache *c);

void cache_get_stats(cache *c, cache_stats *st);
const char *cache_db_path(const cache *c); /* NULL when memory only */

#endif
