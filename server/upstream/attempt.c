/* attempt.c: one request of a job at a time — submit, poll while pending, and what a failed
 * request means: a retry after a backoff (its job slot given back meanwhile), a slower rate after
 * a 429, or the end of the job. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "fjob.h"
#include "geoapify.h"
#include "job.h"
#include "job_int.h"
#include "journal.h"
#include "log.h"

/* Sorts an HTTP failure (geoapify.c says how) and notes on j what it means for a retry. */
static void classify_failure(job *j, const http_resp *r, char *cause, size_t cap,
                             geoapify_failure *f)
{
	const upstream_config *cfg = &j->u->cfg;

	geoapify_classify(r, cfg->url, cfg->quota_match, f, cause, cap);
	if (f->fd_short)
		j->fd_short = true;
	/* a request that may have reached the upstream can have created a job */
	if (r->code != CURLE_OK)
		j->resubmit = j->state == BATCH_SUBMITTING && f->may_have_arrived;
}

static answer *quota_answer(const upstream *u)
{
	return answer_error(CB_EQUOTA_EXCEEDED,
	                    "the upstream quota is exhausted (HTTP 429 \"%s\" for %.0f s): no "
	                    "submits for %.0f s",
	                    u->cfg.quota_match, (double)u->cfg.quota_confirm_ms / 1000,
	                    (double)u->cfg.quota_pause_ms / 1000);
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
	job *j = arg;

	j->t_req_sent_ns = now_ns();
	ratelimit_sent(j->u->rl);
}

/* A failure found while sending is reported from the timer: the caller may be a completion. */
static void deferred_fail_cb(uv_timer_t *t)
{
	job *j = t->data;
	answer *a = j->deferred;

	j->deferred = NULL;
	job_fail(j, a);
}

/* Fails j with a (taken) from its timer, not inline: the caller may be inside a completion. */
static void fail_later(job *j, answer *a)
{
	answer_unref(j->deferred);
	j->deferred = a;
	uv_timer_start(&j->timer, deferred_fail_cb, 0, 0);
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

	lathist_add(&j->u->c.rl_wait, now_ns() - j->t_rl_ns);
	snprintf(url, sizeof(url), "%s%s%s", cfg->url, batch_fns[j->fn].path, query);
	if (http_start(j->u->http, &o, response_cb, j, &j->http) != 0)
		fail_later(j, answer_error(CB_EINTERNAL, "cannot start an HTTP request"));
}

