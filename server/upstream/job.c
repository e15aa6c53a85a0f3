/* job.c: the upstream job of one batch — submit, poll while pending, retry what is transient, fan
 * the results out. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cache.h"
#include "functions.h"
#include "jarena.h"
#include "job.h"
#include "geoapify.h"
#include "log.h"
#include "ratelimit.h"

#define FIRST_POLL_DEFAULT_MS 200 /* before any job of this size was seen */
#define FIRST_STEP_DEFAULT_MS 50
#define POLL_STEP_MIN_MS      20
#define BACKOFF_BASE_MS       500
#define BACKOFF_CAP_MS        30000

/* What this job tells the poll schedule of its size (pollsched.c). */
static void learn_job_time(batch *b)
{
	pollsched *p = &b->s->poll_sched[stats_size_bucket(b->n)];
	double pend, done;

	if (b->polls == 0)
		return; /* answered at submit: nothing learned about polling */
	pend = b->t_pend_sent_ns ? (double)(b->t_pend_sent_ns - b->t_submit_ns) / 1e6 : 0;
	done = (double)(b->t_poll_sent_ns - b->t_submit_ns) / 1e6;
	pollsched_learn(p, pend, done);
	log_debug("batch %llu: pending at %.1f ms, done at %.1f ms: next first poll at %.1f ms",
	          (unsigned long long)b->seq, pend, done, p->aim);
}

static void batch_end(batch *b, batch_state st)
{
	server *s = b->s;
	double ms = b->t_submit_ns ? (double)(now_ns() - b->t_submit_ns) / 1e6 : 0;

	batch_set_state(b, st);
	log_info("batch %llu %s: %u items, job %s, %s in %.0f ms after %u polls",
	         (unsigned long long)b->seq, b->g->label, b->n, b->job_id[0] ? b->job_id : "-",
	         st == BATCH_DONE ? "done" : "failed", ms, b->polls);
	if (st == BATCH_DONE) {
		learn_job_time(b);
		lathist_add(&s->st.job, now_ns() - b->t_submit_ns);
	}
	batch_release(b);
}

void job_fail(batch *b, answer *a)
{
	server *s = b->s;

	a = answer_error_or_oom(a);
	log_warn("batch %llu %s: %s: %.*s", (unsigned long long)b->seq, b->g->label,
	         cb_err_name(a->err), (int)a->message.len, a->message.ptr);
	for (uint32_t i = 0; i < b->n; i++)
		s->hooks.item_done(s, b->items[i], a);
	answer_unref(a);
	batch_end(b, BATCH_FAILED);
}

/* ------------------------------------------------------------ answers of the upstream */

typedef enum verdict {
	V_OK,        /* the answer was used */
	V_TRANSIENT, /* worth repeating the request */
	V_PERMANENT, /* the batch failed with *a */
} verdict;

/* Sorts an HTTP failure (geoapify.c says how) and notes on b what it means for a retry. */
static verdict classify_failure(batch *b, const http_resp *r, char *cause, size_t cap, answer **a)
{
	geoapify_failure f;

	geoapify_classify(r, b->s->cfg.upstream, b->s->cfg.quota_match, &f, cause, cap);
	if (f.fd_short)
		b->fd_short = true;
	/* a request that may have reached the upstream can have created a job */
	if (r->code != CURLE_OK)
		b->resubmit = b->state == BATCH_SUBMITTING && f.may_have_arrived;
	*a = f.answer;
	return f.transient ? V_TRANSIENT : V_PERMANENT;
}

/* One answer per item from the result array (as long as the batch); never NULL entries. */
static void read_results(const batch *b, json_t *arr, answer **ans)
{
	const batch_fn *fn = &batch_fns[b->g->fn];

	for (uint32_t i = 0; i < b->n; i++) {
		json_t *obj = json_array_get(arr, i);
		answer *a;

		if (!json_is_object(obj))
			a = answer_error(CB_EUPSTREAM_ERROR, "upstream result %u is not an object",
			                 i);
		else if (!fn->query_matches(b->items[i], json_object_get(obj, "query")))
			a = answer_error(CB_EUPSTREAM_ERROR,
			                 "upstream result %u does not answer this input", i);
		else
			a = batch_fn_parse_result(obj);
		ans[i] = answer_error_or_oom(a);
	}
}

/* Caches every answer (one database transaction) and answers each item's cells; takes ans[]. */
static void answer_items(batch *b, answer **ans)
{
	server *s = b->s;

	/* late results of timed-out cells are kept too */
	if (s->cache != NULL)
		cache_begin(s->cache);
	for (uint32_t i = 0; i < b->n; i++) {
		if (s->cache != NULL)
			cache_put(s->cache, b->items[i]->node.key, b->items[i]->node.keylen,
			          ans[i]);
		s->hooks.item_done(s, b->items[i], ans[i]);
		answer_unref(ans[i]);
	}
	if (s->cache != NULL)
		cache_commit(s->cache);
}

