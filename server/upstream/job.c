/* job.c: the upstream job of one batch — submit, poll while pending, retry what is transient, fan
 * the results out. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cache.h"
#include "clock.h"
#include "functions.h"
#include "geoapify.h"
#include "job.h"
#include "log.h"
#include "results.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_CAP_MS  30000

/* ------------------------------------------------------------ the job's life */

void job_init(job *j, upstream *u, uv_loop_t *loop, uint64_t seq, const char *label, cb_fn fn,
              const char *const *opt)
{
	*j = (job){.u = u, .seq = seq, .label = label, .fn = fn, .opt = opt, .state = BATCH_OPEN};
	uv_timer_init(loop, &j->timer);
	j->timer.data = j;
	rl_waiter_init(&j->rl);
}

bool job_set_state(job *j, batch_state st)
{
	if (!batch_state_legal(j->state, st)) {
		log_error("batch %llu %s: refused the illegal change %s -> %s (a bug)",
		          (unsigned long long)j->seq, j->label, batch_state_name(j->state),
		          batch_state_name(st));
		assert(
		    !"illegal batch state change"); /* debug builds (the asan preset) stop here */
		return false;
	}
	log_debug("batch %llu %s: %s -> %s", (unsigned long long)j->seq, j->label,
	          batch_state_name(j->state), batch_state_name(st));
	j->state = st;
	return true;
}

static void job_closed_cb(uv_handle_t *h)
{
	job *j = h->data;

	free(j->body);
	free(j->query);
	j->body = j->query = NULL;
	j->closed(j);
}

void job_close(job *j, void (*closed)(job *j))
{
	/* a job that never went upstream, or one that ended, has nothing else in flight */
	if (j->http != NULL) {
		http_cancel(j->http);
		j->http = NULL;
	}
	ratelimit_cancel(&j->rl);
	answer_unref(j->deferred);
	j->deferred = NULL;
	j->closed = closed;
	uv_close((uv_handle_t *)&j->timer, job_closed_cb);
}

/* What this job tells the poll schedule of its size (pollsched.c). */
static void learn_job_time(job *j)
{
	pollsched *p = &j->u->poll_sched[stats_size_bucket(j->n)];
	double pend, done;

	if (j->polls == 0)
		return; /* answered at submit: nothing learned about polling */
	pend = j->t_pend_sent_ns ? (double)(j->t_pend_sent_ns - j->t_submit_ns) / 1e6 : 0;
	done = (double)(j->t_poll_sent_ns - j->t_submit_ns) / 1e6;
	pollsched_learn(p, pend, done);
	log_debug("batch %llu: pending at %.1f ms, done at %.1f ms: next first poll at %.1f ms",
	          (unsigned long long)j->seq, pend, done, p->aim);
}

/* The job is over: logged, learned from, and reported up (the owner closes it). */
static void job_end(job *j, batch_state st)
{
	upstream *u = j->u;
	double ms = j->t_submit_ns ? (double)(now_ns() - j->t_submit_ns) / 1e6 : 0;

	job_set_state(j, st);
	log_info("batch %llu %s: %u items, job %s, %s in %.0f ms after %u polls",
	         (unsigned long long)j->seq, j->label, j->n, j->job_id[0] ? j->job_id : "-",
	         st == BATCH_DONE ? "done" : "failed", ms, j->polls);
	if (st == BATCH_DONE) {
		learn_job_time(j);
		lathist_add(&u->c.job, now_ns() - j->t_submit_ns);
	}
	u->hooks.ended(u->hooks.arg, j);
}

void job_fail(job *j, answer *a)
{
	upstream *u = j->u;

	a = answer_error_or_oom(a);
	uv_timer_stop(&j->timer);
	ratelimit_cancel(&j->rl);
	if (j->http != NULL) {
		http_cancel(j->http);
		j->http = NULL;
	}
	answer_unref(j->deferred);
	j->deferred = NULL;
	log_warn("batch %llu %s: %s: %.*s", (unsigned long long)j->seq, j->label,
	         cb_err_name(a->err), (int)a->message.len, a->message.ptr);
	for (uint32_t i = 0; i < j->n; i++)
		u->hooks.item_done(u->hooks.arg, j, j->items[i], a);
	answer_unref(a);
	job_end(j, BATCH_FAILED);
}

