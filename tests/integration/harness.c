/* harness.c: integration tests' helpers — start the mock and cellbatchd in a temp dir, make
 * concurrent calls. */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"

extern char **environ;

double it_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void it_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

void it_init(it_env *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/cellbatch-it-XXXXXX");
	if (mkdtemp(e->dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(e->url, sizeof(e->url), "ipc://%s/cellbatch.sock", e->dir);
	snprintf(e->server_log, sizeof(e->server_log), "%s/server.log", e->dir);
}

int it_stop(pid_t *pid, int sig, int timeout_ms)
{
	int status;
	double end = it_now_ms() + timeout_ms;

	if (*pid <= 0)
		return -1;
	kill(*pid, sig);
	while (it_now_ms() < end) {
		pid_t r = waitpid(*pid, &status, WNOHANG);
		if (r == *pid) {
			*pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		it_sleep_ms(5);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &status, 0);
	*pid = 0;
	return -1;
}

/* Sanitizer reports land in the processes' stderr logs; a test must not pass over them. */
int it_log_clean(const char *path)
{
	char *log = it_slurp(path, NULL);
	int rv = 0;

	if (log != NULL &&
	    (strstr(log, "Sanitizer") != NULL || strstr(log, "runtime error") != NULL)) {
		fprintf(stderr, "sanitizer report in %s:\n%.4000s\n", path, log);
		rv = -1;
	}
	free(log);
	return rv;
}

int it_fini(it_env *e)
{
	char cmd[400], mock_log[300];
	int rv;

	it_stop(&e->server, SIGTERM, 5000);
	it_stop(&e->mock, SIGTERM, 5000);
	snprintf(mock_log, sizeof(mock_log), "%s/mock.log", e->dir);
	rv = it_log_clean(e->server_log) | it_log_clean(mock_log);
	if (rv == 0 && getenv("IT_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", e->dir);
	} else {
		fprintf(stderr, "kept %s\n", e->dir);
	}
	return rv;
}

int it_setup(void **state)
{
	it_env *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	it_init(e);
	*state = e;
	return 0;
}

int it_teardown(void **state)
{
	int rv = it_fini(*state);
	free(*state);
	return rv;
}

/*
 * posix_spawn cannot give the child a descriptor limit of its own: fork, set
 * it, exec. Only async-signal-safe calls after the fork (nng's threads).
 */
static pid_t spawn_nofile(char **argv, const char *log, unsigned long nofile)
{
	struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int out = open("/dev/null", O_WRONLY);
		if (err < 0 || out < 0 || dup2(err, 2) < 0 || dup2(out, 1) < 0 ||
		    setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(127);
		close(err);
		close(out);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	return pid;
}

/* argv is NULL-terminated; stderr goes to log; nofile: RLIMIT_NOFILE, 0 inherited. */
static pid_t spawn(char **argv, const char *log, unsigned long nofile)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rv;

	if (nofile != 0)
		return spawn_nofile(argv, log, nofile);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rv = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0) {
		fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(rv));
		return -1;
	}
	return pid;
}

#define MAX_ARGS 48

static int collect_args(char **argv, int n, va_list ap)
{
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < MAX_ARGS - 1)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	return n;
}

int it_start_mock(it_env *e, ...)
{
	char port_file[300], log[300];
	char *argv[MAX_ARGS] = {MOCK_BIN,      "--port",  "0",         "--port-file", port_file,
	                        "--gazetteer", GAZETTEER, "--api-key", IT_KEY};
	va_list ap;
	double end;

	snprintf(port_file, sizeof(port_file), "%s/mock.port", e->dir);
	snprintf(log, sizeof(log), "%s/mock.log", e->dir);
	unlink(port_file);
	va_start(ap, e);
	collect_args(argv, 9, ap);
	va_end(ap);
	if ((e->mock = spawn(argv, log, 0)) < 0)
		return -1;
	for (end = it_now_ms() + 5000; it_now_ms() < end; it_sleep_ms(5)) {
		char *s = it_slurp(port_file, NULL);
		if (s != NULL) {
			e->mock_port = (unsigned)atoi(s);
			free(s);
			return 0;
		}
	}
	fprintf(stderr, "the mock did not start\n");
	return -1;
}

