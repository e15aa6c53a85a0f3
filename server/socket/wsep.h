/* wsep.h: the WebSocket endpoint (ws://HOST:PORT/cellbatch on --http) and its Origin allow-list
 * (--ws-origin), checked on each connection because nng never checks Origin (cross-site hijacking).
 */
#ifndef CB_WSEP_H
#define CB_WSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

/* The path of the WebSocket endpoint on the --http listener (a contract: PROTOCOL.md). */
#define WSEP_PATH "/cellbatch"

typedef struct wsep_origins wsep_origins;

/* True when text is an origin as browsers send it: scheme "://" host [":" port], nothing after. */
bool wsep_origin_valid(const char *text);

/*
 * The allow-list: origins[0..n) as given (compared without regard to case),
 * or when n is 0 the server's own origin, "http://" + http_addr (the --http
 * HOST:PORT; "https://" when tls), also spelt with "localhost" for
 * 127.0.0.1 and the other way round, and the origin of public_url
 * (--public-url, NULL: none), where the pages it serves (the Excel add-in)
 * are loaded from behind a proxy. NULL when out of memory. Freed with
 * wsep_origins_free.
 */
wsep_origins *wsep_origins_new(const char *http_addr, bool tls, const char *public_url,
                               const char *const *origins, int n);
void wsep_origins_free(wsep_origins *w);

/* The origin of url (scheme://host[:port], the path left off) into buf; false: none fits. */
bool wsep_origin_of(const char *url, char *buf, size_t cap);

/*
 * --redis: the origins of the fleet's public URLs (urls[0..n), each
 * --public-url as another instance reported it; copied) join the list in
 * place of the last ones: the Excel add-in served by one instance dials every
 * other (docs/fleet.md, "Excel"). Only for the default list: with
 * --ws-origin the operator's list is the whole of it, and this does nothing.
 * Changes are logged. One thread (the loop's) sets them while wsep_allowed
 * reads them on nng's. 0, or -1 when out of memory (the last ones stay).
 */
int wsep_origins_set_fleet(wsep_origins *w, const char *const *urls, size_t n);

/*
 * Listens on ws://HOST:PORT/cellbatch for the --http HOST:PORT with sock,
 * sharing nng's HTTP server for that address with httpd.c, which holds it
 * after this started it (the order measured on 1.5.2, docs/nng.md). With tls
 * it is wss:// and the shared server speaks https: nng keys its HTTP servers
 * by host and port, and the ws listener's TLS configuration is the server's
 * (it holds a reference). Messages over max_recv close the connection, as on
 * other transports. 0, or an nng error (logged).
 */
int wsep_listen(nng_socket sock, const char *http_addr, size_t max_recv, nng_tls_config *tls);

/*
 * Whether a connection's Origin header may be served. origin NULL: the
 * client sent none; allowed, since every browser sends one and a client
 * that is not a browser cannot be driven by a hostile page.
 */
bool wsep_allowed(const wsep_origins *w, const char *origin);

/*
 * nng's pipe-notify gate (conntab_set_gate), on nng's thread at
 * NNG_PIPE_EV_ADD_PRE: true for a connection that is not a WebSocket, or
 * whose Origin is allowed; false (logged, at most once every 10 s) for one to
 * be closed before it can deliver a request. arg is the wsep_origins.
 */
bool wsep_gate(void *arg, nng_pipe p);

#endif
