/* harness.h: integration tests' helpers — start the mock and cellbatchd in a temp dir, make
 * concurrent calls. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <nng/nng.h>

#include "cbproto.h"

#define IT_KEY "it-secret-key-7f3a9c41d2"

typedef struct it_env {
	char dir[256];
	char url[512];        /* the server's ipc:// URL */
	char server_log[300]; /* the server's stderr */
	unsigned mock_port;
	pid_t mock, server;
	unsigned long nofile; /* RLIMIT_NOFILE (soft = hard) for cellbatchd; 0: inherited */
} it_env;

/* Makes the temp dir; the mock and server are started separately. */
void it_init(it_env *e);
/*
 * Stops whatever runs (SIGKILL after a grace period) and removes the dir.
 * Returns -1 when a process's log holds a sanitizer report (then the dir
 * is kept), else 0.
 */
int it_fini(it_env *e);

/* 0, or -1 (and the log printed) when the log at path holds a sanitizer report. */
int it_log_clean(const char *path);

/* cmocka-shaped fixture: a fresh it_env in *state, and its it_fini (failing on sanitizer reports).
 */
int it_setup(void **state);
int it_teardown(void **state);

/* Starts the mock with extra args (NULL-terminated); waits for its port. Returns 0 or -1. */
int it_start_mock(it_env *e, ...);
/* Starts cellbatchd against the mock with extra args (NULL-terminated); waits until it answers
 * ping. */
int it_start_server(it_env *e, ...);
/* Starts one more cellbatchd like it_start_server's (same URL, upstream and cache) with extra args
 * (NULL-terminated), stderr to log; does not wait for it. Returns its pid or -1. */
pid_t it_spawn_server(it_env *e, const char *log, ...);

/* Starts one more cellbatchd like it_start_server's but listening on url, stderr to log, with
 * extra args (NULL-terminated); waits until it answers ping. Returns 0 or -1; *pid its pid. */
int it_start_server_at(it_env *e, const char *url, const char *log, pid_t *pid, ...);

/* Sends sig and waits up to timeout_ms; returns the exit status, or -1 (then SIGKILLs it). */
int it_stop(pid_t *pid, int sig, int timeout_ms);

/* The mock's counters; the caller owns the result. */
json_t *it_mock_stats(it_env *e);
/* One counter of the mock's (0 when missing). */
long it_mock_stat(it_env *e, const char *key);
/* A key of a msgpack map (the server's stats); a missing key fails the running cmocka test. */
const msgpack_object *it_mp_get(const msgpack_object *map, const char *key);
/*
 * Waits until the server's stats key ("calls_in_flight", or "quota.paused"
 * inside a map; a boolean counts as 0 or 1) is within [min, max]; 0, or -1
 * after timeout_ms (wait.c).
 */
int it_wait_stat(const char *url, const char *key, long min, long max, int timeout_ms);
/* Waits until the mock's counter key reaches min; 0, or -1 after timeout_ms. */
int it_wait_mock_stat(it_env *e, const char *key, long min, int timeout_ms);
/* POSTs a JSON config to the mock (e.g. "{\"faults\":[\"truncate@result:1\"],\"reset\":true}"). */
int it_mock_config(it_env *e, const char *json);
/* The mock's single-lookup answer for text: lat/lon/formatted, or found=false. */
typedef struct it_place {
	bool found;
	double lat, lon;
	char formatted[1200];
} it_place;
int it_mock_lookup(it_env *e, const char *text, it_place *out);

/* One call to make; text for geocode, lat/lon for reverse. */
typedef struct it_call {
	cb_fn fn;
	const char *text;
	double lat, lon;
	const char *lang; /* opts.lang or NULL */
	uint64_t id;
} it_call;

/* A reply as bytes plus its decoded form; the decoded form points into the bytes. */
typedef struct it_reply {
	int nng_err; /* 0, or the transport error */
	uint8_t *bytes;
	size_t len;
	cb_reply rep;
	bool decoded;
} it_reply;

/*
 * Sends all calls at once over one REQ socket (one context each, resend
 * off) and waits for every reply up to timeout_ms. out has n slots; free
 * them with it_replies_free.
 */
int it_calls(const char *url, const it_call *calls, size_t n, it_reply *out, int timeout_ms);
/* Sends raw request bytes, returns the reply in out. */
int it_raw(const char *url, const void *buf, size_t len, it_reply *out, int timeout_ms);
/* Sends {"v":1,"op":"stats"}; 0 when a stats reply came back (out->rep.stats), else -1. */
int it_stats(const char *url, it_reply *out, int timeout_ms);
void it_replies_free(it_reply *r, size_t n);

/* A REQ socket dialled to url as it_calls and it_raw use them (resend off, no size cap). */
int it_open(const char *url, nng_socket *s);
/* it_calls, it_raw and it_stats on a socket of the caller's (it_open), which stays open. */
int it_calls_on(nng_socket s, const it_call *calls, size_t n, it_reply *out, int timeout_ms);
int it_raw_on(nng_socket s, const void *buf, size_t len, it_reply *out, int timeout_ms);
int it_stats_on(nng_socket s, it_reply *out, int timeout_ms);

/* The whole file as a NUL-terminated string (caller frees), or NULL. */
char *it_slurp(const char *path, size_t *len);

/* Milliseconds from a monotonic clock. */
double it_now_ms(void);

/* The pause between two looks at observable state in a wait loop. */
void it_sleep_ms(int ms);

#endif