/* ------------------------------------------------------------ answers of the upstream */

typedef enum verdict {
	V_OK,        /* the answer was used */
	V_TRANSIENT, /* worth repeating the request */
	V_PERMANENT, /* the batch failed with *a */
} verdict;

/* Sorts an HTTP failure (geoapify.c says how) and notes on j what it means for a retry. */
static verdict classify_failure(job *j, const http_resp *r, char *cause, size_t cap, answer **a)
{
	const upstream_config *cfg = &j->u->cfg;
	geoapify_failure f;

	geoapify_classify(r, cfg->url, cfg->quota_match, &f, cause, cap);
	if (f.fd_short)
		j->fd_short = true;
	/* a request that may have reached the upstream can have created a job */
	if (r->code != CURLE_OK)
		j->resubmit = j->state == BATCH_SUBMITTING && f.may_have_arrived;
	*a = f.answer;
	return f.transient ? V_TRANSIENT : V_PERMANENT;
}

/* Caches every answer (one database transaction) and answers each item's cells; takes ans[]. */
static void answer_items(job *j, answer **ans)
{
	upstream *u = j->u;

	/* late results of timed-out cells are kept too */
	if (u->cache != NULL)
		cache_begin(u->cache);
	for (uint32_t i = 0; i < j->n; i++) {
		if (u->cache != NULL)
			cache_put(u->cache, j->items[i]->key, j->items[i]->keylen, ans[i]);
		u->hooks.item_done(u->hooks.arg, j, j->items[i], ans[i]);
		answer_unref(ans[i]);
	}
	if (u->cache != NULL)
		cache_commit(u->cache);
}

static verdict fan_out(job *j, const http_resp *r, char *cause, size_t cap)
{
	uint64_t t0 = now_ns(), t1;
	size_t got = 0;
	answer **ans = malloc(j->n * sizeof(*ans));
	results_status rv = ans != NULL ? results_read(j->fn, j->items, j->n, r->body, r->len, ans,
	                                               &got, cause, cap)
	                                : RESULTS_NOMEM;

	t1 = now_ns();
	if (rv != RESULTS_OK)
		free(ans);
	switch (rv) {
	case RESULTS_OK:
		break;
	case RESULTS_NOMEM:
		snprintf(cause, cap, "out of memory for %u results", j->n);
		return V_TRANSIENT;
	case RESULTS_TRUNCATED:
		/* a cut-off answer: asking again is safe (results stay for 24 h) */
		j->resubmit = j->state == BATCH_SUBMITTING;
		return V_TRANSIENT;
	case RESULTS_COUNT:
		job_fail(j, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream returned %zu results for a batch of %u", got,
		                         j->n));
		return V_OK;
	}
	answer_items(j, ans);
	free(ans);
	log_debug("batch %llu: %zu bytes of results read in %.1f ms, answered in %.1f ms",
	          (unsigned long long)j->seq, r->len, (double)(t1 - t0) / 1e6,
	          (double)(now_ns() - t1) / 1e6);
	job_end(j, BATCH_DONE);
	return V_OK;
}

/* ------------------------------------------------------------ requests */

static void send_submit_cb(rl_waiter *w);
static void send_poll_cb(rl_waiter *w);
static void response_cb(void *arg, const http_resp *r);

static job *job_of_waiter(rl_waiter *w)
{
	return list_entry(w, job, rl);
}

/* curl is writing a request of j's now: the limiter spaces the next one from here. */
static void request_sending_cb(void *arg)
{
	ratelimit_sent(((job *)arg)->u->rl);
}

/* A failure found while sending is reported from the timer: the caller may be a completion. */
static void deferred_fail_cb(uv_timer_t *t)
{
	job *j = t->data;
	answer *a = j->deferred;

	j->deferred = NULL;
	job_fail(j, a);
}

