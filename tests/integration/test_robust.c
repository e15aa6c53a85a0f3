/* test_robust.c: cellbatchd against misbehaving clients, fd exhaustion and the largest messages. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "cellbatch.h"
#include "harness.h"
#include "robust_util.h"

#define TIMEOUT_MS 20000
/* a landmark of tests/data/landmarks.csv: found upstream, then a cache hit */
#define LANDMARK "221B Baker St, London, England"

/* Calls LANDMARK once, so that every later call of it is a cache hit. */
static void prime_cache(it_env *e)
{
	it_call c = {.fn = CB_FN_GEOCODE, .text = LANDMARK, .id = 1};
	it_reply r;

	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	assert_true(r.decoded);
	assert_int_equal(r.rep.err, CB_OK);
	it_replies_free(&r, 1);
}

/* The server's stats, failing the test when none come. */
static void stats(it_env *e, it_reply *r)
{
	assert_int_equal(it_stats(e->url, r, TIMEOUT_MS), 0);
}

static bool log_has(it_env *e, const char *needle)
{
	char *log = it_slurp(e->server_log, NULL);
	bool found = log != NULL && strstr(log, needle) != NULL;

	free(log);
	return found;
}

/* ------------------------------------------------------------ 1: stray connections */

/*
 * A new client (libcellbatch: it dials again, and resends its request after a lost connection,
 * until its timeout) pings; CB_OK once answered.
 */
static cb_err new_client_ping(const char *url, double timeout_ms)
{
	cb_client_options o =
	    CB_CLIENT_OPTIONS_INIT(.timeout_ms = timeout_ms >= 1 ? (unsigned)timeout_ms : 1);
	char version[32];
	cb_client *c;
	cb_err rv;

	if ((rv = cb_client_open(&c, url, &o)) != CB_OK)
		return rv;
	rv = cb_ping(c, version, sizeof(version));
	cb_client_close(c);
	return rv;
}

/* A new client is answered within 2 s of since, and then the server idles (under 5% of a core). */
static void new_client_served(it_env *e, double since, const char *after)
{
	cb_err rv = new_client_ping(e->url, since + 2000 - it_now_ms());
	double ms = it_now_ms() - since, share = ru_cpu_share(e->server, 3000);
	it_reply st;

	stats(e, &st);
	printf("after %s: a new client's ping answered in %.0f ms; server CPU over the next 3 s "
	       "%.1f%% of a core; listener_restarts %llu\n",
	       after, ms, share * 100, (unsigned long long)ru_conn_stat(&st, "listener_restarts"));
	it_replies_free(&st, 1);
	if (rv != CB_OK || ms >= 2000) {
		char *log = it_slurp(e->server_log, NULL);
		printf("the server's log:\n%s\n", log ? log : "(none)");
		free(log);
	}
	if (rv != CB_OK)
		fail_msg("after %s: no answer to ping within 2 s (%s)", after, cb_strerror(rv));
	assert_true(ms < 2000);
	assert_true(share < 0.05);
}

/* A second cellbatchd on the running one's ipc path gives up at once; returns when it exited. */
static double second_server_gives_up(it_env *e)
{
	char log2[300], *log;
	double t;
	pid_t second;
	int status;

	snprintf(log2, sizeof(log2), "%s/second.log", e->dir);
	second = it_spawn_server(e, log2, NULL);
	assert_true(second > 0);
	status = ru_wait_exit(second, 5000);
	t = it_now_ms();
	if (status < 0) {
		kill(second, SIGKILL);
		waitpid(second, NULL, 0);
		fail_msg("a second cellbatchd on the same path still runs after 5 s");
	}
	printf("a second cellbatchd on the same path exited with %d\n", status);
	assert_true(status > 0 && status < 128);
	log = it_slurp(log2, NULL);
	assert_non_null(log);
	assert_non_null(strstr(log, "another server is serving it"));
	free(log);
	return t;
}

