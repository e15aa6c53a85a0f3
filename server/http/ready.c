/* ready.c: the /readyz decision, from the upstream's latest answers and the quota pause. */
#include <stdio.h>

#include "ready.h"

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

int ready_check(const report_src *src, uint64_t now, char *reason, size_t cap)
{
	upstream_counters uc;

	upstream_get_counters(src->u, &uc);
	if (upstream_quota_paused(src->u)) {
		snprintf(reason, cap,
		         "not ready: the upstream quota is taken as exhausted (%.0f s more)",
		         secs(src->u->quota.paused_until_ns - now));
		return 503;
	}
	if (uc.last_answer_ns == 0) {
		snprintf(reason, cap, "ok: the upstream was not called yet");
		return 200;
	}
	if (uc.last_status == 401 || uc.last_status == 403) {
		snprintf(reason, cap,
		         "not ready: the upstream refused the API key (HTTP %u, %.0f s ago)",
		         uc.last_status, secs(now - uc.last_answer_ns));
		return 503;
	}
	if (uc.bad_since_ns != 0 && now - uc.bad_since_ns >= READY_FAILING_NS) {
		char last[16] = "no answer";
		if (uc.last_status != 0)
			snprintf(last, sizeof(last), "HTTP %u", uc.last_status);
		snprintf(reason, cap, "not ready: no good upstream answer for %.0f s (last: %s)",
		         secs(now - uc.bad_since_ns), last);
		return 503;
	}
	if (uc.last_good_ns == 0)
		snprintf(reason, cap, "ok: the upstream answered HTTP %u %.0f s ago",
		         uc.last_status, secs(now - uc.last_answer_ns));
	else
		snprintf(reason, cap, "ok: the upstream answered well %.0f s ago",
		         secs(now - uc.last_good_ns));
	return 200;
}
