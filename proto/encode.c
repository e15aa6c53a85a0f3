/* encode.c: canonical protocol v1 messages — fixed key order, smallest integers, float64 floats. */
#include <string.h>

#include "cbproto.h"

/* msgpack-c's pack functions return 0 or -1; chain them and map -1 to CB_ENOMEM once. */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		if ((expr) != 0)                                                                   \
			return CB_ENOMEM;                                                          \
	} while (0)

int cbp_pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	if (msgpack_pack_str(pk, n) != 0)
		return -1;
	return msgpack_pack_str_body(pk, s, n);
}

int cbp_pack_str(msgpack_packer *pk, cb_str s)
{
	if (msgpack_pack_str(pk, s.len) != 0)
		return -1;
	return msgpack_pack_str_body(pk, s.ptr, s.len);
}

static size_t opts_count(const cb_opts *o)
{
	size_t n = 0;
	for (int i = 0; i < CB_OPT_COUNT; i++)
		n += o->v[i].ptr != NULL;
	return n;
}

/* fn, args and opts of one call: the caller has already counted them into its map header. */
static cb_err call_fields(msgpack_packer *pk, const cb_wire_call *c)
{
	size_t nopts = opts_count(&c->opts);

	TRY(cbp_pack_cstr(pk, "fn"));
	TRY(cbp_pack_cstr(pk, cbp_fns[c->fn].name));
	TRY(cbp_pack_cstr(pk, "args"));
	if (cbp_fns[c->fn].args == CB_ARGS_TEXT) {
		TRY(msgpack_pack_array(pk, 1));
		TRY(cbp_pack_str(pk, c->text));
	} else {
		TRY(msgpack_pack_array(pk, 2));
		TRY(msgpack_pack_double(pk, c->lat));
		TRY(msgpack_pack_double(pk, c->lon));
	}
	if (nopts == 0)
		return CB_OK;
	TRY(cbp_pack_cstr(pk, "opts"));
	TRY(msgpack_pack_map(pk, nopts));
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		if (c->opts.v[i].ptr == NULL)
			continue;
		TRY(cbp_pack_cstr(pk, cbp_opt_names[i]));
		TRY(cbp_pack_str(pk, c->opts.v[i]));
	}
	return CB_OK;
}

static size_t call_field_count(const cb_wire_call *c)
{
	return 2 + (opts_count(&c->opts) > 0);
}

cb_err cbp_call_encode(msgpack_packer *pk, const cb_wire_call *call)
{
	TRY(msgpack_pack_map(pk, call_field_count(call)));
	return call_fields(pk, call);
}

cb_err cbp_request_encode(msgpack_packer *pk, const cb_request *req)
{
	size_t n = 2 + req->has_id;
	bool deadline = req->has_deadline && (req->op == CB_OP_CALL || req->op == CB_OP_MULTI);

	if (req->op == CB_OP_CALL)
		n += call_field_count(&req->call);
	else if (req->op == CB_OP_MULTI)
		n += 1;
	n += deadline + req->has_auth;

	TRY(msgpack_pack_map(pk, n));
	TRY(cbp_pack_cstr(pk, "v"));
	TRY(msgpack_pack_uint64(pk, CB_PROTO_VERSION));
	if (req->has_id) {
		TRY(cbp_pack_cstr(pk, "id"));
		TRY(msgpack_pack_uint64(pk, req->id));
	}
	TRY(cbp_pack_cstr(pk, "op"));
	TRY(cbp_pack_cstr(pk, cbp_op_names[req->op]));
	if (req->op == CB_OP_CALL) {
		cb_err rv = call_fields(pk, &req->call);
		if (rv != CB_OK)
			return rv;
	} else if (req->op == CB_OP_MULTI) {
		TRY(cbp_pack_cstr(pk, "calls"));
		TRY(msgpack_pack_array(pk, req->ncalls));
		for (uint32_t i = 0; i < req->ncalls; i++) {
			cb_err rv = cbp_call_encode(pk, &req->calls[i]);
			if (rv != CB_OK)
				return rv;
		}
	}
	if (deadline) {
		TRY(cbp_pack_cstr(pk, "deadline_ms"));
		TRY(msgpack_pack_uint64(pk, req->deadline_ms));
	}
	if (req->has_auth) {
		TRY(cbp_pack_cstr(pk, "auth"));
		TRY(cbp_pack_str(pk, req->auth));
	}
	return CB_OK;
}

