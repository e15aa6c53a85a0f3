/* tlsconf.c: builds the server's TLS configuration from PEM files, refusing a key others can read
 * (tlsconf.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "tlsconf.h"

#define PEM_MAX (1024 * 1024) /* a certificate chain is a few KB; more is not a PEM file */

int tlsconf_parse_auth(const char *text, tls_client_auth *out)
{
	if (strcmp(text, "required") == 0)
		*out = TLS_CLIENT_AUTH_REQUIRED;
	else if (strcmp(text, "optional") == 0)
		*out = TLS_CLIENT_AUTH_OPTIONAL;
	else
		return -1;
	return 0;
}

bool tlsconf_url_is_tls(const char *url)
{
	return strncasecmp(url, "tls+", 4) == 0 || strncasecmp(url, "wss", 3) == 0;
}

/* The whole file as a NUL-terminated string (nng wants PEM text); NULL with why filled. */
static char *read_pem(const char *flag, const char *path, char *why, size_t cap)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n;

	if (f == NULL) {
		snprintf(why, cap, "%s %s: %s", flag, path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(PEM_MAX + 1)) == NULL) {
		snprintf(why, cap, "out of memory");
		goto out;
	}
	n = fread(buf, 1, PEM_MAX + 1, f);
	if (n == 0 || n > PEM_MAX) {
		snprintf(why, cap, "%s %s: %s", flag, path, n == 0 ? "empty" : "too large");
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
out:
	fclose(f);
	return buf;
}

/* The private key's mode: as for --auth-token-file, a secret others can read is no secret. */
static int key_mode_ok(const char *path, char *why, size_t cap)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(why, cap, "--tls-key %s: %s", path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) == 0)
		return 0;
	snprintf(why, cap,
	         "--tls-key %s: refused: others may read it or others than its owner write it "
	         "(mode %03o): chmod 600 (or 640) it",
	         path, (unsigned)(st.st_mode & 0777));
	return -1;
}

/* The flags that only make sense together; -1 with why filled. */
static int combination_ok(const tlsconf_files *f, char *why, size_t cap)
{
	if ((f->cert == NULL) != (f->key == NULL)) {
		snprintf(why, cap, "--tls-cert and --tls-key go together: give both");
		return -1;
	}
	if (f->cert == NULL && (f->ca != NULL || f->client_auth != TLS_CLIENT_AUTH_NONE)) {
		snprintf(why, cap, "--tls-ca and --tls-client-auth need --tls-cert and --tls-key");
		return -1;
	}
	if (f->client_auth != TLS_CLIENT_AUTH_NONE && f->ca == NULL) {
		snprintf(why, cap,
		         "--tls-client-auth needs --tls-ca (the CA clients' certificates "
		         "are checked against)");
		return -1;
	}
	return 0;
}

/* Loads the certificate, the key and the client CA into cfg; nng's error, why filled. */
static int load(nng_tls_config *cfg, const tlsconf_files *f, char *why, size_t cap)
{
	char *cert = read_pem("--tls-cert", f->cert, why, cap), *key = NULL;
	int rv = NNG_EINVAL;

	if (cert == NULL || (key = read_pem("--tls-key", f->key, why, cap)) == NULL)
		goto out;
	if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		snprintf(why, cap,
		         "--tls-cert %s, --tls-key %s: %s (PEM, the key unencrypted and "
		         "matching the certificate)",
		         f->cert, f->key, nng_strerror(rv));
		goto out;
	}
	if (f->ca != NULL && (rv = nng_tls_config_ca_file(cfg, f->ca)) != 0) {
		snprintf(why, cap, "--tls-ca %s: %s", f->ca, nng_strerror(rv));
		goto out;
	}
	rv = nng_tls_config_auth_mode(
	    cfg, f->client_auth == TLS_CLIENT_AUTH_REQUIRED   ? NNG_TLS_AUTH_MODE_REQUIRED
	         : f->client_auth == TLS_CLIENT_AUTH_OPTIONAL ? NNG_TLS_AUTH_MODE_OPTIONAL
	                                                      : NNG_TLS_AUTH_MODE_NONE);
	if (rv != 0)
		snprintf(why, cap, "--tls-client-auth: %s", nng_strerror(rv));
out:
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	return rv;
}

int tlsconf_open(const tlsconf_files *f, nng_tls_config **out, char *why, size_t cap)
{
	nng_tls_config *cfg = NULL;
	int rv;

	*out = NULL;
	if (combination_ok(f, why, cap) != 0)
		return -1;
	if (f->cert == NULL)
		return 0;
	if (key_mode_ok(f->key, why, cap) != 0)
		return -1;
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0) {
		/* a libnng built without a TLS engine */
		snprintf(why, cap, "TLS is not available in this build of nng: %s",
		         nng_strerror(rv));
		return -1;
	}
	if (load(cfg, f, why, cap) != 0) {
		nng_tls_config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}
