/* test_client.c: libcellbatch and the cellbatch command against real cellbatchd + mock processes.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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
#include "csv.h"
#include "harness.h"

#define N_CALLS 200

/* Counts every callback per call, so "exactly once" is checked, not assumed. */
typedef struct tally {
	atomic_int fired[N_CALLS];
	cb_err err[N_CALLS];
	char message[N_CALLS][160];
	atomic_int total;
} tally;

typedef struct slot {
	tally *t;
	int i;
} slot;

static slot slots[N_CALLS];

static void count_cb(void *user, const cb_result *res)
{
	slot *s = user;
	s->t->err[s->i] = res->err;
	snprintf(s->t->message[s->i], sizeof(s->t->message[0]), "%s", res->message);
	atomic_fetch_add(&s->t->fired[s->i], 1);
	atomic_fetch_add(&s->t->total, 1);
}

static void start_calls(cb_client *c, tally *t, int n, unsigned timeout_ms, const char *prefix)
{
	char text[128];

	memset(t, 0, sizeof(*t));
	for (int i = 0; i < n; i++) {
		cb_call call =
		    CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = text, .timeout_ms = timeout_ms);
		snprintf(text, sizeof(text), "%s %d, Rue Ü", prefix, i);
		slots[i] = (slot){t, i};
		assert_int_equal(cb_call_async(c, &call, count_cb, &slots[i]), CB_OK);
	}
}

/* Waits for n callbacks, then a little longer, and checks that none fired twice or never. */
static void expect_once(tally *t, int n, cb_err want, int wait_ms)
{
	double end = it_now_ms() + wait_ms;

	while (atomic_load(&t->total) < n && it_now_ms() < end)
		usleep(5000);
	usleep(300000); /* a late second callback would show up here */
	assert_int_equal(atomic_load(&t->total), n);
	for (int i = 0; i < n; i++) {
		if (atomic_load(&t->fired[i]) != 1)
			fail_msg("call %d: callback fired %d times", i, atomic_load(&t->fired[i]));
		if (t->err[i] != want)
			fail_msg("call %d: want %s, got %s (%s)", i, cb_strerror(want),
			         cb_strerror(t->err[i]), t->message[i]);
	}
}

