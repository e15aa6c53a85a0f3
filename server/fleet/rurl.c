/* rurl.c: --redis's URL — redis://host[:port][/db] or unix:///path[?db=N]. */
#include "rurl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_host_port(rurl *rc, const char *s)
{
	const char *colon = strchr(s, ':'), *slash = strchr(s, '/');
	size_t hl = colon ? (size_t)(colon - s) : slash ? (size_t)(slash - s) : strlen(s);
	char *end;

	if (hl == 0 || hl >= sizeof(rc->host))
		return -1;
	memcpy(rc->host, s, hl);
	rc->host[hl] = '\0';
	rc->port = 6379;
	if (colon != NULL) {
		long p = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || p < 1 || p > 65535 || (*end != '\0' && *end != '/'))
			return -1;
		rc->port = (int)p;
		slash = *end == '/' ? end : NULL;
	}
	if (slash != NULL && slash[1] != '\0') {
		long db = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end != '\0' || db < 0 || db > 100000)
			return -1;
		rc->db = (int)db;
	}
	return 0;
}

/* unix:///path[?db=N] */
static int parse_unix(rurl *rc, const char *s)
{
	const char *q = strchr(s, '?');
	size_t pl = q ? (size_t)(q - s) : strlen(s);
	char *end;

	if (s[0] != '/' || pl >= sizeof(rc->path))
		return -1;
	memcpy(rc->path, s, pl);
	rc->path[pl] = '\0';
	if (q != NULL) {
		long db;
		if (strncmp(q, "?db=", 4) != 0 || (db = strtol(q + 4, &end, 10)) < 0 ||
		    end == q + 4 || *end != '\0')
			return -1;
		rc->db = (int)db;
	}
	return 0;
}

int rurl_parse(rurl *rc, const char *url, char *why, size_t whylen)
{
	int rv = -1;

	if (strncmp(url, "rediss://", 9) == 0)
		snprintf(why, whylen, "rediss:// needs TLS, which Debian's hiredis 0.14 lacks");
	else if (strncmp(url, "redis://", 8) == 0)
		rv = parse_host_port(rc, url + 8);
	else if (strncmp(url, "unix://", 7) == 0)
		rv = parse_unix(rc, url + 7);
	else
		snprintf(why, whylen, "expected redis://host[:port][/db] or unix:///path[?db=N]");
	if (rv != 0 && why[0] == '\0')
		snprintf(why, whylen, "cannot read '%s'", url);
	return rv;
}

int rurl_check(const char *url, char *why, size_t whylen)
{
	rurl rc;

	memset(&rc, 0, sizeof(rc));
	if (whylen > 0)
		why[0] = '\0';
	return rurl_parse(&rc, url, why, whylen);
}
