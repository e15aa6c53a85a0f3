/* main.c: the cellbatch command — single lookups, files of lookups, batch stats and ping. */
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

#include <msgpack.h>

#include "cellbatch.h"
#include "csv.h"
#include "stats_view.h"

enum { EXIT_ALL_OK = 0, EXIT_SOME_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

typedef struct global {
	const char *url;
	unsigned timeout_ms;
} global;

static const char *prog = "cellbatch";

static void usage_main(FILE *f)
{
	fprintf(f,
	        "Usage: cellbatch [--url URL] [--timeout MS] COMMAND [ARGS]...\n"
	        "Geocodes through a cellbatchd server, which batches every caller's lookups.\n"
	        "\n"
	        "Commands\n"
	        "  geocode TEXT...          one line per answer\n"
	        "  geocode -f FILE|-        a file of addresses (or a CSV column), all at once\n"
	        "  reverse LAT,LON...       addresses for coordinates (-f FILE of LAT,LON lines)\n"
	        "  stats                    the server's batch stats (--json, --watch SECONDS)\n"
	        "  ping                     check that the server answers\n"
	        "\n"
	        "Options\n"
	        "  --url URL       server address (default: $CELLBATCH_URL, else\n"
	        "                  ipc://$XDG_RUNTIME_DIR/cellbatch.sock); 5555 means "
	        "tcp://127.0.0.1:5555\n"
	        "  --timeout MS    per-call timeout in milliseconds (60000)\n"
	        "  -h, --help      show this help; COMMAND --help shows the command's\n"
	        "  -V, --version   show the version\n"
	        "\n"
	        "Exit status: 0 all answered ok, 1 some cells failed, 2 usage error, 3 server "
	        "unreachable.\n");
}

static void usage_lookup(FILE *f, bool reverse)
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
		    "  -f, --file FILE       one address per line ('-' reads stdin)\n"
		    "  --column NAME         FILE is CSV with a header; geocode column NAME and\n"
		    "                        keep every input column in the output\n");
	else
		fprintf(f, "Usage: cellbatch reverse [OPTION]... LAT,LON...\n"
		           "       cellbatch reverse [OPTION]... -f FILE|-\n"
		           "Finds addresses for coordinates.\n"
		           "\n"
		           "  -f, --file FILE       one LAT,LON per line ('-' reads stdin)\n");
	fprintf(f,
	        "  --json                JSON lines instead of CSV\n"
	        "  --header              print the CSV header for TEXT arguments too\n"
	        "  --concurrency N       calls in flight at once (10000)\n"
	        "  --lang L, --type T, --filter F, --bias B, --countrycodes C\n"
	        "                        upstream options, passed to Geoapify as they are\n"
	        "  -h, --help            show this help\n"
	        "\n"
	        "CSV output: the input column(s), then lat,lon,formatted,confidence,status.\n"
	        "status is OK or the error code (NOT_FOUND, TIMEOUT, ...). A progress bar goes to\n"
	        "stderr when it is a terminal.\n");
}

/* ------------------------------------------------------------ lookups */

typedef struct row {
	csv_record in; /* the input fields */
	const char *text;
	double lat, lon;
	bool bad_input;
	bool done;
	cb_err err;
	double rlat, rlon, conf;
	bool has_conf;
	char *formatted; /* or the error message */
} row;

typedef struct run {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	row *rows;
	size_t nrows, issued, finished, in_flight, next_out;
	size_t failed, unreachable;
	size_t concurrency;
	bool json, header;
	const char *const *in_header; /* NULL: a single input column */
	size_t in_cols;
	bool reverse;
	bool progress;
	double t0;
} run;

typedef struct lookup_opts {
	cb_call proto; /* fn and options shared by every call */
	const char *file, *column;
	bool json, header;
	size_t concurrency;
} lookup_opts;

static double now_s(void)
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

