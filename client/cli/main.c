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

#include "cbproto.h"
#include "cellbatch.h"
#include "csv.h"
#include "stats_view.h"
#include "cli.h"

const char *const cli_prog = "cellbatch";

static void usage_main(FILE *f)
{
	fprintf(f,
	        "Usage: cellbatch [--url URL] [--timeout MS] [--token-file FILE]\n"
	        "                 COMMAND [ARGS]...\n"
	        "Geocodes through a cellbatchd server, which batches every caller's lookups.\n"
	        "\n"
	        "Commands\n"
	        "  geocode TEXT...          one line per answer\n"
	        "  geocode -f FILE|-        a file of addresses (or a CSV column), all at once\n"
	        "  reverse LAT,LON...       addresses for coordinates (-f FILE of LAT,LON lines)\n"
	        "  stats                    the server's batch stats (--json, --fleet, --watch S)\n"
	        "  ping                     check that the server answers\n"
	        "\n"
	        "Options\n"
	        "  --url URL       server address (default: $CELLBATCH_URL, else\n"
	        "                  ipc://$XDG_RUNTIME_DIR/cellbatch.sock, else\n"
	        "                  ipc:///tmp/cellbatch-$UID/cellbatch.sock); 5555 means "
	        "tcp://127.0.0.1:5555\n"
	        "  --token-file FILE  the token for a server with --auth-token-file: FILE's\n"
	        "                  first line that is not blank or a '#' comment (default:\n"
	        "                  $CELLBATCH_TOKEN)\n"
	        "  --timeout MS    per-call timeout in milliseconds (60000)\n"
	        "  tls+tcp:// and wss:// URLs trust the CAs in $CELLBATCH_TLS_CA (default: the\n"
	        "                  system's); $CELLBATCH_TLS_CERT and $CELLBATCH_TLS_KEY give a\n"
	        "                  client certificate (PEM files)\n"
	        "  -h, --help      show this help; COMMAND --help shows the command's\n"
	        "  -V, --version   show the version\n"
	        "\n"
	        "Exit status: 0 all answered ok, 1 some cells failed, 2 usage error, 3 server "
	        "unreachable.\n");
}

/* --token-file's token (the server's file format: blanks trimmed, '#' comments); NULL said why. */
static char *read_token(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[CB_AUTH_MAX + 8], *tok = NULL;

	if (f == NULL) {
		fprintf(stderr, "%s: --token-file %s: %s\n", cli_prog, path, strerror(errno));
		return NULL;
	}
	while (tok == NULL && fgets(line, sizeof(line), f) != NULL) {
		char *b = line + strspn(line, " \t"), *e = b + strlen(b);
		while (e > b && strchr(" \t\r\n", e[-1]) != NULL)
			e--;
		if (e > b && *b != '#')
			tok = strndup(b, (size_t)(e - b));
	}
	fclose(f);
	explicit_bzero(line, sizeof(line));
	if (tok == NULL)
		fprintf(stderr, "%s: --token-file %s: no token in it\n", cli_prog, path);
	return tok;
}

/* Why the default address was refused, when it was its directory (another user's, or open). */
static void say_rundir(const global *g)
{
	char url[1024], why[256];

	if (g->url == NULL &&
	    cbp_rundir_check(cbp_default_url(url, sizeof(url)), 0, why, sizeof(why)) != 0)
		fprintf(stderr, "%s: refused: %s\n", cli_prog, why);
}

int open_client(const global *g, cb_client **cl)
{
	cb_client_options o = CB_CLIENT_OPTIONS_INIT(.timeout_ms = g->timeout_ms);
	char *tok = NULL, url[1024];
	const char *from;
	cb_err rv;

	if (cli_address(g, url, sizeof(url), &from) != 0)
		return EXIT_USAGE;
	if (g->token_file != NULL && (o.token = tok = read_token(g->token_file)) == NULL)
		return EXIT_USAGE;
	rv = cb_client_open(cl, url, &o);
	if (tok != NULL)
		explicit_bzero(tok, strlen(tok));
	free(tok);
	if (rv != CB_OK) {
		say_rundir(g);
		fprintf(stderr, "%s: cannot reach the server at %s (%s address%s): %s\n", cli_prog,
		        url, from, g->url ? "" : "; see --url", cb_strerror(rv));
		return rv == CB_EUNREACHABLE ? EXIT_UNREACHABLE : EXIT_SOME_FAILED;
	}
	return 0;
}

/* ------------------------------------------------------------ stats and ping */

/* One stats map as fetched: the buffer its strings point into, and when it came. */
typedef struct snapshot {
	void *buf;
	msgpack_zone zone;
	msgpack_object obj;
	double t;
	bool ok;
} snapshot;

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void snapshot_free(snapshot *s)
{
	if (s->buf != NULL)
		msgpack_zone_destroy(&s->zone);
	cb_free(s->buf);
	s->buf = NULL;
	s->ok = false;
}

