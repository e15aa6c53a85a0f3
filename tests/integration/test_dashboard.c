/* test_dashboard.c: the dashboard at / in real headless Chromium — after a burst of 1,000 cells
 * the histogram shows one batch of 1,000 and the credits panel /stats.json's numbers; the page
 * says so when /stats.json fails; a screenshot is kept in the build tree. Exits 77 (skipped) only
 * when there is no Chromium. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "browser.h"
#include "harness.h"
#include "scrape.h"

#define TIMEOUT_MS         30000
#define BURST              1000
#define BROWSER_BUDGET_MS  3000  /* virtual time for the page's polls: three of them */
#define BROWSER_TIMEOUT_MS 60000 /* real time before the browser is killed */

static const char *chromium;

static unsigned start_with_http(it_env *e)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		unsigned port = free_port();
		char addr[64];
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		/* one window for the whole burst: it closes at --batch-max (1000), not on time */
		if (it_start_server(e, "--http", addr, "--no-cache-db", "--batch-wait", "5s",
		                    "--batch-idle", "2s", NULL) == 0)
			return port;
	}
	fail_msg("cellbatchd did not start with --http");
	return 0;
}

/* BURST unique geocode calls at once; every one answered OK. */
static void burst(it_env *e)
{
	it_call *c = calloc(BURST, sizeof(*c));
	it_reply *r = calloc(BURST, sizeof(*r));
	char(*texts)[64] = calloc(BURST, sizeof(*texts));

	for (size_t i = 0; i < BURST; i++) {
		snprintf(texts[i], sizeof(texts[i]), "%zu Dashboard Road, Chartham", i);
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = texts[i], .id = i + 1};
	}
	assert_int_equal(it_calls(e->url, c, BURST, r, TIMEOUT_MS), 0);
	for (size_t i = 0; i < BURST; i++) {
		assert_true(r[i].decoded);
		assert_int_equal(r[i].rep.err, CB_OK);
	}
	it_replies_free(r, BURST);
	free(r);
	free(c);
	free(texts);
}

/* Loads url in Chromium with mode; the DOM (--dump-dom) or NULL. Fails the test on a timeout. */
static char *load(it_env *e, const char *url, const char *mode, const char *profile)
{
	char dir[400], log[400];
	char *dom = NULL;
	double t0 = it_now_ms();
	int rv;

	snprintf(dir, sizeof(dir), "%s/%s", e->dir, profile);
	snprintf(log, sizeof(log), "%s/chromium.log", e->dir);
	rv = browser_run(chromium, dir, log, url, mode, BROWSER_BUDGET_MS, BROWSER_TIMEOUT_MS,
	                 strcmp(mode, "--dump-dom") == 0 ? &dom : NULL);
	print_message("chromium %s %s: exit %d in %.0f ms\n", mode, url, rv, it_now_ms() - t0);
	if (rv != 0)
		fail_msg("chromium failed (exit %d); its log: %s", rv, log);
	return dom;
}

/* The DOM's attribute of the element holding anchor, as a number; a missing one fails. */
static double dom_num(const char *dom, const char *anchor, const char *attr)
{
	char v[64], *end;
	double d;

	if (dom_attr(dom, anchor, attr, v, sizeof(v)) != 0)
		fail_msg("the page has no %s on %s", attr, anchor);
	d = strtod(v, &end);
	if (end == v || *end != '\0')
		fail_msg("%s of %s is %s, not a number", attr, anchor, v);
	return d;
}

/* A credits figure: data-value and the text shown (commas taken out) both equal want. */
static void check_figure(const char *dom, const char *id, double want)
{
	char anchor[64], text[64], digits[64];
	size_t n = 0;

	snprintf(anchor, sizeof(anchor), "id=\"%s\"", id);
	if (dom_num(dom, anchor, "data-value") != want)
		fail_msg("%s: data-value %g, /stats.json %g", id,
		         dom_num(dom, anchor, "data-value"), want);
	assert_int_equal(dom_text(dom, anchor, text, sizeof(text)), 0);
	for (const char *p = text; *p != '\0' && n + 1 < sizeof(digits); p++)
		if (*p != ',')
			digits[n++] = *p;
	digits[n] = '\0';
	if (strtod(digits, NULL) != want)
		fail_msg("%s shows \"%s\", /stats.json has %g", id, text, want);
	print_message("%s: %s\n", id, text);
}

