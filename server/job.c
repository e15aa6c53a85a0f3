/* job.c: one upstream batch job per batch — submit, poll while pending, fan the results out. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "functions.h"
#include "log.h"
#include "server.h"

#define FIRST_POLL_DEFAULT_MS 200 /* before any job of this size was seen */
#define POLL_STEP_MIN_MS      20

static const char *const state_names[] = {
    [BATCH_OPEN] = "OPEN",       [BATCH_SUBMITTING] = "SUBMITTING",
    [BATCH_PENDING] = "PENDING", [BATCH_POLLING] = "POLLING",
    [BATCH_DONE] = "DONE",       [BATCH_FAILED] = "FAILED",
};

const char *batch_state_name(batch_state st)
{
	return state_names[st];
}

void batch_set_state(batch *b, batch_state st)
{
	log_debug("batch %llu %s: %s -> %s", (unsigned long long)b->seq, b->g->label,
	          state_names[b->state], state_names[st]);
	b->state = st;
}

static void batch_closed_cb(uv_handle_t *h)
{
	batch *b = h->data;
	free(b->items);
	free(b);
}

void batch_release(batch *b)
{
	server *s = b->s;

	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		s->batches = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	if (b->http != NULL) {
		http_cancel(b->http);
		b->http = NULL;
	}
	uv_close((uv_handle_t *)&b->timer, batch_closed_cb);
}

static unsigned size_bucket(uint32_t n)
{
	return stats_size_bucket(n);
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
		double *est = &s->job_ms_estimate[size_bucket(b->n)];
		/* the job ended between the last pending answer and this one */
		double lo =
		    b->t_lastpend_ns ? (double)(b->t_lastpend_ns - b->t_submit_ns) / 1e6 : 0;
		double seen = (lo + ms) / 2;
		*est = *est > 0 ? 0.7 * *est + 0.3 * seen : seen;
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
		item_finish(s, b->items[i], a);
	answer_unref(a);
	batch_end(b, BATCH_FAILED);
}

/* Geoapify's error body is {"statusCode", "error", "message"}; fall back to the raw start. */
static answer *http_failure(const http_resp *r)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	json_t *m = json_object_get(j, "message");
	answer *a;

	if (r->code != CURLE_OK)
		a = answer_error(CB_EUPSTREAM_ERROR, "upstream request failed: %s", r->error);
	else if (r->status == 401)
		a = answer_error(CB_EUPSTREAM_AUTH, "upstream rejected the API key (HTTP 401: %s)",
		                 json_is_string(m) ? json_string_value(m) : "Unauthorized");
	else if (json_is_string(m))
		a = answer_error(CB_EUPSTREAM_ERROR, "upstream HTTP %ld: %s", r->status,
		                 json_string_value(m));
	else
		a = answer_error(CB_EUPSTREAM_ERROR, "upstream HTTP %ld: %.120s", r->status,
		                 r->body);
	json_decref(j);
	return a;
}

static void fan_out(batch *b, const http_resp *r)
{
	server *s = b->s;
	json_error_t jerr;
	json_t *arr = json_loadb(r->body, r->len, 0, &jerr);
	const batch_fn *fn = &batch_fns[b->g->fn];

	if (arr == NULL) {
		job_fail(b, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream sent invalid JSON (%s at line %d, column %d)",
		                         jerr.text, jerr.line, jerr.column));
		return;
	}
	if (!json_is_array(arr) || json_array_size(arr) != b->n) {
		job_fail(b, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream returned %zu results for a batch of %u",
		                         json_is_array(arr) ? json_array_size(arr) : 0, b->n));
		json_decref(arr);
		return;
	}
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
		a = answer_error_or_oom(a);
		item_finish(s, b->items[i], a);
		answer_unref(a);
	}
	json_decref(arr);
	batch_end(b, BATCH_DONE);
}

static void poll_start(uv_timer_t *t);

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
	b->t_lastpend_ns = now_ns();
	uv_timer_start(&b->timer, poll_start, delay_ms, 0);
}

