/* fmsg.h: the fleet's results channel's message — records of an item's key and its answer as
 * cache/rowbytes.h's bytes (none: the lease was given up without one). */
#ifndef CB_FMSG_H
#define CB_FMSG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fmsg_rec {
	char *key; /* an item's key */
	size_t keylen;
	char *val; /* rowbytes; NULL (vlen 0): no answer kept */
	size_t vlen;
} fmsg_rec;

/* recs[0..n) as one message ((u32 key length, key, u32 value length, value)..., little-endian),
 * malloc'd, its length in *len; NULL when out of memory. */
char *fmsg_pack(const fmsg_rec *recs, size_t stride, size_t n, size_t *len);

/* The record at *off of m (pointing into m), *off moved past it; false at the end or on bytes
 * that are not a record. */
bool fmsg_next(const char *m, size_t len, size_t *off, fmsg_rec *out);

#endif
