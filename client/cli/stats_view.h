/* stats_view.h: renders the server's stats map as a readable table, or as JSON. */
#ifndef CB_STATS_VIEW_H
#define CB_STATS_VIEW_H

#include <stdio.h>

#include <msgpack.h>

#include "jsonout.h" /* json_print: one JSON value for a stats map */

/*
 * The table `cellbatch stats` shows, with the batch-size histogram drawn as
 * bars. Rates are over the interval_s since prev (an earlier map of the same
 * server, under --watch), or since the server started when prev is NULL.
 */
void stats_print_table(FILE *f, const msgpack_object *stats, const msgpack_object *prev,
                       double interval_s);

/*
 * `cellbatch stats --fleet`: the instances that reported to the server's
 * Redis in the last minute (the stats map's fleet.instances), one row each,
 * and the fleet's totals: calls, upstream requests, items billed, credits.
 */
void stats_print_fleet(FILE *f, const msgpack_object *stats);

#endif