/* The first poll goes out when recent jobs of this size were done; then steps grow x1.5. */
static uint64_t first_poll_delay(batch *b)
{
	double est = b->s->job_ms_estimate[size_bucket(b->n)];
	double spent = (double)(now_ns() - b->t_submit_ns) / 1e6;
	double d = (est > 0 ? est : FIRST_POLL_DEFAULT_MS) - spent;

	b->poll_step_ms = (uint64_t)(est > 0 ? est / 8 : FIRST_POLL_DEFAULT_MS / 2);
	if (b->poll_step_ms < POLL_STEP_MIN_MS)
		b->poll_step_ms = POLL_STEP_MIN_MS;
	return d > 1 ? (uint64_t)d : 1;
}

static uint64_t next_poll_delay(batch *b)
{
	uint64_t d = b->poll_step_ms;
	uint64_t next = b->poll_step_ms * 3 / 2;

	b->poll_step_ms = next < b->s->cfg.poll_max_ms ? next : b->s->cfg.poll_max_ms;
	return d < b->s->cfg.poll_max_ms ? d : b->s->cfg.poll_max_ms;
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

static void response_cb(void *arg, const http_resp *r)
{
	batch *b = arg;
	server *s = b->s;
	bool submit = b->state == BATCH_SUBMITTING;

	b->http = NULL;
	if (r->code != CURLE_OK || (r->status != 200 && r->status != 202)) {
		s->st.http_errors++;
		job_fail(b, http_failure(r));
		return;
	}
	if (r->status == 200) {
		fan_out(b, r);
		return;
	}
	if (submit && !pending_body(b, r)) {
		job_fail(b, answer_error(CB_EUPSTREAM_ERROR,
		                         "upstream accepted the batch without a job id: %.120s",
		                         r->body));
		return;
	}
	schedule_poll(b, submit ? first_poll_delay(b) : next_poll_delay(b));
}

static int start_request(batch *b, const char *method, const char *query, const char *body,
                         size_t body_len)
{
	server *s = b->s;
	char url[2048];
	http_opts o = {
	    .method = method,
	    .url = url,
	    .body = body,
	    .body_len = body_len,
	    .api_key = s->cfg.api_key,
	    .timeout_ms = (long)s->cfg.http_timeout_ms,
	};

	snprintf(url, sizeof(url), "%s%s%s", s->cfg.upstream, batch_fns[b->g->fn].path, query);
	return http_start(s->http, &o, response_cb, b, &b->http);
}

static void poll_start(uv_timer_t *t)
{
	batch *b = t->data;
	char query[96];

	batch_set_state(b, BATCH_POLLING);
	b->polls++;
	b->s->st.polls++;
	snprintf(query, sizeof(query), "?id=%s", b->job_id);
	if (start_request(b, "GET", query, NULL, 0) != 0)
		job_fail(b, answer_error(CB_EINTERNAL, "cannot start an HTTP request"));
}

/* The options become query parameters, URL-escaped. */
static int build_query(const group *g, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		char *esc;
		int w;
		if (g->opt[i] == NULL)
			continue;
		if ((esc = curl_easy_escape(NULL, g->opt[i], 0)) == NULL)
			return -1;
		w = snprintf(out + n, cap - n, "%c%s=%s", n ? '&' : '?', cb_opt_names[i], esc);
		curl_free(esc);
		if (w < 0 || (size_t)w >= cap - n)
			return -1;
		n += (size_t)w;
	}
	return 0;
}

void job_submit(batch *b)
{
	server *s = b->s;
	json_t *arr = json_array();
	char *body = NULL;
	char query[4 * CB_OPT_COUNT * CB_TEXT_MAX];

	s->st.batches_sent++;
	s->st.batch_items += b->n;
	s->st.size_hist[stats_size_bucket(b->n)]++;
	batch_set_state(b, BATCH_SUBMITTING);
	if (arr == NULL)
		goto oom;
	for (uint32_t i = 0; i < b->n; i++)
		if (json_array_append_new(arr, batch_fns[b->g->fn].item_json(b->items[i])) != 0)
			goto oom;
	if ((body = json_dumps(arr, JSON_COMPACT)) == NULL ||
	    build_query(b->g, query, sizeof(query)))
		goto oom;
	b->t_submit_ns = now_ns();
	s->st.submits++;
	if (start_request(b, "POST", query, body, strlen(body)) != 0)
		goto oom;
	json_decref(arr);
	free(body);
	return;
oom:
	json_decref(arr);
	free(body);
	job_fail(b, answer_error(CB_EINTERNAL, "cannot build the upstream request"));
}
