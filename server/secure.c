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
#include "tlsconf.h"

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

/* --tls-ca alone asks for client certificates: a CA given for nothing would mislead. */
static tls_client_auth client_auth(const config *c)
{
	if (c->tls_ca != NULL && c->tls_client_auth == TLS_CLIENT_AUTH_NONE)
		return TLS_CLIENT_AUTH_REQUIRED;
	return (tls_client_auth)c->tls_client_auth;
}

static policy_in policy_of(const config *c)
{
	return (policy_in){.tls = c->tls_cert != NULL,
	                   .client_certs = client_auth(c) == TLS_CLIENT_AUTH_REQUIRED,
	                   .tokens = c->auth_token_file != NULL,
	                   .insecure = c->insecure_listen};
}

/* The policy's verdict on one listener, said; -1: refused. */
static int verdict(const char *flag, const char *url, const char *shown, const policy_in *in)
{
	char why[512];

	switch (policy_listen(url, in, why, sizeof(why))) {
	case POLICY_REFUSE:
		fprintf(stderr, "cellbatchd: %s %s: %s\n", flag, shown, why);
		return -1;
	case POLICY_ALLOW_INSECURE:
		log_warn("%s: %s", shown, why);
		return 0;
	default:
		return 0;
	}
}

/*
 * --http, as https:// when it has TLS. Tokens guard the WebSocket endpoint
 * only: /metrics and /stats.json answer whoever reaches them, so a network
 * listener without client certificates is said to expose them.
 */
static int check_http(const config *c)
{
	char url[300], why[512];
	policy_in in = policy_of(c);

	if (c->http == NULL)
		return 0;
	in.http = true;
	snprintf(url, sizeof(url), "%s://%s", in.tls ? "https" : "http", c->http);
	if (verdict("--http", url, c->http, &in) != 0)
		return -1;
	if (!in.client_certs && in.tls && in.tokens &&
	    policy_listen(url, &(policy_in){0}, why, sizeof(why)) != POLICY_ALLOW)
		log_warn(
		    "--http %s: /metrics, /stats.json and the dashboard need no token: anyone "
		    "who reaches it reads the counters (--tls-client-auth required closes them)",
		    c->http);
	return 0;
}

/* The listening policy for every --listen and --http, and the default socket's directory. */
static int check_listeners(const config *c)
{
	char why[512];
	policy_in in = policy_of(c);

	for (int i = 0; i < c->nlisten; i++) {
		if (tlsconf_url_is_tls(c->listen[i]) && c->tls_cert == NULL) {
			fprintf(
			    stderr,
			    "cellbatchd: --listen %s: refused: a TLS listener needs a certificate: "
			    "give --tls-cert FILE and --tls-key FILE (PEM)\n",
			    c->listen[i]);
			return -1;
		}
		if (verdict("--listen", c->listen[i], c->listen[i], &in) != 0)
			return -1;
		if (cbp_rundir_check(c->listen[i], 1, why, sizeof(why)) != 0) {
			fprintf(stderr, "cellbatchd: %s: refused: %s\n", c->listen[i], why);
			return -1;
		}
	}
	return check_http(c);
}

/* The TLS configuration (NULL without --tls-cert); -1: refused, said on stderr. */
static int open_tls(const config *c, nng_tls_config **tls)
{
	tlsconf_files f = {c->tls_cert, c->tls_key, c->tls_ca, client_auth(c)};
	char why[512];

	if (tlsconf_open(&f, tls, why, sizeof(why)) != 0) {
		fprintf(stderr, "cellbatchd: %s\n", why);
		return -1;
	}
	bool used = c->http != NULL;
	for (int i = 0; i < c->nlisten; i++)
		used = used || tlsconf_url_is_tls(c->listen[i]);
	if (*tls != NULL && !used)
		log_warn(
		    "--tls-cert: no tls+tcp:// or wss:// --listen and no --http: nothing uses it");
	if (*tls != NULL)
		log_info(
		    "TLS with %s%s%s", c->tls_cert,
		    f.client_auth == TLS_CLIENT_AUTH_REQUIRED   ? "; client certificates required"
		    : f.client_auth == TLS_CLIENT_AUTH_OPTIONAL ? "; client certificates checked"
		                                                : "",
		    c->http != NULL ? "; --http serves https and wss" : "");
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

int secure_start(const config *c, auth_tokens **tokens, nng_tls_config **tls)
{
	char why[256];

	*tls = NULL;
	core_dumps(c);
	if (policy_upstream(c->upstream, why, sizeof(why)) != 0) {
		fprintf(stderr, "cellbatchd: --upstream %s: %s\n", c->upstream, why);
		return -1;
	}
	if (check_listeners(c) != 0 || open_tls(c, tls) != 0)
		return -1;
	if (load_tokens(c, tokens) != 0) {
		if (*tls != NULL) /* not NULL-safe in nng 1.5.2 */
			nng_tls_config_free(*tls);
		*tls = NULL;
		return -1;
	}
	return 0;
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
	if (warn_cfg->http != NULL && warn_cfg->tls_cert == NULL) {
		char url[300];
		in.http = true;
		snprintf(url, sizeof(url), "http://%s", warn_cfg->http);
		if (policy_listen(url, &in, why, sizeof(why)) == POLICY_ALLOW_INSECURE)
			log_warn("--http %s: %s", warn_cfg->http, why);
	}
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
