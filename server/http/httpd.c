/* httpd.c: the --http listener — nng's HTTP server; each request handed from nng's thread to the
 * loop, which renders /metrics, /healthz, /readyz or /stats.json and finishes it; / is static. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "clock.h"
#include "dashboard.h"
#include "excel.h"
#include "fleetjson.h"
#include "httpd.h"
#include "list.h"
#include "log.h"
#include "metrics.h"
#include "mpjson.h"
#include "ready.h"

/* Routes before R_PAGE are rendered by the loop; the page is static, answered on nng's thread. */
typedef enum route {
	R_METRICS,
	R_HEALTHZ,
	R_READYZ,
	R_STATS,
	R_FLEET,
	R_PAGE,
	R_INDEX,
	R_COUNT
} route;

static const char *const route_paths[R_COUNT] = {
    "/metrics", "/healthz", "/readyz", "/stats.json", "/fleet.json", "/", "/index.html"};

/* The dashboard's headers: it loads nothing from elsewhere, is never framed nor sniffed. */
static const char *const page_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options",
    "nosniff",
    "Referrer-Policy",
    "no-referrer",
    NULL};

/* One request waiting for the loop. */
typedef struct pending {
	list_node link; /* in gate.queue */
	nng_aio *aio;   /* nng's; finished exactly once, by the loop or by httpd_close */
	route r;
} pending;

/*
 * What handlers touch. Static, not in the httpd: nng reaps connections on its
 * own threads, so a handler may still run after nng_http_server_release
 * returned; it then finds closing set and answers by itself.
 */
static struct {
	pthread_mutex_t mu;
	bool closing;     /* no httpd, or one closing: handlers answer 503 */
	list_node queue;  /* of pending */
	uv_async_t *wake; /* the open httpd's; sent only under mu while !closing */
} gate = {PTHREAD_MUTEX_INITIALIZER, true, {&gate.queue, &gate.queue}, NULL};

struct httpd {
	const report_src *src; /* borrowed */
	nng_http_server *srv;
	uv_async_t async;
};

/* Finishes aio with a response and headers (name, value, …, NULL; or NULL); any thread. */
static void respond_with(nng_aio *aio, uint16_t status, const char *ctype,
                         const char *const *headers, const void *body, size_t len)
{
	nng_http_res *res = NULL;
	int rv;

	if ((rv = nng_http_res_alloc(&res)) != 0 ||
	    (rv = nng_http_res_set_status(res, status)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type", ctype)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Cache-Control", "no-store")) != 0)
		goto fail;
	for (; headers != NULL && headers[0] != NULL; headers += 2)
		if ((rv = nng_http_res_set_header(res, headers[0], headers[1])) != 0)
			goto fail;
	if ((rv = nng_http_res_copy_data(res, body, len)) != 0) {
	fail:
		if (res != NULL)
			nng_http_res_free(res);
		nng_aio_finish(aio, rv); /* nng closes the connection */
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void respond(nng_aio *aio, uint16_t status, const char *ctype, const void *body, size_t len)
{
	respond_with(aio, status, ctype, NULL, body, len);
}

static void respond_text(nng_aio *aio, uint16_t status, const char *line)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "%s\n", line);

	respond(aio, status, "text/plain; charset=utf-8", body,
	        n < (int)sizeof(body) ? (size_t)n : sizeof(body) - 1);
}

