/* decode.c: protocol v1 requests from prescanned, unpacked msgpack objects (replies: reply.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbproto.h"
#include "fields.h"

const cb_fn_info cbp_fns[CB_FN_COUNT] = {
    [CB_FN_GEOCODE] = {"geocode", CB_ARGS_TEXT},
    [CB_FN_REVERSE] = {"reverse", CB_ARGS_LATLON},
};

const char *const cbp_op_names[CB_OP_COUNT] = {
    [CB_OP_CALL] = "call",
    [CB_OP_MULTI] = "multi",
    [CB_OP_STATS] = "stats",
    [CB_OP_PING] = "ping",
};

const char *const cbp_opt_names[CB_OPT_COUNT] = {
    [CB_OPT_LANG] = "lang",
    [CB_OPT_TYPE] = "type",
    [CB_OPT_FILTER] = "filter",
    [CB_OPT_BIAS] = "bias",
    [CB_OPT_COUNTRYCODES] = "countrycodes",
};

/* Text arguments and option values: 1 to CB_TEXT_MAX bytes (UTF-8 was checked by the prescan). */
static cb_err get_text(cb_decode_error *e, const char *path, const msgpack_object *o, cb_str *out)
{
	cb_err rv = cbp_get_str(e, CB_EBAD_REQUEST, path, o, out);
	if (rv != CB_OK)
		return rv;
	if (out->len < 1 || out->len > CB_TEXT_MAX)
		return cbp_bad(e, CB_EBAD_REQUEST, path, "text must be 1 to %d bytes, got %u",
		               CB_TEXT_MAX, out->len);
	/* the upstream cannot take them (a NUL breaks its JSON); tab and line breaks are spaces */
	for (uint32_t i = 0; i < out->len; i++) {
		unsigned char ch = (unsigned char)out->ptr[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f)
			return cbp_bad(e, CB_EBAD_REQUEST, path,
			               "control character U+%04X at byte %u is not allowed", ch, i);
	}
	return CB_OK;
}

static cb_err get_coord(cb_decode_error *e, const char *path, const msgpack_object *o, double *out,
                        const char *what, double lim)
{
	cb_err rv = cbp_get_num(e, CB_EBAD_REQUEST, path, o, out);
	if (rv != CB_OK)
		return rv;
	if (*out < -lim || *out > lim)
		return cbp_bad(e, CB_EBAD_REQUEST, path, "%s %g is outside [%g, %g]", what, *out,
		               -lim, lim);
	return CB_OK;
}

static cb_err decode_opts(cb_decode_error *e, const char *prefix, const msgpack_object *o,
                          cb_opts *opts)
{
	char path[PATH_MAX_LEN];
	field f[CB_OPT_COUNT];
	cb_err rv;

	snprintf(path, sizeof(path), "%sopts", prefix);
	if ((rv = cbp_want_type(e, CB_EBAD_REQUEST, path, o, MSGPACK_OBJECT_MAP, "map")) != CB_OK)
		return rv;
	snprintf(path, sizeof(path), "%sopts.", prefix);
	for (int i = 0; i < CB_OPT_COUNT; i++)
		f[i] = (field){cbp_opt_names[i], NULL};
	if ((rv = cbp_collect(e, CB_EBAD_REQUEST, path, &o->via.map, f, CB_OPT_COUNT)) != CB_OK)
		return rv;
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		char vpath[PATH_MAX_LEN];
		if (f[i].val == NULL)
			continue;
		snprintf(vpath, sizeof(vpath), "%sopts.%s", prefix, cbp_opt_names[i]);
		if ((rv = get_text(e, vpath, f[i].val, &opts->v[i])) != CB_OK)
			return rv;
	}
	return CB_OK;
}

