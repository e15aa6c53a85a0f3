/* job.h: the upstream job of one batch — its state machine (one setter, jobstate.c's table),
 * submit, poll, retries and fan-out. */
#ifndef CB_JOB_H
#define CB_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cbwire.h"
#include "functions.h"
#include "jobstate.h"
#include "list.h"
#include "ratelimit.h"
#include "upstream.h"

/*
 * Embedded in its owner (a batch). The fields are job.c's; others read them
 * through the accessors below.
 */
typedef struct job {
	upstream *u;
	uint64_t seq;      /* for logs */
	const char *label; /* "geocode lang=de", borrowed */
	cb_fn fn;
	const char *const *opt; /* CB_OPT_COUNT values, NULL when absent; borrowed */
	batch_state state;
	job_item *const *items; /* borrowed from the owner until the job ends */
	uint32_t n;
	uv_timer_t timer; /* the next poll, a backoff, or a deferred failure */
	rl_waiter rl;
	list_node qlink; /* in upstream.quota_waiters while retrying after a quota answer */
	http_req *http;
	char *body;  /* the submit's JSON, kept for resubmits */
	char *query; /* the options as URL query parameters */
	char job_id[64];
	answer *deferred; /* a failure to report from the timer, not inline */
	unsigned polls, attempts;
	bool resubmit;      /* the last submit may have reached the upstream */
	bool fd_short;      /* a request failed for want of descriptors */
	bool resubmit_lost; /* submitted again after the upstream lost it (404) */
	bool journalled;    /* in the job journal under job_id */
	bool resumed;       /* taken up from the journal at start: its times teach nothing */
	uint64_t poll_step_ms;
	uint64_t t_submit_ns;   /* the first submit: the job's time in stats */
	uint64_t t_sub_sent_ns; /* the latest submit: the upstream's job time counts from it */
	uint64_t t_req_sent_ns; /* the latest request written */
	uint64_t t_poll_sent_ns, t_pend_sent_ns;
	uint64_t t_first_429_ns; /* 429s are retried without counting, until --job-timeout */
	uint64_t t_rl_ns;        /* since when its request waits for the rate limiter */
	void (*closed)(struct job *j);
} job;

/* Sets j up in state OPEN; nothing is sent yet. Loop thread. */
void job_init(job *j, upstream *u, uv_loop_t *loop, uint64_t seq, const char *label, cb_fn fn,
              const char *const *opt);

/*
 * The one place a job changes state: logs the change at debug; an illegal one
 * (batch_state_legal) is logged as an error and refused (false).
 */
bool job_set_state(job *j, batch_state st);

static inline batch_state job_state(const job *j)
{
	return j->state;
}

/*
 * Sends the job: items[0..n) are borrowed until hooks.ended, and an item is
 * not read again once hooks.item_done reported it (its owner may free it). Waits for the
 * rate limiter; never completes inline (a failure to even start is reported
 * from the timer), so the caller may still be inside a completion.
 */
void job_submit(job *j, job_item *const *items, uint32_t n);

/*
 * Fails every item with a (takes a) and ends the job, whatever it was doing
 * upstream: hooks.item_done for each item and hooks.ended run inline. Only
 * on a submitted job that has not ended.
 */
void job_fail(job *j, answer *a);

/*
 * After hooks.retry_wait and hooks.retry_ready: the owner holds a job slot
 * again, and the request is repeated (through the rate limiter; never
 * completes inline).
 */
void job_retry(job *j);

/*
 * Takes up a job the journal kept from before a restart: items[0..n) as in
 * job_submit, already accepted upstream under the id set in job_id. It is polled at once,
 * submitted again only if the upstream no longer knows it (404). Never
 * completes inline.
 */
void job_resume(job *j, job_item *const *items, uint32_t n);

/* Closes the job's handle; closed(j) runs from the loop once it may be freed. */
void job_close(job *j, void (*closed)(job *j));

#endif
