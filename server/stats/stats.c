/* stats.c: the server's counters and latency histograms. */
#include <math.h>

#include "stats.h"

static unsigned bucket_of(uint64_t us)
{
	unsigned i;

	if (us < 1)
		return 0;
	i = (unsigned)(log2((double)us) * 8.0);
	return i < LATHIST_BUCKETS ? i : LATHIST_BUCKETS - 1;
}

void lathist_add(lathist *h, uint64_t ns)
{
	h->b[bucket_of(ns / 1000)]++;
	h->count++;
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
		if (seen >= want) /* the bucket's geometric middle, in ms */
			return pow(2.0, (i + 0.5) / 8.0) / 1000.0;
	}
	return 0;
}

void hot_stats_count(hot_stats *h, cb_err code, uint64_t ns)
{
	__atomic_fetch_add(code == CB_OK ? &h->ok : &h->not_found, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->total.b[bucket_of(ns / 1000)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->total.count, 1, __ATOMIC_RELAXED);
}

void hot_stats_merge(stats *st, const hot_stats *h)
{
	uint64_t ok = __atomic_load_n(&h->ok, __ATOMIC_RELAXED);
	uint64_t nf = __atomic_load_n(&h->not_found, __ATOMIC_RELAXED);

	st->requests += ok + nf;
	st->calls_received += ok + nf;
	st->answered[CB_OK] += ok;
	st->answered[CB_ENOT_FOUND] += nf;
	st->queued.b[0] += ok + nf;
	st->queued.count += ok + nf;
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++) {
		uint64_t n = __atomic_load_n(&h->total.b[i], __ATOMIC_RELAXED);
		st->total.b[i] += n;
		st->total.count += n;
	}
}

unsigned stats_size_bucket(uint64_t size)
{
	unsigned i = 0;
	while (i + 1 < SIZE_BUCKETS && (1ull << i) < size)
		i++;
	return i;
}

void stats_count_answer(stats *st, cb_err code)
{
	st->answered[(unsigned)code < CODE_SLOTS ? code : CB_EINTERNAL]++;
}
