/* job.h: the upstream job of one batch — its state machine, submit, poll, retries, fan-out. */
#ifndef CB_JOB_H
#define CB_JOB_H

#include "server.h"

/*
 * The one place a batch changes state: logs the change at debug; an illegal
 * one (batch_state_legal) is logged as an error and refused (false).
 */
bool batch_set_state(batch *b, batch_state st);
/* Takes a batch that holds a job slot upstream. */
void job_submit(batch *b);
/* Fails every item of b with a (takes a) and ends the batch. */
void job_fail(batch *b, answer *a);
/* Unlinks b from everything and frees it once its timer handle is closed. */
void batch_release(batch *b);

#endif
