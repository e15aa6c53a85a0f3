/* test_http.c: cellbatchd's --http listener over real HTTP — health and readiness, /stats.json
 * against the stats op, /fleet.json alone, /metrics scraped during a burst (promtool, counters
 * against the stats op and the mock, cumulative histograms, credits by hand), and a non-loopback
 * host refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "scrape.h"

#define TIMEOUT_MS 30000

/*
 * Starts cellbatchd with --http on a free loopback port (another try if the
 * port was taken), and the two prices (NULL: their defaults).
 */
static unsigned start_priced(it_env *e, const char *item_price, const char *single_price)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		unsigned port = free_port();
		char addr[64];
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		if (it_start_server(e, "--http", addr, "--no-cache-db", "--credit-batch-item",
		                    item_price ? item_price : "0.5", "--credit-single",
		                    single_price ? single_price : "1", NULL) == 0)
			return port;
	}
	fail_msg("cellbatchd did not start with --http");
	return 0;
}

static unsigned start_with_http(it_env *e)
{
	return start_priced(e, NULL, NULL);
}

static void make_calls(it_env *e, const char *fmt, size_t n, size_t distinct)
{
	it_call *c = calloc(n, sizeof(*c));
	it_reply *r = calloc(n, sizeof(*r));
	char(*texts)[64] = calloc(n, sizeof(*texts));

	for (size_t i = 0; i < n; i++) {
		snprintf(texts[i], sizeof(texts[i]), fmt, i % distinct);
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = texts[i], .id = i + 1};
	}
	assert_int_equal(it_calls(e->url, c, n, r, TIMEOUT_MS), 0);
	for (size_t i = 0; i < n; i++) {
		assert_true(r[i].decoded);
		if (r[i].rep.err != CB_OK)
			fail_msg("call %zu: %s: %.*s", i, cb_err_name(r[i].rep.err),
			         (int)r[i].rep.message.len, r[i].rep.message.ptr);
	}
	it_replies_free(r, n);
	free(r);
	free(c);
	free(texts);
}

/* One geocode call; its error code. */
static cb_err one_call(it_env *e, const char *text)
{
	it_call c = {.fn = CB_FN_GEOCODE, .text = text, .id = 1};
	it_reply r;
	cb_err err;

	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	assert_true(r.decoded);
	err = r.rep.err;
	it_replies_free(&r, 1);
	return err;
}

/* ------------------------------------------------------------ /stats.json against the stats op */

static const char *const skip_keys[] = {"uptime_s", "connections", "resumes_in_s", "window_s"};

static bool skipped(const char *k, size_t n)
{
	for (size_t i = 0; i < sizeof(skip_keys) / sizeof(skip_keys[0]); i++)
		if (strlen(skip_keys[i]) == n && memcmp(skip_keys[i], k, n) == 0)
			return true;
	return false;
}

/* Every number, string and boolean of the msgpack map m equals the one at the same key in j. */
static void same_map(const msgpack_object *m, const json_t *j, const char *where)
{
	assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
	assert_true(json_is_object(j));
	assert_int_equal(json_object_size(j), m->via.map.size);
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
		char key[128];
		json_t *jv;
		snprintf(key, sizeof(key), "%.*s", (int)k->via.str.size, k->via.str.ptr);
		if (skipped(key, strlen(key)))
			continue;
		if ((jv = json_object_get(j, key)) == NULL)
			fail_msg("%s: /stats.json has no %s", where, key);
		if (v->type == MSGPACK_OBJECT_MAP)
			same_map(v, jv, key);
		else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			assert_int_equal(json_integer_value(jv), v->via.u64);
		else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			assert_int_equal(json_integer_value(jv), v->via.i64);
		else if (v->type == MSGPACK_OBJECT_FLOAT64 || v->type == MSGPACK_OBJECT_FLOAT32)
			assert_true(json_number_value(jv) == v->via.f64);
		else if (v->type == MSGPACK_OBJECT_BOOLEAN)
			assert_int_equal(json_is_true(jv), v->via.boolean);
		else if (v->type == MSGPACK_OBJECT_STR)
			assert_int_equal(
			    strncmp(json_string_value(jv), v->via.str.ptr, v->via.str.size), 0);
	}
}

