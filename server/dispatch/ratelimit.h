/* ratelimit.h: one GCRA rate limiter for every upstream request, submits and polls alike. */
#ifndef CB_RATELIMIT_H
#define CB_RATELIMIT_H

#include "server.h"

void ratelimit_init(server *s);
/* Closes the rate timer; the loop must run for its close callback. */
void ratelimit_fini(server *s);

/*
 * Calls send(b) as soon as the limiter allows one more upstream request:
 * inline when it conforms now, else from the limiter's timer. b waits in FIFO
 * order; one request per batch at a time.
 */
void ratelimit_request(batch *b, void (*send)(batch *b));

/* A request let through was written to its connection now (for gcra_sent). */
void ratelimit_sent(server *s);

/* Takes b out of the queue if it waits there; send is then never called. */
void ratelimit_cancel(batch *b);

#endif
