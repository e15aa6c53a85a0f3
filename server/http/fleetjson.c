/* fleetjson.c: /fleet.json — the public URLs of the fleet's instances, this one first. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "excel.h"
#include "fleet.h"
#include "fleetjson.h"

/* The string under key in map o, NUL-terminated into buf; NULL when absent, not one, too long. */
static const char *map_str(const msgpack_object *o, const char *key, char *buf, size_t cap)
{
	size_t klen = strlen(key);

	for (uint32_t i = 0; o->type == MSGPACK_OBJECT_MAP && i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != klen ||
		    memcmp(k->via.str.ptr, key, klen) != 0)
			continue;
		if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap)
			return NULL;
		memcpy(buf, v->via.str.ptr, v->via.str.size);
		buf[v->via.str.size] = '\0';
		return buf;
	}
	return NULL;
}

static int add_unique(json_t *arr, const char *url)
{
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (strcmp(json_string_value(json_array_get(arr, i)), url) == 0)
			return 0;
	return json_array_append_new(arr, json_string(url));
}

/*
 * One report's public_url, unless it is this instance's own report (its own URL is first
 * already) or not a URL --public-url would take: read from Redis, so checked again here.
 */
static int add_instance(json_t *arr, const char *b, size_t len, const char *self)
{
	char url[512], name[256];
	msgpack_unpacked u;
	size_t off = 0;
	int rv = 0;

	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, b, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    map_str(&u.data, "public_url", url, sizeof(url)) != NULL &&
	    excel_public_url_valid(url) &&
	    (self == NULL || map_str(&u.data, "instance", name, sizeof(name)) == NULL ||
	     strcmp(name, self) != 0))
		rv = add_unique(arr, url);
	msgpack_unpacked_destroy(&u);
	return rv;
}

char *fleetjson_render(const report_src *src, size_t *len)
{
	const freport *r = src->fleet ? fleet_report_c(src->fleet) : NULL;
	const char *self = src->fleet ? fshare_owner(fleet_share_c(src->fleet)) : NULL;
	json_t *doc = json_object(), *arr = json_array();
	char *out = NULL;
	int rv;

	if (doc == NULL) {
		json_decref(arr);
		return NULL;
	}
	rv = json_object_set_new(doc, "servers", arr); /* takes arr, even when it fails */

	if (rv == 0 && src->public_url != NULL)
		rv = json_array_append_new(arr, json_string(src->public_url));
	for (size_t i = 0; rv == 0 && r != NULL && i < freport_count(r); i++) {
		size_t n;
		const char *b = freport_get(r, i, &n);
		rv = add_instance(arr, b, n, self);
	}
	*len = rv == 0 ? json_dumpb(doc, NULL, 0, JSON_COMPACT) : 0;
	if (*len > 0 && (out = malloc(*len)) != NULL)
		json_dumpb(doc, out, *len, JSON_COMPACT);
	json_decref(doc);
	return out;
}
