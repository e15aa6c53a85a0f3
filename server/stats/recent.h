/* recent.h: a latency histogram's last minute, from snapshots of its cumulative counts taken
 * whenever the stats are read. */
#ifndef CB_RECENT_H
#define CB_RECENT_H

#include <stdint.h>

#include "stats.h"

#define RECENT_WINDOW_NS (60ull * 1000000000) /* what "recent" means */
#define RECENT_STEP_NS   (10ull * 1000000000) /* snapshots at least this far apart */
#define RECENT_SLOTS     8                    /* 70-80 s of them */

/*
 * Percentiles since start say little after an hour of running; the dashboard
 * and `cellbatch stats --watch` want the last minute. No timer: the stats are
 * read every second or two while someone looks, and when nobody reads them the
 * window simply grows (window_s says how long it really is).
 */
typedef struct recent {
	lathist snap[RECENT_SLOTS];
	uint64_t at_ns[RECENT_SLOTS]; /* 0: slot unused */
	unsigned newest;
} recent;

/* The difference between two cumulative histograms, over window_s seconds. */
typedef struct recent_view {
	lathist h;
	double window_s;
} recent_view;

/* An empty recent, as of start_ns (the histogram's own start: all zero then). */
void recent_init(recent *r, uint64_t start_ns);

/*
 * Takes a snapshot of cum (cumulative since start) when the newest is
 * RECENT_STEP_NS old, and fills out with cum less the newest snapshot at least
 * RECENT_WINDOW_NS old (or less the start's zero when there is none). Loop thread.
 */
void recent_update(recent *r, const lathist *cum, uint64_t now_ns, recent_view *out);

#endif
