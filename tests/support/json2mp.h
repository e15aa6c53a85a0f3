/* json2mp.h: builds msgpack test messages from readable JSON (single quotes allowed). */
#ifndef JSON2MP_H
#define JSON2MP_H

#include <msgpack.h>

/*
 * Appends the msgpack form of json to buf: objects keep their key order,
 * integers take their smallest form, reals are float64. Single quotes in
 * json are read as double quotes. Returns 0, or -1 when json does not parse.
 */
int json2mp(const char *json, msgpack_sbuffer *buf);

#endif
