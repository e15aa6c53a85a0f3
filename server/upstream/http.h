/* http.h: HTTP requests through one curl multi handle driven by the libuv loop. */
#ifndef CB_HTTP_H
#define CB_HTTP_H

#include <stddef.h>

#include <curl/curl.h>
#include <uv.h>

typedef struct http http;
typedef struct http_req http_req;

typedef struct http_resp {
	CURLcode code;     /* CURLE_OK when a response arrived */
	const char *error; /* curl's sentence when code != CURLE_OK */
	long status;       /* HTTP status, 0 without a response */
	const char *body;  /* NUL-terminated; valid during the callback only */
	size_t len;
	long retry_after_s; /* Retry-After in seconds, -1 when absent */
	int os_errno;       /* the system error behind a transport failure, or 0 */
} http_resp;

/* Called on the loop thread exactly once per started request, unless it was cancelled. */
typedef void (*http_done_cb)(void *arg, const http_resp *resp);

typedef struct http_opts {
	const char *method; /* "GET" or "POST" */
	const char *url;
	const char *body; /* POST body; copied by curl (CURLOPT_COPYPOSTFIELDS) */
	size_t body_len;
	const char *api_key; /* sent as the x-api-key header, never in the URL */
	long timeout_ms;
	/*
	 * Optional: called with the done callback's arg on the loop thread, inline
	 * from curl, right before the request is written to the connection
	 * (CURLOPT_PREREQFUNCTION), so that a rate limiter can count real sends.
	 */
	void (*sending)(void *arg);
} http_opts;

int http_open(http **out, uv_loop_t *loop);

/*
 * Starts a request. Returns 0 and later calls cb once; on failure returns
 * -1 and never calls cb (libuv's rule). *out (optional) identifies it for
 * http_cancel until cb runs.
 */
int http_start(http *h, const http_opts *o, http_done_cb cb, void *arg, http_req **out);

/* Abandons a started request; its callback is never called. */
void http_cancel(http_req *r);

/* Cancels whatever is in flight and closes the handles; the loop must run for the close callbacks.
 */
void http_close(http *h);

#endif
