/* jobstate.h: the states of a batch's upstream job and which changes between them are legal. */
#ifndef CB_JOBSTATE_H
#define CB_JOBSTATE_H

#include <stdbool.h>

typedef enum batch_state {
	BATCH_OPEN,       /* filling in its group's window (the state a batch is created in) */
	BATCH_QUEUED,     /* window closed, waiting for a job slot; still filling */
	BATCH_SUBMITTING, /* POST waiting for the rate limiter or in flight */
	BATCH_PENDING,    /* job accepted, waiting for the next poll */
	BATCH_POLLING,    /* GET waiting for the rate limiter or in flight */
	BATCH_RETRY_WAIT, /* backing off before repeating the failed request */
	BATCH_DONE,       /* results fanned out */
	BATCH_FAILED,     /* every waiting cell got the failure */
	BATCH_STATE_COUNT
} batch_state;

/* "SUBMITTING"; static storage. */
const char *batch_state_name(batch_state st);

/*
 * Whether a batch may go from one state to the other. Any state but the two
 * final ones may fail; a submit may be answered with the results at once.
 */
bool batch_state_legal(batch_state from, batch_state to);

#endif