static void print_row(run *rn, row *r)
{
	const char *status = r->err == CB_OK ? "OK" : cb_err_name(r->err);
	char num[64];

	if (status == NULL)
		status = r->err == CB_EUNREACHABLE ? "UNREACHABLE" : "ERROR";
	if (rn->json) {
		fputs("{", stdout);
		for (size_t c = 0; c < r->in.n; c++) {
			msgpack_object k = {.type = MSGPACK_OBJECT_STR}, v = k;
			const char *name = rn->in_header
			                       ? rn->in_header[c]
			                       : (rn->reverse ? (c ? "lon" : "lat") : "address");
			k.via.str.ptr = name;
			k.via.str.size = (uint32_t)strlen(name);
			v.via.str.ptr = r->in.fields[c];
			v.via.str.size = (uint32_t)strlen(r->in.fields[c]);
			json_print(stdout, &k);
			fputc(':', stdout);
			json_print(stdout, &v);
			fputc(',', stdout);
		}
		if (r->err == CB_OK) {
			msgpack_object f = {.type = MSGPACK_OBJECT_STR};
			f.via.str.ptr = r->formatted;
			f.via.str.size = (uint32_t)strlen(r->formatted);
			printf("\"lat\":%.7f,\"lon\":%.7f,\"formatted\":", r->rlat, r->rlon);
			json_print(stdout, &f);
			if (r->has_conf)
				printf(",\"confidence\":%.3f", r->conf);
			printf(",\"status\":\"OK\"}\n");
		} else {
			msgpack_object m = {.type = MSGPACK_OBJECT_STR};
			m.via.str.ptr = r->formatted ? r->formatted : "";
			m.via.str.size = (uint32_t)strlen(m.via.str.ptr);
			printf("\"status\":\"%s\",\"message\":", status);
			json_print(stdout, &m);
			printf("}\n");
		}
		return;
	}
	for (size_t c = 0; c < r->in.n; c++) {
		csv_write_field(stdout, r->in.fields[c]);
		fputc(',', stdout);
	}
	if (r->err == CB_OK) {
		printf("%.7f,%.7f,", r->rlat, r->rlon);
		csv_write_field(stdout, r->formatted);
		if (r->has_conf)
			snprintf(num, sizeof(num), "%.3f", r->conf);
		else
			num[0] = '\0';
		printf(",%s,OK\n", num);
	} else {
		printf(",,,,%s\n", status);
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
 * Sends the rows as multi messages of up to CHUNK calls: a chunk reaches the
 * server's batch window in one piece, so a preempted client cannot split a
 * batch with an accidental idle gap, and 10,000 rows cost 10 messages.
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
		size_t want = rn->concurrency < CHUNK ? rn->concurrency : CHUNK, n = 0;
		ticket *t = malloc(sizeof(*t) + want * sizeof(size_t));
		cb_err rv;

		if (t == NULL)
			break;
		while (rn->in_flight + want > rn->concurrency) {
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

static bool parse_latlon(const char *s, double *lat, double *lon)
{
	char *end;
	*lat = strtod(s, &end);
	if (end == s || (*end != ',' && *end != ' '))
		return false;
	s = end + 1;
	*lon = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*lat) && isfinite(*lon);
}

/* Fills rn->rows from arguments or a file. Returns 0, or an exit code. */
static int load_rows(run *rn, const lookup_opts *lo, int argc, char **argv)
{
	FILE *f = NULL;
	csv_record rec = {0};
	size_t cap = 0, col = 0;
	int rv;

	if (lo->file == NULL) {
		rn->rows = calloc((size_t)argc + 1, sizeof(row));
		for (int i = 0; i < argc; i++) {
			row *r = &rn->rows[rn->nrows++];
			r->in.fields = malloc(sizeof(char *));
			r->in.fields[0] = strdup(argv[i]);
			r->in.n = 1;
		}
	} else {
		f = strcmp(lo->file, "-") == 0 ? stdin : fopen(lo->file, "r");
		if (f == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, lo->file, strerror(errno));
			return EXIT_USAGE;
		}
		if (lo->column != NULL) {
			if (csv_read(f, &rec) != 1) {
				fprintf(stderr, "%s: %s: no header line\n", prog, lo->file);
				return EXIT_USAGE;
			}
			for (col = 0; col < rec.n && strcmp(rec.fields[col], lo->column) != 0;
			     col++)
				;
			if (col == rec.n) {
				fprintf(stderr, "%s: %s: no column named '%s'\n", prog, lo->file,
				        lo->column);
				return EXIT_USAGE;
			}
			rn->in_header = (const char *const *)rec.fields;
			rn->in_cols = rec.n;
			rec = (csv_record){0};
		}
		for (;;) {
			row *r;
			if (lo->column != NULL || rn->reverse) {
				if ((rv = csv_read(f, &rec)) <= 0)
					break;
			} else {
				/* a plain line is one address, commas and quotes included */
				char *line = NULL;
				size_t n = 0;
				ssize_t got = getline(&line, &n, f);
				if (got < 0) {
					free(line);
					break;
				}
				while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
					line[--got] = '\0';
				rec.fields = malloc(sizeof(char *));
				rec.fields[0] = line;
				rec.n = 1;
			}
			if (rec.n == 1 && rec.fields[0][0] == '\0') {
				csv_record_free(&rec);
				continue; /* blank line */
			}
			if (rn->nrows == cap) {
				cap = cap ? cap * 2 : 1024;
				rn->rows = realloc(rn->rows, cap * sizeof(row));
			}
			r = &rn->rows[rn->nrows++];
			memset(r, 0, sizeof(*r));
			r->in = rec;
			rec = (csv_record){0};
		}
		if (f != stdin)
			fclose(f);
	}
	for (size_t i = 0; i < rn->nrows; i++) {
		row *r = &rn->rows[i];
		if (!rn->reverse) {
			r->text = col < r->in.n ? r->in.fields[col] : "";
			r->bad_input = r->text[0] == '\0';
		} else if (r->in.n == 2) {
			char buf[128];
			snprintf(buf, sizeof(buf), "%s,%s", r->in.fields[0], r->in.fields[1]);
			r->bad_input = !parse_latlon(buf, &r->lat, &r->lon);
		} else {
			r->bad_input = !parse_latlon(r->in.fields[0], &r->lat, &r->lon);
		}
	}
	return 0;
}

static void print_header(run *rn)
{
	if (rn->json)
		return;
	if (rn->in_header != NULL) {
		for (size_t c = 0; c < rn->in_cols; c++) {
			csv_write_field(stdout, rn->in_header[c]);
			fputc(',', stdout);
		}
	} else {
		fputs(rn->reverse ? "query," : "address,", stdout);
	}
	fputs("lat,lon,formatted,confidence,status\n", stdout);
}

static int open_client(const global *g, cb_client **cl)
{
	cb_client_options o = {.timeout_ms = g->timeout_ms};
	cb_err rv = cb_client_open(cl, g->url, &o);

	if (rv != CB_OK) {
		const char *where = g->url ? g->url : getenv("CELLBATCH_URL");
		fprintf(stderr, "%s: cannot reach the server at %s: %s\n", prog,
		        where ? where : "the default address (see --url)", cb_strerror(rv));
		return rv == CB_EUNREACHABLE ? EXIT_UNREACHABLE : EXIT_SOME_FAILED;
	}
	return 0;
}

static int cmd_lookup(const global *g, int argc, char **argv, bool reverse)
{
	enum { O_JSON = 256, O_HEADER, O_CONC, O_LANG, O_TYPE, O_FILTER, O_BIAS, O_CC, O_COLUMN };
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"column", required_argument, NULL, O_COLUMN},
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
	lookup_opts lo = {.concurrency = 10000};
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
				        prog);
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
		        prog, reverse ? "LAT,LON arguments" : "TEXT arguments",
		        reverse ? "" : " (--column needs -f)", reverse ? "reverse" : "geocode");
		return EXIT_USAGE;
	}
	rn.reverse = reverse;
	rn.json = lo.json;
	rn.concurrency = lo.concurrency;
	rn.progress = lo.file != NULL && isatty(2);
	if ((rv = load_rows(&rn, &lo, argc, argv)) != 0)
		return rv;
	if ((rv = open_client(g, &cl)) != 0)
		return rv;
	if (lo.file != NULL || lo.header)
		print_header(&rn);
	rv = run_all(cl, &lo, &rn);
	cb_client_close(cl);
	fflush(stdout);
	for (size_t i = 0; i < rn.nrows; i++) {
		csv_record_free(&rn.rows[i].in);
		free(rn.rows[i].formatted);
	}
	free(rn.rows);
	if (rn.in_header != NULL) {
		csv_record h = {(char **)rn.in_header, rn.in_cols};
		csv_record_free(&h);
	}
	return rv;
}