/* A mock with these arguments, a server, and a client connected to it. */
static cb_client *fixture(it_env *e, const char *pending, const char *fault)
{
	cb_client *c;

	if (fault != NULL)
		assert_int_equal(it_start_mock(e, "--pending", pending, "--fault", fault, NULL), 0);
	else
		assert_int_equal(it_start_mock(e, "--pending", pending, NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(cb_client_open(&c, e->url, NULL), CB_OK);
	return c;
}

static void test_once_on_success(void **state)
{
	it_env *e = *state;
	cb_client *c;
	tally t;

	c = fixture(e, "50ms", NULL);
	start_calls(c, &t, N_CALLS, 0, "success");
	expect_once(&t, N_CALLS, CB_OK, 10000);
	cb_client_close(c);
}

static void test_once_on_upstream_error(void **state)
{
	it_env *e = *state;
	cb_client *c;
	tally t;

	assert_int_equal(
	    it_start_mock(e, "--pending", "50ms", "--fault", "status=500@submit:*", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	assert_int_equal(cb_client_open(&c, e->url, NULL), CB_OK);
	start_calls(c, &t, N_CALLS, 0, "failing");
	expect_once(&t, N_CALLS, CB_EUPSTREAM_ERROR, 10000);
	assert_non_null(strstr(t.message[0], "HTTP 500"));
	cb_client_close(c);
}

static void test_once_on_timeout(void **state)
{
	it_env *e = *state;
	cb_client *c;
	tally t;

	c = fixture(e, "10s", NULL);
	start_calls(c, &t, N_CALLS, 300, "slow");
	expect_once(&t, N_CALLS, CB_ETIMEOUT, 5000);
	cb_client_close(c);
}

static void test_once_when_server_killed(void **state)
{
	it_env *e = *state;
	cb_client *c;
	tally t;

	c = fixture(e, "10s", NULL);
	start_calls(c, &t, N_CALLS, 1500, "killed");
	/* every call is upstream now */
	assert_int_equal(it_wait_mock_stat(e, "items", N_CALLS, 5000), 0);
	assert_int_equal(it_stop(&e->server, SIGKILL, 5000), 128 + SIGKILL);
	expect_once(&t, N_CALLS, CB_EUNREACHABLE, 5000);
	assert_non_null(strstr(t.message[0], "connection to the server was lost"));
	cb_client_close(c);
}

/* A call whose connection dropped is resent with the same id once a server is back. */
static void test_resend_after_restart(void **state)
{
	it_env *e = *state;
	cb_client *c;
	tally t;

	c = fixture(e, "1500ms", NULL);
	start_calls(c, &t, N_CALLS, 20000, "restarted");
	assert_int_equal(it_wait_mock_stat(e, "items", N_CALLS, 5000), 0);
	assert_int_equal(it_stop(&e->server, SIGKILL, 5000), 128 + SIGKILL);
	assert_int_equal(it_mock_config(e, "{\"pending_ms\":50}"), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	expect_once(&t, N_CALLS, CB_OK, 15000);
	cb_client_close(c);
}

static void test_once_on_close(void **state)
{
	it_env *e = *state;
	cb_client *c;
	tally t;

	c = fixture(e, "10s", NULL);
	start_calls(c, &t, N_CALLS, 0, "closing");
	/* every call reached the server and waits there */
	assert_int_equal(it_wait_stat(e->url, "calls_in_flight", N_CALLS, N_CALLS, 5000), 0);
	cb_client_close(c);
	/* every callback has run by the time close returns */
	assert_int_equal(atomic_load(&t.total), N_CALLS);
	expect_once(&t, N_CALLS, CB_ECLOSED, 0);
}

#define THREADS    4
#define PER_THREAD 1000

typedef struct thread_arg {
	cb_client *c;
	int t;
	atomic_int *fired; /* THREADS * PER_THREAD counters */
	atomic_int *ok;
} thread_arg;

typedef struct call_slot {
	thread_arg *a;
	int i;
} call_slot;

static void thread_cb(void *user, const cb_result *res)
{
	call_slot *cs = user;
	atomic_fetch_add(&cs->a->fired[cs->i], 1);
	if (res->err == CB_OK)
		atomic_fetch_add(cs->a->ok, 1);
}

static void *caller_thread(void *arg)
{
	thread_arg *a = arg;
	call_slot *cs = calloc(PER_THREAD, sizeof(*cs));
	char text[64];

	for (int k = 0; k < PER_THREAD; k++) {
		cb_call call = CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = text);
		snprintf(text, sizeof(text), "thread %d street %d", a->t, k);
		cs[k] = (call_slot){a, a->t * PER_THREAD + k};
		if (cb_call_async(a->c, &call, thread_cb, &cs[k]) != CB_OK)
			atomic_fetch_add(&a->fired[cs[k].i], 100); /* shows up as a failure */
	}
	return cs; /* freed by the test once every callback ran */
}

/* One client shared by several threads, thousands of calls in flight at once. */
static void test_threads_share_a_client(void **state)
{
	it_env *e = *state;
	static atomic_int fired[THREADS * PER_THREAD];
	atomic_int ok = 0;
	thread_arg args[THREADS];
	pthread_t th[THREADS];
	void *slots_mem[THREADS];
	cb_client *c;
	double end;

	c = fixture(e, "200ms", NULL);
	for (int t = 0; t < THREADS; t++) {
		args[t] = (thread_arg){c, t, fired, &ok};
		pthread_create(&th[t], NULL, caller_thread, &args[t]);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], &slots_mem[t]);
	for (end = it_now_ms() + 20000;
	     atomic_load(&ok) < THREADS * PER_THREAD && it_now_ms() < end;)
		usleep(5000);
	cb_client_close(c);
	for (int i = 0; i < THREADS * PER_THREAD; i++)
		if (atomic_load(&fired[i]) != 1)
			fail_msg("call %d: callback fired %d times", i, atomic_load(&fired[i]));
	assert_int_equal(atomic_load(&ok), THREADS * PER_THREAD);
	for (int t = 0; t < THREADS; t++)
		free(slots_mem[t]);
}

static void test_open_unreachable(void **state)
{
	it_env *e = *state;
	cb_client *c;

	assert_int_equal(cb_client_open(&c, e->url, NULL), CB_EUNREACHABLE);
}

static void test_sync_and_ping(void **state)
{
	it_env *e = *state;
	char version[32];
	cb_client *c;
	cb_result r;
	void *buf;
	size_t len;

	c = fixture(e, "20ms", NULL);
	assert_int_equal(cb_ping(c, version, sizeof(version)), CB_OK);
	assert_string_equal(version, cb_version());
	assert_int_equal(cb_geocode(c, "Tour Eiffel Champ de Mars, Paris", &r), CB_OK);
	assert_float_equal(r.lat, 48.8584, 1e-9);
	assert_string_equal(r.formatted, "Tour Eiffel Champ de Mars, Paris");
	assert_string_equal(r.result_type, "amenity");
	assert_int_equal(r.batch_size, 1);
	cb_result_free(&r);
	assert_int_equal(cb_reverse(c, -89.9, 0, &r), CB_ENOT_FOUND);
	assert_string_equal(r.message, "no result for this input");
	cb_result_free(&r);
	assert_int_equal(cb_stats(c, &buf, &len), CB_OK);
	assert_true(len > 100);
	cb_free(buf);
	cb_client_close(c);
}

/* ------------------------------------------------------------ the cellbatch command */

static int run_cli(it_env *e, const char *args, const char *out_path)
{
	char cmd[2048];
	int st;

	snprintf(cmd, sizeof(cmd), "CELLBATCH_URL='%s' '%s' %s > '%s' 2>'%s.err'", e->url, CLI_BIN,
	         args, out_path, out_path);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *nasty(int i, char *buf, size_t cap)
{
	switch (i % 4) {
	case 0:
		snprintf(buf, cap, "%d Main Street, Springfield, IL", i);
		break;
	case 1:
		snprintf(buf, cap, "The \"Old Mill\" %d, Mill Lane", i);
		break;
	case 2:
		snprintf(buf, cap, "東京都千代田区丸の内 %d-1", i);
		break;
	default:
		snprintf(buf, cap, "Красная площадь %d, Москва, \"Россия\"", i);
		break;
	}
	return buf;
}

static void test_cli_10000_lines(void **state)
{
	it_env *e = *state;
	char in_path[300], out_path[300], buf[200], args[400];
	csv_record rec = {0};
	json_t *st;
	FILE *f;
	int n = 0;

	assert_int_equal(it_start_mock(e, "--pending", "100ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	snprintf(in_path, sizeof(in_path), "%s/in.txt", e->dir);
	snprintf(out_path, sizeof(out_path), "%s/out.csv", e->dir);
	f = fopen(in_path, "w");
	for (int i = 0; i < 10000; i++)
		fprintf(f, "%s\n", nasty(i, buf, sizeof(buf)));
	fclose(f);
	snprintf(args, sizeof(args), "geocode -f '%s'", in_path);
	assert_int_equal(run_cli(e, args, out_path), 0);

	f = fopen(out_path, "r");
	assert_non_null(f);
	assert_int_equal(csv_read(f, &rec), 1);
	assert_int_equal(rec.n, 7);
	assert_string_equal(rec.fields[0], "address");
	assert_string_equal(rec.fields[5], "status");
	assert_string_equal(rec.fields[6], "error");
	while (csv_read(f, &rec) == 1) {
		nasty(n, buf, sizeof(buf));
		if (strcmp(rec.fields[0], buf) != 0)
			fail_msg("row %d: '%s', want '%s'", n, rec.fields[0], buf);
		assert_string_equal(rec.fields[5], "OK");
		/* the mock echoes the address into formatted: the text survived both ways */
		assert_non_null(strstr(rec.fields[3], buf));
		n++;
	}
	csv_record_free(&rec);
	fclose(f);
	assert_int_equal(n, 10000);
	st = it_mock_stats(e);
	if (json_integer_value(json_object_get(st, "submits")) != 10) {
		char *dump = json_dumps(st, JSON_COMPACT);
		print_message("mock stats: %s\n", dump);
		free(dump);
	}
	assert_int_equal(json_integer_value(json_object_get(st, "submits")), 10);
	assert_int_equal(json_integer_value(json_object_get(st, "items")), 10000);
	json_decref(st);
}

/* One row too long for the protocol in a file of 1,000: it alone fails (the CLI sends multis). */
static void test_cli_one_bad_row(void **state)
{
	it_env *e = *state;
	char in_path[300], out_path[300], buf[200], args[400], longrow[1101];
	csv_record rec = {0};
	int n = 0, ok = 0, bad = 0;
	FILE *f;

	assert_int_equal(it_start_mock(e, "--pending", "50ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	snprintf(in_path, sizeof(in_path), "%s/rows.txt", e->dir);
	snprintf(out_path, sizeof(out_path), "%s/out.csv", e->dir);
	memset(longrow, 'x', sizeof(longrow) - 1);
	longrow[sizeof(longrow) - 1] = '\0';
	f = fopen(in_path, "w");
	for (int i = 0; i < 1000; i++)
		fprintf(f, "%s\n", i == 500 ? longrow : nasty(i, buf, sizeof(buf)));
	fclose(f);
	snprintf(args, sizeof(args), "geocode -f '%s'", in_path);
	assert_int_equal(run_cli(e, args, out_path), 1); /* a row failed */
	f = fopen(out_path, "r");
	assert_non_null(f);
	assert_int_equal(csv_read(f, &rec), 1); /* the header */
	while (csv_read(f, &rec) == 1) {
		if (n == 500) {
			assert_string_equal(rec.fields[5], "BAD_REQUEST");
			bad++;
		} else {
			assert_string_equal(rec.fields[5], "OK");
			ok++;
		}
		n++;
	}
	csv_record_free(&rec);
	fclose(f);
	assert_int_equal(ok, 999);
	assert_int_equal(bad, 1);
}

static void test_cli_column_and_exit_codes(void **state)
{
	it_env *e = *state;
	char in_path[300], out_path[300], args[400];
	char *out;
	FILE *f;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	snprintf(in_path, sizeof(in_path), "%s/sheet.csv", e->dir);
	snprintf(out_path, sizeof(out_path), "%s/out.csv", e->dir);
	f = fopen(in_path, "w");
	fputs("id,where,note\r\n1,\"221B Baker St, London, England\",\"multi\nline\"\r\n"
	      "2,\"1 Nowhere Lane\",x\r\n",
	      f);
	fclose(f);
	snprintf(args, sizeof(args), "geocode -f '%s' --column where", in_path);
	assert_int_equal(run_cli(e, args, out_path), 1); /* one cell not found */
	out = it_slurp(out_path, NULL);
	assert_string_equal(out, "id,where,note,lat,lon,formatted,confidence,status,error\n"
	                         "1,\"221B Baker St, London, England\",\"multi\nline\",51.5238000,"
	                         "-0.1586000,\"221B Baker St, London, England\",1.000,OK,\n"
	                         "2,1 Nowhere Lane,x,,,,,NOT_FOUND,no result for this input\n");
	free(out);
	assert_int_equal(run_cli(e, "geocode --column where", out_path), 2);
	assert_int_equal(run_cli(e, "frobnicate", out_path), 2);
	assert_int_equal(run_cli(e, "stats --json", out_path), 0);
	out = it_slurp(out_path, NULL);
	assert_non_null(strstr(out, "\"batch_size_hist\":{\"1\":"));
	free(out);
	assert_int_equal(run_cli(e, "stats", out_path), 0);
	out = it_slurp(out_path, NULL);
	assert_non_null(strstr(out, "batch sizes"));
	assert_non_null(strstr(out, "█"));
	free(out);
	assert_int_equal(it_stop(&e->server, SIGTERM, 5000), 0);
	assert_int_equal(run_cli(e, "ping", out_path), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_once_on_success, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_once_on_upstream_error, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_once_on_timeout, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_once_when_server_killed, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_resend_after_restart, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_once_on_close, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_open_unreachable, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_threads_share_a_client, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_sync_and_ping, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_cli_10000_lines, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_cli_one_bad_row, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_cli_column_and_exit_codes, it_setup, it_teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
