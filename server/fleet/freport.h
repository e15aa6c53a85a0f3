/* freport.h: each instance of a fleet reports a summary of itself to Redis every few seconds, and
 * reads everyone's back: what `cellbatch stats --fleet` shows. */
#ifndef CB_FREPORT_H
#define CB_FREPORT_H

#include <stddef.h>

#include <uv.h>

#include "rconn.h"

typedef struct freport freport;

/* This instance's summary now: a msgpack map, malloc'd, its length in *len; NULL: none. */
typedef char *(*freport_summary_fn)(void *arg, size_t *len);

/* Reports every FREPORT_EVERY_MS on cmd (borrowed, closed after r) under owner (copied). 0/-1. */
int freport_open(freport **out, uv_loop_t *loop, rconn *cmd, const char *owner,
                 freport_summary_fn summary, void *arg);
void freport_close(freport *r);

/* After each answer of Redis's that renewed the list below (fn NULL: none). Loop thread. */
typedef void (*freport_watch_fn)(void *arg, const freport *r);
void freport_watch(freport *r, freport_watch_fn fn, void *arg);

/* The instances that reported in the last minute, as of the last report (this one included). */
size_t freport_count(const freport *r);
/* The i-th one's summary (as freport_summary_fn made it), valid until the next report. */
const char *freport_get(const freport *r, size_t i, size_t *len);

#endif