static void poll_timer_cb(uv_timer_t *t)
{
	job *j = t->data;
	job_set_state(j, BATCH_POLLING);
	ratelimit_request(j->u->rl, &j->rl, RL_POLL, send_poll_cb);
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

/* The slot is ours again: the request goes out through the limiter. */
void job_retry(job *j)
{
	bool submit = j->job_id[0] == '\0';

	job_set_state(j, submit ? BATCH_SUBMITTING : BATCH_POLLING);
	ratelimit_request(j->u->rl, &j->rl, RL_AGAIN, submit ? send_submit_cb : send_poll_cb);
}

/* The backoff is over: the owner gets a job slot back, then calls job_retry. */
static void retry_timer_cb(uv_timer_t *t)
{
	job *j = t->data;

	list_remove(&j->qlink);
	j->u->hooks.retry_ready(j->u->hooks.arg, j);
}

/* Waits delay ms without holding a job slot (hooks.retry_wait), then asks for one back. */
static void retry_wait(job *j, const char *cause, uint64_t delay)
{
	upstream *u = j->u;

	u->c.retries++;
	log_warn("batch %llu %s: %s; retry in %llu ms", (unsigned long long)j->seq, j->label, cause,
	         (unsigned long long)delay);
	job_set_state(j, BATCH_RETRY_WAIT);
	uv_timer_start(&j->timer, retry_timer_cb, delay, 0);
	u->hooks.retry_wait(u->hooks.arg, j);
}

static void retry_or_fail(job *j, const char *cause, long retry_after_s)
{
	upstream *u = j->u;
	char why[600];

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
	j->attempts++;
	snprintf(why, sizeof(why), "%s (retry %u of %u)", cause, j->attempts,
	         (unsigned)u->cfg.retries);
	retry_wait(j, why,
	           geoapify_backoff_ms(u->cfg.retry_after_max_ms, j->attempts - 1, retry_after_s,
	                               GEOAPIFY_BACKOFF_CAP_MS));
}

/* The quota is taken as exhausted: every job retrying after a quota answer fails now. */
static void quota_confirmed(upstream *u)
{
	list_node *n;

	log_error("upstream quota exhausted: HTTP 429 \"%s\" for over %.0f s; no submits "
	          "for %.0f s, new calls that the cache cannot answer get QUOTA_EXCEEDED",
	          u->cfg.quota_match, (double)u->cfg.quota_confirm_ms / 1000,
	          (double)u->cfg.quota_pause_ms / 1000);
	while ((n = list_pop_front(&u->quota_waiters)) != NULL) {
		job *w = list_entry(n, job, qlink);
		fail_later(w, quota_answer(u)); /* we are inside another job's completion */
	}
}

/*
 * A 429: the limiter slows down and the request is repeated, without counting
 * against --retries, until --job-timeout. Words of the quota count toward
 * believing it exhausted (quota.h); once believed, the job fails with it.
 */
static void rate_limited(job *j, const geoapify_failure *f, const char *cause, long retry_after_s)
{
	upstream *u = j->u;
	uint64_t now = now_ns();
	/* retries close enough together that a quota streak is seen within --quota-confirm */
	uint64_t cap = u->cfg.quota_confirm_ms / 3;

	u->c.rate_limited++;
	ratelimit_slow_down(u->rl, j->t_req_sent_ns);
	if (f->quota) {
		bool confirmed = quota_seen(&u->quota, now);
		if (confirmed)
			quota_confirmed(u);
		if (confirmed || quota_paused(&u->quota, now)) {
			job_fail(j, quota_answer(u));
			return;
		}
	}
	if (j->t_first_429_ns == 0)
		j->t_first_429_ns = now;
	if ((now - j->t_first_429_ns) / 1000000 >= u->cfg.job_timeout_ms) {
		job_fail(j, answer_error(CB_EUPSTREAM_ERROR, "upstream %s for %.0f s", cause,
		                         (double)(now - j->t_first_429_ns) / 1e9));
		return;
	}
	if (f->quota)
		list_push_back(&u->quota_waiters, &j->qlink);
	if (cap < 100)
		cap = 100;
	retry_wait(
	    j, cause,
	    geoapify_backoff_ms(u->cfg.retry_after_max_ms, j->attempts, retry_after_s,
	                        cap < GEOAPIFY_BACKOFF_CAP_MS ? cap : GEOAPIFY_BACKOFF_CAP_MS));
}

/* 202: the job is pending; the next poll goes out when the schedule says. */
static void job_pending(job *j, const http_resp *r, bool submit)
{
	uint64_t since;

	if (submit && !geoapify_job_id(r, j->job_id, sizeof(j->job_id))) {
		job_fail(j, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream accepted the batch without a job id: %.120s",
		                         r->body));
		return;
	}
	j->attempts = 0;
	j->fd_short = false;
	if (submit) {
		/* the upstream's clock started at the submit it accepted, not at the first one */
		double spent = (double)(now_ns() - j->t_sub_sent_ns) / 1e6;
		job_journal_keep(j);
		pollsched *p = &j->u->poll_sched[stats_size_bucket(j->n)];
		schedule_poll(j, pollsched_first_delay(p, spent, &j->poll_step_ms));
		return;
	}
	j->t_pend_sent_ns = j->t_poll_sent_ns;
	since = (now_ns() - j->t_poll_sent_ns) / 1000000;
	schedule_poll(j, pollsched_next_delay(&j->poll_step_ms, j->u->cfg.poll_max_ms, since));
}

/*
 * A poll answered 404: the upstream lost the job (it restarted, or the 24 h
 * passed). Once per job it is submitted again, which bills it again: logged.
 */
