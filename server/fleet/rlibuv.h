/* rlibuv.h: a hiredis 0.14 async context on a libuv loop — our own adapter in place of the one
 * Debian ships, which ignores poll errors (the context then hangs) and leaks or crashes when
 * attaching fails (hiredis PRs #367, #1223, #1238). */
#ifndef CB_RLIBUV_H
#define CB_RLIBUV_H

#include <hiredis/async.h>
#include <uv.h>

/*
 * Attaches ac (connecting or connected) to loop, on loop's thread. Returns 0;
 * -1 when it cannot, and then ac is left exactly as it was: redisAsyncFree(ac)
 * is safe. Once attached, redisAsyncFree closes the poll handle (freed by
 * the loop later).
 */
int rlibuv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
