/* dispatch.h: between batcher and upstream — the job slots (--max-jobs) and the FIFO of batches
 * waiting for one. */
#ifndef CB_DISPATCH_H
#define CB_DISPATCH_H

#include "server.h"

/*
 * b's window closed or it is full: it starts at once when a job slot is
 * free; otherwise it waits in FIFO order and, while it waits, stays its
 * group's open batch so that it keeps filling up to batch-max.
 */
void dispatch_flush(batch *b);

/* b's job ended: frees its slot and starts the next waiting batch. */
void dispatch_release(batch *b);

/*
 * b is ending, whatever its state: out of the slot queue, its slot freed.
 * The upstream layer reports this through server_hooks.batch_ended.
 */
void dispatch_batch_ended(batch *b);

#endif
