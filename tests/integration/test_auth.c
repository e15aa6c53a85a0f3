/* test_auth.c: --auth-token-file against real cellbatchd + mock processes — UNAUTHORIZED for a
 * missing or wrong token on every op but ping (the hot path too), the right token answered
 * through raw requests, libcellbatch (options and CELLBATCH_TOKEN) and the cellbatch command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cellbatch.h"
#include "harness.h"

#define TIMEOUT_MS 10000
#define TOKEN      "tok-5b1e0c7d-right"
#define PLACE      "Tour Eiffel Champ de Mars, Paris"

/* A token file of e's (mode 0600 unless said): a comment, a blank line, an old token, ours. */
static void write_tokens(it_env *e, char *path, size_t cap, mode_t mode, const char *text)
{
	FILE *f;

	snprintf(path, cap, "%s/tokens", e->dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void start_with_tokens(it_env *e)
{
	char path[300];

	write_tokens(e, path, sizeof(path), 0600,
	             "# cellbatch tokens\n\n  tok-old-7c2f  \n" TOKEN "\n");
	assert_int_equal(it_start_mock(e, NULL), 0);
	assert_int_equal(it_start_server(e, "--auth-token-file", path, NULL), 0);
}

/* One request of op (a geocode of text for call) with auth (NULL: none); its reply's code. */
static cb_err ask(it_env *e, cb_op op, const char *text, const char *auth)
{
	cb_request req = {.op = op, .has_id = true, .id = 77};
	msgpack_sbuffer b;
	msgpack_packer pk;
	it_reply r;
	cb_err code;

	req.call = (cb_wire_call){.fn = CB_FN_GEOCODE, .text = {text, (uint32_t)strlen(text)}};
	if (auth != NULL)
		req = (cb_request){.op = op,
		                   .has_id = true,
		                   .id = 77,
		                   .call = req.call,
		                   .has_auth = true,
		                   .auth = {auth, (uint32_t)strlen(auth)}};
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	assert_int_equal(cbp_request_encode(&pk, &req), CB_OK);
	assert_int_equal(it_raw(e->url, b.data, b.size, &r, TIMEOUT_MS), 0);
	assert_true(r.decoded);
	assert_int_equal(r.rep.id, 77); /* a refusal is still matched to its request */
	code = r.rep.err;
	it_replies_free(&r, 1);
	msgpack_sbuffer_destroy(&b);
	return code;
}

static void test_raw_requests(void **state)
{
	it_env *e = *state;
	/* {"v":1,"id":5,"op":"call","fn":"nope","args":[]}: UNKNOWN_FN without a token file */
	static const uint8_t bad_fn[] = {0x85, 0xa1, 'v', 0x01, 0xa2, 'i', 'd',  0x05, 0xa2, 'o',
	                                 'p',  0xa4, 'c', 'a',  'l',  'l', 0xa2, 'f',  'n',  0xa4,
	                                 'n',  'o',  'p', 'e',  0xa4, 'a', 'r',  'g',  's',  0x90};
	it_reply r;
	long refused;

	start_with_tokens(e);
	assert_int_equal(ask(e, CB_OP_CALL, PLACE, NULL), CB_EUNAUTHORIZED);
	assert_int_equal(ask(e, CB_OP_CALL, PLACE, "tok-wrong"), CB_EUNAUTHORIZED);
	assert_int_equal(ask(e, CB_OP_CALL, PLACE, TOKEN "x"), CB_EUNAUTHORIZED);
	assert_int_equal(ask(e, CB_OP_STATS, "", NULL), CB_EUNAUTHORIZED);
	/* ping stays open for health checks: it tells the version only */
	assert_int_equal(ask(e, CB_OP_PING, "", NULL), CB_OK);
	/* a malformed request says nothing but UNAUTHORIZED to a stranger */
	assert_int_equal(it_raw(e->url, bad_fn, sizeof(bad_fn), &r, TIMEOUT_MS), 0);
	assert_int_equal(r.rep.err, CB_EUNAUTHORIZED);
	assert_int_equal(r.rep.id, 5);
	it_replies_free(&r, 1);
	assert_int_equal(it_mock_stat(e, "submits"), 0); /* nothing reached the upstream */

	assert_int_equal(ask(e, CB_OP_CALL, PLACE, TOKEN), CB_OK);
	assert_int_equal(ask(e, CB_OP_CALL, PLACE, "tok-old-7c2f"), CB_OK);
	/* the answer is cached now: the hot path must ask for the token as well */
	assert_int_equal(ask(e, CB_OP_CALL, PLACE, NULL), CB_EUNAUTHORIZED);
	assert_int_equal(ask(e, CB_OP_CALL, PLACE, TOKEN), CB_OK);
	assert_int_equal(ask(e, CB_OP_STATS, "", TOKEN), CB_OK);

	/* counted: 4 refused calls, the refused stats and the malformed one */
	setenv("CELLBATCH_TOKEN", TOKEN, 1);
	{
		cb_client *c;
		void *buf;
		size_t len, off = 0;
		msgpack_zone z;
		msgpack_object o;

		assert_int_equal(cb_client_open(&c, e->url, NULL), CB_OK);
		assert_int_equal(cb_stats(c, &buf, &len), CB_OK);
		msgpack_zone_init(&z, 4096);
		assert_int_equal(msgpack_unpack(buf, len, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
		refused = (long)it_mp_get(&o, "unauthorized")->via.u64;
		assert_int_equal(
		    it_mp_get(it_mp_get(&o, "answered_by_code"), "UNAUTHORIZED")->via.u64, 6);
		msgpack_zone_destroy(&z);
		cb_free(buf);
		cb_client_close(c);
	}
	unsetenv("CELLBATCH_TOKEN");
	assert_int_equal(refused, 6);
}

static void test_libcellbatch(void **state)
{
	it_env *e = *state;
	cb_client *c;
	cb_result r;
	char version[32];

	start_with_tokens(e);
	unsetenv("CELLBATCH_TOKEN");
	/* no token: the call is refused; older libraries see the code as INTERNAL */
	assert_int_equal(cb_client_open(&c, e->url, NULL), CB_OK);
	assert_int_equal(cb_geocode(c, PLACE, &r), CB_EUNAUTHORIZED);
	assert_string_equal(cb_err_name(r.err), "UNAUTHORIZED");
	cb_result_free(&r);
	assert_int_equal(cb_ping(c, version, sizeof(version)), CB_OK);
	cb_client_close(c);
	/* the option */
	assert_int_equal(
	    cb_client_open(&c, e->url, &(cb_client_options)CB_CLIENT_OPTIONS_INIT(.token = TOKEN)),
	    CB_OK);
	assert_int_equal(cb_geocode(c, PLACE, &r), CB_OK);
	assert_string_equal(r.formatted, PLACE);
	cb_result_free(&r);
	cb_client_close(c);
	/* CELLBATCH_TOKEN, with the line end a $(cat file) or a file read leaves */
	setenv("CELLBATCH_TOKEN", TOKEN "\n", 1);
	assert_int_equal(cb_client_open(&c, e->url, NULL), CB_OK);
	assert_int_equal(cb_geocode(c, PLACE, &r), CB_OK);
	cb_result_free(&r);
	cb_client_close(c);
	/* "" in the options means none, whatever the environment says */
	assert_int_equal(
	    cb_client_open(&c, e->url, &(cb_client_options)CB_CLIENT_OPTIONS_INIT(.token = "")),
	    CB_OK);
	assert_int_equal(cb_geocode(c, PLACE, &r), CB_EUNAUTHORIZED);
	cb_result_free(&r);
	cb_client_close(c);
	unsetenv("CELLBATCH_TOKEN");
}

/* The cellbatch command with env (e.g. "CELLBATCH_TOKEN=x") and args; its exit status. */
static int run_cli(it_env *e, const char *env, const char *args, char **out)
{
	char cmd[2048], path[300];
	int st;

	snprintf(path, sizeof(path), "%s/cli.out", e->dir);
	snprintf(cmd, sizeof(cmd),
	         "env -u CELLBATCH_TOKEN %s CELLBATCH_URL='%s' '%s' %s >'%s' 2>&1", env, e->url,
	         CLI_BIN, args, path);
	st = system(cmd);
	*out = it_slurp(path, NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **state)
{
	it_env *e = *state;
	char cmd[600], path[300], *out;

	start_with_tokens(e);
	assert_int_equal(run_cli(e, "", "geocode '" PLACE "'", &out), 1);
	assert_non_null(strstr(out, "UNAUTHORIZED"));
	free(out);
	assert_int_equal(run_cli(e, "CELLBATCH_TOKEN=" TOKEN, "geocode '" PLACE "'", &out), 0);
	assert_non_null(strstr(out, PLACE));
	free(out);
	assert_int_equal(run_cli(e, "CELLBATCH_TOKEN=" TOKEN, "stats", &out), 0);
	free(out);
	/* --token-file: the server's format, so one file can serve both */
	snprintf(path, sizeof(path), "%s/mine", e->dir);
	snprintf(cmd, sizeof(cmd), "printf '# mine\\n\\n  %s \\n' >'%s'", TOKEN, path);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "--token-file '%s' geocode '%s'", path, PLACE);
	assert_int_equal(run_cli(e, "", cmd, &out), 0);
	free(out);
	assert_int_equal(run_cli(e, "", "--token-file /nonexistent ping", &out), 2);
	free(out);
}

/* cellbatchd with --auth-token-file holding text at mode: it must refuse to start, saying want. */
static void expect_refused(it_env *e, mode_t mode, const char *text, const char *want)
{
	char path[300], log[300], *s;
	pid_t pid;

	write_tokens(e, path, sizeof(path), mode, text);
	snprintf(log, sizeof(log), "%s/refused.log", e->dir);
	unlink(log);
	assert_true((pid = it_spawn_server(e, log, "--auth-token-file", path, NULL)) > 0);
	assert_int_equal(it_stop(&pid, 0, 5000), 2);
	assert_non_null(s = it_slurp(log, NULL));
	if (strstr(s, want) == NULL)
		fail_msg("wanted \"%s\" in: %s", want, s);
	free(s);
}

static void test_token_file_refused(void **state)
{
	it_env *e = *state;
	char log[300], *s;
	pid_t pid;

	expect_refused(e, 0600, "# only a comment\n\n", "holds no token");
	expect_refused(e, 0600, "", "holds no token");
	expect_refused(e, 0644, TOKEN "\n", "others may read it");
	expect_refused(e, 0620, TOKEN "\n", "chmod 600");
	snprintf(log, sizeof(log), "%s/missing.log", e->dir);
	assert_true((pid = it_spawn_server(e, log, "--auth-token-file", "/nonexistent/t", NULL)) >
	            0);
	assert_int_equal(it_stop(&pid, 0, 5000), 2);
	assert_non_null(s = it_slurp(log, NULL));
	assert_non_null(strstr(s, "--auth-token-file /nonexistent/t: No such file"));
	free(s);
	/* a group-readable file loads, with a warning */
	{
		char path[300];
		write_tokens(e, path, sizeof(path), 0640, TOKEN "\n");
		assert_int_equal(it_start_mock(e, NULL), 0);
		assert_int_equal(it_start_server(e, "--auth-token-file", path, NULL), 0);
		assert_int_equal(ask(e, CB_OP_CALL, PLACE, TOKEN), CB_OK);
		assert_non_null(s = it_slurp(e->server_log, NULL));
		assert_non_null(strstr(s, "its group may read it"));
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_raw_requests, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_libcellbatch, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_cli, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_token_file_refused, it_setup, it_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
