/* client.c: libcellbatch — one REQ socket, one nng context per call, callbacks exactly once. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "cbproto.h"
#include "cellbatch.h"
#include "client_int.h"

static void client_free(cb_client *c)
{
	if (c->token != NULL)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c);
}

cb_err cb_client_open(cb_client **out, const char *url, const cb_client_options *opts)
{
	cb_client_options o;
	cb_client *c;
	char buf[1024];
	cb_err err;
	int rv;

	/* from here on opts has this library's layout, whatever header the caller was built with */
	if (opts != NULL && client_abi_copy(&o, sizeof(o), opts, OPTIONS_SIZE_MIN) != CB_OK)
		return CB_EINVAL;
	opts = opts != NULL ? &o : NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CB_ENOMEM;
	/* several servers, comma-separated, are normalized one by one (dialall.c) */
	url = url != NULL ? url : client_default_urls(buf, sizeof(buf));
	/* /tmp/cellbatch-$UID held by another user: whoever listens there would get the token */
	err = client_urls_check(url) != 0 ? CB_EUNREACHABLE : client_token(c, opts);
	if (err != CB_OK) {
		client_free(c);
		return err;
	}
	c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->retries = opts && opts->retries ? opts->retries : DEFAULT_RETRIES;
	c->next_id = ((uint64_t)nng_random() << 32) | nng_random();
	if (nng_mtx_alloc(&c->mu) != 0 || nng_cv_alloc(&c->cv, c->mu) != 0)
		goto nomem;
	if ((rv = nng_req0_open(&c->sock)) != 0)
		goto nomem;
	/* nng 1.5.2 scans all pending requests on every resend: off, and we resend ourselves */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, REPLY_MAX);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 500);
	if ((err = client_dial_all(c->sock, url, opts, c->timeout_ms)) != CB_OK) {
		nng_close(c->sock);
		nng_cv_free(c->cv);
		nng_mtx_free(c->mu);
		client_free(c);
		return err;
	}
	*out = c;
	return CB_OK;
nomem:
	if (c->cv != NULL)
		nng_cv_free(c->cv);
	if (c->mu != NULL)
		nng_mtx_free(c->mu);
	client_free(c);
	return CB_ENOMEM;
}

/* Delivers the one answer of p, then retires it. Runs on an nng thread. */
static void pend_finish(pend *p, const cb_result *res)
{
	cb_client *c = p->c;

	if (p->mdone != NULL)
		p->mdone(p->user, res, p->n);
	else
		p->done(p->user, res);
	/*
	 * before the count goes down: at 0 cb_client_close goes on to nng_close,
	 * and a context closed after its socket panics nng 1.5.2
	 */
	nng_ctx_close(p->ctx);
	nng_mtx_lock(c->mu);
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		c->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	/* counted down after the callback, so close returns only once every callback ran */
	if (--c->outstanding == 0)
		nng_cv_wake(c->cv);
	nng_mtx_unlock(c->mu);
	nng_aio_reap(p->aio); /* an aio cannot be freed from its own callback */
	free(p->req);
	free(p->errs);
	free(p);
}

static void pend_fail(pend *p, cb_err err, const char *message)
{
	cb_result r = {.err = err, .message = message, .formatted = ""};

	if (p->errs == NULL) {
		pend_finish(p, &r);
		return;
	}
	for (size_t i = 0; i < p->n; i++)
		p->errs[i] = r;
	pend_finish(p, p->errs);
}

static nng_duration remaining(const pend *p)
{
	nng_time now = nng_clock();
	return now >= p->deadline ? 1 : (nng_duration)(p->deadline - now);
}

static void pend_send(pend *p)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, p->req_len) != 0) {
		pend_fail(p, CB_ENOMEM, "out of memory");
		return;
	}
	memcpy(nng_msg_body(m), p->req, p->req_len);
	p->stage = P_SENDING;
	nng_aio_set_msg(p->aio, m);
	nng_aio_set_timeout(p->aio, remaining(p));
	nng_ctx_send(p->ctx, p->aio);
}

static size_t str_bytes(const cb_reply *r)
{
	return (size_t)r->message.len + r->result.formatted.len + r->result.result_type.len + 3;
}

/* The reply's strings are not NUL-terminated in the message: copies them to *w. */
static void fill_result(cb_result *r, const cb_reply *rep, char **w)
{
	const cb_str parts[3] = {rep->message, rep->result.formatted, rep->result.result_type};
	const char **dst[3] = {&r->message, &r->formatted, &r->result_type};

	memset(r, 0, sizeof(*r));
	r->err = rep->err;
	for (int i = 0; i < 3; i++) {
		if (parts[i].ptr != NULL)
			memcpy(*w, parts[i].ptr, parts[i].len);
		(*w)[parts[i].len] = '\0';
		/* message and formatted are "" when absent, result_type NULL */
		if (parts[i].ptr != NULL || i < 2)
			*dst[i] = *w;
		*w += parts[i].len + 1;
	}
	if (rep->err != CB_OK || !rep->has_result)
		return;
	r->lat = rep->result.lat;
	r->lon = rep->result.lon;
	r->has_confidence = rep->result.has_confidence;
	r->confidence = rep->result.confidence;
	r->cached = rep->meta.cached;
	r->batch_size = rep->meta.batch_size;
	r->wait_ms = rep->meta.wait_ms;
}

