/* job_int.h: what job.c (a job's life and results) gives attempt.c (its requests and retries);
 * private to upstream/. */
#ifndef CB_JOB_INT_H
#define CB_JOB_INT_H

#include <stddef.h>

#include "http.h"

struct job;

typedef enum verdict {
	V_OK,        /* the answer was used */
	V_TRANSIENT, /* worth repeating the request; cause says why */
	V_PERMANENT, /* the job failed */
} verdict;

/*
 * A 200 with the results: caches them, answers every item, ends the job
 * (V_OK; the job is over, hooks.ended ran); or V_TRANSIENT when the body
 * must be asked for again.
 */
verdict job_fan_out(struct job *j, const http_resp *r, char *cause, size_t cap);

/* The upstream accepted j under its job id: kept in the journal until j ends. */
void job_journal_keep(struct job *j);

#endif