/* ------------------------------------------------------------ stats and ping */

static int cmd_stats(const global *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"watch", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool json = false;
	double watch = 0;
	cb_client *cl;
	int o, rv;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'w':
			watch = strtod(optarg, NULL);
			if (watch <= 0) {
				fprintf(stderr, "%s: --watch needs a number of seconds\n", prog);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf(
			    "Usage: cellbatch stats [--json] [--watch SECONDS]\n"
			    "Shows the server's batch stats: calls by outcome, batches and their "
			    "sizes\n"
			    "(histogram), dedup hits, upstream submits and polls, job time and "
			    "latency\n"
			    "percentiles. --json prints the raw map (see docs/stats.md); --watch\n"
			    "refreshes every SECONDS until interrupted.\n");
			return EXIT_ALL_OK;
		default:
			fprintf(stderr, "Try 'cellbatch stats --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: stats takes no arguments\n", prog);
		return EXIT_USAGE;
	}
	if ((rv = open_client(g, &cl)) != 0)
		return rv;
	do {
		void *buf;
		size_t len, off = 0;
		msgpack_zone zone;
		msgpack_object obj;
		cb_err err = cb_stats(cl, &buf, &len);

		if (err != CB_OK) {
			fprintf(stderr, "%s: stats: %s\n", prog, cb_strerror(err));
			cb_client_close(cl);
			return err == CB_EUNREACHABLE || err == CB_ETIMEOUT ? EXIT_UNREACHABLE
			                                                    : EXIT_SOME_FAILED;
		}
		msgpack_zone_init(&zone, 4096);
		if (msgpack_unpack(buf, len, &off, &zone, &obj) == MSGPACK_UNPACK_SUCCESS) {
			if (watch > 0 && isatty(1))
				fputs("\033[H\033[2J", stdout);
			if (json) {
				json_print(stdout, &obj);
				putchar('\n');
			} else {
				stats_print_table(stdout, &obj);
			}
			fflush(stdout);
		}
		msgpack_zone_destroy(&zone);
		free(buf);
		if (watch > 0) {
			struct timespec ts = {(time_t)watch, (long)((watch - (time_t)watch) * 1e9)};
			nanosleep(&ts, NULL);
		}
	} while (watch > 0);
	cb_client_close(cl);
	return EXIT_ALL_OK;
}

