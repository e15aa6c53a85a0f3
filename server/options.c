/* options.c: cellbatchd's flags — one table of names, kinds, bounds and fields; defaults; --help.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbproto.h"
#include "excel.h"
#include "log.h"
#include "options.h"
#include "optvalue.h"
#include "policy.h"
#include "service.h"
#include "tlsconf.h"
#include "wsep.h"

static char url_bufs[MAX_LISTEN][512];

/* The upstream, cache and process flags: the second half of --help. */
static void usage_rest(FILE *f)
{
	fputs("Upstream\n"
	      "  --upstream URL        Geoapify base URL (https://api.geoapify.com); only\n"
	      "                        https://, or http:// to a loopback host (a mock)\n"
	      "  --api-key-file FILE   read the API key from FILE (default: $GEOAPIFY_API_KEY)\n"
	      "  --poll-max DUR        longest pause between polls of a pending job (5s)\n"
	      "  --job-timeout DUR     give up on a job pending this long (10m)\n"
	      "  --http-timeout DUR    give up on one HTTP request after this long (30s)\n"
	      "  --max-jobs N          upstream jobs at once (16)\n"
	      "  --rate R              upstream requests per second, submits and polls (5)\n"
	      "  --burst N             requests allowed at once above the rate (5)\n"
	      "  --retries N           retries of a request after a 5xx, a connection error or a\n"
	      "                        timeout; backoff 500ms x 2^n with full jitter, capped at\n"
	      "                        30s; a Retry-After header wins (4)\n"
	      "  --retry-after-max DUR a longer Retry-After from the upstream is cut to this;\n"
	      "                        a batch waiting to retry gives its job slot back (60s)\n"
	      "  --quota-match TEXT    a 429 whose message contains TEXT (any case) may mean the\n"
	      "                        quota is exhausted (\"Quota exceeded\"; empty: never).\n"
	      "                        A 429 ends the burst for a minute, a second one halves\n"
	      "                        the rate; each is retried without counting against\n"
	      "                        --retries\n"
	      "  --quota-confirm DUR   such 429s, three or more over this long with no submit\n"
	      "                        accepted between, mean the quota is gone: QUOTA_EXCEEDED\n"
	      "                        (10s)\n"
	      "  --quota-pause DUR     then no submit for this long (paid jobs are still polled),\n"
	      "                        new uncached calls get QUOTA_EXCEEDED at once, then one\n"
	      "                        probe (5m)\n"
	      "\n"
	      "Cache\n"
	      "  --cache-entries N     answers kept in memory, least recently used go (1000000)\n"
	      "  --cache-ttl DUR       how long a result is reused (30d)\n"
	      "  --cache-negative-ttl DUR  how long a NOT_FOUND is reused (1d)\n"
	      "  --cache-db PATH       persistent cache (default: "
	      "$XDG_CACHE_HOME/cellbatch/cache.db,\n"
	      "                        else ~/.cache/cellbatch/cache.db); unusable: memory only\n"
	      "  --no-cache-db         keep the cache in memory only\n"
	      "\n"
	      "Observability\n"
	      "  --http HOST:PORT      serve a dashboard at /, /metrics (Prometheus), /healthz,\n"
	      "                        /readyz and /stats.json over HTTP, https with --tls-cert\n"
	      "                        (default: off); browsers (WebSocket): ws://HOST:PORT/\n"
	      "                        cellbatch, wss:// with TLS; a non-loopback host: as\n"
	      "                        --listen; the Excel add-in: /excel/manifest.xml\n"
	      "  --credit-batch-item PRICE  credits one item of a batch job costs (0.5)\n"
	      "  --credit-single PRICE credits one single geocode call costs (1); the credits\n"
	      "                        saved are one single call per cell less what was spent\n"
	      "\n"
	      "Process\n"
	      "  --drain-timeout DUR   on SIGTERM/SIGINT, wait this long for upstream jobs (30s)\n"
	      "  --allow-core-dumps    let a crash dump core (off: a core holds the API key)\n"
	      "  --log-level LEVEL     error, warn, info or debug (info)\n"
	      "  -h, --help            show this help and exit\n"
	      "  -V, --version         show the version and exit\n"
	      "\n"
	      "DUR is a number with an optional unit: ms (the default), s, m, h or d.\n"
	      "The API key is never written to logs, stats or replies.\n",
	      f);
}

