/* freport.c: each instance reports a summary of itself to Redis and reads everyone's back. */
#include "freport.h"

#include <stdlib.h>
#include <string.h>

#define FREPORT_EVERY_MS 5000
#define FREPORT_KEY      "cellbatch:instances"

struct freport {
	rconn *cmd;
	char *owner;
	freport_summary_fn summary;
	void *arg;
	uv_timer_t timer;
	char **recs; /* the last answer's summaries */
	size_t *lens, n;
	int closing;
	freport_watch_fn watch;
	void *watch_arg;
};

/*
 * KEYS[1]: a hash of owner -> "<ms of Redis's clock>:<summary>". ARGV: owner, summary. Stores
 * this one, returns those seen in the last minute, deletes those gone for ten.
 */
static const char report_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', now) .. ':' .. ARGV[2])\n"
    "local all, out = redis.call('HGETALL', KEYS[1]), {}\n"
    "for i = 1, #all, 2 do\n"
    "  local v = all[i + 1]\n"
    "  local c = string.find(v, ':', 1, true)\n"
    "  local age = now - tonumber(string.sub(v, 1, c - 1))\n"
    "  if age <= 60000 then table.insert(out, string.sub(v, c + 1))\n"
    "  elseif age > 600000 then redis.call('HDEL', KEYS[1], all[i]) end\n"
    "end\n"
    "return out\n";

static void recs_free(freport *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->recs[i]);
	free(r->recs);
	free(r->lens);
	r->recs = NULL;
	r->lens = NULL;
	r->n = 0;
}

static void freport_reply_cb(void *arg, const redisReply *rep, const char *err)
{
	freport *r = arg;
	(void)err;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || r->closing)
		return; /* the last view stays until Redis answers again */
	recs_free(r);
	if ((r->recs = calloc(rep->elements + 1, sizeof(*r->recs))) == NULL ||
	    (r->lens = calloc(rep->elements + 1, sizeof(*r->lens))) == NULL)
		return;
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		if (e->type != REDIS_REPLY_STRING || (r->recs[r->n] = malloc(e->len + 1)) == NULL)
			continue;
		memcpy(r->recs[r->n], e->str, e->len);
		r->lens[r->n++] = e->len;
	}
	if (r->watch != NULL)
		r->watch(r->watch_arg, r);
}

void freport_watch(freport *r, freport_watch_fn fn, void *arg)
{
	r->watch = fn;
	r->watch_arg = arg;
}

static void freport_timer_cb(uv_timer_t *t)
{
	freport *r = t->data;
	size_t len = 0;
	char *sum = r->summary(r->arg, &len);
	const char *argv[] = {"EVAL", report_lua, "1", FREPORT_KEY, r->owner, sum};
	size_t lens[] = {4, sizeof(report_lua) - 1, 1, strlen(FREPORT_KEY), strlen(r->owner), len};

	if (sum != NULL)
		rconn_command(r->cmd, freport_reply_cb, r, 6, argv, lens);
	free(sum);
}

int freport_open(freport **out, uv_loop_t *loop, rconn *cmd, const char *owner,
                 freport_summary_fn summary, void *arg)
{
	freport *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->owner = strdup(owner)) == NULL) {
		free(r);
		return -1;
	}
	r->cmd = cmd;
	r->summary = summary;
	r->arg = arg;
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	/* the first soon after start, so that a fresh fleet shows itself at once */
	uv_timer_start(&r->timer, freport_timer_cb, 1000, FREPORT_EVERY_MS);
	*out = r;
	return 0;
}

static void freport_closed_cb(uv_handle_t *h)
{
	freport *r = h->data;

	recs_free(r);
	free(r->owner);
	free(r);
}

void freport_close(freport *r)
{
	r->closing = 1;
	uv_close((uv_handle_t *)&r->timer, freport_closed_cb);
}

size_t freport_count(const freport *r)
{
	return r->n;
}

const char *freport_get(const freport *r, size_t i, size_t *len)
{
	*len = r->lens[i];
	return r->recs[i];
}
