/* fclaim.h: items claimed in the fleet (fshare.h) — many at once: one script per few hundred
 * items answers, for each, its value in Redis, or its lease taken, or the holder's time left. */
#ifndef CB_FCLAIM_H
#define CB_FCLAIM_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "answer.h"
#include "flease.h"
#include "list.h"
#include "rconn.h"

typedef enum fshare_claim_rc {
	FSHARE_MINE,   /* the lease is this instance's: send the item upstream */
	FSHARE_VALUE,  /* Redis has the answer */
	FSHARE_HELD,   /* another instance holds the lease: its result will come */
	FSHARE_FAILED, /* Redis did not answer, or its value was damaged: go alone */
} fshare_claim_rc;

/* A claim's end: a is FSHARE_VALUE's answer (borrowed), wait_ms FSHARE_HELD's lease time left. */
typedef void (*fshare_claim_cb)(void *arg, fshare_claim_rc rc, answer *a, uint64_t expires_ms,
                                uint64_t wait_ms);

/* An item inside a job journalled in Redis (fjob.c) is marked by this prefix + its key, holding
 * the job's id: no instance claims it while the job is upstream, whoever polls it. */
#define FCLAIM_JOB_PFX     "cellbatch:i:"
#define FCLAIM_JOB_PFX_LEN 12

typedef struct fclaim_counters {
	uint64_t claims, values, held, mine, failed, corrupt;
} fclaim_counters;

typedef struct fclaim_set {
	rconn *cmd;
	flease_set *leases;   /* the leases taken go there */
	const char *owner;    /* borrowed */
	const char *lease_ms; /* borrowed */
	const char *vpfx, *lpfx;
	uint64_t (*now_ms)(void);
	list_node waiting; /* claims not sent yet */
	unsigned sent;     /* commands in flight */
	uv_timer_t timer;  /* sends what waits, a loop turn after the first one came */
	fclaim_counters c;
} fclaim_set;

/* On loop's thread; the strings are borrowed for the set's life. */
void fclaim_init(fclaim_set *s, uv_loop_t *loop, rconn *cmd, flease_set *leases, const char *owner,
                 const char *lease_ms, const char *vpfx, const char *lpfx,
                 uint64_t (*now_ms)(void));
/* Claims not sent end FAILED now; the timer closes with closed_cb and data (the owner's). */
void fclaim_close(fclaim_set *s, uv_close_cb closed_cb, void *data);

/* fshare_claim's work (fshare.h). */
int fclaim_claim(fclaim_set *s, const char *key, size_t keylen, fshare_claim_cb cb, void *arg);

#endif
