/* dispatch.c: between batcher and upstream — the job slots (--max-jobs) and the FIFO of batches
 * waiting for one. */
#include "dispatch.h"
#include "job.h"
#include "log.h"

static void start_job(batch *b)
{
	server *s = b->s;

	s->jobs_active++;
	b->has_slot = true;
	if (b->g->open == b)
		b->g->open = NULL; /* it stops filling once it leaves */
	lathist_add(&s->st.slot_wait, now_ns() - b->t_flush_ns);
	b->t_flush_ns = now_ns(); /* a cell's wait_ms runs until its batch leaves */
	job_submit(b);
}

void dispatch_flush(batch *b)
{
	server *s = b->s;

	b->t_flush_ns = now_ns();
	if (s->jobs_active < s->cfg.max_jobs && s->slot_head == NULL) {
		start_job(b);
		return;
	}
	batch_set_state(b, BATCH_QUEUED);
	b->qnext = NULL;
	b->in_slot_queue = true;
	if (s->slot_tail != NULL)
		s->slot_tail->qnext = b;
	else
		s->slot_head = b;
	s->slot_tail = b;
}

void dispatch_release(batch *b)
{
	server *s = b->s;

	if (!b->has_slot)
		return;
	b->has_slot = false;
	s->jobs_active--;
	while (s->jobs_active < s->cfg.max_jobs && s->slot_head != NULL) {
		batch *next = s->slot_head;
		s->slot_head = next->qnext;
		if (s->slot_head == NULL)
			s->slot_tail = NULL;
		next->in_slot_queue = false;
		start_job(next);
	}
}

/* The queue is short (batches, not cells), so a walk is fine. */
static void slot_cancel(batch *b)
{
	server *s = b->s;
	batch **pp, *prev;

	if (!b->in_slot_queue)
		return;
	for (pp = &s->slot_head, prev = NULL; *pp != b; prev = *pp, pp = &(*pp)->qnext)
		;
	*pp = b->qnext;
	if (s->slot_tail == b)
		s->slot_tail = prev;
	b->in_slot_queue = false;
}

void dispatch_batch_ended(batch *b)
{
	slot_cancel(b);
	dispatch_release(b);
}
