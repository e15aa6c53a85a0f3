/* nngfix.c: every workaround for a bug of nng 1.5.2 that reaches cellbatchd, in one place: the
 * handshaking probe, the stale-socket check and the listener watchdog (docs/nng.md). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fdlimit.h"
#include "log.h"
#include "nngfix.h"

#define RESTART_RECHECK_MS 100

static uint64_t restarts, probes_answered; /* __atomic */
static bool reaper_stuck;                  /* __atomic */

uint64_t nngfix_listener_restarts(void)
{
	return __atomic_load_n(&restarts, __ATOMIC_RELAXED);
}

bool nngfix_reaper_stuck(void)
{
	return __atomic_load_n(&reaper_stuck, __ATOMIC_RELAXED);
}

uint64_t nngfix_probes_answered(void)
{
	return __atomic_load_n(&probes_answered, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ the probe */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rv;

	do {
		int64_t left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		rv = poll(&p, 1, (int)left);
	} while (rv < 0 && errno == EINTR);
	return rv < 0 ? -1 : rv;
}

/* A non-blocking socket connecting to url's address; -1 with *absent set when nothing listens. */
static int start_connect(const char *url, bool *absent)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd, fam;

	*absent = false;
	if (strncmp(url, "ipc://", 6) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		if (strlen(url + 6) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = fam = AF_UNIX;
		strcpy(un->sun_path, url + 6);
		sl = sizeof(*un);
	} else if (strncmp(url, "tcp://", 6) == 0) {
		char host[256];
		const char *colon = strrchr(url + 6, ':');
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
		size_t hl = colon ? (size_t)(colon - (url + 6)) : 0;

		if (colon == NULL || hl >= sizeof(host))
			return -1;
		memcpy(host, url + 6, hl);
		host[hl] = '\0';
		if (host[0] == '[' && hl > 1 && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		/* a wildcard listener is reached on loopback */
		if (host[0] == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
			strcpy(host, "127.0.0.1");
		else if (strcmp(host, "::") == 0)
			strcpy(host, "::1");
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
			return -1;
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		sl = ai->ai_addrlen;
		fam = ai->ai_family;
		freeaddrinfo(ai);
	} else {
		return -1;
	}
	if ((fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		fdlimit_note(errno, "the listener probe");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) == 0 || errno == EINPROGRESS || errno == EAGAIN)
		return fd;
	*absent = errno == ENOENT || errno == ECONNREFUSED;
	close(fd);
	return -1;
}

/* Reads exactly len bytes before deadline; false on timeout, error or end of stream. */
static bool read_all(int fd, unsigned char *buf, size_t len, int64_t deadline)
{
	size_t have = 0;

	while (have < len && wait_fd(fd, POLLIN, deadline) == 1) {
		ssize_t n = recv(fd, buf + have, len - have, 0);
		if (n <= 0)
			return false;
		have += (size_t)n;
	}
	return have == len;
}

/* The SP handshake as a REQ0 peer (protocol 48): send ours, read the listener's. */
static bool handshake(int fd, int64_t deadline)
{
	static const unsigned char hello[8] = {0, 'S', 'P', 0, 0, 48, 0, 0};
	unsigned char got[8];

	return send(fd, hello, sizeof(hello), MSG_NOSIGNAL) == (ssize_t)sizeof(hello) &&
	       read_all(fd, got, sizeof(got), deadline) && memcmp(got, "\0SP\0", 4) == 0;
}

/*
 * Probes url; with added (the watchdog's case) the probe also waits, after the
 * handshake, until added() moves past its value from before the connect: a
 * wedged listener completes handshakes but never adds the connection.
 */
static nngfix_probe_result probe(const char *url, int timeout_ms, const nngfix_pipe_counts *pc)
{
	int64_t deadline = mono_ms() + timeout_ms;
	uint64_t (*added)(void *) = pc ? pc->added : NULL;
	void *arg = pc ? pc->arg : NULL;
	uint64_t before = added ? added(arg) : 0;
	nngfix_probe_result res = PROBE_SILENT;
	bool absent;
	int fd, err = 0;
	socklen_t el = sizeof(err);

	if ((fd = start_connect(url, &absent)) < 0)
		return absent ? PROBE_ABSENT : PROBE_ERROR;
	if (wait_fd(fd, POLLOUT, deadline) != 1)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
		res = (err == ECONNREFUSED || err == ENOENT) ? PROBE_ABSENT : PROBE_ERROR;
		goto out;
	}
	if (!handshake(fd, deadline))
		goto out;
	while (added != NULL && added(arg) == before && mono_ms() < deadline)
		usleep(2000);
	if (added == NULL || added(arg) != before)
		res = PROBE_ANSWERED;
out:
	close(fd);
	return res;
}

nngfix_probe_result nngfix_probe(const char *url, int timeout_ms)
{
	return probe(url, timeout_ms, NULL);
}

/* ------------------------------------------------------------ listeners */

typedef struct watched {
	nng_listener l;
	char *url;
	bool probe; /* ipc or tcp, with the wedge present */
} watched;

struct nngfix_listeners {
	nng_socket sock;
	watched *w;
	int n;
	int interval_ms;
	nngfix_pipe_counts pc;
	nng_tls_config *tls;   /* for tls+tcp:// listeners; borrowed */
	uint64_t removed_seen; /* pc.removed() when it last moved */
	unsigned unreaped;     /* probes answered (and closed) since then */
	bool restarted;        /* the last round re-created a listener: look again soon */
	pthread_t thread;
	bool running;
	bool stop; /* under mtx */
	pthread_mutex_t mtx;
	pthread_cond_t cv;
};

/* The library linked at run time may differ from the headers: it decides too. */
static bool wedge_present(void)
{
	unsigned major = 0, minor = 0;

	if (!NNGFIX_LISTENER_WEDGE || sscanf(nng_version(), "%u.%u", &major, &minor) != 2)
		return NNGFIX_LISTENER_WEDGE;
	return major == 1 && minor < 6;
}

static bool is_ipc(const char *url)
{
	return strncmp(url, "ipc://", 6) == 0;
}

/*
 * nng's ipc listener tests an existing socket file with a bare connect() and
 * close(), which is exactly the wedge's trigger: do the test here, with a handshake.
 */
static int clear_ipc_path(const char *url)
{
	struct stat st;

	if (stat(url + 6, &st) != 0 || !S_ISSOCK(st.st_mode))
		return 0; /* absent, or not a socket: nng reports what it finds */
	switch (nngfix_probe(url, 1000)) {
	case PROBE_ABSENT:
		log_info("removing the stale socket %s", url + 6);
		unlink(url + 6);
		return 0;
	case PROBE_ANSWERED:
		log_error("cannot listen on %s: another server is serving it", url);
		return NNG_EADDRINUSE;
	default:
		log_error("cannot listen on %s: something holds it but does not answer", url);
		return NNG_EADDRINUSE;
	}
}

/* ipc sockets are for this user only (mode 0600): the server spends the user's API credits. */
static int listen_one(nng_socket sock, const char *url, nng_tls_config *tls, nng_listener *out)
{
	bool is_tls = strncmp(url, "tls+", 4) == 0 || strncmp(url, "wss", 3) == 0;
	nng_listener l;
	int rv;

	if (is_tls && tls == NULL)
		return NNG_EINVAL; /* secure.c refuses it first, with the flags to give */
	if (is_ipc(url) && (rv = clear_ipc_path(url)) != 0)
		return rv;
	if ((rv = nng_listener_create(&l, sock, url)) != 0)
		return rv;
	if ((is_ipc(url) && (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0) ||
	    (is_tls && (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls)) != 0) ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		nng_listener_close(l);
		return rv;
	}
	*out = l;
	return 0;
}

/* Closes a listener that stopped accepting and opens it again; logged and counted. */
static void restart(nngfix_listeners *ls, watched *w)
{
	int rv;

	log_warn("listener %s stopped accepting (nng#1518: a client left during the handshake); "
	         "re-creating it",
	         w->url);
	nng_listener_close(w->l);
	if (is_ipc(w->url))
		unlink(w->url + 6);
	if ((rv = listen_one(ls->sock, w->url, ls->tls, &w->l)) != 0) {
		log_error("cannot listen on %s again: %s; trying again", w->url, nng_strerror(rv));
		return;
	}
	__atomic_add_fetch(&restarts, 1, __ATOMIC_RELAXED);
	ls->restarted = true;
}

/*
 * nanomsg/nng#1543: once nng's one reaper thread hangs, no connection is ever
 * released again, and each probe would leak a descriptor. A probe that closed
 * is removed within milliseconds; four in a row without any removal mean the
 * reaper is stuck: say so once, and stop probing (restarting a listener would
 * wait on the reaper too).
 */
static bool reaper_hung(nngfix_listeners *ls)
{
	uint64_t removed = ls->pc.removed(ls->pc.arg);

	if (removed != ls->removed_seen) {
		ls->removed_seen = removed;
		ls->unreaped = 0;
		return false;
	}
	if (ls->unreaped < 4)
		return false;
	log_error("nng's reaper thread is stuck (nng#1543, after clients were killed mid-reply): "
	          "closed connections are no longer released; restart cellbatchd soon");
	__atomic_store_n(&reaper_stuck, true, __ATOMIC_RELAXED);
	return true;
}

/* One round: every listener probed, a wedged one re-created. False when probing must stop. */
static bool watch_round(nngfix_listeners *ls)
{
	if (reaper_hung(ls))
		return false;
	for (int i = 0; i < ls->n; i++) {
		if (!ls->w[i].probe)
			continue;
		if (probe(ls->w[i].url, ls->interval_ms, &ls->pc) == PROBE_ANSWERED) {
			__atomic_add_fetch(&probes_answered, 1, __ATOMIC_RELAXED);
			ls->unreaped++;
		} else {
			restart(ls, &ls->w[i]);
		}
	}
	return true;
}

static void *watchdog_main(void *arg)
{
	nngfix_listeners *ls = arg;
	struct timespec at;
	bool probing = true;

	pthread_mutex_lock(&ls->mtx);
	ls->removed_seen = ls->pc.removed(ls->pc.arg);
	while (!ls->stop) {
		/*
		 * A client that gives up on a connection mid-handshake (one that was
		 * parked on the wedged listener, say) can wedge the new listener at
		 * once: the first look after a restart comes sooner.
		 */
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec +=
		    (long)(ls->restarted ? RESTART_RECHECK_MS : ls->interval_ms) * 1000000;
		ls->restarted = false;
		at.tv_sec += at.tv_nsec / 1000000000;
		at.tv_nsec %= 1000000000;
		if (pthread_cond_timedwait(&ls->cv, &ls->mtx, &at) == 0 || ls->stop || !probing)
			continue;
		pthread_mutex_unlock(&ls->mtx);
		probing = watch_round(ls);
		pthread_mutex_lock(&ls->mtx);
	}
	pthread_mutex_unlock(&ls->mtx);
	return NULL;
}

static int start_watchdog(nngfix_listeners *ls)
{
	pthread_condattr_t ca;
	bool any = false;

	for (int i = 0; i < ls->n; i++)
		any |= ls->w[i].probe;
	if (!any)
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ls->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&ls->thread, NULL, watchdog_main, ls) != 0) {
		pthread_cond_destroy(&ls->cv);
		return NNG_ENOMEM;
	}
	ls->running = true;
	return 0;
}

