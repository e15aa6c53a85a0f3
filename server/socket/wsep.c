/* wsep.c: the WebSocket endpoint — its listener, its Origin allow-list, and the pipe-notify gate
 * that closes a browser connection from any other page before it can send a request. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "wsep.h"

#define MAX_ORIGINS  64
#define LOG_EVERY_MS 10000 /* a page retrying in a loop must not flood the log */

struct wsep_origins {
	int n;
	char *list[MAX_ORIGINS];
	bool fleet_ok; /* the default list: the fleet's pages may join it */
	pthread_mutex_t mu;
	size_t nfleet; /* under mu */
	char **fleet;  /* under mu: the origins of the fleet's public URLs */
};

static uint64_t refused_total;   /* __atomic; for the log line only (stats count in conn.c) */
static int64_t last_log_ms = -1; /* __atomic */

bool wsep_origin_valid(const char *text)
{
	const char *p = text, *host;

	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (strncmp(p, "://", 3) != 0)
		return false;
	host = p += 3;
	/* a host, a bracketed IPv6 literal, then an optional port: nothing else (no path) */
	if (*p == '[') {
		while (*p != '\0' && *p != ']')
			p++;
		if (*p++ != ']')
			return false;
	} else {
		while (*p != '\0' && *p != ':' &&
		       (isalnum((unsigned char)*p) || strchr("-._~", *p)))
			p++;
	}
	if (p == host)
		return false;
	if (*p == ':') {
		const char *digits = ++p;
		while (isdigit((unsigned char)*p))
			p++;
		if (p == digits || p - digits > 5)
			return false;
	}
	return *p == '\0';
}

static bool add(wsep_origins *w, const char *fmt, const char *host, const char *port)
{
	char buf[600];

	if (w->n == MAX_ORIGINS)
		return true; /* options.c allows no more than this */
	snprintf(buf, sizeof(buf), fmt, host, port);
	return (w->list[w->n++] = strdup(buf)) != NULL;
}

/* The server's own origin, and its other loopback spellings: a page it served may say either. */
static bool add_defaults(wsep_origins *w, const char *http_addr, bool tls)
{
	const char *colon = strrchr(http_addr, ':');
	const char *fmt = tls ? "https://%s:%s" : "http://%s:%s";
	char host[300];

	if (colon == NULL || (size_t)(colon - http_addr) >= sizeof(host))
		return true; /* no --http: no WebSocket endpoint either */
	memcpy(host, http_addr, (size_t)(colon - http_addr));
	host[colon - http_addr] = '\0';
	if (!add(w, fmt, host, colon + 1))
		return false;
	if (strcasecmp(host, "localhost") == 0)
		return add(w, fmt, "127.0.0.1", colon + 1) && add(w, fmt, "[::1]", colon + 1);
	if (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0)
		return add(w, fmt, "localhost", colon + 1);
	return true;
}

bool wsep_origin_of(const char *url, char *buf, size_t cap)
{
	const char *host = url != NULL ? strstr(url, "://") : NULL;
	int n;

	if (host == NULL)
		return false;
	n = snprintf(buf, cap, "%.*s", (int)(host + 3 - url + strcspn(host + 3, "/")), url);
	return n > 0 && (size_t)n < cap && wsep_origin_valid(buf);
}

wsep_origins *wsep_origins_new(const char *http_addr, bool tls, const char *public_url,
                               const char *const *origins, int n)
{
	wsep_origins *w = calloc(1, sizeof(*w));
	bool ok = w != NULL;
	char origin[512];

	if (ok)
		pthread_mutex_init(&w->mu, NULL);
	for (int i = 0; ok && i < n; i++)
		ok = add(w, "%s%s", origins[i], "");
	if (ok && n == 0 && http_addr != NULL)
		ok = add_defaults(w, http_addr, tls);
	if (ok && n == 0 && wsep_origin_of(public_url, origin, sizeof(origin)))
		ok = add(w, "%s%s", origin, "");
	if (!ok) {
		wsep_origins_free(w);
		return NULL;
	}
	w->fleet_ok = n == 0;
	return w;
}

static bool listed(char *const *list, size_t n, const char *origin)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], origin) == 0)
			return true;
	return false;
}

/* Each origin of a (na) not in b (nb), logged with what: instances come and go, rarely. */
static void log_changes(char *const *a, size_t na, char *const *b, size_t nb, const char *what)
{
	for (size_t i = 0; i < na; i++)
		if (!listed(b, nb, a[i]))
			log_info("WebSocket: pages from %s %s", a[i], what);
}

