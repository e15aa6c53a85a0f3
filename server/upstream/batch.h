/* batch.h: one batch's life — the one state setter and its release once it has ended. */
#ifndef CB_BATCH_H
#define CB_BATCH_H

#include "server.h"

/*
 * The one place a batch changes state: logs the change at debug; an illegal
 * one (batch_state_legal) is logged as an error and refused (false).
 */
bool batch_set_state(batch *b, batch_state st);
/* Unlinks b from everything and frees it once its timer handle is closed. */
void batch_release(batch *b);

#endif
