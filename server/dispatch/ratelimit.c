/* ratelimit.c: one GCRA rate limiter for every upstream request, submits and polls alike. */
#include "ratelimit.h"

#include "clock.h"

#include "log.h"

static void rate_timer_cb(uv_timer_t *t);
static void rate_remote_done_cb(void *arg, int64_t wait_ns);

/*
 * With the fleet deciding: asks it for the first waiter's token, one ask at
 * a time, none while the timer waits for the fleet's "not yet". Returns true
 * when the fleet has it in hand, false when the local GCRA must decide.
 */
static bool rate_ask_fleet(ratelimit *rl)
{
	if (!rl->fleet)
		return false;
	if (rl->asking || uv_is_active((uv_handle_t *)&rl->timer))
		return true;
	if (rl->remote.take(rl->remote.ctx, rate_remote_done_cb, rl) == 0) {
		rl->asking = true;
		return true;
	}
	ratelimit_set_fleet(rl, false, "Redis is not ready");
	return false;
}

/* Sends what conforms now, then arms the timer for the next waiting request. */
static void rate_pump(ratelimit *rl)
{
	list_node *n;

	while ((n = list_first(&rl->queue)) != NULL) {
		uint64_t wait;
		rl_waiter *w = list_entry(n, rl_waiter, link);

		if (rate_ask_fleet(rl))
			return;
		wait = gcra_take(&rl->g, now_ns());

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

/* The fleet's answer to the first waiter's ask. */
static void rate_remote_done_cb(void *arg, int64_t wait_ns)
{
	ratelimit *rl = arg;
	list_node *n;

	rl->asking = false;
	if (wait_ns < 0) {
		ratelimit_set_fleet(rl, false, "Redis did not answer");
	} else if (wait_ns > 0) {
		/* whole milliseconds, rounded up, plus one: never early */
		uv_timer_start(&rl->timer, rate_timer_cb,
		               ((uint64_t)wait_ns + 999999) / 1000000 + 1, 0);
		return;
	} else if ((n = list_first(&rl->queue)) != NULL) {
		/* the token is the queue's first: a waiter cancelled meanwhile left it to the next
		 */
		list_remove(n);
		list_entry(n, rl_waiter, link)->send(list_entry(n, rl_waiter, link));
	}
	rate_pump(rl);
}

void ratelimit_set_remote(ratelimit *rl, const rl_remote *remote, double local_rate)
{
	rl->remote = *remote;
	rl->local_rate = local_rate;
	rl->fleet = false; /* until the remote says it is ready */
	gcra_set(&rl->g, local_rate, 1);
}

void ratelimit_set_fleet(ratelimit *rl, bool up, const char *why)
{
	if (rl->remote.take == NULL || rl->fleet == up)
		return;
	rl->fleet = up;
	rl->switches++;
	uv_timer_stop(&rl->timer);
	if (up) {
		log_info("rate limit: the fleet's, on Redis (%s)", why);
	} else {
		/* the fleet may have granted this instance a token just now: the first local
		 * request goes one local interval later */
		log_warn("rate limit: local at %g/s until Redis returns (%s)", rl->local_rate, why);
		gcra_set(&rl->g, rl->local_rate, 1);
		gcra_restart(&rl->g, now_ns());
	}
	rate_pump(rl);
}

void rl_waiter_init(rl_waiter *w)
{
	list_init(&w->link);
	w->send = NULL;
	w->kind = RL_POLL;
}

void ratelimit_request(ratelimit *rl, rl_waiter *w, rl_kind kind, void (*send)(rl_waiter *w))
{
	list_node *n;

	w->send = send;
	w->kind = kind;
	if (!list_empty(&rl->queue) || gcra_would_wait(&rl->g, now_ns()))
		rl->waits++;
	/* the queue is short (a waiter per job): a walk from the back is cheap */
	for (n = rl->queue.prev; n != &rl->queue; n = n->prev)
		if (list_entry(n, rl_waiter, link)->kind <= kind)
			break;
	list_push_front(n, &w->link); /* just after n */
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
	if (rl->remote.take != NULL)
		return; /* the fleet's rate, or the fallback's share of it, stays */
	gcra_set(&rl->g, rl->rate_now, now_ns() < rl->calm_at_ns ? 1 : rl->burst);
}

/*
 * The first answer to a burst is the burst's: it alone goes (burst 1, the
 * next request one interval from now, since the refused ones did not count
 * upstream) and the rate stays. A 429 to a request sent without burst halves
 * the rate. Against an upstream spacing requests 1/rate apart, halving at
 * once made the first second of 20,000 cells cost 1 s of idle line and a ramp.
 */
void ratelimit_slow_down(ratelimit *rl, uint64_t sent_ns)
{
	uint64_t now = now_ns();
	bool bursting = now >= rl->calm_at_ns && rl->burst > 1;

	rl->calm_at_ns = now + CALM_NS;
	if (rl->fleet)
		rl->remote.slow(rl->remote.ctx, now > sent_ns ? now - sent_ns : 0);
	if (sent_ns < rl->slowed_ns) {
		rate_apply(rl);
		return;
	}
	rl->slowed_ns = now;
	if (!bursting) {
		rl->rate_now /= 2;
		if (rl->rate_now < rl->rate / SLOWEST_PART)
			rl->rate_now = rl->rate / SLOWEST_PART;
	}
	rate_apply(rl);
	gcra_restart(&rl->g, now);
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
	if (rl->fleet)
		rl->remote.sent(rl->remote.ctx);
}

void ratelimit_init(ratelimit *rl, uv_loop_t *loop, double rate, uint64_t burst)
{
	gcra_init(&rl->g, rate, burst);
	rl->rate = rl->rate_now = rate;
	rl->burst = burst;
	rl->calm_at_ns = rl->slowed_ns = 0;
	list_init(&rl->queue);
	rl->waits = 0;
	rl->remote = (rl_remote){0};
	rl->fleet = rl->asking = false;
	rl->local_rate = rate;
	rl->switches = 0;
	uv_timer_init(loop, &rl->timer);
	rl->timer.data = rl;
}

void ratelimit_fini(ratelimit *rl)
{
	uv_close((uv_handle_t *)&rl->timer, NULL);
}
