/* wait.c: waiting on what the processes under test show — the server's stats, the mock's
 * counters — instead of sleeping a fixed time. */
#include <string.h>
#include <time.h>

#include "harness.h"

#define POLL_MS 10

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/*
 * A key of the stats map as a number (booleans 0/1), "quota.paused" for one
 * inside a map; -1 when absent or not a number.
 */
static long stat_value(const msgpack_object *st, const char *key)
{
	const char *dot = strchr(key, '.');
	size_t len = dot != NULL ? (size_t)(dot - key) : strlen(key);

	if (st->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (uint32_t i = 0; i < st->via.map.size; i++) {
		const msgpack_object_kv *kv = &st->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != len ||
		    memcmp(kv->key.via.str.ptr, key, len) != 0)
			continue;
		if (dot != NULL)
			return stat_value(&kv->val, dot + 1);
		switch (kv->val.type) {
		case MSGPACK_OBJECT_POSITIVE_INTEGER:
			return (long)kv->val.via.u64;
		case MSGPACK_OBJECT_BOOLEAN:
			return kv->val.via.boolean;
		default:
			return -1;
		}
	}
	return -1;
}

int it_wait_stat(const char *url, const char *key, long min, long max, int timeout_ms)
{
	double end = it_now_ms() + timeout_ms;
	it_reply r;

	do {
		long v = -1;
		memset(&r, 0, sizeof(r));
		if (it_stats(url, &r, 1000) == 0)
			v = stat_value(&r.rep.stats, key);
		it_replies_free(&r, 1);
		if (v >= min && v <= max)
			return 0;
		pause_ms(POLL_MS);
	} while (it_now_ms() < end);
	return -1;
}

int it_wait_mock_stat(it_env *e, const char *key, long min, int timeout_ms)
{
	double end = it_now_ms() + timeout_ms;

	do {
		if (it_mock_stat(e, key) >= min)
			return 0;
		pause_ms(POLL_MS);
	} while (it_now_ms() < end);
	return -1;
}