int nngfix_listen(nngfix_listeners **out, nng_socket sock, const char *const *urls, int n,
                  int interval_ms, const nngfix_pipe_counts *pc, nng_tls_config *tls)
{
	nngfix_listeners *ls = calloc(1, sizeof(*ls));
	int rv = NNG_ENOMEM;

	if (ls == NULL)
		return NNG_ENOMEM;
	pthread_mutex_init(&ls->mtx, NULL);
	if ((ls->w = calloc((size_t)n, sizeof(*ls->w))) == NULL)
		goto out;
	ls->sock = sock;
	ls->interval_ms = interval_ms;
	ls->pc = *pc;
	ls->tls = tls;
	for (ls->n = 0; ls->n < n; ls->n++) {
		watched *w = &ls->w[ls->n];
		if ((w->url = strdup(urls[ls->n])) == NULL) {
			rv = NNG_ENOMEM;
			goto out;
		}
		if ((rv = listen_one(sock, w->url, ls->tls, &w->l)) != 0) {
			log_error("cannot listen on %s: %s", w->url, nng_strerror(rv));
			free(w->url);
			goto out;
		}
		/* tcp has the same flaw, but a bare connect never reaches it (docs/nng.md) */
		w->probe = wedge_present() && (is_ipc(w->url) || strncmp(w->url, "tcp://", 6) == 0);
		log_info("listening on %s", w->url);
	}
	if ((rv = start_watchdog(ls)) != 0)
		goto out;
	*out = ls;
	return 0;
out:
	nngfix_listeners_stop(ls);
	return rv;
}

void nngfix_listeners_stop(nngfix_listeners *ls)
{
	if (ls == NULL)
		return;
	if (ls->running) {
		pthread_mutex_lock(&ls->mtx);
		ls->stop = true;
		pthread_cond_signal(&ls->cv);
		pthread_mutex_unlock(&ls->mtx);
		pthread_join(ls->thread, NULL);
		pthread_cond_destroy(&ls->cv);
	}
	if (ls->w != NULL)
		for (int i = 0; i < ls->n; i++)
			free(ls->w[i].url);
	pthread_mutex_destroy(&ls->mtx);
	free(ls->w);
	free(ls);
}