static int ping(const char *url)
{
	it_reply r;
	uint8_t req[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
	int rv = it_raw(url, req, sizeof(req), &r, 500);
	rv = (rv == 0 && r.decoded && r.rep.err == CB_OK) ? 0 : -1;
	it_replies_free(&r, 1);
	return rv;
}

/* cellbatchd with the harness's defaults for e, listening on url, then the extra args in ap;
 * stderr to log. */
static pid_t spawn_server_at(it_env *e, const char *url, const char *log, va_list ap)
{
	char upstream[64], cache_db[300];
	/*
	 * Tests assert how bursts form batches; on two shared cores under ASan a
	 * 5 ms scheduling gap can end a burst early, so the idle rule gets 50 ms
	 * here. test_idle_flush passes the 5 ms default explicitly (last wins).
	 */
	char *argv[MAX_ARGS] = {SERVER_BIN, "--listen",    (char *)url, "--upstream",
	                        upstream,   "--log-level", "info",      "--batch-idle",
	                        "50ms",     "--cache-db",  cache_db};
	pid_t pid;

	snprintf(upstream, sizeof(upstream), "http://127.0.0.1:%u", e->mock_port);
	/* a cache of the test's own: answers must not leak between tests or runs */
	snprintf(cache_db, sizeof(cache_db), "%s/cache.db", e->dir);
	collect_args(argv, 11, ap);
	setenv("GEOAPIFY_API_KEY", IT_KEY, 1);
	pid = spawn(argv, log, e->nofile);
	unsetenv("GEOAPIFY_API_KEY");
	return pid;
}

static pid_t spawn_server(it_env *e, const char *log, va_list ap)
{
	return spawn_server_at(e, e->url, log, ap);
}

pid_t it_spawn_server(it_env *e, const char *log, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, log);
	pid = spawn_server(e, log, ap);
	va_end(ap);
	return pid;
}

/* Ready when it answers, not after a sleep; -1 (and *pid 0) when it exited. */
static int wait_ping(pid_t *pid, const char *url)
{
	double end;

	for (end = it_now_ms() + 5000; it_now_ms() < end; it_sleep_ms(10)) {
		int status;
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			fprintf(stderr, "cellbatchd exited at start\n");
			return -1;
		}
		if (ping(url) == 0)
			return 0;
	}
	fprintf(stderr, "cellbatchd did not answer ping\n");
	return -1;
}

int it_start_server(it_env *e, ...)
{
	va_list ap;

	va_start(ap, e);
	e->server = spawn_server(e, e->server_log, ap);
	va_end(ap);
	if (e->server < 0)
		return -1;
	return wait_ping(&e->server, e->url);
}

int it_start_server_at(it_env *e, const char *url, const char *log, pid_t *pid, ...)
{
	va_list ap;

	va_start(ap, pid);
	*pid = spawn_server_at(e, url, log, ap);
	va_end(ap);
	if (*pid < 0)
		return -1;
	return wait_ping(pid, url);
}

char *it_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

/* -------------------------------------------------------------- HTTP to the mock */

typedef struct membuf {
	char *p;
	size_t n;
} membuf;

static size_t mem_write(char *d, size_t s, size_t n, void *arg)
{
	membuf *m = arg;
	m->p = realloc(m->p, m->n + s * n + 1);
	memcpy(m->p + m->n, d, s * n);
	m->n += s * n;
	m->p[m->n] = '\0';
	return s * n;
}

static json_t *http_json(it_env *e, const char *path, const char *post)
{
	CURL *c = curl_easy_init();
	char url[2048];
	membuf m = {0};
	json_t *j = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", e->mock_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	if (post != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
	if (curl_easy_perform(c) == CURLE_OK && m.p != NULL)
		j = json_loads(m.p, 0, NULL);
	curl_easy_cleanup(c);
	free(m.p);
	return j;
}

json_t *it_mock_stats(it_env *e)
{
	return http_json(e, "/mock/stats", NULL);
}

long it_mock_stat(it_env *e, const char *key)
{
	json_t *st = it_mock_stats(e);
	long v = (long)json_integer_value(json_object_get(st, key));
	json_decref(st);
	return v;
}

const msgpack_object *it_mp_get(const msgpack_object *map, const char *key)
{
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0)
			return &kv->val;
	}
	fail_msg("stats has no key %s", key);
	return NULL;
}

int it_mock_config(it_env *e, const char *json)
{
	json_t *j = http_json(e, "/mock/config", json);
	int rv = j != NULL && json_object_get(j, "submits") != NULL ? 0 : -1;
	json_decref(j);
	return rv;
}

int it_mock_lookup(it_env *e, const char *text, it_place *out)
{
	char path[3200];
	char *esc = curl_easy_escape(NULL, text, 0);
	json_t *j, *first;

	snprintf(path, sizeof(path), "/v1/geocode/search?format=json&text=%s", esc);
	curl_free(esc);
	if ((j = http_json(e, path, NULL)) == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	first = json_array_get(json_object_get(j, "results"), 0);
	if (first != NULL) {
		out->found = true;
		out->lat = json_number_value(json_object_get(first, "lat"));
		out->lon = json_number_value(json_object_get(first, "lon"));
		snprintf(out->formatted, sizeof(out->formatted), "%s",
		         json_string_value(json_object_get(first, "formatted")));
	}
	json_decref(j);
	return 0;
}

/* -------------------------------------------------------------- nng calls */

int it_open(const char *url, nng_socket *s)
{
	int rv;
	if ((rv = nng_req0_open(s)) != 0)
		return rv;
	/* nng 1.5.2 scans every pending request on each resend timer: switch it off */
	nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 0);
	if ((rv = nng_dial(*s, url, NULL, 0)) != 0)
		nng_close(*s);
	return rv;
}

