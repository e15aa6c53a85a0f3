/* test_fleetshare.c: several cellbatchd sharing a real redis-server (issue 21): the cache, the
 * items in flight and the job journal across the fleet, an instance killed, clients dialling all.
 */
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
	fleet_start3(&f, true);
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

/* The n calls sent to url at once; how many were answered OK. */
static size_t calls_ok(const char *url, const it_call *calls, size_t n)
{
	it_reply *r = calloc(n, sizeof(*r));
	size_t ok;

	assert_int_equal(it_calls(url, calls, n, r, 60000), 0);
	ok = count_ok(r, n);
	it_replies_free(r, n);
	free(r);
	return ok;
}

/* Instance i stopped and started again on its database: its memory is empty. */
static void restart(it_fleet *f, int i)
{
	assert_int_equal(it_stop(&f->pid[i], SIGTERM, 10000), 0);
	assert_int_equal(it_fleet_start(f, i, FLEET_ARGS_FULL, NULL), 0);
}

/*
 * Lookup order with a fleet: memory, Redis, the cache database, upstream. Restarted (memory
 * empty), an instance answers from Redis although its database has every answer; with Redis
 * emptied, from its database, and Redis gets them back, so that a fresh instance needs no submit.
 */
static void test_share_lookup_order(void **state)
{
	enum { N = 100 };
	it_env *e = *state;
	it_fleet f = {.e = e};
	char texts[N][64], out[64];
	it_call *calls = own_calls(0, N, texts);
	long submits;

	assert_int_equal(it_start_mock(e, NULL), 0);
	assert_int_equal(it_redis_start(e, &f.redis), 0);
	assert_int_equal(it_fleet_start(&f, 0, FLEET_ARGS_FULL, NULL), 0);
	assert_int_equal(calls_ok(f.url[0], calls, N), N);
	submits = it_mock_stat(e, "submits");
	restart(&f, 0);
	assert_int_equal(calls_ok(f.url[0], calls, N), N);
	printf("# restarted: %ld answers from Redis, %ld from the database\n",
	       it_fleet_stat(f.url[0], "shared_hits"), it_stat_long(f.url[0], "cache", "db_hits"));
	assert_int_equal(it_fleet_stat(f.url[0], "shared_hits"), N);
	assert_int_equal(it_stat_long(f.url[0], "cache", "db_hits"), 0);

	assert_int_equal(it_redis_cmd(&f.redis, "FLUSHALL", out, sizeof(out)), 0);
	restart(&f, 0);
	assert_int_equal(calls_ok(f.url[0], calls, N), N);
	printf("# Redis emptied, restarted: %ld answers from Redis, %ld from the database\n",
	       it_fleet_stat(f.url[0], "shared_hits"), it_stat_long(f.url[0], "cache", "db_hits"));
	assert_int_equal(it_stat_long(f.url[0], "cache", "db_hits"), N);
	assert_int_equal(it_fleet_stat(f.url[0], "shared_hits"), 0);

	assert_int_equal(it_fleet_start(&f, 1, FLEET_ARGS_FULL, NULL), 0);
	assert_int_equal(calls_ok(f.url[1], calls, N), N);
	assert_int_equal(it_fleet_stat(f.url[1], "shared_hits"), N);
	assert_int_equal(it_mock_stat(e, "submits"), submits);
	free(calls);
	fleet_stop(&f);
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

/* Jobs of the two instances that survived taken over from the one killed (Redis's job journal). */
static long taken_over(const it_fleet *f)
{
	return it_stat_long(f->url[0], "fleet", "jobs_taken_over") +
	       it_stat_long(f->url[1], "fleet", "jobs_taken_over");
}

/*
 * One instance SIGKILLed in the middle, with jobs upstream (pending 6 s): every cell answered
 * once (the dead one's unanswered cells resent to a survivor); its leases expire and the others
 * complete its items; its journalled jobs are polled by a survivor, so that no address is billed
 * twice but those of a job it died before journalling (which nobody ever polled).
 */
static void test_share_instance_killed(void **state)
{
	it_env *e = *state;
	it_fleet f = {.e = e};
	load3 L;
	bg_load victim = {&L, 0, 2, 1}, others = {&L, 0, 0, 2};
	long victim_items;
	size_t resent;

	assert_int_equal(it_start_mock(e, "--per-second", "5", "--pending", "6s", NULL), 0);
	fleet_start3(&f, false);
	spread_calls(&L, &f, 1500);
	/* the victim's cells first, so that it holds leases and has jobs upstream when it dies */
	pthread_create(&victim.t, NULL, bg_main, &victim);
	assert_int_equal(it_wait_stat(f.url[2], "upstream_submits", 2, 1000000, 30000), 0);
	assert_int_equal(it_wait_stat(f.url[2], "fleet.jobs_journalled", 1, 1000000, 30000), 0);
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
	printf("# SIGKILL of one of 3: %zu of its cells resent to another; %ld of its jobs taken "
	       "over; %ld items billed twice (%ld in jobs nobody polled), of the %ld it had "
	       "submitted; %ld requests, %ld 429s, at most %ld in a second\n",
	       resent, taken_over(&f), it_mock_stat(e, "items_repeated"),
	       it_mock_stat(e, "items_never_polled"), victim_items, it_mock_stat(e, "requests"),
	       it_mock_stat(e, "refused_429"), it_mock_stat(e, "max_requests_per_second"));
	assert_true(victim_items >= 0);
	/* it died less than the 6 s a job pends after it journalled one: that one was taken over */
	assert_true(taken_over(&f) >= 1);
	assert_true(it_mock_stat(e, "items_repeated") <= it_mock_stat(e, "items_never_polled"));
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
 * and every call is answered exactly once, OK; its journalled jobs are taken over, so that each
 * address is billed once but for a job it died before journalling.
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
	fleet_start3(&f, false);
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
	printf(
	    "# one client dialling 3 (%ld calls went to the one killed): %ld of %d answered "
	    "once and OK; %ld of its jobs taken over; %ld items billed twice (%ld in jobs nobody "
	    "polled), of the %ld it had submitted; %ld 429s, at most %ld in a second\n",
	    victim_calls, once, CELLS, taken_over(&f), it_mock_stat(e, "items_repeated"),
	    it_mock_stat(e, "items_never_polled"), victim_items, it_mock_stat(e, "refused_429"),
	    it_mock_stat(e, "max_requests_per_second"));
	assert_int_equal(once, CELLS);
	assert_true(victim_calls > 0);
	assert_true(it_mock_stat(e, "items_repeated") <= it_mock_stat(e, "items_never_polled"));
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
	    cmocka_unit_test_setup_teardown(test_share_each_address_once, it_setup,
	                                    it_fleet_teardown),
	    cmocka_unit_test_setup_teardown(test_share_lookup_order, it_setup, it_fleet_teardown),
	    cmocka_unit_test_setup_teardown(test_share_instance_killed, it_setup,
	                                    it_fleet_teardown),
	    cmocka_unit_test_setup_teardown(test_share_client_dials_all, it_setup,
	                                    it_fleet_teardown),
	};
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("fleet_share", tests, NULL, NULL);
}
