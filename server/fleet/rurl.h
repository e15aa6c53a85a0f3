/* rurl.h: --redis's URL — redis://host[:port][/db] or unix:///path[?db=N]. */
#ifndef CB_RURL_H
#define CB_RURL_H

#include <stddef.h>

typedef struct rurl {
	char host[256]; /* "" for a unix socket */
	char path[256]; /* the unix socket's path */
	int port, db;
} rurl;

/* Fills u from url: 0, or -1 with why (whylen > 0) filled. rediss:// is refused: Debian's
 * hiredis 0.14 has no TLS. */
int rurl_parse(rurl *u, const char *url, char *why, size_t whylen);

/* The same check alone, for options.c before anything runs. */
int rurl_check(const char *url, char *why, size_t whylen);

#endif
