/* stats.h: the server's counters and latency histograms, encoded for op "stats". */
#ifndef CB_STATS_H
#define CB_STATS_H

#include <stdint.h>

#include <msgpack.h>

#include "cbwire.h"

/* Log-linear histogram of durations: 8 buckets per power of two of microseconds (~9% wide). */
#define LATHIST_BUCKETS (8 * 40)

typedef struct lathist {
	uint64_t count;
	uint64_t b[LATHIST_BUCKETS];
} lathist;

void lathist_add(lathist *h, uint64_t ns);
/* The p-th percentile (0 < p < 100) in milliseconds; 0 when empty. */
double lathist_pct(const lathist *h, double p);

#define SIZE_BUCKETS 11 /* batch sizes up to 1, 2, 4, ... 1024 */
#define CODE_SLOTS   16 /* CB_OK .. CB_EINTERNAL */

typedef struct stats {
	uint64_t requests;
	uint64_t calls_received;
	uint64_t answered[CODE_SLOTS]; /* indexed by cb_err */
	uint64_t batches_sent;
	uint64_t batch_items;
	uint64_t size_hist[SIZE_BUCKETS];
	uint64_t dedup_hits;
	uint64_t submits, polls, http_errors;
	uint64_t retries, resubmits, rate_waits;
	lathist job, queued, total, slot_wait;
} stats;

/*
 * Calls answered from the cache on nng threads (the hot path): one call per
 * request, counted with atomics, folded into the loop's stats when reported.
 */
typedef struct hot_stats {
	uint64_t ok, not_found;
	lathist total;
} hot_stats;

/* Any thread. */
void hot_stats_count(hot_stats *h, cb_err code, uint64_t ns);
/* Adds h to st as if the loop had answered those calls (queued 0 ns each). */
void hot_stats_merge(stats *st, const hot_stats *h);

unsigned stats_size_bucket(uint64_t size);
void stats_count_answer(stats *st, cb_err code);

#endif
