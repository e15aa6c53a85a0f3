/* clock.h: the server's one monotonic clock, so that every module reads time the same way. */
#ifndef CB_CLOCK_H
#define CB_CLOCK_H

#include <stdint.h>

/* Monotonic nanoseconds (libuv's high-resolution clock); any thread. */
uint64_t now_ns(void);

#endif
