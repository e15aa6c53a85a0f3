/* clock.c: the server's one monotonic clock, so that every module reads time the same way. */
#include <uv.h>

#include "clock.h"

uint64_t now_ns(void)
{
	return uv_hrtime();
}
