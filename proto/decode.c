/* decode.c: protocol v1 requests and replies from prescanned, unpacked msgpack objects. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbproto.h"

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

#define PATH_MAX_LEN 96

__attribute__((format(printf, 4, 5))) static cb_err bad(cb_decode_error *e, cb_err code,
                                                        const char *path, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(e->message, sizeof(e->message), "%s: ", path);

	va_start(ap, fmt);
	vsnprintf(e->message + n, sizeof(e->message) - (size_t)n, fmt, ap);
	va_end(ap);
	e->code = code;
	return code;
}

static const char *type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return "nil";
	case MSGPACK_OBJECT_BOOLEAN:
		return "boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return "integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return "float";
	case MSGPACK_OBJECT_STR:
		return "string";
	case MSGPACK_OBJECT_BIN:
		return "binary";
	case MSGPACK_OBJECT_ARRAY:
		return "array";
	case MSGPACK_OBJECT_MAP:
		return "map";
	default:
		return "extension";
	}
}

static bool str_eq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

/* A known key of a map and where its value was found. */
typedef struct field {
	const char *name;
	const msgpack_object *val;
} field;

/* Finds the known keys of m; unknown keys are ignored, a known key twice is an error. */
static cb_err collect(cb_decode_error *e, cb_err code, const char *prefix,
                      const msgpack_object_map *m, field *f, size_t nf)
{
	char path[PATH_MAX_LEN];

	for (uint32_t i = 0; i < m->size; i++) {
		for (size_t k = 0; k < nf; k++) {
			if (!str_eq(&m->ptr[i].key, f[k].name))
				continue;
			if (f[k].val != NULL) {
				snprintf(path, sizeof(path), "%s%s", prefix, f[k].name);
				return bad(e, code, path, "duplicate key");
			}
			f[k].val = &m->ptr[i].val;
		}
	}
	return CB_OK;
}

/* prefix + name in buf, for error paths such as "calls[3].args". */
static const char *join(char *buf, const char *prefix, const char *name)
{
	snprintf(buf, PATH_MAX_LEN, "%s%s", prefix, name);
	return buf;
}

static cb_err missing(cb_decode_error *e, cb_err code, const char *prefix, const char *name)
{
	char path[PATH_MAX_LEN];
	snprintf(path, sizeof(path), "%s%s", prefix, name);
	return bad(e, code, path, "required key missing");
}

static cb_err want_type(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                        msgpack_object_type t, const char *tname)
{
	if (o->type == t)
		return CB_OK;
	return bad(e, code, path, "expected %s, got %s", tname, type_name(o));
}

static cb_err get_uint(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                       uint64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return bad(e, code, path, "expected unsigned integer, got negative integer");
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad(e, code, path, "expected unsigned integer, got %s", type_name(o));
	*out = o->via.u64;
	return CB_OK;
}

static cb_err get_num(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                      double *out)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*out = (double)o->via.u64;
		return CB_OK;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*out = (double)o->via.i64;
		return CB_OK;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*out = o->via.f64; /* finiteness was checked by the prescan */
		return CB_OK;
	default:
		return bad(e, code, path, "expected number, got %s", type_name(o));
	}
}

static cb_err get_str(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                      cb_str *out)
{
	cb_err rv = want_type(e, code, path, o, MSGPACK_OBJECT_STR, "string");
	if (rv != CB_OK)
		return rv;
	out->ptr = o->via.str.ptr;
	out->len = o->via.str.size;
	return CB_OK;
}

