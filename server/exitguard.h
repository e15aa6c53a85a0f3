/* exitguard.h: a deadline on shutdown — a thread that ends the process when teardown (nng_close
 * above all) does not finish in time. */
#ifndef CB_EXITGUARD_H
#define CB_EXITGUARD_H

#include <stdint.h>

/*
 * Arms the guard: unless the process has exited by ms from now, it logs and
 * calls _exit(code). Arming again keeps the earlier deadline and takes the new
 * code. Returns 0, or -1 when the thread cannot be started (then nothing guards).
 * Any thread.
 */
int exitguard_arm(uint64_t ms, int code);

#endif
