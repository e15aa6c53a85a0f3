/* metrics.c: the /metrics page — every counter, gauge and histogram of cellbatchd, named as
 * docs/metrics.md explains, read through the modules' accessors. */
#include <stdio.h>
#include <time.h>

#include "cache.h"
#include "clock.h"
#include "fleet.h"
#include "metrics.h"

#define P "cellbatch_"

static void counter(prom_buf *b, const char *name, const char *help, uint64_t v)
{
	prom_head(b, name, "counter", help);
	prom_sample_u(b, name, NULL, 0, v);
}

static void gauge(prom_buf *b, const char *name, const char *help, double v)
{
	prom_head(b, name, "gauge", help);
	prom_sample_f(b, name, NULL, 0, v);
}

/* op labels: the protocol's ops, then "invalid" for a message that did not decode */
static const char *op_label(unsigned i)
{
	return i < CB_OP_COUNT ? cbp_op_names[i] : "invalid";
}

static void render_calls(const front_counters *fc, prom_buf *b)
{
	prom_head(b, P "requests_total", "counter", "Messages received, by op.");
	for (unsigned i = 0; i < FRONT_OP_SLOTS; i++)
		prom_sample_u(b, P "requests_total", &(prom_label){"op", op_label(i)}, 1,
		              fc->requests_by_op[i]);
	prom_head(b, P "calls_received_total", "counter",
	          "Calls received, by op: 1 per call, N per multi, 1 per message that did not "
	          "decode.");
	for (unsigned i = 0; i < FRONT_OP_SLOTS; i++)
		if (i != CB_OP_STATS && i != CB_OP_PING)
			prom_sample_u(b, P "calls_received_total", &(prom_label){"op", op_label(i)},
			              1, fc->calls_by_op[i]);
	prom_head(b, P "calls_answered_total", "counter", "Calls answered, by result code.");
	for (unsigned i = 0; i <= CB_EUNAUTHORIZED; i++) /* every wire code */
		prom_sample_u(b, P "calls_answered_total",
		              &(prom_label){"code", i == CB_OK ? "OK" : cb_err_name((cb_err)i)}, 1,
		              fc->answered[i]);
	gauge(b, P "calls_in_flight", "Calls queued in a batch window or waiting on the upstream.",
	      (double)fc->pending);
	gauge(b, P "calls_in_flight_max", "The most calls in flight at once since start.",
	      (double)fc->pending_high_water);
	prom_lathist(b, P "call_latency_seconds", "Arrival to answer, per call.", &fc->total);
	prom_lathist(b, P "call_queue_seconds",
	             "Time a call waited until its batch left for the upstream (0 for cache hits).",
	             &fc->queued);
}

static void render_cache(const report_src *src, prom_buf *b)
{
	cache_stats cs = {0};

	if (src->cache != NULL)
		cache_get_stats(src->cache, &cs);
	prom_head(b, P "cache_lookups_total", "counter",
	          "Cache lookups by result: hit, negative_hit (a NOT_FOUND kept), miss.");
	prom_sample_u(b, P "cache_lookups_total", &(prom_label){"result", "hit"}, 1, cs.hits);
	prom_sample_u(b, P "cache_lookups_total", &(prom_label){"result", "negative_hit"}, 1,
	              cs.neg_hits);
	prom_sample_u(b, P "cache_lookups_total", &(prom_label){"result", "miss"}, 1, cs.misses);
	counter(b, P "cache_db_hits_total", "Hits found in the database after a memory miss.",
	        cs.db_hits);
	counter(b, P "cache_corrupt_rows_total",
	        "Database rows that failed their checksum (each a miss, asked upstream again).",
	        cs.corrupt);
	counter(b, P "cache_evictions_total", "Entries dropped from memory, least recently used.",
	        cs.evictions);
	gauge(b, P "cache_entries", "Answers in the cache's memory.", (double)cs.entries);
	counter(b, P "dedup_hits_total", "Calls that joined an identical item queued or upstream.",
	        batcher_dedup_hits(src->bt));
}

