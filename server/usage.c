/* usage.c: cellbatchd's --help text (options.c parses the flags it describes). */
#include <stdio.h>

#include "cbproto.h"
#include "service.h"
#include "usage.h"

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
	      "\n",
	      f);
}

/* Observability, the fleet and the process: the end of --help. */
static void usage_tail(FILE *f)
{
	fputs("Observability\n"
	      "  --http HOST:PORT      serve a dashboard at /, /metrics (Prometheus), /healthz,\n"
	      "                        /readyz and /stats.json over HTTP, https with --tls-cert\n"
	      "                        (default: off); browsers (WebSocket): ws://HOST:PORT/\n"
	      "                        cellbatch, wss:// with TLS; a non-loopback host: as\n"
	      "                        --listen; the Excel add-in: /excel/manifest.xml, and\n"
	      "                        the fleet's public URLs for it: /fleet.json\n"
	      "  --credit-batch-item PRICE  credits one item of a batch job costs (0.5)\n"
	      "  --credit-single PRICE credits one single geocode call costs (1); the credits\n"
	      "                        saved are one single call per cell less what was spent\n"
	      "\n"
	      "Fleet (several cellbatchd sharing one API key)\n"
	      "  --redis URL           share the rate limit, the cache and the items in flight\n"
	      "                        through Redis: redis://HOST[:PORT][/DB] or\n"
	      "                        unix:///PATH[?db=N] (default: off, nothing shared)\n"
	      "  --redis-password-file FILE  AUTH with the first line of FILE\n"
	      "  --redis-timeout DUR   a Redis command unanswered this long drops the connection\n"
	      "                        (1s)\n"
	      "  --fleet-size N        instances sharing the API key: while Redis is unreachable\n"
	      "                        each sends at most --rate / N a second, rounded down to\n"
	      "                        whole requests when that is 1 or more (1)\n"
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

void options_usage(FILE *f)
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
	    "                        WebSocket of --http; repeatable (default: http://HOST:PORT,\n"
	    "                        --public-url's, and with --redis every instance's)\n"
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
	usage_tail(f);
}
