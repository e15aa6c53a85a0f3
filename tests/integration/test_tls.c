/* test_tls.c: TLS against real cellbatchd + mock processes — tls+tcp://, https:// and wss:// with
 * certificates made here by openssl; libcellbatch and the cellbatch command with CELLBATCH_TLS_*;
 * client certificates required; tokens over TLS; refusals at start; handshake and call timings. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cellbatch.h"
#include "harness.h"
#include "scrape.h"

#define TIMEOUT_MS 10000
#define TOKEN      "tok-3c9d-tls"
#define PLACE      "Tour Eiffel Champ de Mars, Paris"

typedef struct pki {
	char cert[300], key[300];   /* the server's: CN localhost, DNS and IP SANs for 127.0.0.1 */
	char ccert[300], ckey[300]; /* a client's, self-signed: its own CA for --tls-ca */
	char tlsurl[64];            /* tls+tcp://127.0.0.1:PORT */
	char http[64];              /* 127.0.0.1:PORT for --http */
	unsigned http_port;
} pki;

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

/*
 * A self-signed certificate and key at prefix.pem / prefix.key (mode 0600).
 * mbedTLS (nng's engine) matches a host only against DNS names, so
 * 127.0.0.1 is a DNS entry too; OpenSSL-based clients (curl) use the IP one.
 */
static void make_cert(const it_env *e, const char *name, char *cert, char *key)
{
	char cmd[1200];

	snprintf(cert, 300, "%s/%s.pem", e->dir, name);
	snprintf(key, 300, "%s/%s.key", e->dir, name);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-days 2 -subj /CN=%s -addext 'subjectAltName=DNS:localhost,DNS:127.0.0.1,"
	         "IP:127.0.0.1' -keyout '%s' -out '%s' 2>/dev/null && chmod 600 '%s'",
	         name, key, cert, key);
	sh(cmd);
}

static void make_pki(const it_env *e, pki *p)
{
	make_cert(e, "server", p->cert, p->key);
	make_cert(e, "client", p->ccert, p->ckey);
	snprintf(p->tlsurl, sizeof(p->tlsurl), "tls+tcp://127.0.0.1:%u", free_port());
	p->http_port = free_port();
	snprintf(p->http, sizeof(p->http), "127.0.0.1:%u", p->http_port);
}

/* The mock, then cellbatchd on tls+tcp:// and https with extra flags (NULL-terminated, up to 6). */
static void start_tls(it_env *e, pki *p, const char *a1, const char *a2, const char *a3,
                      const char *a4)
{
	make_pki(e, p);
	assert_int_equal(it_start_mock(e, NULL), 0);
	assert_int_equal(it_start_server(e, "--listen", p->tlsurl, "--http", p->http, "--tls-cert",
	                                 p->cert, "--tls-key", p->key, a1, a2, a3, a4, NULL),
	                 0);
}

static cb_err open_with(cb_client **c, const char *url, const char *ca, const char *cert,
                        const char *key)
{
	cb_client_options o = CB_CLIENT_OPTIONS_INIT(.timeout_ms = 3000, .tls_ca = ca,
	                                             .tls_cert = cert, .tls_key = key);
	return cb_client_open(c, url, &o);
}

/* A geocode of PLACE over a new client; its code. */
static cb_err geocode_over(const char *url, const char *ca, const char *cert, const char *key)
{
	cb_client *c;
	cb_result r;
	cb_err err;

	if ((err = open_with(&c, url, ca, cert, key)) != CB_OK)
		return err;
	err = cb_geocode(c, PLACE, &r);
	if (err == CB_OK && strstr(r.formatted, "Paris") == NULL)
		err = CB_EINTERNAL;
	cb_result_free(&r);
	cb_client_close(c);
	return err;
}

