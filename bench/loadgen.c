/* loadgen.c: load for cellbatchd (and a bare nng echo server to compare with), speaking protocol v1
 * directly; prints one JSON line. */
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "cbproto.h"

/* ------------------------------------------------------------ latency histogram */

#define HBUCKETS (16 * 40) /* 16 per power of two of microseconds: ~4.4% wide */

typedef struct hist {
	atomic_ullong b[HBUCKETS];
	atomic_ullong n;
} hist;

static void hist_add(hist *h, double us)
{
	int i = us < 1 ? 0 : (int)(log2(us) * 16);
	if (i >= HBUCKETS)
		i = HBUCKETS - 1;
	atomic_fetch_add(&h->b[i], 1);
	atomic_fetch_add(&h->n, 1);
}

static double hist_pct_ms(hist *h, double p)
{
	unsigned long long want = (unsigned long long)ceil((double)h->n * p / 100), seen = 0;
	for (int i = 0; i < HBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want && seen > 0)
			return pow(2.0, (i + 0.5) / 16.0) / 1000.0;
	}
	return 0;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ------------------------------------------------------------ requests */

static nng_msg *call_msg(uint64_t id, const char *prefix, unsigned long k)
{
	char text[96];
	cb_request req = {.op = CB_OP_CALL, .has_id = true, .id = id};
	msgpack_sbuffer b;
	msgpack_packer pk;
	nng_msg *m = NULL;

	snprintf(text, sizeof(text), "%lu %s", k, prefix);
	req.call.fn = CB_FN_GEOCODE;
	req.call.text = (cb_str){text, (uint32_t)strlen(text)};
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	if (cbp_request_encode(&pk, &req) == CB_OK && nng_msg_alloc(&m, b.size) == 0)
		memcpy(nng_msg_body(m), b.data, b.size);
	msgpack_sbuffer_destroy(&b);
	return m;
}

static bool reply_ok(nng_msg *m)
{
	cb_decode_error err;
	cb_reply rep;
	bool ok;
	/* the echo server sends the request back: a request is not a reply, and that is fine */
	if (cbp_reply_decode(nng_msg_body(m), nng_msg_len(m), NULL, &rep, &err) != CB_OK)
		return true;
	ok = rep.err == CB_OK;
	cbp_reply_free(&rep);
	return ok;
}

static int open_req(const char *url, nng_socket *s)
{
	int rv;
	if ((rv = nng_req0_open(s)) != 0)
		return rv;
	nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 0);
	return nng_dial(*s, url, NULL, 0);
}

/* ------------------------------------------------------------ closed loop */

typedef struct worker {
	nng_ctx ctx;
	nng_aio *aio;
	bool receiving;
	double t_sent;
	unsigned long k;
	struct closed *cl;
} worker;

typedef struct closed {
	const char *prefix;
	unsigned long distinct;
	atomic_bool stop;
	atomic_ullong done, errors, next;
	atomic_int running;
	hist h;
} closed;

static void worker_send(worker *w)
{
	closed *cl = w->cl;
	unsigned long k = atomic_fetch_add(&cl->next, 1);
	nng_msg *m = call_msg(k, cl->prefix, k % cl->distinct);

	w->receiving = false;
	w->t_sent = now_us();
	nng_aio_set_msg(w->aio, m);
	nng_ctx_send(w->ctx, w->aio);
}