static void take_reply(it_reply *out, nng_msg *m)
{
	cb_decode_error err;
	cb_limits lim = {.max_bytes = 64u << 20};

	out->len = nng_msg_len(m);
	out->bytes = malloc(out->len ? out->len : 1);
	memcpy(out->bytes, nng_msg_body(m), out->len);
	nng_msg_free(m);
	out->decoded = cbp_reply_decode(out->bytes, out->len, &lim, &out->rep, &err) == CB_OK;
	if (!out->decoded)
		fprintf(stderr, "undecodable reply: %s\n", err.message);
}

static int encode_call(const it_call *c, nng_msg **m)
{
	cb_request req = {.op = CB_OP_CALL, .has_id = true, .id = c->id};
	msgpack_sbuffer b;
	msgpack_packer pk;
	int rv;

	req.call.fn = c->fn;
	if (c->text != NULL)
		req.call.text = (cb_str){c->text, (uint32_t)strlen(c->text)};
	req.call.lat = c->lat;
	req.call.lon = c->lon;
	if (c->lang != NULL)
		req.call.opts.v[CB_OPT_LANG] = (cb_str){c->lang, (uint32_t)strlen(c->lang)};
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	cbp_request_encode(&pk, &req);
	rv = nng_msg_alloc(m, b.size);
	if (rv == 0)
		memcpy(nng_msg_body(*m), b.data, b.size);
	msgpack_sbuffer_destroy(&b);
	return rv;
}

int it_calls(const char *url, const it_call *calls, size_t n, it_reply *out, int timeout_ms)
{
	nng_socket s;
	int rv;

	memset(out, 0, n * sizeof(*out));
	if ((rv = it_open(url, &s)) != 0)
		return rv;
	rv = it_calls_on(s, calls, n, out, timeout_ms);
	nng_close(s);
	return rv;
}

int it_calls_on(nng_socket s, const it_call *calls, size_t n, it_reply *out, int timeout_ms)
{
	nng_ctx *ctx = calloc(n, sizeof(*ctx));
	nng_aio **aio = calloc(n, sizeof(*aio));

	memset(out, 0, n * sizeof(*out));
	/*
	 * Everything prepared first, then the sends in a tight loop, then all
	 * receives: the server sees the calls as one burst, even on a busy
	 * machine where building them one by one could leave a batch-idle gap.
	 */
	for (size_t i = 0; i < n; i++) {
		nng_msg *m;
		nng_ctx_open(&ctx[i], s);
		nng_aio_alloc(&aio[i], NULL, NULL);
		encode_call(&calls[i], &m);
		nng_aio_set_timeout(aio[i], timeout_ms);
		nng_aio_set_msg(aio[i], m);
	}
	for (size_t i = 0; i < n; i++)
		nng_ctx_send(ctx[i], aio[i]);
	for (size_t i = 0; i < n; i++) {
		nng_aio_wait(aio[i]);
		if ((out[i].nng_err = nng_aio_result(aio[i])) != 0) {
			nng_msg_free(nng_aio_get_msg(aio[i]));
			continue;
		}
		nng_aio_set_timeout(aio[i], timeout_ms);
		nng_ctx_recv(ctx[i], aio[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (out[i].nng_err != 0)
			continue;
		nng_aio_wait(aio[i]);
		if ((out[i].nng_err = nng_aio_result(aio[i])) == 0)
			take_reply(&out[i], nng_aio_get_msg(aio[i]));
	}
	for (size_t i = 0; i < n; i++) {
		nng_aio_free(aio[i]);
		nng_ctx_close(ctx[i]);
	}
	free(ctx);
	free(aio);
	return 0;
}

int it_raw(const char *url, const void *buf, size_t len, it_reply *out, int timeout_ms)
{
	nng_socket s;
	int rv;

	memset(out, 0, sizeof(*out));
	if ((rv = it_open(url, &s)) != 0)
		return rv;
	rv = it_raw_on(s, buf, len, out, timeout_ms);
	nng_close(s);
	return rv;
}

int it_raw_on(nng_socket s, const void *buf, size_t len, it_reply *out, int timeout_ms)
{
	nng_msg *m;
	int rv;

	memset(out, 0, sizeof(*out));
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_msg_alloc(&m, len);
	memcpy(nng_msg_body(m), buf, len);
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
	} else if ((rv = nng_recvmsg(s, &m, 0)) == 0) {
		take_reply(out, m);
	}
	out->nng_err = rv;
	return rv;
}

static const uint8_t stats_req[] = {0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p',
                                    0xa5, 's',  't', 'a',  't',  's'};

int it_stats(const char *url, it_reply *out, int timeout_ms)
{
	if (it_raw(url, stats_req, sizeof(stats_req), out, timeout_ms) != 0)
		return -1;
	return out->decoded && out->rep.has_stats ? 0 : -1;
}

int it_stats_on(nng_socket s, it_reply *out, int timeout_ms)
{
	if (it_raw_on(s, stats_req, sizeof(stats_req), out, timeout_ms) != 0)
		return -1;
	return out->decoded && out->rep.has_stats ? 0 : -1;
}

void it_replies_free(it_reply *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].decoded)
			cbp_reply_free(&r[i].rep);
		free(r[i].bytes);
	}
}