/* The cellbatch command with env and args, CELLBATCH_TLS_* cleared first; its exit status. */
static int run_cli(it_env *e, const char *env, const char *args, char **out)
{
	char cmd[3000], path[300];
	int st;

	snprintf(path, sizeof(path), "%s/cli.out", e->dir);
	snprintf(cmd, sizeof(cmd),
	         "env -u CELLBATCH_TLS_CA -u CELLBATCH_TLS_CERT -u CELLBATCH_TLS_KEY %s '%s' %s "
	         ">'%s' 2>&1",
	         env, CLI_BIN, args, path);
	st = system(cmd);
	*out = it_slurp(path, NULL);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_cli(it_env *e, int want, const char *env, const char *args, const char *text)
{
	char *out = NULL;
	int st = run_cli(e, env, args, &out);

	if (st != want || (text != NULL && (out == NULL || strstr(out, text) == NULL)))
		fail_msg("cellbatch %s (%s): status %d, wanted %d with \"%s\":\n%s", args, env, st,
		         want, text ? text : "", out ? out : "");
	free(out);
}

static void test_tls_tcp(void **state)
{
	it_env *e = *state;
	char env[700], args[300];
	cb_client *c;
	pki p;

	start_tls(e, &p, NULL, NULL, NULL, NULL);
	assert_int_equal(geocode_over(p.tlsurl, p.cert, NULL, NULL), CB_OK);
	/* the environment, as the CLI and the Calc add-in get it */
	setenv("CELLBATCH_TLS_CA", p.cert, 1);
	assert_int_equal(geocode_over(p.tlsurl, NULL, NULL, NULL), CB_OK);
	unsetenv("CELLBATCH_TLS_CA");
	/* a server whose certificate is not trusted is not a server: refused at the handshake */
	assert_int_equal(open_with(&c, p.tlsurl, p.ccert, NULL, NULL), CB_EUNREACHABLE);
	assert_int_equal(open_with(&c, p.tlsurl, NULL, NULL, NULL), CB_EUNREACHABLE);
	/* files that cannot be used are the caller's mistake, said before any connection */
	assert_int_equal(open_with(&c, p.tlsurl, "/nonexistent", NULL, NULL), CB_EINVAL);
	assert_int_equal(open_with(&c, p.tlsurl, p.cert, p.ccert, NULL), CB_EINVAL);
	snprintf(env, sizeof(env), "CELLBATCH_TLS_CA='%s'", p.cert);
	snprintf(args, sizeof(args), "--url '%s' geocode '%s'", p.tlsurl, PLACE);
	expect_cli(e, 0, env, args, "Paris");
	/* ping: geocode leaks its rows when the server is unreachable (seen under ASan) */
	snprintf(args, sizeof(args), "--url '%s' ping", p.tlsurl);
	expect_cli(e, 3, "", args, NULL);
}

/* https on --http with curl, and wss:// on the same port with libcellbatch. */
static void test_https_and_wss(void **state)
{
	it_env *e = *state;
	char cmd[1000], url[128], *out;
	pki p;

	start_tls(e, &p, NULL, NULL, NULL, NULL);
	snprintf(cmd, sizeof(cmd),
	         "curl -sS --max-time 5 --cacert '%s' https://127.0.0.1:%u/healthz >'%s/h'", p.cert,
	         p.http_port, e->dir);
	sh(cmd);
	snprintf(cmd, sizeof(cmd), "%s/h", e->dir);
	assert_non_null(out = it_slurp(cmd, NULL));
	assert_int_equal(strncmp(out, "ok", 2), 0);
	free(out);
	/* plain http on the https port gets nothing */
	snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 http://127.0.0.1:%u/healthz >/dev/null",
	         p.http_port);
	assert_int_not_equal(system(cmd), 0);
	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/cellbatch", p.http_port);
	assert_int_equal(geocode_over(url, p.cert, NULL, NULL), CB_OK);
	snprintf(cmd, sizeof(cmd), "CELLBATCH_TLS_CA='%s'", p.cert);
	snprintf(url, sizeof(url), "--url wss://127.0.0.1:%u/cellbatch ping", p.http_port);
	expect_cli(e, 0, cmd, url, NULL);
}

