/* test_service.c: cellbatchd as a service — SIGHUP during a burst reopens --log-file and
 * answers every call, --require-api-key, --check-config, the log's line formats. */
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"

#define N 3000

typedef struct burst {
	const char *url;
	it_call calls[N];
	it_reply replies[N];
	char text[N][48];
	int rv;
} burst;

static void *burst_thread(void *arg)
{
	burst *b = arg;

	b->rv = it_calls(b->url, b->calls, N, b->replies, 60000);
	return NULL;
}

/* Polls path until it holds needle: 0, or -1 after timeout_ms. */
static int wait_file_has(const char *path, const char *needle, int timeout_ms)
{
	for (double end = it_now_ms() + timeout_ms; it_now_ms() < end; usleep(10000)) {
		char *s = it_slurp(path, NULL);
		int found = s != NULL && strstr(s, needle) != NULL;
		free(s);
		if (found)
			return 0;
	}
	return -1;
}

static void test_sighup_during_burst(void **state)
{
	it_env *e = *state;
	char log[300], rotated[310];
	static burst b;
	pthread_t th;
	it_reply st;

	snprintf(log, sizeof(log), "%s/cellbatchd.log", e->dir);
	snprintf(rotated, sizeof(rotated), "%s.1", log);
	b.url = e->url;
	for (int i = 0; i < N; i++) {
		snprintf(b.text[i], sizeof(b.text[0]), "%d Rotation Road, Logtown", i);
		b.calls[i] = (it_call){.fn = CB_FN_GEOCODE, .text = b.text[i], .id = (uint64_t)i};
	}
	assert_int_equal(it_start_mock(e, "--pending", "300ms", NULL), 0);
	assert_int_equal(it_start_server(e, "--log-file", log, NULL), 0);
	assert_int_equal(wait_file_has(log, "cellbatchd ", 5000), 0);
	assert_int_equal(pthread_create(&th, NULL, burst_thread, &b), 0);
	/* in the middle of it: batches upstream, calls waiting */
	assert_int_equal(it_wait_mock_stat(e, "submits", 1, 10000), 0);
	assert_int_equal(rename(log, rotated), 0); /* what logrotate does */
	for (int i = 0; i < 5; i++)
		assert_int_equal(kill(e->server, SIGHUP), 0);
	assert_int_equal(wait_file_has(log, "SIGHUP: reopened the log file", 5000), 0);
	pthread_join(th, NULL);
	assert_int_equal(b.rv, 0);
	for (int i = 0; i < N; i++) {
		if (!b.replies[i].decoded || b.replies[i].rep.err != CB_OK)
			fail_msg("call %d: not answered OK after SIGHUP", i);
	}
	it_replies_free(b.replies, N);
	assert_int_equal(kill(e->server, 0), 0); /* still running */
	assert_int_equal(waitpid(e->server, NULL, WNOHANG), 0);
	assert_int_equal(it_stats(e->url, &st, 5000), 0);
	it_replies_free(&st, 1);
	assert_int_equal(wait_file_has(rotated, "cellbatchd ", 100),
	                 0); /* the old file kept its lines */
	assert_int_equal(it_stop(&e->server, SIGTERM, 10000), 0);
	assert_int_equal(wait_file_has(log, "drained", 100), 0); /* the new one got the rest */
}

/* Runs a shell command line; its exit status, its stderr in err (caller frees). */
static int sh(it_env *e, const char *cmdline, char **err)
{
	char cmd[2048], path[300];
	int st;

	snprintf(path, sizeof(path), "%s/sh.err", e->dir);
	snprintf(cmd, sizeof(cmd), "%s 2>'%s'", cmdline, path);
	st = system(cmd);
	*err = it_slurp(path, NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_api_key_and_check_config(void **state)
{
	it_env *e = *state;
	char cmd[1024], *err;

	/* the real upstream without a key: refused, unless asked not to */
	snprintf(cmd, sizeof(cmd),
	         "env -u GEOAPIFY_API_KEY '%s' --listen ipc://%s/x.sock "
	         "--no-cache-db --check-config",
	         SERVER_BIN, e->dir);
	assert_int_equal(sh(e, cmd, &err), 2);
	assert_non_null(strstr(err, "no API key"));
	free(err);
	strcat(cmd, " --no-require-api-key");
	assert_int_equal(sh(e, cmd, &err), 0);
	free(err);
	/* a mock on loopback needs none; a key from a file is enough for the real one */
	snprintf(
	    cmd, sizeof(cmd),
	    "env -u GEOAPIFY_API_KEY '%s' --upstream http://127.0.0.1:9 "
	    "--listen ipc://%s/x.sock --no-cache-db --check-config | grep -q 'configuration OK'",
	    SERVER_BIN, e->dir);
	assert_int_equal(sh(e, cmd, &err), 0);
	free(err);
	snprintf(cmd, sizeof(cmd),
	         "echo k > %s/key && env -u GEOAPIFY_API_KEY '%s' "
	         "--api-key-file %s/key --listen ipc://%s/x.sock --check-config",
	         e->dir, SERVER_BIN, e->dir, e->dir);
	assert_int_equal(sh(e, cmd, &err), 0);
	free(err);
	snprintf(cmd, sizeof(cmd), "'%s' --batch-max 5000 --check-config", SERVER_BIN);
	assert_int_equal(sh(e, cmd, &err), 2);
	free(err);
}

/* ISO-8601 with date and zone on a file or a terminal; "<N>" only when stderr is the journal. */
static void test_log_formats(void **state)
{
	it_env *e = *state;
	char cmd[1024], path[300], *err;
	struct stat st;
	regex_t iso;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
	         "env -u GEOAPIFY_API_KEY -u JOURNAL_STREAM '%s' --upstream "
	         "http://127.0.0.1:9 --no-cache-db --check-config >/dev/null",
	         SERVER_BIN);
	assert_int_equal(sh(e, cmd, &err), 0);
	assert_int_equal(regcomp(&iso,
	                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
	                         "\\.[0-9]{3}Z warn  no API key",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	if (regexec(&iso, err, 0, NULL, 0) != 0)
		fail_msg("not an ISO-8601 line: %s", err);
	regfree(&iso);
	free(err);
	/* stderr is "the journal" when JOURNAL_STREAM names its device and inode */
	snprintf(path, sizeof(path), "%s/journal", e->dir);
	f = fopen(path, "w");
	fstat(fileno(f), &st);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
	         "env -u GEOAPIFY_API_KEY JOURNAL_STREAM=%llu:%llu '%s' --upstream "
	         "http://127.0.0.1:9 --no-cache-db --check-config >/dev/null 2>>'%s'",
	         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, SERVER_BIN, path);
	assert_int_equal(system(cmd), 0);
	err = it_slurp(path, NULL);
	assert_true(strncmp(err, "<4>warn  no API key", 19) == 0);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sighup_during_burst, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_api_key_and_check_config, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_log_formats, it_setup, it_teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
