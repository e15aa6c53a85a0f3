/* functions.h: the table of upstream batch functions — one entry per protocol fn. */
#ifndef CB_FUNCTIONS_H
#define CB_FUNCTIONS_H

#include <stdbool.h>

#include <jansson.h>

#include "answer.h"
#include "server.h"

/*
 * Everything that differs between geocode and reverse lives in one entry;
 * the job state machine is shared. A third function is one more entry.
 */
typedef struct batch_fn {
	const char *path; /* endpoint under --upstream */
	/* JSON for one input item; NULL when out of memory */
	json_t *(*item_json)(const item *it);
	/* whether a result item's "query" is for this input */
	bool (*query_matches)(const item *it, json_t *query);
} batch_fn;

extern const batch_fn batch_fns[CB_FN_COUNT];

/*
 * Turns one result item into an answer: a result when it has lat and lon,
 * NOT_FOUND when it has only a query. Returns a new reference, or NULL when
 * out of memory.
 */
answer *batch_fn_parse_result(json_t *obj);

#endif
