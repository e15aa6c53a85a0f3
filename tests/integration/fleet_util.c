/* fleet_util.c: fleet tests' helpers — a real redis-server on a private unix socket, several
 * cellbatchd sharing it, one client thread per instance. */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet_util.h"

extern char **environ;

static pid_t started[64];
static int nstarted;

void it_fleet_remember(pid_t pid)
{
	if (pid > 0 && nstarted < (int)(sizeof(started) / sizeof(started[0])))
		started[nstarted++] = pid;
}

int it_fleet_teardown(void **state)
{
	int st;

	/* only children not reaped yet: a pid reused by another process is not ours to kill */
	for (int i = 0; i < nstarted; i++)
		if (waitpid(started[i], &st, WNOHANG) == 0) {
			kill(started[i], SIGKILL);
			waitpid(started[i], &st, 0);
		}
	nstarted = 0;
	return it_teardown(state);
}

int it_redis_cmd(const it_redis *r, const char *cmd, char *out, size_t outlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {1, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), rv = -1;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (strlen(r->sock) >= sizeof(sa.sun_path))
		goto out;
	memcpy(sa.sun_path, r->sock, strlen(r->sock) + 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\r\n", 2) != 2)
		goto out;
	if ((n = read(fd, out, outlen - 1)) <= 0)
		goto out;
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	rv = 0;
out:
	close(fd);
	return rv;
}

int it_redis_start(it_env *e, it_redis *r)
{
	char *argv[] = {REDIS_BIN, "--port",       "0",  "--unixsocket", r->sock, "--save",
	                "",        "--appendonly", "no", "--dir",        e->dir,  NULL};
	posix_spawn_file_actions_t fa;
	char pong[64];
	double end;
	int rv;

	snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", e->dir);
	snprintf(r->url, sizeof(r->url), "unix://%s", r->sock);
	snprintf(r->log, sizeof(r->log), "%s/redis.log", e->dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, r->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, r->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	rv = posix_spawn(&r->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rv == 0)
		it_fleet_remember(r->pid);
	if (rv != 0) {
		fprintf(stderr, "spawn %s: %s\n", argv[0], strerror(rv));
		r->pid = 0;
		return -1;
	}
	for (end = it_now_ms() + 5000; it_now_ms() < end; it_sleep_ms(10))
		if (it_redis_cmd(r, "PING", pong, sizeof(pong)) == 0 && strcmp(pong, "+PONG") == 0)
			return 0;
	fprintf(stderr, "redis-server did not answer PING\n");
	return -1;
}

int it_redis_stop(it_redis *r, int sig)
{
	return it_stop(&r->pid, sig, 5000) < 0 ? -1 : 0;
}

int it_fleet_start(it_fleet *f, int i, ...)
{
	const char *argv[40] = {"--redis", f->redis.url, "--cache-db", f->db[i]};
	int n = 4;
	const char *a;
	va_list ap;
	int rv;

	snprintf(f->url[i], sizeof(f->url[i]), "ipc://%s/fleet%d.sock", f->e->dir, i);
	snprintf(f->log[i], sizeof(f->log[i]), "%s/fleet%d.log", f->e->dir, i);
	snprintf(f->db[i], sizeof(f->db[i]), "%s/fleet%d.db", f->e->dir, i);
	va_start(ap, i);
	while ((a = va_arg(ap, const char *)) != NULL && n < 39)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	if (i >= f->n)
		f->n = i + 1;
	/* twenty slots are enough for every fleet test's flags */
	rv = it_start_server_at(f->e, f->url[i], f->log[i], &f->pid[i], argv[0], argv[1], argv[2],
	                        argv[3], argv[4], argv[5], argv[6], argv[7], argv[8], argv[9],
	                        argv[10], argv[11], argv[12], argv[13], argv[14], argv[15],
	                        argv[16], argv[17], argv[18], argv[19], NULL);
	it_fleet_remember(f->pid[i]);
	return rv;
}

static void *load_main(void *arg)
{
	it_fleet_load *l = arg;

	l->rv = it_calls(l->url, l->calls, l->n, l->replies, l->timeout_ms);
	return NULL;
}

void it_fleet_run(it_fleet_load *loads, int n)
{
	pthread_t t[FLEET_MAX * 2];

	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, load_main, &loads[i]);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static const msgpack_object *fleet_map(const it_reply *r)
{
	const msgpack_object *st = &r->rep.stats;

	for (uint32_t i = 0; st->type == MSGPACK_OBJECT_MAP && i < st->via.map.size; i++) {
		const msgpack_object_kv *kv = &st->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 5 &&
		    memcmp(kv->key.via.str.ptr, "fleet", 5) == 0)
			return &kv->val;
	}
	return NULL;
}

static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
	for (uint32_t i = 0; m != NULL && m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size;
	     i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
		    memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0)
			return &kv->val;
	}
	return NULL;
}

