/* journal.h: the upstream jobs in flight, kept in the cache database, so that a restart polls
 * them again instead of paying for them twice. */
#ifndef CB_JOURNAL_H
#define CB_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cbproto.h"

typedef struct journal journal;

/* One input of a journalled job (borrowed strings). */
typedef struct journal_item {
	const char *key; /* the cache and dedup key */
	size_t keylen;
	const char *text; /* geocode */
	size_t text_len;
	double lat, lon; /* reverse */
} journal_item;

/* One job as journalled (borrowed: valid during the visit only). */
typedef struct journal_job {
	const char *id; /* the upstream's job id */
	cb_fn fn;
	const char *opt[CB_OPT_COUNT]; /* NULL when absent */
	uint64_t submitted_ms;         /* wall clock */
	journal_item *items;
	uint32_t n;
} journal_job;

/*
 * Opens the journal in the database at path (the cache's file; its own
 * connection and table). NULL path, or a database that cannot be used: a
 * journal that keeps nothing (*out NULL; every call below accepts NULL).
 * Loop thread only.
 */
void journal_open(journal **out, const char *path);
void journal_close(journal *jn);

/*
 * Keeps job j (its id accepted by the upstream). Failures are logged and
 * forgotten: the journal saves money, it never stops a job.
 */
void journal_add(journal *jn, const journal_job *j);
/* Forgets the job with this id (its results arrived, or it failed). */
void journal_remove(journal *jn, const char *id);

/*
 * Calls visit for every job submitted at most max_age_ms before now_ms, and
 * forgets the older ones (the upstream keeps results 24 h). Returns how many
 * it visited.
 */
size_t journal_load(journal *jn, uint64_t now_ms, uint64_t max_age_ms,
                    void (*visit)(void *arg, const journal_job *j), void *arg);

#endif
