/* dispatch.c: between batcher and upstream — the job slots (--max-jobs) and the FIFO of batches
 * waiting for one. */
#include "dispatch.h"

#include "clock.h"

void dispatch_init(dispatch *d, unsigned max_jobs)
{
	*d = (dispatch){.max_jobs = max_jobs};
	list_init(&d->queue);
}

void dispatch_slot_init(dispatch_slot *s)
{
	list_init(&s->link);
	s->held = false;
	s->start = NULL;
}

static void slot_start(dispatch *d, dispatch_slot *s)
{
	d->active++;
	s->held = true;
	lathist_add(&d->slot_wait, now_ns() - s->t_queued_ns);
	s->start(s);
}

bool dispatch_flush(dispatch *d, dispatch_slot *s, dispatch_start_cb start)
{
	s->start = start;
	s->t_queued_ns = now_ns();
	if (d->active < d->max_jobs && list_empty(&d->queue)) {
		slot_start(d, s);
		return true;
	}
	list_push_back(&d->queue, &s->link);
	d->waiting++;
	return false;
}

void dispatch_release(dispatch *d, dispatch_slot *s)
{
	list_node *n;

	if (dispatch_is_queued(s)) {
		list_remove(&s->link);
		d->waiting--;
	}
	if (!s->held)
		return;
	s->held = false;
	d->active--;
	while (d->active < d->max_jobs && (n = list_pop_front(&d->queue)) != NULL) {
		d->waiting--;
		slot_start(d, list_entry(n, dispatch_slot, link));
	}
}
