/* http.c: HTTP requests through one curl multi handle driven by the libuv loop (curl's multi-uv
 * pattern). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "list.h"
#include "log.h"

#define BODY_MAX (64u << 20) /* a 1000-item result array is a few MiB at most */

struct http_req {
	http *h;
	CURL *easy;
	struct curl_slist *headers;
	http_done_cb cb;
	void (*sending)(void *arg);
	void *arg;
	char *body;
	size_t len, cap;
	bool too_big;
	long retry_after_s;
	char errbuf[CURL_ERROR_SIZE];
	const char *secret; /* the API key: never handed on in a body (borrowed) */
	list_node link;     /* in http.reqs */
};

struct http {
	CURLM *multi;
	uv_loop_t *loop;
	uv_timer_t timer;
	list_node reqs; /* of http_req: every request started and not freed */
	bool closing;
};

typedef struct sock_ctx {
	uv_poll_t poll;
	curl_socket_t fd;
	http *h;
} sock_ctx;

static void req_free(http_req *r)
{
	http *h = r->h;

	list_remove(&r->link);
	curl_multi_remove_handle(h->multi, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r);
}

/*
 * Replaces every occurrence of secret in body[0..len) (NUL-terminated) with
 * "***", in place; returns the new length. An upstream that echoes the key
 * (a 401 quoting the request) must not put it in a reply or a log.
 */
static size_t redact(char *body, size_t len, const char *secret)
{
	size_t sl = strlen(secret);
	char *p = body, *w = body, *end = body + len, *hit;

	if (sl < 3)
		return len; /* no real key is this short, and "***" would not fit */
	while ((hit = memmem(p, (size_t)(end - p), secret, sl)) != NULL) {
		memmove(w, p, (size_t)(hit - p));
		w += hit - p;
		memcpy(w, "***", 3);
		w += 3;
		p = hit + sl;
	}
	memmove(w, p, (size_t)(end - p));
	w += end - p;
	*w = '\0';
	return (size_t)(w - body);
}

/* Reads every finished transfer; called after each socket action, the timer's included. */
static void check_done(http *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		http_req *r;
		http_resp resp = {.retry_after_s = -1};

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		resp.code = m->data.result;
		if (resp.code == CURLE_OK && r->too_big) {
			resp.code = CURLE_FILESIZE_EXCEEDED;
			snprintf(r->errbuf, sizeof(r->errbuf), "response larger than %u bytes",
			         BODY_MAX);
		}
		if (resp.code != CURLE_OK)
			resp.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(resp.code);
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &resp.status);
		{
			long e = 0;
			curl_easy_getinfo(m->easy_handle, CURLINFO_OS_ERRNO, &e);
			resp.os_errno = (int)e;
		}
		if (r->body != NULL && r->secret != NULL)
			r->len = redact(r->body, r->len, r->secret);
		resp.body = r->body ? r->body : "";
		resp.len = r->len;
		resp.retry_after_s = r->retry_after_s;
		r->cb(r->arg, &resp);
		req_free(r);
	}
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
	sock_ctx *sc = p->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	curl_multi_socket_action(sc->h->multi, sc->fd, flags, &running);
	check_done(sc->h);
}

static void sock_closed_cb(uv_handle_t *hd)
{
	free(hd->data);
}

static int socket_cb(CURL *e, curl_socket_t s, int action, void *userp, void *socketp)
{
	http *h = userp;
	sock_ctx *sc = socketp;
	int events = 0;

	(void)e;
	if (action == CURL_POLL_REMOVE) {
		if (sc != NULL) {
			uv_poll_stop(&sc->poll);
			curl_multi_assign(h->multi, s, NULL);
			uv_close((uv_handle_t *)&sc->poll, sock_closed_cb);
		}
		return 0;
	}
	if (sc == NULL) {
		if ((sc = calloc(1, sizeof(*sc))) == NULL)
			return -1;
		sc->fd = s;
		sc->h = h;
		if (uv_poll_init_socket(h->loop, &sc->poll, s) != 0) {
			free(sc);
			return -1;
		}
		sc->poll.data = sc;
		curl_multi_assign(h->multi, s, sc);
	}
	if (action & CURL_POLL_IN)
		events |= UV_READABLE;
	if (action & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&sc->poll, events, poll_cb);
	return 0;
}