static void worker_cb(void *arg)
{
	worker *w = arg;
	closed *cl = w->cl;
	int rv = nng_aio_result(w->aio);

	if (rv != 0) {
		if (!w->receiving)
			nng_msg_free(nng_aio_get_msg(w->aio));
		atomic_fetch_add(&cl->errors, 1);
		atomic_fetch_sub(&cl->running, 1);
		return;
	}
	if (!w->receiving) {
		w->receiving = true;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	{
		nng_msg *m = nng_aio_get_msg(w->aio);
		hist_add(&cl->h, now_us() - w->t_sent);
		if (!reply_ok(m))
			atomic_fetch_add(&cl->errors, 1);
		nng_msg_free(m);
	}
	atomic_fetch_add(&cl->done, 1);
	if (atomic_load(&cl->stop)) {
		atomic_fetch_sub(&cl->running, 1);
		return;
	}
	worker_send(w);
}

static int run_closed(const char *url, int conc, double seconds, const char *prefix,
                      unsigned long distinct)
{
	static closed cl;
	worker *w = calloc((size_t)conc, sizeof(*w));
	nng_socket s;
	double t0, t1;

	cl.prefix = prefix;
	cl.distinct = distinct ? distinct : 1;
	if (open_req(url, &s) != 0) {
		fprintf(stderr, "loadgen: cannot reach %s\n", url);
		return 3;
	}
	atomic_store(&cl.running, conc);
	t0 = now_us();
	for (int i = 0; i < conc; i++) {
		w[i].cl = &cl;
		nng_ctx_open(&w[i].ctx, s);
		nng_aio_alloc(&w[i].aio, worker_cb, &w[i]);
		worker_send(&w[i]);
	}
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&cl.stop, true);
	while (atomic_load(&cl.running) > 0)
		usleep(1000);
	t1 = now_us();
	printf("{\"mode\":\"closed\",\"concurrency\":%d,\"seconds\":%.3f,\"calls\":%llu,"
	       "\"calls_per_s\":%.0f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"errors\":%llu}\n",
	       conc, (t1 - t0) / 1e6, (unsigned long long)cl.done, cl.done / ((t1 - t0) / 1e6),
	       hist_pct_ms(&cl.h, 50), hist_pct_ms(&cl.h, 99), (unsigned long long)cl.errors);
	for (int i = 0; i < conc; i++) {
		nng_aio_free(w[i].aio);
		nng_ctx_close(w[i].ctx);
	}
	nng_close(s);
	free(w);
	return 0;
}

/* ------------------------------------------------------------ burst and hold */

/* One cell of a burst: its send, then its receive, both driven from the aio callback. */
typedef struct burst_cell {
	struct burst *b;
	nng_ctx ctx;
	nng_aio *aio;
	bool receiving;
	int rv;        /* 0, or the error of the step that failed */
	double t_sent; /* when nng had taken the request off our hands, us */
	double t_done; /* when the reply arrived, us; taken in the callback, not when read */
	nng_msg *reply;
} burst_cell;

typedef struct burst {
	nng_mtx *mu;
	nng_cv *cv;
	unsigned long sent, done;
} burst;

static void burst_count(burst *b, unsigned long *counter)
{
	nng_mtx_lock(b->mu);
	(*counter)++;
	nng_cv_wake(b->cv);
	nng_mtx_unlock(b->mu);
}

static void burst_cb(void *arg)
{
	burst_cell *c = arg;
	int rv = nng_aio_result(c->aio);

	if (!c->receiving) {
		c->t_sent = now_us();
		burst_count(c->b, &c->b->sent);
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			c->rv = rv;
			burst_count(c->b, &c->b->done);
			return;
		}
		c->receiving = true;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	c->t_done = now_us();
	if (rv != 0)
		c->rv = rv;
	else
		c->reply = nng_aio_get_msg(c->aio);
	burst_count(c->b, &c->b->done);
}