/* The histogram: one batch in the 1024 bucket (513 to 1024 items), none elsewhere. */
static void check_histogram(const char *dom, const json_t *st)
{
	const json_t *h = json_object_get(st, "batch_size_hist");
	const char *k;
	json_t *v;

	assert_int_equal(json_integer_value(json_object_get(h, "1024")), 1);
	json_object_foreach((json_t *)h, k, v)
	{
		char anchor[64];
		snprintf(anchor, sizeof(anchor), "data-bucket=\"%s\"", k);
		if (dom_num(dom, anchor, "data-count") != (double)json_integer_value(v))
			fail_msg("bucket %s: the page shows %g, /stats.json %lld", k,
			         dom_num(dom, anchor, "data-count"),
			         (long long)json_integer_value(v));
	}
	assert_true(dom_num(dom, "id=\"hist\"", "data-total") == 1);
}

static json_t *stats_json(unsigned port)
{
	http_got g;
	json_t *j;

	http_get(port, "/stats.json", &g);
	assert_int_equal(g.status, 200);
	j = json_loads(g.body, 0, NULL);
	free(g.body);
	assert_non_null(j);
	return j;
}

/* / is one self-contained page: HTML, a CSP, and nothing fetched from elsewhere. */
static void check_page_bytes(unsigned port, const char *save_as)
{
	http_got g;
	FILE *f;

	http_get(port, "/", &g);
	assert_int_equal(g.status, 200);
	assert_string_equal(g.ctype, "text/html; charset=utf-8");
	assert_null(strstr(g.body, "https://"));
	assert_null(strstr(g.body, "src=\"http"));
	assert_null(strstr(g.body, "href=\"http"));
	print_message("/: %zu bytes in %.1f ms\n", g.len, g.ms);
	assert_non_null(f = fopen(save_as, "w"));
	assert_int_equal(fwrite(g.body, 1, g.len, f), g.len);
	fclose(f);
	free(g.body);
	http_get(port, "/index.html", &g);
	assert_int_equal(g.status, 200);
	free(g.body);
}

static void test_dashboard_after_a_burst(void **state)
{
	it_env *e = *state;
	char url[128], page[400], png[600], file_url[500];
	double t0 = it_now_ms();
	const json_t *cr;
	unsigned port;
	json_t *st;
	char *dom;
	struct stat sb;

	assert_int_equal(it_start_mock(e, "--pending", "30ms", NULL), 0);
	port = start_with_http(e);
	burst(e);
	assert_int_equal(it_wait_stat(e->url, "batches_sent", 1, 1, TIMEOUT_MS), 0);
	assert_int_equal(it_wait_stat(e->url, "calls_in_flight", 0, 0, TIMEOUT_MS), 0);
	st = stats_json(port);
	cr = json_object_get(st, "credits");
	snprintf(page, sizeof(page), "%s/dashboard.html", e->dir);
	check_page_bytes(port, page);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	dom = load(e, url, "--dump-dom", "profile-dom");
	assert_true(dom_num(dom, "<body", "data-polls") >= 1); /* it rendered a poll */
	check_histogram(dom, st);
	check_figure(dom, "credits-spent", json_number_value(json_object_get(cr, "spent")));
	check_figure(dom, "credits-single",
	             json_number_value(json_object_get(cr, "one_call_per_cell")));
	check_figure(dom, "credits-saved", json_number_value(json_object_get(cr, "saved")));
	assert_true(dom_num(dom, "id=\"credits-saved-pct\"", "data-value") == 50);
	assert_int_equal(dom_attr(dom, "id=\"status\"", "data-state", url, sizeof(url)), 0);
	assert_string_equal(url, "ready");
	free(dom);

	mkdir(ARTIFACT_DIR, 0755);
	snprintf(png, sizeof(png), "--screenshot=%s/dashboard.png", ARTIFACT_DIR);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	load(e, url, png, "profile-png");
	assert_int_equal(stat(png + strlen("--screenshot="), &sb), 0);
	assert_true(sb.st_size > 10000);
	print_message("screenshot: %s (%lld bytes)\n", png + strlen("--screenshot="),
	              (long long)sb.st_size);

	/* the same page where /stats.json cannot be fetched: it says so */
	snprintf(file_url, sizeof(file_url), "file://%s", page);
	dom = load(e, file_url, "--dump-dom", "profile-gone");
	assert_int_equal(dom_attr(dom, "id=\"status\"", "data-state", url, sizeof(url)), 0);
	assert_string_equal(url, "unreachable");
	assert_int_equal(dom_text(dom, "id=\"banner\"", page, sizeof(page)), 0);
	assert_non_null(strstr(page, "Cannot reach cellbatchd"));
	free(dom);
	json_decref(st);
	print_message("test_dashboard: %.0f ms\n", it_now_ms() - t0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_dashboard_after_a_burst, it_setup, it_teardown),
	};

	if ((chromium = browser_find()) == NULL) {
		printf("SKIP: no Chromium (chromium, chromium-browser or google-chrome on PATH, or "
		       "$CHROMIUM); scripts/bootstrap installs Debian's chromium\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