static void timer_fire_cb(uv_timer_t *t)
{
	http *h = t->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	http *h = userp;

	(void)m;
	if (timeout_ms < 0)
		uv_timer_stop(&h->timer);
	else /* 0 too: never call curl back from inside its own callback */
		uv_timer_start(&h->timer, timer_fire_cb, (uint64_t)timeout_ms, 0);
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	http_req *r = arg;
	size_t len = size * n;

	if (r->len + len + 1 > BODY_MAX) {
		r->too_big = true;
		return 0;
	}
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *b;
		while (cap < r->len + len + 1)
			cap *= 2;
		if ((b = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
	http_req *r = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";

	if (len > sizeof(name) && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		char buf[32];
		size_t vl = len - (sizeof(name) - 1);
		if (vl >= sizeof(buf))
			vl = sizeof(buf) - 1;
		memcpy(buf, data + sizeof(name) - 1, vl);
		buf[vl] = '\0';
		/* the seconds form only; an HTTP date is rare enough to ignore */
		long v = strtol(buf, NULL, 10);
		if (v >= 0)
			r->retry_after_s = v;
	}
	return len;
}

static int prereq_cb(void *p, char *remote_ip, char *local_ip, int remote_port, int local_port)
{
	http_req *r = p;

	(void)remote_ip, (void)local_ip, (void)remote_port, (void)local_port;
	r->sending(r->arg);
	return CURL_PREREQFUNC_OK;
}

/* The headers and body of r from o; -1 when out of memory. */
static int req_set_body(http_req *r, const http_opts *o)
{
	char hdr[512];

	if (o->api_key != NULL) {
		snprintf(hdr, sizeof(hdr), "x-api-key: %s", o->api_key);
		r->headers = curl_slist_append(NULL, hdr);
		if (r->headers == NULL)
			return -1;
	}
	if (strcmp(o->method, "POST") == 0) {
		struct curl_slist *l =
		    curl_slist_append(r->headers, "Content-Type: application/json");
		if (l == NULL)
			return -1;
		r->headers = l;
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)o->body_len);
		curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, o->body);
	}
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	return 0;
}

static void req_set_opts(http_req *r, const http_opts *o)
{
	curl_easy_setopt(r->easy, CURLOPT_URL, o->url);
	/* defence in depth behind --upstream's check: the API key goes to no file:// or gopher://
	 */
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
	                 o->timeout_ms < 10000 ? o->timeout_ms : 10000L);
	curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "cellbatchd/" CB_VERSION);
	if ((r->sending = o->sending) != NULL) {
		curl_easy_setopt(r->easy, CURLOPT_PREREQFUNCTION, prereq_cb);
		curl_easy_setopt(r->easy, CURLOPT_PREREQDATA, r);
	}
}

int http_start(http *h, const http_opts *o, http_done_cb cb, void *arg, http_req **out)
{
	http_req *r;

	if (h->closing || (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->h = h;
	r->cb = cb;
	r->arg = arg;
	r->retry_after_s = -1;
	r->secret = o->api_key != NULL && o->api_key[0] != '\0' ? o->api_key : NULL;
	if ((r->easy = curl_easy_init()) == NULL || req_set_body(r, o) != 0)
		goto fail;
	req_set_opts(r, o);
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK)
		goto fail;
	list_push_back(&h->reqs, &r->link);
	if (out != NULL)
		*out = r;
	return 0;
fail:
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r);
	return -1;
}

void http_cancel(http_req *r)
{
	req_free(r);
}

int http_open(http **out, uv_loop_t *loop)
{
	http *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -1;
	if ((h->multi = curl_multi_init()) == NULL) {
		free(h);
		return -1;
	}
	h->loop = loop;
	list_init(&h->reqs);
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*out = h;
	return 0;
}

static void timer_closed_cb(uv_handle_t *hd)
{
	free(hd->data);
}

void http_close(http *h)
{
	h->closing = true;
	while (!list_empty(&h->reqs))
		req_free(list_entry(list_first(&h->reqs), http_req, link));
	curl_multi_cleanup(h->multi); /* may still call socket_cb to remove sockets */
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, timer_closed_cb);
}
