/* report.h: the map that op "stats" returns, built from each module's accessors. */
#ifndef CB_REPORT_H
#define CB_REPORT_H

#include <stdbool.h>

#include <msgpack.h>

#include "batcher.h"
#include "front.h"
#include "ingress.h"
#include "recent.h"

struct cache;
struct fleet;

/* Where the numbers come from; all borrowed, wired by main.c. */
typedef struct report_src {
	const front *f;
	const batcher *bt;
	const dispatch *d;
	const ratelimit *rl;
	const upstream *u;
	struct cache *cache;       /* NULL: none */
	const struct fleet *fleet; /* --redis; NULL: none */
	ingress *in;               /* NULL once closed */
	uint64_t max_conns;
	size_t nofile;
	uint64_t t_start_ns;
	double start_time_s;      /* wall clock at start, Unix seconds */
	double credit_batch_item; /* --credit-batch-item: the price of one item in a batch job */
	double credit_single;     /* --credit-single: the price of one single geocode call */
	double rate;              /* --rate: upstream requests a second, as configured */
	recent *latency_recent;   /* the last minute of latency_total: report_pack updates it */
	const char *public_url;   /* --public-url, in the fleet summary; NULL: none */
} report_src;

/*
 * Credits, from the counters: spent on batch jobs (items of every submit,
 * resubmits too, at credit_batch_item), and what one single call per cell
 * would have cost instead (cells: calls the cache, dedup or a batch
 * answered; at credit_single). saved is the difference.
 */
typedef struct report_credits {
	uint64_t items, cells;
	double spent, one_call_per_cell, saved;
} report_credits;

/* Loop thread. */
void report_get_credits(const report_src *src, report_credits *out);

/*
 * front_stats_cb (arg: a report_src): appends the stats map; 0, or nonzero
 * when the packer ran out of memory. Loop thread.
 */
int report_pack(void *arg, msgpack_packer *pk);

/*
 * freport_summary_fn (arg: a report_src): this instance's summary for the
 * fleet's view — its name, calls, upstream requests, items billed and
 * credits, and its public_url when it has one (what /fleet.json lists) — as
 * a msgpack map the caller frees. Loop thread.
 */
char *report_instance_summary(void *arg, size_t *len);

/*
 * From a summary report_instance_summary made (read back from Redis: any
 * bytes), its public_url into url and its instance name into name (""
 * without one); false when it has no public_url, or one longer than cap.
 */
bool report_summary_url(const char *b, size_t len, char *url, size_t cap, char *name,
                        size_t name_cap);

#endif
