/* geoapify.h: what is particular to the Geoapify batch API's answers and requests — how its
 * failures sort into retry or give up, and the options as query parameters. Pure; any thread. */
#ifndef CB_GEOAPIFY_H
#define CB_GEOAPIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "answer.h"
#include "http.h"

typedef struct geoapify_failure {
	bool transient;        /* worth repeating the request */
	bool may_have_arrived; /* a transport failure after which the upstream may have the request
	                        */
	bool fd_short;         /* our own shortage of descriptors, not the upstream's fault */
	answer *answer;        /* when not transient: the batch's answer (a new reference) */
} geoapify_failure;

/*
 * Sorts a response that is neither 200 nor 202, or a transport failure.
 * Transient: transport errors, 429 (unless its message contains quota_match:
 * QUOTA_EXCEEDED), 5xx; 401 is UPSTREAM_AUTH, anything else UPSTREAM_ERROR.
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

#endif
