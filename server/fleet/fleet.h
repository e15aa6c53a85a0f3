/* fleet.h: what several cellbatchd share through Redis (--redis) — the connection and the rate
 * limit per API key; main.c wires it under dispatch/ratelimit.c. */
#ifndef CB_FLEET_H
#define CB_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "fjob.h"
#include "flimit.h"
#include "freport.h"
#include "fshare.h"
#include "rconn.h"

typedef struct fleet_config {
	const char *url;                    /* --redis */
	const char *password_file;          /* --redis-password-file; NULL: no AUTH */
	uint64_t timeout_ms;                /* --redis-timeout */
	const char *api_key;                /* only its hash leaves the process */
	uint64_t interval_ns, tolerance_ns; /* the GCRA's T and tau (dispatch/gcra.h) */
	uint64_t lease_ms;                  /* an item's lease, renewed while its owner lives */
	uint64_t (*now_ms)(void);           /* wall clock, as the cache's */
	fshare_result_cb result;            /* another instance's answer (fshare.h) */
	void *result_arg;
	freport_summary_fn summary; /* this instance's summary for the fleet's view (freport.h) */
	void *summary_arg;
	uint64_t job_max_age_ms; /* how long a journalled job may still be polled (fjob.h) */
	fjob_adopt_cb adopt;     /* a dead instance's job to poll (fjob.h) */
	void *adopt_arg;
} fleet_config;

/* Redis became usable (up) or stopped being so; never inline from fleet_open. */
typedef void (*fleet_ready_cb)(void *arg, bool up, const char *why);

typedef struct fleet fleet;

/* Opens on loop's thread and starts connecting. Returns 0, or -1 (logged). */
int fleet_open(fleet **out, uv_loop_t *loop, const fleet_config *cfg, fleet_ready_cb ready,
               void *arg);
/* Closes the connections (asks and claims in flight answered as failed, inline); the loop frees
 * the rest. */
void fleet_close(fleet *f);

/* The limiter, for dispatch/ratelimit.h's rl_remote (flimit_take, flimit_sent). */
flimit *fleet_limiter(fleet *f);
/* The answers and leases shared per item (fshare.h). */
fshare *fleet_share(fleet *f);
/* The job journal shared by the fleet (fjob.h), for the upstream. */
fjob *fleet_jobs(fleet *f);
/* For stats. */
const fjob *fleet_jobs_c(const fleet *f);
const fshare *fleet_share_c(const fleet *f);
const rconn *fleet_conn(const fleet *f);
/* The instances that reported in the last minute (freport.h). */
const freport *fleet_report_c(const fleet *f);
freport *fleet_report(fleet *f);
const flimit *fleet_limiter_c(const fleet *f);

/*
 * One instance's share of rate while Redis is away: rate / fleet_size,
 * rounded down to whole requests a second when that is at least 1, so that
 * fleet_size instances never put more than rate requests into any one-second
 * window (1.5/s spaced 0.68 s apart puts 2 into some windows: 6 for three).
 */
double fleet_local_rate(double rate, uint64_t fleet_size);

#endif
