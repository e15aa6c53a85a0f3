/* promtext.c: Prometheus text exposition 0.0.4 written into a growing buffer. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

void prom_init(prom_buf *b)
{
	*b = (prom_buf){0};
}

void prom_free(prom_buf *b)
{
	free(b->p);
	*b = (prom_buf){0};
}

/* Room for n more bytes and a NUL; false (oom set) when it cannot grow. */
static bool reserve(prom_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *np;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((np = realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = cap;
	return true;
}

static void put(prom_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(prom_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void printf_(prom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void printf_(prom_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* s with \ and newline escaped, and " too when quoted (label values; HELP leaves " alone). */
static void put_escaped(prom_buf *b, const char *s, bool quoted)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			puts_(b, "\\\\");
		else if (*s == '\n')
			puts_(b, "\\n");
		else if (*s == '"' && quoted)
			puts_(b, "\\\"");
		else
			put(b, s, 1);
	}
}

void prom_head(prom_buf *b, const char *name, const char *type, const char *help)
{
	printf_(b, "# HELP %s ", name);
	put_escaped(b, help, false);
	printf_(b, "\n# TYPE %s %s\n", name, type);
}

static void put_name(prom_buf *b, const char *name, const prom_label *l, size_t nl)
{
	puts_(b, name);
	if (nl == 0)
		return;
	puts_(b, "{");
	for (size_t i = 0; i < nl; i++) {
		printf_(b, "%s%s=\"", i ? "," : "", l[i].k);
		put_escaped(b, l[i].v, true);
		puts_(b, "\"");
	}
	puts_(b, "}");
}

void prom_sample_u(prom_buf *b, const char *name, const prom_label *l, size_t nl, uint64_t v)
{
	put_name(b, name, l, nl);
	printf_(b, " %llu\n", (unsigned long long)v);
}

void prom_sample_f(prom_buf *b, const char *name, const prom_label *l, size_t nl, double v)
{
	put_name(b, name, l, nl);
	if (isnan(v))
		puts_(b, " NaN\n");
	else if (isinf(v))
		puts_(b, v > 0 ? " +Inf\n" : " -Inf\n");
	else
		printf_(b, " %.17g\n", v);
}

void prom_histogram(prom_buf *b, const char *name, const char *help, const double *le,
                    const uint64_t *cum, size_t n, uint64_t count, double sum)
{
	char full[160], bound[32];

	prom_head(b, name, "histogram", help);
	snprintf(full, sizeof(full), "%s_bucket", name);
	for (size_t i = 0; i < n; i++) {
		snprintf(bound, sizeof(bound), "%g", le[i]);
		prom_sample_u(b, full, &(prom_label){"le", bound}, 1, cum[i]);
	}
	prom_sample_u(b, full, &(prom_label){"le", "+Inf"}, 1, count);
	snprintf(full, sizeof(full), "%s_sum", name);
	prom_sample_f(b, full, NULL, 0, sum);
	snprintf(full, sizeof(full), "%s_count", name);
	prom_sample_u(b, full, NULL, 0, count);
}

/* Bounds for durations, in seconds: a call's millisecond to a job's ten minutes. */
static const double dur_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                1,      2.5,   5,      10,    30,   60,    120,  300, 600};
#define DUR_N (sizeof(dur_le) / sizeof(dur_le[0]))

void prom_lathist(prom_buf *b, const char *name, const char *help, const lathist *h)
{
	uint64_t cum[DUR_N] = {0}, count = 0;
	size_t j = 0;

	/* buckets in increasing order: each goes to the first bound at or above its middle */
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++) {
		if (h->b[i] == 0)
			continue;
		while (j < DUR_N && dur_le[j] < lathist_mid_s(i))
			j++;
		if (j < DUR_N)
			cum[j] += h->b[i];
		count += h->b[i];
	}
	for (size_t k = 1; k < DUR_N; k++)
		cum[k] += cum[k - 1];
	prom_histogram(b, name, help, dur_le, cum, DUR_N, count, (double)h->sum_ns / 1e9);
}