/* --listen wss://: a WebSocket listener of its own, with the same certificate. */
static void test_listen_wss(void **state)
{
	it_env *e = *state;
	char url[64];
	pki p;

	snprintf(url, sizeof(url), "wss://127.0.0.1:%u/cb", free_port());
	start_tls(e, &p, "--listen", url, NULL, NULL);
	assert_int_equal(geocode_over(url, p.cert, NULL, NULL), CB_OK);
	assert_int_equal(geocode_over(url, p.ccert, NULL, NULL), CB_EUNREACHABLE);
}

static void test_client_certs_required(void **state)
{
	it_env *e = *state;
	char env[1200], args[300];
	pki p;

	/* the client's self-signed certificate is the CA the server trusts */
	make_cert(e, "client", p.ccert, p.ckey);
	start_tls(e, &p, "--tls-ca", p.ccert, "--tls-client-auth", "required");
	assert_int_equal(geocode_over(p.tlsurl, p.cert, NULL, NULL), CB_EUNREACHABLE);
	/* a certificate the server does not trust: its own is not a client's */
	assert_int_equal(geocode_over(p.tlsurl, p.cert, p.cert, p.key), CB_EUNREACHABLE);
	assert_int_equal(geocode_over(p.tlsurl, p.cert, p.ccert, p.ckey), CB_OK);
	snprintf(env, sizeof(env),
	         "CELLBATCH_TLS_CA='%s' CELLBATCH_TLS_CERT='%s' CELLBATCH_TLS_KEY='%s'", p.cert,
	         p.ccert, p.ckey);
	snprintf(args, sizeof(args), "--url '%s' geocode '%s'", p.tlsurl, PLACE);
	expect_cli(e, 0, env, args, "Paris");
	snprintf(env, sizeof(env), "CELLBATCH_TLS_CA='%s'", p.cert);
	snprintf(args, sizeof(args), "--url '%s' ping", p.tlsurl);
	expect_cli(e, 3, env, args, NULL);
}

/*
 * optional: a certificate is asked for, not enforced. mbedTLS's optional mode
 * goes on with the handshake when the client's certificate fails to verify,
 * so optional is not client authentication (the listening policy counts only
 * required) — measured here, so that a change of engine shows.
 */
static void test_client_certs_optional(void **state)
{
	it_env *e = *state;
	pki p;

	make_cert(e, "client", p.ccert, p.ckey);
	start_tls(e, &p, "--tls-ca", p.ccert, "--tls-client-auth", "optional");
	assert_int_equal(geocode_over(p.tlsurl, p.cert, NULL, NULL), CB_OK);
	assert_int_equal(geocode_over(p.tlsurl, p.cert, p.ccert, p.ckey), CB_OK);
	assert_int_equal(geocode_over(p.tlsurl, p.cert, p.cert, p.key), CB_OK);
}

static void test_tokens_over_tls(void **state)
{
	it_env *e = *state;
	char path[300];
	cb_client *c;
	cb_result r;
	FILE *f;
	pki p;

	snprintf(path, sizeof(path), "%s/tokens", e->dir);
	assert_non_null(f = fopen(path, "w"));
	fputs(TOKEN "\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	start_tls(e, &p, "--auth-token-file", path, NULL, NULL);
	assert_int_equal(
	    cb_client_open(
	        &c, p.tlsurl,
	        &(cb_client_options)CB_CLIENT_OPTIONS_INIT(.token = "", .tls_ca = p.cert)),
	    CB_OK);
	assert_int_equal(cb_geocode(c, PLACE, &r), CB_EUNAUTHORIZED);
	cb_result_free(&r);
	cb_client_close(c);
	assert_int_equal(
	    cb_client_open(
	        &c, p.tlsurl,
	        &(cb_client_options)CB_CLIENT_OPTIONS_INIT(.token = TOKEN, .tls_ca = p.cert)),
	    CB_OK);
	assert_int_equal(cb_geocode(c, PLACE, &r), CB_OK);
	cb_result_free(&r);
	cb_client_close(c);
}

/* cellbatchd with args (NULL-terminated): it must exit 2 saying want. */
static void expect_refused(it_env *e, const char *want, ...)
{
	char log[300], *s;
	const char *a[11] = {0};
	va_list ap;
	pid_t pid;

	va_start(ap, want);
	for (int i = 0; i < 10 && (a[i] = va_arg(ap, const char *)) != NULL; i++)
		;
	va_end(ap);
	snprintf(log, sizeof(log), "%s/refused.log", e->dir);
	unlink(log);
	pid = it_spawn_server(e, log, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9],
	                      NULL);
	assert_true(pid > 0);
	assert_int_equal(it_stop(&pid, 0, 5000), 2);
	assert_non_null(s = it_slurp(log, NULL));
	if (strstr(s, want) == NULL)
		fail_msg("wanted \"%s\" in: %s", want, s);
	free(s);
}