static bool job_lost(job *j, const http_resp *r, bool submit)
{
	if (submit || r->code != CURLE_OK || r->status != 404 || j->resubmit_lost)
		return false;
	log_warn("batch %llu %s: the upstream no longer knows job %s (HTTP 404): submitting it "
	         "again, once (billed again)",
	         (unsigned long long)j->seq, j->label, j->job_id);
	j->resubmit_lost = true;
	if (j->journalled) {
		journal_remove(j->u->journal, j->job_id);
		fjob_forget(j->u->fjob, j->job_id);
	}
	j->journalled = false;
	j->job_id[0] = '\0';
	j->t_pend_sent_ns = 0;
	retry_wait(j, "job lost upstream", 0);
	return true;
}

static void response_failed(job *j, const http_resp *r)
{
	geoapify_failure f;
	char cause[512];

	j->u->c.http_errors++;
	classify_failure(j, r, cause, sizeof(cause), &f);
	if (f.rate_limited)
		rate_limited(j, &f, cause, r->retry_after_s);
	else if (!f.transient)
		job_fail(j, f.answer);
	else
		retry_or_fail(j, cause, r->retry_after_s); /* f.answer is set only when permanent */
}

static void response_cb(void *arg, const http_resp *r)
{
	job *j = arg;
	upstream *u = j->u;
	bool submit = j->state == BATCH_SUBMITTING;
	char cause[512];

	j->http = NULL;
	upstream_count_answer(u, submit, r->code == CURLE_OK ? r->status : 0, now_ns());
	if (r->code == CURLE_OK && (r->status == 200 || r->status == 202)) {
		/*
		 * an answer: the rate may climb back. Only an accepted submit says the
		 * quota is there: polls of jobs already paid for pass when it is gone.
		 */
		if (submit)
			quota_ok(&u->quota);
		ratelimit_recover(u->rl);
		j->t_first_429_ns = 0;
	}
	if (r->code == CURLE_OK && r->status == 200) {
		if (job_fan_out(j, r, cause, sizeof(cause)) == V_TRANSIENT)
			retry_or_fail(j, cause, -1);
		return;
	}
	if (r->code == CURLE_OK && r->status == 202) {
		job_pending(j, r, submit);
		return;
	}
	if (!job_lost(j, r, submit))
		response_failed(j, r);
}

static void send_submit_cb(rl_waiter *w)
{
	job *j = job_of_waiter(w);
	upstream *u = j->u;

	if (upstream_quota_paused(u)) {
		fail_later(j, quota_answer(u)); /* the limiter may call this inline */
		return;
	}
	if ((j->resubmit || j->resubmit_lost) && !u->hooks.wanted(u->hooks.arg, j)) {
		/* it may be billed again, for nobody: every caller gave up and nothing keeps it */
		log_warn(
		    "batch %llu %s: dropped instead of submitted again: nobody waits for it and "
		    "there is no cache to fill",
		    (unsigned long long)j->seq, j->label);
		u->c.dropped++;
		fail_later(j, answer_error(CB_EUPSTREAM_ERROR, "dropped: nobody waits for it"));
		return;
	}
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
	u->c.items_submitted += j->n;
	j->t_sub_sent_ns = now_ns();
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
	u->c.batches_by_fn[j->fn]++;
	u->c.batch_items += n;
	u->c.size_hist[stats_size_bucket(n)]++;
	job_set_state(j, BATCH_SUBMITTING);
	if (!build_submit(j)) {
		fail_later(j, answer_error(CB_EINTERNAL, "cannot build the upstream request"));
		return;
	}
	ratelimit_request(u->rl, &j->rl, RL_SUBMIT, send_submit_cb);
}

void job_resume(job *j, job_item *const *items, uint32_t n)
{
	j->items = items;
	j->n = n;
	j->resumed = j->journalled = true;
	j->t_submit_ns = j->t_sub_sent_ns = now_ns();
	j->poll_step_ms = POLL_STEP_MIN_MS;
	job_set_state(j, BATCH_SUBMITTING); /* the submit happened before the restart */
	if (!build_submit(j)) {             /* kept for a submit after a 404 */
		fail_later(j, answer_error(CB_EINTERNAL, "cannot build the upstream request"));
		return;
	}
	log_info("batch %llu %s: %u items, job %s resumed from the journal",
	         (unsigned long long)j->seq, j->label, n, j->job_id);
	schedule_poll(j, 1);
}
