/* policy.c: the listening policy and the upstream URL rule as pure functions (policy.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy.h"

bool policy_host_loopback(const char *host, size_t len)
{
	char h[64];
	struct in_addr a4;
	struct in6_addr a6;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(h))
		return false;
	memcpy(h, host, len);
	h[len] = '\0';
	return strcasecmp(h, "localhost") == 0 ||
	       (inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) ||
	       (inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6));
}

/* The host of scheme://[user@]host[:port][/path] as *host, *len; false without "://". */
static bool url_host(const char *url, const char **host, size_t *len)
{
	const char *p = strstr(url, "://"), *end, *at, *colon;

	if (p == NULL)
		return false;
	p += 3;
	end = p + strcspn(p, "/?#");
	/* userinfo ends at the last '@' of the authority: http://localhost@evil is evil */
	for (at = end; at > p && at[-1] != '@'; at--)
		;
	p = at;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb == NULL)
			return false;
		*host = p;
		*len = (size_t)(rb + 1 - p);
		return true;
	}
	colon = memchr(p, ':', (size_t)(end - p));
	*host = p;
	*len = (size_t)((colon != NULL ? colon : end) - p);
	return true;
}

static bool scheme_is(const char *url, const char *const *names)
{
	for (; *names != NULL; names++) {
		size_t n = strlen(*names);
		if (strncasecmp(url, *names, n) == 0 && strncmp(url + n, "://", 3) == 0)
			return true;
	}
	return false;
}

static const char *const local_schemes[] = {"ipc", "inproc", "abstract", NULL};
static const char *const tls_schemes[] = {"tls+tcp", "tls+tcp4", "tls+tcp6", "wss",
                                          "wss4",    "wss6",     "https",    NULL};

policy_verdict policy_listen(const char *url, const policy_in *in, char *why, size_t cap)
{
	const char *host;
	size_t hl;

	if (scheme_is(url, local_schemes))
		return POLICY_ALLOW;
	if (url_host(url, &host, &hl) && policy_host_loopback(host, hl))
		return POLICY_ALLOW;
	/* reachable from other machines: TLS with client authentication, or said out loud */
	if (scheme_is(url, tls_schemes) && in->tls && (in->client_certs || in->tokens))
		return POLICY_ALLOW;
	if (in->insecure) {
		snprintf(
		    why, cap,
		    "serving a non-loopback address without TLS (--insecure-listen): requests, "
		    "tokens and answers cross the network in clear text%s",
		    in->tokens ? ""
		               : ", and without --auth-token-file anyone who reaches it "
		                 "spends the API key's credits");
		return POLICY_ALLOW_INSECURE;
	}
	snprintf(
	    why, cap,
	    "refused: a non-loopback address needs TLS (--tls-cert and --tls-key; tls+tcp://%s) "
	    "and client authentication (--tls-ca with --tls-client-auth required, or "
	    "--auth-token-file); to serve it in clear text anyway give --insecure-listen, "
	    "with --auth-token-file so that strangers cannot spend the credits",
	    in->http ? " or --http" : "");
	return POLICY_REFUSE;
}

int policy_upstream(const char *url, char *why, size_t cap)
{
	const char *host;
	size_t hl;

	if (strncasecmp(url, "https://", 8) == 0 && url_host(url, &host, &hl) && hl > 0)
		return 0;
	if (strncasecmp(url, "http://", 7) == 0 && url_host(url, &host, &hl) &&
	    policy_host_loopback(host, hl))
		return 0;
	snprintf(why, cap,
	         "refused: the upstream must be https://HOST, or http:// to a loopback host "
	         "(127.0.0.0/8, ::1, localhost: a mock); the API key would travel elsewhere");
	return -1;
}