/* Batch sizes: powers of two up to 512, then 1000, the most a batch holds (--batch-max). */
static void render_sizes(const upstream_counters *uc, prom_buf *b)
{
	double le[SIZE_BUCKETS];
	uint64_t cum[SIZE_BUCKETS], run = 0;

	for (unsigned i = 0; i < SIZE_BUCKETS; i++) {
		run += uc->size_hist[i];
		le[i] = i + 1 < SIZE_BUCKETS ? (double)(1u << i) : 1000;
		cum[i] = run;
	}
	prom_histogram(b, P "batch_size", "Items per batch sent upstream.", le, cum, SIZE_BUCKETS,
	               uc->batches_sent, (double)uc->batch_items);
}

static void render_batches(const report_src *src, const upstream_counters *uc, prom_buf *b)
{
	prom_head(b, P "batches_sent_total", "counter", "Batches submitted upstream, by function.");
	for (unsigned i = 0; i < CB_FN_COUNT; i++)
		prom_sample_u(b, P "batches_sent_total", &(prom_label){"function", cbp_fns[i].name},
		              1, uc->batches_by_fn[i]);
	render_sizes(uc, b);
	prom_lathist(b, P "batch_window_seconds",
	             "Time a batch window stayed open, from its first item to its close.",
	             batcher_window_hist(src->bt));
	prom_lathist(b, P "batch_slot_wait_seconds",
	             "Time from a window's close to its job holding a slot (--max-jobs).",
	             dispatch_slot_wait(src->d));
	gauge(b, P "batches_open", "Batch windows open now.",
	      (double)batcher_open_windows(src->bt));
	gauge(b, P "batches_waiting_for_slot",
	      "Batches whose window closed, waiting for a job slot.",
	      (double)dispatch_waiting(src->d));
	gauge(b, P "upstream_jobs_running", "Upstream jobs holding a slot now.",
	      (double)dispatch_active(src->d));
	gauge(b, P "upstream_jobs_max", "Job slots (--max-jobs).",
	      (double)dispatch_max_jobs(src->d));
	prom_lathist(b, P "upstream_job_duration_seconds",
	             "Submit to results, per successful upstream job.", &uc->job);
}

/* Requests by kind and the status of their answer ("none": no HTTP answer came). */
static void render_requests(const upstream_counters *uc, prom_buf *b)
{
	static const char *const kinds[UPSTREAM_KINDS] = {"submit", "poll"};
	char code[8];

	prom_head(b, P "upstream_requests_total", "counter",
	          "Upstream requests answered, by kind and HTTP status (none: a transport error).");
	for (unsigned k = 0; k < UPSTREAM_KINDS; k++) {
		for (unsigned s = 0; s < UPSTREAM_STATUS_SLOTS; s++) {
			if (uc->answers[k][s] == 0 && s != 200 && s != 202)
				continue; /* the statuses seen, and the two that mean success */
			snprintf(code, sizeof(code), "%u", s);
			prom_sample_u(
			    b, P "upstream_requests_total",
			    (prom_label[]){{"kind", kinds[k]}, {"code", s ? code : "none"}}, 2,
			    uc->answers[k][s]);
		}
	}
}

/* --redis (docs/fleet.md): all 0 without it. */
static void render_fleet(const report_src *src, prom_buf *b)
{
	const rconn *rc = src->fleet ? fleet_conn(src->fleet) : NULL;
	fjob_counters jc = {0};

	gauge(b, P "redis_up", "1 while the connection to Redis (--redis) is ready.",
	      rc && rconn_get_state(rc) == RCONN_READY ? 1 : 0);
	counter(b, P "redis_connection_losses_total", "Ready connections to Redis lost.",
	        rc ? rconn_losses(rc) : 0);
	gauge(b, P "rate_limit_shared",
	      "1 while the fleet's rate limit on Redis decides; 0: this instance's own.",
	      ratelimit_is_fleet(src->rl) ? 1 : 0);
	counter(b, P "rate_limit_switches_total",
	        "Changes between the fleet's rate limit and the local fallback.",
	        ratelimit_switches(src->rl));
	if (src->fleet != NULL)
		fjob_get_counters(fleet_jobs_c(src->fleet), &jc);
	counter(b, P "fleet_jobs_taken_over_total",
	        "Upstream jobs of a dead instance that this one took up and polled.", jc.adopted);
}