static void test_refused_at_start(void **state)
{
	it_env *e = *state;
	char any[700], anyhttp[64], path[300];
	pki p;

	make_pki(e, &p);
	assert_int_equal(it_start_mock(e, NULL), 0);
	expect_refused(e, "a TLS listener needs a certificate: give --tls-cert", "--listen",
	               p.tlsurl, NULL);
	expect_refused(e, "--tls-cert and --tls-key go together", "--tls-cert", p.cert, NULL);
	expect_refused(e, "--tls-client-auth needs --tls-ca", "--tls-cert", p.cert, "--tls-key",
	               p.key, "--tls-client-auth", "required", NULL);
	assert_int_equal(chmod(p.key, 0644), 0);
	expect_refused(e, "others may read it", "--tls-cert", p.cert, "--tls-key", p.key, NULL);
	assert_int_equal(chmod(p.key, 0600), 0);
	snprintf(path, sizeof(path), "%s/notakey", e->dir);
	snprintf(any, sizeof(any), "echo nope >'%s' && chmod 600 '%s'", path, path);
	sh(any);
	expect_refused(e, "the key unencrypted and matching", "--tls-cert", p.cert, "--tls-key",
	               path, NULL);
	/* the network: TLS and client authentication, or --insecure-listen said */
	snprintf(any, sizeof(any), "tls+tcp://0.0.0.0:%u", free_port());
	snprintf(anyhttp, sizeof(anyhttp), "0.0.0.0:%u", free_port());
	expect_refused(e, "--insecure-listen", "--listen", any, "--tls-cert", p.cert, "--tls-key",
	               p.key, NULL);
	expect_refused(e, "--insecure-listen", "--http", anyhttp, NULL);
	snprintf(path, sizeof(path), "%s/tokens", e->dir);
	{
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(TOKEN "\n", f);
		fclose(f);
		assert_int_equal(chmod(path, 0600), 0);
	}
	/* tokens in clear text are not enough: plain tcp:// stays refused with TLS flags given */
	expect_refused(e, "--insecure-listen", "--listen", "tcp://0.0.0.0:1", "--tls-cert", p.cert,
	               "--tls-key", p.key, "--auth-token-file", path, NULL);
	/* with TLS and tokens both start, no --insecure-listen */
	assert_int_equal(it_start_server(e, "--listen", any, "--http", anyhttp, "--tls-cert",
	                                 p.cert, "--tls-key", p.key, "--auth-token-file", path,
	                                 NULL),
	                 0);
	snprintf(path, sizeof(path), "tls+tcp://127.0.0.1:%s", strrchr(any, ':') + 1);
	assert_int_equal(geocode_over(path, p.cert, NULL, NULL), CB_EUNAUTHORIZED);
	/* tokens do not guard /metrics and /stats.json: said at start */
	{
		char *log = it_slurp(e->server_log, NULL);
		assert_non_null(log);
		assert_non_null(strstr(log, "/stats.json and the dashboard need no token"));
		free(log);
	}
}

