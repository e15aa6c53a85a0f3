/* jsonout.c: every JSON the cellbatch command writes, built with jansson (valid UTF-8, unique
 * keys) — stats maps from msgpack, and strings from the bytes of a file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

/* Length of the UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80                   ? 1
	             : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
	             : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
	             : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
	                                           : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

json_t *cli_jstr(const char *s, size_t n)
{
	json_t *v = json_stringn(s, n);
	char *fixed;
	size_t w = 0;

	if (v != NULL)
		return v;
	/* a file's bytes need not be UTF-8; JSON must be: keep what is, mark what is not */
	if ((fixed = malloc(3 * n + 1)) == NULL)
		return json_null();
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len((const unsigned char *)s + i, n - i);
		if (l == 0) {
			memcpy(fixed + w, "\xef\xbf\xbd", 3);
			w += 3;
			i++;
			continue;
		}
		memcpy(fixed + w, s + i, l);
		w += l;
		i += l;
	}
	v = json_stringn(fixed, w);
	free(fixed);
	return v != NULL ? v : json_null(); /* overlong forms and surrogates: rare enough */
}

void cli_set_unique(json_t *obj, const char *key, json_t *v)
{
	char alt[512];

	if (json_object_get(obj, key) == NULL) {
		json_object_set_new(obj, key, v);
		return;
	}
	for (int i = 2;; i++) {
		snprintf(alt, sizeof(alt), "%s_%d", key, i);
		if (json_object_get(obj, alt) == NULL)
			break;
	}
	json_object_set_new(obj, alt, v);
}

static json_t *mp_map(const msgpack_object *o)
{
	json_t *m = json_object();
	char key[256];

	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		json_t *kj = k->type == MSGPACK_OBJECT_STR
		                 ? cli_jstr(k->via.str.ptr, k->via.str.size)
		                 : NULL;
		snprintf(key, sizeof(key), "%s", json_is_string(kj) ? json_string_value(kj) : "?");
		json_decref(kj);
		json_object_set_new(m, key, cli_mp_json(&o->via.map.ptr[i].val));
	}
	return m;
}

json_t *cli_mp_json(const msgpack_object *o)
{
	json_t *a;

	switch (o->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return o->via.u64 <= (uint64_t)INT64_MAX ? json_integer((json_int_t)o->via.u64)
		                                         : json_real((double)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return cli_jstr(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY:
		a = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_array_append_new(a, cli_mp_json(&o->via.array.ptr[i]));
		return a;
	case MSGPACK_OBJECT_MAP:
		return mp_map(o);
	default:
		return json_null();
	}
}

void cli_json_line(FILE *f, json_t *v)
{
	/* 12 significant digits: 7 decimals of a coordinate, without binary noise */
	json_dumpf(v, f, JSON_COMPACT | JSON_REAL_PRECISION(12));
	fputc('\n', f);
	json_decref(v);
}

void json_print(FILE *f, const msgpack_object *o)
{
	json_t *v = cli_mp_json(o);

	json_dumpf(v, f, JSON_COMPACT);
	json_decref(v);
}
