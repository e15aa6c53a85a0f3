/* recent.c: a latency histogram's last minute, as the difference of two cumulative snapshots. */
#include <string.h>

#include "recent.h"

void recent_init(recent *r, uint64_t start_ns)
{
	memset(r, 0, sizeof(*r));
	r->at_ns[0] = start_ns ? start_ns : 1; /* the start: every count zero */
}

/* The newest snapshot at least RECENT_WINDOW_NS before now, else the oldest there is. */
static unsigned base_slot(const recent *r, uint64_t now_ns)
{
	unsigned best = r->newest;

	for (unsigned k = 0; k < RECENT_SLOTS; k++) {
		unsigned i = (r->newest + RECENT_SLOTS - k) % RECENT_SLOTS;

		if (r->at_ns[i] == 0)
			break;
		best = i;
		if (now_ns - r->at_ns[i] >= RECENT_WINDOW_NS)
			break;
	}
	return best;
}

void recent_update(recent *r, const lathist *cum, uint64_t now_ns, recent_view *out)
{
	const lathist *base;
	unsigned b;

	if (now_ns - r->at_ns[r->newest] >= RECENT_STEP_NS) {
		r->newest = (r->newest + 1) % RECENT_SLOTS;
		r->snap[r->newest] = *cum;
		r->at_ns[r->newest] = now_ns;
	}
	b = base_slot(r, now_ns);
	base = &r->snap[b];
	out->h.count = cum->count - base->count;
	out->h.sum_ns = cum->sum_ns - base->sum_ns;
	for (unsigned i = 0; i < LATHIST_BUCKETS; i++)
		out->h.b[i] = cum->b[i] - base->b[i];
	out->window_s = (double)(now_ns - r->at_ns[b]) / 1e9;
}
