/* test_server.c: cellbatchd against the mock upstream, real processes over ipc and loopback. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"
#include "hexbytes.h"
#include "hostile.h"

#define TIMEOUT_MS 20000

static char addr_buf[3000][96];

/* Unique addresses with the characters users' sheets contain. */
static const char *address(int i)
{
	snprintf(addr_buf[i % 3000], sizeof(addr_buf[0]), "%d Rue de l'Église #%d, Zürich & Co", i,
	         i * 7);
	return addr_buf[i % 3000];
}

static long stat_int(json_t *stats, const char *key)
{
	return (long)json_integer_value(json_object_get(stats, key));
}

static void start(it_env *e, const char *pending, ...)
{
	va_list ap;
	const char *a[16];
	int n = 0;

	assert_int_equal(it_start_mock(e, "--pending", pending, NULL), 0);
	va_start(ap, pending);
	while (n < 15 && (a[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	a[n] = NULL;
	assert_int_equal(
	    it_start_server(e, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], NULL),
	    0);
}

/* Every reply succeeded and matches the mock's own single-lookup answer for its address. */
static void check_answers(it_env *e, const it_call *calls, it_reply *r, size_t n,
                          uint64_t batch_size)
{
	for (size_t i = 0; i < n; i++) {
		it_place p;
		if (r[i].nng_err != 0 || !r[i].decoded)
			fail_msg("call %zu: no reply (%d)", i, r[i].nng_err);
		if (r[i].rep.err != CB_OK)
			fail_msg("call %zu: %s %.*s", i, cb_err_name(r[i].rep.err),
			         (int)r[i].rep.message.len, r[i].rep.message.ptr);
		assert_true(r[i].rep.has_id);
		assert_int_equal(r[i].rep.id, calls[i].id);
		assert_int_equal(it_mock_lookup(e, calls[i].text, &p), 0);
		assert_true(p.found);
		assert_float_equal(r[i].rep.result.lat, p.lat, 1e-9);
		assert_float_equal(r[i].rep.result.lon, p.lon, 1e-9);
		assert_int_equal(r[i].rep.result.formatted.len, strlen(p.formatted));
		assert_memory_equal(r[i].rep.result.formatted.ptr, p.formatted,
		                    strlen(p.formatted));
		if (batch_size != 0)
			assert_int_equal(r[i].rep.meta.batch_size, batch_size);
		assert_false(r[i].rep.meta.cached);
	}
}

static it_call *unique_calls(size_t n, size_t distinct)
{
	it_call *c = calloc(n, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		c[i].fn = CB_FN_GEOCODE;
		c[i].text = address((int)(i % distinct));
		c[i].id = 1000 + i;
	}
	return c;
}

/* After one burst of n calls that formed one batch of size items. */
static void check_server_stats(it_env *e, uint64_t n, uint64_t items)
{
	const msgpack_object *st, *hist;
	char bucket[8];
	it_reply r;
	unsigned b = 1;

	assert_int_equal(it_stats(e->url, &r, TIMEOUT_MS), 0);
	assert_true(r.decoded && r.rep.has_stats);
	st = &r.rep.stats;
	assert_int_equal(it_mp_get(st, "calls_received")->via.u64, n);
	assert_int_equal(it_mp_get(st, "calls_answered")->via.u64, n);
	assert_int_equal(it_mp_get(it_mp_get(st, "answered_by_code"), "OK")->via.u64, n);
	assert_int_equal(it_mp_get(st, "calls_in_flight")->via.u64, 0);
	assert_int_equal(it_mp_get(st, "batches_sent")->via.u64, 1);
	assert_int_equal(it_mp_get(st, "upstream_submits")->via.u64, 1);
	assert_true(it_mp_get(st, "upstream_polls")->via.u64 >= 1);
	assert_int_equal(it_mp_get(st, "dedup_hits")->via.u64, n - items);
	assert_float_equal(it_mp_get(st, "batch_size_mean")->via.f64, (double)items, 1e-9);
	while (b < items)
		b *= 2;
	snprintf(bucket, sizeof(bucket), "%u", b);
	hist = it_mp_get(st, "batch_size_hist");
	assert_int_equal(hist->via.map.size, 11);
	assert_int_equal(it_mp_get(hist, bucket)->via.u64, 1);
	assert_true(it_mp_get(it_mp_get(st, "job_ms"), "p50")->via.f64 > 0);
	assert_true(it_mp_get(it_mp_get(st, "latency_total_ms"), "p99")->via.f64 >=
	            it_mp_get(it_mp_get(st, "latency_total_ms"), "p50")->via.f64);
	assert_true(it_mp_get(it_mp_get(st, "latency_queued_ms"), "p95")->via.f64 > 0);
	it_replies_free(&r, 1);
}

static void test_1000_unique_one_submit(void **state)
{
	it_env *e = *state;
	it_call *c = unique_calls(1000, 1000);
	it_reply *r = calloc(1000, sizeof(*r));
	json_t *st;

	start(e, "50ms", NULL);
	assert_int_equal(it_calls(e->url, c, 1000, r, TIMEOUT_MS), 0);
	check_answers(e, c, r, 1000, 1000);
	st = it_mock_stats(e);
	assert_int_equal(stat_int(st, "submits"), 1);
	assert_int_equal(stat_int(st, "items"), 1000);
	json_decref(st);
	check_server_stats(e, 1000, 1000);
	it_replies_free(r, 1000);
	free(r);
	free(c);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static void test_2500_three_submits(void **state)
{
	it_env *e = *state;
	it_call *c = unique_calls(2500, 2500);
	it_reply *r = calloc(2500, sizeof(*r));
	json_t *st, *sizes;
	long sz[3];

	/* batches leave full, not at --batch-wait while ASan is still delivering the 2,500 */
	start(e, "50ms", "--batch-wait", "2s", NULL);
	assert_int_equal(it_calls(e->url, c, 2500, r, TIMEOUT_MS), 0);
	check_answers(e, c, r, 2500, 0);
	st = it_mock_stats(e);
	assert_int_equal(stat_int(st, "submits"), 3);
	sizes = json_object_get(st, "submit_sizes");
	assert_int_equal(json_array_size(sizes), 3);
	for (int i = 0; i < 3; i++)
		sz[i] = (long)json_integer_value(json_array_get(sizes, (size_t)i));
	qsort(sz, 3, sizeof(long), cmp_long);
	assert_int_equal(sz[0], 500);
	assert_int_equal(sz[1], 1000);
	assert_int_equal(sz[2], 1000);
	json_decref(st);
	it_replies_free(r, 2500);
	free(r);
	free(c);
}

static void test_dedup_100_distinct(void **state)
{
	it_env *e = *state;
	it_call *c = unique_calls(1000, 100);
	it_reply *r = calloc(1000, sizeof(*r));
	json_t *st;

	start(e, "50ms", NULL);
	assert_int_equal(it_calls(e->url, c, 1000, r, TIMEOUT_MS), 0);
	check_answers(e, c, r, 1000, 100);
	st = it_mock_stats(e);
	assert_int_equal(stat_int(st, "submits"), 1);
	assert_int_equal(stat_int(st, "items"), 100);
	json_decref(st);
	check_server_stats(e, 1000, 100);
	it_replies_free(r, 1000);
	free(r);
	free(c);
}

static void test_options_split_batches(void **state)
{
	it_env *e = *state;
	it_call *c = unique_calls(200, 100);
	it_reply *r = calloc(200, sizeof(*r));
	json_t *st;

	for (int i = 0; i < 200; i++)
		c[i].lang = i % 2 ? "de" : "en";
	start(e, "50ms", NULL);
	assert_int_equal(it_calls(e->url, c, 200, r, TIMEOUT_MS), 0);
	check_answers(e, c, r, 200, 0);
	st = it_mock_stats(e);
	assert_int_equal(stat_int(st, "submits"), 2);
	json_decref(st);
	it_replies_free(r, 200);
	free(r);
	free(c);
}

/* A lone call leaves on batch-idle, not batch-wait. */
static void test_idle_flush(void **state)
{
	it_env *e = *state;
	it_call c = {.fn = CB_FN_GEOCODE, .text = "Buckingham Palace, London, England", .id = 1};
	it_reply r;
	double t0, ms;

	start(e, "100ms", "--batch-wait", "5s", "--batch-idle", "5ms", NULL);
	t0 = it_now_ms();
	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	ms = it_now_ms() - t0;
	check_answers(e, &c, &r, 1, 1);
	/* well under the 5 s batch-wait; the window itself stayed near batch-idle */
	assert_true(ms < 2500);
	assert_true(r.rep.meta.wait_ms < 100);
	print_message("one idle call answered in %.0f ms (wait_ms %.1f)\n", ms, r.rep.meta.wait_ms);
	it_replies_free(&r, 1);
}

static void expect_all(it_reply *r, size_t n, cb_err code)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].nng_err != 0 || !r[i].decoded)
			fail_msg("call %zu: no reply", i);
		if (r[i].rep.err != code)
			fail_msg("call %zu: want %s, got %s (%.*s)", i, cb_err_name(code),
			         cb_err_name(r[i].rep.err), (int)r[i].rep.message.len,
			         r[i].rep.message.ptr);
	}
}

