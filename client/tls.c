/* tls.c: libcellbatch's TLS client configuration for tls+tcp:// and wss:// URLs (client_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "client_int.h"

#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt" /* Debian's bundle (ca-certificates) */
#define PEM_MAX   (1024 * 1024)

/* An option, else the environment variable; NULL for unset or "". */
static const char *pick(const char *opt, const char *env)
{
	const char *v = opt != NULL ? opt : getenv(env);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* A whole PEM file as a NUL-terminated string (nng wants text); NULL when unreadable. */
static char *read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(PEM_MAX + 1)) != NULL) {
		n = fread(buf, 1, PEM_MAX + 1, f);
		if (n == 0 || n > PEM_MAX) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* This client's certificate and key; the key's copy is wiped. nng's error. */
static int own_cert(nng_tls_config *cfg, const char *cert_path, const char *key_path)
{
	char *cert = read_pem(cert_path), *key = read_pem(key_path);
	int rv = cert == NULL || key == NULL ? NNG_EINVAL
	                                     : nng_tls_config_own_cert(cfg, cert, key, NULL);

	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	return rv;
}

/* The CA, the server name and the client's certificate; nng's error. */
static int configure(nng_tls_config *cfg, const char *url, const cb_client_options *opts)
{
	const char *ca = pick(opts ? opts->tls_ca : NULL, "CELLBATCH_TLS_CA");
	const char *cert = pick(opts ? opts->tls_cert : NULL, "CELLBATCH_TLS_CERT");
	const char *key = pick(opts ? opts->tls_key : NULL, "CELLBATCH_TLS_KEY");
	nng_url *u = NULL;
	int rv;

	if (ca == NULL && access(SYSTEM_CA, R_OK) == 0)
		ca = SYSTEM_CA;
	if ((cert == NULL) != (key == NULL))
		return NNG_EINVAL; /* half a client identity is a mistake, not "none" */
	if ((rv = nng_url_parse(&u, url)) != 0)
		return rv;
	/* the certificate must name the host dialled: no silent trust of any valid cert */
	if ((rv = nng_tls_config_server_name(cfg, u->u_hostname)) == 0 &&
	    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) == 0 && ca != NULL)
		rv = nng_tls_config_ca_file(cfg, ca);
	nng_url_free(u);
	if (rv == 0 && cert != NULL)
		rv = own_cert(cfg, cert, key);
	return rv;
}

cb_err client_tls(const char *url, const cb_client_options *opts, nng_tls_config **out)
{
	nng_tls_config *cfg;
	int rv;

	*out = NULL;
	if (strncasecmp(url, "tls+", 4) != 0 && strncasecmp(url, "wss", 3) != 0)
		return CB_OK;
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		return rv == NNG_ENOMEM ? CB_ENOMEM : CB_EINVAL;
	if ((rv = configure(cfg, url, opts)) != 0) {
		nng_tls_config_free(cfg);
		return rv == NNG_ENOMEM ? CB_ENOMEM : CB_EINVAL;
	}
	*out = cfg;
	return CB_OK;
}

int client_dial_once(nng_socket sock, const char *url, nng_tls_config *tls, int flags)
{
	nng_dialer d;
	int rv;

	if (tls == NULL)
		return nng_dial(sock, url, NULL, flags);
	if ((rv = nng_dialer_create(&d, sock, url)) != 0)
		return rv;
	if ((rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls)) != 0 ||
	    (rv = nng_dialer_start(d, flags)) != 0)
		nng_dialer_close(d);
	return rv;
}