static void fleet_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void wsep_origins_free(wsep_origins *w)
{
	if (w == NULL)
		return;
	for (int i = 0; i < w->n; i++)
		free(w->list[i]);
	fleet_free(w->fleet, w->nfleet);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

int wsep_origins_set_fleet(wsep_origins *w, const char *const *urls, size_t n)
{
	char **list = calloc(n + 1, sizeof(*list)), **old;
	char origin[512];
	size_t k = 0, nold;

	if (!w->fleet_ok) {
		free(list);
		return 0;
	}
	if (list == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (wsep_origin_of(urls[i], origin, sizeof(origin)) && !listed(list, k, origin) &&
		    (list[k] = strdup(origin)) != NULL)
			k++;
	pthread_mutex_lock(&w->mu);
	old = w->fleet;
	nold = w->nfleet;
	w->fleet = list;
	w->nfleet = k;
	pthread_mutex_unlock(&w->mu);
	/* only this thread writes the list: reading it here needs no lock */
	log_changes(list, k, old, nold, "let in: a public URL of the fleet (--redis)");
	log_changes(old, nold, list, k, "no longer let in: the fleet reports it no more");
	fleet_free(old, nold);
	return 0;
}

int wsep_listen(nng_socket sock, const char *http_addr, size_t max_recv, nng_tls_config *tls)
{
	nng_listener l;
	char url[600];
	int rv;

	snprintf(url, sizeof(url), "%s://%s%s", tls != NULL ? "wss" : "ws", http_addr, WSEP_PATH);
	/* one frame may carry a whole message: browsers do not fragment what they send */
	if ((rv = nng_listener_create(&l, sock, url)) == 0 &&
	    ((rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, max_recv)) != 0 ||
	     (rv = nng_listener_set_size(l, NNG_OPT_WS_RECVMAXFRAME, max_recv)) != 0 ||
	     (tls != NULL && (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tls)) != 0) ||
	     (rv = nng_listener_start(l, 0)) != 0))
		nng_listener_close(l);
	if (rv != 0)
		log_error("cannot listen on %s: %s", url, nng_strerror(rv));
	else
		log_info("listening on %s", url);
	return rv;
}

bool wsep_allowed(const wsep_origins *w, const char *origin)
{
	bool ok = false;

	if (origin == NULL)
		return true;
	for (int i = 0; i < w->n; i++)
		if (strcasecmp(w->list[i], origin) == 0)
			return true;
	/* the lock guards the fleet's part, not the list's value: taken through a const list */
	pthread_mutex_lock((pthread_mutex_t *)&w->mu);
	for (size_t i = 0; !ok && i < w->nfleet; i++)
		ok = strcasecmp(w->fleet[i], origin) == 0;
	pthread_mutex_unlock((pthread_mutex_t *)&w->mu);
	return ok;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs a refusal, the first and then at most one every LOG_EVERY_MS; the origin is the peer's. */
static void log_refused(nng_pipe p, const char *origin)
{
	uint64_t total = __atomic_add_fetch(&refused_total, 1, __ATOMIC_RELAXED);
	int64_t now = mono_ms(), last = __atomic_load_n(&last_log_ms, __ATOMIC_RELAXED);
	char shown[101];
	size_t i;

	if ((last >= 0 && now - last < LOG_EVERY_MS) ||
	    !__atomic_compare_exchange_n(&last_log_ms, &last, now, false, __ATOMIC_RELAXED,
	                                 __ATOMIC_RELAXED))
		return;
	for (i = 0; origin != NULL && origin[i] != '\0' && i < sizeof(shown) - 1; i++)
		shown[i] = isprint((unsigned char)origin[i]) ? origin[i] : '?';
	shown[i] = '\0';
	log_warn("refused WebSocket connection %u: Origin '%s' is not allowed (--ws-origin); "
	         "%llu refused so far, logged at most every %d s",
	         (unsigned)nng_pipe_id(p), origin != NULL ? shown : "(unreadable)",
	         (unsigned long long)total, LOG_EVERY_MS / 1000);
}

/* Whether p came through a ws:// or wss:// listener. */
static bool is_ws(nng_pipe p)
{
	nng_listener l = nng_pipe_listener(p);
	char *url = NULL;
	bool ws;

	if (nng_listener_id(l) < 0 || nng_listener_get_string(l, NNG_OPT_URL, &url) != 0)
		return false; /* dialled by us, or an ipc/tcp listener closing */
	ws = strncmp(url, "ws://", 5) == 0 || strncmp(url, "wss://", 6) == 0;
	nng_strfree(url);
	return ws;
}

bool wsep_gate(void *arg, nng_pipe p)
{
	char *origin = NULL;
	bool ok;
	int rv;

	if (!is_ws(p))
		return true;
	rv = nng_pipe_get_string(p, NNG_OPT_WS_REQUEST_HEADER "Origin", &origin);
	/* no header: not a browser; unreadable for any other reason: refuse (fail closed) */
	if (rv == NNG_ENOENT)
		return true;
	ok = rv == 0 && wsep_allowed(arg, origin);
	if (!ok)
		log_refused(p, rv == 0 ? origin : NULL);
	nng_strfree(origin);
	return ok;
}