static void start_request(job *j, const char *method, const char *query, const char *body)
{
	const upstream_config *cfg = &j->u->cfg;
	char url[2048];
	http_opts o = {
	    .method = method,
	    .url = url,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .api_key = cfg->api_key,
	    .timeout_ms = (long)cfg->http_timeout_ms,
	    .sending = request_sending_cb,
	};

	snprintf(url, sizeof(url), "%s%s%s", cfg->url, batch_fns[j->fn].path, query);
	if (http_start(j->u->http, &o, response_cb, j, &j->http) != 0) {
		j->deferred = answer_error(CB_EINTERNAL, "cannot start an HTTP request");
		uv_timer_start(&j->timer, deferred_fail_cb, 0, 0);
	}
}

static void poll_timer_cb(uv_timer_t *t)
{
	job *j = t->data;
	job_set_state(j, BATCH_POLLING);
	ratelimit_request(j->u->rl, &j->rl, send_poll_cb);
}

/* Arms the timer for the next poll, or fails the job when it would outlive --job-timeout. */
static void schedule_poll(job *j, uint64_t delay_ms)
{
	uint64_t limit = j->u->cfg.job_timeout_ms;
	uint64_t elapsed = (now_ns() - j->t_submit_ns) / 1000000;

	if (elapsed >= limit) {
		job_fail(j, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream job %s still pending after %.1f s", j->job_id,
		                         (double)elapsed / 1000.0));
		return;
	}
	if (elapsed + delay_ms > limit)
		delay_ms = limit - elapsed;
	job_set_state(j, BATCH_PENDING);
	uv_timer_start(&j->timer, poll_timer_cb, delay_ms, 0);
}

static bool pending_body(job *j, const http_resp *r)
{
	json_t *doc = json_loadb(r->body, r->len, 0, NULL);
	json_t *id = json_object_get(doc, "id");
	bool ok = json_is_string(id) && json_string_length(id) < sizeof(j->job_id);

	if (ok && j->job_id[0] == '\0')
		memcpy(j->job_id, json_string_value(id), json_string_length(id) + 1);
	json_decref(doc);
	return ok;
}

static void retry_timer_cb(uv_timer_t *t)
{
	job *j = t->data;
	bool submit = j->job_id[0] == '\0';

	job_set_state(j, submit ? BATCH_SUBMITTING : BATCH_POLLING);
	ratelimit_request(j->u->rl, &j->rl, submit ? send_submit_cb : send_poll_cb);
}

/* Full jitter: a uniform delay up to base * 2^attempt, capped; Retry-After wins. */
static uint64_t backoff_ms(unsigned attempt, long retry_after_s)
{
	uint64_t ceiling = BACKOFF_BASE_MS;

	if (retry_after_s >= 0)
		return (uint64_t)retry_after_s * 1000;
	for (unsigned i = 0; i < attempt && ceiling < BACKOFF_CAP_MS; i++)
		ceiling *= 2;
	if (ceiling > BACKOFF_CAP_MS)
		ceiling = BACKOFF_CAP_MS;
	return (uint64_t)(((double)rand() / RAND_MAX) * (double)ceiling);
}

static void retry_or_fail(job *j, const char *cause, long retry_after_s)
{
	upstream *u = j->u;
	uint64_t delay;

	if (j->attempts >= u->cfg.retries && j->fd_short) {
		job_fail(j, answer_error(CB_EINTERNAL,
		                         "the server ran out of file descriptors (%s) after %u "
		                         "retries",
		                         cause, j->attempts));
		return;
	}
	if (j->attempts >= u->cfg.retries) {
		job_fail(j, answer_error(CB_EUPSTREAM_ERROR, "upstream %s after %u retries", cause,
		                         j->attempts));
		return;
	}
	delay = backoff_ms(j->attempts, retry_after_s);
	j->attempts++;
	u->c.retries++;
	log_warn("batch %llu %s: %s; retry %u of %u in %llu ms", (unsigned long long)j->seq,
	         j->label, cause, j->attempts, (unsigned)u->cfg.retries, (unsigned long long)delay);
	job_set_state(j, BATCH_RETRY_WAIT);
	uv_timer_start(&j->timer, retry_timer_cb, delay, 0);
}