/* Text arguments and option values: 1 to CB_TEXT_MAX bytes (UTF-8 was checked by the prescan). */
static cb_err get_text(cb_decode_error *e, const char *path, const msgpack_object *o, cb_str *out)
{
	cb_err rv = get_str(e, CB_EBAD_REQUEST, path, o, out);
	if (rv != CB_OK)
		return rv;
	if (out->len < 1 || out->len > CB_TEXT_MAX)
		return bad(e, CB_EBAD_REQUEST, path, "text must be 1 to %d bytes, got %u",
		           CB_TEXT_MAX, out->len);
	/* the upstream cannot take them (a NUL breaks its JSON); tab and line breaks are spaces */
	for (uint32_t i = 0; i < out->len; i++) {
		unsigned char ch = (unsigned char)out->ptr[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f)
			return bad(e, CB_EBAD_REQUEST, path,
			           "control character U+%04X at byte %u is not allowed", ch, i);
	}
	return CB_OK;
}

static cb_err get_bool(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                       bool *out)
{
	cb_err rv = want_type(e, code, path, o, MSGPACK_OBJECT_BOOLEAN, "boolean");
	if (rv == CB_OK)
		*out = o->via.boolean;
	return rv;
}

static cb_err get_coord(cb_decode_error *e, const char *path, const msgpack_object *o, double *out,
                        const char *what, double lim)
{
	cb_err rv = get_num(e, CB_EBAD_REQUEST, path, o, out);
	if (rv != CB_OK)
		return rv;
	if (*out < -lim || *out > lim)
		return bad(e, CB_EBAD_REQUEST, path, "%s %g is outside [%g, %g]", what, *out, -lim,
		           lim);
	return CB_OK;
}

