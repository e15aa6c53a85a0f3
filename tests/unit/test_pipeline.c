/* test_pipeline.c: the pipeline's plain parts on their own — the intrusive list, the dispatcher's
 * job slots, the batch window's arithmetic, the quota streak and the limiter's answer to 429s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dispatch.h"
#include "list.h"
#include "clock.h"
#include "quota.h"
#include "ratelimit.h"
#include "recent.h"
#include "window.h"

typedef struct thing {
	int id;
	list_node link;
} thing;

static void list_keeps_order_and_unlinks(void **state)
{
	list_node l, *n, *tmp;
	thing t[4] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}};
	int seen[4], k = 0;
	(void)state;

	list_init(&l);
	assert_true(list_empty(&l));
	assert_null(list_first(&l));
	for (int i = 0; i < 4; i++) {
		list_init(&t[i].link);
		assert_false(list_linked(&t[i].link));
		list_push_back(&l, &t[i].link);
	}
	list_remove(&t[2].link);
	list_remove(&t[2].link); /* twice: harmless */
	assert_false(list_linked(&t[2].link));
	list_each_safe(&l, n, tmp)
	{
		seen[k++] = list_entry(n, thing, link)->id;
		if (k == 1)
			list_remove(n); /* removing the node being visited */
	}
	assert_int_equal(k, 3);
	assert_int_equal(seen[0], 0);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 3);
	assert_ptr_equal(list_pop_front(&l), &t[1].link);
	assert_ptr_equal(list_pop_front(&l), &t[3].link);
	assert_null(list_pop_front(&l));
	assert_true(list_empty(&l));
}

/* Slots started, in order. */
static dispatch_slot *started[16];
static int nstarted;

static void start_cb(dispatch_slot *s)
{
	started[nstarted++] = s;
}

static void dispatch_starts_in_fifo_order(void **state)
{
	dispatch d;
	dispatch_slot s[5];
	(void)state;

	nstarted = 0;
	dispatch_init(&d, 2);
	for (int i = 0; i < 5; i++)
		dispatch_slot_init(&s[i]);
	assert_true(dispatch_flush(&d, &s[0], start_cb)); /* inline */
	assert_true(dispatch_flush(&d, &s[1], start_cb));
	assert_false(dispatch_flush(&d, &s[2], start_cb)); /* both slots taken */
	assert_false(dispatch_flush(&d, &s[3], start_cb));
	assert_false(dispatch_flush(&d, &s[4], start_cb));
	assert_int_equal(nstarted, 2);
	assert_int_equal(dispatch_active(&d), 2);
	assert_int_equal(dispatch_waiting(&d), 3);
	assert_true(dispatch_is_queued(&s[3]));

	dispatch_release(&d, &s[3]); /* gives up while waiting: no slot freed, nobody started */
	assert_int_equal(nstarted, 2);
	assert_int_equal(dispatch_waiting(&d), 2);
	assert_false(dispatch_is_queued(&s[3]));

	dispatch_release(&d, &s[0]); /* frees a slot: the oldest waiter starts, inline */
	assert_int_equal(nstarted, 3);
	assert_ptr_equal(started[2], &s[2]);
	dispatch_release(&d, &s[0]); /* twice: nothing more */
	assert_int_equal(dispatch_active(&d), 2);
	dispatch_release(&d, &s[1]);
	assert_ptr_equal(started[3], &s[4]);
	assert_int_equal(dispatch_waiting(&d), 0);
	dispatch_release(&d, &s[2]);
	dispatch_release(&d, &s[4]);
	assert_int_equal(dispatch_active(&d), 0);
	assert_int_equal(dispatch_slot_wait(&d)->count, 4);
}