static void render_upstream(const report_src *src, const upstream_counters *uc, prom_buf *b)
{
	render_requests(uc, b);
	counter(b, P "upstream_items_submitted_total",
	        "Items sent in batch submits, resubmits included (what may be billed).",
	        uc->items_submitted);
	counter(b, P "upstream_retries_total", "Requests repeated after a transient failure.",
	        uc->retries);
	counter(b, P "upstream_resubmits_total",
	        "Submits repeated although the earlier one may have reached the upstream.",
	        uc->resubmits);
	counter(b, P "upstream_dropped_total",
	        "Batches not submitted again because nobody waited for them.", uc->dropped);
	prom_lathist(b, P "rate_limit_wait_seconds",
	             "Time an upstream request waited for the rate limiter.", &uc->rl_wait);
	counter(b, P "rate_limit_waits_total", "Upstream requests that could not go at once.",
	        ratelimit_waits(src->rl));
	gauge(b, P "rate_limit_requests_per_second",
	      "Upstream requests a second the limiter allows now (--rate, less after 429s).",
	      ratelimit_rate_now(src->rl));
	gauge(b, P "rate_limit_configured_requests_per_second",
	      "Upstream requests a second configured with --rate.", src->rate);
	render_fleet(src, b);
	gauge(b, P "quota_paused", "1 while the upstream quota is taken as exhausted.",
	      upstream_quota_paused(src->u) ? 1 : 0);
	counter(b, P "quota_pauses_total", "Times the upstream quota was taken as exhausted.",
	        src->u->quota.pauses);
}

static void render_credits(const report_src *src, prom_buf *b)
{
	report_credits cr;

	report_get_credits(src, &cr);
	prom_head(b, P "credits_spent_total", "counter",
	          "Credits spent on batch jobs: items submitted times --credit-batch-item.");
	prom_sample_f(b, P "credits_spent_total", NULL, 0, cr.spent);
	prom_head(b, P "credits_one_call_per_cell_total", "counter",
	          "What one single geocode call per cell would have cost (cells times "
	          "--credit-single).");
	prom_sample_f(b, P "credits_one_call_per_cell_total", NULL, 0, cr.one_call_per_cell);
	prom_head(b, P "credits_saved_total", "counter",
	          "Credits saved against one single call per cell: cache, dedup and the batch "
	          "discount.");
	prom_sample_f(b, P "credits_saved_total", NULL, 0, cr.saved);
}

static void render_conns(const report_src *src, prom_buf *b)
{
	conn_counters cc = {0};

	if (src->in != NULL)
		ingress_conn_counters(src->in, &cc);
	counter(
	    b, P "ws_origin_refused_total",
	    "WebSocket connections closed on arrival: their Origin is not allowed (--ws-origin).",
	    cc.gated);
}

void metrics_render(const report_src *src, prom_buf *b)
{
	front_counters fc;
	upstream_counters uc;

	front_get_counters(src->f, &fc);
	upstream_get_counters(src->u, &uc);
	gauge(b, P "process_start_time_seconds", "Start time of the process, Unix seconds.",
	      src->start_time_s);
	prom_head(b, P "build_info", "gauge", "The server's version, as a label; always 1.");
	prom_sample_u(b, P "build_info", &(prom_label){"version", CB_VERSION}, 1, 1);
	gauge(b, P "draining", "1 once a SIGTERM or SIGINT came.", front_draining(src->f) ? 1 : 0);
	render_calls(&fc, b);
	render_cache(src, b);
	render_batches(src, &uc, b);
	render_upstream(src, &uc, b);
	render_credits(src, b);
	render_conns(src, b);
}
