/* main.c: cellbatchd — wires socket, front, batcher, dispatch and upstream, and owns signals and
 * the shutdown order. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "batcher.h"
#include "cache.h"
#include "claim.h"
#include "clock.h"
#include "dispatch.h"
#include "exitguard.h"
#include "fdlimit.h"
#include "fleet.h"
#include "fleetwire.h"
#include "front.h"
#include "httpd.h"
#include "ingress.h"
#include "jarena.h"
#include "journal.h"
#include "log.h"
#include "options.h"
#include "ratelimit.h"
#include "report.h"
#include "secure.h"
#include "upstream.h"
#include "wsep.h"

/* The modules, and what main.c itself owns: signals and the shutdown. */
typedef struct server {
	config cfg;
	uv_loop_t *loop;
	ingress *in;
	front *f;
	batcher *bt;
	dispatch d;
	ratelimit rl;
	fleet *fleet; /* --redis; NULL: nothing shared */
	upstream u;
	http *http;
	struct cache *cache;
	journal *journal; /* jobs in flight, in the cache database */
	report_src report;
	recent latency_recent;
	httpd *httpd;             /* --http; NULL: none */
	wsep_origins *ws_origins; /* with --http: the Origins its WebSocket endpoint serves */
	nng_tls_config *tls;      /* --tls-cert: tls+tcp:// and --http's; NULL: none */
	bool draining;
	uv_signal_t sigterm, sigint;
	uv_signal_t sighup;     /* reopens --log-file; never stops the server */
	uv_timer_t drain_timer; /* --drain-timeout */
	uv_check_t drain_watch; /* after each turn of the loop while draining: done yet? */
	uv_timer_t grace_timer; /* lets the last replies leave before teardown */
	bool drain_expired;     /* --drain-timeout passed: stop waiting for replies to leave */
	size_t nofile;          /* RLIMIT_NOFILE after raising it */
	auth_tokens *tokens;    /* --auth-token-file; NULL: none asked for */
} server;

#define SHUTDOWN_GRACE_MS 200 /* lets the last replies leave the pipes before nng_close */

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void stop_loop(server *s)
{
	/* jobs whose cells all timed out may still be polling: end them before the HTTP client */
	batcher_fail_all(s->bt, answer_error(CB_ESHUTTING_DOWN, "the server stopped"));
	ingress_close(s->in);
	s->in = s->report.in = NULL;
	httpd_close(s->httpd); /* it reads the modules closed below */
	s->httpd = NULL;
	http_close(s->http);
	batcher_unshare(s->bt);
	s->u.fjob = NULL; /* no job is left to journal: batcher_fail_all ended them */
	if (s->fleet != NULL)
		fleet_close(s->fleet); /* its asks answered now, while the limiter is still there */
	s->fleet = NULL;
	s->report.fleet = NULL;
	ratelimit_fini(&s->rl);
	front_close(s->f);
	s->f = NULL;
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->sighup, NULL);
	uv_close((uv_handle_t *)&s->drain_timer, NULL);
	uv_close((uv_handle_t *)&s->grace_timer, NULL);
	uv_close((uv_handle_t *)&s->drain_watch, NULL);
	secure_close();
}

static void drain_check(server *s);

static void grace_cb(uv_timer_t *t)
{
	stop_loop(t->data);
}

/* After each turn of the loop while draining: whatever completed may have been the last. */
static void drain_watch_cb(uv_check_t *h)
{
	drain_check(h->data);
}

/* Stops once every cell is answered and every reply has left. */
static void drain_check(server *s)
{
	if (uv_is_active((uv_handle_t *)&s->grace_timer))
		return; /* already stopping */
	if (front_pending(s->f) == 0 && ingress_held(s->in) == 0 &&
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
		uv_check_stop(&s->drain_watch);
		uv_timer_start(&s->grace_timer, grace_cb, SHUTDOWN_GRACE_MS, 0);
	}
}

