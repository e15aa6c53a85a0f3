/* results.h: a finished job's body read into one answer per item — item by item, so that one
 * result the upstream garbled fails alone. */
#ifndef CB_RESULTS_H
#define CB_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "answer.h"
#include "functions.h"

typedef enum results_status {
	RESULTS_OK,
	RESULTS_NOMEM,
	RESULTS_TRUNCATED, /* not a whole JSON array: cause says where; asking again may help */
	RESULTS_COUNT,     /* *got results for a batch of n */
} results_status;

/*
 * Reads body: one answer per item, in the order sent, into ans[0..n) (new
 * references, never NULL) when it returns RESULTS_OK; otherwise ans holds
 * nothing. A result that is not an object, does not answer its input, or
 * cannot be parsed becomes that item's UPSTREAM_ERROR; its neighbours are
 * answered. JSON trees live in the arena (jarena.h) and are gone on return.
 * Loop thread.
 */
results_status results_read(cb_fn fn, job_item *const *items, uint32_t n, const char *body,
                            size_t len, answer **ans, size_t *got, char *cause, size_t cap);

#endif
