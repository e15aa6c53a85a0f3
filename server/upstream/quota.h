/* quota.h: telling an upstream per-second limit from an exhausted quota — a quota answer counts
 * only once it persists; then the server pauses and probes. Pure arithmetic on times passed in. */
#ifndef CB_QUOTA_H
#define CB_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A 429 whose message names the quota is not believed at once: per-second
 * limits answer the same words (geopy#477). Only when such answers keep
 * coming, at least min_hits of them over at least confirm_ns with no submit
 * accepted between, is the quota taken as exhausted: submits stop for
 * pause_ns (polls of paid jobs go on), then one probe goes; a quota answer to it pauses again at
 * once. Plain values, no memory owned; loop thread.
 */
typedef struct quota {
	uint64_t confirm_ns, pause_ns;
	unsigned min_hits;
	uint64_t first_ns;        /* first quota answer of the current streak; 0: none */
	unsigned hits;            /* quota answers in the streak */
	uint64_t paused_until_ns; /* 0: not paused */
	bool probation;           /* after a pause, until an answer that is not a quota one */
	uint64_t pauses;          /* times the quota was taken as exhausted */
} quota;

void quota_init(quota *q, uint64_t confirm_ms, uint64_t pause_ms);

/* A quota answer at now; true when the quota is now taken as exhausted (a pause starts). */
bool quota_seen(quota *q, uint64_t now);

/* A submit the upstream accepted: the streak ends, and a probe after a pause passed. */
void quota_ok(quota *q);

/* Whether requests must not go upstream at now. */
bool quota_paused(const quota *q, uint64_t now);

#endif