static cb_err error_map(msgpack_packer *pk, cb_err code, const char *msg, size_t len)
{
	const char *name = cb_err_name(code);

	TRY(cbp_pack_cstr(pk, "error"));
	TRY(msgpack_pack_map(pk, 2));
	TRY(cbp_pack_cstr(pk, "code"));
	/* local-only codes never reach the wire under their own name */
	TRY(cbp_pack_cstr(pk, name != NULL ? name : "INTERNAL"));
	TRY(cbp_pack_cstr(pk, "message"));
	TRY(msgpack_pack_str(pk, len));
	TRY(msgpack_pack_str_body(pk, msg, len));
	return CB_OK;
}

static cb_err result_and_meta(msgpack_packer *pk, const cb_wire_result *r, const cb_meta *m)
{
	TRY(cbp_pack_cstr(pk, "result"));
	TRY(msgpack_pack_map(pk, 3 + r->has_confidence + (r->result_type.ptr != NULL)));
	TRY(cbp_pack_cstr(pk, "lat"));
	TRY(msgpack_pack_double(pk, r->lat));
	TRY(cbp_pack_cstr(pk, "lon"));
	TRY(msgpack_pack_double(pk, r->lon));
	TRY(cbp_pack_cstr(pk, "formatted"));
	TRY(cbp_pack_str(pk, r->formatted));
	if (r->has_confidence) {
		TRY(cbp_pack_cstr(pk, "confidence"));
		TRY(msgpack_pack_double(pk, r->confidence));
	}
	if (r->result_type.ptr != NULL) {
		TRY(cbp_pack_cstr(pk, "result_type"));
		TRY(cbp_pack_str(pk, r->result_type));
	}
	TRY(cbp_pack_cstr(pk, "meta"));
	TRY(msgpack_pack_map(pk, 3));
	TRY(cbp_pack_cstr(pk, "cached"));
	TRY(m->cached ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
	TRY(cbp_pack_cstr(pk, "batch_size"));
	TRY(msgpack_pack_uint64(pk, m->batch_size));
	TRY(cbp_pack_cstr(pk, "wait_ms"));
	TRY(msgpack_pack_double(pk, m->wait_ms));
	return CB_OK;
}

/* ok plus error, or result and meta: the part shared by a reply and a results element. */
static size_t body_count(const cb_reply *r)
{
	if (r->err != CB_OK)
		return 2;
	return 1 + (r->has_result ? 2 : 0);
}

static cb_err body_fields(msgpack_packer *pk, const cb_reply *r)
{
	TRY(cbp_pack_cstr(pk, "ok"));
	if (r->err != CB_OK) {
		TRY(msgpack_pack_false(pk));
		return error_map(pk, r->err, r->message.ptr, r->message.len);
	}
	TRY(msgpack_pack_true(pk));
	if (r->has_result)
		return result_and_meta(pk, &r->result, &r->meta);
	return CB_OK;
}

cb_err cbp_reply_encode(msgpack_packer *pk, const cb_reply *r)
{
	bool ok = r->err == CB_OK;
	size_t n = 1 + r->has_id + body_count(r);
	cb_err rv;

	if (ok) {
		n += r->is_multi + (r->version.ptr != NULL) + r->has_stats;
	}
	TRY(msgpack_pack_map(pk, n));
	TRY(cbp_pack_cstr(pk, "v"));
	TRY(msgpack_pack_uint64(pk, CB_PROTO_VERSION));
	if (r->has_id) {
		TRY(cbp_pack_cstr(pk, "id"));
		TRY(msgpack_pack_uint64(pk, r->id));
	}
	if ((rv = body_fields(pk, r)) != CB_OK || !ok)
		return rv;
	if (r->is_multi) {
		TRY(cbp_pack_cstr(pk, "results"));
		TRY(msgpack_pack_array(pk, r->nresults));
		for (uint32_t i = 0; i < r->nresults; i++) {
			TRY(msgpack_pack_map(pk, body_count(&r->results[i])));
			if ((rv = body_fields(pk, &r->results[i])) != CB_OK)
				return rv;
		}
	}
	if (r->version.ptr != NULL) {
		TRY(cbp_pack_cstr(pk, "version"));
		TRY(cbp_pack_str(pk, r->version));
	}
	if (r->has_stats) {
		TRY(cbp_pack_cstr(pk, "stats"));
		TRY(msgpack_pack_object(pk, r->stats));
	}
	return CB_OK;
}

cb_err cbp_error_reply_encode(msgpack_packer *pk, bool has_id, uint64_t id, cb_err code,
                              const char *message, size_t message_len)
{
	cb_reply r = {
	    .has_id = has_id, .id = id, .err = code, .message = {message, (uint32_t)message_len}};
	return cbp_reply_encode(pk, &r);
}
