/* secure.h: cellbatchd's security settings at start — core dumps, the upstream URL rule, the
 * listening policy (policy.h) for every listener, the default socket's directory, the tokens —
 * and the hourly warning while a listener serves the network in clear text. */
#ifndef CB_SECURE_H
#define CB_SECURE_H

#include <uv.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "auth.h"
#include "options.h"

/*
 * Applies and checks everything above, before anything listens or calls
 * out. 0 with *tokens set (NULL without --auth-token-file; owned by the
 * caller: auth_free) and *tls (NULL without --tls-cert; owned by the
 * caller: nng_tls_config_free); -1 when the server must not start (said on
 * stderr).
 */
int secure_start(const config *c, auth_tokens **tokens, nng_tls_config **tls);

/* Warns once an hour, on the loop, while a --insecure-listen listener is served. */
void secure_watch(uv_loop_t *loop, const config *c);
/* Closes secure_watch's timer (the loop must run for its close). */
void secure_close(void);

#endif
