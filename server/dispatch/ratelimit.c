/* ratelimit.c: one GCRA rate limiter for every upstream request, submits and polls alike. */
#include "ratelimit.h"

#include "clock.h"

static void rate_timer_cb(uv_timer_t *t);

/* Sends what conforms now, then arms the timer for the next waiting request. */
static void rate_pump(ratelimit *rl)
{
	list_node *n;

	while ((n = list_first(&rl->queue)) != NULL) {
		uint64_t wait = gcra_take(&rl->g, now_ns());
		rl_waiter *w = list_entry(n, rl_waiter, link);

		if (wait > 0) {
			/* whole milliseconds, rounded up, plus one: never early */
			uv_timer_start(&rl->timer, rate_timer_cb, (wait + 999999) / 1000000 + 1, 0);
			return;
		}
		list_remove(n);
		w->send(w);
	}
}

static void rate_timer_cb(uv_timer_t *t)
{
	rate_pump(t->data);
}

void rl_waiter_init(rl_waiter *w)
{
	list_init(&w->link);
	w->send = NULL;
}

void ratelimit_request(ratelimit *rl, rl_waiter *w, void (*send)(rl_waiter *w))
{
	w->send = send;
	if (!list_empty(&rl->queue) || gcra_would_wait(&rl->g, now_ns()))
		rl->waits++;
	list_push_back(&rl->queue, &w->link);
	rate_pump(rl);
}

void ratelimit_cancel(rl_waiter *w)
{
	list_remove(&w->link);
}

#define CALM_NS      (60ull * 1000000000) /* no burst for a minute after a 429 */
#define SLOWEST_PART 16                   /* the rate never drops below 1/16 of --rate */

static void rate_apply(ratelimit *rl)
{
	gcra_set(&rl->g, rl->rate_now, now_ns() < rl->calm_at_ns ? 1 : rl->burst);
}

void ratelimit_slow_down(ratelimit *rl)
{
	rl->rate_now /= 2;
	if (rl->rate_now < rl->rate / SLOWEST_PART)
		rl->rate_now = rl->rate / SLOWEST_PART;
	rl->calm_at_ns = now_ns() + CALM_NS;
	rate_apply(rl);
}

void ratelimit_recover(ratelimit *rl)
{
	if (rl->rate_now >= rl->rate && now_ns() >= rl->calm_at_ns)
		return;
	rl->rate_now += rl->rate / 10;
	if (rl->rate_now > rl->rate)
		rl->rate_now = rl->rate;
	rate_apply(rl);
}

void ratelimit_sent(ratelimit *rl)
{
	gcra_sent(&rl->g, now_ns());
}

void ratelimit_init(ratelimit *rl, uv_loop_t *loop, double rate, uint64_t burst)
{
	gcra_init(&rl->g, rate, burst);
	rl->rate = rl->rate_now = rate;
	rl->burst = burst;
	rl->calm_at_ns = 0;
	list_init(&rl->queue);
	rl->waits = 0;
	uv_timer_init(loop, &rl->timer);
	rl->timer.data = rl;
}

void ratelimit_fini(ratelimit *rl)
{
	uv_close((uv_handle_t *)&rl->timer, NULL);
}
