/* jsonout.h: every JSON the cellbatch command writes, built with jansson (valid UTF-8, unique
 * keys) — stats maps from msgpack, and strings from the bytes of a file. */
#ifndef CB_JSONOUT_H
#define CB_JSONOUT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <msgpack.h>

/* A new JSON string of s[0..n); bytes that are not UTF-8 become U+FFFD. Caller owns it. */
json_t *cli_jstr(const char *s, size_t n);

/* A new JSON value for o (maps with string keys become objects; a repeated key keeps its last). */
json_t *cli_mp_json(const msgpack_object *o);

/* Sets key in obj to v (taken), as "key_2", "key_3"... when obj has key already. */
void cli_set_unique(json_t *obj, const char *key, json_t *v);

/* Writes v (taken) as one compact line. */
void cli_json_line(FILE *f, json_t *v);

/* One JSON line for o. */
void json_print(FILE *f, const msgpack_object *o);

#endif
