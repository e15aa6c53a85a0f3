/* test_fleetparts.c: the fleet's plain parts on their own — --redis's URL, a cache row as the
 * bytes Redis keeps (and damage to them), a journalled job's record (and damage), the results
 * channel's records, the fallback's share of
 * the rate, and the limiter's switch between the fleet and its local fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "fleet.h"
#include "fmsg.h"
#include "jobbytes.h"
#include "ratelimit.h"
#include "rowbytes.h"
#include "rurl.h"

static void urls_read_and_refused(void **state)
{
	rurl u;
	char why[200];
	(void)state;

	memset(&u, 0, sizeof(u));
	assert_int_equal(rurl_parse(&u, "redis://127.0.0.1:6380/2", why, sizeof(why)), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 2);
	memset(&u, 0, sizeof(u));
	assert_int_equal(rurl_parse(&u, "redis://cache", why, sizeof(why)), 0);
	assert_int_equal(u.port, 6379);
	memset(&u, 0, sizeof(u));
	assert_int_equal(rurl_parse(&u, "unix:///run/redis.sock?db=3", why, sizeof(why)), 0);
	assert_string_equal(u.path, "/run/redis.sock");
	assert_int_equal(u.db, 3);
	assert_int_not_equal(rurl_check("rediss://h:6380", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "TLS"));
	assert_int_not_equal(rurl_check("redis://h:0", why, sizeof(why)), 0);
	assert_int_not_equal(rurl_check("redis://h:99999", why, sizeof(why)), 0);
	assert_int_not_equal(rurl_check("redis://:6379", why, sizeof(why)), 0);
	assert_int_not_equal(rurl_check("redis://h/x", why, sizeof(why)), 0);
	assert_int_not_equal(rurl_check("unix://relative", why, sizeof(why)), 0);
	assert_int_not_equal(rurl_check("http://h", why, sizeof(why)), 0);
}

static void rows_round_trip_and_damage_is_a_miss(void **state)
{
	double conf = 0.9;
	answer *a = answer_result(48.85, 2.29, "Tour Eiffel", 11, &conf, "amenity", 7), *b;
	answer *nf = answer_error(CB_ENOT_FOUND, "none");
	char buf[256];
	size_t n = rowbytes_encode("k1", 2, a, 5000, buf, sizeof(buf));
	uint64_t exp = 0;
	rowbytes_rc rc;
	(void)state;

	assert_true(n > 0 && n < sizeof(buf));
	assert_non_null(b = rowbytes_decode("k1", 2, buf, n, 1000, &exp, &rc));
	assert_int_equal(rc, ROWBYTES_OK);
	assert_int_equal(exp, 5000);
	assert_int_equal(b->err, CB_OK);
	assert_true(b->result.lat == 48.85 && b->result.lon == 2.29);
	assert_memory_equal(b->result.formatted.ptr, "Tour Eiffel", 11);
	answer_unref(b);
	/* every byte changed alone is caught; another key's row is not this key's */
	for (size_t i = 0; i < n; i++) {
		buf[i] ^= 0x20;
		assert_null(rowbytes_decode("k1", 2, buf, n, 1000, &exp, &rc));
		assert_int_equal(rc, ROWBYTES_CORRUPT);
		buf[i] ^= 0x20;
	}
	assert_null(rowbytes_decode("k2", 2, buf, n, 1000, &exp, &rc));
	assert_null(rowbytes_decode("k1", 2, buf, n - 1, 1000, &exp, &rc));
	assert_null(rowbytes_decode("k1", 2, buf, n, 5000, &exp, &rc));
	assert_int_equal(rc, ROWBYTES_EXPIRED);
	n = rowbytes_encode("k1", 2, nf, 5000, buf, sizeof(buf));
	assert_non_null(b = rowbytes_decode("k1", 2, buf, n, 1000, &exp, &rc));
	assert_int_equal(b->err, CB_ENOT_FOUND);
	answer_unref(b);
	answer_unref(nf);
	nf = answer_error(CB_ETIMEOUT, "x");
	assert_int_equal(rowbytes_encode("k1", 2, nf, 5000, buf, sizeof(buf)), 0);
	answer_unref(nf);
	answer_unref(a);
}

/* A job as Redis's journal keeps it comes back whole; any byte changed, or a cut, is refused. */
static void job_records_round_trip_and_damage_is_refused(void **state)
{
	journal_item items[2] = {{"k1", 2, "1 Rue A", 7, 0, 0}, {"k2", 2, "2 Rue B", 7, 0, 0}};
	journal_job j = {
	    .id = "job-7f", .fn = CB_FN_GEOCODE, .submitted_ms = 1234, .items = items, .n = 2};
	jobbytes_view *v = calloc(1, sizeof(*v));
	size_t len;
	char *rec;
	(void)state;

	j.opt[0] = "fr";
	assert_non_null(rec = jobbytes_pack(&j, &len));
	assert_true(jobbytes_unpack(rec, len, v));
	assert_string_equal(v->j.id, "job-7f");
	assert_int_equal(v->j.fn, CB_FN_GEOCODE);
	assert_int_equal(v->j.submitted_ms, 1234);
	assert_string_equal(v->j.opt[0], "fr");
	assert_null(v->j.opt[1]);
	assert_int_equal(v->j.n, 2);
	assert_memory_equal(v->j.items[1].key, "k2", 2);
	assert_memory_equal(v->j.items[1].text, "2 Rue B", 7);
	jobbytes_view_fini(v);
	for (size_t i = 0; i < len; i++) {
		rec[i] ^= 0x01;
		assert_false(jobbytes_unpack(rec, len, v));
		jobbytes_view_fini(v);
		rec[i] ^= 0x01;
	}
	assert_false(jobbytes_unpack(rec, len - 1, v));
	jobbytes_view_fini(v);
	free(rec);
	free(v);
}

