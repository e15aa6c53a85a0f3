/* report.c: the map that op "stats" returns; its keys are documented in docs/stats.md. */
#include <string.h>

#include "cache.h"
#include "fdlimit.h"
#include "claim.h"
#include "fleet.h"
#include "nngfix.h"
#include "clock.h"
#include "report.h"

#define KV_U(pk, k, v) (cbp_pack_cstr(pk, k) | msgpack_pack_uint64(pk, (uint64_t)(v)))
#define KV_F(pk, k, v) (cbp_pack_cstr(pk, k) | msgpack_pack_double(pk, (double)(v)))

static int pack_pcts(msgpack_packer *pk, const char *key, const lathist *h, int with99)
{
	int rv = cbp_pack_cstr(pk, key) | msgpack_pack_map(pk, 2 + with99);
	rv |= KV_F(pk, "p50", lathist_pct(h, 50));
	rv |= KV_F(pk, "p95", lathist_pct(h, 95));
	if (with99)
		rv |= KV_F(pk, "p99", lathist_pct(h, 99));
	return rv;
}

static int pack_cache(struct cache *c, msgpack_packer *pk)
{
	cache_stats cs = {.db_bytes = -1};
	const char *path = c ? cache_db_path(c) : NULL;
	int rv;

	if (c != NULL)
		cache_get_stats(c, &cs);
	rv = cbp_pack_cstr(pk, "cache") | msgpack_pack_map(pk, 16);
	rv |= KV_U(pk, "hits", cs.hits);
	rv |= KV_U(pk, "negative_hits", cs.neg_hits);
	rv |= KV_U(pk, "misses", cs.misses);
	rv |= KV_U(pk, "db_hits", cs.db_hits);
	rv |= KV_U(pk, "entries", cs.entries);
	rv |= KV_U(pk, "evictions", cs.evictions);
	rv |= cbp_pack_cstr(pk, "db_bytes") | msgpack_pack_int64(pk, cs.db_bytes);
	rv |= cbp_pack_cstr(pk, "db");
	rv |= path ? cbp_pack_cstr(pk, path) : msgpack_pack_nil(pk);
	rv |= cbp_pack_cstr(pk, "db_state") | cbp_pack_cstr(pk, cache_db_state_name(cs.db_state));
	rv |= KV_U(pk, "corrupt", cs.corrupt);
	rv |= KV_U(pk, "unverified", cs.unverified);
	rv |= KV_U(pk, "expired_deleted", cs.expired_deleted);
	rv |= KV_U(pk, "db_errors", cs.db_errors);
	rv |= KV_U(pk, "db_written", cs.db_written);
	rv |= KV_U(pk, "db_unwritten", cs.db_unwritten);
	rv |= KV_U(pk, "db_dropped", cs.db_dropped);
	return rv;
}

/* Connections and descriptors: what clients that misbehave, or too many of them, cost. */
static int pack_conns(const report_src *src, msgpack_packer *pk)
{
	conn_counters cc = {0};
	uint64_t probes;
	int rv;

	if (src->in != NULL)
		ingress_conn_counters(src->in, &cc);
	rv = cbp_pack_cstr(pk, "connections") | msgpack_pack_map(pk, 11);
	rv |= KV_U(pk, "open", cc.open);
	rv |= KV_U(pk, "open_max", cc.open_max);
	/* the watchdog's own probes are not clients */
	probes = nngfix_probes_answered();
	rv |= KV_U(pk, "accepted", cc.accepted > probes ? cc.accepted - probes : 0);
	rv |= KV_U(pk, "refused", cc.rejected);
	rv |= KV_U(pk, "max_conns", src->max_conns);
	rv |= KV_U(pk, "dropped_unread", cc.dropped);
	rv |= KV_U(pk, "closed_send_timeout", cc.send_timeouts);
	rv |= KV_U(pk, "ws_origin_refused", cc.gated); /* the Origin check is the only gate */
	rv |= KV_U(pk, "listener_restarts", nngfix_listener_restarts());
	rv |= cbp_pack_cstr(pk, "nng_reaper_stuck");
	rv |= nngfix_reaper_stuck() ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	rv |= cbp_pack_cstr(pk, "descriptors") | msgpack_pack_map(pk, 3);
	rv |= KV_U(pk, "limit", src->nofile);
	rv |= KV_U(pk, "exhausted", fdlimit_exhausted());
	/* a refusal at a cap derived from the limit is descriptor exhaustion averted */
	rv |= KV_U(pk, "conns_refused", cc.rejected);
	return rv;
}

