/* test_cli.c: the cellbatch command with the files people have — Excel's CSV (BOM, ';', quotes,
 * CRLF), malformed ones, a directory, reverse lookups — against real cellbatchd + mock processes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "csv.h"
#include "harness.h"

typedef struct out {
	int rc;
	char *out, *err;
} out;

/* Runs `cellbatch ARGS` against e's server; its exit status, stdout and stderr. */
static out cli(it_env *e, const char *args)
{
	char cmd[2048], path[300], epath[310];
	out o;
	int st;

	snprintf(path, sizeof(path), "%s/cli.out", e->dir);
	snprintf(epath, sizeof(epath), "%s/cli.err", e->dir);
	snprintf(cmd, sizeof(cmd), "cd '%s' && CELLBATCH_URL='%s' '%s' %s > '%s' 2>'%s'", e->dir,
	         e->url, CLI_BIN, args, path, epath);
	st = system(cmd);
	o.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	o.out = it_slurp(path, NULL);
	o.err = it_slurp(epath, NULL);
	return o;
}

static void out_free(out *o)
{
	free(o->out);
	free(o->err);
}

static void write_file(it_env *e, const char *name, const char *text)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", e->dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The CSV records of text: every one as wide as the first; returns how many. */
static size_t expect_rect(const char *text, csv_record *first, csv_record *second)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	csv_record rec = {0};
	size_t n = 0, w = 0;

	assert_non_null(f);
	while (csv_read(f, &rec) == 1) {
		if (n == 0)
			w = rec.n;
		else if (rec.n != w)
			fail_msg("record %zu has %zu fields, the header %zu:\n%s", n, rec.n, w,
			         text);
		if (n == 0 && first != NULL)
			*first = rec, rec = (csv_record){0};
		else if (n == 1 && second != NULL)
			*second = rec, rec = (csv_record){0};
		n++;
	}
	csv_record_free(&rec);
	fclose(f);
	return n;
}

static void test_excel_sheet(void **state)
{
	it_env *e = *state;
	csv_record h = {0}, r1 = {0};
	out o;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	/* Excel's "CSV UTF-8" in much of Europe: BOM, ';', quotes where needed, CRLF */
	write_file(e, "sheet.csv",
	           "\xef\xbb\xbfName;City;Note\r\n"
	           "\"221B Baker St, London, England\";London;\"a \"\"quoted\"\"; note\"\r\n"
	           "1 Nowhere Lane;Atlantis;\r\n");
	o = cli(e, "geocode -f sheet.csv --column name"); /* any case: Name */
	assert_int_equal(o.rc, 1);                        /* Nowhere is not found */
	assert_int_equal(expect_rect(o.out, &h, &r1), 3);
	assert_int_equal(h.n, 9);
	assert_string_equal(h.fields[0], "Name"); /* no BOM left in it */
	assert_string_equal(h.fields[8], "error");
	assert_string_equal(r1.fields[2], "a \"quoted\"; note");
	assert_string_equal(r1.fields[7], "OK");
	assert_non_null(strstr(o.out, ",NOT_FOUND,no result for this input\n"));
	csv_record_free(&h);
	csv_record_free(&r1);
	out_free(&o);
	/* the same with the delimiter named, and tab-separated sniffed */
	o = cli(e, "geocode -f sheet.csv --column NAME --delimiter ';'");
	assert_int_equal(o.rc, 1);
	out_free(&o);
	write_file(e, "tabs.tsv", "id\taddress\n1\t221B Baker St, London, England\n");
	o = cli(e, "geocode -f tabs.tsv --column Address");
	assert_int_equal(o.rc, 0);
	assert_non_null(strstr(o.out, "51.5238000,-0.1586000"));
	out_free(&o);
}

static void test_bad_input_is_a_usage_error(void **state)
{
	it_env *e = *state;
	out o;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	write_file(e, "open.csv", "address,note\n\"1 Main St\",x\n\"2 Main St,y\n3 Main St,z\n");
	o = cli(e, "geocode -f open.csv --column address");
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.err, "open.csv:3: unterminated quoted field"));
	assert_string_equal(o.out, "");
	out_free(&o);
	write_file(e, "stray.csv", "address\n1 Main \"St\n");
	o = cli(e, "geocode -f stray.csv --column address");
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.err, "stray.csv:2: quote inside an unquoted field"));
	out_free(&o);
	/* trailing empty fields are a spreadsheet's habit; a real extra value has no column */
	write_file(e, "wide.csv", "address,note\n1 Main St,x,,\n2 Main St,y,z\n");
	o = cli(e, "geocode -f wide.csv --column address");
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.err, "wide.csv:3: more fields than the header has"));
	out_free(&o);
	o = cli(e, "geocode -f /tmp");
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.err, "/tmp: is a directory"));
	assert_string_equal(o.out, "");
	out_free(&o);
	write_file(e, "cols.csv", "Id,Street,Town\n1,x,y\n");
	o = cli(e, "geocode -f cols.csv --column address");
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.err, "its columns are: 'Id', 'Street', 'Town'"));
	out_free(&o);
	o = cli(e, "geocode -f cols.csv --column Id --delimiter '|'");
	assert_int_equal(o.rc, 2);
	out_free(&o);
}

