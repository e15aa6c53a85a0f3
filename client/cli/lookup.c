/* lookup.c: geocode and reverse from the command line — single lookups and files of them, sent
 * as multis with a bounded number in flight, printed in input order. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cellbatch.h"
#include "csv.h"
#include "cli.h"
#include "jsonout.h"

void usage_lookup(FILE *f, bool reverse)
{
	if (!reverse)
		fprintf(
		    f,
		    "Usage: cellbatch geocode [OPTION]... TEXT...\n"
		    "       cellbatch geocode [OPTION]... -f FILE|-\n"
		    "Geocodes addresses. Every input is sent at once (up to --concurrency), so "
		    "the\n"
		    "server batches them; output keeps the input order.\n"
		    "\n"
		    "  -f, --file FILE       one address per line ('-' reads stdin); a regular\n"
		    "                        file or stdin, a UTF-8 BOM is skipped\n"
		    "  --column NAME         FILE is CSV (RFC 4180) with a header; geocode column\n"
		    "                        NAME (any case) and keep every input column\n"
		    "  --delimiter D         the CSV's delimiter: ',' ';' or 'tab' (default: the\n"
		    "                        one of these the header line has most of)\n");
	else
		fprintf(
		    f,
		    "Usage: cellbatch reverse [OPTION]... LAT,LON...\n"
		    "       cellbatch reverse [OPTION]... -f FILE|-\n"
		    "Finds addresses for coordinates.\n"
		    "\n"
		    "  -f, --file FILE       one LAT,LON per line ('-' reads stdin), or LAT and\n"
		    "                        LON as two CSV fields\n"
		    "  --delimiter D         the file's delimiter: ',' ';' or 'tab' (default:\n"
		    "                        sniffed from the first line)\n");
	fprintf(f, "  --json                JSON lines instead of CSV\n"
	           "  --header              print the CSV header for TEXT arguments too\n"
	           "  --concurrency N       calls in flight at once (10000), sent as multis of\n"
	           "                        up to 1000 whatever N is\n"
	           "  --lang L, --type T, --filter F, --bias B, --countrycodes C\n"
	           "                        upstream options, passed to Geoapify as they are\n"
	           "  -h, --help            show this help\n"
	           "\n"
	           "CSV output: the input column(s) (address, or query for reverse), then\n"
	           "lat,lon,formatted,confidence,status,error. status is OK or the error code\n"
	           "(NOT_FOUND, TIMEOUT, ...), error its reason. JSON lines have the keys input,\n"
	           "lat, lon, formatted, confidence, status and error (null when absent).\n"
	           "Malformed CSV is an error naming FILE:LINE (exit 2). A progress bar goes to\n"
	           "stderr when it is a terminal.\n");
}

double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One multi message in flight: which rows its results belong to. */
typedef struct ticket {
	run *rn;
	size_t n;
	size_t rows[]; /* row index of each call */
} ticket;

static void store(run *rn, row *r, const cb_result *res)
{
	r->err = res->err;
	r->rlat = res->lat;
	r->rlon = res->lon;
	r->has_conf = res->has_confidence;
	r->conf = res->confidence;
	r->formatted = strdup(res->err == CB_OK ? res->formatted : res->message);
	r->done = true;
	rn->finished++;
	if (res->err != CB_OK)
		rn->failed++;
	if (res->err == CB_EUNREACHABLE)
		rn->unreachable++;
}

static void ticket_done_cb(void *user, const cb_result *res, size_t n)
{
	ticket *t = user;
	run *rn = t->rn;

	pthread_mutex_lock(&rn->mu);
	for (size_t i = 0; i < n; i++)
		store(rn, &rn->rows[t->rows[i]], &res[i]);
	rn->in_flight -= n;
	pthread_cond_signal(&rn->cv);
	pthread_mutex_unlock(&rn->mu);
	free(t);
}

static void print_json(run *rn, row *r, const char *status)
{
	json_t *o = json_object(), *in;
	bool ok = r->err == CB_OK;

	if (rn->in_header != NULL) {
		in = json_object();
		for (size_t c = 0; c < r->in.n; c++)
			cli_set_unique(in, c < rn->in_cols ? rn->in_header[c] : "column",
			               cli_jstr(r->in.fields[c], strlen(r->in.fields[c])));
	} else {
		in = cli_jstr(r->in.fields[0], strlen(r->in.fields[0]));
	}
	/* the same keys on every line, null where there is no value: one schema to read */
	json_object_set_new(o, "input", in);
	json_object_set_new(o, "lat", ok ? json_real(r->rlat) : json_null());
	json_object_set_new(o, "lon", ok ? json_real(r->rlon) : json_null());
	json_object_set_new(o, "formatted",
	                    ok ? cli_jstr(r->formatted, strlen(r->formatted)) : json_null());
	json_object_set_new(o, "confidence", ok && r->has_conf ? json_real(r->conf) : json_null());
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "error",
	                    ok ? json_null()
	                       : cli_jstr(r->formatted ? r->formatted : "",
	                                  r->formatted ? strlen(r->formatted) : 0));
	cli_json_line(stdout, o);
}

