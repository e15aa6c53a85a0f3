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
#include "rurl.h"
#include "service.h"
#include "tlsconf.h"
#include "usage.h"
#include "wsep.h"

static char url_bufs[MAX_LISTEN][512];

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
    {"redis", K_SPECIAL, 0, 0, 0},
    {"redis-password-file", K_STRING, F(redis_password_file), 0, 0},
    {"redis-timeout", K_DURATION, F(redis_timeout_ms), 1, 600000},
    {"fleet-size", K_COUNT, F(fleet_size), 1, 1000},
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
	} else if (strcmp(name, "redis") == 0) {
		char why[200];
		c->redis = arg;
		if (rurl_check(arg, why, sizeof(why)) != 0) {
			fprintf(stderr, "cellbatchd: --redis %s: %s\n", arg, why);
			return -2;
		}
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
	    .redis_timeout_ms = 1000,
	    .fleet_size = 1,
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
				options_usage(stdout);
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
