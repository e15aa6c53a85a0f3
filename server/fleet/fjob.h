/* fjob.h: the upstream jobs in flight, journalled in Redis too (--redis), so that when an instance
 * dies another takes its jobs up and polls them instead of their items being paid for again. */
#ifndef CB_FJOB_H
#define CB_FJOB_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "fshare.h"
#include "jobbytes.h"
#include "rconn.h"

typedef struct fjob fjob;

/* A dead instance's job j (borrowed for the call) is this instance's to poll now: true when it
 * was taken up (its lease is then renewed until fjob_forget); false (out of memory) leaves it to
 * another instance when the lease lapses. Runs from the loop, never inline from an fjob call. */
typedef bool (*fjob_adopt_cb)(void *arg, const journal_job *j);

typedef struct fjob_config {
	const char *owner;   /* this instance's name in the fleet (fshare_owner); borrowed */
	uint64_t lease_ms;   /* a job whose owner has not renewed it for this long is taken up */
	uint64_t max_age_ms; /* records live this long at most (the upstream keeps results 24 h) */
	fjob_adopt_cb adopt;
	void *arg;
} fjob_config;

/*
 * On loop's thread, over cmd and fs (borrowed; closed after fj). Looks for
 * the jobs of dead instances every third of a lease. 0, or -1 (no memory).
 */
int fjob_open(fjob **out, uv_loop_t *loop, rconn *cmd, fshare *fs, const fjob_config *cfg);
/* Stops; the memory goes once the loop ran the close callbacks (before cmd is closed). */
void fjob_close(fjob *fj);

/*
 * j's id was accepted upstream: its record, this instance's lease on it, and
 * a mark on each of its items (so that no instance claims them while the job
 * is upstream) go to Redis. Best effort: without Redis nothing is kept.
 */
void fjob_keep(fjob *fj, const journal_job *j);
/*
 * Job id is over (its results stored with fshare_store, or it failed): the
 * answers stored so far are written first, then its record and marks go.
 */
void fjob_forget(fjob *fj, const char *id);

typedef struct fjob_counters {
	uint64_t kept, forgotten, adopted, damaged;
} fjob_counters;
void fjob_get_counters(const fjob *fj, fjob_counters *out);

#endif
