/* fields.c: reading the keys of a decoded message — typed getters that name the key path in
 * every error, shared by the request and the reply decoders. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

__attribute__((format(printf, 4, 5))) cb_err cbp_bad(cb_decode_error *e, cb_err code,
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

const char *cbp_type_name(const msgpack_object *o)
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

bool cbp_str_eq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

/* A known key of a map and where its value was found. */

/* Finds the known keys of m; unknown keys are ignored, a known key twice is an error. */
cb_err cbp_collect(cb_decode_error *e, cb_err code, const char *prefix, const msgpack_object_map *m,
                   field *f, size_t nf)
{
	char path[PATH_MAX_LEN];

	for (uint32_t i = 0; i < m->size; i++) {
		for (size_t k = 0; k < nf; k++) {
			if (!cbp_str_eq(&m->ptr[i].key, f[k].name))
				continue;
			if (f[k].val != NULL) {
				snprintf(path, sizeof(path), "%s%s", prefix, f[k].name);
				return cbp_bad(e, code, path, "duplicate key");
			}
			f[k].val = &m->ptr[i].val;
		}
	}
	return CB_OK;
}

/* prefix + name in buf, for error paths such as "calls[3].args". */
const char *cbp_join(char *buf, const char *prefix, const char *name)
{
	snprintf(buf, PATH_MAX_LEN, "%s%s", prefix, name);
	return buf;
}

cb_err cbp_missing(cb_decode_error *e, cb_err code, const char *prefix, const char *name)
{
	char path[PATH_MAX_LEN];
	snprintf(path, sizeof(path), "%s%s", prefix, name);
	return cbp_bad(e, code, path, "required key missing");
}

cb_err cbp_want_type(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                     msgpack_object_type t, const char *tname)
{
	if (o->type == t)
		return CB_OK;
	return cbp_bad(e, code, path, "expected %s, got %s", tname, cbp_type_name(o));
}

cb_err cbp_get_uint(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                    uint64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return cbp_bad(e, code, path, "expected unsigned integer, got negative integer");
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return cbp_bad(e, code, path, "expected unsigned integer, got %s",
		               cbp_type_name(o));
	*out = o->via.u64;
	return CB_OK;
}

cb_err cbp_get_num(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
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
		return cbp_bad(e, code, path, "expected number, got %s", cbp_type_name(o));
	}
}

cb_err cbp_get_str(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                   cb_str *out)
{
	cb_err rv = cbp_want_type(e, code, path, o, MSGPACK_OBJECT_STR, "string");
	if (rv != CB_OK)
		return rv;
	out->ptr = o->via.str.ptr;
	out->len = o->via.str.size;
	return CB_OK;
}

cb_err cbp_get_bool(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                    bool *out)
{
	cb_err rv = cbp_want_type(e, code, path, o, MSGPACK_OBJECT_BOOLEAN, "boolean");
	if (rv == CB_OK)
		*out = o->via.boolean;
	return rv;
}

/*
 * Prescans, then unpacks into a zone sized from the prescan. Returns CB_OK
 * with *zone initialised (the caller destroys it), or an error with nothing
 * allocated.
 */
cb_err cbp_unpack(const void *buf, size_t len, const cb_limits *lim, msgpack_zone *zone,
                  msgpack_object *root, cb_decode_error *e)
{
	size_t need = 0, off = 0;
	cb_err rv;

	if ((rv = cbp_prescan(buf, len, lim, &need, e)) != CB_OK)
		return rv;
	/* An empty top-level map needs no zone, and has no "v" either. */
	if (need == 0)
		return cbp_missing(e, CB_EBAD_REQUEST, "", "v");
	if (!msgpack_zone_init(zone, need))
		return cbp_bad(e, CB_ENOMEM, "body", "out of memory");
	if (msgpack_unpack(buf, len, &off, zone, root) != MSGPACK_UNPACK_SUCCESS) {
		msgpack_zone_destroy(zone);
		/* the prescan accepted it, so only memory can be short here */
		return cbp_bad(e, CB_ENOMEM, "body", "msgpack-c could not unpack the message");
	}
	return CB_OK;
}

cb_err cbp_decode_version(cb_decode_error *e, cb_err code, const msgpack_object *v)
{
	if (v == NULL)
		return cbp_missing(e, code, "", "v");
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    v->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return cbp_bad(e, code, "v", "expected integer, got %s", cbp_type_name(v));
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || v->via.u64 != CB_PROTO_VERSION)
		return cbp_bad(e, code == CB_EBAD_REQUEST ? CB_EUNSUPPORTED_VERSION : code, "v",
		               "version %lld is not supported (this side speaks %d)",
		               (long long)v->via.i64, CB_PROTO_VERSION);
	return CB_OK;
}
