/* report.h: the map that op "stats" returns, built from each module's accessors. */
#ifndef CB_REPORT_H
#define CB_REPORT_H

#include <msgpack.h>

#include "batcher.h"
#include "front.h"
#include "ingress.h"

struct cache;

/* Where the numbers come from; all borrowed, wired by main.c. */
typedef struct report_src {
	const front *f;
	const batcher *bt;
	const dispatch *d;
	const ratelimit *rl;
	const upstream *u;
	struct cache *cache; /* NULL: none */
	ingress *in;         /* NULL once closed */
	uint64_t max_conns;
	size_t nofile;
	uint64_t t_start_ns;
} report_src;

/*
 * front_stats_cb (arg: a report_src): appends the stats map; 0, or nonzero
 * when the packer ran out of memory. Loop thread.
 */
int report_pack(void *arg, msgpack_packer *pk);

#endif