static void test_health_and_stats_json(void **state)
{
	it_env *e = *state;
	unsigned port;
	nng_socket s;
	it_reply st;
	http_got g;
	json_t *j, *j_credits;

	assert_int_equal(it_start_mock(e, "--pending", "30ms", NULL), 0);
	port = start_priced(e, "0.25", "2");
	http_get(port, "/healthz", &g);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.body, "ok\n");
	free(g.body);
	http_get(port, "/readyz", &g);
	assert_int_equal(g.status, 200); /* not called yet: nothing known against it */
	free(g.body);
	http_get(port, "/nothing-here", &g);
	assert_int_equal(g.status, 404);
	free(g.body);
	/* no --public-url, no --redis: no URL a browser could be sent to (the Excel add-in's own)
	 */
	http_get(port, "/fleet.json", &g);
	assert_int_equal(g.status, 200);
	assert_non_null(strstr(g.ctype, "application/json"));
	assert_string_equal(g.body, "{\"servers\":[]}");
	free(g.body);

	make_calls(e, "%zu Json Lane, Statstown", 60, 40); /* 20 dedup hits */
	make_calls(e, "%zu Json Lane, Statstown", 10, 10); /* 10 cache hits */
	assert_int_equal(it_wait_stat(e->url, "jobs_active", 0, 0, TIMEOUT_MS), 0);
	http_get(port, "/readyz", &g);
	assert_int_equal(g.status, 200);
	assert_non_null(strstr(g.body, "ok"));
	free(g.body);

	/* the stats op, then /stats.json on the same connection count (HTTP is no request) */
	assert_int_equal(it_open(e->url, &s), 0);
	assert_int_equal(it_stats_on(s, &st, TIMEOUT_MS), 0);
	http_get(port, "/stats.json", &g);
	nng_close(s);
	assert_int_equal(g.status, 200);
	assert_non_null(strstr(g.ctype, "application/json"));
	assert_non_null(j = json_loads(g.body, JSON_REJECT_DUPLICATES, NULL));
	same_map(&st.rep.stats, j, "stats");
	assert_int_equal(json_integer_value(json_object_get(j, "dedup_hits")), 20);
	/* other prices: 40 items at 0.25; 70 cells (40 batched, 20 dedup, 10 cached) at 2 */
	assert_int_equal(it_mock_stat(e, "items"), 40);
	j_credits = json_object_get(j, "credits");
	assert_true(json_real_value(json_object_get(j_credits, "spent")) == 10.0);
	assert_true(json_real_value(json_object_get(j_credits, "one_call_per_cell")) == 140.0);
	assert_true(json_real_value(json_object_get(j_credits, "saved")) == 130.0);
	assert_true(json_real_value(json_object_get(j_credits, "batch_item_price")) == 0.25);
	assert_true(json_real_value(json_object_get(j_credits, "single_price")) == 2.0);
	json_decref(j);
	free(g.body);
	it_replies_free(&st, 1);
}

/* ------------------------------------------------------------ /readyz while the key is refused */

static void expect_ready(unsigned port, long status, const char *words)
{
	http_got g;

	http_get(port, "/readyz", &g);
	if (g.status != status || strstr(g.body, words) == NULL)
		fail_msg("/readyz: %ld %s (wanted %ld with \"%s\")", g.status, g.body, status,
		         words);
	/* one line */
	assert_ptr_equal(strchr(g.body, '\n'), g.body + g.len - 1);
	free(g.body);
}

static void test_readyz_follows_the_upstream(void **state)
{
	it_env *e = *state;
	unsigned port;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	port = start_with_http(e);
	assert_int_equal(one_call(e, "1 Ready Road, Probeville"), CB_OK);
	expect_ready(port, 200, "ok: the upstream answered well");

	assert_int_equal(it_mock_config(e, "{\"faults\":[\"status=401@request:*\"]}"), 0);
	assert_int_equal(one_call(e, "2 Ready Road, Probeville"), CB_EUPSTREAM_AUTH);
	expect_ready(port, 503, "not ready: the upstream refused the API key (HTTP 401");

	assert_int_equal(it_mock_config(e, "{\"faults\":[]}"), 0);
	assert_int_equal(one_call(e, "3 Ready Road, Probeville"), CB_OK);
	expect_ready(port, 200, "ok");
}

/* ------------------------------------------------------------ /metrics during a burst */

typedef struct burst {
	it_env *e;
	volatile int done;
} burst;

static void *burst_main(void *arg)
{
	burst *b = arg;
	make_calls(b->e, "%zu Burst Boulevard, Scrapetown", 2000, 1500); /* 500 dedup hits */
	b->done = 1;
	return NULL;
}

/* Scrapes until the burst is over; promtool checks every scrape that saw calls in flight. */
static void scrape_during(it_env *e, unsigned port, burst *b)
{
	int busy = 0, n = 0;
	double worst = 0;
	size_t size = 0;

	while (!b->done) {
		http_got g;
		scrape sc;
		http_get(port, "/metrics", &g);
		assert_int_equal(g.status, 200);
		assert_string_equal(g.ctype, "text/plain; version=0.0.4; charset=utf-8");
		parse_metrics(g.body, &sc);
		if (metric(&sc, "cellbatch_calls_in_flight") > 0) {
			promtool_check(e, g.body, g.len);
			assert_true(check_histograms(&sc) >= 7);
			busy++;
		}
		worst = g.ms > worst ? g.ms : worst;
		size = g.len;
		n++;
		free(sc.s);
		free(g.body);
	}
	print_message("/metrics: %d scrapes during the burst (%d with calls in flight), %zu bytes, "
	              "slowest fetch %.1f ms\n",
	              n, busy, size, worst);
	assert_true(busy > 0);
}

