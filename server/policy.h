/* policy.h: who may reach the server and what it may reach — the listening policy, the upstream
 * URL rule, loopback hosts. Pure functions (no I/O), so that TLS can plug in and tests can ask. */
#ifndef CB_POLICY_H
#define CB_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* What a listener would be served with; the caller fills it from the flags. */
typedef struct policy_in {
	bool tls;          /* --tls-cert and --tls-key: tls+tcp://, wss:// and https:// have them */
	bool client_certs; /* --tls-client-auth required: no connection without a trusted cert */
	bool tokens;       /* --auth-token-file: every request but ping needs a token */
	bool insecure;     /* --insecure-listen */
	bool http;         /* the --http listener (/metrics, /stats.json: no token asked there) */
} policy_in;

typedef enum policy_verdict {
	POLICY_ALLOW,          /* local (ipc, loopback) or TLS with client authentication */
	POLICY_ALLOW_INSECURE, /* reachable from the network in plain text: warn at start, hourly */
	POLICY_REFUSE,         /* do not start; why says what to give */
} policy_verdict;

/*
 * The listening policy for one URL (ipc://, inproc://, abstract://, tcp://,
 * tls+tcp://, ws://, wss://, http://HOST:PORT): local transports and
 * loopback hosts are allowed; any other host (a name, a wildcard, an
 * empty host) needs a TLS scheme with a certificate and client
 * certificates or tokens, else --insecure-listen. The --http listener is
 * given as https://HOST:PORT when it has TLS, http:// when not. why (cap
 * bytes) says why on POLICY_REFUSE and POLICY_ALLOW_INSECURE.
 */
policy_verdict policy_listen(const char *url, const policy_in *in, char *why, size_t cap);

/* 127.0.0.0/8, ::1 (with or without brackets) or "localhost"; host is host[0..len). */
bool policy_host_loopback(const char *host, size_t len);

/*
 * The upstream URL rule: https://, or http:// to a loopback host (a mock);
 * 0, or -1 with why filled.
 */
int policy_upstream(const char *url, char *why, size_t cap);

#endif
