/* tlsconf.h: the server's one TLS configuration (--tls-cert, --tls-key, --tls-ca,
 * --tls-client-auth), shared by tls+tcp:// listeners and the https/wss --http listener. */
#ifndef CB_TLSCONF_H
#define CB_TLSCONF_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

typedef enum tls_client_auth {
	TLS_CLIENT_AUTH_NONE,     /* no --tls-ca: client certificates are not asked for */
	TLS_CLIENT_AUTH_OPTIONAL, /* a certificate given must verify; none is accepted */
	TLS_CLIENT_AUTH_REQUIRED, /* no connection without a certificate --tls-ca trusts */
} tls_client_auth;

typedef struct tlsconf_files {
	const char *cert, *key, *ca; /* PEM paths as given; NULL: not given */
	tls_client_auth client_auth;
} tlsconf_files;

/* "required" or "optional" (--tls-client-auth); -1 for anything else. */
int tlsconf_parse_auth(const char *text, tls_client_auth *out);

/* True when url's scheme is one of nng's TLS transports (tls+tcp*, wss*). */
bool tlsconf_url_is_tls(const char *url);

/*
 * Checks the flags together and loads the files: cert and key both or
 * neither; a key that others may read, or that anyone but its owner may
 * write, is refused as the token file is; --tls-client-auth needs --tls-ca.
 * *out is NULL when no certificate was given, else a server configuration
 * owned by the caller (nng_tls_config_free; listeners take their own
 * reference). 0, or -1 with why (cap bytes) filled.
 */
int tlsconf_open(const tlsconf_files *f, nng_tls_config **out, char *why, size_t cap);

#endif
