/* geoapify.c: what is particular to the Geoapify batch API's answers and requests — how its
 * failures sort into retry or give up, and the options as query parameters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cbproto.h"
#include "fdlimit.h"
#include "geoapify.h"

/* Geoapify's error body is {"statusCode", "error", "message"}; fall back to the raw start. */
static void upstream_message(const http_resp *r, char *out, size_t cap)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	json_t *m = json_object_get(j, "message");

	if (json_is_string(m))
		snprintf(out, cap, "%s", json_string_value(m));
	else
		snprintf(out, cap, "%.120s", r->body);
	json_decref(j);
}

/* "cannot connect to 127.0.0.1:8080 (Connection refused)" or curl's own sentence. */
static void transport_cause(const char *upstream, const http_resp *r, char *out, size_t cap)
{
	if (r->code == CURLE_COULDNT_CONNECT) {
		const char *host = strstr(upstream, "://");
		host = host ? host + 3 : upstream;
		snprintf(out, cap, "cannot connect to %s (%s)", host,
		         r->os_errno ? strerror(r->os_errno) : "refused");
	} else {
		snprintf(out, cap, "%s", r->error);
	}
}

void geoapify_classify(const http_resp *r, const char *upstream, const char *quota_match,
                       geoapify_failure *out, char *cause, size_t cap)
{
	char msg[256];

	*out = (geoapify_failure){.transient = true};
	if (r->code != CURLE_OK) {
		transport_cause(upstream, r, cause, cap);
		out->fd_short =
		    fdlimit_note(r->os_errno, "an upstream request") ||
		    (r->error != NULL && strstr(r->error, "Too many open files") != NULL &&
		     fdlimit_note(EMFILE, "an upstream request"));
		out->may_have_arrived =
		    r->code != CURLE_COULDNT_CONNECT && r->code != CURLE_COULDNT_RESOLVE_HOST;
		return;
	}
	upstream_message(r, msg, sizeof(msg));
	snprintf(cause, cap, "HTTP %ld: %s", r->status, msg);
	if (r->status == 429) {
		out->rate_limited = true;
		out->quota = quota_match[0] != '\0' && strcasestr(msg, quota_match) != NULL;
		return;
	}
	if (r->status >= 500)
		return;
	out->transient = false;
	if (r->status == 401)
		out->answer = answer_error(CB_EUPSTREAM_AUTH,
		                           "upstream rejected the API key (HTTP 401: %s)", msg);
	else
		out->answer =
		    answer_error(CB_EUPSTREAM_ERROR, "upstream HTTP %ld: %s", r->status, msg);
}

/* The options become query parameters, URL-escaped. */
char *geoapify_query(const char *const *opt)
{
	char buf[4 * CB_OPT_COUNT * CB_TEXT_MAX];
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		char *esc;
		int w;
		if (opt[i] == NULL)
			continue;
		if ((esc = curl_easy_escape(NULL, opt[i], 0)) == NULL)
			return NULL;
		w = snprintf(buf + n, sizeof(buf) - n, "%c%s=%s", n ? '&' : '?', cbp_opt_names[i],
		             esc);
		curl_free(esc);
		if (w < 0 || (size_t)w >= sizeof(buf) - n)
			return NULL;
		n += (size_t)w;
	}
	return strdup(buf);
}

bool geoapify_job_id(const http_resp *r, char *id, size_t cap)
{
	json_t *doc = json_loadb(r->body, r->len, 0, NULL);
	json_t *v = json_object_get(doc, "id");
	bool ok = json_is_string(v) && json_string_length(v) < cap;

	if (ok && id[0] == '\0')
		memcpy(id, json_string_value(v), json_string_length(v) + 1);
	json_decref(doc);
	return ok;
}

uint64_t geoapify_backoff_ms(uint64_t retry_after_max_ms, unsigned attempt, long retry_after_s,
                             uint64_t cap_ms)
{
	uint64_t ceiling = GEOAPIFY_BACKOFF_BASE_MS;

	if (retry_after_s >= 0)
		return (uint64_t)retry_after_s * 1000 < retry_after_max_ms
		           ? (uint64_t)retry_after_s * 1000
		           : retry_after_max_ms;
	for (unsigned i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (uint64_t)(((double)rand() / RAND_MAX) * (double)ceiling);
}
