/* test_fleet.c: several cellbatchd on one API key sharing a real redis-server (issue 21): one rate
 * limit across the fleet, and its local fallback while Redis is away. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "cellbatch.h"
#include "fleet_util.h"

/* cells[i] for instance k: addresses of its own ("<k>-<i> Fleet Road") */
static it_call *own_calls(int k, size_t n, char (*texts)[64])
{
	it_call *c = calloc(n, sizeof(*c));

	for (size_t i = 0; i < n; i++) {
		snprintf(texts[i], 64, "%d-%zu Fleet Road", k, i);
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = texts[i], .id = i + 1};
	}
	return c;
}

static size_t count_ok(const it_reply *r, size_t n)
{
	size_t ok = 0;

	for (size_t i = 0; i < n; i++)
		ok += r[i].decoded && r[i].rep.err == CB_OK && r[i].rep.has_result;
	return ok;
}

typedef struct load3 {
	it_fleet_load l[FLEET_MAX];
	char (*texts[FLEET_MAX])[64];
} load3;

static void load3_make(load3 *L, it_fleet *f, size_t n)
{
	for (int k = 0; k < f->n; k++) {
		L->texts[k] = calloc(n, 64);
		L->l[k] = (it_fleet_load){f->url[k], own_calls(k, n, L->texts[k]),
		                          n,         calloc(n, sizeof(it_reply)),
		                          60000,     -1};
	}
}

static void load3_free(load3 *L, int n)
{
	for (int k = 0; k < n; k++) {
		it_replies_free(L->l[k].replies, L->l[k].n);
		free(L->l[k].replies);
		free(L->l[k].calls);
		free(L->texts[k]);
	}
}

/* Every live instance drains and exits 0 on SIGTERM, with nothing in its log from a sanitizer. */
static void fleet_stop(it_fleet *f)
{
	for (int k = 0; k < f->n; k++) {
		if (f->pid[k] > 0)
			assert_int_equal(it_stop(&f->pid[k], SIGTERM, 10000), 0);
		assert_int_equal(it_log_clean(f->log[k]), 0);
	}
	it_redis_stop(&f->redis, SIGTERM);
}

#define FLEET_ARGS      "--rate", "5", "--burst", "1", "--fleet-size", "3", "--batch-max", "50"
#define FLEET_ARGS_FULL "--rate", "5", "--burst", "1", "--fleet-size", "3"

/* Three instances at --rate 5 each, and the plan allows 5 a second in all: with the fleet's
 * limiter the upstream never refuses one and never sees 6 in a second. */