static void test_stray_connections(void **state)
{
	it_env *e = *state;
	double t;

	assert_int_equal(it_start_mock(e, NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	/* nng#1518: a bare connect and close, no handshake, can wedge an ipc listener */
	for (int i = 0; i < 3; i++) {
		int fd = ru_unix_connect(e->url);
		assert_true(fd >= 0);
		close(fd);
	}
	new_client_served(e, it_now_ms(), "three stray connections");
	t = second_server_gives_up(e);
	assert_int_equal(waitpid(e->server, NULL, WNOHANG), 0); /* the first still runs */
	new_client_served(e, t, "a second server gave up");
}

/* ------------------------------------------------------------ 2: a flooder that never reads */

#define FLOOD_FRAMES    50000
#define SEND_TIMEOUT_MS 3000
#define MAX_SAMPLES     100000
#define RSS_MAX_KIB     (100 * 1000 * 1000 / 1024) /* 100 MB */

/* Another client's sequential cache hits while the flooder is connected; returns how many. */
static size_t timed_calls(it_env *e, ru_flood *f, double *lat, long *rss_max)
{
	uint8_t body[128];
	size_t len = ru_call_body(body, sizeof(body), LANDMARK), n = 0;
	nng_socket s;

	assert_int_equal(it_open(e->url, &s), 0);
	while (!__atomic_load_n(&f->done, __ATOMIC_ACQUIRE) && n < MAX_SAMPLES) {
		double t0 = it_now_ms();
		it_reply r;
		assert_int_equal(it_raw_on(s, body, len, &r, TIMEOUT_MS), 0);
		lat[n] = it_now_ms() - t0;
		assert_true(r.decoded);
		assert_int_equal(r.rep.err, CB_OK);
		assert_true(r.rep.meta.cached);
		it_replies_free(&r, 1);
		if (n++ % 25 == 0) {
			long kib = ru_rss_kib(e->server);
			*rss_max = kib > *rss_max ? kib : *rss_max;
		}
		usleep(2000);
	}
	nng_close(s);
	return n;
}

static void test_flooder(void **state)
{
	it_env *e = *state;
	/* on the heap: a failed assertion leaves the flooder's thread running a while */
	ru_flood *f = calloc(1, sizeof(*f));
	double *lat = calloc(MAX_SAMPLES, sizeof(*lat)), p50, p99, closed_after, since_stall;
	long rss_max = 0, rss_after;
	size_t n;
	pthread_t t;
	it_reply st;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, "--send-timeout", "3s", NULL), 0);
	prime_cache(e);
	ru_flood_build(f, e->url, LANDMARK, FLOOD_FRAMES);
	f->give_up_ms = SEND_TIMEOUT_MS + 10000;
	pthread_create(&t, NULL, ru_flood_main, f);
	for (double end = it_now_ms() + 5000;
	     __atomic_load_n(&f->written, __ATOMIC_ACQUIRE) == 0 && it_now_ms() < end;)
		usleep(1000);
	n = timed_calls(e, f, lat, &rss_max);
	pthread_join(t, NULL);
	rss_after = ru_rss_kib(e->server);
	stats(e, &st);
	p50 = ru_percentile(lat, n, 50);
	p99 = ru_percentile(lat, n, 99);
	closed_after = f->t_end - f->t_start;
	since_stall = f->t_end - f->t_growth;
	printf("flooder: wrote %zu of %zu bytes (%d frames), %d reply bytes left unread; %s after "
	       "%.0f ms (%.0f ms after its replies stopped coming)\n",
	       f->written, f->len, FLOOD_FRAMES, f->queued,
	       f->hup ? "closed by the server" : f->how, closed_after, since_stall);
	printf("other client meanwhile: %zu cache hits, p50 %.2f ms, p99 %.2f ms; server RSS max "
	       "%ld KiB while flooding, %ld KiB after\n",
	       n, p50, p99, rss_max, rss_after);
	ru_print_conns("after the flood", &st);
	if (!f->hup)
		fail_msg("the server did not close the flooder's connection (%s)", f->how);
	assert_true(n >= 200);
	assert_true(p99 < 100);
#ifndef CB_SANITIZED
	assert_true(rss_max > 0 && rss_max < RSS_MAX_KIB);
	assert_true(rss_after > 0 && rss_after < RSS_MAX_KIB);
#else
	/* ASan's quarantine (256 MiB) keeps what the server frees: memory is not judged there */
	print_message("(sanitized build: RSS not judged)\n");
#endif
	assert_true(closed_after >= SEND_TIMEOUT_MS - 50);
	assert_true(since_stall <= SEND_TIMEOUT_MS + 3000);
	assert_true(ru_conn_stat(&st, "closed_send_timeout") >= 1);
	it_replies_free(&st, 1);
	free(f->buf);
	free(f);
	free(lat);
}

/* ------------------------------------------------------------ 3: clients killed mid-burst */

#define ROUNDS 20
#define BURST  2000

