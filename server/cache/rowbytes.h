/* rowbytes.h: a cache row as bytes — what the fleet's shared cache (fleet/fshare.c) keeps in
 * Redis: the database's columns and its checksum (dbrow.h), so that a damaged value is a miss. */
#ifndef CB_ROWBYTES_H
#define CB_ROWBYTES_H

#include <stddef.h>
#include <stdint.h>

#include "answer.h"

/*
 * Writes the row storing a (a result or a NOT_FOUND) for key until expires_ms
 * into out when it fits in cap; returns the bytes it needs (0: a is neither,
 * nothing to keep).
 */
size_t rowbytes_encode(const char *key, size_t keylen, const answer *a, uint64_t expires_ms,
                       char *out, size_t cap);

typedef enum rowbytes_rc { ROWBYTES_OK, ROWBYTES_EXPIRED, ROWBYTES_CORRUPT } rowbytes_rc;

/*
 * The answer (the caller's reference) buf holds for key, and its expiry;
 * NULL with *rc saying why: expired at now_ms, or bytes that are not a row
 * or fail the checksum (CORRUPT: also when out of memory).
 */
answer *rowbytes_decode(const char *key, size_t keylen, const char *buf, size_t len,
                        uint64_t now_ms, uint64_t *expires_ms, rowbytes_rc *rc);

#endif
