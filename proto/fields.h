/* fields.h: reading the keys of a decoded message — typed getters that name the key path in
 * every error; shared by decode.c (requests) and reply.c (replies), private to proto/. */
#ifndef CB_FIELDS_H
#define CB_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cbproto.h"

#define PATH_MAX_LEN 96

/* A known key of a map and where its value was found. */
typedef struct field {
	const char *name;
	const msgpack_object *val;
} field;

/* Sets e to code and "path: message"; returns code. */
__attribute__((format(printf, 4, 5))) cb_err cbp_bad(cb_decode_error *e, cb_err code,
                                                     const char *path, const char *fmt, ...);
/* "integer", "map", ... for messages. */
const char *cbp_type_name(const msgpack_object *o);
bool cbp_str_eq(const msgpack_object *o, const char *s);
/* Finds the known keys of m; unknown keys are ignored, a known key twice is an error. */
cb_err cbp_collect(cb_decode_error *e, cb_err code, const char *prefix, const msgpack_object_map *m,
                   field *f, size_t nf);
/* prefix + name in buf (PATH_MAX_LEN), for error paths such as "calls[3].args". */
const char *cbp_join(char *buf, const char *prefix, const char *name);
cb_err cbp_missing(cb_decode_error *e, cb_err code, const char *prefix, const char *name);
cb_err cbp_want_type(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                     msgpack_object_type t, const char *tname);
cb_err cbp_get_uint(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                    uint64_t *out);
cb_err cbp_get_num(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                   double *out);
cb_err cbp_get_str(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                   cb_str *out);
cb_err cbp_get_bool(cb_decode_error *e, cb_err code, const char *path, const msgpack_object *o,
                    bool *out);
/*
 * v, the protocol version: missing or not an integer is code; another number
 * is UNSUPPORTED_VERSION when code is BAD_REQUEST (a request), else code.
 */
cb_err cbp_decode_version(cb_decode_error *e, cb_err code, const msgpack_object *v);
/*
 * Prescans, then unpacks into a zone sized from the prescan. Returns CB_OK
 * with *zone initialised (the caller destroys it), or an error with nothing
 * allocated.
 */
cb_err cbp_unpack(const void *buf, size_t len, const cb_limits *lim, msgpack_zone *zone,
                  msgpack_object *root, cb_decode_error *e);

#endif
