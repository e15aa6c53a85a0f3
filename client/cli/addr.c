/* addr.c: the server address the cellbatch command uses — from --url, $CELLBATCH_URL or the
 * default — written out in full, and refused as a usage error when nng could never dial it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbproto.h"
#include "cli.h"

/* The schemes nng dials; anything else (http://, a typo) can only be a usage mistake. */
static const char *const schemes[] = {"tcp", "tcp4", "tcp6", "ipc",     "abstract", "ws",
                                      "ws4", "ws6",  "wss",  "tls+tcp", "tls+tcp4", "tls+tcp6"};

static bool known_scheme(const char *url)
{
	const char *end = strstr(url, "://");

	for (size_t i = 0; end != NULL && i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strlen(schemes[i]) == (size_t)(end - url) &&
		    strncmp(url, schemes[i], (size_t)(end - url)) == 0)
			return true;
	return false;
}

int cli_address(const global *g, char *buf, size_t cap, const char **from)
{
	const char *env = getenv("CELLBATCH_URL");

	if (g->url != NULL) {
		*from = "--url";
		cbp_url_normalize(g->url, buf, cap);
	} else {
		/* cbp_default_url reads $CELLBATCH_URL itself: it and the client agree */
		*from = env != NULL && env[0] != '\0' ? "$CELLBATCH_URL" : "the default";
		cbp_default_url(buf, cap);
	}
	if (!known_scheme(buf)) {
		fprintf(stderr,
		        "%s: %s %s: not an address cellbatchd listens on (use tcp://HOST:PORT, "
		        "ipc:///PATH, ws://HOST:PORT/PATH or a port number)\n",
		        cli_prog, *from, buf);
		return EXIT_USAGE;
	}
	return 0;
}
