/* sync.c: libcellbatch's blocking calls, on top of the asynchronous ones. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "client_int.h"

typedef struct waiter {
	nng_mtx *mu;
	nng_cv *cv;
	bool done;
	cb_result *out;
} waiter;

static char *dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void sync_done(void *user, const cb_result *res)
{
	waiter *w = user;
	cb_result r = *res;

	r.message = dup_or_null(res->message);
	r.formatted = dup_or_null(res->formatted);
	r.result_type = dup_or_null(res->result_type);
	nng_mtx_lock(w->mu);
	*w->out = r;
	w->done = true;
	nng_cv_wake(w->cv);
	nng_mtx_unlock(w->mu);
}

cb_err cb_call_sync(cb_client *c, const cb_call *call, cb_result *out)
{
	waiter w = {.out = out};
	cb_err rv;

	memset(out, 0, sizeof(*out));
	if (nng_mtx_alloc(&w.mu) != 0)
		return out->err = CB_ENOMEM;
	if (nng_cv_alloc(&w.cv, w.mu) != 0) {
		nng_mtx_free(w.mu);
		return out->err = CB_ENOMEM;
	}
	if ((rv = cb_call_async(c, call, sync_done, &w)) == CB_OK) {
		nng_mtx_lock(w.mu);
		while (!w.done)
			nng_cv_wait(w.cv);
		nng_mtx_unlock(w.mu);
		rv = out->err;
	} else {
		out->err = rv;
	}
	nng_cv_free(w.cv);
	nng_mtx_free(w.mu);
	return rv;
}

cb_err cb_geocode(cb_client *c, const char *text, cb_result *out)
{
	cb_call call = CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = text);
	return cb_call_sync(c, &call, out);
}

cb_err cb_reverse(cb_client *c, double lat, double lon, cb_result *out)
{
	cb_call call = CB_CALL_INIT(.fn = CB_FN_REVERSE, .lat = lat, .lon = lon);
	return cb_call_sync(c, &call, out);
}

void cb_result_free(cb_result *r)
{
	free((char *)r->message);
	free((char *)r->formatted);
	free((char *)r->result_type);
	r->message = r->formatted = r->result_type = NULL;
}