static void drain_deadline_cb(uv_timer_t *t)
{
	server *s = t->data;

	log_warn("drain timeout: answering %llu waiting calls with SHUTTING_DOWN",
	         (unsigned long long)front_pending(s->f));
	/* replies to clients that read nothing must not hold the exit past the promise */
	s->drain_expired = true;
	batcher_fail_all(s->bt, answer_error(CB_ESHUTTING_DOWN,
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
	         (unsigned long long)front_pending(s->f), (double)s->cfg.drain_timeout_ms / 1000.0);
	s->draining = true;
	front_set_draining(s->f);
	/* exit within --drain-timeout + 2 s whatever nng does; 1 when replies were left unsent */
	if (exitguard_arm(s->cfg.drain_timeout_ms + 1500, 1) != 0)
		log_warn("cannot start the shutdown guard: exit may wait on nng");
	batcher_flush_all(s->bt);
	uv_timer_start(&s->drain_timer, drain_deadline_cb, s->cfg.drain_timeout_ms, 0);
	uv_check_start(&s->drain_watch, drain_watch_cb);
	drain_check(s);
}

/*
 * SIGHUP: what can change safely while calls are in flight is where the log
 * goes (logrotate moved the file); everything else is read once at start
 * (service.c's --help says so). Never stops the server.
 */
static void hup_cb(uv_signal_t *h, int signum)
{
	server *s = h->data;
	char why[512];

	(void)signum;
	if (s->cfg.svc.log_file == NULL) {
		log_info("SIGHUP: no --log-file to reopen; nothing else is re-read");
		return;
	}
	if (log_open_file(s->cfg.svc.log_file, why, sizeof(why)) != 0)
		log_error("SIGHUP: cannot reopen the log file (still writing the old one): %s",
		          why);
	else
		log_info("SIGHUP: reopened the log file %s", s->cfg.svc.log_file);
}

/* The descriptor limit raised, and --max-conns derived from it unless given. */
static void set_descriptors(server *s)
{
	size_t fit;

	s->nofile = fdlimit_raise();
	fit = fdlimit_max_conns(s->nofile, (unsigned)s->cfg.max_jobs);
	if (s->cfg.max_conns == 0)
		s->cfg.max_conns = fit;
	else if (s->cfg.max_conns > fit)
		log_warn("--max-conns %" PRIu64 " leaves too few of the %zu descriptors for the "
		         "upstream and the cache",
		         s->cfg.max_conns, s->nofile);
}

static int open_cache(server *s)
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
		return -1;
	}
	journal_open(&s->journal, cache_db_path(s->cache));
	return 0;
}

static void resume_cb(void *arg, const journal_job *jj)
{
	server *s = arg;

	if (batcher_resume(s->bt, jj) != 0)
		log_warn("cannot take up job %s from the journal: out of memory", jj->id);
}

/* Jobs in flight before a restart are polled again, not paid for again. */
static void resume_jobs(server *s)
{
	size_t n = journal_load(s->journal, wall_ms(), JOURNAL_MAX_AGE_MS, resume_cb, s);

	if (n > 0)
		log_info("resumed %zu upstream jobs from the journal", n);
}

static int open_ingress(server *s)
{
	ingress_config icfg = {
	    .urls = s->cfg.listen,
	    .nurls = s->cfg.nlisten,
	    /* room above max-pending so that excess calls can still be told BUSY */
	    .max_contexts = s->cfg.max_pending + 256,
	    .min_idle = 64,
	    /* larger than the cap so that an oversize request still gets its reply */
	    .max_recv = s->cfg.max_message + CB_MAX_BYTES_SLACK,
	    .max_conns = (size_t)s->cfg.max_conns,
	    .max_unread_per_conn = (uint32_t)s->cfg.max_pending_per_conn,
	    .send_timeout_ms = (int)s->cfg.send_timeout_ms,
	    .ws_addr = s->cfg.http, /* the WebSocket endpoint shares the HTTP listener */
	    .tls = s->tls,
	};

	if (s->cfg.nws_origin > 0 && s->cfg.http == NULL)
		log_warn("--ws-origin without --http: there is no WebSocket endpoint");
	if (s->cfg.http != NULL && (icfg.ws_origins = s->ws_origins = wsep_origins_new(
	                                s->cfg.http, s->tls != NULL, s->cfg.public_url,
	                                s->cfg.ws_origin, s->cfg.nws_origin)) == NULL)
		return -1;
	if (ingress_open(&s->in, s->loop, &icfg, front_received_cb, front_hot_cb, s->f) != 0)
		return -1;
	s->report.in = s->in;
	return 0;
}