/* After a failed batch the next one is served normally. */
static void next_batch_ok(it_env *e, int base)
{
	it_call *c = unique_calls(50, 50);
	it_reply r[50];

	for (int i = 0; i < 50; i++) {
		c[i].text = address(base + i);
		c[i].id = (uint64_t)(base + i);
	}
	assert_int_equal(it_calls(e->url, c, 50, r, TIMEOUT_MS), 0);
	check_answers(e, c, r, 50, 50);
	it_replies_free(r, 50);
	free(c);
}

static void test_not_found_is_per_cell(void **state)
{
	it_env *e = *state;
	it_call c[3] = {
	    {.fn = CB_FN_GEOCODE, .text = "221B Baker St, London, England", .id = 1},
	    {.fn = CB_FN_GEOCODE, .text = "somewhere in nowhere land", .id = 2},
	    {.fn = CB_FN_GEOCODE, .text = "Tour Eiffel Champ de Mars, Paris", .id = 3},
	};
	it_reply r[3];

	start(e, "20ms", NULL);
	assert_int_equal(it_calls(e->url, c, 3, r, TIMEOUT_MS), 0);
	assert_int_equal(r[0].rep.err, CB_OK);
	assert_int_equal(r[1].rep.err, CB_ENOT_FOUND);
	assert_int_equal(r[2].rep.err, CB_OK);
	assert_int_equal(r[0].rep.meta.batch_size, 3);
	assert_float_equal(r[0].rep.result.lat, 51.5238, 1e-9);
	it_replies_free(r, 3);
	next_batch_ok(e, 100);
}

