/* control.c: libcellbatch's ping and stats — one request and its reply, retried across a lost
 * connection. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "client_int.h"

/* One request/reply on its own context; the caller frees *reply with cbp_reply_free and the msg. */
/*
 * One request and its reply on a fresh context, within the client's timeout.
 * A connection lost on the way (a server restarting a listener, say) is not
 * the answer: the request goes again on the next connection. Returns 0, or
 * the nng error of the last try.
 */
static int exchange(cb_client *c, const msgpack_sbuffer *b, nng_msg **reply_msg)
{
	nng_time deadline = nng_clock() + c->timeout_ms;
	nng_aio *aio = NULL;
	nng_msg *m = NULL;
	nng_ctx ctx;
	int rv;

	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0)
		return rv;
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
		goto out;
	for (;;) {
		if (m == NULL && (rv = nng_msg_alloc(&m, b->size)) != 0)
			break;
		memcpy(nng_msg_body(m), b->data, b->size);
		nng_aio_set_timeout(aio, (nng_duration)(deadline - nng_clock()));
		nng_aio_set_msg(aio, m);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if ((rv = nng_aio_result(aio)) == 0) {
			m = NULL; /* the socket has it now */
			nng_ctx_recv(ctx, aio);
			nng_aio_wait(aio);
			if ((rv = nng_aio_result(aio)) == 0) {
				*reply_msg = nng_aio_get_msg(aio);
				break;
			}
		}
		if (rv == NNG_ETIMEDOUT || rv == NNG_ENOMEM || nng_clock() + 20 >= deadline)
			break;
		nng_msleep(20);
	}
	nng_aio_free(aio);
out:
	if (m != NULL)
		nng_msg_free(m);
	nng_ctx_close(ctx);
	return rv;
}

static cb_err roundtrip(cb_client *c, cb_op op, nng_msg **reply_msg, cb_reply *rep)
{
	cb_request req = {.op = op};
	cb_limits lim = {.max_bytes = REPLY_MAX};
	msgpack_sbuffer b;
	msgpack_packer pk;
	cb_decode_error err;
	cb_err rv = CB_ENOMEM;
	int nrv;

	client_auth(c, &req);
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	if (cbp_request_encode(&pk, &req) != CB_OK)
		goto out;
	if ((nrv = exchange(c, &b, reply_msg)) != 0) {
		rv = nrv == NNG_ETIMEDOUT ? CB_ETIMEOUT
		     : nrv == NNG_ENOMEM  ? CB_ENOMEM
		                          : CB_EUNREACHABLE;
		goto out;
	}
	rv = cbp_reply_decode(nng_msg_body(*reply_msg), nng_msg_len(*reply_msg), &lim, rep, &err);
	if (rv != CB_OK) {
		nng_msg_free(*reply_msg);
		rv = CB_EPROTO;
	} else if (rep->err != CB_OK) {
		rv = rep->err;
		cbp_reply_free(rep);
		nng_msg_free(*reply_msg);
	}
out:
	msgpack_sbuffer_destroy(&b);
	return rv;
}

cb_err cb_ping(cb_client *c, char *version, size_t cap)
{
	nng_msg *m;
	cb_reply rep;
	cb_err rv = roundtrip(c, CB_OP_PING, &m, &rep);

	if (rv != CB_OK)
		return rv;
	if (cap > 0)
		snprintf(version, cap, "%.*s", (int)rep.version.len,
		         rep.version.ptr ? rep.version.ptr : "");
	cbp_reply_free(&rep);
	nng_msg_free(m);
	return CB_OK;
}

cb_err cb_stats(cb_client *c, void **buf, size_t *len)
{
	msgpack_sbuffer b;
	msgpack_packer pk;
	nng_msg *m;
	cb_reply rep;
	cb_err rv = roundtrip(c, CB_OP_STATS, &m, &rep);

	if (rv != CB_OK)
		return rv;
	if (!rep.has_stats) {
		rv = CB_EPROTO;
	} else {
		msgpack_sbuffer_init(&b);
		msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
		if (msgpack_pack_object(&pk, rep.stats) != 0) {
			msgpack_sbuffer_destroy(&b);
			rv = CB_ENOMEM;
		} else {
			*len = b.size; /* release empties b */
			*buf = msgpack_sbuffer_release(&b);
		}
	}
	cbp_reply_free(&rep);
	nng_msg_free(m);
	return rv;
}