static void watch_signals(server *s)
{
	uv_signal_init(s->loop, &s->sigterm);
	uv_signal_init(s->loop, &s->sigint);
	s->sigterm.data = s->sigint.data = s;
	uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&s->sigint, signal_cb, SIGINT);
	uv_signal_init(s->loop, &s->sighup);
	s->sighup.data = s;
	uv_signal_start(&s->sighup, hup_cb, SIGHUP);
	uv_timer_init(s->loop, &s->drain_timer);
	uv_timer_init(s->loop, &s->grace_timer);
	uv_check_init(s->loop, &s->drain_watch);
	s->drain_timer.data = s->grace_timer.data = s->drain_watch.data = s;
}

static void poll_input_cb(void *arg)
{
	ingress_poll(((server *)arg)->in);
}

/*
 * The pipeline, bottom up: each module borrows the ones below it, and
 * completions come back up through the hooks wired here (http -> job ->
 * batcher -> front -> reply), so that no module calls the one above it.
 */
static int open_pipeline(server *s)
{
	const config *c = &s->cfg;
	upstream_config ucfg = {
	    .url = c->upstream,
	    .api_key = c->api_key,
	    .quota_match = c->quota_match,
	    .http_timeout_ms = c->http_timeout_ms,
	    .job_timeout_ms = c->job_timeout_ms,
	    .poll_max_ms = c->poll_max_ms,
	    .retries = c->retries,
	    .retry_after_max_ms = c->retry_after_max_ms,
	    .quota_confirm_ms = c->quota_confirm_ms,
	    .quota_pause_ms = c->quota_pause_ms,
	};
	batcher_config bcfg = {c->batch_max, c->batch_wait_ms, c->batch_idle_ms};
	front_config fcfg = {c->max_message, c->max_pending, c->call_timeout_ms, s->tokens};

	ratelimit_init(&s->rl, s->loop, c->rate, c->burst);
	dispatch_init(&s->d, (unsigned)c->max_jobs);
	if (batcher_open(&s->bt, s->loop, &bcfg, &s->d, &s->u, s->cache) != 0)
		return -1;
	upstream_init(&s->u, &ucfg, s->http, &s->rl, s->cache, s->journal,
	              &(upstream_hooks){batcher_item_done_cb, batcher_job_ended_cb,
	                                batcher_job_retry_wait_cb, batcher_job_retry_ready_cb,
	                                batcher_job_wanted_cb, s->bt});
	if (front_open(&s->f, s->loop, &fcfg, s->bt, s->cache, report_pack, &s->report) != 0)
		return -1;
	batcher_set_hooks(s->bt, &(batcher_hooks){front_waiter_done_cb, s->f, poll_input_cb, s});
	s->report = (report_src){
	    .f = s->f,
	    .bt = s->bt,
	    .d = &s->d,
	    .rl = &s->rl,
	    .u = &s->u,
	    .cache = s->cache,
	    .max_conns = c->max_conns,
	    .nofile = s->nofile,
	    .t_start_ns = now_ns(),
	    .start_time_s = (double)wall_ms() / 1000.0,
	    .credit_batch_item = c->credit_batch_item,
	    .credit_single = c->credit_single,
	    .rate = c->rate,
	    .latency_recent = &s->latency_recent,
	    .public_url = c->public_url,
	};
	recent_init(&s->latency_recent, s->report.t_start_ns);
	return 0;
}