typedef struct fault_case {
	const char *fault;
	cb_err code;
	const char *message_part;
} fault_case;

static void run_fault(it_env *e, const fault_case *fc, int base)
{
	char cfg[256];
	it_call *c = unique_calls(20, 20);
	it_reply r[20];

	for (int i = 0; i < 20; i++) {
		c[i].text = address(base + i);
		c[i].id = (uint64_t)(base + i);
	}
	snprintf(cfg, sizeof(cfg), "{\"faults\":[\"%s\"],\"reset\":true}", fc->fault);
	assert_int_equal(it_mock_config(e, cfg), 0);
	assert_int_equal(it_calls(e->url, c, 20, r, TIMEOUT_MS), 0);
	expect_all(r, 20, fc->code);
	if (strstr(r[0].rep.message.ptr, fc->message_part) == NULL)
		fail_msg("%s: message '%.*s' lacks '%s'", fc->fault, (int)r[0].rep.message.len,
		         r[0].rep.message.ptr, fc->message_part);
	it_replies_free(r, 20);
	free(c);
	assert_int_equal(it_mock_config(e, "{\"faults\":[]}"), 0);
	next_batch_ok(e, base + 1000);
}

/* Failures that persist give their documented code; transient ones are #5's retries (test_faults).
 */
static void test_upstream_failures(void **state)
{
	static const fault_case cases[] = {
	    {"status=401@submit:1", CB_EUPSTREAM_AUTH, "HTTP 401: Invalid apiKey"},
	    {"status=500@submit:*", CB_EUPSTREAM_ERROR,
	     "HTTP 500: Request failed, please try again later after 2 retries"},
	    {"wrong-count@result:1", CB_EUPSTREAM_ERROR, "19 results for a batch of 20"},
	    {"truncate@result:*", CB_EUPSTREAM_ERROR, "invalid JSON"},
	    {"status=500@poll:*", CB_EUPSTREAM_ERROR, "HTTP 500"},
	};
	it_env *e = *state;

	start(e, "20ms", "--retries", "2", NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_fault(e, &cases[i], (int)(i * 2000 + 10000));
}

/* A wrong key (the server's own) is UPSTREAM_AUTH without any fault injection. */
/* The spec allows a submit to answer 200 with the results at once. */
static void test_results_at_once(void **state)
{
	it_env *e = *state;
	it_call *c = unique_calls(30, 30);
	it_reply r[30];
	json_t *st;

	assert_int_equal(it_start_mock(e, "--immediate", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(it_calls(e->url, c, 30, r, TIMEOUT_MS), 0);
	check_answers(e, c, r, 30, 30);
	st = it_mock_stats(e);
	assert_int_equal(stat_int(st, "submits"), 1);
	assert_int_equal(stat_int(st, "polls"), 0);
	json_decref(st);
	it_replies_free(r, 30);
	free(c);
}

static void test_job_timeout(void **state)
{
	it_env *e = *state;
	it_call c = {.fn = CB_FN_GEOCODE, .text = "stuck forever", .id = 4};
	it_reply r;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", "--fault", "stuck@submit:1", NULL),
	                 0);
	assert_int_equal(it_start_server(e, "--job-timeout", "1s", "--poll-max", "200ms", NULL), 0);
	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	expect_all(&r, 1, CB_EUPSTREAM_ERROR);
	assert_non_null(strstr(r.rep.message.ptr, "still pending after"));
	it_replies_free(&r, 1);
	next_batch_ok(e, 500);
}

/* A port the kernel just handed out and we released: free unless someone races us for it. */
static int free_tcp_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* ipc sockets are private to the user; a bare port listens on loopback TCP. */
static void test_listen_addresses(void **state)
{
	it_env *e = *state;
	uint8_t ping[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
	char path[300], port[16], tcp[64];
	struct stat sb;
	it_reply r;

	snprintf(port, sizeof(port), "%d", free_tcp_port());
	snprintf(tcp, sizeof(tcp), "tcp://127.0.0.1:%s", port);
	assert_int_equal(it_start_mock(e, NULL), 0);
	assert_int_equal(it_start_server(e, "--listen", port, NULL), 0);
	snprintf(path, sizeof(path), "%s/cellbatch.sock", e->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(it_raw(tcp, ping, sizeof(ping), &r, TIMEOUT_MS), 0);
	assert_true(r.decoded);
	assert_int_equal(r.rep.err, CB_OK);
	it_replies_free(&r, 1);
}

static void test_bad_key(void **state)
{
	it_env *e = *state;
	it_call c = {.fn = CB_FN_GEOCODE, .text = "anything", .id = 9};
	it_reply r;
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/key", e->dir);
	f = fopen(path, "w");
	fputs("wrong-key\n", f);
	fclose(f);
	start(e, "20ms", "--api-key-file", path, NULL);
	assert_int_equal(it_calls(e->url, &c, 1, &r, TIMEOUT_MS), 0);
	expect_all(&r, 1, CB_EUPSTREAM_AUTH);
	it_replies_free(&r, 1);
}

static void test_reverse(void **state)
{
	it_env *e = *state;
	it_call c[2] = {
	    {.fn = CB_FN_REVERSE, .lat = 48.8584, .lon = 2.2945, .id = 1},
	    {.fn = CB_FN_REVERSE, .lat = -89.0, .lon = 10.0, .id = 2},
	};
	it_reply r[2];

	start(e, "20ms", NULL);
	assert_int_equal(it_calls(e->url, c, 2, r, TIMEOUT_MS), 0);
	assert_int_equal(r[0].rep.err, CB_OK);
	assert_int_equal(r[0].rep.result.formatted.len, strlen("Tour Eiffel Champ de Mars, Paris"));
	assert_float_equal(r[0].rep.result.lat, 48.8584, 1e-9);
	assert_int_equal(r[1].rep.err, CB_ENOT_FOUND);
	it_replies_free(r, 2);
}

typedef struct signaller {
	it_env *e;
	long min_submits;
} signaller;

/* Sends SIGTERM once the mock has seen the batch, i.e. while every call is upstream. */
static void *sigterm_when_upstream(void *arg)
{
	signaller *sg = arg;
	for (int i = 0; i < 500; i++) {
		json_t *st = it_mock_stats(sg->e);
		long submits = stat_int(st, "submits");
		json_decref(st);
		if (submits >= sg->min_submits)
			break;
		usleep(10000);
	}
	kill(sg->e->server, SIGTERM);
	return NULL;
}

static void test_sigterm_drains(void **state)
{
	it_env *e = *state;
	it_call *c = unique_calls(500, 500);
	it_reply *r = calloc(500, sizeof(*r));
	signaller sg = {e, 1};
	pthread_t t;

	start(e, "800ms", "--batch-wait", "2s", NULL); /* one batch of 500, even under ASan */
	pthread_create(&t, NULL, sigterm_when_upstream, &sg);
	assert_int_equal(it_calls(e->url, c, 500, r, TIMEOUT_MS), 0);
	pthread_join(t, NULL);
	check_answers(e, c, r, 500, 500);
	assert_int_equal(it_stop(&e->server, 0, 10000), 0);
	it_replies_free(r, 500);
	free(r);
	free(c);
}

typedef struct caller {
	it_env *e;
	it_call call;
	it_reply reply;
} caller;

static void *call_thread(void *arg)
{
	caller *cl = arg;
	it_calls(cl->e->url, &cl->call, 1, &cl->reply, TIMEOUT_MS);
	return NULL;
}

static void test_calls_while_draining_get_shutting_down(void **state)
{
	it_env *e = *state;
	caller first = {e, {.fn = CB_FN_GEOCODE, .text = "first", .id = 1}, {0}};
	it_call second = {.fn = CB_FN_GEOCODE, .text = "second", .id = 2};
	it_call cached = {.fn = CB_FN_GEOCODE, .text = "cached", .id = 3};
	signaller sg = {e, 2};
	it_reply r;
	pthread_t t;

	start(e, "20ms", NULL);
	/* a cache hit is answered on the nng thread (hot path): it must see the drain too */
	assert_int_equal(it_calls(e->url, &cached, 1, &r, TIMEOUT_MS), 0);
	expect_all(&r, 1, CB_OK);
	it_replies_free(&r, 1);
	assert_int_equal(it_mock_config(e, "{\"pending_ms\":1500}"), 0);
	pthread_create(&t, NULL, call_thread, &first);
	sigterm_when_upstream(&sg);
	assert_int_equal(it_wait_stat(e->url, "draining", 1, 1, 5000), 0);
	assert_int_equal(it_calls(e->url, &second, 1, &r, TIMEOUT_MS), 0);
	expect_all(&r, 1, CB_ESHUTTING_DOWN);
	it_replies_free(&r, 1);
	assert_int_equal(it_calls(e->url, &cached, 1, &r, TIMEOUT_MS), 0);
	expect_all(&r, 1, CB_ESHUTTING_DOWN);
	pthread_join(t, NULL);
	/* the call already upstream still gets its result */
	expect_all(&first.reply, 1, CB_OK);
	assert_int_equal(it_stop(&e->server, 0, 10000), 0);
	it_replies_free(&r, 1);
	it_replies_free(&first.reply, 1);
}

static bool contains(const void *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static void test_key_never_leaks(void **state)
{
	it_env *e = *state;
	it_call c[2] = {{.fn = CB_FN_GEOCODE,
	                 .text = "Statue of Liberty, Liberty Island New York, NY 10004",
	                 .id = 1},
	                {.fn = CB_FN_GEOCODE, .text = "nowhere", .id = 2}};
	it_reply r[2], s;
	char *log;
	size_t len;

	start(e, "20ms", "--log-level", "debug", NULL);
	assert_int_equal(it_calls(e->url, c, 2, r, TIMEOUT_MS), 0);
	/* and a failing batch, whose error text quotes the upstream */
	assert_int_equal(it_mock_config(e, "{\"faults\":[\"status=500@submit:1\"],\"reset\":true}"),
	                 0);
	it_replies_free(r, 2);
	c[0].text = "another address";
	c[1].text = "and one more";
	assert_int_equal(it_calls(e->url, c, 2, r, TIMEOUT_MS), 0);
	assert_int_equal(it_stats(e->url, &s, TIMEOUT_MS), 0);
	assert_true(s.decoded && s.rep.has_stats);
	for (int i = 0; i < 2; i++)
		assert_false(contains(r[i].bytes, r[i].len, IT_KEY));
	assert_false(contains(s.bytes, s.len, IT_KEY));
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000), 0);
	log = it_slurp(e->server_log, &len);
	assert_non_null(log);
	assert_true(len > 0);
	assert_true(strstr(log, "batch") != NULL); /* the log is really there */
	assert_false(contains(log, len, IT_KEY));
	free(log);
	it_replies_free(r, 2);
	it_replies_free(&s, 1);
}

static void test_hostile_over_socket(void **state)
{
	it_env *e = *state;
	uint8_t ping[] = {0x83, 0xa1, 'v', 0x01, 0xa2, 'i', 'd', 0x05,
	                  0xa2, 'o',  'p', 0xa4, 'p',  'i', 'n', 'g'};

	start(e, "20ms", NULL);
	for (size_t i = 0; i < HOSTILE_COUNT; i++) {
		uint8_t buf[256];
		size_t n = hexbytes(hostile_messages[i], buf, sizeof(buf));
		it_reply r;
		assert_int_equal(it_raw(e->url, buf, n, &r, TIMEOUT_MS), 0);
		if (!r.decoded || r.rep.err != CB_EBAD_REQUEST)
			fail_msg("%s: want BAD_REQUEST", hostile_messages[i]);
		assert_true(r.rep.message.len > 0);
		it_replies_free(&r, 1);
	}
	{
		/* a 2 MiB message is over the 1 MiB cap but still answered */
		size_t n = 2u << 20;
		uint8_t *big = calloc(1, n);
		it_reply r;
		big[0] = 0x81;
		assert_int_equal(it_raw(e->url, big, n, &r, TIMEOUT_MS), 0);
		assert_true(r.decoded);
		assert_int_equal(r.rep.err, CB_EBAD_REQUEST);
		it_replies_free(&r, 1);
		free(big);
	}
	{
		it_reply r;
		assert_int_equal(it_raw(e->url, ping, sizeof(ping), &r, TIMEOUT_MS), 0);
		assert_true(r.decoded);
		assert_int_equal(r.rep.err, CB_OK);
		assert_int_equal(r.rep.id, 5);
		assert_memory_equal(r.rep.version.ptr, CB_VERSION, strlen(CB_VERSION));
		it_replies_free(&r, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_1000_unique_one_submit, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_2500_three_submits, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_dedup_100_distinct, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_options_split_batches, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_idle_flush, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_not_found_is_per_cell, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_upstream_failures, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_key, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_results_at_once, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_job_timeout, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_listen_addresses, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_reverse, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_sigterm_drains, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_calls_while_draining_get_shutting_down, it_setup,
	                                    it_teardown),
	    cmocka_unit_test_setup_teardown(test_key_never_leaks, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_over_socket, it_setup, it_teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