static verdict fan_out(batch *b, const http_resp *r, char *cause, size_t cap)
{
	json_error_t jerr;
	uint64_t t0 = now_ns(), t1;
	answer **ans = malloc(b->n * sizeof(*ans));
	bool arena = ans != NULL && jarena_begin();
	json_t *arr = ans != NULL ? json_loadb(r->body, r->len, 0, &jerr) : NULL;
	size_t got = json_is_array(arr) ? json_array_size(arr) : 0;
	unsigned long tree = jarena_used();

	/*
	 * The tree is read into answers and dropped before any cell is answered:
	 * answering may start other work (a submit builds JSON), which must not
	 * land in the arena.
	 */
	if (arr != NULL && got == b->n)
		read_results(b, arr, ans);
	json_decref(arr);
	if (arena)
		jarena_end();
	t1 = now_ns();
	if (ans == NULL) {
		snprintf(cause, cap, "out of memory for %u results", b->n);
		return V_TRANSIENT;
	}
	if (arr == NULL) {
		free(ans);
		/* a cut-off answer: asking again is safe (results stay for 24 h) */
		snprintf(cause, cap, "upstream sent invalid JSON (%s at line %d, column %d)",
		         jerr.text, jerr.line, jerr.column);
		b->resubmit = b->state == BATCH_SUBMITTING;
		return V_TRANSIENT;
	}
	if (got != b->n) {
		free(ans);
		job_fail(b, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream returned %zu results for a batch of %u", got,
		                         b->n));
		return V_OK;
	}
	answer_items(b, ans);
	free(ans);
	log_debug("batch %llu: %zu bytes of results (a %lu-byte tree) read in %.1f ms, answered "
	          "in %.1f ms",
	          (unsigned long long)b->seq, r->len, tree, (double)(t1 - t0) / 1e6,
	          (double)(now_ns() - t1) / 1e6);
	batch_end(b, BATCH_DONE);
	return V_OK;
}

/* ------------------------------------------------------------ requests */

static void send_submit(batch *b);
static void send_poll(batch *b);
static void response_cb(void *arg, const http_resp *r);

/* curl is writing a request of b's now: the limiter spaces the next one from here. */
static void request_sending_cb(void *arg)
{
	ratelimit_sent(((batch *)arg)->s);
}

static void start_request(batch *b, const char *method, const char *query, const char *body)
{
	server *s = b->s;
	char url[2048];
	http_opts o = {
	    .method = method,
	    .url = url,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .api_key = s->cfg.api_key,
	    .timeout_ms = (long)s->cfg.http_timeout_ms,
	    .sending = request_sending_cb,
	};

	snprintf(url, sizeof(url), "%s%s%s", s->cfg.upstream, batch_fns[b->g->fn].path, query);
	if (http_start(s->http, &o, response_cb, b, &b->http) != 0)
		job_fail(b, answer_error(CB_EINTERNAL, "cannot start an HTTP request"));
}

static void poll_timer_cb(uv_timer_t *t)
{
	batch *b = t->data;
	batch_set_state(b, BATCH_POLLING);
	ratelimit_request(b, send_poll);
}

/* Arms the timer for the next poll, or fails the job when it would outlive --job-timeout. */
static void schedule_poll(batch *b, uint64_t delay_ms)
{
	server *s = b->s;
	uint64_t elapsed = (now_ns() - b->t_submit_ns) / 1000000;

	if (elapsed >= s->cfg.job_timeout_ms) {
		job_fail(b, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream job %s still pending after %.1f s", b->job_id,
		                         (double)elapsed / 1000.0));
		return;
	}
	if (elapsed + delay_ms > s->cfg.job_timeout_ms)
		delay_ms = s->cfg.job_timeout_ms - elapsed;
	batch_set_state(b, BATCH_PENDING);
	uv_timer_start(&b->timer, poll_timer_cb, delay_ms, 0);
}

/* The first poll goes out when recent jobs of this size were done; then steps grow x1.5. */
static uint64_t first_poll_delay(batch *b)
{
	double est = b->s->poll_sched[stats_size_bucket(b->n)].aim;
	double spent = (double)(now_ns() - b->t_submit_ns) / 1e6;
	double d = (est > 0 ? est : FIRST_POLL_DEFAULT_MS) - spent;

	/*
	 * With an estimate, a miss costs one small step (5%, at least 20 ms), not a
	 * whole period. Smaller steps (2%, 5 ms) made jobs of a 10,000-cell burst,
	 * whose times jitter more than that, take 18 polls for 10.
	 */
	b->poll_step_ms = (uint64_t)(est > 0 ? est / 20 : FIRST_STEP_DEFAULT_MS);
	if (b->poll_step_ms < POLL_STEP_MIN_MS)
		b->poll_step_ms = POLL_STEP_MIN_MS;
	return d > 1 ? (uint64_t)d : 1;
}

/*
 * Steps count from the pending poll's send, not from its answer: a first poll
 * that came a little early then costs one step (20 ms) instead of a step plus
 * a round trip, which lets the schedule aim closer (pollsched.c).
 */
