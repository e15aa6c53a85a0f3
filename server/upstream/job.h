/* job.h: the upstream job of one batch — its state machine, submit, poll, retries, fan-out. */
#ifndef CB_JOB_H
#define CB_JOB_H

#include "batch.h"
#include "server.h"

/* Takes a batch that holds a job slot upstream. */
void job_submit(batch *b);
/* Fails every item of b with a (takes a) and ends the batch. */
void job_fail(batch *b, answer *a);

#endif
