/* robust_util.h: test_robust's helpers: raw SP peers and floods over ipc, /proc readings, stats. */
#ifndef ROBUST_UTIL_H
#define ROBUST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

/* An ipc frame's header: 0x01, then the payload's length as 8 bytes big-endian. */
#define RU_FRAME_HDR 9

/* A blocking AF_UNIX stream socket connected to an ipc:// URL's path, nothing sent; -1 if not. */
int ru_unix_connect(const char *url);
/*
 * ru_unix_connect, then the SP handshake as a REQ0 peer (send {0,'S','P',0,0,48,0,0}, read the
 * listener's 8 bytes) within timeout_ms. The descriptor, or -1.
 */
int ru_sp_connect(const char *url, int timeout_ms);
/* Writes all of buf to a blocking descriptor; false on error. */
bool ru_write_all(int fd, const void *buf, size_t len);

/*
 * Appends to buf at *len one ipc frame carrying a REQ0 request: the id (its high bit set, as REQ
 * sends it) and then body. buf needs RU_FRAME_HDR + 4 + body_len bytes of room.
 */
void ru_frame(uint8_t *buf, size_t *len, uint32_t id, const void *body, size_t body_len);
/* The canonical msgpack body of {"v":1,"op":"call","fn":"geocode","args":[text]} (no id) in out;
 * its length, or 0 when it does not fit in cap. */
size_t ru_call_body(uint8_t *out, size_t cap, const char *text);

/*
 * A flooder: an SP peer over ipc that writes all its frames without blocking and never reads,
 * then waits for the server to close the connection. Times are it_now_ms().
 */
typedef struct ru_flood {
	const char *url;
	uint8_t *buf; /* the frames */
	size_t len;
	size_t written;    /* __atomic: bytes the server took */
	double give_up_ms; /* after t_start, stop waiting for the server to close it */
	double t_start;    /* connected; the first byte is written right after */
	double t_growth;   /* the replies queued unread last grew: the server's sends stall after */
	double t_end;      /* the server closed it (hup), or the flooder gave up */
	int queued;        /* reply bytes left unread */
	bool hup;          /* the server closed the connection */
	bool done;         /* __atomic: t_end is set */
	char how[64];      /* how it ended */
} ru_flood;

/* Fills f->buf with n frames of the geocode call of text (REQ ids 1 to n). */
void ru_flood_build(ru_flood *f, const char *url, const char *text, int n);
/* The flooder's thread (pthread_create(..., ru_flood_main, f)). */
void *ru_flood_main(void *arg);

/*
 * Forks a client that connects as an SP peer, sends all of buf at once and reads replies until it
 * is killed (or the server closes). The child makes system calls only: the parent has threads.
 */
pid_t ru_burst_child(const char *url, const uint8_t *buf, size_t len);

/* {"v":1,"id":77,"op":"multi","calls":[...]}: 10,000 geocode calls, each a unique 1,024-byte text
 * (about 10 MiB), in b (initialised here). */
void ru_big_multi(msgpack_sbuffer *b);
/* {"x": "xxx..."} of exactly len bytes (at least 9): a map whose one key is unknown, its value a
 * str32. The caller frees it. */
uint8_t *ru_sized_body(size_t len);

/* utime + stime of all of pid's threads, in seconds; -1 when unreadable. */
double ru_cpu_s(pid_t pid);
/* pid's CPU time over the next ms milliseconds, as a share of one core (this call sleeps). */
double ru_cpu_share(pid_t pid, int ms);
/* VmRSS of pid in KiB; -1 when unreadable. */
long ru_rss_kib(pid_t pid);

/* Waits up to timeout_ms for pid to exit: its exit status, 128 + signal, or -1 (still running). */
int ru_wait_exit(pid_t pid, int timeout_ms);

/* stats.connections.KEY of a stats reply, e.g. "closed_send_timeout" (missing: the test fails). */
uint64_t ru_conn_stat(const it_reply *stats, const char *key);
/* stats.connections.descriptors.KEY of a stats reply, e.g. "limit". */
uint64_t ru_fd_stat(const it_reply *stats, const char *key);
/* Prints stats.connections, every key (the set of counters may grow), after a label. */
void ru_print_conns(const char *label, const it_reply *stats);
/* A top-level counter of a stats reply, e.g. "requests". */
uint64_t ru_stat(const it_reply *stats, const char *key);

/* The p-th percentile (0 to 100, nearest rank) of v[0..n); sorts v. */
double ru_percentile(double *v, size_t n, double p);

/* Raises this process's soft RLIMIT_NOFILE to at least want (within the hard limit); 0 or -1. */
int ru_raise_nofile(unsigned long want);

#endif
