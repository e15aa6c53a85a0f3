/* json2mp.c: builds msgpack test messages from readable JSON (single quotes allowed). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json2mp.h"

static int pack(msgpack_packer *pk, json_t *j)
{
	const char *key;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(j));
		json_object_foreach(j, key, v)
		{
			msgpack_pack_str_with_body(pk, key, strlen(key));
			if (pack(pk, v) != 0)
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(j));
		json_array_foreach(j, i, v)
		{
			if (pack(pk, v) != 0)
				return -1;
		}
		return 0;
	case JSON_STRING:
		return msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(j));
	case JSON_REAL:
		return msgpack_pack_double(pk, json_real_value(j));
	case JSON_TRUE:
		return msgpack_pack_true(pk);
	case JSON_FALSE:
		return msgpack_pack_false(pk);
	default:
		return msgpack_pack_nil(pk);
	}
}

int json2mp(const char *json, msgpack_sbuffer *buf)
{
	char *text = strdup(json);
	msgpack_packer pk;
	json_error_t err;
	json_t *j;
	int rv;

	if (text == NULL)
		return -1;
	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = json_loads(text, JSON_DECODE_ANY, &err);
	free(text);
	if (j == NULL)
		return -1;
	msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
	rv = pack(&pk, j);
	json_decref(j);
	return rv;
}
