/* conn.c: per-connection accounting for ingress: an open-addressing table of pipe ids under one
 * mutex, so that nng's threads (the hot path) and the loop can both count replies. */
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "conn.h"
#include "log.h"

/*
 * A connection with max_unread replies waiting is cut off once none has left
 * for this long, and at HARD_FACTOR times as many in any case. A client that
 * reads slowly, or is not scheduled for a moment on a loaded machine, still
 * sends one now and then: only one that reads nothing goes a second without.
 */
#define STALL_NS    (1000 * 1000000ull)
#define HARD_FACTOR 20

typedef struct conn {
	uint32_t id;         /* nng pipe id; 0 marks a free slot (nng never hands out 0) */
	uint32_t unread;     /* replies handed to nng and not yet sent */
	uint64_t t_progress; /* when the first of them became first: the last send, or the queue
	                        starting */
	bool dropping;       /* dropped a request once */
	bool timed_out;      /* a reply to it timed out */
} conn;

struct conntab {
	nng_mtx *mtx;
	conn *slots;
	size_t cap; /* power of two, at least twice the connections held */
	size_t count;
	size_t max_conns;
	uint32_t max_unread;
	conn_counters c;
	conntab_gate gate; /* set before the notices start: read without the mutex */
	void *gate_arg;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t slot_of(const conntab *t, uint32_t id)
{
	return (id * 2654435761u) & (t->cap - 1);
}

static conn *find(conntab *t, uint32_t id)
{
	for (size_t i = slot_of(t, id);; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].id == id)
			return &t->slots[i];
		if (t->slots[i].id == 0)
			return NULL;
	}
}

static void put(conn *slots, size_t cap, const conn *c)
{
	size_t i = (c->id * 2654435761u) & (cap - 1);

	while (slots[i].id != 0)
		i = (i + 1) & (cap - 1);
	slots[i] = *c;
}

/* Doubles the table; false when out of memory (the table stays as it was). */
static bool grow(conntab *t)
{
	size_t cap = t->cap * 2;
	conn *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return false;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].id != 0)
			put(slots, cap, &t->slots[i]);
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return true;
}

int conntab_open(conntab **out, size_t max_conns, uint32_t max_unread)
{
	conntab *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NNG_ENOMEM;
	t->cap = 64;
	t->max_conns = max_conns;
	t->max_unread = max_unread;
	if ((t->slots = calloc(t->cap, sizeof(*t->slots))) == NULL || nng_mtx_alloc(&t->mtx) != 0) {
		free(t->slots);
		free(t);
		return NNG_ENOMEM;
	}
	*out = t;
	return 0;
}

void conntab_close(conntab *t)
{
	if (t == NULL)
		return;
	nng_mtx_free(t->mtx);
	free(t->slots);
	free(t);
}

bool conntab_add(conntab *t, uint32_t id)
{
	bool ok = false;

	nng_mtx_lock(t->mtx);
	if (t->count >= t->max_conns || (2 * (t->count + 1) > t->cap && !grow(t))) {
		t->c.rejected++;
		goto out;
	}
	put(t->slots, t->cap, &(conn){.id = id, .t_progress = mono_ns()});
	t->count++;
	t->c.accepted++;
	if (t->count > t->c.open_max)
		t->c.open_max = t->count;
	ok = true;
out:
	nng_mtx_unlock(t->mtx);
	return ok;
}

void conntab_remove(conntab *t, uint32_t id)
{
	conn *c;

	nng_mtx_lock(t->mtx);
	if ((c = find(t, id)) != NULL) {
		/* backward-shift deletion: re-place the rest of the run so that lookups stay exact
		 */
		size_t i = (size_t)(c - t->slots);
		t->slots[i].id = 0;
		for (size_t j = (i + 1) & (t->cap - 1); t->slots[j].id != 0;
		     j = (j + 1) & (t->cap - 1)) {
			conn moved = t->slots[j];
			t->slots[j].id = 0;
			put(t->slots, t->cap, &moved);
		}
		t->count--;
	}
	nng_mtx_unlock(t->mtx);
}

