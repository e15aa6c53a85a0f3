/* report.c: the map that op "stats" returns; its keys are documented in docs/stats.md. */
#include <string.h>

#include "cache.h"
#include "fdlimit.h"
#include "nngfix.h"
#include "server.h"

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

/* Items of a group not yet upstream: in its open batch and in batches waiting for a slot. */
static uint64_t queued_items(const server *s, const group *g)
{
	uint64_t n = 0;
	for (const batch *b = s->batches; b != NULL; b = b->next)
		if (b->g == g && (b->state == BATCH_OPEN || b->state == BATCH_QUEUED))
			n += b->n;
	return n;
}

static int pack_cache(server *s, msgpack_packer *pk)
{
	cache_stats cs = {.db_bytes = -1};
	const char *path = s->cache ? cache_db_path(s->cache) : NULL;
	int rv;

	if (s->cache != NULL)
		cache_get_stats(s->cache, &cs);
	rv = cbp_pack_cstr(pk, "cache") | msgpack_pack_map(pk, 8);
	rv |= KV_U(pk, "hits", cs.hits);
	rv |= KV_U(pk, "negative_hits", cs.neg_hits);
	rv |= KV_U(pk, "misses", cs.misses);
	rv |= KV_U(pk, "db_hits", cs.db_hits);
	rv |= KV_U(pk, "entries", cs.entries);
	rv |= KV_U(pk, "evictions", cs.evictions);
	rv |= cbp_pack_cstr(pk, "db_bytes") | msgpack_pack_int64(pk, cs.db_bytes);
	rv |= cbp_pack_cstr(pk, "db");
	rv |= path ? cbp_pack_cstr(pk, path) : msgpack_pack_nil(pk);
	return rv;
}

/* Connections and descriptors: what clients that misbehave, or too many of them, cost. */
static int pack_conns(server *s, msgpack_packer *pk)
{
	conn_counters cc = {0};
	int rv;

	if (s->in != NULL)
		ingress_conn_counters(s->in, &cc);
	rv = cbp_pack_cstr(pk, "connections") | msgpack_pack_map(pk, 10);
	rv |= KV_U(pk, "open", cc.open);
	rv |= KV_U(pk, "open_max", cc.open_max);
	/* the watchdog's own probes are not clients */
	rv |= KV_U(pk, "accepted", cc.accepted - MIN(cc.accepted, nngfix_probes_answered()));
	rv |= KV_U(pk, "refused", cc.rejected);
	rv |= KV_U(pk, "max_conns", s->cfg.max_conns);
	rv |= KV_U(pk, "dropped_unread", cc.dropped);
	rv |= KV_U(pk, "closed_send_timeout", cc.send_timeouts);
	rv |= KV_U(pk, "listener_restarts", nngfix_listener_restarts());
	rv |= cbp_pack_cstr(pk, "nng_reaper_stuck");
	rv |= nngfix_reaper_stuck() ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	rv |= cbp_pack_cstr(pk, "descriptors") | msgpack_pack_map(pk, 3);
	rv |= KV_U(pk, "limit", s->nofile);
	rv |= KV_U(pk, "exhausted", fdlimit_exhausted());
	/* a refusal at a cap derived from the limit is descriptor exhaustion averted */
	rv |= KV_U(pk, "conns_refused", cc.rejected);
	return rv;
}

/* calls_answered, and answered_by_code without the codes never given. */
static int pack_answered(const stats *st, msgpack_packer *pk)
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

/* Items not yet upstream, by group, for the groups that have some. */
static int pack_queued(server *s, msgpack_packer *pk)
{
	size_t ngroups = 0;
	int rv;

	for (size_t i = 0; i < s->groups.nbuckets; i++)
		for (htab_node *n = s->groups.buckets[i]; n != NULL; n = n->next)
			ngroups += queued_items(s, (group *)n) > 0;
	rv = cbp_pack_cstr(pk, "queued") | msgpack_pack_map(pk, ngroups);
	for (size_t i = 0; i < s->groups.nbuckets; i++) {
		for (htab_node *n = s->groups.buckets[i]; n != NULL; n = n->next) {
			uint64_t q = queued_items(s, (group *)n);
			if (q > 0)
				rv |= KV_U(pk, ((group *)n)->label, q);
		}
	}
	return rv;
}

static int pack_sizes(const stats *st, msgpack_packer *pk)
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

int report_pack(server *s, msgpack_packer *pk)
{
	stats merged = s->st;
	const stats *st = &merged;
	size_t waiting = 0;
	int rv = 0;

	hot_stats_merge(&merged, &s->hot);
	for (batch *b = s->slot_head; b != NULL; b = b->qnext)
		waiting++;
	rv |= msgpack_pack_map(pk, 30);
	rv |= KV_F(pk, "uptime_s", (double)(now_ns() - s->t_start_ns) / 1e9);
	rv |= cbp_pack_cstr(pk, "version") | cbp_pack_cstr(pk, CB_VERSION);
	rv |= KV_U(pk, "requests", st->requests);
	rv |= KV_U(pk, "calls_received", st->calls_received);
	rv |= pack_answered(st, pk);
	rv |= KV_U(pk, "calls_in_flight", s->pending);
	rv |= pack_queued(s, pk);
	rv |= KV_U(pk, "batches_sent", st->batches_sent);
	rv |= pack_sizes(st, pk);
	rv |= KV_U(pk, "dedup_hits", st->dedup_hits);
	rv |= KV_U(pk, "upstream_submits", st->submits);
	rv |= KV_U(pk, "upstream_polls", st->polls);
	rv |= KV_U(pk, "upstream_http_errors", st->http_errors);
	rv |= KV_U(pk, "upstream_retries", st->retries);
	rv |= KV_U(pk, "upstream_resubmits", st->resubmits);
	rv |= KV_U(pk, "rate_limit_waits", st->rate_waits);
	rv |= KV_U(pk, "busy_rejections", st->answered[CB_EBUSY]);
	rv |= KV_U(pk, "timeouts", st->answered[CB_ETIMEOUT]);
	rv |= KV_U(pk, "calls_in_flight_max", s->pending_high_water);
	rv |= KV_U(pk, "jobs_active", s->jobs_active);
	rv |= KV_U(pk, "batches_waiting_for_slot", waiting);
	rv |= pack_pcts(pk, "slot_wait_ms", &st->slot_wait, 0);
	rv |= KV_U(pk, "max_jobs", s->cfg.max_jobs);
	rv |= pack_pcts(pk, "job_ms", &st->job, 0);
	rv |= pack_cache(s, pk);
	rv |= pack_conns(s, pk);
	rv |= pack_pcts(pk, "latency_queued_ms", &st->queued, 1);
	rv |= pack_pcts(pk, "latency_total_ms", &st->total, 1);
	return rv;
}
