/* fshare.h: what the fleet shares per item (--redis) — answers in Redis as the cache database's
 * checksummed rows (cache/rowbytes.h), and leases (SET NX PX) so that one instance submits each
 * item; results published on a channel for the instances waiting on a lease. */
#ifndef CB_FSHARE_H
#define CB_FSHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "answer.h"
#include "fclaim.h"
#include "rconn.h"

typedef struct fshare fshare;

/* Another instance published key's answer (a borrowed, expiring at expires_ms), or gave its lease
 * up without one (a NULL). */
typedef void (*fshare_result_cb)(void *arg, const char *key, size_t keylen, answer *a,
                                 uint64_t expires_ms);

typedef struct fshare_config {
	const rconn_config *sub;  /* the results channel's connection (its url and password) */
	uint64_t lease_ms;        /* a lease lives this long unless renewed (every third of it) */
	uint64_t (*now_ms)(void); /* wall clock, as the cache's */
	fshare_result_cb result;
	void *arg;
} fshare_config;

/* On loop's thread, over cmd (borrowed, closed after fs). 0, or -1 (out of memory). */
int fshare_open(fshare **out, uv_loop_t *loop, rconn *cmd, const fshare_config *cfg);
/* Closes the channel's connection; claims in flight end (FAILED) inline. */
void fshare_close(fshare *fs);

/* Whether Redis can be asked now (its connection is ready). */
bool fshare_ready(const fshare *fs);

/*
 * Looks key up in Redis, else takes its lease, else says who holds it: 0 and
 * cb runs once, never inline; -1 when Redis is not ready (cb never runs).
 */
int fshare_claim(fshare *fs, const char *key, size_t keylen, fshare_claim_cb cb, void *arg);

/*
 * key's answer came from upstream: kept in Redis until expires_ms (when a is
 * a result or a NOT_FOUND; 0: not kept), this instance's lease given up, and
 * published; written a loop turn later with the others. Best effort.
 */
void fshare_store(fshare *fs, const char *key, size_t keylen, answer *a, uint64_t expires_ms);

/* Writes the answers fshare_store kept so far now rather than a loop turn later: a command sent
 * after this runs after them in Redis. */
void fshare_flush(fshare *fs);

/* key's lease, if this instance holds it, is given up without an answer (its item was dropped or
 * failed before it went upstream): the instances waiting on it ask again. */
void fshare_release(fshare *fs, const char *key, size_t keylen);

/* This instance's name in the fleet (its leases' value): host:pid:random. */
const char *fshare_owner(const fshare *fs);

typedef struct fshare_counters {
	uint64_t claims, values, held, mine, failed, corrupt;
	uint64_t stored, published, received, leases; /* leases: held now */
} fshare_counters;
void fshare_get_counters(const fshare *fs, fshare_counters *out);

#endif
