/* stats.h: what every module counts with — latency histograms, batch-size buckets, answers by
 * code. Each module keeps its own counters; stats/report.c reads them through accessors. */
#ifndef CB_STATS_H
#define CB_STATS_H

#include <stdint.h>

#include <msgpack.h>

#include "cbwire.h"

/* Log-linear histogram of durations: 8 buckets per power of two of microseconds (~9% wide). */
#define LATHIST_BUCKETS (8 * 40)

typedef struct lathist {
	uint64_t count;
	uint64_t sum_ns; /* exact, for Prometheus' _sum */
	uint64_t b[LATHIST_BUCKETS];
} lathist;

void lathist_add(lathist *h, uint64_t ns);
/* The bucket a duration falls in (for adding to a shared histogram atomically). */
unsigned lathist_bucket(uint64_t ns);
/* The p-th percentile (0 < p < 100) in milliseconds; 0 when empty. */
double lathist_pct(const lathist *h, double p);
/* Bucket i's geometric middle in seconds: the value lathist_pct reports for it. */
double lathist_mid_s(unsigned i);

#define SIZE_BUCKETS 11 /* batch sizes up to 1, 2, 4, ... 1024 */
#define CODE_SLOTS   16 /* CB_OK .. CB_EUNAUTHORIZED, and room */

unsigned stats_size_bucket(uint64_t size);
/* Counts one answer with code in answered[CODE_SLOTS] (unknown codes as INTERNAL). */
void stats_count_answer(uint64_t *answered, cb_err code);

#endif