static uint64_t next_poll_delay(batch *b)
{
	uint64_t d =
	    b->poll_step_ms < b->s->cfg.poll_max_ms ? b->poll_step_ms : b->s->cfg.poll_max_ms;
	uint64_t next = b->poll_step_ms * 3 / 2;
	uint64_t since = (now_ns() - b->t_poll_sent_ns) / 1000000;

	b->poll_step_ms = next < b->s->cfg.poll_max_ms ? next : b->s->cfg.poll_max_ms;
	return d > since ? d - since : 1;
}

static bool pending_body(batch *b, const http_resp *r)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	json_t *id = json_object_get(j, "id");
	bool ok = json_is_string(id) && json_string_length(id) < sizeof(b->job_id);

	if (ok && b->job_id[0] == '\0')
		memcpy(b->job_id, json_string_value(id), json_string_length(id) + 1);
	json_decref(j);
	return ok;
}

static void retry_timer_cb(uv_timer_t *t)
{
	batch *b = t->data;
	bool submit = b->job_id[0] == '\0';

	batch_set_state(b, submit ? BATCH_SUBMITTING : BATCH_POLLING);
	ratelimit_request(b, submit ? send_submit : send_poll);
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

static void retry_or_fail(batch *b, const char *cause, long retry_after_s)
{
	server *s = b->s;
	uint64_t delay;

	if (b->attempts >= s->cfg.retries && b->fd_short) {
		job_fail(b, answer_error(CB_EINTERNAL,
		                         "the server ran out of file descriptors (%s) after %u "
		                         "retries",
		                         cause, b->attempts));
		return;
	}
	if (b->attempts >= s->cfg.retries) {
		job_fail(b, answer_error(CB_EUPSTREAM_ERROR, "upstream %s after %u retries", cause,
		                         b->attempts));
		return;
	}
	delay = backoff_ms(b->attempts, retry_after_s);
	b->attempts++;
	s->st.retries++;
	log_warn("batch %llu %s: %s; retry %u of %u in %llu ms", (unsigned long long)b->seq,
	         b->g->label, cause, b->attempts, (unsigned)s->cfg.retries,
	         (unsigned long long)delay);
	batch_set_state(b, BATCH_RETRY_WAIT);
	uv_timer_start(&b->timer, retry_timer_cb, delay, 0);
}

static void response_cb(void *arg, const http_resp *r)
{
	batch *b = arg;
	server *s = b->s;
	bool submit = b->state == BATCH_SUBMITTING;
	char cause[512];
	answer *a = NULL;
	verdict v;

	b->http = NULL;
	if (r->code == CURLE_OK && r->status == 200) {
		if ((v = fan_out(b, r, cause, sizeof(cause))) == V_TRANSIENT)
			retry_or_fail(b, cause, -1);
		return;
	}
	if (r->code == CURLE_OK && r->status == 202) {
		if (submit && !pending_body(b, r)) {
			job_fail(
			    b, answer_error(CB_EUPSTREAM_ERROR,
			                    "upstream accepted the batch without a job id: %.120s",
			                    r->body));
			return;
		}
		b->attempts = 0;
		b->fd_short = false;
		if (!submit)
			b->t_pend_sent_ns = b->t_poll_sent_ns;
		schedule_poll(b, submit ? first_poll_delay(b) : next_poll_delay(b));
		return;
	}
	s->st.http_errors++;
	if (classify_failure(b, r, cause, sizeof(cause), &a) == V_PERMANENT)
		job_fail(b, a);
	else
		retry_or_fail(b, cause, r->retry_after_s);
}

static void send_submit(batch *b)
{
	server *s = b->s;

	if (b->t_submit_ns == 0)
		b->t_submit_ns = now_ns();
	if (b->resubmit) {
		s->st.resubmits++;
		log_warn(
		    "batch %llu %s: resubmitting a batch whose earlier submit may have reached "
		    "the upstream (it may be billed twice)",
		    (unsigned long long)b->seq, b->g->label);
		b->resubmit = false;
	}
	s->st.submits++;
	start_request(b, "POST", b->query, b->body);
}

static void send_poll(batch *b)
{
	char query[96];

	b->polls++;
	b->s->st.polls++;
	b->t_poll_sent_ns = now_ns();
	snprintf(query, sizeof(query), "?id=%s", b->job_id);
	start_request(b, "GET", query, NULL);
}

void job_submit(batch *b)
{
	server *s = b->s;
	json_t *arr = json_array();

	s->st.batches_sent++;
	s->st.batch_items += b->n;
	s->st.size_hist[stats_size_bucket(b->n)]++;
	batch_set_state(b, BATCH_SUBMITTING);
	if (arr == NULL)
		goto oom;
	for (uint32_t i = 0; i < b->n; i++)
		if (json_array_append_new(arr, batch_fns[b->g->fn].item_json(b->items[i])) != 0)
			goto oom;
	if ((b->body = json_dumps(arr, JSON_COMPACT)) == NULL ||
	    (b->query = geoapify_query((const char *const *)b->g->opt)) == NULL)
		goto oom;
	json_decref(arr);
	ratelimit_request(b, send_submit);
	return;
oom:
	json_decref(arr);
	job_fail(b, answer_error(CB_EINTERNAL, "cannot build the upstream request"));
}