static void usage(FILE *f)
{
	char def[512];

	fprintf(
	    f,
	    "Usage: cellbatchd [OPTION]...\n"
	    "Collects per-cell geocoding calls arriving over nng into batch windows, submits\n"
	    "each batch once to the Geoapify batch API, polls the job, and answers every cell.\n"
	    "\n"
	    "Listening\n"
	    "  --listen URL          address to serve; repeatable (default: $CELLBATCH_URL, else\n"
	    "                        %s). ipc:// sockets get mode 0600;\n"
	    "                        a bare port means tcp://127.0.0.1:PORT; a non-loopback\n"
	    "                        address needs TLS and client authentication (certificates\n"
	    "                        or tokens), else --insecure-listen\n"
	    "  --insecure-listen     serve non-loopback addresses in clear text (warns hourly)\n"
	    "  --tls-cert FILE       PEM certificate (chain) for tls+tcp:// and --http (https,\n"
	    "                        wss); with --tls-key FILE, its unencrypted PEM key, which\n"
	    "                        others must not be able to read\n"
	    "  --tls-ca FILE         PEM CAs that clients' certificates are checked against\n"
	    "  --tls-client-auth required|optional  whether a client must show a certificate\n"
	    "                        that --tls-ca trusts (with --tls-ca: required); optional\n"
	    "                        asks but lets any client in, so it is not authentication\n"
	    "  --auth-token-file FILE  every request but ping needs one of FILE's tokens (one a\n"
	    "                        line, '#' comments) as auth, else UNAUTHORIZED\n"
	    "  --ws-origin ORIGIN    a web page (https://host[:port]) allowed to use the\n"
	    "                        WebSocket of --http; repeatable (default: http://HOST:PORT)\n"
	    "  --public-url URL      where clients reach --http (behind a proxy, say:\n"
	    "                        https://cells.example.com): the add-in's manifest names\n"
	    "                        it, and its origin may use the WebSocket (default: none)\n"
	    "  --max-pending N       calls queued or upstream before new ones get BUSY (100000)\n"
	    "  --max-message BYTES   largest request accepted; a larger one gets BAD_REQUEST\n"
	    "                        (%zu: a multi of 10,000 calls at the protocol's limits)\n"
	    "  --max-pending-per-conn N  replies a connection that reads none may have\n"
	    "                        waiting; its further requests are dropped (1000)\n"
	    "  --send-timeout DUR    close a connection whose reply could not be sent for this\n"
	    "                        long: its client reads nothing (10s)\n"
	    "  --max-conns N         connections at once; more are closed on arrival (default:\n"
	    "                        the descriptor limit, raised to its hard limit, less room\n"
	    "                        for upstream connections and the cache)\n"
	    "  --call-timeout DUR    answer TIMEOUT when a call has no result after this long,\n"
	    "                        unless the call sets deadline_ms (60s)\n"
	    "\n"
	    "Batching\n"
	    "  --batch-max N         unique items per upstream batch, at most 1000 (1000)\n"
	    "  --batch-wait DUR      flush a batch this long after its first call (100ms)\n"
	    "  --batch-idle DUR      flush a batch when no call arrived for this long (5ms)\n"
	    "\n",
	    cbp_default_url(def, sizeof(def)), (size_t)CB_MAX_BYTES_DEFAULT);
	service_usage(f);
	usage_rest(f);
}

