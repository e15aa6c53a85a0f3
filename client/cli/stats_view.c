/* stats_view.c: renders the server's stats map as a readable table, or as JSON. */
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "stats_view.h"

static const msgpack_object *get(const msgpack_object *map, const char *key)
{
	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
			return &kv->val;
	}
	return NULL;
}

static double num(const msgpack_object *o)
{
	if (o == NULL)
		return 0;
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return (double)o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return (double)o->via.i64;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return o->via.f64;
	default:
		return 0;
	}
}

static double sub(const msgpack_object *map, const char *a, const char *b)
{
	return num(get(get(map, a), b));
}

static void duration(FILE *f, double s)
{
	unsigned long t = (unsigned long)s;
	if (t >= 3600)
		fprintf(f, "%luh %02lum %02lus", t / 3600, t / 60 % 60, t % 60);
	else if (t >= 60)
		fprintf(f, "%lum %02lus", t / 60, t % 60);
	else
		fprintf(f, "%.1fs", s);
}

/* The calls answered with an error: every code but OK and NOT_FOUND. */
static double errors(const msgpack_object *st)
{
	const msgpack_object *codes = get(st, "answered_by_code");

	return num(get(st, "calls_answered")) - num(get(codes, "OK")) -
	       num(get(codes, "NOT_FOUND"));
}

/* Cache lookups answered, found or NOT_FOUND. */
static double cache_hits(const msgpack_object *st)
{
	const msgpack_object *c = get(st, "cache");

	return num(get(c, "hits")) + num(get(c, "negative_hits"));
}

/*
 * What changed between prev and st; without prev (get() of NULL is NULL, so
 * its numbers read 0), everything since the start.
 */
static void print_rates(FILE *f, const msgpack_object *st, const msgpack_object *prev, double secs)
{
	double hits = cache_hits(st) - cache_hits(prev);
	double lookups =
	    hits + num(get(get(st, "cache"), "misses")) - num(get(get(prev, "cache"), "misses"));
	double answered = num(get(st, "calls_answered")) - num(get(prev, "calls_answered"));
	double errs = errors(st) - errors(prev);
	double requests = num(get(st, "upstream_submits")) + num(get(st, "upstream_polls")) -
	                  num(get(prev, "upstream_submits")) - num(get(prev, "upstream_polls"));

	if (secs <= 0)
		return;
	if (prev)
		fprintf(f, "rates      last %.1f s: ", secs);
	else
		fprintf(f, "rates      since the start: ");
	fprintf(f, "%.1f calls/s   cache hit ratio ",
	        (num(get(st, "calls_received")) - num(get(prev, "calls_received"))) / secs);
	if (lookups > 0)
		fprintf(f, "%.1f%%", hits / lookups * 100);
	else
		fputs("-", f);
	fputs("   errors ", f);
	if (answered > 0)
		fprintf(f, "%.1f%%", errs / answered * 100);
	else
		fputs("-", f);
	fprintf(f, "   upstream %.1f requests/s (limit now %.1f)\n", requests / secs,
	        num(get(st, "upstream_rate_now")));
}

/* One line anyone can quote: what was paid, and what one call per cell would have cost. */
static void print_credits(FILE *f, const msgpack_object *st)
{
	const msgpack_object *cr = get(st, "credits");
	double spent = num(get(cr, "spent")), single = num(get(cr, "one_call_per_cell"));

	if (cr == NULL)
		return; /* a server from before credits */
	fprintf(
	    f,
	    "credits    this server has spent %.1f credits; one call per cell would have cost %.1f",
	    spent, single);
	if (single > 0)
		fprintf(f, " (saved %.1f, %.0f%%)", single - spent,
		        (single - spent) / single * 100);
	fputc('\n', f);
}

