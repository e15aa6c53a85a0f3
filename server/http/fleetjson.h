/* fleetjson.h: /fleet.json — where browsers reach the instances of this fleet, for the Excel
 * add-in, which dials them all (docs/fleet.md, "Excel"). */
#ifndef CB_FLEETJSON_H
#define CB_FLEETJSON_H

#include <stddef.h>

#include "report.h"

/*
 * {"servers": [URL, ...]} as JSON text (malloc'd, *len bytes, no NUL), or
 * NULL when out of memory: this instance's --public-url first (none without
 * it), then the public_url of every other instance that reported to Redis in
 * the last minute (freport.h), each once, in the order Redis gave them. A URL
 * read from Redis that could not be a --public-url is left out. Without
 * --redis: this instance's alone. Loop thread.
 */
char *fleetjson_render(const report_src *src, size_t *len);

#endif