/* A newcomer never overtakes a waiter, even when a slot is free at that moment. */
static void dispatch_newcomer_waits_behind_the_queue(void **state)
{
	dispatch d;
	dispatch_slot s[3];
	(void)state;

	nstarted = 0;
	dispatch_init(&d, 1);
	for (int i = 0; i < 3; i++)
		dispatch_slot_init(&s[i]);
	assert_true(dispatch_flush(&d, &s[0], start_cb));
	assert_false(dispatch_flush(&d, &s[1], start_cb));
	d.max_jobs = 2; /* a free slot, and a waiter */
	assert_false(dispatch_flush(&d, &s[2], start_cb));
	assert_int_equal(nstarted, 1);
}

static void window_closes_at_the_earlier_deadline(void **state)
{
	bool idle;
	(void)state;

	/* first call at 1000, last at 1010; wait 100, idle 20 */
	assert_int_equal(window_due(1000, 1010, 100, 20, &idle), 1030);
	assert_true(idle);
	/* calls kept coming: the idle deadline passed the wait one */
	assert_int_equal(window_due(1000, 1090, 100, 20, &idle), 1100);
	assert_false(idle);
	/* equal deadlines count as batch-wait */
	assert_int_equal(window_due(1000, 1080, 100, 20, &idle), 1100);
	assert_false(idle);
	/* idle longer than wait (idle off): wait always decides */
	assert_int_equal(window_due(0, 0, 50, 1000, &idle), 50);
	assert_false(idle);
}

#define S 1000000000ull /* a second in ns */

/* Quota words are believed only when they persist: three or more over the confirm time. */
static void quota_needs_a_persisting_streak(void **state)
{
	quota q;
	(void)state;

	quota_init(&q, 10000, 300000);
	assert_false(quota_seen(&q, 1 * S));
	assert_false(quota_seen(&q, 2 * S));
	assert_false(quota_seen(&q, 5 * S));  /* three, but over 4 s only */
	quota_ok(&q);                         /* an answer between: a per-second limit */
	assert_false(quota_seen(&q, 12 * S)); /* the streak starts over */
	assert_false(quota_seen(&q, 20 * S));
	assert_false(quota_paused(&q, 20 * S));
	assert_true(quota_seen(&q, 22 * S)); /* three over 10 s */
	assert_true(quota_paused(&q, 22 * S));
	assert_true(quota_paused(&q, 321 * S));
	assert_false(quota_seen(&q, 30 * S)); /* a late answer does not extend the pause */
	assert_int_equal(q.pauses, 1);
	assert_false(quota_paused(&q, 322 * S)); /* the pause is over: a probe may go */
	assert_true(quota_seen(&q, 323 * S));    /* the probe failed: paused again at once */
	assert_true(quota_paused(&q, 600 * S));
	assert_int_equal(q.pauses, 2);
	quota_ok(&q); /* a probe passed */
	assert_false(quota_paused(&q, 600 * S));
	assert_false(quota_seen(&q, 700 * S)); /* and one quota answer is a streak of one again */
}

/*
 * 429s: the first to a burst takes the burst away and keeps the rate; one to a
 * request sent without burst halves it; one to a request written before the
 * last slow-down changes nothing; answers bring the rate back a tenth at a time.
 */
