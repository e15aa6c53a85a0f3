/* ratelimit.c: one GCRA rate limiter for every upstream request, submits and polls alike. */
#include "ratelimit.h"

/*
 * GCRA ("virtual scheduling"): a request at time t conforms when
 * t >= TAT - tau, and then moves TAT to max(TAT, t) + T, with T = 1/rate
 * and tau = (burst - 1) * T. Submits and polls share it, as they share the
 * upstream's limit.
 *
 * T is 2% longer than 1/rate: requests spaced exactly 1/rate apart put
 * rate + 1 of them into one closed second, and the upstream counts arrivals,
 * which network and scheduling jitter move by milliseconds (seen: 6 in one
 * second at --rate 5 --burst 1 under ASan). 2% tolerates 20 ms of jitter at 5/s.
 */
#define RATE_MARGIN 1.02

static uint64_t interval_ns(const server *s)
{
	return (uint64_t)(1e9 * RATE_MARGIN / s->cfg.rate);
}

static uint64_t tolerance_ns(const server *s)
{
	return (uint64_t)(s->cfg.burst - 1) * interval_ns(s);
}

static void rate_timer_cb(uv_timer_t *t);

/* Sends what conforms now, then arms the timer for the next waiting request. */
static void rate_pump(server *s)
{
	while (s->rate_head != NULL) {
		uint64_t now = now_ns(),
		         due = s->tat_ns > tolerance_ns(s) ? s->tat_ns - tolerance_ns(s) : 0;
		batch *b = s->rate_head;

		if (now < due) {
			/* whole milliseconds, rounded up, plus one: never early */
			uv_timer_start(&s->rate_timer, rate_timer_cb,
			               (due - now + 999999) / 1000000 + 1, 0);
			return;
		}
		s->tat_ns = (s->tat_ns > now ? s->tat_ns : now) + interval_ns(s);
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
	if (s->rate_head != b || now_ns() + tolerance_ns(s) < s->tat_ns)
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

void ratelimit_init(server *s)
{
	uv_timer_init(s->loop, &s->rate_timer);
	s->rate_timer.data = s;
}

void ratelimit_fini(server *s)
{
	uv_close((uv_handle_t *)&s->rate_timer, NULL);
}
