/* report.h: the map that op "stats" returns. */
#ifndef CB_REPORT_H
#define CB_REPORT_H

#include <msgpack.h>

struct server;

/* Appends the stats map; returns 0, or nonzero when the packer ran out of memory. */
int report_pack(struct server *s, msgpack_packer *pk);

#endif
