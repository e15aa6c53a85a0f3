/* stats.c: latency histograms, batch-size buckets and answers by code. */
#include <math.h>

#include "stats.h"

_Static_assert(CB_EUNAUTHORIZED < CODE_SLOTS, "a slot for every wire code");

static unsigned bucket_of(uint64_t us)
{
	unsigned i;

	if (us < 1)
		return 0;
	i = (unsigned)(log2((double)us) * 8.0);
	return i < LATHIST_BUCKETS ? i : LATHIST_BUCKETS - 1;
}

unsigned lathist_bucket(uint64_t ns)
{
	return bucket_of(ns / 1000);
}

void lathist_add(lathist *h, uint64_t ns)
{
	h->b[bucket_of(ns / 1000)]++;
	h->count++;
	h->sum_ns += ns;
}

double lathist_pct(const lathist *h, double p)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	want = (uint64_t)ceil(h->count * p / 100.0);
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return lathist_mid_s(i) * 1000.0;
	}
	return 0;
}

double lathist_mid_s(unsigned i)
{
	return pow(2.0, (i + 0.5) / 8.0) / 1e6;
}

unsigned stats_size_bucket(uint64_t size)
{
	unsigned i = 0;
	while (i + 1 < SIZE_BUCKETS && (1ull << i) < size)
		i++;
	return i;
}

void stats_count_answer(uint64_t *answered, cb_err code)
{
	answered[(unsigned)code < CODE_SLOTS ? code : CB_EINTERNAL]++;
}
