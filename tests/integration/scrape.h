/* scrape.h: test helpers for cellbatchd's --http listener — GET over loopback with libcurl, a
 * free port, /metrics parsed into samples, its histograms checked, promtool run on it. */
#ifndef SCRAPE_H
#define SCRAPE_H

#include <stddef.h>

#include "harness.h"

typedef struct http_got {
	long status;
	char *body; /* NUL-terminated, owned */
	size_t len;
	char ctype[128];
	double ms; /* the whole fetch */
} http_got;

/* GET http://127.0.0.1:port/path into g (free g->body); no HTTP answer fails the test. */
void http_get(unsigned port, const char *path, http_got *g);
/* A loopback port free now: bound to 0 and let go (a server may still lose a race for it). */
unsigned free_port(void);

/* One sample line: the name with its labels, and the value. */
typedef struct sample {
	char key[200];
	double v;
} sample;

typedef struct scrape {
	sample *s;
	size_t n;
} scrape;

/* The samples of a /metrics text (free out->s). */
void parse_metrics(const char *text, scrape *out);
/* The sample named exactly key ("name{l=\"v\"}"); fails the test when absent. */
double metric(const scrape *sc, const char *key);
/* The sum of every sample of name over its label sets. */
double metric_sum(const scrape *sc, const char *name);
/* Each histogram's buckets never decrease and +Inf is its _count; returns how many there are. */
int check_histograms(const scrape *sc);
/* promtool check metrics on text; fails the test on a complaint, or when promtool is missing
 * (scripts/bootstrap installs it). */
void promtool_check(it_env *e, const char *text, size_t len);

#endif
