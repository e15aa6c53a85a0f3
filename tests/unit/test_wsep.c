/* test_wsep.c: the WebSocket endpoint's Origin rules — which --ws-origin values are accepted, the
 * default list made from --http, the fleet's public URLs joining it, and the comparison a
 * connection's Origin header meets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wsep.h"

/* Origins as browsers serialise them: scheme://host[:port], and nothing after. */
static void test_valid(void **state)
{
	const char *good[] = {"https://addin.example.com", "http://127.0.0.1:9100",
	                      "http://[::1]:9100", "https://a-b.example:443",
	                      "chrome-extension://abcdef"};
	const char *bad[] = {"",
	                     "null",
	                     "addin.example.com",
	                     "https://",
	                     "https://a.example/",
	                     "https://a.example/path",
	                     "https://a.example:",
	                     "https://a.example:123456",
	                     "https://a.example:80x",
	                     "https://user@a.example",
	                     "https://a.example?q",
	                     "https://[::1",
	                     "1http://a.example"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(wsep_origin_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(wsep_origin_valid(bad[i]));
}

/* No --ws-origin: the server's own origin in its loopback spellings, nothing else. */
static void test_defaults(void **state)
{
	wsep_origins *w = wsep_origins_new("127.0.0.1:9100", false, NULL, NULL, 0);

	(void)state;
	assert_non_null(w);
	assert_true(wsep_allowed(w, "http://127.0.0.1:9100"));
	assert_true(wsep_allowed(w, "http://localhost:9100"));
	assert_true(wsep_allowed(w, "HTTP://LOCALHOST:9100"));
	assert_true(wsep_allowed(w, NULL)); /* not a browser */
	assert_false(wsep_allowed(w, "https://127.0.0.1:9100"));
	assert_false(wsep_allowed(w, "http://127.0.0.1:9101"));
	assert_false(wsep_allowed(w, "http://127.0.0.1"));
	assert_false(wsep_allowed(w, "https://evil.example"));
	assert_false(wsep_allowed(w, "null"));
	assert_false(wsep_allowed(w, ""));
	wsep_origins_free(w);

	w = wsep_origins_new("localhost:9100", false, NULL, NULL, 0);
	assert_true(wsep_allowed(w, "http://127.0.0.1:9100"));
	assert_true(wsep_allowed(w, "http://[::1]:9100"));
	assert_true(wsep_allowed(w, "http://localhost:9100"));
	wsep_origins_free(w);

	/* --http with TLS: its pages come from https://, and http:// is another origin */
	w = wsep_origins_new("127.0.0.1:9100", true, NULL, NULL, 0);
	assert_true(wsep_allowed(w, "https://127.0.0.1:9100"));
	assert_true(wsep_allowed(w, "https://localhost:9100"));
	assert_false(wsep_allowed(w, "http://127.0.0.1:9100"));
	wsep_origins_free(w);

	/* --public-url: the pages it serves (the Excel add-in) come from there, path left off */
	w = wsep_origins_new("127.0.0.1:9100", false, "https://cells.example.com:8443/cb/", NULL,
	                     0);
	assert_true(wsep_allowed(w, "https://cells.example.com:8443"));
	assert_true(wsep_allowed(w, "http://127.0.0.1:9100"));
	assert_false(wsep_allowed(w, "https://cells.example.com"));
	assert_false(wsep_allowed(w, "https://cells.example.com:8443/cb"));
	wsep_origins_free(w);
	w = wsep_origins_new("127.0.0.1:9100", false, "https://cells.example.com", NULL, 0);
	assert_true(wsep_allowed(w, "https://cells.example.com"));
	wsep_origins_free(w);
}

/* --ws-origin given: exactly those (any case), and the server's own no longer implied. */
static void test_configured(void **state)
{
	const char *list[] = {"https://addin.example.com", "http://app.example"};
	wsep_origins *w = wsep_origins_new("127.0.0.1:9100", false, NULL, list, 2);

	(void)state;
	assert_true(wsep_allowed(w, "https://addin.example.com"));
	assert_true(wsep_allowed(w, "https://Addin.Example.com"));
	assert_true(wsep_allowed(w, "http://app.example"));
	assert_false(wsep_allowed(w, "https://app.example"));
	assert_false(wsep_allowed(w, "http://app.example.evil.example"));
	assert_false(wsep_allowed(w, "http://127.0.0.1:9100"));
	wsep_origins_free(w);
}

/* --redis: the origins of the fleet's public URLs join the default list, each report's replacing
 * the last; an operator's --ws-origin list stays the whole of it. */
static void test_fleet(void **state)
{
	const char *urls[] = {"http://127.0.0.1:9101", "https://cells.example.com:8443/cb/",
	                      "http://127.0.0.1:9101/", "not a url", "https://a.example/x?y"};
	const char *later[] = {"https://cells.example.com:8443/cb/"};
	const char *list[] = {"https://addin.example.com"};
	wsep_origins *w = wsep_origins_new("127.0.0.1:9100", false, NULL, NULL, 0);

	(void)state;
	assert_false(wsep_allowed(w, "http://127.0.0.1:9101"));
	assert_int_equal(wsep_origins_set_fleet(w, urls, 5), 0);
	assert_true(wsep_allowed(w, "http://127.0.0.1:9101"));
	assert_true(wsep_allowed(w, "HTTPS://cells.example.com:8443"));
	assert_true(wsep_allowed(w, "http://127.0.0.1:9100")); /* its own stays */
	assert_false(wsep_allowed(w, "https://cells.example.com"));
	assert_false(wsep_allowed(w, "not a url"));
	assert_false(wsep_allowed(w, "https://a.example/x?y"));
	assert_int_equal(wsep_origins_set_fleet(w, later, 1), 0);
	assert_false(wsep_allowed(w, "http://127.0.0.1:9101")); /* gone from the fleet */
	assert_true(wsep_allowed(w, "https://cells.example.com:8443"));
	assert_int_equal(wsep_origins_set_fleet(w, NULL, 0), 0);
	assert_false(wsep_allowed(w, "https://cells.example.com:8443"));
	wsep_origins_free(w);

	w = wsep_origins_new("127.0.0.1:9100", false, NULL, list, 1);
	assert_int_equal(wsep_origins_set_fleet(w, urls, 1), 0);
	assert_false(wsep_allowed(w, "http://127.0.0.1:9101"));
	assert_true(wsep_allowed(w, "https://addin.example.com"));
	wsep_origins_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_configured),
	    cmocka_unit_test(test_fleet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
