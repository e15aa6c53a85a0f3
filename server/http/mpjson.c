/* mpjson.c: msgpack objects converted to jansson values, for /stats.json. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mpjson.h"

/* A map key as a NUL-terminated string (caller frees), or NULL when out of memory. */
static char *key_text(const msgpack_object *k)
{
	json_t *j;
	char *s;

	if (k->type == MSGPACK_OBJECT_STR)
		return strndup(k->via.str.ptr, k->via.str.size);
	if ((j = mpjson_from(k)) == NULL)
		return NULL;
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	return s;
}

static json_t *from_map(const msgpack_object_map *m)
{
	json_t *o = json_object();

	for (uint32_t i = 0; o != NULL && i < m->size; i++) {
		char *k = key_text(&m->ptr[i].key);
		json_t *v = mpjson_from(&m->ptr[i].val);
		if (k == NULL || v == NULL || json_object_set_new(o, k, v) != 0) {
			json_decref(o);
			o = NULL;
		}
		free(k);
	}
	return o;
}

static json_t *from_array(const msgpack_object_array *a)
{
	json_t *o = json_array();

	for (uint32_t i = 0; o != NULL && i < a->size; i++) {
		if (json_array_append_new(o, mpjson_from(&a->ptr[i])) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* A string that is not UTF-8 (a path, say) keeps its ASCII and shows '?' for the rest. */
static json_t *from_str(const char *p, size_t n)
{
	json_t *j = json_stringn(p, n);
	char *copy;

	if (j != NULL || (copy = malloc(n + 1)) == NULL)
		return j;
	for (size_t i = 0; i < n; i++)
		copy[i] = (unsigned char)p[i] < 0x80 && p[i] != '\0' ? p[i] : '?';
	j = json_stringn(copy, n);
	free(copy);
	return j;
}

static json_t *from_float(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

json_t *mpjson_from(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		/* jansson's integers are signed 64-bit; counters never reach 2^63 */
		return json_integer(o->via.u64 > INT64_MAX ? INT64_MAX : (json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return from_float(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return from_str(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		return from_array(&o->via.array);
	case MSGPACK_OBJECT_MAP:
		return from_map(&o->via.map);
	default: /* nil, bin, ext */
		return json_null();
	}
}
