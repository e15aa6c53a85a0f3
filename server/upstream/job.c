/* job.c: the upstream job of one batch — its life (set-up, the one state setter, the end and the
 * close) and its results (cached, then fanned out to the items). attempt.c sends its requests. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "clock.h"
#include "functions.h"
#include "fjob.h"
#include "journal.h"
#include "job.h"
#include "job_int.h"
#include "log.h"
#include "results.h"

/* ------------------------------------------------------------ the job's life */

void job_init(job *j, upstream *u, uv_loop_t *loop, uint64_t seq, const char *label, cb_fn fn,
              const char *const *opt)
{
	*j = (job){.u = u, .seq = seq, .label = label, .fn = fn, .opt = opt, .state = BATCH_OPEN};
	uv_timer_init(loop, &j->timer);
	j->timer.data = j;
	rl_waiter_init(&j->rl);
	list_init(&j->qlink);
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
	/* a job enters these states as its request goes to the rate limiter (attempt.c) */
	if (st == BATCH_SUBMITTING || st == BATCH_POLLING)
		j->t_rl_ns = now_ns();
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

/* Whatever j waits for is called off: its request, its place in the queues, its timer. */
static void job_stop(job *j)
{
	uv_timer_stop(&j->timer);
	ratelimit_cancel(&j->rl);
	list_remove(&j->qlink);
	if (j->http != NULL) {
		http_cancel(j->http);
		j->http = NULL;
	}
	answer_unref(j->deferred);
	j->deferred = NULL;
}

void job_close(job *j, void (*closed)(job *j))
{
	job_stop(j); /* a job that ended has nothing in flight; one that never went up neither */
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
	pend = j->t_pend_sent_ns ? (double)(j->t_pend_sent_ns - j->t_sub_sent_ns) / 1e6 : 0;
	done = (double)(j->t_poll_sent_ns - j->t_sub_sent_ns) / 1e6;
	pollsched_learn(p, pend, done);
	log_debug("batch %llu: pending at %.1f ms, done at %.1f ms: next first poll at %.1f ms",
	          (unsigned long long)j->seq, pend, done, p->aim);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void job_journal_keep(job *j)
{
	journal_item *items = calloc(j->n, sizeof(*items));
	journal_job jj = {
	    .id = j->job_id, .fn = j->fn, .submitted_ms = wall_ms(), .items = items, .n = j->n};

	if (j->u->journal == NULL && j->u->fjob == NULL)
		goto out;
	if (items == NULL) {
		log_warn("batch %llu: out of memory for the job journal",
		         (unsigned long long)j->seq);
		goto out;
	}
	for (int i = 0; i < CB_OPT_COUNT; i++)
		jj.opt[i] = j->opt[i];
	for (uint32_t i = 0; i < j->n; i++)
		items[i] =
		    (journal_item){j->items[i]->key,      j->items[i]->keylen, j->items[i]->text,
		                   j->items[i]->text_len, j->items[i]->lat,    j->items[i]->lon};
	journal_add(j->u->journal, &jj);
	fjob_keep(j->u->fjob, &jj);
	j->journalled = true;
out:
	free(items);
}

/* The job is over: logged, learned from, forgotten by the journal, and reported up. */
static void job_end(job *j, batch_state st, bool keep_journal)
{
	upstream *u = j->u;
	double ms = j->t_submit_ns ? (double)(now_ns() - j->t_submit_ns) / 1e6 : 0;
	char id[sizeof(j->job_id)];
	bool forget;

	job_set_state(j, st);
	log_info("batch %llu %s: %u items, job %s, %s in %.0f ms after %u polls",
	         (unsigned long long)j->seq, j->label, j->n, j->job_id[0] ? j->job_id : "-",
	         st == BATCH_DONE ? "done" : "failed", ms, j->polls);
	if (st == BATCH_DONE && !j->resumed) {
		learn_job_time(j);
		lathist_add(&u->c.job, now_ns() - j->t_submit_ns);
	}
	/* a job stopped by shutdown is still upstream, and paid: the next start (or another
	 * instance of the fleet) polls it */
	forget = j->journalled && !keep_journal;
	snprintf(id, sizeof(id), "%s", j->job_id);
	if (forget)
		journal_remove(u->journal, id);
	u->hooks.ended(u->hooks.arg, j);
	/* after ended: the fleet's answers are stored before the job's marks on its items go */
	if (forget)
		fjob_forget(u->fjob, id);
}

void job_fail(job *j, answer *a)
{
	upstream *u = j->u;
	bool keep;

	a = answer_error_or_oom(a);
	keep = a->err == CB_ESHUTTING_DOWN;
	job_stop(j);
	log_warn("batch %llu %s: %s: %.*s", (unsigned long long)j->seq, j->label,
	         cb_err_name(a->err), (int)a->message.len, a->message.ptr);
	for (uint32_t i = 0; i < j->n; i++)
		u->hooks.item_done(u->hooks.arg, j, j->items[i], a);
	answer_unref(a);
	job_end(j, BATCH_FAILED, keep);
}

/* ------------------------------------------------------------ results */

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

verdict job_fan_out(job *j, const http_resp *r, char *cause, size_t cap)
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
	job_end(j, BATCH_DONE, false);
	return V_OK;
}
