/* jobstate.c: the states of a batch's upstream job and which changes between them are legal. */
#include "jobstate.h"

static const char *const names[BATCH_STATE_COUNT] = {
    [BATCH_OPEN] = "OPEN",       [BATCH_QUEUED] = "QUEUED",   [BATCH_SUBMITTING] = "SUBMITTING",
    [BATCH_PENDING] = "PENDING", [BATCH_POLLING] = "POLLING", [BATCH_RETRY_WAIT] = "RETRY_WAIT",
    [BATCH_DONE] = "DONE",       [BATCH_FAILED] = "FAILED",
};

#define TO(st) (1u << (st))

/* For each state, the states it may go to. */
static const unsigned legal[BATCH_STATE_COUNT] = {
    [BATCH_OPEN] = TO(BATCH_QUEUED) | TO(BATCH_SUBMITTING) | TO(BATCH_FAILED),
    [BATCH_QUEUED] = TO(BATCH_SUBMITTING) | TO(BATCH_FAILED),
    [BATCH_SUBMITTING] =
        TO(BATCH_PENDING) | TO(BATCH_RETRY_WAIT) | TO(BATCH_DONE) | TO(BATCH_FAILED),
    [BATCH_PENDING] = TO(BATCH_POLLING) | TO(BATCH_FAILED),
    [BATCH_POLLING] = TO(BATCH_PENDING) | TO(BATCH_RETRY_WAIT) | TO(BATCH_DONE) | TO(BATCH_FAILED),
    [BATCH_RETRY_WAIT] = TO(BATCH_SUBMITTING) | TO(BATCH_POLLING) | TO(BATCH_FAILED),
    [BATCH_DONE] = 0,
    [BATCH_FAILED] = 0,
};

const char *batch_state_name(batch_state st)
{
	return st < BATCH_STATE_COUNT ? names[st] : "?";
}

bool batch_state_legal(batch_state from, batch_state to)
{
	return from < BATCH_STATE_COUNT && to < BATCH_STATE_COUNT && (legal[from] & TO(to)) != 0;
}