static void deliver_reply(pend *p, nng_msg *m)
{
	cb_limits lim = {.max_bytes = REPLY_MAX};
	bool multi = p->mdone != NULL;
	const cb_reply *parts;
	cb_decode_error err;
	cb_reply rep;
	cb_result one, *res;
	size_t n, bytes = 0;
	char *strs, *w;

	if (cbp_reply_decode(nng_msg_body(m), nng_msg_len(m), &lim, &rep, &err) != CB_OK) {
		nng_msg_free(m);
		pend_fail(p, CB_EPROTO, err.message);
		return;
	}
	if (rep.err != CB_OK) {
		/* a failed call, or a multi that failed as a whole (BUSY ...): every call gets it
		 */
		char msg[512];
		cb_err code = rep.err;
		snprintf(msg, sizeof(msg), "%.*s", (int)rep.message.len,
		         rep.message.ptr ? rep.message.ptr : "");
		cbp_reply_free(&rep);
		nng_msg_free(m);
		pend_fail(p, code, msg);
		return;
	}
	if (multi && (!rep.is_multi || rep.nresults != p->n)) {
		cbp_reply_free(&rep);
		nng_msg_free(m);
		pend_fail(p, CB_EPROTO, "the server answered a multi with the wrong count");
		return;
	}
	parts = multi ? rep.results : &rep;
	res = multi ? p->errs : &one; /* errs is free to reuse on the success path */
	n = multi ? p->n : 1;
	for (size_t i = 0; i < n; i++)
		bytes += str_bytes(&parts[i]);
	if ((w = strs = malloc(bytes)) == NULL) {
		cbp_reply_free(&rep);
		nng_msg_free(m);
		pend_fail(p, CB_ENOMEM, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		fill_result(&res[i], &parts[i], &w);
	cbp_reply_free(&rep);
	nng_msg_free(m);
	pend_finish(p, res);
	free(strs);
}

/* A lost connection is retried with the same request (and id) while time and retries remain. */
static void pend_error(pend *p, int rv)
{
	cb_client *c = p->c;
	bool closing;
	char msg[160];

	nng_mtx_lock(c->mu);
	closing = c->closing;
	nng_mtx_unlock(c->mu);
	if (closing || rv == NNG_ECANCELED) {
		pend_fail(p, CB_ECLOSED, "the client was closed before the answer came");
		return;
	}
	if (rv == NNG_ETIMEDOUT) {
		if (p->lost)
			snprintf(msg, sizeof(msg),
			         "the connection to the server was lost and not re-established "
			         "within %u ms (%u resends)",
			         p->timeout_ms, p->resends);
		else
			snprintf(msg, sizeof(msg), "no answer within %u ms", p->timeout_ms);
		pend_fail(p, p->lost ? CB_EUNREACHABLE : CB_ETIMEOUT, msg);
		return;
	}
	if (p->resends < c->retries && nng_clock() < p->deadline) {
		p->resends++;
		p->lost = true;
		pend_send(p);
		return;
	}
	snprintf(msg, sizeof(msg), "the connection to the server was lost: %s (%u resends)",
	         nng_strerror(rv), p->resends);
	pend_fail(p, CB_EUNREACHABLE, msg);
}

static void pend_cb(void *arg)
{
	pend *p = arg;
	int rv = nng_aio_result(p->aio);

	if (rv != 0) {
		if (p->stage == P_SENDING)
			nng_msg_free(nng_aio_get_msg(p->aio));
		pend_error(p, rv);
		return;
	}
	if (p->stage == P_SENDING) {
		p->stage = P_RECEIVING;
		nng_aio_set_timeout(p->aio, remaining(p));
		nng_ctx_recv(p->ctx, p->aio);
		return;
	}
	deliver_reply(p, nng_aio_get_msg(p->aio));
}

/* w borrows the strings of the caller's call, whose layout client_calls_check() accepted. */
static cb_err to_wire(const cb_call *caller, cb_wire_call *w)
{
	cb_call one, *call = &one;

	if (client_abi_copy(&one, sizeof(one), caller, CALL_SIZE_MIN) != CB_OK)
		return CB_EINVAL;
	const char *opts[CB_OPT_COUNT] = {call->lang, call->type, call->filter, call->bias,
	                                  call->countrycodes};

	if ((unsigned)call->fn >= CB_FN_COUNT)
		return CB_EINVAL;
	memset(w, 0, sizeof(*w));
	w->fn = call->fn;
	if (cbp_fns[call->fn].args == CB_ARGS_TEXT) {
		if (call->text == NULL)
			return CB_EINVAL;
		w->text = (cb_str){call->text, (uint32_t)strlen(call->text)};
	} else {
		w->lat = call->lat;
		w->lon = call->lon;
	}
	for (int i = 0; i < CB_OPT_COUNT; i++)
		if (opts[i] != NULL)
			w->opts.v[i] = (cb_str){opts[i], (uint32_t)strlen(opts[i])};
	return CB_OK;
}

/* Encodes one call (multi == false) or a multi of n calls; *out is malloc'd. */
static cb_err encode_calls(const cb_client *c, const cb_call *calls, size_t n, bool multi,
                           uint64_t id, unsigned timeout_ms, void **out, size_t *len)
{
	cb_request req = {.op = multi ? CB_OP_MULTI : CB_OP_CALL, .has_id = true, .id = id};
	msgpack_sbuffer b;
	msgpack_packer pk;
	cb_err rv = CB_OK;

	if (multi && (req.calls = calloc(n, sizeof(*req.calls))) == NULL)
		return CB_ENOMEM;
	req.ncalls = (uint32_t)n;
	for (size_t i = 0; i < n && rv == CB_OK; i++)
		rv = to_wire(call_at(calls, i, calls[0].size), multi ? &req.calls[i] : &req.call);
	req.has_deadline = true;
	req.deadline_ms = timeout_ms;
	client_auth(c, &req);
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	if (rv == CB_OK && (rv = cbp_request_encode(&pk, &req)) == CB_OK) {
		*len = b.size; /* release empties b */
		*out = msgpack_sbuffer_release(&b);
	}
	msgpack_sbuffer_destroy(&b);
	free(req.calls);
	return rv;
}

/* Starts a call or a multi; done or mdone is set. */
static cb_err start(cb_client *c, const cb_call *calls, size_t n, bool multi, cb_done_fn done,
                    cb_multi_done_fn mdone, void *user)
{
	unsigned timeout = 0;
	pend *p;
	cb_err rv;
	uint64_t id;

	if (c == NULL || calls == NULL || (done == NULL && mdone == NULL) || n == 0 ||
	    n > CB_MAX_MULTI || calls[0].size < CALL_SIZE_MIN ||
	    client_calls_check(calls, n, &timeout) != CB_OK)
		return CB_EINVAL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return CB_ENOMEM;
	p->c = c;
	p->n = n;
	p->done = done;
	p->mdone = mdone;
	p->user = user;
	p->timeout_ms = timeout ? timeout : c->timeout_ms;
	p->deadline = nng_clock() + p->timeout_ms;
	rv = CB_ENOMEM;
	if (multi && (p->errs = calloc(n, sizeof(*p->errs))) == NULL)
		goto fail;
	nng_mtx_lock(c->mu);
	id = c->next_id++;
	nng_mtx_unlock(c->mu);
	if ((rv = encode_calls(c, calls, n, multi, id, p->timeout_ms, &p->req, &p->req_len)) !=
	    CB_OK)
		goto fail;
	rv = CB_ENOMEM;
	if (nng_ctx_open(&p->ctx, c->sock) != 0)
		goto fail;
	if (nng_aio_alloc(&p->aio, pend_cb, p) != 0) {
		nng_ctx_close(p->ctx);
		goto fail;
	}
	nng_mtx_lock(c->mu);
	if (c->closing) {
		nng_mtx_unlock(c->mu);
		nng_aio_free(p->aio);
		nng_ctx_close(p->ctx);
		rv = CB_ECLOSED;
		goto fail;
	}
	p->next = c->head;
	if (c->head != NULL)
		c->head->prev = p;
	c->head = p;
	c->outstanding++;
	nng_mtx_unlock(c->mu);
	pend_send(p);
	return CB_OK;
fail:
	free(p->req);
	free(p->errs);
	free(p);
	return rv;
}

cb_err cb_call_async(cb_client *c, const cb_call *call, cb_done_fn done, void *user)
{
	return start(c, call, 1, false, done, NULL, user);
}

cb_err cb_multi_async(cb_client *c, const cb_call *calls, size_t n, cb_multi_done_fn done,
                      void *user)
{
	return start(c, calls, n, true, NULL, done, user);
}

void cb_client_close(cb_client *c)
{
	if (c == NULL)
		return;
	nng_mtx_lock(c->mu);
	c->closing = true;
	/* cancellation completes on nng's task threads, never inline, so holding mu is safe */
	for (pend *p = c->head; p != NULL; p = p->next)
		nng_aio_cancel(p->aio);
	while (c->outstanding > 0)
		nng_cv_wait(c->cv);
	nng_mtx_unlock(c->mu);
	nng_close(c->sock);
	nng_cv_free(c->cv);
	nng_mtx_free(c->mu);
	client_free(c);
}
