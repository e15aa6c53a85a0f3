/* robust_util.c: test_robust's helpers: raw SP peers and floods over ipc, /proc readings, stats. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "robust_util.h"

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int ru_unix_connect(const char *url)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int fd;

	if (strncmp(url, "ipc://", 6) != 0 || strlen(url + 6) >= sizeof(un.sun_path))
		return -1;
	strcpy(un.sun_path, url + 6);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&un, sizeof(un)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int ru_sp_connect(const char *url, int timeout_ms)
{
	static const uint8_t hello[8] = {0, 'S', 'P', 0, 0, 48, 0, 0};
	double end = it_now_ms() + timeout_ms;
	uint8_t got[8];
	size_t have = 0;
	int fd = ru_unix_connect(url);

	if (fd < 0 || !ru_write_all(fd, hello, sizeof(hello)))
		goto fail;
	while (have < sizeof(got)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(end - it_now_ms());
		ssize_t n;
		if (left <= 0 || poll(&p, 1, left) != 1)
			goto fail;
		if ((n = recv(fd, got + have, sizeof(got) - have, 0)) <= 0)
			goto fail;
		have += (size_t)n;
	}
	if (memcmp(got, "\0SP\0", 4) == 0)
		return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

bool ru_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void ru_frame(uint8_t *buf, size_t *len, uint32_t id, const void *body, size_t body_len)
{
	uint8_t *p = buf + *len;

	p[0] = 0x01;
	put_be(p + 1, 4 + body_len, 8);
	put_be(p + RU_FRAME_HDR, id | 0x80000000u, 4);
	memcpy(p + RU_FRAME_HDR + 4, body, body_len);
	*len += RU_FRAME_HDR + 4 + body_len;
}

size_t ru_call_body(uint8_t *out, size_t cap, const char *text)
{
	cb_request req = {.op = CB_OP_CALL};
	msgpack_sbuffer b;
	msgpack_packer pk;
	size_t n = 0;

	req.call.fn = CB_FN_GEOCODE;
	req.call.text = (cb_str){text, (uint32_t)strlen(text)};
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
	if (cbp_request_encode(&pk, &req) == CB_OK && b.size <= cap) {
		memcpy(out, b.data, b.size);
		n = b.size;
	}
	msgpack_sbuffer_destroy(&b);
	return n;
}

/* Writes every frame without blocking, never reads, and watches for the server closing it. */
void *ru_flood_main(void *arg)
{
	ru_flood *f = arg;
	int fd = ru_sp_connect(f->url, 2000), q;
	double end;

	f->t_start = f->t_growth = it_now_ms();
	end = f->t_start + f->give_up_ms;
	if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
		snprintf(f->how, sizeof(f->how), "could not connect");
	while (fd >= 0 && it_now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLRDHUP};
		if (f->written < f->len) {
			ssize_t n = send(fd, f->buf + f->written, f->len - f->written,
			                 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				f->hup = errno == EPIPE || errno == ECONNRESET;
				snprintf(f->how, sizeof(f->how), "send: %s", strerror(errno));
				break;
			}
			if (n > 0)
				__atomic_add_fetch(&f->written, (size_t)n, __ATOMIC_RELEASE);
			p.events |= POLLOUT;
		}
		if (ioctl(fd, FIONREAD, &q) == 0 && q > f->queued) {
			f->queued = q;
			f->t_growth = it_now_ms();
		}
		if (poll(&p, 1, 2) == 1 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP))) {
			f->hup = true;
			snprintf(f->how, sizeof(f->how), "poll revents 0x%x", (unsigned)p.revents);
			break;
		}
	}
	f->t_end = it_now_ms();
	__atomic_store_n(&f->done, true, __ATOMIC_RELEASE);
	if (fd >= 0)
		close(fd);
	return NULL;
}

void ru_flood_build(ru_flood *f, const char *url, const char *text, int n)
{
	uint8_t body[1200];
	size_t blen = ru_call_body(body, sizeof(body), text);

	assert_true(blen > 0);
	f->url = url;
	f->buf = malloc((size_t)n * (RU_FRAME_HDR + 4 + blen));
	assert_non_null(f->buf);
	for (int i = 0; i < n; i++)
		ru_frame(f->buf, &f->len, (uint32_t)i + 1, body, blen);
}

pid_t ru_burst_child(const char *url, const uint8_t *buf, size_t len)
{
	pid_t pid = fork();

	if (pid == 0) { /* only system calls from here: the parent has threads */
		static uint8_t sink[65536];
		int fd = ru_sp_connect(url, 2000);
		if (fd < 0 || !ru_write_all(fd, buf, len))
			_exit(1);
		while (read(fd, sink, sizeof(sink)) > 0)
			;
		_exit(0);
	}
	return pid;
}

