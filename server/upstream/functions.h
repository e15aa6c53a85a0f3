/* functions.h: one input of an upstream job, and the table of upstream batch functions — one
 * entry per protocol fn. */
#ifndef CB_FUNCTIONS_H
#define CB_FUNCTIONS_H

#include <stdbool.h>

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

#include "answer.h"
#include "cbwire.h"

/* One input of a job, owned by the caller (the batcher's item embeds it). */
typedef struct job_item {
	const char *key; /* the cache key */
	size_t keylen;
	const char *text; /* geocode: what is sent */
	uint32_t text_len;
	double lat, lon; /* reverse */
} job_item;

/*
 * Everything that differs between geocode and reverse lives in one entry;
 * the job state machine is shared. A third function is one more entry.
 */
typedef struct batch_fn {
	const char *path; /* endpoint under --upstream */
	/* JSON for one input item; NULL when out of memory */
	json_t *(*item_json)(const job_item *it);
	/* whether a result item's "query" is for this input */
	bool (*query_matches)(const job_item *it, json_t *query);
} batch_fn;

extern const batch_fn batch_fns[CB_FN_COUNT];

/*
 * Turns one result item into an answer: a result when it has lat and lon,
 * NOT_FOUND when it has only a query. Returns a new reference, or NULL when
 * out of memory.
 */
answer *batch_fn_parse_result(json_t *obj);

#endif
