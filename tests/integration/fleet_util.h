/* fleet_util.h: fleet tests' helpers — a real redis-server on a private unix socket in the test's
 * temp dir, and several cellbatchd sharing it. */
#ifndef FLEET_UTIL_H
#define FLEET_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"

#define FLEET_MAX 4

typedef struct it_redis {
	pid_t pid;
	char sock[300];
	char url[320]; /* unix://... for --redis */
	char log[300];
} it_redis;

/* A redis-server with no persistence on e->dir/redis.sock; waits until it answers PING. */
int it_redis_start(it_env *e, it_redis *r);
/* SIGTERM (or sig) and waits for its exit; 0 when it exited. */
int it_redis_stop(it_redis *r, int sig);
/* Sends one inline command and returns the first line of the answer in out (e.g. ":12"); 0/-1. */
int it_redis_cmd(const it_redis *r, const char *cmd, char *out, size_t outlen);

typedef struct it_fleet {
	it_env *e;
	it_redis redis;
	int n;
	pid_t pid[FLEET_MAX];
	char url[FLEET_MAX][300];
	char log[FLEET_MAX][300];
	char db[FLEET_MAX][300];
} it_fleet;

/*
 * Instance i of the fleet: ipc socket, log and cache database of its own, --redis, then the
 * extra args (NULL-terminated). Waits until it answers ping.
 */
int it_fleet_start(it_fleet *f, int i, ...);

/* What one client thread sends to one instance. */
typedef struct it_fleet_load {
	const char *url;
	it_call *calls;
	size_t n;
	it_reply *replies;
	int timeout_ms;
	int rv;
} it_fleet_load;

/* Runs the loads at once, one thread (and one client) each; waits for all. */
void it_fleet_run(it_fleet_load *loads, int n);

/* A string key inside the fleet map of a server's stats ("limiter"), copied to out; 0/-1. */
int it_fleet_stat_str(const char *url, const char *key, char *out, size_t outlen);
/* An integer key inside the fleet map of a server's stats; -1 when missing. */
long it_fleet_stat(const char *url, const char *key);

/* An integer of a server's stats map inside map ("credits", "items_submitted"; map NULL: at the
 * top); -1: none. */
long it_stat_long(const char *url, const char *map, const char *key);

/* The instances a server's stats list under fleet.instances (-1: none), and the sum of their
 * items_submitted in *items. */
long it_fleet_instances(const char *url, long *items);

/*
 * Every process a fleet test starts is remembered, and it_fleet_teardown (a cmocka teardown)
 * kills those still running before it_teardown: a failed assertion leaves none behind.
 */
void it_fleet_remember(pid_t pid);
int it_fleet_teardown(void **state);

/* The flags every fleet test gives its instances: the plan's 5 a second for the whole fleet. */
#define FLEET_ARGS      "--rate", "5", "--burst", "1", "--fleet-size", "3", "--batch-max", "50"
#define FLEET_ARGS_FULL "--rate", "5", "--burst", "1", "--fleet-size", "3"

/* n calls for instance k: addresses of its own ("<k>-<i> Fleet Road"), texts its n buffers. */
it_call *own_calls(int k, size_t n, char (*texts)[64]);
/* Replies that are an OK result. */
size_t count_ok(const it_reply *r, size_t n);

/* One load per instance of a fleet, each of addresses of its own. */
typedef struct load3 {
	it_fleet_load l[FLEET_MAX];
	char (*texts[FLEET_MAX])[64];
} load3;

void load3_make(load3 *L, it_fleet *f, size_t n);
void load3_free(load3 *L, int n);

/* Some of a load3's loads run in a thread of their own. */
typedef struct bg_load {
	load3 *L;
	pthread_t t;
	int first, n; /* the loads L->l[first..first + n) */
} bg_load;

void *bg_main(void *arg);

/* Every live instance drains and exits 0 on SIGTERM, with nothing in its log from a sanitizer;
 * then Redis stops. */
void fleet_stop(it_fleet *f);
/* Waits until every instance's limiter reads want; 0 or -1 after timeout_ms. */
int wait_limiter(it_fleet *f, const char *want, int timeout_ms);
/* A redis-server and three instances on it (FLEET_ARGS, or FLEET_ARGS_FULL: no --batch-max), once
 * each one's limiter is the fleet's; the mock is the caller's. */
void fleet_start3(it_fleet *f, bool full);

#endif