/* One round's burst as ipc frames: cache hits and misses unique to the round, alternating. */
static uint8_t *burst_frames(int round, size_t *len)
{
	uint8_t *buf = malloc((size_t)BURST * (RU_FRAME_HDR + 4 + 128)), body[128];
	char text[96];

	assert_non_null(buf);
	*len = 0;
	for (int i = 0; i < BURST; i++) {
		size_t n;
		if (i % 2 == 0)
			snprintf(text, sizeof(text), "%s", LANDMARK);
		else
			snprintf(text, sizeof(text), "%d Killed Client Road, round %d", i, round);
		n = ru_call_body(body, sizeof(body), text);
		assert_true(n > 0);
		ru_frame(buf, len, (uint32_t)(round * BURST + i + 1), body, n);
	}
	return buf;
}

/* Waits until the server has received at least more requests than before. */
static void await_requests(it_env *e, uint64_t more_than)
{
	double end = it_now_ms() + 10000;
	it_reply st;
	uint64_t now;

	do {
		stats(e, &st);
		now = ru_stat(&st, "requests");
		it_replies_free(&st, 1);
	} while (now <= more_than && it_now_ms() < end);
	assert_true(now > more_than);
}

/*
 * The dead clients' connections are released (open falls back to this test's
 * own stats connection), or, when nng 1.5.2's reaper hung on them
 * (docs/nng.md), the server says so in stats and its log within 5 s.
 */
static void released_or_reported(it_env *e)
{
	double t0 = it_now_ms(), end = t0 + 5000;
	uint64_t open;
	bool stuck;
	it_reply st;

	do {
		stats(e, &st);
		open = ru_conn_stat(&st, "open");
		stuck = it_mp_get(it_mp_get(&st.rep.stats, "connections"), "nng_reaper_stuck")
		            ->via.boolean;
		it_replies_free(&st, 1);
		if (open > 2 && !stuck)
			usleep(50000);
	} while (open > 2 && !stuck && it_now_ms() < end);
	printf("%.0f ms later: %llu connections open, nng_reaper_stuck %s\n", it_now_ms() - t0,
	       (unsigned long long)open, stuck ? "true" : "false");
	assert_true(open <= 2 || stuck);
	if (stuck)
		assert_true(log_has(e, "nng's reaper thread is stuck"));
}

static void test_killed_clients(void **state)
{
	it_env *e = *state;
	double t0;
	it_reply st;
	int status;

	assert_int_equal(it_start_mock(e, "--pending", "50ms", NULL), 0);
	assert_int_equal(
	    it_start_server(e, "--drain-timeout", "3s", "--rate", "100", "--burst", "100", NULL),
	    0);
	prime_cache(e);
	for (int round = 0; round < ROUNDS; round++) {
		size_t len;
		uint8_t *buf = burst_frames(round, &len);
		uint64_t before;
		pid_t child;

		stats(e, &st);
		before = ru_stat(&st, "requests");
		it_replies_free(&st, 1);
		assert_true((child = ru_burst_child(e->url, buf, len)) > 0);
		await_requests(e, before + 100); /* its burst is arriving: kill it now */
		kill(child, SIGKILL);
		assert_int_equal(waitpid(child, NULL, 0), child);
		free(buf);
	}
	stats(e, &st);
	printf("after %d killed clients: requests %llu\n", ROUNDS,
	       (unsigned long long)ru_stat(&st, "requests"));
	ru_print_conns("after the killed clients", &st);
	it_replies_free(&st, 1);
	released_or_reported(e);
	t0 = it_now_ms();
	status = it_stop(&e->server, SIGTERM, 3000 + 2000);
	printf("SIGTERM to exit: %.0f ms, status %d%s\n", it_now_ms() - t0, status,
	       log_has(e, "shutdown did not finish in time") ? " (by the shutdown guard)" : "");
	assert_int_equal(status, 0);
}

/* ------------------------------------------------------------ 4: descriptors run out */

#define IDLE_CONNS 300
#define MISSES     20

