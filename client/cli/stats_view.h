/* stats_view.h: renders the server's stats map as a readable table, or as JSON. */
#ifndef CB_STATS_VIEW_H
#define CB_STATS_VIEW_H

#include <stdio.h>

#include <msgpack.h>

/* One JSON value for o (maps with string keys become objects). */
void json_print(FILE *f, const msgpack_object *o);

/* The table `cellbatch stats` shows, with the batch-size histogram drawn as bars. */
void stats_print_table(FILE *f, const msgpack_object *stats);

#endif