int it_fleet_stat_str(const char *url, const char *key, char *out, size_t outlen)
{
	it_reply r;
	const msgpack_object *v;
	int rv = -1;

	memset(&r, 0, sizeof(r));
	if (it_stats(url, &r, 2000) == 0 && (v = map_get(fleet_map(&r), key)) != NULL &&
	    v->type == MSGPACK_OBJECT_STR) {
		snprintf(out, outlen, "%.*s", (int)v->via.str.size, v->via.str.ptr);
		rv = 0;
	}
	it_replies_free(&r, 1);
	return rv;
}

long it_stat_long(const char *url, const char *map, const char *key)
{
	it_reply r;
	const msgpack_object *v;
	long rv = -1;

	memset(&r, 0, sizeof(r));
	if (it_stats(url, &r, 2000) == 0 &&
	    (v = map_get(map ? map_get(&r.rep.stats, map) : &r.rep.stats, key)) != NULL &&
	    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		rv = (long)v->via.u64;
	it_replies_free(&r, 1);
	return rv;
}

long it_fleet_stat(const char *url, const char *key)
{
	it_reply r;
	const msgpack_object *v;
	long rv = -1;

	memset(&r, 0, sizeof(r));
	if (it_stats(url, &r, 2000) == 0 && (v = map_get(fleet_map(&r), key)) != NULL &&
	    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		rv = (long)v->via.u64;
	it_replies_free(&r, 1);
	return rv;
}

long it_fleet_instances(const char *url, long *items)
{
	it_reply r;
	const msgpack_object *a;
	long n = -1;

	*items = 0;
	memset(&r, 0, sizeof(r));
	if (it_stats(url, &r, 2000) == 0 && (a = map_get(fleet_map(&r), "instances")) != NULL &&
	    a->type == MSGPACK_OBJECT_ARRAY) {
		n = (long)a->via.array.size;
		for (uint32_t i = 0; i < a->via.array.size; i++) {
			const msgpack_object *v = map_get(&a->via.array.ptr[i], "items_submitted");
			if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				*items += (long)v->via.u64;
		}
	}
	it_replies_free(&r, 1);
	return n;
}

/* ------------------------------------------------------------ the fleet tests' loads */

/* cells[i] for instance k: addresses of its own ("<k>-<i> Fleet Road") */
it_call *own_calls(int k, size_t n, char (*texts)[64])
{
	it_call *c = calloc(n, sizeof(*c));

	for (size_t i = 0; i < n; i++) {
		snprintf(texts[i], 64, "%d-%zu Fleet Road", k, i);
		c[i] = (it_call){.fn = CB_FN_GEOCODE, .text = texts[i], .id = i + 1};
	}
	return c;
}

size_t count_ok(const it_reply *r, size_t n)
{
	size_t ok = 0;

	for (size_t i = 0; i < n; i++)
		ok += r[i].decoded && r[i].rep.err == CB_OK && r[i].rep.has_result;
	return ok;
}

void load3_make(load3 *L, it_fleet *f, size_t n)
{
	for (int k = 0; k < f->n; k++) {
		L->texts[k] = calloc(n, 64);
		L->l[k] = (it_fleet_load){f->url[k], own_calls(k, n, L->texts[k]),
		                          n,         calloc(n, sizeof(it_reply)),
		                          60000,     -1};
	}
}

void load3_free(load3 *L, int n)
{
	for (int k = 0; k < n; k++) {
		it_replies_free(L->l[k].replies, L->l[k].n);
		free(L->l[k].replies);
		free(L->l[k].calls);
		free(L->texts[k]);
	}
}

/* Every live instance drains and exits 0 on SIGTERM, with nothing in its log from a sanitizer. */
void fleet_stop(it_fleet *f)
{
	for (int k = 0; k < f->n; k++) {
		if (f->pid[k] > 0)
			assert_int_equal(it_stop(&f->pid[k], SIGTERM, 10000), 0);
		assert_int_equal(it_log_clean(f->log[k]), 0);
	}
	it_redis_stop(&f->redis, SIGTERM);
}

void *bg_main(void *arg)
{
	bg_load *bg = arg;

	it_fleet_run(bg->L->l + bg->first, bg->n);
	return NULL;
}

/* Waits until every instance's limiter reads want; 0 or -1 after timeout_ms. */
int wait_limiter(it_fleet *f, const char *want, int timeout_ms)
{
	double end = it_now_ms() + timeout_ms;
	char got[32];

	for (int k = 0; k < f->n; k++)
		while (it_fleet_stat_str(f->url[k], "limiter", got, sizeof(got)) != 0 ||
		       strcmp(got, want) != 0)
			if (it_now_ms() > end)
				return -1;
	return 0;
}

void fleet_start3(it_fleet *f, bool full)
{
	assert_int_equal(it_redis_start(f->e, &f->redis), 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(full ? it_fleet_start(f, k, FLEET_ARGS_FULL, NULL)
		                      : it_fleet_start(f, k, FLEET_ARGS, NULL),
		                 0);
	assert_int_equal(wait_limiter(f, "fleet", 5000), 0);
}