/* calls_answered, and answered_by_code without the codes never given. */
static int pack_answered(const front_counters *st, msgpack_packer *pk)
{
	uint64_t answered = 0;
	unsigned codes = 0;
	int rv;

	for (unsigned i = 0; i < CODE_SLOTS; i++) {
		answered += st->answered[i];
		codes += st->answered[i] != 0;
	}
	rv = KV_U(pk, "calls_answered", answered);
	rv |= cbp_pack_cstr(pk, "answered_by_code") | msgpack_pack_map(pk, codes);
	for (unsigned i = 0; i < CODE_SLOTS; i++) {
		if (st->answered[i] == 0)
			continue;
		rv |= KV_U(pk, i == CB_OK ? "OK" : cb_err_name((cb_err)i), st->answered[i]);
	}
	return rv;
}

typedef struct queued_ctx {
	msgpack_packer *pk;
	int rv;
} queued_ctx;

static void queued_visit(void *arg, const char *label, uint64_t n)
{
	queued_ctx *q = arg;
	q->rv |= KV_U(q->pk, label, n);
}

/* Items not yet upstream, by group, for the groups that have some. */
static int pack_queued(const report_src *src, msgpack_packer *pk)
{
	queued_ctx q = {.pk = pk};

	q.rv = cbp_pack_cstr(pk, "queued") | msgpack_pack_map(pk, batcher_groups_queued(src->bt));
	batcher_each_queued(src->bt, queued_visit, &q);
	return q.rv;
}

static int pack_sizes(const upstream_counters *st, msgpack_packer *pk)
{
	int rv = cbp_pack_cstr(pk, "batch_size_hist") | msgpack_pack_map(pk, SIZE_BUCKETS);

	for (unsigned i = 0; i < SIZE_BUCKETS; i++) {
		char k[8];
		snprintf(k, sizeof(k), "%u", 1u << i);
		rv |= KV_U(pk, k, st->size_hist[i]);
	}
	return rv | KV_F(pk, "batch_size_mean",
	                 st->batches_sent ? (double)st->batch_items / st->batches_sent : 0.0);
}

/* Batches, dedup, the upstream's requests and the limiter. */
static int pack_upstream(const report_src *src, const upstream_counters *uc, msgpack_packer *pk)
{
	int rv = 0;

	rv |= KV_U(pk, "batches_sent", uc->batches_sent);
	rv |= pack_sizes(uc, pk);
	rv |= KV_U(pk, "dedup_hits", batcher_dedup_hits(src->bt));
	rv |= KV_U(pk, "upstream_submits", uc->submits);
	rv |= KV_U(pk, "upstream_polls", uc->polls);
	rv |= KV_U(pk, "upstream_http_errors", uc->http_errors);
	rv |= KV_U(pk, "upstream_retries", uc->retries);
	rv |= KV_U(pk, "upstream_resubmits", uc->resubmits);
	rv |= KV_U(pk, "rate_limit_waits", ratelimit_waits(src->rl));
	rv |= KV_U(pk, "upstream_429s", uc->rate_limited);
	rv |= KV_U(pk, "upstream_dropped", uc->dropped);
	rv |= KV_F(pk, "upstream_rate_now", ratelimit_rate_now(src->rl));
	rv |= KV_F(pk, "upstream_rate", src->rate);
	return rv;
}

/* Whether the upstream quota is taken as exhausted, and since when it comes back. */
static int pack_quota(const report_src *src, msgpack_packer *pk)
{
	const quota *q = &src->u->quota;
	uint64_t now = now_ns();
	bool paused = quota_paused(q, now);
	int rv = cbp_pack_cstr(pk, "quota") | msgpack_pack_map(pk, 3);

	rv |= cbp_pack_cstr(pk, "paused");
	rv |= paused ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	rv |= KV_F(pk, "resumes_in_s", paused ? (double)(q->paused_until_ns - now) / 1e9 : 0.0);
	rv |= KV_U(pk, "pauses", q->pauses);
	return rv;
}