static void test_descriptors(void **state)
{
	static const char *langs[] = {"en", "de", "fr", "es", "it"};
	it_env *e = *state;
	int fds[IDLE_CONNS], handshaken = 0;
	char texts[MISSES][64];
	it_call c[MISSES];
	it_reply r[MISSES], st;
	nng_socket s;

	assert_int_equal(ru_raise_nofile(IDLE_CONNS + 256), 0);
	e->nofile = 256;
	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, "--rate", "100", "--burst", "100", NULL), 0);
	assert_int_equal(it_open(e->url, &s), 0); /* the client connected before the crowd */
	for (int i = 0; i < IDLE_CONNS; i++) {
		fds[i] = ru_sp_connect(e->url, 2000);
		handshaken += fds[i] >= 0;
	}
	/* unique texts in five option groups: five batches, up to --max-jobs upstream at once */
	for (int i = 0; i < MISSES; i++) {
		snprintf(texts[i], sizeof(texts[i]), "%d Descriptor Lane, Fdville", i);
		c[i] = (it_call){.fn = CB_FN_GEOCODE,
		                 .text = texts[i],
		                 .lang = langs[i % 5],
		                 .id = (uint64_t)i + 1};
	}
	assert_int_equal(it_calls_on(s, c, MISSES, r, TIMEOUT_MS), 0);
	assert_int_equal(it_stats_on(s, &st, TIMEOUT_MS), 0);
	printf("%d of %d idle connections handshaken\n", handshaken, IDLE_CONNS);
	ru_print_conns("with the idle crowd", &st);
	for (int i = 0; i < MISSES; i++) {
		if (r[i].nng_err != 0 || !r[i].decoded)
			fail_msg("call %d: no reply (%s)", i, nng_strerror(r[i].nng_err));
		if (r[i].rep.err != CB_OK && r[i].rep.err != CB_ENOT_FOUND)
			fail_msg("call %d: %s %.*s", i, cb_err_name(r[i].rep.err),
			         (int)r[i].rep.message.len, r[i].rep.message.ptr);
	}
	assert_true(log_has(e, "descriptor"));
	assert_true(log_has(e, "refused a connection"));
	assert_true(ru_conn_stat(&st, "refused") > 0);
	assert_int_equal(ru_fd_stat(&st, "limit"), 256);
	it_replies_free(r, MISSES);
	it_replies_free(&st, 1);
	nng_close(s);
	for (int i = 0; i < IDLE_CONNS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* ------------------------------------------------------------ 5: message sizes */

static void expect_size_verdict(it_env *e, size_t len, bool over)
{
	char want[96];
	uint8_t *body = ru_sized_body(len);
	it_reply r;

	snprintf(want, sizeof(want), "%zu bytes exceeds the %u-byte limit", len,
	         (unsigned)CB_MAX_BYTES_DEFAULT);
	assert_int_equal(it_raw(e->url, body, len, &r, 60000), 0);
	assert_true(r.decoded);
	assert_int_equal(r.rep.err, CB_EBAD_REQUEST);
	printf("a %zu-byte body: BAD_REQUEST \"%.*s\"\n", len, (int)r.rep.message.len,
	       r.rep.message.ptr);
	assert_int_equal(memmem(r.rep.message.ptr, r.rep.message.len, want, strlen(want)) != NULL,
	                 over);
	it_replies_free(&r, 1);
	free(body);
}

static void test_message_size(void **state)
{
	it_env *e = *state;
	int by_code[CB_EIO + 1] = {0};
	msgpack_sbuffer b;
	double t0;
	it_reply r;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, "--rate", "100", "--burst", "100", NULL), 0);
	ru_big_multi(&b);
	t0 = it_now_ms();
	assert_int_equal(it_raw(e->url, b.data, b.size, &r, 120000), 0);
	assert_true(r.decoded);
	if (r.rep.err != CB_OK)
		fail_msg("the multi: %s %.*s", cb_err_name(r.rep.err), (int)r.rep.message.len,
		         r.rep.message.ptr);
	assert_int_equal(r.rep.nresults, CB_MAX_MULTI);
	for (uint32_t i = 0; i < r.rep.nresults; i++)
		by_code[r.rep.results[i].err]++;
	printf("a multi of %d calls of %d bytes (%zu bytes): answered in %.0f ms, %d OK, "
	       "%d NOT_FOUND, %d BAD_REQUEST\n",
	       CB_MAX_MULTI, CB_TEXT_MAX, b.size, it_now_ms() - t0, by_code[CB_OK],
	       by_code[CB_ENOT_FOUND], by_code[CB_EBAD_REQUEST]);
	assert_int_equal(by_code[CB_EBAD_REQUEST], 0);
	assert_int_equal(by_code[CB_OK] + by_code[CB_ENOT_FOUND], CB_MAX_MULTI);
	it_replies_free(&r, 1);
	msgpack_sbuffer_destroy(&b);
	/* at the cap the size passes (the missing v is what is wrong); one byte over, it fails */
	expect_size_verdict(e, CB_MAX_BYTES_DEFAULT, false);
	expect_size_verdict(e, (size_t)CB_MAX_BYTES_DEFAULT + 1, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stray_connections, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_flooder, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_killed_clients, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_descriptors, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_message_size, it_setup, it_teardown),
	};
	setvbuf(stdout, NULL, _IOLBF, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("robust", tests, NULL, NULL);
}
