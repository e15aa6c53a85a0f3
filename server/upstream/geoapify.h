/* geoapify.h: what is particular to the Geoapify batch API's answers and requests — how its
 * failures sort into retry or give up, and the options as query parameters. Pure; any thread. */
#ifndef CB_GEOAPIFY_H
#define CB_GEOAPIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "answer.h"
#include "http.h"

typedef struct geoapify_failure {
	bool transient;        /* worth repeating the request */
	bool may_have_arrived; /* a transport failure after which the upstream may have the request
	                        */
	bool fd_short;         /* our own shortage of descriptors, not the upstream's fault */
	bool rate_limited;     /* a 429: slow down and retry */
	bool quota;     /* a 429 whose message names the quota (quota.h decides what it is) */
	answer *answer; /* when not transient: the batch's answer (a new reference) */
} geoapify_failure;

/*
 * Sorts a response that is neither 200 nor 202, or a transport failure.
 * Transient: transport errors, 429 (quota when its message contains
 * quota_match, any case), 5xx; 401 is UPSTREAM_AUTH, anything else
 * UPSTREAM_ERROR.
 * Writes a sentence on the cause to cause[cap]; upstream names the host in it.
 */
void geoapify_classify(const http_resp *r, const char *upstream, const char *quota_match,
                       geoapify_failure *out, char *cause, size_t cap);

/*
 * The options (CB_OPT_COUNT values, NULL when absent) as "?lang=de&..." with
 * URL escaping, "" when none. Returns a malloc'd string the caller frees, or
 * NULL when out of memory or too long.
 */
char *geoapify_query(const char *const *opt);

/*
 * The job id of a 202 into id[cap] (kept when id already holds one: a poll's
 * 202 repeats it); false when the body has none that fits.
 */
bool geoapify_job_id(const http_resp *r, char *id, size_t cap);

#define GEOAPIFY_BACKOFF_BASE_MS 500
#define GEOAPIFY_BACKOFF_CAP_MS  30000

/*
 * The wait before retry number attempt + 1: full jitter, a uniform delay up
 * to base * 2^attempt, at most cap_ms. An upstream's Retry-After (seconds,
 * >= 0) wins, but never beyond retry_after_max_ms.
 */
uint64_t geoapify_backoff_ms(uint64_t retry_after_max_ms, unsigned attempt, long retry_after_s,
                             uint64_t cap_ms);

#endif