/* One output row: the input's columns, then out_cols (rows.c), the error's reason last. */
static void print_row(run *rn, row *r)
{
	const char *status = r->err == CB_OK ? "OK" : cb_err_name(r->err);
	char num[64];

	if (status == NULL)
		status = r->err == CB_EUNREACHABLE ? "UNREACHABLE" : "ERROR";
	if (rn->json) {
		print_json(rn, r, status);
		return;
	}
	for (size_t c = 0; c < r->in.n; c++) {
		csv_write_field(stdout, r->in.fields[c]);
		fputc(',', stdout);
	}
	/* a short input row still has the header's columns: every row as wide as the header */
	for (size_t c = r->in.n; rn->in_header != NULL && c < rn->in_cols; c++)
		fputc(',', stdout);
	if (r->err == CB_OK) {
		printf("%.7f,%.7f,", r->rlat, r->rlon);
		csv_write_field(stdout, r->formatted);
		if (r->has_conf)
			snprintf(num, sizeof(num), "%.3f", r->conf);
		else
			num[0] = '\0';
		printf(",%s,OK,\n", num);
	} else {
		printf(",,,,%s,", status);
		csv_write_field(stdout, r->formatted ? r->formatted : "");
		fputc('\n', stdout);
	}
}

static void progress(run *rn, bool final)
{
	double el = now_s() - rn->t0, rate = el > 0 ? rn->finished / el : 0;
	double eta = rate > 0 ? (rn->nrows - rn->finished) / rate : 0;
	int width = 30, fill = rn->nrows ? (int)(width * rn->finished / rn->nrows) : width;

	fprintf(stderr, "\r[");
	for (int i = 0; i < width; i++)
		fputc(i < fill ? '#' : ' ', stderr);
	fprintf(stderr, "] %zu/%zu  %.0f/s  ETA %.0fs ", rn->finished, rn->nrows, rate, eta);
	if (final)
		fputc('\n', stderr);
}

/* Prints every finished row at the head of the input order; mu is held. */
static void flush_ordered(run *rn)
{
	while (rn->next_out < rn->nrows && rn->rows[rn->next_out].done) {
		print_row(rn, &rn->rows[rn->next_out]);
		rn->next_out++;
	}
}

/*
 * Sends the rows as multi messages of up to CHUNK calls, whatever
 * --concurrency says: a chunk reaches the server's batch window in one piece,
 * so a preempted client cannot split a batch with an accidental idle gap, and
 * 10,000 rows cost 10 messages. --concurrency bounds what is in flight in
 * whole chunks: below CHUNK it means one chunk at a time.
 */
#define CHUNK 1000

static int run_all(cb_client *cl, const lookup_opts *lo, run *rn)
{
	cb_call *calls = calloc(CHUNK, sizeof(*calls));
	double last = 0;
	size_t i = 0;

	if (calls == NULL)
		return EXIT_SOME_FAILED;
	rn->t0 = now_s();
	pthread_mutex_lock(&rn->mu);
	while (i < rn->nrows) {
		size_t want = CHUNK, n = 0;
		ticket *t = malloc(sizeof(*t) + want * sizeof(size_t));
		cb_err rv;

		if (t == NULL)
			break;
		while (rn->in_flight > 0 && rn->in_flight + want > rn->concurrency) {
			pthread_cond_wait(&rn->cv, &rn->mu);
			flush_ordered(rn);
		}
		for (; i < rn->nrows && n < want; i++) {
			row *r = &rn->rows[i];
			if (r->bad_input) {
				cb_result bad = {.err = CB_EBAD_REQUEST,
				                 .message = rn->reverse ? "input is not LAT,LON"
				                                        : "empty address"};
				store(rn, r, &bad);
				continue;
			}
			calls[n] = lo->proto;
			calls[n].text = r->text;
			calls[n].lat = r->lat;
			calls[n].lon = r->lon;
			t->rows[n++] = i;
		}
		if (n == 0) {
			free(t);
			continue;
		}
		t->rn = rn;
		t->n = n;
		rn->in_flight += n;
		pthread_mutex_unlock(&rn->mu);
		rv = cb_multi_async(cl, calls, n, ticket_done_cb, t);
		pthread_mutex_lock(&rn->mu);
		if (rv != CB_OK) {
			cb_result fail = {.err = rv, .message = cb_strerror(rv)};
			for (size_t k = 0; k < n; k++)
				store(rn, &rn->rows[t->rows[k]], &fail);
			rn->in_flight -= n;
			free(t);
		}
		if (rn->progress && now_s() - last > 0.1) {
			progress(rn, false);
			last = now_s();
		}
	}
	free(calls);
	while (rn->finished < rn->nrows) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&rn->cv, &rn->mu, &ts);
		flush_ordered(rn);
		if (rn->progress)
			progress(rn, false);
	}
	flush_ordered(rn);
	pthread_mutex_unlock(&rn->mu);
	if (rn->progress)
		progress(rn, true);
	if (rn->nrows > 0 && rn->unreachable == rn->nrows)
		return EXIT_UNREACHABLE;
	return rn->failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}

