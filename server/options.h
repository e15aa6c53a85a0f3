/* options.h: cellbatchd's flags — the config they fill, their defaults and --help. */
#ifndef CB_OPTIONS_H
#define CB_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service.h"

#define MAX_LISTEN 16
/* --ws-origin given at most this often */
#define MAX_WS_ORIGINS 16

typedef struct config {
	const char *listen[MAX_LISTEN];
	int nlisten;
	uint64_t max_pending;   /* cells queued or upstream */
	uint64_t batch_max;     /* unique items per upstream batch */
	uint64_t batch_wait_ms; /* since a batch's first item */
	uint64_t batch_idle_ms; /* since a batch's last item */
	uint64_t poll_max_ms;
	uint64_t job_timeout_ms;
	uint64_t drain_timeout_ms;
	uint64_t http_timeout_ms;
	uint64_t call_timeout_ms; /* default deadline of a call */
	uint64_t max_jobs;        /* upstream jobs at once */
	double rate;              /* upstream requests per second (submits and polls) */
	uint64_t burst;
	uint64_t retries;        /* per upstream request, for transient failures */
	const char *quota_match; /* a 429 whose message contains this may mean the quota is gone */
	uint64_t retry_after_max_ms;               /* Retry-After beyond this is cut to it */
	uint64_t quota_confirm_ms, quota_pause_ms; /* upstream/quota.h */
	uint64_t cache_entries;
	uint64_t cache_ttl_ms, cache_neg_ttl_ms;
	const char *cache_db; /* NULL: --no-cache-db */
	uint64_t max_message;
	uint64_t max_pending_per_conn; /* unread replies of a connection that reads none */
	uint64_t send_timeout_ms;      /* a reply not sent by then closes its connection */
	uint64_t max_conns;            /* 0 until derived from RLIMIT_NOFILE */
	const char *http;              /* --http HOST:PORT (loopback); NULL: no HTTP listener */
	const char *public_url;        /* --public-url: --http as clients reach it; NULL: none */
	double credit_batch_item;      /* credits per item of a batch job (Geoapify: 0.5) */
	double credit_single;          /* credits per single geocode call (Geoapify: 1) */
	const char *auth_token_file;   /* --auth-token-file; NULL: no token asked for */
	bool insecure_listen;          /* --insecure-listen: non-loopback without TLS */
	bool allow_core_dumps;         /* --allow-core-dumps */
	service_cfg svc;               /* --log-file, --require-api-key, --check-config */
	const char *upstream;          /* base URL, no trailing slash */
	char *api_key;                 /* owned; never logged */

	const char *redis;               /* --redis URL; NULL: no fleet, nothing shared */
	const char *redis_password_file; /* --redis-password-file; NULL: no AUTH */
	uint64_t redis_timeout_ms;       /* each Redis command's deadline */
	uint64_t fleet_size;             /* instances sharing the API key: the fallback's share */

	const char *ws_origin[MAX_WS_ORIGINS]; /* --ws-origin as given; none: the server's own */
	int nws_origin;

	/* TLS (socket/tlsconf.h): for tls+tcp:// listeners and --http (https, wss); NULL: none */
	const char *tls_cert, *tls_key, *tls_ca;
	int tls_client_auth; /* a tls_client_auth: --tls-client-auth, required with --tls-ca */
} config;

/*
 * Fills c from the command line and the environment (CELLBATCH_URL,
 * GEOAPIFY_API_KEY, XDG_CACHE_HOME, HOME). Returns 0; 1 when the process
 * should exit 0 now (--help, --version, printed); 2 on a usage error (printed
 * to stderr). c->listen points into static storage; c->api_key is owned by c.
 */
int options_parse(int argc, char **argv, config *c);

#endif
