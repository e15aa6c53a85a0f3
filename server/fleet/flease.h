/* flease.h: the leases one instance holds on items (fshare.h), renewed while it lives, so that
 * only a dead instance's expire. */
#ifndef CB_FLEASE_H
#define CB_FLEASE_H

#include <stddef.h>

#include "htab.h"
#include "rconn.h"

typedef struct flease_set {
	htab held; /* of the items' keys */
	rconn *cmd;
	const char *owner;    /* borrowed: the value each lease holds */
	const char *lease_ms; /* borrowed: the TTL each renewal sets */
	const char *prefix;   /* borrowed: a lease's key is prefix + the item's key */
	size_t prefix_len;
} flease_set;

/* A Redis key: pfx + key (keylen bytes), NUL-terminated, malloc'd (the caller frees it); NULL
 * without memory. Every fleet key is made so: a prefix naming what it holds, and an item's key or
 * a job's id. */
char *flease_key(const char *pfx, const char *key, size_t keylen);

/* 0, or -1 without memory. The strings are borrowed for the set's life. */
int flease_init(flease_set *s, rconn *cmd, const char *owner, const char *lease_ms,
                const char *prefix);
void flease_fini(flease_set *s);

/* key's lease is this instance's now, and until flease_drop. */
void flease_hold(flease_set *s, const char *key, size_t keylen);
void flease_drop(flease_set *s, const char *key, size_t keylen);

/* Renews every lease held (a few hundred per command); best effort. */
void flease_renew(flease_set *s);

#endif