/* The fields of one call, from the top-level map (prefix "") or an element of calls. */
static cb_err decode_call(cb_decode_error *e, const char *prefix, const msgpack_object_map *m,
                          cb_wire_call *call)
{
	enum { F_FN, F_ARGS, F_OPTS, F_N };
	field f[F_N] = {{"fn", NULL}, {"args", NULL}, {"opts", NULL}};
	char path[PATH_MAX_LEN];
	const msgpack_object_array *args;
	cb_str fn;
	cb_err rv;
	int i;

	if ((rv = cbp_collect(e, CB_EBAD_REQUEST, prefix, m, f, F_N)) != CB_OK)
		return rv;
	if (f[F_FN].val == NULL)
		return cbp_missing(e, CB_EBAD_REQUEST, prefix, "fn");
	snprintf(path, sizeof(path), "%sfn", prefix);
	if ((rv = cbp_get_str(e, CB_EBAD_REQUEST, path, f[F_FN].val, &fn)) != CB_OK)
		return rv;
	for (i = 0; i < CB_FN_COUNT; i++)
		if (strlen(cbp_fns[i].name) == fn.len &&
		    memcmp(cbp_fns[i].name, fn.ptr, fn.len) == 0)
			break;
	if (i == CB_FN_COUNT)
		return cbp_bad(e, CB_EUNKNOWN_FN, path, "unknown function \"%.*s\"",
		               (int)(fn.len > 40 ? 40 : fn.len), fn.ptr);
	call->fn = (cb_fn)i;

	if (f[F_ARGS].val == NULL)
		return cbp_missing(e, CB_EBAD_REQUEST, prefix, "args");
	snprintf(path, sizeof(path), "%sargs", prefix);
	if ((rv = cbp_want_type(e, CB_EBAD_REQUEST, path, f[F_ARGS].val, MSGPACK_OBJECT_ARRAY,
	                        "array")) != CB_OK)
		return rv;
	args = &f[F_ARGS].val->via.array;
	if (cbp_fns[i].args == CB_ARGS_TEXT) {
		if (args->size != 1)
			return cbp_bad(e, CB_EBAD_REQUEST, path,
			               "%s takes 1 argument [text], got %u", cbp_fns[i].name,
			               args->size);
		snprintf(path, sizeof(path), "%sargs[0]", prefix);
		if ((rv = get_text(e, path, &args->ptr[0], &call->text)) != CB_OK)
			return rv;
	} else {
		if (args->size != 2)
			return cbp_bad(e, CB_EBAD_REQUEST, path,
			               "%s takes 2 arguments [lat, lon], got %u", cbp_fns[i].name,
			               args->size);
		snprintf(path, sizeof(path), "%sargs[0]", prefix);
		if ((rv = get_coord(e, path, &args->ptr[0], &call->lat, "latitude", 90)) != CB_OK)
			return rv;
		snprintf(path, sizeof(path), "%sargs[1]", prefix);
		if ((rv = get_coord(e, path, &args->ptr[1], &call->lon, "longitude", 180)) != CB_OK)
			return rv;
	}
	if (f[F_OPTS].val != NULL)
		return decode_opts(e, prefix, f[F_OPTS].val, &call->opts);
	return CB_OK;
}

/*
 * Call k of a multi. An invalid call is noted in req->call_errors and does
 * not fail the request; only running out of memory does.
 */
static cb_err decode_multi_call(cb_decode_error *e, cb_request *req,
                                const msgpack_object_array *calls, uint32_t k)
{
	char prefix[PATH_MAX_LEN];
	cb_decode_error ce = {.code = CB_OK};
	cb_err rv;

	snprintf(prefix, sizeof(prefix), "calls[%u]", k);
	rv = cbp_want_type(&ce, CB_EBAD_REQUEST, prefix, &calls->ptr[k], MSGPACK_OBJECT_MAP, "map");
	if (rv == CB_OK) {
		snprintf(prefix, sizeof(prefix), "calls[%u].", k);
		rv = decode_call(&ce, prefix, &calls->ptr[k].via.map, &req->calls[k]);
	}
	if (rv == CB_OK)
		return CB_OK;
	if (req->call_errors == NULL &&
	    (req->call_errors = calloc(calls->size, sizeof(*req->call_errors))) == NULL)
		return cbp_bad(e, CB_ENOMEM, "calls", "out of memory");
	req->call_errors[k] = ce;
	return CB_OK;
}

/*
 * id and auth, read before anything else: a rejection can still be matched to
 * its call, and a server that wants a token can answer UNAUTHORIZED before it
 * says anything else about the request.
 */
static cb_err decode_id_auth(cb_decode_error *e, const field *id, const field *auth,
                             cb_request *req)
{
	cb_str tok;
	cb_err rv;

	if (id->val != NULL) {
		if ((rv = cbp_get_uint(e, CB_EBAD_REQUEST, "id", id->val, &req->id)) != CB_OK)
			return rv;
		req->has_id = true;
	}
	if (auth->val == NULL)
		return CB_OK;
	if ((rv = cbp_get_str(e, CB_EBAD_REQUEST, "auth", auth->val, &tok)) != CB_OK)
		return rv;
	if (tok.len < 1 || tok.len > CB_AUTH_MAX)
		return cbp_bad(e, CB_EBAD_REQUEST, "auth", "a token must be 1 to %d bytes, got %u",
		               CB_AUTH_MAX, tok.len);
	req->has_auth = true;
	req->auth = tok;
	return CB_OK;
}