/* Everything the loop runs, wired; -1 (logged) when something cannot be opened. */
static int server_open(server *s, uv_loop_t *loop)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || uv_loop_init(loop) != 0) {
		log_error("cannot initialise");
		return -1;
	}
	s->loop = loop;
	set_descriptors(s);
	if (http_open(&s->http, loop) != 0) {
		log_error("cannot initialise curl");
		return -1;
	}
	if (open_cache(s) != 0)
		return -1;
	if (open_pipeline(s) != 0) {
		log_error("out of memory");
		return -1;
	}
	srand((unsigned)now_ns());
	if (fleetwire_open(&s->fleet, s->loop, &s->cfg,
	                   &(fleetwire_parts){s->bt, &s->u, &s->rl, &s->report, wall_ms}) != 0)
		return -1;
	resume_jobs(s);
	if (open_ingress(s) != 0)
		return -1;
	fleetwire_origins(s->fleet, s->ws_origins);
	if (s->cfg.http != NULL &&
	    httpd_open(&s->httpd, loop, s->cfg.http, s->tls, s->cfg.public_url, &s->report) != 0)
		return -1;
	watch_signals(s);
	secure_watch(loop, &s->cfg);
	return 0;
}

/* --check-config: the flags parsed, the key and tokens read, the policy applied; say so. */
static int check_config(server *s)
{
	printf("cellbatchd: configuration OK: listen");
	for (int i = 0; i < s->cfg.nlisten; i++)
		printf(" %s", s->cfg.listen[i]);
	printf(", upstream %s (API key %s), cache %s, log %s\n", s->cfg.upstream,
	       s->cfg.api_key && s->cfg.api_key[0] ? "set" : "none",
	       s->cfg.cache_db ? s->cfg.cache_db : "in memory",
	       s->cfg.svc.log_file ? s->cfg.svc.log_file : "stderr");
	free(s->cfg.api_key);
	auth_free(s->tokens);
	return 0;
}

int main(int argc, char **argv)
{
	static server srv;
	server *s = &srv;
	uv_loop_t loop;
	char why[512];
	int rv;

	signal(SIGPIPE, SIG_IGN);
	log_init();
	jarena_install(); /* before any jansson use */
	if ((rv = options_parse(argc, argv, &s->cfg)) != 0)
		return rv == 1 ? 0 : 2;
	if (secure_start(&s->cfg, &s->tokens, &s->tls) != 0)
		return 2;
	if (s->cfg.svc.check_config)
		return check_config(s);
	if (s->cfg.svc.log_file != NULL &&
	    log_open_file(s->cfg.svc.log_file, why, sizeof(why)) != 0) {
		fprintf(stderr, "cellbatchd: --log-file %s\n", why);
		return 2;
	}
	if (server_open(s, &loop) != 0)
		return 1;
	log_info("cellbatchd %s: upstream %s, batch-max %" PRIu64 ", batch-wait %" PRIu64
	         " ms, batch-idle %" PRIu64 " ms, max-jobs %" PRIu64 ", rate %g/s, burst %" PRIu64
	         ", max-conns %" PRIu64 " (descriptors %zu)",
	         CB_VERSION, s->cfg.upstream, s->cfg.batch_max, s->cfg.batch_wait_ms,
	         s->cfg.batch_idle_ms, s->cfg.max_jobs, s->cfg.rate, s->cfg.burst, s->cfg.max_conns,
	         s->nofile);

	uv_run(&loop, UV_RUN_DEFAULT);

	batcher_close(s->bt);
	journal_close(s->journal);
	cache_close(s->cache);
	wsep_origins_free(s->ws_origins); /* after ingress: its gate read them */
	rv = uv_loop_close(&loop);
	if (rv != 0)
		log_warn("loop closed with handles open: %s", uv_strerror(rv));
	curl_global_cleanup();
	free(s->cfg.api_key);
	auth_free(s->tokens);
	/* listeners held their own references; nng_tls_config_free(NULL) crashes in 1.5.2 */
	if (s->tls != NULL)
		nng_tls_config_free(s->tls);
	return 0;
}
