/* store.h: the cache's rows on disk — checked on every read, written a batch at a time, expired
 * ones swept a few at a time, and a failing database retried with backoff, never given up. */
#ifndef CB_STORE_H
#define CB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "answer.h"

typedef struct store store;

typedef enum store_state {
	STORE_OK,      /* the last statement succeeded */
	STORE_BACKOFF, /* it failed: the database is left alone until retry_at, then tried again */
} store_state;

#define STORE_SWEEP_ROWS     256    /* keys looked at, and at most deleted, per flush */
#define STORE_UNWRITTEN_MAX  100000 /* rows kept for a database in backoff; more are dropped */
#define STORE_BACKOFF_MIN_MS 1000
#define STORE_BACKOFF_MAX_MS 60000

typedef struct store_counters {
	uint64_t corrupt;         /* rows that failed their checksum: deleted, read as misses */
	uint64_t unverified;      /* rows of an older version without a checksum: read as misses */
	uint64_t expired_deleted; /* by the sweep */
	uint64_t errors;          /* statements that failed (after the busy timeout) */
	uint64_t written;         /* rows committed */
	uint64_t dropped;         /* rows never written: more than STORE_UNWRITTEN_MAX waited, or
	                             SQLite refused the row itself (too big, a constraint) */
	uint64_t unwritten;       /* rows waiting for the next flush */
	store_state state;
} store_counters;

/*
 * Opens the store at path; a database that cannot be opened now is tried
 * again with backoff. NULL only when out of memory. now_ms is the wall clock
 * (expiry, backoff). Everything here runs on one thread (the loop's).
 */
store *store_open(const char *path, uint64_t (*now_ms)(void), int busy_ms);
/* Tries once more to write what waits, then closes. */
void store_close(store *s);

/*
 * A fresh row for key: a new answer the caller owns, its expiry in *expires.
 * NULL on a miss, an expired row, a row without a checksum, a row that fails
 * its checksum (deleted, counted, logged), or while in backoff.
 */
answer *store_get(store *s, const char *key, size_t keylen, uint64_t now, uint64_t *expires);

/* Queues a row for the next flush; takes its own reference. */
void store_add(store *s, const char *key, size_t keylen, answer *a, uint64_t expires);

/*
 * Writes the queued rows and sweeps up to STORE_SWEEP_ROWS keys for expired
 * rows, in one transaction. On failure the rows stay queued for the next
 * flush after the backoff.
 */
void store_flush(store *s);

void store_get_counters(const store *s, store_counters *out);
/* Bytes of the main file; -1 when it cannot be asked now. */
int64_t store_bytes(store *s);
const char *store_path(const store *s);

#endif
