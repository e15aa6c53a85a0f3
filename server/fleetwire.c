/* fleetwire.c: --redis wired into the pipeline: the fleet's rate limit in front of the local one,
 * its shared items in the batcher, its summary in the stats. */
#include <inttypes.h>

#include "claim.h"
#include "fleetwire.h"
#include "flimit.h"
#include "gcra.h"
#include "journal.h"
#include "log.h"

/*
 * An item's lease, renewed every third of it while its instance lives: the
 * longest an item waits for a dead instance's before another takes it over.
 */
#define FLEET_LEASE_MS 10000
/* Public URLs read from one report: more instances than a fleet on one Redis is meant to have */
#define FLEET_MAX_URLS 32

/* A dead instance's job, polled from here. */
static bool fleetwire_adopt_cb(void *arg, const journal_job *jj)
{
	if (batcher_resume(arg, jj) == 0)
		return true;
	log_warn("fleet: cannot take up job %s: out of memory", jj->id);
	return false;
}

static void fleetwire_ready_cb(void *arg, bool up, const char *why)
{
	ratelimit_set_fleet(arg, up, why);
}

int fleetwire_open(fleet **out, uv_loop_t *loop, const config *c, const fleetwire_parts *p)
{
	double local = fleet_local_rate(c->rate, c->fleet_size);
	fleet_config fc = {.url = c->redis,
	                   .password_file = c->redis_password_file,
	                   .timeout_ms = c->redis_timeout_ms,
	                   .api_key = c->api_key,
	                   .lease_ms = FLEET_LEASE_MS,
	                   .now_ms = p->now_ms,
	                   .result = batcher_remote_result_cb,
	                   .result_arg = p->bt,
	                   .summary = report_instance_summary,
	                   .summary_arg = p->report,
	                   .job_max_age_ms = JOURNAL_MAX_AGE_MS,
	                   .adopt = fleetwire_adopt_cb,
	                   .adopt_arg = p->bt};
	gcra g;

	*out = NULL;
	if (c->redis == NULL)
		return 0;
	gcra_init(&g, c->rate, c->burst); /* the fleet spaces requests as one instance would */
	fc.interval_ns = g.interval_ns;
	fc.tolerance_ns = g.tolerance_ns;
	if (fleet_open(out, loop, &fc, fleetwire_ready_cb, p->rl) != 0)
		return -1;
	batcher_set_share(p->bt, fleet_share(*out));
	p->u->fjob = fleet_jobs(*out);
	ratelimit_set_remote(
	    p->rl, &(rl_remote){flimit_take, flimit_sent, flimit_slow, fleet_limiter(*out)}, local);
	p->report->fleet = *out;
	log_info("fleet: rate limit, cache and items in flight shared through %s; %g/s of this "
	         "instance's own while Redis is unreachable (--fleet-size %" PRIu64 ")",
	         c->redis, local, c->fleet_size);
	return 0;
}

static void fleetwire_origins_cb(void *arg, const freport *r)
{
	char urls[FLEET_MAX_URLS][512], name[256];
	const char *list[FLEET_MAX_URLS];
	size_t n = 0;

	for (size_t i = 0; i < freport_count(r) && n < FLEET_MAX_URLS; i++) {
		size_t len;
		const char *b = freport_get(r, i, &len);
		if (report_summary_url(b, len, urls[n], sizeof(urls[n]), name, sizeof(name))) {
			list[n] = urls[n];
			n++;
		}
	}
	if (wsep_origins_set_fleet(arg, list, n) != 0)
		log_warn("fleet: out of memory for the origins of its pages; the last ones stay");
}

void fleetwire_origins(fleet *f, wsep_origins *w)
{
	if (f != NULL && w != NULL)
		freport_watch(fleet_report(f), fleetwire_origins_cb, w);
}