static cb_err decode_opts(cb_decode_error *e, const char *prefix, const msgpack_object *o,
                          cb_opts *opts)
{
	char path[PATH_MAX_LEN];
	field f[CB_OPT_COUNT];
	cb_err rv;

	snprintf(path, sizeof(path), "%sopts", prefix);
	if ((rv = want_type(e, CB_EBAD_REQUEST, path, o, MSGPACK_OBJECT_MAP, "map")) != CB_OK)
		return rv;
	snprintf(path, sizeof(path), "%sopts.", prefix);
	for (int i = 0; i < CB_OPT_COUNT; i++)
		f[i] = (field){cbp_opt_names[i], NULL};
	if ((rv = collect(e, CB_EBAD_REQUEST, path, &o->via.map, f, CB_OPT_COUNT)) != CB_OK)
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

	if ((rv = collect(e, CB_EBAD_REQUEST, prefix, m, f, F_N)) != CB_OK)
		return rv;
	if (f[F_FN].val == NULL)
		return missing(e, CB_EBAD_REQUEST, prefix, "fn");
	snprintf(path, sizeof(path), "%sfn", prefix);
	if ((rv = get_str(e, CB_EBAD_REQUEST, path, f[F_FN].val, &fn)) != CB_OK)
		return rv;
	for (i = 0; i < CB_FN_COUNT; i++)
		if (strlen(cbp_fns[i].name) == fn.len &&
		    memcmp(cbp_fns[i].name, fn.ptr, fn.len) == 0)
			break;
	if (i == CB_FN_COUNT)
		return bad(e, CB_EUNKNOWN_FN, path, "unknown function \"%.*s\"",
		           (int)(fn.len > 40 ? 40 : fn.len), fn.ptr);
	call->fn = (cb_fn)i;

	if (f[F_ARGS].val == NULL)
		return missing(e, CB_EBAD_REQUEST, prefix, "args");
	snprintf(path, sizeof(path), "%sargs", prefix);
	if ((rv = want_type(e, CB_EBAD_REQUEST, path, f[F_ARGS].val, MSGPACK_OBJECT_ARRAY,
	                    "array")) != CB_OK)
		return rv;
	args = &f[F_ARGS].val->via.array;
	if (cbp_fns[i].args == CB_ARGS_TEXT) {
		if (args->size != 1)
			return bad(e, CB_EBAD_REQUEST, path, "%s takes 1 argument [text], got %u",
			           cbp_fns[i].name, args->size);
		snprintf(path, sizeof(path), "%sargs[0]", prefix);
		if ((rv = get_text(e, path, &args->ptr[0], &call->text)) != CB_OK)
			return rv;
	} else {
		if (args->size != 2)
			return bad(e, CB_EBAD_REQUEST, path,
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

static cb_err decode_version(cb_decode_error *e, cb_err code, const msgpack_object *v)
{
	if (v == NULL)
		return missing(e, code, "", "v");
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return bad(e, code, "v", "expected integer, got %s", type_name(v));
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || v->via.u64 != CB_PROTO_VERSION)
		return bad(e, code == CB_EBAD_REQUEST ? CB_EUNSUPPORTED_VERSION : code, "v",
		           "version %lld is not supported (this side speaks %d)",
		           (long long)v->via.i64, CB_PROTO_VERSION);
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
	rv = want_type(&ce, CB_EBAD_REQUEST, prefix, &calls->ptr[k], MSGPACK_OBJECT_MAP, "map");
	if (rv == CB_OK) {
		snprintf(prefix, sizeof(prefix), "calls[%u].", k);
		rv = decode_call(&ce, prefix, &calls->ptr[k].via.map, &req->calls[k]);
	}
	if (rv == CB_OK)
		return CB_OK;
	if (req->call_errors == NULL &&
	    (req->call_errors = calloc(calls->size, sizeof(*req->call_errors))) == NULL)
		return bad(e, CB_ENOMEM, "calls", "out of memory");
	req->call_errors[k] = ce;
	return CB_OK;
}

static cb_err walk_request(cb_decode_error *e, const msgpack_object *root, cb_request *req)
{
	enum { F_V, F_OP, F_ID, F_DEADLINE, F_CALLS, F_N };
	field f[F_N] = {
	    {"v", NULL}, {"op", NULL}, {"id", NULL}, {"deadline_ms", NULL}, {"calls", NULL}};
	const msgpack_object_array *calls;
	cb_str op;
	cb_err rv;
	int i;

	if ((rv = collect(e, CB_EBAD_REQUEST, "", &root->via.map, f, F_N)) != CB_OK)
		return rv;
	/* the id first, so that even a rejection can be matched to its call */
	if (f[F_ID].val != NULL) {
		if ((rv = get_uint(e, CB_EBAD_REQUEST, "id", f[F_ID].val, &req->id)) != CB_OK)
			return rv;
		req->has_id = true;
	}
	if ((rv = decode_version(e, CB_EBAD_REQUEST, f[F_V].val)) != CB_OK)
		return rv;
	if (f[F_OP].val == NULL)
		return missing(e, CB_EBAD_REQUEST, "", "op");
	if ((rv = get_str(e, CB_EBAD_REQUEST, "op", f[F_OP].val, &op)) != CB_OK)
		return rv;
	for (i = 0; i < CB_OP_COUNT; i++)
		if (strlen(cbp_op_names[i]) == op.len &&
		    memcmp(cbp_op_names[i], op.ptr, op.len) == 0)
			break;
	if (i == CB_OP_COUNT)
		return bad(e, CB_EBAD_REQUEST, "op", "unknown op \"%.*s\"",
		           (int)(op.len > 40 ? 40 : op.len), op.ptr);
	req->op = (cb_op)i;
	if (f[F_DEADLINE].val != NULL && (req->op == CB_OP_CALL || req->op == CB_OP_MULTI)) {
		if ((rv = get_uint(e, CB_EBAD_REQUEST, "deadline_ms", f[F_DEADLINE].val,
		                   &req->deadline_ms)) != CB_OK)
			return rv;
		req->has_deadline = true;
	}

	switch (req->op) {
	case CB_OP_CALL:
		return decode_call(e, "", &root->via.map, &req->call);
	case CB_OP_MULTI:
		if (f[F_CALLS].val == NULL)
			return missing(e, CB_EBAD_REQUEST, "", "calls");
		if ((rv = want_type(e, CB_EBAD_REQUEST, "calls", f[F_CALLS].val,
		                    MSGPACK_OBJECT_ARRAY, "array")) != CB_OK)
			return rv;
		calls = &f[F_CALLS].val->via.array;
		if (calls->size > CB_MAX_MULTI)
			return bad(e, CB_EBAD_REQUEST, "calls", "at most %d calls, got %u",
			           CB_MAX_MULTI, calls->size);
		if (calls->size == 0)
			return bad(e, CB_EBAD_REQUEST, "calls", "at least 1 call is required");
		req->calls = calloc(calls->size, sizeof(*req->calls));
		if (req->calls == NULL)
			return bad(e, CB_ENOMEM, "calls", "out of memory");
		req->ncalls = calls->size;
		for (uint32_t k = 0; k < calls->size; k++)
			if ((rv = decode_multi_call(e, req, calls, k)) != CB_OK)
				return rv;
		return CB_OK;
	default:
		return CB_OK;
	}
}

/*
 * Prescans, then unpacks into a zone sized from the prescan. Returns CB_OK
 * with *zone initialised (the caller destroys it), or an error with nothing
 * allocated.
 */
static cb_err unpack(const void *buf, size_t len, const cb_limits *lim, msgpack_zone *zone,
                     msgpack_object *root, cb_decode_error *e)
{
	size_t need = 0, off = 0;
	cb_err rv;

	if ((rv = cbp_prescan(buf, len, lim, &need, e)) != CB_OK)
		return rv;
	/* An empty top-level map needs no zone, and has no "v" either. */
	if (need == 0)
		return missing(e, CB_EBAD_REQUEST, "", "v");
	if (!msgpack_zone_init(zone, need))
		return bad(e, CB_ENOMEM, "body", "out of memory");
	if (msgpack_unpack(buf, len, &off, zone, root) != MSGPACK_UNPACK_SUCCESS) {
		msgpack_zone_destroy(zone);
		/* the prescan accepted it, so only memory can be short here */
		return bad(e, CB_ENOMEM, "body", "msgpack-c could not unpack the message");
	}
	return CB_OK;
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
	if ((rv = unpack(buf, len, lim, &zone, &root, e)) != CB_OK)
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

/* Replies come from our own server, but a client still treats them as untrusted. */

static cb_err walk_result(cb_decode_error *e, const char *prefix, const msgpack_object *o,
                          cb_wire_result *r)
{
	enum { F_LAT, F_LON, F_FORMATTED, F_CONF, F_TYPE, F_N };
	field f[F_N] = {{"lat", NULL},
	                {"lon", NULL},
	                {"formatted", NULL},
	                {"confidence", NULL},
	                {"result_type", NULL}};
	char path[PATH_MAX_LEN];
	cb_err rv;

	snprintf(path, sizeof(path), "%sresult", prefix);
	if ((rv = want_type(e, CB_EPROTO, path, o, MSGPACK_OBJECT_MAP, "map")) != CB_OK)
		return rv;
	snprintf(path, sizeof(path), "%sresult.", prefix);
	if ((rv = collect(e, CB_EPROTO, path, &o->via.map, f, F_N)) != CB_OK)
		return rv;
	for (int i = F_LAT; i <= F_FORMATTED; i++)
		if (f[i].val == NULL)
			return missing(e, CB_EPROTO, path, f[i].name);
	if ((rv = get_num(e, CB_EPROTO, join(path, prefix, "result.lat"), f[F_LAT].val, &r->lat)) !=
	        CB_OK ||
	    (rv = get_num(e, CB_EPROTO, join(path, prefix, "result.lon"), f[F_LON].val, &r->lon)) !=
	        CB_OK ||
	    (rv = get_str(e, CB_EPROTO, join(path, prefix, "result.formatted"), f[F_FORMATTED].val,
	                  &r->formatted)) != CB_OK)
		return rv;
	if (f[F_CONF].val != NULL) {
		if ((rv = get_num(e, CB_EPROTO, join(path, prefix, "result.confidence"),
		                  f[F_CONF].val, &r->confidence)) != CB_OK)
			return rv;
		r->has_confidence = true;
	}
	if (f[F_TYPE].val != NULL)
		return get_str(e, CB_EPROTO, join(path, prefix, "result.result_type"),
		               f[F_TYPE].val, &r->result_type);
	return CB_OK;
}

static cb_err walk_meta(cb_decode_error *e, const msgpack_object *o, cb_meta *m)
{
	enum { F_CACHED, F_SIZE, F_WAIT, F_N };
	field f[F_N] = {{"cached", NULL}, {"batch_size", NULL}, {"wait_ms", NULL}};
	cb_err rv;

	if ((rv = want_type(e, CB_EPROTO, "meta", o, MSGPACK_OBJECT_MAP, "map")) != CB_OK)
		return rv;
	if ((rv = collect(e, CB_EPROTO, "meta.", &o->via.map, f, F_N)) != CB_OK)
		return rv;
	for (int i = 0; i < F_N; i++)
		if (f[i].val == NULL)
			return missing(e, CB_EPROTO, "meta.", f[i].name);
	if ((rv = get_bool(e, CB_EPROTO, "meta.cached", f[F_CACHED].val, &m->cached)) != CB_OK ||
	    (rv = get_uint(e, CB_EPROTO, "meta.batch_size", f[F_SIZE].val, &m->batch_size)) !=
	        CB_OK)
		return rv;
	return get_num(e, CB_EPROTO, "meta.wait_ms", f[F_WAIT].val, &m->wait_ms);
}

static cb_err walk_error(cb_decode_error *e, const msgpack_object *o, cb_reply *r)
{
	field f[2] = {{"code", NULL}, {"message", NULL}};
	cb_str code;
	cb_err rv;

	if ((rv = want_type(e, CB_EPROTO, "error", o, MSGPACK_OBJECT_MAP, "map")) != CB_OK)
		return rv;
	if ((rv = collect(e, CB_EPROTO, "error.", &o->via.map, f, 2)) != CB_OK)
		return rv;
	if (f[0].val == NULL)
		return missing(e, CB_EPROTO, "error.", "code");
	if (f[1].val == NULL)
		return missing(e, CB_EPROTO, "error.", "message");
	if ((rv = get_str(e, CB_EPROTO, "error.code", f[0].val, &code)) != CB_OK ||
	    (rv = get_str(e, CB_EPROTO, "error.message", f[1].val, &r->message)) != CB_OK)
		return rv;
	r->err = cbp_err_from_name(code.ptr, code.len);
	return CB_OK;
}

/* The body shared by a whole reply and an element of results. */
static cb_err walk_reply_body(cb_decode_error *e, const char *prefix, const msgpack_object_map *m,
                              cb_reply *r)
{
	enum { F_OK, F_RESULT, F_META, F_ERROR, F_N };
	field f[F_N] = {{"ok", NULL}, {"result", NULL}, {"meta", NULL}, {"error", NULL}};
	bool ok;
	cb_err rv;

	if ((rv = collect(e, CB_EPROTO, prefix, m, f, F_N)) != CB_OK)
		return rv;
	if (f[F_OK].val == NULL)
		return missing(e, CB_EPROTO, prefix, "ok");
	if ((rv = get_bool(e, CB_EPROTO, "ok", f[F_OK].val, &ok)) != CB_OK)
		return rv;
	if (!ok) {
		if (f[F_ERROR].val == NULL)
			return missing(e, CB_EPROTO, prefix, "error");
		return walk_error(e, f[F_ERROR].val, r);
	}
	r->err = CB_OK;
	if (f[F_RESULT].val == NULL)
		return CB_OK;
	if (f[F_META].val == NULL)
		return missing(e, CB_EPROTO, prefix, "meta");
	if ((rv = walk_result(e, prefix, f[F_RESULT].val, &r->result)) != CB_OK ||
	    (rv = walk_meta(e, f[F_META].val, &r->meta)) != CB_OK)
		return rv;
	r->has_result = true;
	return CB_OK;
}

static cb_err walk_reply(cb_decode_error *e, const msgpack_object *root, cb_reply *r)
{
	enum { F_V, F_ID, F_RESULTS, F_VERSION, F_STATS, F_N };
	field f[F_N] = {
	    {"v", NULL}, {"id", NULL}, {"results", NULL}, {"version", NULL}, {"stats", NULL}};
	const msgpack_object_array *res;
	cb_err rv;

	if ((rv = collect(e, CB_EPROTO, "", &root->via.map, f, F_N)) != CB_OK)
		return rv;
	if ((rv = decode_version(e, CB_EPROTO, f[F_V].val)) != CB_OK)
		return rv;
	if (f[F_ID].val != NULL) {
		if ((rv = get_uint(e, CB_EPROTO, "id", f[F_ID].val, &r->id)) != CB_OK)
			return rv;
		r->has_id = true;
	}
	if ((rv = walk_reply_body(e, "", &root->via.map, r)) != CB_OK)
		return rv;
	if (f[F_VERSION].val != NULL &&
	    (rv = get_str(e, CB_EPROTO, "version", f[F_VERSION].val, &r->version)) != CB_OK)
		return rv;
	if (f[F_STATS].val != NULL) {
		if ((rv = want_type(e, CB_EPROTO, "stats", f[F_STATS].val, MSGPACK_OBJECT_MAP,
		                    "map")) != CB_OK)
			return rv;
		r->stats = *f[F_STATS].val;
		r->has_stats = true;
	}
	if (f[F_RESULTS].val == NULL)
		return CB_OK;
	if ((rv = want_type(e, CB_EPROTO, "results", f[F_RESULTS].val, MSGPACK_OBJECT_ARRAY,
	                    "array")) != CB_OK)
		return rv;
	res = &f[F_RESULTS].val->via.array;
	r->is_multi = true;
	if (res->size == 0)
		return CB_OK;
	r->results = calloc(res->size, sizeof(*r->results));
	if (r->results == NULL)
		return bad(e, CB_ENOMEM, "results", "out of memory");
	r->nresults = res->size;
	for (uint32_t k = 0; k < res->size; k++) {
		char prefix[PATH_MAX_LEN];
		snprintf(prefix, sizeof(prefix), "results[%u]", k);
		if ((rv = want_type(e, CB_EPROTO, prefix, &res->ptr[k], MSGPACK_OBJECT_MAP,
		                    "map")) != CB_OK)
			return rv;
		snprintf(prefix, sizeof(prefix), "results[%u].", k);
		if ((rv = walk_reply_body(e, prefix, &res->ptr[k].via.map, &r->results[k])) !=
		    CB_OK)
			return rv;
	}
	return CB_OK;
}

cb_err cbp_reply_decode(const void *buf, size_t len, const cb_limits *lim, cb_reply *rep,
                        cb_decode_error *e)
{
	msgpack_object root;
	cb_err rv;

	memset(rep, 0, sizeof(*rep));
	e->code = CB_OK;
	e->message[0] = '\0';
	rep->zone = malloc(sizeof(*rep->zone));
	if (rep->zone == NULL)
		return bad(e, CB_ENOMEM, "body", "out of memory");
	if ((rv = unpack(buf, len, lim, rep->zone, &root, e)) != CB_OK) {
		free(rep->zone);
		rep->zone = NULL;
		return rv == CB_ENOMEM ? rv : (e->code = CB_EPROTO);
	}
	if ((rv = walk_reply(e, &root, rep)) != CB_OK)
		cbp_reply_free(rep);
	return rv;
}

void cbp_reply_free(cb_reply *rep)
{
	free(rep->results);
	rep->results = NULL;
	rep->nresults = 0;
	if (rep->zone != NULL) {
		msgpack_zone_destroy(rep->zone);
		free(rep->zone);
		rep->zone = NULL;
	}
	rep->has_stats = false;
}