void stats_print_table(FILE *f, const msgpack_object *st, const msgpack_object *prev,
                       double interval_s)
{
	const msgpack_object *v = get(st, "version"), *codes = get(st, "answered_by_code");
	const msgpack_object *queued = get(st, "queued"), *hist = get(st, "batch_size_hist");
	double max = 0;

	fprintf(f, "cellbatchd %.*s, up ",
	        v && v->type == MSGPACK_OBJECT_STR ? (int)v->via.str.size : 1,
	        v && v->type == MSGPACK_OBJECT_STR ? v->via.str.ptr : "?");
	duration(f, num(get(st, "uptime_s")));
	fprintf(f, "\n\n");
	fprintf(f, "calls      received %.0f   answered %.0f   in flight %.0f\n",
	        num(get(st, "calls_received")), num(get(st, "calls_answered")),
	        num(get(st, "calls_in_flight")));
	if (codes != NULL && codes->type == MSGPACK_OBJECT_MAP && codes->via.map.size > 0) {
		fprintf(f, "           ");
		for (uint32_t i = 0; i < codes->via.map.size; i++)
			fprintf(f, "%.*s %.0f   ", (int)codes->via.map.ptr[i].key.via.str.size,
			        codes->via.map.ptr[i].key.via.str.ptr,
			        num(&codes->via.map.ptr[i].val));
		fprintf(f, "\n");
	}
	print_rates(f, st, prev, prev ? interval_s : num(get(st, "uptime_s")));
	print_credits(f, st);
	fprintf(f, "batches    sent %.0f   mean size %.1f   dedup hits %.0f\n",
	        num(get(st, "batches_sent")), num(get(st, "batch_size_mean")),
	        num(get(st, "dedup_hits")));
	fprintf(f, "upstream   submits %.0f   polls %.0f   HTTP errors %.0f\n",
	        num(get(st, "upstream_submits")), num(get(st, "upstream_polls")),
	        num(get(st, "upstream_http_errors")));
	fprintf(f, "job time   p50 %.0f ms   p95 %.0f ms\n", sub(st, "job_ms", "p50"),
	        sub(st, "job_ms", "p95"));
	fprintf(f, "latency    in window  p50 %.1f ms  p95 %.1f ms  p99 %.1f ms\n",
	        sub(st, "latency_queued_ms", "p50"), sub(st, "latency_queued_ms", "p95"),
	        sub(st, "latency_queued_ms", "p99"));
	fprintf(f, "           total      p50 %.1f ms  p95 %.1f ms  p99 %.1f ms\n",
	        sub(st, "latency_total_ms", "p50"), sub(st, "latency_total_ms", "p95"),
	        sub(st, "latency_total_ms", "p99"));
	{
		const msgpack_object *c = get(st, "cache"), *db = get(c, "db");
		fprintf(f,
		        "cache      hits %.0f   negative hits %.0f   misses %.0f   entries %.0f   "
		        "evictions %.0f\n",
		        num(get(c, "hits")), num(get(c, "negative_hits")), num(get(c, "misses")),
		        num(get(c, "entries")), num(get(c, "evictions")));
		if (db != NULL && db->type == MSGPACK_OBJECT_STR)
			fprintf(f, "           %.*s, %.1f MiB\n", (int)db->via.str.size,
			        db->via.str.ptr, num(get(c, "db_bytes")) / 1048576.0);
		else
			fprintf(f, "           no database (memory only)\n");
	}
	if (queued != NULL && queued->type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < queued->via.map.size; i++)
			fprintf(f, "%s%.*s: %.0f queued\n", i ? "           " : "open       ",
			        (int)queued->via.map.ptr[i].key.via.str.size,
			        queued->via.map.ptr[i].key.via.str.ptr,
			        num(&queued->via.map.ptr[i].val));
	}
	if (hist == NULL || hist->type != MSGPACK_OBJECT_MAP)
		return;
	for (uint32_t i = 0; i < hist->via.map.size; i++)
		if (num(&hist->via.map.ptr[i].val) > max)
			max = num(&hist->via.map.ptr[i].val);
	fprintf(f, "\nbatch sizes (batches of up to N items)\n");
	for (uint32_t i = 0; i < hist->via.map.size; i++) {
		double n = num(&hist->via.map.ptr[i].val);
		int bars = max > 0 ? (int)(n / max * 40 + 0.5) : 0;
		fprintf(f, "  %5.*s | ", (int)hist->via.map.ptr[i].key.via.str.size,
		        hist->via.map.ptr[i].key.via.str.ptr);
		if (n > 0 && bars == 0)
			bars = 1;
		for (int b = 0; b < bars; b++)
			fputs("█", f);
		fprintf(f, "%s%.0f\n", bars ? " " : "", n);
	}
}

static void fleet_row(FILE *f, const char *name, int nlen, const double v[8])
{
	fprintf(f, "%-34.*s %8.0f %10.0f %8.0f %8.0f %8.0f %12.0f %10.1f %10.1f\n", nlen, name,
	        v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

void stats_print_fleet(FILE *f, const msgpack_object *st)
{
	static const char *const keys[8] = {"uptime_s",         "calls_received", "calls_in_flight",
	                                    "upstream_submits", "upstream_polls", "items_submitted",
	                                    "credits_spent",    "credits_saved"};
	const msgpack_object *fl = get(st, "fleet"), *redis = get(fl, "redis"),
	                     *lim = get(fl, "limiter"), *inst = get(fl, "instances");
	double total[8] = {0};
	uint32_t n = inst && inst->type == MSGPACK_OBJECT_ARRAY ? inst->via.array.size : 0;

	if (redis == NULL || redis->type != MSGPACK_OBJECT_STR ||
	    (redis->via.str.size == 3 && memcmp(redis->via.str.ptr, "off", 3) == 0)) {
		fprintf(f, "no fleet: this server runs without --redis (docs/fleet.md)\n");
		return;
	}
	fprintf(f,
	        "Fleet: %u instance%s reported in the last minute; this one: Redis %.*s, rate "
	        "limit %.*s\n\n",
	        n, n == 1 ? "" : "s", (int)redis->via.str.size, redis->via.str.ptr,
	        lim && lim->type == MSGPACK_OBJECT_STR ? (int)lim->via.str.size : 1,
	        lim && lim->type == MSGPACK_OBJECT_STR ? lim->via.str.ptr : "?");
	fprintf(f, "%-34s %8s %10s %8s %8s %8s %12s %10s %10s\n", "instance", "uptime_s", "calls",
	        "inflight", "submits", "polls", "items_billed", "credits", "saved");
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *r = &inst->via.array.ptr[i], *name = get(r, "instance");
		double v[8];
		for (int k = 0; k < 8; k++) {
			v[k] = num(get(r, keys[k]));
			total[k] += k == 0 ? 0 : v[k];
		}
		if (name != NULL && name->type == MSGPACK_OBJECT_STR)
			fleet_row(f, name->via.str.ptr, (int)name->via.str.size, v);
		else
			fleet_row(f, "?", 1, v);
	}
	fleet_row(f, "total", 5, total);
}