/* Counters against the stats op and the mock, after the burst; credits by hand. */
static void check_counters(it_env *e, const scrape *sc, const msgpack_object *st, long cells)
{
	long items = it_mock_stat(e, "items"), submits = it_mock_stat(e, "submits");
	long polls = it_mock_stat(e, "polls");

	assert_true(metric_sum(sc, "cellbatch_calls_received_total") ==
	            it_mp_get(st, "calls_received")->via.u64);
	assert_true(metric(sc, "cellbatch_calls_answered_total{code=\"OK\"}") == cells);
	assert_true(metric(sc, "cellbatch_dedup_hits_total") ==
	            it_mp_get(st, "dedup_hits")->via.u64);
	assert_true(metric_sum(sc, "cellbatch_batches_sent_total") ==
	            it_mp_get(st, "batches_sent")->via.u64);
	assert_true(metric(sc, "cellbatch_batch_size_count") ==
	            it_mp_get(st, "batches_sent")->via.u64);
	assert_true(metric(sc, "cellbatch_upstream_requests_total{kind=\"submit\",code=\"202\"}") ==
	            submits);
	assert_int_equal(it_mp_get(st, "upstream_submits")->via.u64, submits);
	assert_true(metric_sum(sc, "cellbatch_upstream_requests_total") == submits + polls);
	assert_int_equal(it_mp_get(st, "upstream_polls")->via.u64, polls);
	assert_true(metric(sc, "cellbatch_upstream_items_submitted_total") == items);
	assert_true(metric(sc, "cellbatch_batch_size_sum") == items); /* nothing resubmitted */
	/* by hand: every item submitted at 0.5; one single call per cell at 1 */
	assert_true(metric(sc, "cellbatch_credits_spent_total") == items * 0.5);
	assert_true(metric(sc, "cellbatch_credits_saved_total") == cells * 1.0 - items * 0.5);
	assert_true(it_mp_get(it_mp_get(st, "credits"), "spent")->via.f64 == items * 0.5);
	assert_true(it_mp_get(it_mp_get(st, "credits"), "saved")->via.f64 == cells - items * 0.5);
	assert_int_equal(it_mp_get(it_mp_get(st, "credits"), "cells")->via.u64, cells);
}

static void test_metrics_during_a_burst(void **state)
{
	it_env *e = *state;
	burst b = {.e = e};
	pthread_t t;
	unsigned port;
	it_reply st;
	http_got g;
	scrape sc;

	assert_int_equal(it_start_mock(e, "--pending", "300ms", NULL), 0);
	port = start_with_http(e);
	assert_int_equal(pthread_create(&t, NULL, burst_main, &b), 0);
	scrape_during(e, port, &b);
	pthread_join(t, NULL);
	make_calls(e, "%zu Burst Boulevard, Scrapetown", 100, 100); /* 100 cache hits */
	assert_int_equal(it_wait_stat(e->url, "jobs_active", 0, 0, TIMEOUT_MS), 0);

	http_get(port, "/metrics", &g);
	promtool_check(e, g.body, g.len);
	parse_metrics(g.body, &sc);
	assert_true(check_histograms(&sc) >= 7);
	assert_true(metric(&sc, "cellbatch_cache_lookups_total{result=\"hit\"}") == 100);
	assert_true(metric(&sc, "cellbatch_dedup_hits_total") == 500);
	assert_int_equal(it_stats(e->url, &st, TIMEOUT_MS), 0);
	check_counters(e, &sc, &st.rep.stats, 2100); /* 1500 batched + 500 dedup + 100 cached */
	assert_int_equal(it_mock_stat(e, "items"), 1500);
	it_replies_free(&st, 1);
	free(sc.s);
	free(g.body);
}

/* ------------------------------------------------------------ only loopback until issue 10's rules
 */

static void test_non_loopback_refused(void **state)
{
	it_env *e = *state;
	char log[300], *text;
	pid_t pid;

	assert_int_equal(it_start_mock(e, NULL), 0);
	snprintf(log, sizeof(log), "%s/refused.log", e->dir);
	pid = it_spawn_server(e, log, "--http", "0.0.0.0:9", NULL);
	assert_true(pid > 0);
	assert_int_equal(it_stop(&pid, 0, 5000), 2); /* exits 2 by itself */
	assert_non_null(text = it_slurp(log, NULL));
	/* the listening policy's rule, as for --listen: TLS and client authentication, or said */
	assert_non_null(strstr(text, "--http 0.0.0.0:9: refused:"));
	assert_non_null(strstr(text, "--insecure-listen"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_health_and_stats_json, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_readyz_follows_the_upstream, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_during_a_burst, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_non_loopback_refused, it_setup, it_teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