static void burst_wait(burst *b, unsigned long *counter, unsigned long n)
{
	nng_mtx_lock(b->mu);
	while (*counter < n)
		nng_cv_wait(b->cv);
	nng_mtx_unlock(b->mu);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The exact p-th percentile of n sorted values, in ms. */
static double pct_ms(const double *sorted_us, unsigned long n, double p)
{
	unsigned long k = (unsigned long)ceil((double)n * p / 100);
	if (n == 0)
		return 0;
	return sorted_us[k > 0 ? k - 1 : 0] / 1000.0;
}

static int run_burst(const char *url, unsigned long n, const char *prefix, bool hold)
{
	burst_cell *cells = calloc(n, sizeof(*cells));
	double *lat = calloc(n, sizeof(*lat)), *own = calloc(n, sizeof(*own));
	unsigned long ok = 0, failed = 0, nlat = 0;
	burst b = {0};
	double t0, t_last = 0;
	nng_socket s;

	if (cells == NULL || lat == NULL || own == NULL || nng_mtx_alloc(&b.mu) != 0 ||
	    nng_cv_alloc(&b.cv, b.mu) != 0) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	if (open_req(url, &s) != 0) {
		fprintf(stderr, "loadgen: cannot reach %s\n", url);
		return 3;
	}
	/* everything prepared first, so the sends leave as one burst */
	for (unsigned long i = 0; i < n; i++) {
		cells[i].b = &b;
		nng_ctx_open(&cells[i].ctx, s);
		nng_aio_alloc(&cells[i].aio, burst_cb, &cells[i]);
		nng_aio_set_msg(cells[i].aio, call_msg(i, prefix, i));
		nng_aio_set_timeout(cells[i].aio, 600000);
	}
	t0 = now_us();
	for (unsigned long i = 0; i < n; i++)
		nng_ctx_send(cells[i].ctx, cells[i].aio);
	if (hold) {
		burst_wait(&b, &b.sent, n);
		printf("{\"mode\":\"hold\",\"outstanding\":%lu}\n", n);
		fflush(stdout);
		pause(); /* the runner measures, then kills us */
		return 0;
	}
	burst_wait(&b, &b.done, n);
	for (unsigned long i = 0; i < n; i++) {
		burst_cell *c = &cells[i];
		if (c->rv != 0 || c->reply == NULL) {
			failed++;
			continue;
		}
		/*
		 * Two latencies: from the burst's start (the cells were all there at t0, as on a
		 * recalculated sheet), and from the cell's own send (what a load generator usually
		 * reports; the difference is the time this process and the transport took to send).
		 */
		own[nlat] = c->t_done - c->t_sent;
		lat[nlat++] = c->t_done - t0;
		if (c->t_done > t_last)
			t_last = c->t_done;
		if (reply_ok(c->reply))
			ok++;
		else
			failed++;
		nng_msg_free(c->reply);
	}
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	qsort(own, nlat, sizeof(*own), cmp_double);
	printf("{\"mode\":\"burst\",\"cells\":%lu,\"ok\":%lu,\"failed\":%lu,\"wall_s\":%.4f,"
	       "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"send_p50_ms\":%.2f,\"send_p99_ms\":%.2f}\n",
	       n, ok, failed, (t_last - t0) / 1e6, pct_ms(lat, nlat, 50), pct_ms(lat, nlat, 99),
	       pct_ms(own, nlat, 50), pct_ms(own, nlat, 99));
	for (unsigned long i = 0; i < n; i++) {
		nng_aio_free(cells[i].aio);
		nng_ctx_close(cells[i].ctx);
	}
	nng_close(s);
	nng_cv_free(b.cv);
	nng_mtx_free(b.mu);
	free(cells);
	free(lat);
	free(own);
	return failed ? 1 : 0;
}

/* ------------------------------------------------------------ a bare REP echo server */

typedef struct echo_ctx {
	nng_ctx ctx;
	nng_aio *aio;
	bool sending;
} echo_ctx;

static void echo_cb(void *arg)
{
	echo_ctx *e = arg;

	if (nng_aio_result(e->aio) != 0) {
		if (e->sending)
			nng_msg_free(nng_aio_get_msg(e->aio));
		e->sending = false;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	if (e->sending) {
		e->sending = false;
		nng_ctx_recv(e->ctx, e->aio);
	} else {
		e->sending = true;
		nng_ctx_send(e->ctx, e->aio); /* the request goes back as the reply */
	}
}

static int run_echo(const char *url, int nctx)
{
	echo_ctx *e = calloc((size_t)nctx, sizeof(*e));
	nng_socket s;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (nng_rep0_open(&s) != 0 || nng_listen(s, url, NULL, 0) != 0) {
		fprintf(stderr, "loadgen: cannot listen on %s\n", url);
		return 1;
	}
	for (int i = 0; i < nctx; i++) {
		nng_ctx_open(&e[i].ctx, s);
		nng_aio_alloc(&e[i].aio, echo_cb, &e[i]);
		nng_ctx_recv(e[i].ctx, e[i].aio);
	}
	sigwait(&set, &sig);
	nng_close(s);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: loadgen closed URL CONCURRENCY SECONDS PREFIX DISTINCT\n"
	        "       loadgen burst URL N PREFIX\n"
	        "       loadgen hold URL N PREFIX      (calls left outstanding until killed)\n"
	        "       loadgen echo URL [CONTEXTS]    (a bare nng REP echo server)\n");
}

int main(int argc, char **argv)
{
	if (argc >= 7 && strcmp(argv[1], "closed") == 0)
		return run_closed(argv[2], atoi(argv[3]), atof(argv[4]), argv[5],
		                  strtoul(argv[6], NULL, 10));
	if (argc >= 5 && strcmp(argv[1], "burst") == 0)
		return run_burst(argv[2], strtoul(argv[3], NULL, 10), argv[4], false);
	if (argc >= 5 && strcmp(argv[1], "hold") == 0)
		return run_burst(argv[2], strtoul(argv[3], NULL, 10), argv[4], true);
	if (argc >= 3 && strcmp(argv[1], "echo") == 0)
		return run_echo(argv[2], argc > 3 ? atoi(argv[3]) : 512);
	usage();
	return 2;
}
