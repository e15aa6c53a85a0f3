/* ratelimit.c: one GCRA rate limiter for every upstream request, submits and polls alike. */
#include "ratelimit.h"

static void rate_timer_cb(uv_timer_t *t);

/* Sends what conforms now, then arms the timer for the next waiting request. */
static void rate_pump(server *s)
{
	while (s->rate_head != NULL) {
		uint64_t wait = gcra_take(&s->limiter, now_ns());
		batch *b = s->rate_head;

		if (wait > 0) {
			/* whole milliseconds, rounded up, plus one: never early */
			uv_timer_start(&s->rate_timer, rate_timer_cb, (wait + 999999) / 1000000 + 1,
			               0);
			return;
		}
		s->rate_head = b->rnext;
		if (s->rate_head == NULL)
			s->rate_tail = NULL;
		b->in_rate_queue = false;
		b->rate_send(b);
	}
}

static void rate_timer_cb(uv_timer_t *t)
{
	rate_pump(t->data);
}

void ratelimit_request(batch *b, void (*send)(batch *b))
{
	server *s = b->s;

	b->rate_send = send;
	b->rnext = NULL;
	b->in_rate_queue = true;
	if (s->rate_tail != NULL)
		s->rate_tail->rnext = b;
	else
		s->rate_head = b;
	s->rate_tail = b;
	if (s->rate_head != b || gcra_would_wait(&s->limiter, now_ns()))
		s->st.rate_waits++;
	rate_pump(s);
}

/* The queue is short (batches, not cells), so a walk is fine. */
void ratelimit_cancel(batch *b)
{
	server *s = b->s;
	batch **pp, *prev;

	if (!b->in_rate_queue)
		return;
	for (pp = &s->rate_head, prev = NULL; *pp != b; prev = *pp, pp = &(*pp)->rnext)
		;
	*pp = b->rnext;
	if (s->rate_tail == b)
		s->rate_tail = prev;
	b->in_rate_queue = false;
}

void ratelimit_sent(server *s)
{
	gcra_sent(&s->limiter, now_ns());
}

void ratelimit_init(server *s)
{
	gcra_init(&s->limiter, s->cfg.rate, s->cfg.burst);
	uv_timer_init(s->loop, &s->rate_timer);
	s->rate_timer.data = s;
}

void ratelimit_fini(server *s)
{
	uv_close((uv_handle_t *)&s->rate_timer, NULL);
}
