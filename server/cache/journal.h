/* journal.h: the upstream jobs in flight, kept in the cache database, so that a restart polls
 * them again instead of paying for them twice. */
#ifndef CB_JOURNAL_H
#define CB_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "jobbytes.h"

/* A job older than this is not polled again: Geoapify keeps results 24 h. */
#define JOURNAL_MAX_AGE_MS (24ull * 3600 * 1000)

typedef struct journal journal;

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