/* Fetches one map into s (empty); on failure says why and returns the exit status. */
static int snapshot_take(cb_client *cl, snapshot *s)
{
	size_t len, off = 0;
	cb_err err = cb_stats(cl, &s->buf, &len);

	if (err != CB_OK) {
		s->buf = NULL;
		fprintf(stderr, "%s: stats: %s\n", cli_prog, cb_strerror(err));
		return err == CB_EUNREACHABLE || err == CB_ETIMEOUT ? EXIT_UNREACHABLE
		                                                    : EXIT_SOME_FAILED;
	}
	s->t = mono_s();
	msgpack_zone_init(&s->zone, 4096);
	s->ok = msgpack_unpack(s->buf, len, &off, &s->zone, &s->obj) == MSGPACK_UNPACK_SUCCESS;
	return EXIT_ALL_OK;
}

/* Prints the stats once, or every watch seconds with rates over each interval. */
static int stats_loop(cb_client *cl, bool json, bool fleet, double watch)
{
	snapshot prev = {0}, cur = {0};
	int rv;

	do {
		if ((rv = snapshot_take(cl, &cur)) != EXIT_ALL_OK)
			break;
		if (cur.ok && watch > 0 && isatty(1))
			fputs("\033[H\033[2J", stdout);
		if (cur.ok && json) {
			json_print(stdout, &cur.obj);
			putchar('\n');
		} else if (cur.ok && fleet) {
			stats_print_fleet(stdout, &cur.obj);
		} else if (cur.ok) {
			stats_print_table(stdout, &cur.obj, prev.ok ? &prev.obj : NULL,
			                  cur.t - prev.t);
		}
		fflush(stdout);
		snapshot_free(&prev);
		prev = cur;
		cur = (snapshot){0};
		if (watch > 0) {
			struct timespec ts = {(time_t)watch, (long)((watch - (time_t)watch) * 1e9)};
			nanosleep(&ts, NULL);
		}
	} while (watch > 0);
	snapshot_free(&prev);
	return rv;
}

static int cmd_stats(const global *g, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"watch", required_argument, NULL, 'w'},
	    {"fleet", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool json = false, fleet = false;
	double watch = 0;
	cb_client *cl;
	int o, rv;

	optind = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			json = true;
			break;
		case 'f':
			fleet = true;
			break;
		case 'w':
			watch = strtod(optarg, NULL);
			if (watch <= 0) {
				fprintf(stderr, "%s: --watch needs a number of seconds\n",
				        cli_prog);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf(
			    "Usage: cellbatch stats [--json] [--fleet] [--watch SECONDS]\n"
			    "Shows the server's batch stats: calls by outcome; rates (calls/s, "
			    "cache\n"
			    "hit ratio, error %%, upstream requests/s) since the start, or under "
			    "--watch\n"
			    "over each interval; the credits spent upstream against one call per "
			    "cell;\n"
			    "batches and their sizes (histogram), dedup hits, upstream submits "
			    "and\n"
			    "polls, job time and latency percentiles. --json prints the raw map "
			    "(see\n"
			    "docs/stats.md); --watch refreshes every SECONDS until interrupted.\n"
			    "--fleet shows every instance that reported to the server's Redis in\n"
			    "the last minute (--redis, docs/fleet.md) and the fleet's totals.\n");
			return EXIT_ALL_OK;
		default:
			fprintf(stderr, "Try 'cellbatch stats --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: stats takes no arguments\n", cli_prog);
		return EXIT_USAGE;
	}
	if ((rv = open_client(g, &cl)) != 0)
		return rv;
	rv = stats_loop(cl, json, fleet, watch);
	cb_client_close(cl);
	return rv;
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
		fprintf(stderr, "%s: ping takes no arguments\n", cli_prog);
		return EXIT_USAGE;
	}
	if ((rv = open_client(g, &cl)) != 0)
		return rv;
	t0 = now_s();
	err = cb_ping(cl, version, sizeof(version));
	cb_client_close(cl);
	if (err != CB_OK) {
		fprintf(stderr, "%s: ping: %s\n", cli_prog, cb_strerror(err));
		return EXIT_UNREACHABLE;
	}
	printf("cellbatchd %s answered in %.2f ms\n", version, (now_s() - t0) * 1000);
	return EXIT_ALL_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},        {"timeout", required_argument, NULL, 't'},
	    {"token-file", required_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},          {NULL, 0, NULL, 0},
	};
	global g = {0};
	int o;

	/* "+": stop at the command, whose own options follow it */
	while ((o = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			g.url = optarg;
			break;
		case 'k':
			g.token_file = optarg;
			break;
		case 't':
			g.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			if (g.timeout_ms == 0) {
				fprintf(stderr, "%s: --timeout needs milliseconds\n", cli_prog);
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
	fprintf(stderr, "%s: unknown command '%s'\nTry 'cellbatch --help'.\n", cli_prog, argv[0]);
	return EXIT_USAGE;
}