bool conntab_admit(conntab *t, uint32_t id, bool *first)
{
	bool ok = true;
	conn *c;

	*first = false;
	nng_mtx_lock(t->mtx);
	if ((c = find(t, id)) == NULL || c->unread < t->max_unread ||
	    (c->unread < HARD_FACTOR * t->max_unread && mono_ns() - c->t_progress < STALL_NS))
		goto out;
	ok = false;
	t->c.dropped++;
	if (!c->dropping)
		*first = c->dropping = true;
out:
	nng_mtx_unlock(t->mtx);
	return ok;
}

void conntab_sending(conntab *t, uint32_t id)
{
	conn *c;

	nng_mtx_lock(t->mtx);
	if ((c = find(t, id)) != NULL && c->unread++ == 0)
		c->t_progress = mono_ns();
	nng_mtx_unlock(t->mtx);
}

void conntab_sent(conntab *t, uint32_t id, bool ok)
{
	conn *c;

	nng_mtx_lock(t->mtx);
	if ((c = find(t, id)) != NULL) {
		if (c->unread > 0)
			c->unread--;
		if (ok)
			c->t_progress = mono_ns();
	}
	nng_mtx_unlock(t->mtx);
}

bool conntab_send_timeout(conntab *t, uint32_t id)
{
	bool first = false;
	conn *c;

	nng_mtx_lock(t->mtx);
	if ((c = find(t, id)) != NULL && !c->timed_out) {
		first = c->timed_out = true;
		t->c.send_timeouts++;
	}
	nng_mtx_unlock(t->mtx);
	return first;
}

void conntab_counters(conntab *t, conn_counters *out)
{
	nng_mtx_lock(t->mtx);
	*out = t->c;
	out->open = t->count;
	nng_mtx_unlock(t->mtx);
}

/*
 * nng calls this on its own threads: ADD_PRE before a new connection can
 * deliver anything, REM_POST after it is gone (always, once ADD_PRE ran).
 */
static void pipe_event_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	conntab *t = arg;
	conn_counters cc;

	if (ev == NNG_PIPE_EV_REM_POST) {
		conntab_remove(t, nng_pipe_id(p));
		nng_mtx_lock(t->mtx);
		t->c.removed++;
		nng_mtx_unlock(t->mtx);
		return;
	}
	if (t->gate != NULL && !t->gate(t->gate_arg, p)) {
		nng_pipe_close(p);
		nng_mtx_lock(t->mtx);
		t->c.gated++;
		nng_mtx_unlock(t->mtx);
		return;
	}
	if (conntab_add(t, nng_pipe_id(p)))
		return;
	nng_pipe_close(p);
	conntab_counters(t, &cc);
	/* a burst of refusals logs its first and then every 1000th */
	if (cc.rejected % 1000 == 1)
		log_warn(
		    "refused a connection: %llu open, the limit is --max-conns %zu, kept below "
		    "the descriptor limit (%llu refused so far)",
		    (unsigned long long)cc.open, t->max_conns, (unsigned long long)cc.rejected);
}

void conntab_set_gate(conntab *t, conntab_gate gate, void *arg)
{
	t->gate = gate;
	t->gate_arg = arg;
}

int conntab_watch(conntab *t, nng_socket sock)
{
	int rv;

	if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_PRE, pipe_event_cb, t)) != 0)
		return rv;
	return nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, pipe_event_cb, t);
}

uint64_t conntab_added(void *t)
{
	conn_counters cc;

	conntab_counters(t, &cc);
	return cc.accepted + cc.rejected + cc.gated;
}

uint64_t conntab_removed(void *t)
{
	conn_counters cc;

	conntab_counters(t, &cc);
	return cc.removed;
}
