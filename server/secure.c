/* secure.c: the security settings and refusals at start, and the hourly clear-text warning
 * (secure.h). */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cbproto.h"
#include "log.h"
#include "policy.h"
#include "secure.h"

#define INSECURE_WARN_MS (3600u * 1000) /* the clear-text warning, again every hour */

static uv_timer_t warn_timer;
static bool warn_started;
static const config *warn_cfg;

/*
 * A crash's core holds the API key and the tokens: no core, and no ptrace by
 * other processes of the same user, unless --allow-core-dumps.
 */
static void core_dumps(const config *c)
{
	struct rlimit none = {0, 0};

	if (c->allow_core_dumps) {
		log_warn("--allow-core-dumps: a core file holds the API key and the tokens");
		return;
	}
	if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		log_warn("cannot switch core dumps off: a crash may write the API key to disk");
}

static policy_in policy_of(const config *c)
{
	return (policy_in){.tokens = c->auth_token_file != NULL, .insecure = c->insecure_listen};
}

/* The listening policy for every --listen, and the default socket's directory; -1: refused. */
static int check_listeners(const config *c)
{
	char why[512];
	policy_in in = policy_of(c);

	for (int i = 0; i < c->nlisten; i++) {
		switch (policy_listen(c->listen[i], &in, why, sizeof(why))) {
		case POLICY_REFUSE:
			fprintf(stderr, "cellbatchd: --listen %s: %s\n", c->listen[i], why);
			return -1;
		case POLICY_ALLOW_INSECURE:
			log_warn("%s: %s", c->listen[i], why);
			break;
		default:
			break;
		}
		if (cbp_rundir_check(c->listen[i], 1, why, sizeof(why)) != 0) {
			fprintf(stderr, "cellbatchd: %s: refused: %s\n", c->listen[i], why);
			return -1;
		}
	}
	return 0;
}

/*
 * The tokens. Group may read the file (a team's service group), with a
 * warning; others reading it, or anyone but the owner writing it, refuse it,
 * as ssh refuses a private key: a token that others can read is no secret.
 */
static int load_tokens(const config *c, auth_tokens **tokens)
{
	const char *path = c->auth_token_file;
	char why[256];
	struct stat st;
	bool open = false;

	*tokens = NULL;
	if (path == NULL)
		return 0;
	if (stat(path, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
		fprintf(stderr,
		        "cellbatchd: --auth-token-file %s: refused: others may read it or others "
		        "than its owner write it (mode %03o): chmod 600 (or 640) it\n",
		        path, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if (auth_load(path, tokens, &open, why, sizeof(why)) != 0) {
		fprintf(stderr, "cellbatchd: --auth-token-file %s: %s\n", path, why);
		return -1;
	}
	if (open)
		log_warn("--auth-token-file %s: its group may read it", path);
	log_info("%zu tokens from %s: every request but ping needs one", auth_count(*tokens), path);
	return 0;
}

int secure_start(const config *c, auth_tokens **tokens)
{
	char why[256];

	core_dumps(c);
	if (policy_upstream(c->upstream, why, sizeof(why)) != 0) {
		fprintf(stderr, "cellbatchd: --upstream %s: %s\n", c->upstream, why);
		return -1;
	}
	if (check_listeners(c) != 0)
		return -1;
	return load_tokens(c, tokens);
}

static void warn_cb(uv_timer_t *t)
{
	char why[512];
	policy_in in = policy_of(warn_cfg);

	(void)t;
	for (int i = 0; i < warn_cfg->nlisten; i++)
		if (policy_listen(warn_cfg->listen[i], &in, why, sizeof(why)) ==
		    POLICY_ALLOW_INSECURE)
			log_warn("%s: %s", warn_cfg->listen[i], why);
}

void secure_watch(uv_loop_t *loop, const config *c)
{
	if (!c->insecure_listen)
		return;
	warn_cfg = c;
	uv_timer_init(loop, &warn_timer);
	uv_timer_start(&warn_timer, warn_cb, INSECURE_WARN_MS, INSECURE_WARN_MS);
	warn_started = true;
}

void secure_close(void)
{
	if (warn_started)
		uv_close((uv_handle_t *)&warn_timer, NULL);
	warn_started = false;
}