/* nng's thread: queue the request for the loop, or answer 503 when there is no loop to ask. */
static void handler_cb(nng_aio *aio)
{
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	route r = (route)(uintptr_t)nng_http_handler_get_data(hd);
	pending *p;

	if (r >= R_PAGE) { /* static: needs nothing of the loop's */
		respond_with(aio, 200, "text/html; charset=utf-8", page_headers, dashboard_html,
		             dashboard_html_len);
		return;
	}
	if ((p = malloc(sizeof(*p))) == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	p->aio = aio;
	p->r = r;
	pthread_mutex_lock(&gate.mu);
	if (!gate.closing) {
		list_push_back(&gate.queue, &p->link);
		uv_async_send(gate.wake);
		p = NULL;
	}
	pthread_mutex_unlock(&gate.mu);
	if (p != NULL) {
		free(p);
		respond_text(aio, 503, "shutting down");
	}
}

static void serve_metrics(httpd *h, nng_aio *aio)
{
	uint64_t t0 = now_ns();
	prom_buf b;

	prom_init(&b);
	metrics_render(h->src, &b);
	if (b.oom)
		respond_text(aio, 500, "out of memory");
	else
		respond(aio, 200, PROM_CONTENT_TYPE, b.p, b.len);
	log_debug("/metrics: %zu bytes rendered in %.3f ms", b.len, (double)(now_ns() - t0) / 1e6);
	prom_free(&b);
}

/* The stats op's map, packed by the same function, as JSON text (malloc'd), or NULL. */
static char *stats_json(const report_src *src, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	size_t off = 0;
	json_t *j = NULL;
	char *out = NULL;

	msgpack_sbuffer_init(&sb);
	msgpack_unpacked_init(&up);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (report_pack((void *)src, &pk) != 0 ||
	    msgpack_unpack_next(&up, sb.data, sb.size, &off) != MSGPACK_UNPACK_SUCCESS ||
	    (j = mpjson_from(&up.data)) == NULL)
		goto out;
	*len = json_dumpb(j, NULL, 0, JSON_COMPACT);
	if (*len == 0 || (out = malloc(*len)) == NULL)
		goto out;
	json_dumpb(j, out, *len, JSON_COMPACT);
out:
	json_decref(j);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return out;
}

/* Loop thread: answers one queued request. */
static void serve(httpd *h, const pending *p)
{
	char line[256];
	size_t len = 0;
	char *body;
	int status;

	switch (p->r) {
	case R_METRICS:
		serve_metrics(h, p->aio);
		break;
	case R_HEALTHZ:
		respond_text(p->aio, 200, "ok");
		break;
	case R_READYZ:
		status = ready_check(h->src, now_ns(), line, sizeof(line));
		respond_text(p->aio, (uint16_t)status, line);
		break;
	default:
		body = p->r == R_FLEET ? fleetjson_render(h->src, &len) : stats_json(h->src, &len);
		if (body == NULL) {
			respond_text(p->aio, 500, "out of memory");
			break;
		}
		respond(p->aio, 200, "application/json", body, len);
		free(body);
		break;
	}
}

/* Loop thread: every request queued so far (wake-ups coalesce). */
static void async_cb(uv_async_t *a)
{
	httpd *h = a->data;
	list_node *n;

	for (;;) {
		pthread_mutex_lock(&gate.mu);
		n = list_pop_front(&gate.queue);
		pthread_mutex_unlock(&gate.mu);
		if (n == NULL)
			return;
		serve(h, list_entry(n, pending, link));
		free(list_entry(n, pending, link));
	}
}

/* One handler per path; nng answers 404 for any other, 405 for a method but GET. */
static int add_routes(httpd *h)
{
	for (unsigned i = 0; i < R_COUNT; i++) {
		nng_http_handler *hd;
		int rv;
		if ((rv = nng_http_handler_alloc(&hd, route_paths[i], handler_cb)) != 0)
			return rv;
		if ((rv = nng_http_handler_set_data(hd, (void *)(uintptr_t)i, NULL)) != 0 ||
		    (rv = nng_http_server_add_handler(h->srv, hd)) != 0) {
			nng_http_handler_free(hd);
			return rv;
		}
	}
	return 0;
}

static void closed_cb(uv_handle_t *hd)
{
	free(hd->data);
}

/* The Excel add-in's routes, its manifest pointing at public_url (or scheme://addr) + /excel. */
static int add_excel(httpd *h, const char *addr, const char *scheme, const char *public_url)
{
	char base[600];
	size_t n;

	if (public_url != NULL)
		snprintf(base, sizeof(base), "%s", public_url);
	else
		snprintf(base, sizeof(base), "%s://%s", scheme, addr);
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	snprintf(base + n, sizeof(base) - n, "%s", EXCEL_PATH);
	return excel_add_routes(h->srv, base);
}

int httpd_open(httpd **out, uv_loop_t *loop, const char *addr, nng_tls_config *tls,
               const char *public_url, const report_src *src)
{
	char text[600];
	nng_url *url = NULL;
	httpd *h = calloc(1, sizeof(*h));
	int rv = NNG_ENOMEM;

	if (h == NULL)
		goto out;
	h->src = src;
	snprintf(text, sizeof(text), "%s://%s", tls != NULL ? "https" : "http", addr);
	if ((rv = nng_url_parse(&url, text)) != 0 || (rv = nng_http_server_hold(&h->srv, url)) != 0)
		goto out;
	/* the wss listener set it before it started the server; said again for an order change */
	if (tls != NULL && (rv = nng_http_server_set_tls(h->srv, tls)) != 0)
		goto out;
	if ((rv = add_routes(h)) != 0 ||
	    (rv = add_excel(h, addr, tls != NULL ? "https" : "http", public_url)) != 0 ||
	    (rv = nng_http_server_start(h->srv)) != 0)
		goto out;
	if ((rv = uv_async_init(loop, &h->async, async_cb)) != 0) {
		log_error("--http %s: %s", addr, uv_strerror(rv));
		rv = -1;
		goto out;
	}
	h->async.data = h;
	pthread_mutex_lock(&gate.mu);
	gate.wake = &h->async;
	gate.closing = false;
	pthread_mutex_unlock(&gate.mu);
	log_info("serving the dashboard at /, /metrics, /healthz, /readyz, /stats.json and "
	         "/fleet.json on %s",
	         text);
	*out = h;
	h = NULL;
	rv = 0;
out:
	if (url != NULL)
		nng_url_free(url);
	if (h != NULL) {
		if (rv > 0)
			log_error("--http %s: %s", addr, nng_strerror(rv));
		if (h->srv != NULL)
			nng_http_server_release(h->srv);
		free(h);
	}
	return rv == 0 ? 0 : -1;
}

void httpd_close(httpd *h)
{
	list_node *n;

	if (h == NULL)
		return;
	pthread_mutex_lock(&gate.mu);
	gate.closing = true;
	gate.wake = NULL;
	pthread_mutex_unlock(&gate.mu);
	/* nng waits for every handler's aio before it lets a connection go: finish them all */
	for (;;) {
		pthread_mutex_lock(&gate.mu);
		n = list_pop_front(&gate.queue);
		pthread_mutex_unlock(&gate.mu);
		if (n == NULL)
			break;
		respond_text(list_entry(n, pending, link)->aio, 503, "shutting down");
		free(list_entry(n, pending, link));
	}
	nng_http_server_stop(h->srv);
	nng_http_server_release(h->srv);
	uv_close((uv_handle_t *)&h->async, closed_cb);
}