/* 202: the job is pending; the next poll goes out when the schedule says. */
static void job_pending(job *j, const http_resp *r, bool submit)
{
	uint64_t since;

	if (submit && !pending_body(j, r)) {
		job_fail(j, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream accepted the batch without a job id: %.120s",
		                         r->body));
		return;
	}
	j->attempts = 0;
	j->fd_short = false;
	if (submit) {
		double spent = (double)(now_ns() - j->t_submit_ns) / 1e6;
		pollsched *p = &j->u->poll_sched[stats_size_bucket(j->n)];
		schedule_poll(j, pollsched_first_delay(p, spent, &j->poll_step_ms));
		return;
	}
	j->t_pend_sent_ns = j->t_poll_sent_ns;
	since = (now_ns() - j->t_poll_sent_ns) / 1000000;
	schedule_poll(j, pollsched_next_delay(&j->poll_step_ms, j->u->cfg.poll_max_ms, since));
}

static void response_cb(void *arg, const http_resp *r)
{
	job *j = arg;
	bool submit = j->state == BATCH_SUBMITTING;
	char cause[512];
	answer *a = NULL;

	j->http = NULL;
	if (r->code == CURLE_OK && r->status == 200) {
		if (fan_out(j, r, cause, sizeof(cause)) == V_TRANSIENT)
			retry_or_fail(j, cause, -1);
		return;
	}
	if (r->code == CURLE_OK && r->status == 202) {
		job_pending(j, r, submit);
		return;
	}
	j->u->c.http_errors++;
	if (classify_failure(j, r, cause, sizeof(cause), &a) == V_PERMANENT)
		job_fail(j, a);
	else
		retry_or_fail(j, cause, r->retry_after_s);
}

static void send_submit_cb(rl_waiter *w)
{
	job *j = job_of_waiter(w);
	upstream *u = j->u;

	if (j->t_submit_ns == 0)
		j->t_submit_ns = now_ns();
	if (j->resubmit) {
		u->c.resubmits++;
		log_warn("batch %llu %s: resubmitting a batch whose earlier submit may have "
		         "reached the upstream (it may be billed twice)",
		         (unsigned long long)j->seq, j->label);
		j->resubmit = false;
	}
	u->c.submits++;
	start_request(j, "POST", j->query, j->body);
}

static void send_poll_cb(rl_waiter *w)
{
	job *j = job_of_waiter(w);
	char query[96];

	j->polls++;
	j->u->c.polls++;
	j->t_poll_sent_ns = now_ns();
	snprintf(query, sizeof(query), "?id=%s", j->job_id);
	start_request(j, "GET", query, NULL);
}

/* The submit's JSON body and query; false when out of memory. */
static bool build_submit(job *j)
{
	json_t *arr = json_array();
	bool ok = arr != NULL;

	for (uint32_t i = 0; ok && i < j->n; i++)
		ok = json_array_append_new(arr, batch_fns[j->fn].item_json(j->items[i])) == 0;
	ok = ok && (j->body = json_dumps(arr, JSON_COMPACT)) != NULL &&
	     (j->query = geoapify_query(j->opt)) != NULL;
	json_decref(arr);
	return ok;
}

void job_submit(job *j, job_item *const *items, uint32_t n)
{
	upstream *u = j->u;

	j->items = items;
	j->n = n;
	u->c.batches_sent++;
	u->c.batch_items += n;
	u->c.size_hist[stats_size_bucket(n)]++;
	job_set_state(j, BATCH_SUBMITTING);
	if (!build_submit(j)) {
		j->deferred = answer_error(CB_EINTERNAL, "cannot build the upstream request");
		uv_timer_start(&j->timer, deferred_fail_cb, 0, 0);
		return;
	}
	ratelimit_request(u->rl, &j->rl, send_submit_cb);
}