static cb_err walk_request(cb_decode_error *e, const msgpack_object *root, cb_request *req)
{
	enum { F_V, F_OP, F_ID, F_DEADLINE, F_CALLS, F_AUTH, F_N };
	field f[F_N] = {{"v", NULL},           {"op", NULL},    {"id", NULL},
	                {"deadline_ms", NULL}, {"calls", NULL}, {"auth", NULL}};
	const msgpack_object_array *calls;
	cb_str op;
	cb_err rv;
	int i;

	if ((rv = cbp_collect(e, CB_EBAD_REQUEST, "", &root->via.map, f, F_N)) != CB_OK)
		return rv;
	if ((rv = decode_id_auth(e, &f[F_ID], &f[F_AUTH], req)) != CB_OK)
		return rv;
	if ((rv = cbp_decode_version(e, CB_EBAD_REQUEST, f[F_V].val)) != CB_OK)
		return rv;
	if (f[F_OP].val == NULL)
		return cbp_missing(e, CB_EBAD_REQUEST, "", "op");
	if ((rv = cbp_get_str(e, CB_EBAD_REQUEST, "op", f[F_OP].val, &op)) != CB_OK)
		return rv;
	for (i = 0; i < CB_OP_COUNT; i++)
		if (strlen(cbp_op_names[i]) == op.len &&
		    memcmp(cbp_op_names[i], op.ptr, op.len) == 0)
			break;
	if (i == CB_OP_COUNT)
		return cbp_bad(e, CB_EBAD_REQUEST, "op", "unknown op \"%.*s\"",
		               (int)(op.len > 40 ? 40 : op.len), op.ptr);
	req->op = (cb_op)i;
	if (f[F_DEADLINE].val != NULL && (req->op == CB_OP_CALL || req->op == CB_OP_MULTI)) {
		if ((rv = cbp_get_uint(e, CB_EBAD_REQUEST, "deadline_ms", f[F_DEADLINE].val,
		                       &req->deadline_ms)) != CB_OK)
			return rv;
		req->has_deadline = true;
	}

	switch (req->op) {
	case CB_OP_CALL:
		return decode_call(e, "", &root->via.map, &req->call);
	case CB_OP_MULTI:
		if (f[F_CALLS].val == NULL)
			return cbp_missing(e, CB_EBAD_REQUEST, "", "calls");
		if ((rv = cbp_want_type(e, CB_EBAD_REQUEST, "calls", f[F_CALLS].val,
		                        MSGPACK_OBJECT_ARRAY, "array")) != CB_OK)
			return rv;
		calls = &f[F_CALLS].val->via.array;
		if (calls->size > CB_MAX_MULTI)
			return cbp_bad(e, CB_EBAD_REQUEST, "calls", "at most %d calls, got %u",
			               CB_MAX_MULTI, calls->size);
		if (calls->size == 0)
			return cbp_bad(e, CB_EBAD_REQUEST, "calls", "at least 1 call is required");
		req->calls = calloc(calls->size, sizeof(*req->calls));
		if (req->calls == NULL)
			return cbp_bad(e, CB_ENOMEM, "calls", "out of memory");
		req->ncalls = calls->size;
		for (uint32_t k = 0; k < calls->size; k++)
			if ((rv = decode_multi_call(e, req, calls, k)) != CB_OK)
				return rv;
		return CB_OK;
	default:
		return CB_OK;
	}
}

cb_err cbp_request_decode(const void *buf, size_t len, const cb_limits *lim, cb_request *req,
                          cb_decode_error *e)
{
	msgpack_zone zone;
	msgpack_object root;
	cb_err rv;

	memset(req, 0, sizeof(*req));
	e->code = CB_OK;
	e->message[0] = '\0';
	if ((rv = cbp_unpack(buf, len, lim, &zone, &root, e)) != CB_OK)
		return rv;
	rv = walk_request(e, &root, req);
	msgpack_zone_destroy(&zone);
	if (rv != CB_OK)
		cbp_request_free(req);
	return rv;
}

void cbp_request_free(cb_request *req)
{
	free(req->calls);
	free(req->call_errors);
	req->call_errors = NULL;
	req->calls = NULL;
	req->ncalls = 0;
}