static void ratelimit_blames_the_burst_first(void **state)
{
	uv_loop_t loop;
	ratelimit rl;
	uint64_t before;
	(void)state;

	assert_int_equal(uv_loop_init(&loop), 0);
	ratelimit_init(&rl, &loop, 5, 5);
	before = now_ns();
	ratelimit_slow_down(&rl, before);
	assert_true(rl.rate_now == 5);
	assert_int_equal(rl.g.tolerance_ns, 0); /* burst 1 */
	ratelimit_slow_down(&rl, before);       /* the same burst's other refusals */
	assert_true(rl.rate_now == 5);
	ratelimit_slow_down(&rl, now_ns()); /* spaced, and still refused */
	assert_true(rl.rate_now == 2.5);
	ratelimit_slow_down(&rl, before);
	assert_true(rl.rate_now == 2.5);
	for (int i = 0; i < 3; i++)
		ratelimit_slow_down(&rl, now_ns() + 1);
	assert_true(rl.rate_now == 5.0 / 16); /* never below a sixteenth */
	for (int i = 0; i < 20; i++)
		ratelimit_recover(&rl);
	assert_true(rl.rate_now == 5);
	assert_int_equal(rl.g.tolerance_ns, 0); /* the burst waits for the calm minute */
	ratelimit_fini(&rl);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static int sent_inline;

static void count_send(rl_waiter *w)
{
	(void)w;
	sent_inline++;
}

/* Repeats first, then submits, then polls; first come first within a kind. */
static void ratelimit_queues_by_kind(void **state)
{
	static const rl_kind kinds[] = {RL_SUBMIT, RL_POLL, RL_SUBMIT, RL_AGAIN, RL_POLL, RL_AGAIN};
	static const int order[] = {3, 5, 0, 2, 1, 4};
	enum { N = sizeof(kinds) / sizeof(kinds[0]) };
	uv_loop_t loop;
	ratelimit rl;
	rl_waiter first, w[N];
	list_node *n;
	int k = 0;
	(void)state;

	assert_int_equal(uv_loop_init(&loop), 0);
	ratelimit_init(&rl, &loop, 0.001, 1); /* one now, the next in 1000 s */
	rl_waiter_init(&first);
	ratelimit_request(&rl, &first, RL_POLL, count_send);
	assert_int_equal(sent_inline, 1);
	for (int i = 0; i < N; i++) {
		rl_waiter_init(&w[i]);
		ratelimit_request(&rl, &w[i], kinds[i], count_send);
	}
	assert_int_equal(sent_inline, 1);
	for (n = rl.queue.next; n != &rl.queue; n = n->next, k++)
		assert_ptr_equal(list_entry(n, rl_waiter, link), &w[order[k]]);
	assert_int_equal(k, N);
	for (int i = 0; i < N; i++)
		ratelimit_cancel(&w[i]);
	ratelimit_fini(&rl);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* The last minute of a latency histogram: the start's zeros, then the newest snapshot a minute old.
 */
static void recent_is_the_last_minute(void **state)
{
	static recent r;
	static lathist cum;
	recent_view v;
	(void)state;

	recent_init(&r, 1 * S);
	for (int i = 0; i < 100; i++)
		lathist_add(&cum, 1000000); /* 1 ms */
	recent_update(&r, &cum, 5 * S, &v);
	assert_int_equal(v.h.count, 100);
	assert_true(v.window_s == 4);
	recent_update(&r, &cum, 15 * S, &v); /* a snapshot: 100 so far */
	for (int i = 0; i < 10; i++)
		lathist_add(&cum, 100000000); /* 100 ms */
	recent_update(&r, &cum, 70 * S, &v);  /* nothing a minute old but the start */
	assert_int_equal(v.h.count, 110);
	assert_true(v.window_s == 69);
	recent_update(&r, &cum, 80 * S, &v); /* the 15 s snapshot is 65 s old now */
	assert_int_equal(v.h.count, 10);
	assert_true(v.window_s == 65);
	assert_true(lathist_pct(&v.h, 50) > 90 && lathist_pct(&v.h, 50) < 110);
	for (int t = 90; t < 1000; t += 10) /* round and round the ring, nothing new */
		recent_update(&r, &cum, (uint64_t)t * S, &v);
	assert_int_equal(v.h.count, 0);
	assert_true(v.window_s >= 60 && v.window_s < 80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(list_keeps_order_and_unlinks),
	    cmocka_unit_test(dispatch_starts_in_fifo_order),
	    cmocka_unit_test(dispatch_newcomer_waits_behind_the_queue),
	    cmocka_unit_test(window_closes_at_the_earlier_deadline),
	    cmocka_unit_test(quota_needs_a_persisting_streak),
	    cmocka_unit_test(ratelimit_blames_the_burst_first),
	    cmocka_unit_test(ratelimit_queues_by_kind),
	    cmocka_unit_test(recent_is_the_last_minute),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
