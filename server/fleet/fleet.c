/* fleet.c: what several cellbatchd share through Redis — the connection and the rate limit. */
#include "fleet.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct fleet {
	rconn *rc;
	flimit *limit;
	fshare *share;
	fjob *jobs;
	freport *report;
	fleet_ready_cb ready;
	void *arg;
};

double fleet_local_rate(double rate, uint64_t fleet_size)
{
	double share = rate / (double)(fleet_size ? fleet_size : 1);

	return share >= 1 ? floor(share) : share;
}

/* The first line of path, trimmed; NULL (logged) when it cannot be read. */
static char *read_password(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		log_error("--redis-password-file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		n--;
	line[n] = '\0';
	return strdup(line);
}

/*
 * How long the fleet sends nothing after an instance (re)joins: a second
 * (the window the upstream counts in, with the limiter's 2%) after its last
 * local request, plus the longest reconnect backoff, within which the other
 * instances see Redis back too (their local requests end by then).
 */
#define FLEET_QUIET_NS ((1020ull + RCONN_BACKOFF_MAX_MS) * 1000000)

static void fleet_state_cb(void *arg, rconn_state from, rconn_state to)
{
	fleet *f = arg;

	if (to == RCONN_READY) {
		flimit_rejoin(f->limit, FLEET_QUIET_NS);
		f->ready(f->arg, true, "connected");
	} else if (from == RCONN_READY) {
		f->ready(f->arg, false, "connection lost");
	}
}

int fleet_open(fleet **out, uv_loop_t *loop, const fleet_config *cfg, fleet_ready_cb ready,
               void *arg)
{
	fleet *f = calloc(1, sizeof(*f));
	char *password = NULL;
	rconn_config rcfg = {cfg->url, NULL, cfg->timeout_ms, cfg->timeout_ms * 2, NULL, NULL};
	int rv = -1;

	if (f == NULL)
		goto out;
	f->ready = ready;
	f->arg = arg;
	if (cfg->password_file != NULL &&
	    (rcfg.password = password = read_password(cfg->password_file)) == NULL)
		goto out;
	if (flimit_open(&f->limit, NULL, cfg->api_key, cfg->interval_ns, cfg->tolerance_ns) != 0 ||
	    rconn_open(&f->rc, loop, &rcfg, fleet_state_cb, f) != 0)
		goto out;
	flimit_set_conn(f->limit, f->rc);
	if (fshare_open(&f->share, loop, f->rc,
	                &(fshare_config){&rcfg, cfg->lease_ms, cfg->now_ms, cfg->result,
	                                 cfg->result_arg}) != 0) {
		rconn_close(f->rc);
		goto out;
	}
	if (fjob_open(&f->jobs, loop, f->rc, f->share,
	              &(fjob_config){fshare_owner(f->share), cfg->lease_ms, cfg->job_max_age_ms,
	                             cfg->adopt, cfg->adopt_arg}) != 0) {
		fshare_close(f->share);
		rconn_close(f->rc);
		goto out;
	}
	if (freport_open(&f->report, loop, f->rc, fshare_owner(f->share), cfg->summary,
	                 cfg->summary_arg) != 0) {
		fjob_close(f->jobs);
		fshare_close(f->share);
		rconn_close(f->rc);
		goto out;
	}
	*out = f;
	f = NULL;
	rv = 0;
out:
	if (password != NULL)
		memset(password, 0, strlen(password));
	free(password);
	if (f != NULL)
		flimit_close(f->limit);
	free(f);
	return rv;
}

void fleet_close(fleet *f)
{
	freport_close(f->report);
	fjob_close(f->jobs);
	fshare_close(f->share); /* writes the last answers while the connection lasts */
	rconn_close(f->rc);     /* answers the asks and claims: before the limiter goes */
	flimit_close(f->limit);
	free(f);
}

fshare *fleet_share(fleet *f)
{
	return f->share;
}

const fshare *fleet_share_c(const fleet *f)
{
	return f->share;
}

fjob *fleet_jobs(fleet *f)
{
	return f->jobs;
}

const fjob *fleet_jobs_c(const fleet *f)
{
	return f->jobs;
}

flimit *fleet_limiter(fleet *f)
{
	return f->limit;
}

const freport *fleet_report_c(const fleet *f)
{
	return f->report;
}

const rconn *fleet_conn(const fleet *f)
{
	return f->rc;
}

const flimit *fleet_limiter_c(const fleet *f)
{
	return f->limit;
}

freport *fleet_report(fleet *f)
{
	return f->report;
}
