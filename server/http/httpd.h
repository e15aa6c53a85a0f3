/* httpd.h: cellbatchd's HTTP listener (--http HOST:PORT) on nng's HTTP server — the dashboard
 * at /, /metrics, /healthz, /readyz and /stats.json for operators and Prometheus; the Excel
 * add-in at /excel/. */
#ifndef CB_HTTPD_H
#define CB_HTTPD_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <uv.h>

#include "report.h"

typedef struct httpd httpd;

/*
 * Threads: nng runs each request's handler on one of its own threads. The
 * handler touches nothing of the server's: it queues the request (its
 * nng_aio) under a mutex and wakes the loop with uv_async_send. The loop
 * thread drains the queue, reads the modules' counters as the stats op does
 * (one consistent moment), renders the page, and finishes the aio; nng then
 * writes the response. /healthz goes through the loop too, so that a wedged
 * loop shows as an unanswered health check. The dashboard page (/ and
 * /index.html) is static bytes and answered on nng's thread; it reads the
 * server through /stats.json and /readyz.
 */

/*
 * Listens on addr ("127.0.0.1:9100", "[::1]:9100", "localhost:9100"; the
 * caller checked it against the listening policy) and serves from src, which
 * is borrowed and must stay valid until httpd_close. With tls (NULL: plain
 * http) it serves https, on the server the wss:// listener already started
 * with the same configuration (nng holds its own reference). Also the Excel
 * add-in at /excel/ (excel.h), its manifest pointing at public_url
 * (--public-url, the address clients reach the server at behind a proxy) or,
 * when NULL, at http(s)://addr. Loop thread. 0, or -1 (logged) when the
 * address cannot be served (in use, say).
 */
int httpd_open(httpd **out, uv_loop_t *loop, const char *addr, nng_tls_config *tls,
               const char *public_url, const report_src *src);

/*
 * Stops serving: requests still queued are answered 503, the nng server is
 * released (which waits for its connections), and the async handle closed
 * (the loop must run for its close callback, which frees h). Loop thread;
 * NULL does nothing.
 */
void httpd_close(httpd *h);

#endif
