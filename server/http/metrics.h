/* metrics.h: cellbatchd's Prometheus metrics (docs/metrics.md lists them) rendered from the same
 * module accessors as the stats op. */
#ifndef CB_METRICS_H
#define CB_METRICS_H

#include "promtext.h"
#include "report.h"

/*
 * Appends every metric to b (check b->oom). Loop thread: it reads the
 * modules' counters as the stats op does, so one scrape is one consistent
 * moment of the loop (the hot path's atomics aside).
 */
void metrics_render(const report_src *src, prom_buf *b);

#endif
