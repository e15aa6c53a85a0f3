/* answer.h: a refcounted, immutable answer for one upstream item, shared by every cell that asked.
 */
#ifndef CB_ANSWER_H
#define CB_ANSWER_H

#include "cbproto.h"

/*
 * One allocation holds the struct and its strings; immutable once made.
 * The count is atomic: the cache hands answers to nng threads too (hot path).
 */
typedef struct answer {
	unsigned refs;  /* 0: static, never freed */
	cb_err err;     /* CB_OK: result is valid */
	cb_str message; /* failure text */
	cb_wire_result result;
} answer;

/* New answers start with one reference, which the caller owns. NULL: out of memory. */
answer *answer_result(double lat, double lon, const char *formatted, size_t flen,
                      const double *confidence, const char *type, size_t tlen);
__attribute__((format(printf, 2, 3))) answer *answer_error(cb_err err, const char *fmt, ...);

/* Never NULL: falls back to a static INTERNAL "out of memory" answer. */
answer *answer_error_or_oom(answer *a);

answer *answer_ref(answer *a);
void answer_unref(answer *a);

#endif