static void records_round_trip_and_stop_at_damage(void **state)
{
	fmsg_rec in[2] = {{"key-a", 5, "val", 3}, {"key-b", 5, NULL, 0}}, r;
	size_t len, off = 0;
	char *m = fmsg_pack(in, sizeof(in[0]), 2, &len);
	(void)state;

	assert_true(fmsg_next(m, len, &off, &r));
	assert_memory_equal(r.key, "key-a", 5);
	assert_int_equal(r.vlen, 3);
	assert_true(fmsg_next(m, len, &off, &r));
	assert_null(r.val);
	assert_false(fmsg_next(m, len, &off, &r));
	off = 0;
	assert_true(fmsg_next(m, len - 1, &off, &r));
	assert_false(fmsg_next(m, len - 1, &off, &r)); /* the cut one is not read */
	free(m);
}

static void fallback_share_fits_the_window(void **state)
{
	(void)state;
	/* 5/s over 3: 1.67/s would put 2 of each into some second (6); whole requests: 1 each */
	assert_true(fleet_local_rate(5, 3) == 1);
	assert_true(fleet_local_rate(5, 1) == 5);
	assert_true(fleet_local_rate(100, 3) == 33);
	assert_true(fleet_local_rate(2, 3) < 1);
}

/* A fake fleet: takes are kept for the test to answer. */
static void (*pending_done)(void *, int64_t);
static void *pending_rl;
static int takes, sent_told, sends, slows;
static uint64_t slow_age_ns;

static int fake_take(void *ctx, void (*done)(void *rl, int64_t wait_ns), void *rl)
{
	(void)ctx;
	takes++;
	pending_done = done;
	pending_rl = rl;
	return 0;
}

static void fake_sent(void *ctx)
{
	(void)ctx;
	sent_told++;
}

static void fake_slow(void *ctx, uint64_t age_ns)
{
	(void)ctx;
	slows++;
	slow_age_ns = age_ns;
}

static void count_send(rl_waiter *w)
{
	(void)w;
	sends++;
}

static void limiter_asks_the_fleet_then_falls_back(void **state)
{
	uv_loop_t loop;
	ratelimit rl;
	rl_waiter w1, w2;
	(void)state;

	assert_int_equal(uv_loop_init(&loop), 0);
	ratelimit_init(&rl, &loop, 5, 1);
	ratelimit_set_remote(&rl, &(rl_remote){fake_take, fake_sent, fake_slow, NULL}, 1);
	ratelimit_set_fleet(&rl, true, "test");
	rl_waiter_init(&w1);
	rl_waiter_init(&w2);
	ratelimit_request(&rl, &w1, RL_SUBMIT, count_send);
	ratelimit_request(&rl, &w2, RL_SUBMIT, count_send);
	assert_int_equal(takes, 1); /* one ask at a time */
	assert_int_equal(sends, 0);
	pending_done(pending_rl, 0); /* granted: the first goes, the second is asked for */
	assert_int_equal(sends, 1);
	assert_int_equal(takes, 2);
	ratelimit_sent(&rl);
	assert_int_equal(sent_told, 1);
	/* a 429 slows the fleet down (on Redis: every instance), told how old its request is */
	ratelimit_slow_down(&rl, now_ns() - 250000000);
	assert_int_equal(slows, 1);
	assert_true(slow_age_ns >= 250000000 && slow_age_ns < 10000000000ull);
	pending_done(pending_rl, -1); /* Redis failed: the local fallback decides */
	assert_false(ratelimit_is_fleet(&rl));
	assert_int_equal(ratelimit_switches(&rl), 2);
	assert_int_equal(takes, 2);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* its timer: one local interval */
	assert_int_equal(sends, 2);
	ratelimit_fini(&rl);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(urls_read_and_refused),
	    cmocka_unit_test(rows_round_trip_and_damage_is_a_miss),
	    cmocka_unit_test(job_records_round_trip_and_damage_is_refused),
	    cmocka_unit_test(records_round_trip_and_stop_at_damage),
	    cmocka_unit_test(fallback_share_fits_the_window),
	    cmocka_unit_test(limiter_asks_the_fleet_then_falls_back),
	};
	return cmocka_run_group_tests_name("fleetparts", tests, NULL, NULL);
}
