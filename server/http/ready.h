/* ready.h: whether cellbatchd can serve calls that need the upstream — the /readyz answer. */
#ifndef CB_READY_H
#define CB_READY_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

/* A good answer is this recent, or the upstream has not failed for this long: ready. */
#define READY_FAILING_NS (60ull * 1000000000)

/*
 * 200 or 503, with a one-line reason written to reason[cap]. Not ready:
 * while the quota is taken as exhausted; while the latest upstream answer was
 * 401 or 403 (the key is refused; a later 200/202 ends it); when requests
 * have failed (no answer, or 5xx) for READY_FAILING_NS with no 200/202
 * between. Ready otherwise, including before any upstream request (nothing
 * known against it) and while idle after good answers. Loop thread.
 */
int ready_check(const report_src *src, uint64_t now_ns, char *reason, size_t cap);

#endif
