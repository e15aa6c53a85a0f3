/* window.c: one batch's life in the batcher — its window opens with the first item, closes on
 * batch-wait, batch-idle or batch-max, waits for a job slot, and ends when its job does. */
#include <stdlib.h>

#include "window.h"
#include "clock.h"
#include "log.h"

static void window_cb(uv_timer_t *t);

bool batch_reserve(batch *b)
{
	job_item **ni;

	if (b->n < b->cap)
		return true;
	if ((ni = realloc(b->items, 2 * b->cap * sizeof(*ni))) == NULL)
		return false;
	b->items = ni;
	b->cap *= 2;
	return true;
}

batch *batch_open(window_set *ws, group *g)
{
	batch *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->cap = 16;
	if ((b->items = malloc(b->cap * sizeof(*b->items))) == NULL) {
		free(b);
		return NULL;
	}
	b->ws = ws;
	b->g = g;
	/* created OPEN: the one state not reached through job_set_state */
	job_init(&b->job, ws->u, ws->loop, ++ws->seq, g->label, g->fn, (const char *const *)g->opt);
	dispatch_slot_init(&b->slot);
	b->t_open_ns = now_ns();
	b->t_first_ms = b->t_last_ms = b->t_open_ns / 1000000;
	uv_timer_init(ws->loop, &b->window);
	b->window.data = b;
	b->open_handles = 2;
	list_push_back(&ws->batches, &b->link);
	g->open = b;
	uv_timer_start(
	    &b->window, window_cb,
	    ws->batch_idle_ms < ws->batch_wait_ms ? ws->batch_idle_ms : ws->batch_wait_ms, 0);
	return b;
}

/*
 * One timer per open batch, armed for the earlier of its two deadlines and
 * re-armed when arrivals moved the idle deadline: no timer restart per call.
 */
static void window_cb(uv_timer_t *t)
{
	batch *b = t->data;
	window_set *ws = b->ws;
	uint64_t now = now_ns() / 1000000;
	bool on_idle;
	uint64_t due =
	    window_due(b->t_first_ms, b->t_last_ms, ws->batch_wait_ms, ws->batch_idle_ms, &on_idle);

	if (now >= due && on_idle) {
		/* calls may be waiting in the ingress queue behind a busy loop turn */
		ws->poll_input(ws->input_arg);
		if (job_state(&b->job) != BATCH_OPEN)
			return; /* they filled it, and it left on batch-max */
		now = now_ns() / 1000000;
		due = window_due(b->t_first_ms, b->t_last_ms, ws->batch_wait_ms, ws->batch_idle_ms,
		                 &on_idle);
	}
	if (now >= due) {
		log_debug("batch %llu %s: window closed with %u items (%s)",
		          (unsigned long long)b->job.seq, b->g->label, b->n,
		          on_idle ? "batch-idle" : "batch-wait");
		batch_flush(b);
	} else {
		uv_timer_start(&b->window, window_cb, due - now, 0);
	}
}

/* A job slot is b's: it stops filling and goes upstream. */
static void batch_start_cb(dispatch_slot *s)
{
	batch *b = list_entry(s, batch, slot);

	if (b->g->open == b)
		b->g->open = NULL;
	b->t_flush_ns = now_ns(); /* a call's wait_ms runs until its batch leaves */
	job_submit(&b->job, b->items, b->n);
}

void batch_flush(batch *b)
{
	uv_timer_stop(&b->window);
	if (b->n == 0) {
		batch_release(b);
		return;
	}
	lathist_add(&b->ws->window, now_ns() - b->t_open_ns);
	if (b->n >= b->ws->batch_max && b->g->open == b)
		b->g->open = NULL;
	/* while it waits for a slot it stays its group's open batch and keeps filling */
	if (!dispatch_flush(b->ws->d, &b->slot, batch_start_cb))
		job_set_state(&b->job, BATCH_QUEUED);
}

static void batch_free(batch *b)
{
	if (--b->open_handles > 0)
		return;
	free(b->items);
	free(b);
}

static void batch_window_closed_cb(uv_handle_t *h)
{
	batch_free(h->data);
}

static void batch_job_closed_cb(job *j)
{
	batch_free(list_entry(j, batch, job));
}

void batch_release(batch *b)
{
	list_remove(&b->link);
	if (b->g->open == b)
		b->g->open = NULL;
	dispatch_release(b->ws->d, &b->slot);
	uv_close((uv_handle_t *)&b->window, batch_window_closed_cb);
	job_close(&b->job, batch_job_closed_cb);
}

/* A slot again for a job that waited to retry. */
static void batch_resume_cb(dispatch_slot *s)
{
	job_retry(&list_entry(s, batch, slot)->job);
}

void batch_retry_wait(batch *b)
{
	dispatch_release(b->ws->d, &b->slot);
}

void batch_retry_ready(batch *b)
{
	dispatch_flush(b->ws->d, &b->slot, batch_resume_cb);
}
