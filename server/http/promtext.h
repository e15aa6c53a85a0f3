/* promtext.h: a writer of Prometheus' text exposition format 0.0.4 — HELP and TYPE lines, samples
 * with escaped labels, cumulative histograms — into a growing buffer. Knows no metric of ours. */
#ifndef CB_PROMTEXT_H
#define CB_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * The text so far. Memory is the buffer's own (prom_free); once an
 * allocation failed, oom stays set and nothing more is written. Plain data:
 * one thread at a time.
 */
typedef struct prom_buf {
	char *p;
	size_t len, cap;
	bool oom;
} prom_buf;

/* A label; v is escaped on output (backslash, double quote, newline). */
typedef struct prom_label {
	const char *k, *v;
} prom_label;

void prom_init(prom_buf *b);
void prom_free(prom_buf *b);

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram); help is escaped. */
void prom_head(prom_buf *b, const char *name, const char *type, const char *help);
/* One sample "name{labels} v"; nl labels (0: none). Integers print exactly. */
void prom_sample_u(prom_buf *b, const char *name, const prom_label *l, size_t nl, uint64_t v);
void prom_sample_f(prom_buf *b, const char *name, const prom_label *l, size_t nl, double v);

/*
 * A whole histogram with its head: n upper bounds le[] (increasing), cum[i]
 * the observations <= le[i] (cumulative), then +Inf = count, _sum and _count.
 */
void prom_histogram(prom_buf *b, const char *name, const char *help, const double *le,
                    const uint64_t *cum, size_t n, uint64_t count, double sum);

/*
 * A duration histogram in seconds from a lathist: each log bucket counts
 * toward the first bound at or above its middle (the ~9% resolution of
 * lathist); _sum is exact.
 */
void prom_lathist(prom_buf *b, const char *name, const char *help, const lathist *h);

#endif