/* $XDG_CACHE_HOME/cellbatch/cache.db, else ~/.cache/cellbatch/cache.db, else none. */
static const char *default_cache_db(void)
{
	static char path[4096];
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		snprintf(path, sizeof(path), "%s/cellbatch/cache.db", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(path, sizeof(path), "%s/.cache/cellbatch/cache.db", home);
	else
		return NULL;
	return path;
}

typedef enum opt_kind {
	K_COUNT,    /* an integer in [min, max] */
	K_DURATION, /* a DUR in [min, max] milliseconds */
	K_STRING,   /* kept as given */
	K_SPECIAL,  /* handled by name in special() */
} opt_kind;

typedef struct opt_spec {
	const char *name;
	opt_kind kind;
	size_t off; /* of the uint64_t or const char * field in config */
	uint64_t min, max;
} opt_spec;

#define F(field) offsetof(config, field)

/* Every flag with an argument; getopt's index is the row. */
static const opt_spec specs[] = {
    {"listen", K_SPECIAL, 0, 0, 0},
    {"max-pending", K_COUNT, F(max_pending), 1, UINT64_MAX},
    {"max-message", K_COUNT, F(max_message), 64, UINT64_MAX},
    {"batch-max", K_COUNT, F(batch_max), 1, 1000},
    {"batch-wait", K_DURATION, F(batch_wait_ms), 0, UINT64_MAX},
    {"batch-idle", K_DURATION, F(batch_idle_ms), 0, UINT64_MAX},
    {"upstream", K_STRING, F(upstream), 0, 0},
    {"api-key-file", K_SPECIAL, 0, 0, 0},
    {"poll-max", K_DURATION, F(poll_max_ms), 1, UINT64_MAX},
    {"job-timeout", K_DURATION, F(job_timeout_ms), 0, UINT64_MAX},
    {"http-timeout", K_DURATION, F(http_timeout_ms), 1, UINT64_MAX},
    {"drain-timeout", K_DURATION, F(drain_timeout_ms), 0, UINT64_MAX},
    {"log-level", K_SPECIAL, 0, 0, 0},
    {"max-jobs", K_COUNT, F(max_jobs), 1, 10000},
    {"rate", K_SPECIAL, 0, 0, 0},
    {"burst", K_COUNT, F(burst), 1, 100000},
    {"retries", K_COUNT, F(retries), 0, 100},
    {"quota-match", K_STRING, F(quota_match), 0, 0},
    {"quota-confirm", K_DURATION, F(quota_confirm_ms), 0, UINT64_MAX},
    {"quota-pause", K_DURATION, F(quota_pause_ms), 1, UINT64_MAX},
    {"retry-after-max", K_DURATION, F(retry_after_max_ms), 0, UINT64_MAX},
    {"call-timeout", K_DURATION, F(call_timeout_ms), 1, UINT64_MAX},
    {"cache-entries", K_COUNT, F(cache_entries), 1, UINT64_MAX},
    {"cache-ttl", K_DURATION, F(cache_ttl_ms), 0, UINT64_MAX},
    {"cache-negative-ttl", K_DURATION, F(cache_neg_ttl_ms), 0, UINT64_MAX},
    {"cache-db", K_SPECIAL, 0, 0, 0},
    {"max-pending-per-conn", K_COUNT, F(max_pending_per_conn), 1, 1000000},
    {"send-timeout", K_DURATION, F(send_timeout_ms), 1, INT32_MAX},
    {"max-conns", K_COUNT, F(max_conns), 1, 10000000},
    {"http", K_SPECIAL, 0, 0, 0},
    {"credit-batch-item", K_SPECIAL, 0, 0, 0},
    {"credit-single", K_SPECIAL, 0, 0, 0},
    {"auth-token-file", K_STRING, F(auth_token_file), 0, 0},
    {"ws-origin", K_SPECIAL, 0, 0, 0},
    {"tls-cert", K_STRING, F(tls_cert), 0, 0},
    {"tls-key", K_STRING, F(tls_key), 0, 0},
    {"tls-ca", K_STRING, F(tls_ca), 0, 0},
    {"tls-client-auth", K_SPECIAL, 0, 0, 0},
    {"public-url", K_SPECIAL, 0, 0, 0},
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

/* getopt_long's table, built from specs; val is the row + 256. */
static struct option long_opts[NSPECS + 6 + SERVICE_NOPTS];

static void build_long_opts(void)
{
	size_t i;

	for (i = 0; i < NSPECS; i++)
		long_opts[i] =
		    (struct option){specs[i].name, required_argument, NULL, (int)i + 256};
	long_opts[i++] = (struct option){"no-cache-db", no_argument, NULL, 'n'};
	long_opts[i++] = (struct option){"insecure-listen", no_argument, NULL, 'I'};
	long_opts[i++] = (struct option){"allow-core-dumps", no_argument, NULL, 'C'};
	i += (size_t)service_long_opts(long_opts + i);
	long_opts[i++] = (struct option){"help", no_argument, NULL, 'h'};
	long_opts[i++] = (struct option){"version", no_argument, NULL, 'V'};
	long_opts[i] = (struct option){NULL, 0, NULL, 0};
}

/* --http's HOST:PORT, a port 1-65535; whether the host may be served is secure.c's question. */
static int http_addr_check(const char *arg)
{
	const char *colon = strrchr(arg, ':');
	uint64_t port;

	if (colon == NULL || colon == arg || strlen(arg) > 256 ||
	    parse_count(colon + 1, &port) != 0 || port < 1 || port > 65535)
		return -1;
	return 0;
}

/* The flags a table row cannot say; returns 0, or -1 for an invalid value. */
static int special(const char *name, const char *arg, config *c, const char **key_file)
{
	if (strcmp(name, "listen") == 0) {
		if (c->nlisten == MAX_LISTEN) {
			fprintf(stderr, "cellbatchd: at most %d --listen\n", MAX_LISTEN);
			return -1;
		}
		c->listen[c->nlisten] =
		    cbp_url_normalize(arg, url_bufs[c->nlisten], sizeof(url_bufs[0]));
		c->nlisten++;
	} else if (strcmp(name, "api-key-file") == 0) {
		*key_file = arg;
	} else if (strcmp(name, "log-level") == 0) {
		return log_level_parse(arg, &log_threshold);
	} else if (strcmp(name, "rate") == 0) {
		char *end;
		c->rate = strtod(arg, &end);
		return (*end != '\0' || !(c->rate > 0)) ? -1 : 0;
	} else if (strcmp(name, "cache-db") == 0) {
		c->cache_db = arg;
	} else if (strcmp(name, "http") == 0) {
		c->http = arg;
		return http_addr_check(arg);
	} else if (strcmp(name, "public-url") == 0) {
		c->public_url = arg;
		return excel_public_url_valid(arg) ? 0 : -1;
	} else if (strcmp(name, "ws-origin") == 0) {
		if (c->nws_origin == MAX_WS_ORIGINS || !wsep_origin_valid(arg))
			return -1;
		c->ws_origin[c->nws_origin++] = arg;
	} else if (strcmp(name, "tls-client-auth") == 0) {
		tls_client_auth a;
		if (tlsconf_parse_auth(arg, &a) != 0)
			return -1;
		c->tls_client_auth = (int)a;
	} else if (strncmp(name, "credit-", 7) == 0) {
		return parse_price(arg, strcmp(name, "credit-single") == 0 ? &c->credit_single
		                                                           : &c->credit_batch_item);
	}
	return 0;
}

/* Applies one flag of the table; -1 for an invalid value. */
static int apply(const opt_spec *o, const char *arg, config *c, const char **key_file)
{
	char *field = (char *)c + o->off;
	uint64_t v;

	switch (o->kind) {
	case K_COUNT:
	case K_DURATION:
		if ((o->kind == K_COUNT ? parse_count(arg, &v) : parse_duration(arg, &v)) != 0 ||
		    v < o->min || v > o->max)
			return -1;
		memcpy(field, &v, sizeof(v));
		return 0;
	case K_STRING:
		memcpy(field, &arg, sizeof(arg));
		return 0;
	default:
		return special(o->name, arg, c, key_file);
	}
}

static void set_defaults(config *c)
{
	*c = (config){
	    .max_pending = 100000,
	    .batch_max = 1000,
	    .batch_wait_ms = 100,
	    .batch_idle_ms = 5,
	    .poll_max_ms = 5000,
	    .job_timeout_ms = 600000,
	    .drain_timeout_ms = 30000,
	    .http_timeout_ms = 30000,
	    .max_message = CB_MAX_BYTES_DEFAULT,
	    .upstream = "https://api.geoapify.com",
	    .call_timeout_ms = 60000,
	    .max_jobs = 16,
	    .rate = 5,
	    .burst = 5,
	    .retries = 4,
	    .quota_match = "Quota exceeded",
	    .quota_confirm_ms = 10000,
	    .quota_pause_ms = 300000,
	    .retry_after_max_ms = 60000,
	    .cache_entries = 1000000,
	    .cache_ttl_ms = 30ull * 86400000,
	    .cache_neg_ttl_ms = 86400000,
	    .max_pending_per_conn = 1000,
	    .send_timeout_ms = 10000,
	    .credit_batch_item = 0.5,
	    .credit_single = 1,
	    .svc.require_api_key = -1,
	};
}

/* What the flags leave open: the listen address, the cache path, the API key. */
static int finish(config *c, bool no_db, const char *key_file)
{
	if (c->nlisten == 0) {
		c->listen[0] = cbp_default_url(url_bufs[0], sizeof(url_bufs[0]));
		c->nlisten = 1;
	}
	if (!no_db && c->cache_db == NULL)
		c->cache_db = default_cache_db();
	if (no_db)
		c->cache_db = NULL;
	return service_finish(&c->svc, c->upstream, key_file, &c->api_key);
}

int options_parse(int argc, char **argv, config *c)
{
	const char *key_file = NULL;
	bool no_db = false;
	int o, rv;

	set_defaults(c);
	build_long_opts();
	while ((o = getopt_long(argc, argv, "hV", long_opts, NULL)) != -1) {
		if (o == 'h' || o == 'V') {
			if (o == 'h')
				usage(stdout);
			else
				printf("cellbatchd %s\n", CB_VERSION);
			return 1;
		}
		if (service_option(o, optarg, &c->svc) == 0)
			continue;
		if (o == 'n' || o == 'I' || o == 'C') {
			*(o == 'n'   ? &no_db
			  : o == 'I' ? &c->insecure_listen
			             : &c->allow_core_dumps) = true;
			continue;
		}
		if (o < 256 || o >= 256 + (int)NSPECS) {
			fprintf(stderr, "Try 'cellbatchd --help'.\n");
			return 2;
		}
		if (strcmp(specs[o - 256].name, "cache-db") == 0)
			no_db = false;
		if ((rv = apply(&specs[o - 256], optarg, c, &key_file)) == -2)
			return 2; /* said why */
		if (rv != 0) {
			fprintf(stderr, "cellbatchd: invalid value for --%s: '%s'\n",
			        specs[o - 256].name, optarg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cellbatchd: unexpected argument '%s'\nTry 'cellbatchd --help'.\n",
		        argv[optind]);
		return 2;
	}
	return finish(c, no_db, key_file);
}
