/* test_pipeline.c: the pipeline's plain parts on their own — the intrusive list, the dispatcher's
 * job slots, and the batch window's arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dispatch.h"
#include "list.h"
#include "quota.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(list_keeps_order_and_unlinks),
	    cmocka_unit_test(dispatch_starts_in_fifo_order),
	    cmocka_unit_test(dispatch_newcomer_waits_behind_the_queue),
	    cmocka_unit_test(window_closes_at_the_earlier_deadline),
	    cmocka_unit_test(quota_needs_a_persisting_streak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
