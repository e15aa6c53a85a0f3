/* mpjson.h: a msgpack object as JSON (jansson), so that /stats.json is the stats op's own map. */
#ifndef CB_MPJSON_H
#define CB_MPJSON_H

#include <jansson.h>
#include <msgpack.h>

/*
 * A new JSON value for o (the caller owns it), or NULL when out of memory.
 * nil, booleans, integers, floats, strings, arrays and maps with string keys
 * map one to one; a float that is not finite becomes null, a map key that is
 * not a string is printed as the key's JSON text, bin and ext become null.
 */
json_t *mpjson_from(const msgpack_object *o);

#endif
