/* url.c: the default server URL and the shorthand forms of --listen / --url, shared by server and
 * clients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbproto.h"

const char *cbp_default_url(char *buf, size_t cap)
{
	const char *env = getenv("CELLBATCH_URL");
	const char *dir = getenv("XDG_RUNTIME_DIR");

	if (env != NULL && env[0] != '\0')
		return cbp_url_normalize(env, buf, cap);
	if (dir != NULL && dir[0] != '\0') {
		snprintf(buf, cap, "ipc://%s/cellbatch.sock", dir);
	} else {
		/* not /tmp itself: any user could listen there first (rundir.c) */
		char rd[64];
		snprintf(buf, cap, "ipc://%s/cellbatch.sock", cbp_rundir(rd, sizeof(rd)));
	}
	return buf;
}

const char *cbp_url_normalize(const char *in, char *buf, size_t cap)
{
	size_t digits = strspn(in, "0123456789");

	if (strstr(in, "://") != NULL)
		snprintf(buf, cap, "%s", in);
	else if (digits > 0 && in[digits] == '\0')
		snprintf(buf, cap, "tcp://127.0.0.1:%s", in);
	else if (strchr(in, ':') != NULL)
		snprintf(buf, cap, "tcp://%s", in);
	else /* a bare path names an ipc socket */
		snprintf(buf, cap, "ipc://%s", in);
	return buf;
}