/* Frees the rows and the input header rn holds (rn itself is the caller's). */
static void run_free(run *rn)
{
	for (size_t i = 0; i < rn->nrows; i++) {
		csv_record_free(&rn->rows[i].in);
		free(rn->rows[i].formatted);
	}
	free(rn->rows);
	if (rn->in_header != NULL) {
		csv_record h = {(char **)rn->in_header, rn->in_cols};
		csv_record_free(&h);
	}
}

/* --delimiter's value, or 0 after saying why it is none. */
static char parse_delim(const char *s)
{
	if (strcmp(s, ",") == 0 || strcmp(s, ";") == 0 || strcmp(s, "\t") == 0)
		return s[0];
	if (strcmp(s, "tab") == 0 || strcmp(s, "\\t") == 0)
		return '\t';
	fprintf(stderr, "%s: --delimiter must be ',' ';' or 'tab', not '%s'\n", cli_prog, s);
	return 0;
}

int cmd_lookup(const global *g, int argc, char **argv, bool reverse)
{
	enum {
		O_JSON = 256,
		O_HEADER,
		O_CONC,
		O_LANG,
		O_TYPE,
		O_FILTER,
		O_BIAS,
		O_CC,
		O_COLUMN,
		O_DELIM
	};
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"column", required_argument, NULL, O_COLUMN},
	    {"delimiter", required_argument, NULL, O_DELIM},
	    {"json", no_argument, NULL, O_JSON},
	    {"header", no_argument, NULL, O_HEADER},
	    {"concurrency", required_argument, NULL, O_CONC},
	    {"lang", required_argument, NULL, O_LANG},
	    {"type", required_argument, NULL, O_TYPE},
	    {"filter", required_argument, NULL, O_FILTER},
	    {"bias", required_argument, NULL, O_BIAS},
	    {"countrycodes", required_argument, NULL, O_CC},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	lookup_opts lo = {.concurrency = 10000, .proto = CB_CALL_INIT()};
	run rn = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	cb_client *cl;
	int o, rv;

	lo.proto.fn = reverse ? CB_FN_REVERSE : CB_FN_GEOCODE;
	optind = 1;
	while ((o = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'f':
			lo.file = optarg;
			break;
		case O_COLUMN:
			lo.column = optarg;
			break;
		case O_DELIM:
			if ((lo.delim = parse_delim(optarg)) == 0)
				return EXIT_USAGE;
			break;
		case O_JSON:
			lo.json = true;
			break;
		case O_HEADER:
			lo.header = true;
			break;
		case O_CONC:
			lo.concurrency = strtoul(optarg, NULL, 10);
			if (lo.concurrency == 0) {
				fprintf(stderr, "%s: --concurrency must be a positive number\n",
				        cli_prog);
				return EXIT_USAGE;
			}
			break;
		case O_LANG:
			lo.proto.lang = optarg;
			break;
		case O_TYPE:
			lo.proto.type = optarg;
			break;
		case O_FILTER:
			lo.proto.filter = optarg;
			break;
		case O_BIAS:
			lo.proto.bias = optarg;
			break;
		case O_CC:
			lo.proto.countrycodes = optarg;
			break;
		case 'h':
			usage_lookup(stdout, reverse);
			return EXIT_ALL_OK;
		default:
			fprintf(stderr, "Try 'cellbatch %s --help'.\n",
			        reverse ? "reverse" : "geocode");
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if ((lo.file == NULL) == (argc == 0) ||
	    (lo.column != NULL && (lo.file == NULL || reverse))) {
		fprintf(stderr, "%s: give either %s or -f FILE%s\nTry 'cellbatch %s --help'.\n",
		        cli_prog, reverse ? "LAT,LON arguments" : "TEXT arguments",
		        reverse ? "" : " (--column needs -f)", reverse ? "reverse" : "geocode");
		return EXIT_USAGE;
	}
	rn.reverse = reverse;
	rn.json = lo.json;
	rn.concurrency = lo.concurrency;
	rn.progress = lo.file != NULL && isatty(2);
	/* load_rows leaves what it read in rn on failure too: every exit goes through run_free */
	if ((rv = load_rows(&rn, &lo, argc, argv)) != 0 || (rv = open_client(g, &cl)) != 0)
		goto out;
	if (lo.file != NULL || lo.header)
		print_header(&rn);
	rv = run_all(cl, &lo, &rn);
	cb_client_close(cl);
	fflush(stdout);
out:
	run_free(&rn);
	return rv;
}