/* The instances that reported to Redis in the last minute, each its report_instance_summary. */
static int pack_instances(const freport *r, msgpack_packer *pk)
{
	size_t n = r ? freport_count(r) : 0;
	int rv = cbp_pack_cstr(pk, "instances") | msgpack_pack_array(pk, n);

	for (size_t i = 0; i < n; i++) {
		size_t len, off = 0;
		const char *b = freport_get(r, i, &len);
		msgpack_unpacked u;

		msgpack_unpacked_init(&u);
		/* written by a cellbatchd, but read from Redis: anything else is an empty map */
		if (msgpack_unpack_next(&u, b, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len &&
		    u.data.type == MSGPACK_OBJECT_MAP)
			rv |= msgpack_pack_object(pk, u.data);
		else
			rv |= msgpack_pack_map(pk, 0);
		msgpack_unpacked_destroy(&u);
	}
	return rv;
}

char *report_instance_summary(void *arg, size_t *len)
{
	const report_src *src = arg;
	front_counters fc;
	upstream_counters uc;
	report_credits cr;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rv;

	front_get_counters(src->f, &fc);
	upstream_get_counters(src->u, &uc);
	report_get_credits(src, &cr);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rv = msgpack_pack_map(&pk, 10 + (src->public_url != NULL));
	rv |= cbp_pack_cstr(&pk, "instance") |
	      cbp_pack_cstr(&pk, src->fleet ? fshare_owner(fleet_share_c(src->fleet)) : "?");
	rv |= cbp_pack_cstr(&pk, "version") | cbp_pack_cstr(&pk, CB_VERSION);
	rv |= KV_F(&pk, "uptime_s", (double)(now_ns() - src->t_start_ns) / 1e9);
	rv |= KV_U(&pk, "calls_received", fc.calls_received);
	rv |= KV_U(&pk, "calls_in_flight", fc.pending);
	rv |= KV_U(&pk, "upstream_submits", uc.submits);
	rv |= KV_U(&pk, "upstream_polls", uc.polls);
	rv |= KV_U(&pk, "items_submitted", cr.items);
	rv |= KV_F(&pk, "credits_spent", cr.spent);
	rv |= KV_F(&pk, "credits_saved", cr.saved);
	/* where browsers reach it: the Excel add-in of one instance dials the others there */
	if (src->public_url != NULL)
		rv |= cbp_pack_cstr(&pk, "public_url") | cbp_pack_cstr(&pk, src->public_url);
	if (rv != 0) {
		msgpack_sbuffer_destroy(&sb);
		return NULL;
	}
	*len = sb.size;
	return sb.data; /* the sbuffer's malloc'd bytes: the caller frees them */
}

/* The string under key in map o, NUL-terminated into buf; NULL when absent, not one, too long. */
static const char *map_str(const msgpack_object *o, const char *key, char *buf, size_t cap)
{
	size_t klen = strlen(key);

	for (uint32_t i = 0; o->type == MSGPACK_OBJECT_MAP && i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != klen ||
		    memcmp(k->via.str.ptr, key, klen) != 0)
			continue;
		if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap)
			return NULL;
		memcpy(buf, v->via.str.ptr, v->via.str.size);
		buf[v->via.str.size] = '\0';
		return buf;
	}
	return NULL;
}