/* n geocodes of one place (cache hits after the first) in flight at once; milliseconds. */
static double burst_ms(cb_client *c, int n)
{
	cb_call *calls = calloc((size_t)n, sizeof(*calls));
	cb_result *res = calloc((size_t)n, sizeof(*res));
	double t0 = it_now_ms(), ms;

	assert_non_null(calls);
	assert_non_null(res);
	for (int i = 0; i < n; i++)
		calls[i] = (cb_call)CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = PLACE);
	for (int i = 0; i < n; i++) {
		assert_int_equal(cb_call_sync(c, &calls[i], &res[i]), CB_OK);
		cb_result_free(&res[i]);
	}
	ms = it_now_ms() - t0;
	free(calls);
	free(res);
	return ms;
}

/* Answers of an async burst, counted under a mutex; the test waits on the count. */
typedef struct burst {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, ok;
} burst;

static void burst_done(void *user, const cb_result *res)
{
	burst *b = user;

	pthread_mutex_lock(&b->mu);
	b->done++;
	b->ok += res->err == CB_OK;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* n geocodes of one place all in flight at once on c; milliseconds until the last answer. */
static double async_ms(cb_client *c, int n)
{
	burst b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	cb_call call = CB_CALL_INIT(.fn = CB_FN_GEOCODE, .text = PLACE);
	double t0 = it_now_ms();

	for (int i = 0; i < n; i++)
		assert_int_equal(cb_call_async(c, &call, burst_done, &b), CB_OK);
	pthread_mutex_lock(&b.mu);
	while (b.done < n)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	assert_int_equal(b.ok, n);
	return it_now_ms() - t0;
}

/* Not a benchmark with a bound: numbers for the docs, printed; the calls must all be answered. */
static void test_timings(void **state)
{
	it_env *e = *state;
	char tcp[64];
	double t0, open_tls = 1e9, open_tcp = 1e9, ms_tls, ms_tcp, as_tls, as_tcp;
	char v[64];
	cb_client *c;
	pki p;

	snprintf(tcp, sizeof(tcp), "tcp://127.0.0.1:%u", free_port());
	start_tls(e, &p, "--listen", tcp, NULL, NULL);
	for (int i = 0; i < 20; i++) {
		t0 = it_now_ms();
		assert_int_equal(open_with(&c, p.tlsurl, p.cert, NULL, NULL), CB_OK);
		assert_int_equal(cb_ping(c, v, sizeof(v)), CB_OK);
		if (it_now_ms() - t0 < open_tls)
			open_tls = it_now_ms() - t0;
		cb_client_close(c);
		t0 = it_now_ms();
		assert_int_equal(open_with(&c, tcp, NULL, NULL, NULL), CB_OK);
		assert_int_equal(cb_ping(c, v, sizeof(v)), CB_OK);
		if (it_now_ms() - t0 < open_tcp)
			open_tcp = it_now_ms() - t0;
		cb_client_close(c);
	}
	assert_int_equal(open_with(&c, p.tlsurl, p.cert, NULL, NULL), CB_OK);
	burst_ms(c, 1); /* the one upstream lookup */
	ms_tls = burst_ms(c, 1000);
	as_tls = async_ms(c, 1000);
	cb_client_close(c);
	assert_int_equal(open_with(&c, tcp, NULL, NULL, NULL), CB_OK);
	ms_tcp = burst_ms(c, 1000);
	as_tcp = async_ms(c, 1000);
	cb_client_close(c);
	printf("# connect+ping (best of 20): tls+tcp %.2f ms, tcp %.2f ms; 1000 cached calls one "
	       "after another: tls+tcp %.0f ms, tcp %.0f ms; all in flight at once: tls+tcp %.0f "
	       "ms, tcp %.0f ms\n",
	       open_tls, open_tcp, ms_tls, ms_tcp, as_tls, as_tcp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tls_tcp, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_https_and_wss, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_listen_wss, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_client_certs_required, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_client_certs_optional, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_tokens_over_tls, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_refused_at_start, it_setup, it_teardown),
	    cmocka_unit_test_setup_teardown(test_timings, it_setup, it_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
