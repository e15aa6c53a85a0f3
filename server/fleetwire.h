/* fleetwire.h: --redis wired into the pipeline (the fleet's limiter, shared items, summary). */
#ifndef CB_FLEETWIRE_H
#define CB_FLEETWIRE_H

#include <stdint.h>

#include <uv.h>

#include "batcher.h"
#include "fleet.h"
#include "options.h"
#include "ratelimit.h"
#include "report.h"
#include "upstream.h"
#include "wsep.h"

/* What the fleet plugs into; all borrowed, and must outlive the fleet. */
typedef struct fleetwire_parts {
	batcher *bt;
	upstream *u; /* its jobs journalled in Redis too */
	ratelimit *rl;
	report_src *report;
	uint64_t (*now_ms)(void); /* wall clock, for leases and summaries shared with others */
} fleetwire_parts;

/*
 * Without c->redis: *out stays NULL and nothing changes (0). Else opens the
 * fleet (*out owned by the caller: fleet_close) and puts it in front of the
 * local limiter (which becomes its fallback at c->rate / c->fleet_size), in
 * the batcher (shared items) and in the stats; -1 when it cannot be opened.
 * On the loop thread.
 */
int fleetwire_open(fleet **out, uv_loop_t *loop, const config *c, const fleetwire_parts *p);

/*
 * After each report to Redis, the origins of the fleet's public URLs
 * (--public-url of each instance) join w's, so that the Excel add-in served by
 * any instance may open this one's WebSocket (wsep_origins_set_fleet: only
 * without --ws-origin). f or w NULL (no --redis, no --http): nothing. Loop
 * thread; w must outlive f.
 */
void fleetwire_origins(fleet *f, wsep_origins *w);

#endif
