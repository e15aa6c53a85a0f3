/* test_policy.c: the pure security rules — the listening policy, the upstream URL rule, the
 * default socket directory's verdict, --auth-token-file's parsing and check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "auth.h"
#include "cbproto.h"
#include "policy.h"

static policy_verdict listen_verdict(const char *url, policy_in in)
{
	char why[512];
	return policy_listen(url, &in, why, sizeof(why));
}

static void test_local_and_loopback_allowed(void **state)
{
	static const char *const ok[] = {
	    "ipc:///tmp/x.sock",    "inproc://a",           "abstract://a",
	    "tcp://127.0.0.1:5555", "tcp://127.8.9.1:1",    "tcp://[::1]:5555",
	    "tcp://localhost:1",    "tcp4://127.0.0.1:1",   "ws://127.0.0.1:8080/cellbatch",
	    "http://[::1]:80",      "tls+tcp://localhost:1"};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(listen_verdict(ok[i], (policy_in){0}), POLICY_ALLOW);
}

static void test_network_refused_without_flags(void **state)
{
	static const char *const net[] = {
	    "tcp://0.0.0.0:5555", "tcp://:5555",         "tcp://*:5555",
	    "tcp://[::]:5555",    "tcp://10.0.0.1:1",    "tcp://example.com:1",
	    "ws://0.0.0.0:1/x",   "tls+tcp://0.0.0.0:1", "tcp://127.0.0.1.example.com:1",
	    "frob://127.0.0.2x:1"};
	char why[512];
	(void)state;
	for (size_t i = 0; i < sizeof(net) / sizeof(net[0]); i++) {
		assert_int_equal(listen_verdict(net[i], (policy_in){0}), POLICY_REFUSE);
		/* tokens alone are not enough: they would cross the network in clear text */
		assert_int_equal(listen_verdict(net[i], (policy_in){.tokens = true}),
		                 POLICY_REFUSE);
	}
	assert_int_equal(policy_listen("tcp://0.0.0.0:1", &(policy_in){0}, why, sizeof(why)),
	                 POLICY_REFUSE);
	assert_non_null(strstr(why, "--insecure-listen"));
	assert_non_null(strstr(why, "--auth-token-file"));
}

static void test_insecure_and_tls(void **state)
{
	char why[512];
	(void)state;
	assert_int_equal(
	    policy_listen("tcp://0.0.0.0:1", &(policy_in){.insecure = true}, why, sizeof(why)),
	    POLICY_ALLOW_INSECURE);
	assert_non_null(strstr(why, "anyone who reaches it"));
	assert_int_equal(policy_listen("tcp://0.0.0.0:1",
	                               &(policy_in){.insecure = true, .tokens = true}, why,
	                               sizeof(why)),
	                 POLICY_ALLOW_INSECURE);
	assert_null(strstr(why, "anyone who reaches it"));
	/* --http: the same rule as other listeners, as https:// when it has TLS */
	assert_int_equal(listen_verdict("http://0.0.0.0:9", (policy_in){.http = true}),
	                 POLICY_REFUSE);
	assert_int_equal(
	    listen_verdict("http://0.0.0.0:9", (policy_in){.http = true, .insecure = true}),
	    POLICY_ALLOW_INSECURE);
	assert_int_equal(listen_verdict("http://0.0.0.0:9",
	                                (policy_in){.http = true, .tls = true, .tokens = true}),
	                 POLICY_REFUSE);
	assert_int_equal(listen_verdict("https://0.0.0.0:9",
	                                (policy_in){.http = true, .tls = true, .tokens = true}),
	                 POLICY_ALLOW);
	assert_int_equal(
	    listen_verdict("https://0.0.0.0:9", (policy_in){.http = true, .tls = true}),
	    POLICY_REFUSE);
	/* where TLS plugs in: a certificate and client authentication */
	assert_int_equal(
	    listen_verdict("tls+tcp://0.0.0.0:1", (policy_in){.tls = true, .tokens = true}),
	    POLICY_ALLOW);
	assert_int_equal(
	    listen_verdict("wss://0.0.0.0:1/x", (policy_in){.tls = true, .client_certs = true}),
	    POLICY_ALLOW);
	assert_int_equal(listen_verdict("tls+tcp://0.0.0.0:1", (policy_in){.tls = true}),
	                 POLICY_REFUSE);
	assert_int_equal(
	    listen_verdict("tcp://0.0.0.0:1", (policy_in){.tls = true, .tokens = true}),
	    POLICY_REFUSE);
}

static void test_upstream(void **state)
{
	static const char *const ok[] = {"https://api.geoapify.com", "HTTPS://api.geoapify.com/",
	                                 "http://127.0.0.1:8080", "http://localhost:1/v1",
	                                 "http://[::1]:80"};
	static const char *const bad[] = {"file:///etc/passwd",
	                                  "gopher://127.0.0.1/",
	                                  "http://example.com",
	                                  "http://localhost@evil.example/",
	                                  "http://127.0.0.1.evil.example",
	                                  "ftp://127.0.0.1",
	                                  "https://",
	                                  "api.geoapify.com",
	                                  "http://10.1.1.1:80"};
	char why[256];
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(policy_upstream(ok[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(policy_upstream(bad[i], why, sizeof(why)), -1);
		assert_non_null(strstr(why, "https://"));
	}
}

static void test_rundir_verdict(void **state)
{
	struct stat st = {.st_mode = S_IFDIR | 0700, .st_uid = 1000};
	char why[256];
	(void)state;
	assert_int_equal(cbp_rundir_verdict("/tmp/d", &st, 1000, why, sizeof(why)), 0);
	assert_int_equal(cbp_rundir_verdict("/tmp/d", &st, 1001, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "belongs to uid 1000, not to uid 1001"));
	st.st_mode = S_IFDIR | 0750;
	assert_int_equal(cbp_rundir_verdict("/tmp/d", &st, 1000, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "mode 750"));
	st.st_mode = S_IFLNK | 0700;
	assert_int_equal(cbp_rundir_verdict("/tmp/d", &st, 1000, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not a directory"));
}

static void test_tokens(void **state)
{
	const char text[] = "# the team's tokens\n\n  alpha-1 \r\nbeta-22\n\t# old: gamma\n";
	auth_tokens *t = auth_parse(text, sizeof(text) - 1);
	(void)state;
	assert_non_null(t);
	assert_int_equal(auth_count(t), 2);
	assert_true(auth_check(t, "alpha-1", 7));
	assert_true(auth_check(t, "beta-22", 7));
	assert_false(auth_check(t, "beta-2", 6));
	assert_false(auth_check(t, "beta-222", 8));
	assert_false(auth_check(t, "alpha-2", 7));
	assert_false(auth_check(t, "# the team's tokens", 19));
	assert_false(auth_check(t, "gamma", 5));
	assert_false(auth_check(t, "", 0));
	assert_false(auth_check(NULL, "alpha-1", 7));
	auth_free(t);
	assert_null(auth_parse("# nothing\n\n   \n", 15));
	assert_null(auth_parse("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_local_and_loopback_allowed),
	    cmocka_unit_test(test_network_refused_without_flags),
	    cmocka_unit_test(test_insecure_and_tls),
	    cmocka_unit_test(test_upstream),
	    cmocka_unit_test(test_rundir_verdict),
	    cmocka_unit_test(test_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
