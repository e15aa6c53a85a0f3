/* main.c: cellbatchd — flags, signals, wiring of ingress, batcher and upstream, and the shutdown
 * order. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "cache.h"
#include "dispatch.h"
#include "exitguard.h"
#include "fdlimit.h"
#include "jarena.h"
#include "job.h"
#include "log.h"
#include "server.h"

#define SHUTDOWN_GRACE_MS 200 /* lets the last replies leave the pipes before nng_close */

static char url_bufs[MAX_LISTEN][512];

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
	    "                        a bare port means tcp://127.0.0.1:PORT\n"
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
	    "\n"
	    "Upstream\n"
	    "  --upstream URL        Geoapify base URL (https://api.geoapify.com)\n"
	    "  --api-key-file FILE   read the API key from FILE (default: $GEOAPIFY_API_KEY)\n"
	    "  --poll-max DUR        longest pause between polls of a pending job (5s)\n"
	    "  --job-timeout DUR     give up on a job pending this long (10m)\n"
	    "  --http-timeout DUR    give up on one HTTP request after this long (30s)\n"
	    "  --max-jobs N          upstream jobs at once (4)\n"
	    "  --rate R              upstream requests per second, submits and polls (5)\n"
	    "  --burst N             requests allowed at once above the rate (5)\n"
	    "  --retries N           retries of a request after 429, 5xx, a connection error\n"
	    "                        or a timeout; backoff 500ms x 2^n with full jitter, capped\n"
	    "                        at 30s; a Retry-After header wins (4)\n"
	    "  --quota-match TEXT    a 429 whose message contains TEXT (any case) means the\n"
	    "                        quota is exhausted: QUOTA_EXCEEDED at once, no retry\n"
	    "                        (\"Quota exceeded\"; empty: never)\n"
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
	    "Process\n"
	    "  --drain-timeout DUR   on SIGTERM/SIGINT, wait this long for upstream jobs (30s)\n"
	    "  --log-level LEVEL     error, warn, info or debug (info)\n"
	    "  -h, --help            show this help and exit\n"
	    "  -V, --version         show the version and exit\n"
	    "\n"
	    "DUR is a number with an optional unit: ms (the default), s, m, h or d.\n"
	    "The API key is never written to logs, stats or replies.\n",
	    cb_default_url(def, sizeof(def)), (size_t)CB_MAX_BYTES_DEFAULT);
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

/* "250", "250ms", "5s", "10m", "1h", "30d" -> milliseconds. */
static int parse_duration(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == '\0' || strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else if (strcmp(end, "d") == 0)
		mul = 86400000;
	else
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	*out = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0') ? -1 : 0;
}

/* The first line of FILE, trimmed; NULL with a message on failure. */
static char *read_key_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "cellbatchd: --api-key-file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
	return strdup(line);
}

