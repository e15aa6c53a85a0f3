/* reply.c: protocol v1 replies from prescanned, unpacked msgpack objects — the client's side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbproto.h"
#include "fields.h"

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
	if ((rv = cbp_want_type(e, CB_EPROTO, path, o, MSGPACK_OBJECT_MAP, "map")) != CB_OK)
		return rv;
	snprintf(path, sizeof(path), "%sresult.", prefix);
	if ((rv = cbp_collect(e, CB_EPROTO, path, &o->via.map, f, F_N)) != CB_OK)
		return rv;
	for (int i = F_LAT; i <= F_FORMATTED; i++)
		if (f[i].val == NULL)
			return cbp_missing(e, CB_EPROTO, path, f[i].name);
	if ((rv = cbp_get_num(e, CB_EPROTO, cbp_join(path, prefix, "result.lat"), f[F_LAT].val,
	                      &r->lat)) != CB_OK ||
	    (rv = cbp_get_num(e, CB_EPROTO, cbp_join(path, prefix, "result.lon"), f[F_LON].val,
	                      &r->lon)) != CB_OK ||
	    (rv = cbp_get_str(e, CB_EPROTO, cbp_join(path, prefix, "result.formatted"),
	                      f[F_FORMATTED].val, &r->formatted)) != CB_OK)
		return rv;
	if (f[F_CONF].val != NULL) {
		if ((rv = cbp_get_num(e, CB_EPROTO, cbp_join(path, prefix, "result.confidence"),
		                      f[F_CONF].val, &r->confidence)) != CB_OK)
			return rv;
		r->has_confidence = true;
	}
	if (f[F_TYPE].val != NULL)
		return cbp_get_str(e, CB_EPROTO, cbp_join(path, prefix, "result.result_type"),
		                   f[F_TYPE].val, &r->result_type);
	return CB_OK;
}

static cb_err walk_meta(cb_decode_error *e, const msgpack_object *o, cb_meta *m)
{
	enum { F_CACHED, F_SIZE, F_WAIT, F_N };
	field f[F_N] = {{"cached", NULL}, {"batch_size", NULL}, {"wait_ms", NULL}};
	cb_err rv;

	if ((rv = cbp_want_type(e, CB_EPROTO, "meta", o, MSGPACK_OBJECT_MAP, "map")) != CB_OK)
		return rv;
	if ((rv = cbp_collect(e, CB_EPROTO, "meta.", &o->via.map, f, F_N)) != CB_OK)
		return rv;
	for (int i = 0; i < F_N; i++)
		if (f[i].val == NULL)
			return cbp_missing(e, CB_EPROTO, "meta.", f[i].name);
	if ((rv = cbp_get_bool(e, CB_EPROTO, "meta.cached", f[F_CACHED].val, &m->cached)) !=
	        CB_OK ||
	    (rv = cbp_get_uint(e, CB_EPROTO, "meta.batch_size", f[F_SIZE].val, &m->batch_size)) !=
	        CB_OK)
		return rv;
	return cbp_get_num(e, CB_EPROTO, "meta.wait_ms", f[F_WAIT].val, &m->wait_ms);
}

static cb_err walk_error(cb_decode_error *e, const msgpack_object *o, cb_reply *r)
{
	field f[2] = {{"code", NULL}, {"message", NULL}};
	cb_str code;
	cb_err rv;

	if ((rv = cbp_want_type(e, CB_EPROTO, "error", o, MSGPACK_OBJECT_MAP, "map")) != CB_OK)
		return rv;
	if ((rv = cbp_collect(e, CB_EPROTO, "error.", &o->via.map, f, 2)) != CB_OK)
		return rv;
	if (f[0].val == NULL)
		return cbp_missing(e, CB_EPROTO, "error.", "code");
	if (f[1].val == NULL)
		return cbp_missing(e, CB_EPROTO, "error.", "message");
	if ((rv = cbp_get_str(e, CB_EPROTO, "error.code", f[0].val, &code)) != CB_OK ||
	    (rv = cbp_get_str(e, CB_EPROTO, "error.message", f[1].val, &r->message)) != CB_OK)
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

	if ((rv = cbp_collect(e, CB_EPROTO, prefix, m, f, F_N)) != CB_OK)
		return rv;
	if (f[F_OK].val == NULL)
		return cbp_missing(e, CB_EPROTO, prefix, "ok");
	if ((rv = cbp_get_bool(e, CB_EPROTO, "ok", f[F_OK].val, &ok)) != CB_OK)
		return rv;
	if (!ok) {
		if (f[F_ERROR].val == NULL)
			return cbp_missing(e, CB_EPROTO, prefix, "error");
		return walk_error(e, f[F_ERROR].val, r);
	}
	r->err = CB_OK;
	if (f[F_RESULT].val == NULL)
		return CB_OK;
	if (f[F_META].val == NULL)
		return cbp_missing(e, CB_EPROTO, prefix, "meta");
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

	if ((rv = cbp_collect(e, CB_EPROTO, "", &root->via.map, f, F_N)) != CB_OK)
		return rv;
	if ((rv = cbp_decode_version(e, CB_EPROTO, f[F_V].val)) != CB_OK)
		return rv;
	if (f[F_ID].val != NULL) {
		if ((rv = cbp_get_uint(e, CB_EPROTO, "id", f[F_ID].val, &r->id)) != CB_OK)
			return rv;
		r->has_id = true;
	}
	if ((rv = walk_reply_body(e, "", &root->via.map, r)) != CB_OK)
		return rv;
	if (f[F_VERSION].val != NULL &&
	    (rv = cbp_get_str(e, CB_EPROTO, "version", f[F_VERSION].val, &r->version)) != CB_OK)
		return rv;
	if (f[F_STATS].val != NULL) {
		if ((rv = cbp_want_type(e, CB_EPROTO, "stats", f[F_STATS].val, MSGPACK_OBJECT_MAP,
		                        "map")) != CB_OK)
			return rv;
		r->stats = *f[F_STATS].val;
		r->has_stats = true;
	}
	if (f[F_RESULTS].val == NULL)
		return CB_OK;
	if ((rv = cbp_want_type(e, CB_EPROTO, "results", f[F_RESULTS].val, MSGPACK_OBJECT_ARRAY,
	                        "array")) != CB_OK)
		return rv;
	res = &f[F_RESULTS].val->via.array;
	r->is_multi = true;
	if (res->size == 0)
		return CB_OK;
	r->results = calloc(res->size, sizeof(*r->results));
	if (r->results == NULL)
		return cbp_bad(e, CB_ENOMEM, "results", "out of memory");
	r->nresults = res->size;
	for (uint32_t k = 0; k < res->size; k++) {
		char prefix[PATH_MAX_LEN];
		snprintf(prefix, sizeof(prefix), "results[%u]", k);
		if ((rv = cbp_want_type(e, CB_EPROTO, prefix, &res->ptr[k], MSGPACK_OBJECT_MAP,
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
		return cbp_bad(e, CB_ENOMEM, "body", "out of memory");
	if ((rv = cbp_unpack(buf, len, lim, rep->zone, &root, e)) != CB_OK) {
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
