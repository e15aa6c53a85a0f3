/* answer.c: a refcounted, immutable answer for one upstream item, shared by every cell that asked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"

static answer oom_answer = {
    .refs = 0,
    .err = CB_EINTERNAL,
    .message = {"out of memory", sizeof("out of memory") - 1},
};

answer *answer_result(double lat, double lon, const char *formatted, size_t flen,
                      const double *confidence, const char *type, size_t tlen)
{
	answer *a = malloc(sizeof(*a) + flen + tlen + 2);
	char *p;

	if (a == NULL)
		return NULL;
	memset(a, 0, sizeof(*a));
	a->refs = 1;
	a->err = CB_OK;
	a->result.lat = lat;
	a->result.lon = lon;
	p = (char *)(a + 1);
	memcpy(p, formatted, flen);
	p[flen] = '\0';
	a->result.formatted = (cb_str){p, (uint32_t)flen};
	if (confidence != NULL) {
		a->result.has_confidence = true;
		a->result.confidence = *confidence;
	}
	if (type != NULL) {
		p += flen + 1;
		memcpy(p, type, tlen);
		p[tlen] = '\0';
		a->result.result_type = (cb_str){p, (uint32_t)tlen};
	}
	return a;
}

answer *answer_error(cb_err err, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;
	answer *a;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	a = malloc(sizeof(*a) + (size_t)n + 1);
	if (a == NULL)
		return NULL;
	memset(a, 0, sizeof(*a));
	a->refs = 1;
	a->err = err;
	memcpy(a + 1, buf, (size_t)n + 1);
	a->message = (cb_str){(const char *)(a + 1), (uint32_t)n};
	return a;
}

answer *answer_error_or_oom(answer *a)
{
	return a != NULL ? a : &oom_answer;
}

answer *answer_ref(answer *a)
{
	/* 0 marks a static answer; a counted one never reads 0 while its caller holds it */
	if (__atomic_load_n(&a->refs, __ATOMIC_RELAXED) != 0)
		__atomic_fetch_add(&a->refs, 1, __ATOMIC_RELAXED);
	return a;
}

void answer_unref(answer *a)
{
	if (a == NULL || __atomic_load_n(&a->refs, __ATOMIC_RELAXED) == 0)
		return;
	if (__atomic_sub_fetch(&a->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(a);
}