enum {
	OPT_LISTEN = 256,
	OPT_MAX_PENDING,
	OPT_MAX_MESSAGE,
	OPT_BATCH_MAX,
	OPT_BATCH_WAIT,
	OPT_BATCH_IDLE,
	OPT_UPSTREAM,
	OPT_KEY_FILE,
	OPT_POLL_MAX,
	OPT_JOB_TIMEOUT,
	OPT_HTTP_TIMEOUT,
	OPT_DRAIN_TIMEOUT,
	OPT_LOG_LEVEL,
	OPT_MAX_JOBS,
	OPT_RATE,
	OPT_BURST,
	OPT_RETRIES,
	OPT_QUOTA_MATCH,
	OPT_CALL_TIMEOUT,
	OPT_CACHE_ENTRIES,
	OPT_CACHE_TTL,
	OPT_CACHE_NEG_TTL,
	OPT_CACHE_DB,
	OPT_NO_CACHE_DB,
	OPT_MAX_PENDING_PER_CONN,
	OPT_SEND_TIMEOUT,
	OPT_MAX_CONNS,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"max-pending", required_argument, NULL, OPT_MAX_PENDING},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"batch-max", required_argument, NULL, OPT_BATCH_MAX},
    {"batch-wait", required_argument, NULL, OPT_BATCH_WAIT},
    {"batch-idle", required_argument, NULL, OPT_BATCH_IDLE},
    {"upstream", required_argument, NULL, OPT_UPSTREAM},
    {"api-key-file", required_argument, NULL, OPT_KEY_FILE},
    {"poll-max", required_argument, NULL, OPT_POLL_MAX},
    {"job-timeout", required_argument, NULL, OPT_JOB_TIMEOUT},
    {"http-timeout", required_argument, NULL, OPT_HTTP_TIMEOUT},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"max-jobs", required_argument, NULL, OPT_MAX_JOBS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"burst", required_argument, NULL, OPT_BURST},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"quota-match", required_argument, NULL, OPT_QUOTA_MATCH},
    {"call-timeout", required_argument, NULL, OPT_CALL_TIMEOUT},
    {"cache-entries", required_argument, NULL, OPT_CACHE_ENTRIES},
    {"cache-ttl", required_argument, NULL, OPT_CACHE_TTL},
    {"cache-negative-ttl", required_argument, NULL, OPT_CACHE_NEG_TTL},
    {"cache-db", required_argument, NULL, OPT_CACHE_DB},
    {"no-cache-db", no_argument, NULL, OPT_NO_CACHE_DB},
    {"max-pending-per-conn", required_argument, NULL, OPT_MAX_PENDING_PER_CONN},
    {"send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Returns 0, 1 for "exit 0 now" (help, version), or 2 for a usage error. */
static int parse_args(int argc, char **argv, config *c)
{
	const char *key_file = NULL;
	bool no_db = false;
	uint64_t v;
	int o;

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
	    .max_jobs = 4,
	    .rate = 5,
	    .burst = 5,
	    .retries = 4,
	    .quota_match = "Quota exceeded",
	    .cache_entries = 1000000,
	    .cache_ttl_ms = 30ull * 86400000,
	    .cache_neg_ttl_ms = 86400000,
	    .max_pending_per_conn = 1000,
	    .send_timeout_ms = 10000,
	};
	while ((o = getopt_long(argc, argv, "hV", long_opts, NULL)) != -1) {
		int bad = 0;
		switch (o) {
		case OPT_LISTEN:
			if (c->nlisten == MAX_LISTEN) {
				fprintf(stderr, "cellbatchd: at most %d --listen\n", MAX_LISTEN);
				return 2;
			}
			c->listen[c->nlisten] =
			    cb_url_normalize(optarg, url_bufs[c->nlisten], sizeof(url_bufs[0]));
			c->nlisten++;
			break;
		case OPT_MAX_PENDING:
			bad = parse_count(optarg, &c->max_pending) || c->max_pending == 0;
			break;
		case OPT_MAX_MESSAGE:
			bad = parse_count(optarg, &v) || v < 64;
			c->max_message = v;
			break;
		case OPT_BATCH_MAX:
			bad = parse_count(optarg, &v) || v == 0 || v > 1000;
			c->batch_max = (uint32_t)v;
			break;
		case OPT_BATCH_WAIT:
			bad = parse_duration(optarg, &c->batch_wait_ms);
			break;
		case OPT_BATCH_IDLE:
			bad = parse_duration(optarg, &c->batch_idle_ms);
			break;
		case OPT_UPSTREAM:
			c->upstream = optarg;
			break;
		case OPT_KEY_FILE:
			key_file = optarg;
			break;
		case OPT_POLL_MAX:
			bad = parse_duration(optarg, &c->poll_max_ms) || c->poll_max_ms == 0;
			break;
		case OPT_JOB_TIMEOUT:
			bad = parse_duration(optarg, &c->job_timeout_ms);
			break;
		case OPT_HTTP_TIMEOUT:
			bad =
			    parse_duration(optarg, &c->http_timeout_ms) || c->http_timeout_ms == 0;
			break;
		case OPT_DRAIN_TIMEOUT:
			bad = parse_duration(optarg, &c->drain_timeout_ms);
			break;
		case OPT_LOG_LEVEL:
			bad = log_level_parse(optarg, &log_threshold);
			break;
		case OPT_MAX_JOBS:
			bad = parse_count(optarg, &v) || v == 0 || v > 10000;
			c->max_jobs = (unsigned)v;
			break;
		case OPT_RATE: {
			char *end;
			c->rate = strtod(optarg, &end);
			bad = *end != '\0' || !(c->rate > 0);
			break;
		}
		case OPT_BURST:
			bad = parse_count(optarg, &v) || v == 0 || v > 100000;
			c->burst = (unsigned)v;
			break;
		case OPT_RETRIES:
			bad = parse_count(optarg, &v) || v > 100;
			c->retries = (unsigned)v;
			break;
		case OPT_QUOTA_MATCH:
			c->quota_match = optarg;
			break;
		case OPT_CACHE_ENTRIES:
			bad = parse_count(optarg, &v) || v == 0;
			c->cache_entries = (size_t)v;
			break;
		case OPT_CACHE_TTL:
			bad = parse_duration(optarg, &c->cache_ttl_ms);
			break;
		case OPT_CACHE_NEG_TTL:
			bad = parse_duration(optarg, &c->cache_neg_ttl_ms);
			break;
		case OPT_CACHE_DB:
			c->cache_db = optarg;
			no_db = false;
			break;
		case OPT_NO_CACHE_DB:
			no_db = true;
			break;
		case OPT_MAX_PENDING_PER_CONN:
			bad = parse_count(optarg, &v) || v == 0 || v > 1000000;
			c->max_pending_per_conn = (uint32_t)v;
			break;
		case OPT_SEND_TIMEOUT:
			bad = parse_duration(optarg, &c->send_timeout_ms) ||
			      c->send_timeout_ms == 0 || c->send_timeout_ms > INT32_MAX;
			break;
		case OPT_MAX_CONNS:
			bad = parse_count(optarg, &v) || v == 0 || v > 10000000;
			c->max_conns = (size_t)v;
			break;
		case OPT_CALL_TIMEOUT:
			bad =
			    parse_duration(optarg, &c->call_timeout_ms) || c->call_timeout_ms == 0;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("cellbatchd %s\n", CB_VERSION);
			return 1;
		default:
			fprintf(stderr, "Try 'cellbatchd --help'.\n");
			return 2;
		}
		if (bad) {
			fprintf(stderr, "cellbatchd: invalid value for --%s: '%s'\n",
			        long_opts[o - OPT_LISTEN].name, optarg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cellbatchd: unexpected argument '%s'\nTry 'cellbatchd --help'.\n",
		        argv[optind]);
		return 2;
	}
	if (c->nlisten == 0) {
		c->listen[0] = cb_default_url(url_bufs[0], sizeof(url_bufs[0]));
		c->nlisten = 1;
	}
	if (!no_db && c->cache_db == NULL)
		c->cache_db = default_cache_db();
	if (no_db)
		c->cache_db = NULL;
	if (key_file != NULL) {
		if ((c->api_key = read_key_file(key_file)) == NULL)
			return 2;
	} else if (getenv("GEOAPIFY_API_KEY") != NULL) {
		c->api_key = strdup(getenv("GEOAPIFY_API_KEY"));
	}
	if (c->api_key == NULL || c->api_key[0] == '\0')
		log_warn("no API key (GEOAPIFY_API_KEY or --api-key-file): the upstream will "
		         "answer UPSTREAM_AUTH");
	return 0;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void stop_loop(server *s)
{
	/* jobs whose cells all timed out may still be polling: end them before the HTTP client */
	while (s->batches != NULL)
		job_fail(s->batches, answer_error(CB_ESHUTTING_DOWN, "the server stopped"));
	ingress_close(s->in);
	s->in = NULL;
	http_close(s->http);
	dispatch_fini(s);
	deadlines_fini(s);
	cache_close(s->cache);
	s->cache = NULL;
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->drain_timer, NULL);
	uv_close((uv_handle_t *)&s->drain_poll, NULL);
}

static void drain_check(server *s);

static void grace_cb(uv_timer_t *t)
{
	stop_loop(t->data);
}

static void drain_poll_cb(uv_timer_t *t)
{
	drain_check(t->data);
}

/* Stops once every cell is answered and every reply has left; polled while draining. */
static void drain_check(server *s)
{
	if (s->pending == 0 && ingress_held(s->in) == 0 &&
	    (ingress_sending(s->in) == 0 || s->drain_expired)) {
		if (ingress_sending(s->in) > 0)
			log_info(
			    "drained: every call answered (%zu replies still wait on clients that "
			    "read nothing); exiting",
			    ingress_sending(s->in));
		else
			log_info("drained: every call answered; exiting");
		/* every reply has left: nothing is lost if teardown must be cut short */
		exitguard_arm(SHUTDOWN_GRACE_MS + 1000, 0);
		uv_timer_stop(&s->drain_timer);
		uv_timer_start(&s->drain_poll, grace_cb, SHUTDOWN_GRACE_MS, 0);
		return;
	}
	uv_timer_start(&s->drain_poll, drain_poll_cb, 10, 0);
}

static void drain_deadline_cb(uv_timer_t *t)
{
	server *s = t->data;

	log_warn("drain timeout: answering %llu waiting calls with SHUTTING_DOWN",
	         (unsigned long long)s->pending);
	/* replies to clients that read nothing must not hold the exit past the promise */
	s->drain_expired = true;
	while (s->batches != NULL)
		job_fail(s->batches,
		         answer_error(CB_ESHUTTING_DOWN,
		                      "the server stopped before the upstream answered"));
	drain_check(s);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	server *s = h->data;

	if (s->draining) {
		log_warn("second signal: stopping now");
		uv_timer_stop(&s->drain_timer);
		drain_deadline_cb(&s->drain_timer);
		return;
	}
	log_info("%s: draining %llu calls (up to %.1f s)", strsignal(signum),
	         (unsigned long long)s->pending, (double)s->cfg.drain_timeout_ms / 1000.0);
	__atomic_store_n(&s->draining, true, __ATOMIC_RELEASE);
	/* exit within --drain-timeout + 2 s whatever nng does; 1 when replies were left unsent */
	if (exitguard_arm(s->cfg.drain_timeout_ms + 1500, 1) != 0)
		log_warn("cannot start the shutdown guard: exit may wait on nng");
	batcher_flush_all(s);
	uv_timer_start(&s->drain_timer, drain_deadline_cb, s->cfg.drain_timeout_ms, 0);
	drain_check(s);
}

int main(int argc, char **argv)
{
	static server srv;
	server *s = &srv;
	uv_loop_t loop;
	ingress_config icfg;
	size_t nofile;
	int rv;

	signal(SIGPIPE, SIG_IGN);
	jarena_install(); /* before any jansson use */
	if ((rv = parse_args(argc, argv, &s->cfg)) != 0)
		return rv == 1 ? 0 : 2;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || uv_loop_init(&loop) != 0 ||
	    htab_init(&s->groups) != 0 || htab_init(&s->items) != 0) {
		log_error("cannot initialise");
		return 1;
	}
	s->loop = &loop;
	s->t_start_ns = now_ns();
	nofile = fdlimit_raise();
	if (s->cfg.max_conns == 0)
		s->cfg.max_conns = fdlimit_max_conns(nofile, s->cfg.max_jobs);
	else if (s->cfg.max_conns > fdlimit_max_conns(nofile, s->cfg.max_jobs))
		log_warn(
		    "--max-conns %zu leaves too few of the %zu descriptors for the upstream and "
		    "the cache",
		    s->cfg.max_conns, nofile);
	s->nofile = nofile;
	if (http_open(&s->http, &loop) != 0) {
		log_error("cannot initialise curl");
		return 1;
	}
	icfg = (ingress_config){
	    .urls = s->cfg.listen,
	    .nurls = s->cfg.nlisten,
	    /* room above max-pending so that excess calls can still be told BUSY */
	    .max_contexts = s->cfg.max_pending + 256,
	    .min_idle = 64,
	    /* larger than the cap so that an oversize request still gets its reply */
	    .max_recv = s->cfg.max_message + CB_MAX_BYTES_SLACK,
	    .max_conns = s->cfg.max_conns,
	    .max_unread_per_conn = s->cfg.max_pending_per_conn,
	    .send_timeout_ms = (int)s->cfg.send_timeout_ms,
	};
	dispatch_init(s);
	deadlines_init(s);
	{
		cache_config cc = {
		    .max_entries = s->cfg.cache_entries,
		    .ttl_ms = s->cfg.cache_ttl_ms,
		    .neg_ttl_ms = s->cfg.cache_neg_ttl_ms,
		    .db_path = s->cfg.cache_db,
		    .now_ms = wall_ms,
		};
		if (cache_open(&s->cache, &cc) != 0) {
			log_error("cannot allocate the cache");
			return 1;
		}
	}
	srand((unsigned)now_ns());
	if (ingress_open(&s->in, &loop, &icfg, request_received, request_hot, s) != 0)
		return 1;
	uv_signal_init(&loop, &s->sigterm);
	uv_signal_init(&loop, &s->sigint);
	s->sigterm.data = s->sigint.data = s;
	uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&s->sigint, signal_cb, SIGINT);
	uv_timer_init(&loop, &s->drain_timer);
	uv_timer_init(&loop, &s->drain_poll);
	s->drain_timer.data = s->drain_poll.data = s;
	log_info(
	    "cellbatchd %s: upstream %s, batch-max %u, batch-wait %llu ms, batch-idle %llu ms, "
	    "max-jobs %u, rate %g/s, burst %u, max-conns %zu (descriptors %zu)",
	    CB_VERSION, s->cfg.upstream, s->cfg.batch_max, (unsigned long long)s->cfg.batch_wait_ms,
	    (unsigned long long)s->cfg.batch_idle_ms, s->cfg.max_jobs, s->cfg.rate, s->cfg.burst,
	    s->cfg.max_conns, nofile);

	uv_run(&loop, UV_RUN_DEFAULT);

	batcher_fini(s);
	rv = uv_loop_close(&loop);
	if (rv != 0)
		log_warn("loop closed with handles open: %s", uv_strerror(rv));
	curl_global_cleanup();
	free(s->cfg.api_key);
	return 0;
}