static int cmd_ping(const global *g, int argc, char **argv)
{
	char version[64];
	cb_client *cl;
	double t0;
	cb_err err;
	int rv;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: cellbatch ping\nChecks that the server answers; prints its version "
		       "and the round trip.\n");
		return EXIT_ALL_OK;
	}
	if (argc > 1) {
		fprintf(stderr, "%s: ping takes no arguments\n", prog);
		return EXIT_USAGE;
	}
	if ((rv = open_client(g, &cl)) != 0)
		return rv;
	t0 = now_s();
	err = cb_ping(cl, version, sizeof(version));
	cb_client_close(cl);
	if (err != CB_OK) {
		fprintf(stderr, "%s: ping: %s\n", prog, cb_strerror(err));
		return EXIT_UNREACHABLE;
	}
	printf("cellbatchd %s answered in %.2f ms\n", version, (now_s() - t0) * 1000);
	return EXIT_ALL_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	global g = {0};
	int o;

	/* "+": stop at the command, whose own options follow it */
	while ((o = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			g.url = optarg;
			break;
		case 't':
			g.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			if (g.timeout_ms == 0) {
				fprintf(stderr, "%s: --timeout needs milliseconds\n", prog);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage_main(stdout);
			return EXIT_ALL_OK;
		case 'V':
			printf("cellbatch %s\n", cb_version());
			return EXIT_ALL_OK;
		default:
			fprintf(stderr, "Try 'cellbatch --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "geocode") == 0)
		return cmd_lookup(&g, argc, argv, false);
	if (strcmp(argv[0], "reverse") == 0)
		return cmd_lookup(&g, argc, argv, true);
	if (strcmp(argv[0], "stats") == 0)
		return cmd_stats(&g, argc, argv);
	if (strcmp(argv[0], "ping") == 0)
		return cmd_ping(&g, argc, argv);
	fprintf(stderr, "%s: unknown command '%s'\nTry 'cellbatch --help'.\n", prog, argv[0]);
	return EXIT_USAGE;
}
