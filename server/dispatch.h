/* dispatch.h: between batcher and upstream — job slots (--max-jobs) and one GCRA rate limiter for
 * every request. */
#ifndef CB_DISPATCH_H
#define CB_DISPATCH_H

#include "server.h"

void dispatch_init(server *s);
/* Closes the rate timer; the loop must run for its close callback. */
void dispatch_fini(server *s);

/*
 * b's window closed or it is full: it starts at once when a job slot is
 * free; otherwise it waits in FIFO order and, while it waits, stays its
 * group's open batch so that it keeps filling up to batch-max.
 */
void dispatch_flush(batch *b);

/* b's job ended: frees its slot and starts the next waiting batch. */
void dispatch_release(batch *b);

/* Calls send(b) as soon as the rate limiter allows one more upstream request. */
void dispatch_request(batch *b, void (*send)(batch *b));

/* Takes b out of whatever queue it waits in (slot or rate). */
void dispatch_cancel(batch *b);

#endif