static void test_addresses(void **state)
{
	it_env *e = *state;
	out o;

	o = cli(e, "--url http://localhost:5555 ping");
	assert_int_equal(o.rc, 2);
	assert_non_null(strstr(o.err, "--url http://localhost:5555: not an address"));
	out_free(&o);
	/* nothing listens on the discard port: the full address is named */
	o = cli(e, "--url 9 --timeout 500 ping");
	assert_int_equal(o.rc, 3);
	assert_non_null(strstr(o.err, "tcp://127.0.0.1:9"));
	out_free(&o);
}

/* Every line a JSON object, keys unique (jansson rejects duplicates), the keys of the contract. */
static size_t expect_json_lines(const char *text, const char *status0)
{
	static const char *const keys[] = {"input",      "lat",    "lon",  "formatted",
	                                   "confidence", "status", "error"};
	size_t n = 0;

	for (const char *p = text; *p; n++) {
		const char *nl = strchr(p, '\n');
		json_error_t err;
		json_t *v = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, &err);
		if (v == NULL)
			fail_msg("line %zu: %s: %.*s", n + 1, err.text, (int)(nl - p), p);
		assert_int_equal(json_object_size(v), 7);
		for (size_t k = 0; k < 7; k++)
			assert_non_null(json_object_get(v, keys[k]));
		if (n == 0)
			assert_string_equal(json_string_value(json_object_get(v, "status")),
			                    status0);
		json_decref(v);
		p = nl + 1;
	}
	return n;
}

static void test_reverse_and_json(void **state)
{
	it_env *e = *state;
	csv_record h = {0}, r1 = {0};
	out o;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	write_file(e, "points.csv", "48.8584,2.2945\r\n51.5238;-0.1586\r\nnot a point\r\n");
	o = cli(e, "reverse -f points.csv --delimiter ,");
	assert_int_equal(o.rc, 1); /* the third is no LAT,LON */
	assert_int_equal(expect_rect(o.out, &h, &r1), 4);
	assert_int_equal(h.n, 7);
	assert_string_equal(h.fields[0], "query");
	assert_string_equal(r1.fields[0], "48.8584,2.2945");
	assert_string_equal(r1.fields[5], "OK");
	csv_record_free(&h);
	csv_record_free(&r1);
	out_free(&o);
	o = cli(e, "reverse --header 48.8584,2.2945 '51.5238 -0.1586'");
	assert_int_equal(o.rc, 0);
	assert_int_equal(expect_rect(o.out, NULL, NULL), 3);
	out_free(&o);
	o = cli(e, "reverse --json 48.8584,2.2945 bad");
	assert_int_equal(o.rc, 1);
	assert_int_equal(expect_json_lines(o.out, "OK"), 2);
	assert_non_null(strstr(o.out, "\"input\":\"48.8584,2.2945\""));
	out_free(&o);
	/* input columns named like output keys, and twice: still unique keys */
	write_file(e, "dup.csv", "lat,address,address\n1,1 Nowhere Lane,x\n2,Tour Eiffel,y\n");
	o = cli(e, "geocode --json -f dup.csv --column address");
	assert_int_equal(o.rc, 1);
	assert_int_equal(expect_json_lines(o.out, "NOT_FOUND"), 2);
	assert_non_null(strstr(o.out, "\"address_2\":\"x\""));
	out_free(&o);
}

/* --concurrency bounds what is in flight, never the size of a multi: 500 lines, one batch. */
static void test_one_multi_whatever_concurrency(void **state)
{
	it_env *e = *state;
	char path[300];
	FILE *f;
	out o;

	assert_int_equal(it_start_mock(e, "--pending", "20ms", NULL), 0);
	assert_int_equal(it_start_server(e, NULL), 0);
	snprintf(path, sizeof(path), "%s/500.txt", e->dir);
	f = fopen(path, "w");
	for (int i = 0; i < 500; i++)
		fprintf(f, "%d Concurrency Road\n", i);
	fclose(f);
	o = cli(e, "geocode --concurrency 50 -f 500.txt");
	assert_int_equal(o.rc, 0);
	assert_int_equal(expect_rect(o.out, NULL, NULL), 501);
	assert_int_equal(it_mock_stat(e, "items"), 500);
	assert_int_equal(it_mock_stat(e, "submits"), 1);
	out_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_excel_sheet, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input_is_a_usage_error, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_addresses, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_reverse_and_json, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_one_multi_whatever_concurrency, it_setup,
	                                    it_teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
