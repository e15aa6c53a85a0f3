/* dialall.c: libcellbatch's servers — CELLBATCH_URL (or the url given) may name several,
 * separated by commas; all are dialled on the client's one REQ socket, over which nng spreads
 * the calls among those connected, and a call whose server went away is resent (same id) to
 * another by client.c's pend_error. */
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "client_int.h"

/*
 * A blocking dial, so that "nothing listens there" is an answer at once. A
 * connection reset during the handshake is a server busy re-creating a
 * listener that nng 1.5.2 wedged (docs/nng.md): dial again until timeout_ms.
 * Not over TLS: those listeners are never re-created, and a failed handshake
 * (a certificate refused either way) will not change by retrying.
 */
static int dial(nng_socket sock, const char *url, nng_tls_config *tls, unsigned timeout_ms)
{
	nng_time deadline = nng_clock() + timeout_ms;
	int rv;

	for (;;) {
		rv = client_dial_once(sock, url, tls, 0);
		if (rv == 0 || rv == NNG_ECONNREFUSED || rv == NNG_ENOENT || rv == NNG_EADDRINVAL ||
		    rv == NNG_EINVAL || rv == NNG_ENOTSUP || rv == NNG_ENOMEM || tls != NULL ||
		    nng_clock() + 50 >= deadline)
			return rv;
		nng_msleep(50);
	}
}

/* The k-th URL of the list (normalized into buf), or NULL past the last; *next moves on. */
static const char *url_next(const char **next, char *buf, size_t cap)
{
	const char *s = *next, *comma;
	char one[1024];
	size_t n;

	if (s == NULL)
		return NULL;
	comma = strchr(s, ',');
	n = comma ? (size_t)(comma - s) : strlen(s);
	*next = comma ? comma + 1 : NULL;
	if (n >= sizeof(one))
		n = sizeof(one) - 1;
	memcpy(one, s, n);
	one[n] = '\0';
	return cbp_url_normalize(one, buf, cap);
}

const char *client_default_urls(char *buf, size_t cap)
{
	const char *env = getenv("CELLBATCH_URL");

	/* several: each is normalized when it is dialled (a shorthand such as 5555 among them) */
	return env != NULL && strchr(env, ',') != NULL ? env : cbp_default_url(buf, cap);
}

int client_urls_check(const char *urls)
{
	char buf[1024], why[256];
	const char *u;

	while ((u = url_next(&urls, buf, sizeof(buf))) != NULL)
		if (u[0] == '\0' || cbp_rundir_check(u, 0, why, sizeof(why)) != 0)
			return -1;
	return 0;
}

cb_err client_dial_all(nng_socket sock, const char *urls, const cb_client_options *opts,
                       unsigned timeout_ms)
{
	char buf[1024];
	const char *u;
	int rv = NNG_EINVAL, live = 0;
	bool several = strchr(urls, ',') != NULL;
	nng_tls_config *tls;
	cb_err err;

	while ((u = url_next(&urls, buf, sizeof(buf))) != NULL) {
		/* one TLS configuration per server: each certificate must name its own host */
		if ((err = client_tls(u, opts, &tls)) != CB_OK)
			return err;
		if ((rv = dial(sock, u, tls, timeout_ms)) == 0) {
			live++;
		} else if (several && (rv == NNG_ECONNREFUSED || rv == NNG_ENOENT)) {
			/* one of several is down: nng keeps dialling it, and it joins when it is
			 * back */
			client_dial_once(sock, u, tls, NNG_FLAG_NONBLOCK);
		}
		if (tls != NULL)
			nng_tls_config_free(tls); /* a dialer holds its own */
	}
	if (live > 0)
		return CB_OK;
	return rv == NNG_ENOMEM ? CB_ENOMEM : CB_EUNREACHABLE;
}