static void test_limit_shared(void **state)
{
	it_env *e = *state;
	it_fleet f = {.e = e};
	load3 L;
	long granted = 0;
	char limiter[32];

	assert_int_equal(it_start_mock(e, "--per-second", "5", NULL), 0);
	assert_int_equal(it_redis_start(e, &f.redis), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(it_fleet_start(&f, k, FLEET_ARGS, NULL), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(it_wait_stat(f.url[k], "fleet.redis_connects", 1, 100, 5000), 0);
	load3_make(&L, &f, 300);
	it_fleet_run(L.l, 3);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(L.l[k].rv, 0);
		assert_int_equal(count_ok(L.l[k].replies, L.l[k].n), L.l[k].n);
		assert_int_equal(it_fleet_stat_str(f.url[k], "limiter", limiter, sizeof(limiter)),
		                 0);
		assert_string_equal(limiter, "fleet");
		granted += it_fleet_stat(f.url[k], "tokens_granted");
	}
	printf("# fleet of 3: %ld requests (%ld submits), %ld 429s, at most %ld in a second, %ld "
	       "tokens granted\n",
	       it_mock_stat(e, "requests"), it_mock_stat(e, "submits"),
	       it_mock_stat(e, "refused_429"), it_mock_stat(e, "max_requests_per_second"), granted);
	assert_int_equal(it_mock_stat(e, "refused_429"), 0);
	assert_true(it_mock_stat(e, "max_requests_per_second") <= 5);
	/* every request had a token from the fleet, unless an instance fell back meanwhile (a
	 * Redis command unanswered for --redis-timeout on a starved machine): then printed */
	if (granted < it_mock_stat(e, "requests")) {
		long switches = 0;
		for (int k = 0; k < 3; k++)
			switches += it_fleet_stat(f.url[k], "limiter_switches");
		printf("# %ld requests without a fleet token: %ld limiter switches\n",
		       it_mock_stat(e, "requests") - granted, switches);
		assert_true(switches > 3);
	}
	load3_free(&L, 3);
	fleet_stop(&f);
}

/* The control: the same three without Redis each send 5 a second, and the plan refuses. */
static void test_limit_control_without_redis(void **state)
{
	it_env *e = *state;
	it_fleet f = {.e = e};
	load3 L;
	int rv;

	assert_int_equal(it_start_mock(e, "--per-second", "5", NULL), 0);
	assert_int_equal(it_redis_start(e, &f.redis), 0); /* there, but not used */
	for (int k = 0; k < 3; k++) {
		snprintf(f.url[k], sizeof(f.url[k]), "ipc://%s/solo%d.sock", e->dir, k);
		snprintf(f.log[k], sizeof(f.log[k]), "%s/solo%d.log", e->dir, k);
		snprintf(f.db[k], sizeof(f.db[k]), "%s/solo%d.db", e->dir, k);
		rv = it_start_server_at(e, f.url[k], f.log[k], &f.pid[k], "--cache-db", f.db[k],
		                        FLEET_ARGS, NULL);
		it_fleet_remember(f.pid[k]);
		assert_int_equal(rv, 0);
		f.n = k + 1;
	}
	load3_make(&L, &f, 200);
	it_fleet_run(L.l, 3);
	printf("# 3 alone: %ld requests, %ld 429s, at most %ld in a second\n",
	       it_mock_stat(e, "requests"), it_mock_stat(e, "refused_429"),
	       it_mock_stat(e, "max_requests_per_second"));
	assert_true(it_mock_stat(e, "refused_429") > 0);
	load3_free(&L, 3);
	fleet_stop(&f);
}

typedef struct bg_load {
	load3 *L;
	pthread_t t;
	int first, n; /* the loads L->l[first..first + n) */
} bg_load;

static void *bg_main(void *arg)
{
	bg_load *bg = arg;

	it_fleet_run(bg->L->l + bg->first, bg->n);
	return NULL;
}

/* Waits until every instance's limiter reads want; 0 or -1 after timeout_ms. */
static int wait_limiter(it_fleet *f, const char *want, int timeout_ms)
{
	double end = it_now_ms() + timeout_ms;
	char got[32];

	for (int k = 0; k < f->n; k++)
		while (it_fleet_stat_str(f->url[k], "limiter", got, sizeof(got)) != 0 ||
		       strcmp(got, want) != 0)
			if (it_now_ms() > end)
				return -1;
	return 0;
}

/* Redis stopped in the middle and started again: no cell lost; every instance falls back to its
 * share (--fleet-size 3) and returns; the plan's 5 a second is never passed. */
static void test_limit_redis_outage(void **state)
{
	it_env *e = *state;
	it_fleet f = {.e = e};
	load3 L;
	bg_load bg = {&L, 0, 0, 3};
	long before, during;

	assert_int_equal(it_start_mock(e, "--per-second", "5", NULL), 0);
	assert_int_equal(it_redis_start(e, &f.redis), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(it_fleet_start(&f, k, FLEET_ARGS, NULL), 0);
	assert_int_equal(wait_limiter(&f, "fleet", 5000), 0);
	load3_make(&L, &f, 300);
	pthread_create(&bg.t, NULL, bg_main, &bg);
	assert_int_equal(it_wait_mock_stat(e, "submits", 4, 20000), 0);
	assert_int_equal(it_redis_stop(&f.redis, SIGKILL), 0);
	assert_int_equal(wait_limiter(&f, "fallback", 5000), 0);
	before = it_mock_stat(e, "requests");
	assert_int_equal(it_wait_mock_stat(e, "requests", before + 6, 20000), 0);
	during = it_mock_stat(e, "requests") - before;
	assert_int_equal(it_redis_start(e, &f.redis), 0);
	assert_int_equal(wait_limiter(&f, "fleet", 5000), 0);
	pthread_join(bg.t, NULL);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(L.l[k].rv, 0);
		assert_int_equal(count_ok(L.l[k].replies, L.l[k].n), L.l[k].n);
		assert_true(it_fleet_stat(f.url[k], "limiter_switches") >= 3);
	}
	printf("# redis outage: %ld requests (%ld while Redis was away), %ld 429s, at most %ld in "
	       "a second\n",
	       it_mock_stat(e, "requests"), during, it_mock_stat(e, "refused_429"),
	       it_mock_stat(e, "max_requests_per_second"));
	assert_int_equal(it_mock_stat(e, "refused_429"), 0);
	assert_true(it_mock_stat(e, "max_requests_per_second") <= 5);
	load3_free(&L, 3);
	fleet_stop(&f);
}

/* Waits until instance 0 lists n instances whose billed items add up to items (they report
 * every 5 s); 0, or -1 after 15 s. */
static int wait_fleet_view(it_fleet *f, long n, long items)
{
	double end = it_now_ms() + 15000;
	long got = -1, billed = 0;

	while (it_now_ms() < end) {
		if ((got = it_fleet_instances(f->url[0], &billed)) == n && billed == items)
			return 0;
		it_sleep_ms(50);
	}
	printf("# the fleet's view: %ld instances, %ld items billed\n", got, billed);
	return -1;
}

/* Instance k's cells: every address a whose three asks land on k ((a + r) % 3 == k): each
 * address is asked once at each of the three, at the same time. */
static void spread_calls(load3 *L, it_fleet *f, size_t unique)
{
	for (int k = 0; k < 3; k++) {
		L->texts[k] = calloc(unique, 64);
		L->l[k] = (it_fleet_load){f->url[k], calloc(unique, sizeof(it_call)),
		                          unique,    calloc(unique, sizeof(it_reply)),
		                          120000,    -1};
		for (size_t a = 0; a < unique; a++) {
			/* the three asks of one address in another case and spacing: one key */
			snprintf(L->texts[k][a], 64,
			         k == 0   ? "%zu Shared Street"
			         : k == 1 ? "%zu SHARED street"
			                  : "  %zu shared   street",
			         a);
			L->l[k].calls[a] =
			    (it_call){.fn = CB_FN_GEOCODE, .text = L->texts[k][a], .id = a + 1};
		}
	}
}

/*
 * The acceptance: 3 x unique cells over three instances, the plan 5 requests a second
 * with 429 beyond: every cell OK, no 429, never 6 in a second, each address submitted once in
 * the fleet; then a fresh instance with an empty cache of its own submits nothing.
 */
static void fleet_each_address_once(it_env *e, size_t unique)
{
	it_fleet f = {.e = e};
	load3 L;
	double t0, wall;
	long submits, hits = 0, waits = 0;
	it_fleet_load fresh;

	assert_int_equal(it_start_mock(e, "--per-second", "5", NULL), 0);
	assert_int_equal(it_redis_start(e, &f.redis), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(it_fleet_start(&f, k, FLEET_ARGS_FULL, NULL), 0);
	assert_int_equal(wait_limiter(&f, "fleet", 5000), 0);
	spread_calls(&L, &f, unique);
	t0 = it_now_ms();
	it_fleet_run(L.l, 3);
	wall = it_now_ms() - t0;
	for (int k = 0; k < 3; k++) {
		assert_int_equal(L.l[k].rv, 0);
		assert_int_equal(count_ok(L.l[k].replies, L.l[k].n), L.l[k].n);
		hits += it_fleet_stat(f.url[k], "shared_hits");
		waits += it_fleet_stat(f.url[k], "lease_waits");
	}
	submits = it_mock_stat(e, "submits");
	printf("# %zu cells (%zu unique) over 3 instances in %.1f s: %ld requests (%ld submits, "
	       "%ld items, %ld items submitted twice), %ld 429s, at most %ld in a second; %ld "
	       "answered from the fleet, %ld waited on another's lease\n",
	       3 * unique, unique, wall / 1000, it_mock_stat(e, "requests"), submits,
	       it_mock_stat(e, "items"), it_mock_stat(e, "items_repeated"),
	       it_mock_stat(e, "refused_429"), it_mock_stat(e, "max_requests_per_second"), hits,
	       waits);
	assert_int_equal(it_mock_stat(e, "items_repeated"), 0);
	assert_int_equal(it_mock_stat(e, "items_unique"), (long)unique);
	assert_int_equal(it_mock_stat(e, "refused_429"), 0);
	assert_true(it_mock_stat(e, "max_requests_per_second") <= 5);

	/* the fleet's view (cellbatch stats --fleet): every instance, the items each had billed */
	assert_int_equal(wait_fleet_view(&f, 3, unique), 0);

	/* a fresh instance, its own empty cache database: everything from Redis */
	assert_int_equal(it_fleet_start(&f, 3, FLEET_ARGS_FULL, NULL), 0);
	fresh = L.l[0];
	fresh.url = f.url[3];
	fresh.replies = calloc(unique, sizeof(it_reply));
	t0 = it_now_ms();
	it_fleet_run(&fresh, 1);
	printf("# a fresh instance: %zu cells in %.1f s, %ld new submits, %ld answered from the "
	       "fleet\n",
	       unique, (it_now_ms() - t0) / 1000, it_mock_stat(e, "submits") - submits,
	       it_fleet_stat(f.url[3], "shared_hits"));
	assert_int_equal(fresh.rv, 0);
	assert_int_equal(count_ok(fresh.replies, unique), unique);
	assert_int_equal(it_mock_stat(e, "submits"), submits);
	it_replies_free(fresh.replies, unique);
	free(fresh.replies);
	load3_free(&L, 3);
	fleet_stop(&f);
}

static void test_share_each_address_once(void **state)
{
	fleet_each_address_once(*state, 10000);
}

/* Cells of a load that got no answer (the instance died): resent to url, as a client that
 * dials every instance does (same ids); returns how many. */
static size_t resend_unanswered(it_fleet_load *l, const char *url)
{
	size_t n = 0;
	it_call *calls = calloc(l->n, sizeof(*calls));
	size_t *idx = calloc(l->n, sizeof(*idx));
	it_reply *r;

	for (size_t i = 0; i < l->n; i++)
		if (!l->replies[i].decoded) {
			idx[n] = i;
			calls[n++] = l->calls[i];
		}
	r = calloc(n ? n : 1, sizeof(*r));
	assert_int_equal(it_calls(url, calls, n, r, 120000), 0);
	for (size_t k = 0; k < n; k++) {
		it_replies_free(&l->replies[idx[k]], 1);
		l->replies[idx[k]] = r[k];
	}
	free(r), free(idx), free(calls);
	return n;
}

/*
 * One instance SIGKILLed in the middle: every cell answered once (the dead one's unanswered
 * cells resent to a survivor); its leases expire and the others complete its items; an address
 * is billed twice only when it was in a job the dead instance had already submitted.
 */
static void test_share_instance_killed(void **state)
{
	it_env *e = *state;
	it_fleet f = {.e = e};
	load3 L;
	bg_load victim = {&L, 0, 2, 1}, others = {&L, 0, 0, 2};
	long victim_items;
	size_t resent;

	assert_int_equal(it_start_mock(e, "--per-second", "5", NULL), 0);
	assert_int_equal(it_redis_start(e, &f.redis), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(it_fleet_start(&f, k, FLEET_ARGS, NULL), 0);
	assert_int_equal(wait_limiter(&f, "fleet", 5000), 0);
	spread_calls(&L, &f, 1500);
	/* the victim's cells first, so that it holds leases and has jobs upstream when it dies */
	pthread_create(&victim.t, NULL, bg_main, &victim);
	assert_int_equal(it_wait_stat(f.url[2], "upstream_submits", 2, 1000000, 30000), 0);
	pthread_create(&others.t, NULL, bg_main, &others);
	assert_int_equal(it_wait_stat(f.url[0], "fleet.lease_waits", 1, 1000000, 30000), 0);
	assert_int_equal(it_stop(&f.pid[2], SIGKILL, 5000), 128 + SIGKILL);
	pthread_join(victim.t, NULL);
	pthread_join(others.t, NULL);
	resent = resend_unanswered(&L.l[2], f.url[0]);
	/* what the victim had billed: all the mock billed but the survivors' own submits */
	victim_items = it_mock_stat(e, "items") -
	               it_stat_long(f.url[0], "credits", "items_submitted") -
	               it_stat_long(f.url[1], "credits", "items_submitted");
	for (int k = 0; k < 3; k++)
		assert_int_equal(count_ok(L.l[k].replies, L.l[k].n), L.l[k].n);
	printf("# SIGKILL of one of 3: %zu of its cells resent to another; %ld items billed twice, "
	       "of the %ld in jobs it had submitted; %ld requests, %ld 429s, at most %ld in a "
	       "second\n",
	       resent, it_mock_stat(e, "items_repeated"), victim_items, it_mock_stat(e, "requests"),
	       it_mock_stat(e, "refused_429"), it_mock_stat(e, "max_requests_per_second"));
	assert_true(victim_items >= 0);
	assert_true(it_mock_stat(e, "items_repeated") <= victim_items);
	assert_int_equal(it_mock_stat(e, "items_unique"), 1500);
	assert_int_equal(it_mock_stat(e, "refused_429"), 0);
	load3_free(&L, 3);
	fleet_stop(&f);
}

typedef struct dial_slot {
	int answers;
	cb_err err;
} dial_slot;

static pthread_mutex_t dial_mu = PTHREAD_MUTEX_INITIALIZER;
static long dial_done;

static void dial_cb(void *user, const cb_result *res)
{
	dial_slot *d = user;

	pthread_mutex_lock(&dial_mu);
	d->answers++;
	d->err = res->err;
	dial_done++;
	pthread_mutex_unlock(&dial_mu);
}

static long dial_count(void)
{
	long n;

	pthread_mutex_lock(&dial_mu);
	n = dial_done;
	pthread_mutex_unlock(&dial_mu);
	return n;
}

/*
 * One libcellbatch client given the three URLs (CELLBATCH_URL's comma form): its calls spread
 * over the three; one instance SIGKILLed mid-run: its calls are resent to the others (same ids)
 * and every call is answered exactly once, OK; each address billed once but for jobs the dead
 * one had submitted.
 */
static void test_share_client_dials_all(void **state)
{
	enum { UNIQUE = 3000, CELLS = 3 * UNIQUE };
	it_env *e = *state;
	it_fleet f = {.e = e};
	char urls[1000], texts[UNIQUE][48];
	dial_slot *slot = calloc(CELLS, sizeof(*slot));
	cb_client_options o = CB_CLIENT_OPTIONS_INIT(.timeout_ms = 120000, .retries = 10);
	cb_client *c;
	long victim_calls, victim_items, once = 0;
	double end;

	assert_int_equal(it_start_mock(e, "--per-second", "5", NULL), 0);
	assert_int_equal(it_redis_start(e, &f.redis), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(it_fleet_start(&f, k, FLEET_ARGS, NULL), 0);
	assert_int_equal(wait_limiter(&f, "fleet", 5000), 0);
	snprintf(urls, sizeof(urls), "%s,%s,%s", f.url[0], f.url[1], f.url[2]);
	assert_int_equal(cb_client_open(&c, urls, &o), CB_OK);
	dial_done = 0;
	for (int i = 0; i < CELLS; i++) {
		cb_call call = CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = texts[i % UNIQUE]);
		snprintf(texts[i % UNIQUE], sizeof(texts[0]), "%d Dialled Lane", i % UNIQUE);
		assert_int_equal(cb_call_async(c, &call, dial_cb, &slot[i]), CB_OK);
	}
	/* every instance got calls; the third dies with jobs upstream */
	for (int k = 0; k < 3; k++)
		assert_int_equal(it_wait_stat(f.url[k], "calls_received", 1, 1000000, 10000), 0);
	victim_calls = it_stat_long(f.url[2], NULL, "calls_received");
	assert_int_equal(it_wait_stat(f.url[2], "upstream_submits", 1, 1000000, 30000), 0);
	assert_int_equal(it_stop(&f.pid[2], SIGKILL, 5000), 128 + SIGKILL);
	for (end = it_now_ms() + 120000; dial_count() < CELLS && it_now_ms() < end;)
		it_sleep_ms(20);
	for (int i = 0; i < CELLS; i++)
		once += slot[i].answers == 1 && slot[i].err == CB_OK;
	victim_items = it_mock_stat(e, "items") -
	               it_stat_long(f.url[0], "credits", "items_submitted") -
	               it_stat_long(f.url[1], "credits", "items_submitted");
	printf("# one client dialling 3 (%ld calls went to the one killed): %ld of %d answered "
	       "once and OK; %ld items billed twice, of the %ld in jobs it had submitted; %ld "
	       "429s, at most %ld in a second\n",
	       victim_calls, once, CELLS, it_mock_stat(e, "items_repeated"), victim_items,
	       it_mock_stat(e, "refused_429"), it_mock_stat(e, "max_requests_per_second"));
	assert_int_equal(once, CELLS);
	assert_true(victim_calls > 0);
	assert_true(it_mock_stat(e, "items_repeated") <= victim_items);
	assert_int_equal(it_mock_stat(e, "items_unique"), UNIQUE);
	assert_int_equal(it_mock_stat(e, "refused_429"), 0);
	cb_client_close(c);
	free(slot);
	fleet_stop(&f);
}

/* argv[1]: a cmocka filter: ctest runs the limiter's tests (test_limit_*) and the sharing's
 * (test_share_*) apart, each well under a couple of minutes. */
int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_limit_shared, it_setup, it_fleet_teardown),
	    cmocka_unit_test_setup_teardown(test_limit_control_without_redis, it_setup,
	                                    it_fleet_teardown),
	    cmocka_unit_test_setup_teardown(test_limit_redis_outage, it_setup, it_fleet_teardown),
	    cmocka_unit_test_setup_teardown(test_share_each_address_once, it_setup,
	                                    it_fleet_teardown),
	    cmocka_unit_test_setup_teardown(test_share_instance_killed, it_setup,
	                                    it_fleet_teardown),
	    cmocka_unit_test_setup_teardown(test_share_client_dials_all, it_setup,
	                                    it_fleet_teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("fleet", tests, NULL, NULL);
}