void ru_big_multi(msgpack_sbuffer *b)
{
	cb_request req = {.op = CB_OP_MULTI, .has_id = true, .id = 77, .ncalls = CB_MAX_MULTI};
	char *texts = malloc((size_t)CB_MAX_MULTI * CB_TEXT_MAX);
	msgpack_packer pk;

	req.calls = calloc(CB_MAX_MULTI, sizeof(*req.calls));
	assert_true(texts != NULL && req.calls != NULL);
	for (int i = 0; i < CB_MAX_MULTI; i++) {
		char *t = texts + (size_t)i * CB_TEXT_MAX;
		memset(t, 'a' + i % 26, CB_TEXT_MAX);
		memcpy(t, "Long Street ", 12);
		t[12 + snprintf(t + 12, 16, "%05d", i)] = ' ';
		req.calls[i] = (cb_wire_call){.fn = CB_FN_GEOCODE, .text = {t, CB_TEXT_MAX}};
	}
	msgpack_sbuffer_init(b);
	msgpack_packer_init(&pk, b, msgpack_sbuffer_write);
	assert_int_equal(cbp_request_encode(&pk, &req), CB_OK);
	free(req.calls);
	free(texts);
}

uint8_t *ru_sized_body(size_t len)
{
	uint8_t *b = malloc(len);
	size_t s = len - 8;

	assert_non_null(b);
	memcpy(b, "\x81\xa1x\xdb", 4);
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)(s >> (24 - 8 * i));
	memset(b + 8, 'x', s);
	return b;
}

double ru_cpu_s(pid_t pid)
{
	char path[64], *s, *p;
	unsigned long long ut, st;
	double rv = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((s = it_slurp(path, NULL)) == NULL)
		return -1;
	/* the command name may hold spaces: fields count from the last ')' (state is field 3) */
	if ((p = strrchr(s, ')')) != NULL &&
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
		rv = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	free(s);
	return rv;
}

double ru_cpu_share(pid_t pid, int ms)
{
	double c0 = ru_cpu_s(pid), t0 = it_now_ms(), c1;

	sleep_ms(ms); /* the measuring window itself (the acceptance's "over the next 3 s") */
	c1 = ru_cpu_s(pid);
	assert_true(c0 >= 0 && c1 >= 0);
	return (c1 - c0) / ((it_now_ms() - t0) / 1e3);
}

long ru_rss_kib(pid_t pid)
{
	char path[64], *s, *p;
	long kib = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((s = it_slurp(path, NULL)) == NULL)
		return -1;
	if ((p = strstr(s, "\nVmRSS:")) != NULL)
		kib = strtol(p + 7, NULL, 10);
	free(s);
	return kib;
}

int ru_wait_exit(pid_t pid, int timeout_ms)
{
	double end = it_now_ms() + timeout_ms;
	int status;

	do {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(5);
	} while (it_now_ms() < end);
	return -1;
}

uint64_t ru_conn_stat(const it_reply *stats, const char *key)
{
	return it_mp_get(it_mp_get(&stats->rep.stats, "connections"), key)->via.u64;
}

uint64_t ru_fd_stat(const it_reply *stats, const char *key)
{
	const msgpack_object *conns = it_mp_get(&stats->rep.stats, "connections");
	return it_mp_get(it_mp_get(conns, "descriptors"), key)->via.u64;
}

static void print_map(const msgpack_object *m)
{
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		printf("%s%.*s ", i ? ", " : "", (int)kv->key.via.str.size, kv->key.via.str.ptr);
		if (kv->val.type == MSGPACK_OBJECT_MAP) {
			printf("{");
			print_map(&kv->val);
			printf("}");
		} else if (kv->val.type == MSGPACK_OBJECT_BOOLEAN) {
			printf("%s", kv->val.via.boolean ? "true" : "false");
		} else if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			printf("%llu", (unsigned long long)kv->val.via.u64);
		} else {
			printf("?");
		}
	}
}

void ru_print_conns(const char *label, const it_reply *stats)
{
	printf("%s: connections {", label);
	print_map(it_mp_get(&stats->rep.stats, "connections"));
	printf("}\n");
}

uint64_t ru_stat(const it_reply *stats, const char *key)
{
	return it_mp_get(&stats->rep.stats, key)->via.u64;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double ru_percentile(double *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	return v[rank == 0 ? 0 : rank > n ? n - 1 : rank - 1];
}

int ru_raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		return -1;
	rl.rlim_cur = want;
	return setrlimit(RLIMIT_NOFILE, &rl);
}