bool report_summary_url(const char *b, size_t len, char *url, size_t cap, char *name,
                        size_t name_cap)
{
	msgpack_unpacked u;
	size_t off = 0;
	bool ok;

	msgpack_unpacked_init(&u);
	ok = msgpack_unpack_next(&u, b, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	     map_str(&u.data, "public_url", url, cap) != NULL;
	if (ok && map_str(&u.data, "instance", name, name_cap) == NULL)
		name[0] = '\0';
	msgpack_unpacked_destroy(&u);
	return ok;
}

/* --redis: the connection and who decides the rate limit (docs/fleet.md). */
static int pack_fleet(const report_src *src, msgpack_packer *pk)
{
	const fleet *fl = src->fleet;
	const rconn *rc = fl ? fleet_conn(fl) : NULL;
	const flimit *lim = fl ? fleet_limiter_c(fl) : NULL;
	const char *limiter = fl == NULL                    ? "local"
	                      : ratelimit_is_fleet(src->rl) ? "fleet"
	                                                    : "fallback";
	fshare_counters fc = {0};
	fjob_counters jc = {0};
	int rv = cbp_pack_cstr(pk, "fleet") | msgpack_pack_map(pk, 15);

	if (fl != NULL) {
		fshare_get_counters(fleet_share_c(fl), &fc);
		fjob_get_counters(fleet_jobs_c(fl), &jc);
	}

	rv |= cbp_pack_cstr(pk, "redis") |
	      cbp_pack_cstr(pk, rc ? rconn_state_name(rconn_get_state(rc)) : "off");
	rv |= cbp_pack_cstr(pk, "limiter") | cbp_pack_cstr(pk, limiter);
	rv |= KV_U(pk, "limiter_switches", ratelimit_switches(src->rl));
	rv |= KV_U(pk, "redis_connects", rc ? rconn_connects(rc) : 0);
	rv |= KV_U(pk, "redis_losses", rc ? rconn_losses(rc) : 0);
	rv |= KV_U(pk, "tokens_granted", lim ? flimit_granted(lim) : 0);
	rv |= KV_U(pk, "tokens_waited", lim ? flimit_waits(lim) : 0);
	rv |= KV_U(pk, "token_errors", lim ? flimit_errors(lim) : 0);
	rv |= KV_U(pk, "shared_hits", batcher_remote_hits(src->bt));
	rv |= KV_U(pk, "lease_waits", batcher_remote_waits(src->bt));
	rv |= KV_U(pk, "leases_taken", fc.mine);
	rv |= KV_U(pk, "corrupt", fc.corrupt + jc.damaged);
	rv |= KV_U(pk, "jobs_journalled", jc.kept);
	rv |= KV_U(pk, "jobs_taken_over", jc.adopted);
	return rv | pack_instances(fl ? fleet_report_c(fl) : NULL, pk);
}

void report_get_credits(const report_src *src, report_credits *out)
{
	cache_stats cs = {0};
	upstream_counters uc;

	if (src->cache != NULL)
		cache_get_stats(src->cache, &cs);
	upstream_get_counters(src->u, &uc);
	out->items = uc.items_submitted;
	/* a cell asked for an answer: from the cache, joined an identical item, or went upstream */
	out->cells = cs.hits + cs.neg_hits + batcher_dedup_hits(src->bt) + uc.batch_items;
	out->spent = (double)out->items * src->credit_batch_item;
	out->one_call_per_cell = (double)out->cells * src->credit_single;
	out->saved = out->one_call_per_cell - out->spent;
}

static int pack_credits(const report_src *src, msgpack_packer *pk)
{
	report_credits cr;
	int rv = cbp_pack_cstr(pk, "credits") | msgpack_pack_map(pk, 7);

	report_get_credits(src, &cr);
	rv |= KV_F(pk, "spent", cr.spent);
	rv |= KV_F(pk, "one_call_per_cell", cr.one_call_per_cell);
	rv |= KV_F(pk, "saved", cr.saved);
	rv |= KV_F(pk, "batch_item_price", src->credit_batch_item);
	rv |= KV_F(pk, "single_price", src->credit_single);
	rv |= KV_U(pk, "items_submitted", cr.items);
	rv |= KV_U(pk, "cells", cr.cells);
	return rv;
}

/* Call latency over the last minute (recent.h): what the dashboard draws over time. */
static int pack_recent(const report_src *src, const lathist *total, msgpack_packer *pk)
{
	recent_view v;
	int rv;

	recent_update(src->latency_recent, total, now_ns(), &v);
	rv = cbp_pack_cstr(pk, "latency_recent_ms") | msgpack_pack_map(pk, 5);
	rv |= KV_F(pk, "window_s", v.window_s);
	rv |= KV_U(pk, "count", v.h.count);
	rv |= KV_F(pk, "p50", lathist_pct(&v.h, 50));
	rv |= KV_F(pk, "p95", lathist_pct(&v.h, 95));
	rv |= KV_F(pk, "p99", lathist_pct(&v.h, 99));
	return rv;
}

int report_pack(void *arg, msgpack_packer *pk)
{
	const report_src *src = arg;
	front_counters fc;
	upstream_counters uc;
	int rv = 0;

	front_get_counters(src->f, &fc);
	upstream_get_counters(src->u, &uc);
	rv |= msgpack_pack_map(pk, 40);
	rv |= KV_F(pk, "uptime_s", (double)(now_ns() - src->t_start_ns) / 1e9);
	rv |= cbp_pack_cstr(pk, "version") | cbp_pack_cstr(pk, CB_VERSION);
	rv |= KV_U(pk, "requests", fc.requests);
	rv |= KV_U(pk, "calls_received", fc.calls_received);
	rv |= pack_answered(&fc, pk);
	rv |= KV_U(pk, "calls_in_flight", fc.pending);
	rv |= cbp_pack_cstr(pk, "draining");
	rv |= front_draining(src->f) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	rv |= pack_queued(src, pk);
	rv |= pack_upstream(src, &uc, pk);
	rv |= pack_quota(src, pk);
	rv |= KV_U(pk, "busy_rejections", fc.answered[CB_EBUSY]);
	rv |= KV_U(pk, "timeouts", fc.answered[CB_ETIMEOUT]);
	rv |= KV_U(pk, "unauthorized", fc.unauthorized);
	rv |= KV_U(pk, "calls_in_flight_max", fc.pending_high_water);
	rv |= KV_U(pk, "jobs_active", dispatch_active(src->d));
	rv |= KV_U(pk, "batches_waiting_for_slot", dispatch_waiting(src->d));
	rv |= pack_pcts(pk, "slot_wait_ms", dispatch_slot_wait(src->d), 0);
	rv |= KV_U(pk, "max_jobs", dispatch_max_jobs(src->d));
	rv |= pack_pcts(pk, "job_ms", &uc.job, 0);
	rv |= pack_cache(src->cache, pk);
	rv |= pack_conns(src, pk);
	rv |= pack_pcts(pk, "latency_queued_ms", &fc.queued, 1);
	rv |= pack_pcts(pk, "latency_total_ms", &fc.total, 1);
	rv |= pack_recent(src, &fc.total, pk);
	rv |= pack_credits(src, pk);
	rv |= pack_fleet(src, pk);
	return rv;
}
