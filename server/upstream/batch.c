/* batch.c: one batch's life — the one state setter (jobstate.c says what is legal) and its release
 * from every list, queue and timer once it has ended. */
#include <assert.h>
#include <stdlib.h>

#include "batch.h"
#include "log.h"
#include "ratelimit.h"

bool batch_set_state(batch *b, batch_state st)
{
	if (!batch_state_legal(b->state, st)) {
		log_error("batch %llu %s: refused the illegal change %s -> %s (a bug)",
		          (unsigned long long)b->seq, b->g->label, batch_state_name(b->state),
		          batch_state_name(st));
		assert(
		    !"illegal batch state change"); /* debug builds (the asan preset) stop here */
		return false;
	}
	log_debug("batch %llu %s: %s -> %s", (unsigned long long)b->seq, b->g->label,
	          batch_state_name(b->state), batch_state_name(st));
	b->state = st;
	return true;
}

static void batch_closed_cb(uv_handle_t *h)
{
	batch *b = h->data;
	free(b->items);
	free(b->body);
	free(b->query);
	free(b);
}

void batch_release(batch *b)
{
	server *s = b->s;

	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		s->batches = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	if (b->g->open == b)
		b->g->open = NULL;
	if (b->http != NULL) {
		http_cancel(b->http);
		b->http = NULL;
	}
	ratelimit_cancel(b);
	s->hooks.batch_ended(b);
	uv_close((uv_handle_t *)&b->timer, batch_closed_cb);
}
