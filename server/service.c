/* service.c: cellbatchd's flags for running as a service — --log-file, --require-api-key,
 * --check-config — and the API key the second guards; options.c hands them over. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"
#include "service.h"

enum { V_LOG_FILE = 'L', V_REQUIRE = 'K', V_NO_REQUIRE = 'k', V_CHECK = 'c' };

int service_long_opts(struct option *o)
{
	o[0] = (struct option){"log-file", required_argument, NULL, V_LOG_FILE};
	o[1] = (struct option){"require-api-key", no_argument, NULL, V_REQUIRE};
	o[2] = (struct option){"no-require-api-key", no_argument, NULL, V_NO_REQUIRE};
	o[3] = (struct option){"check-config", no_argument, NULL, V_CHECK};
	return SERVICE_NOPTS;
}

int service_option(int val, const char *arg, service_cfg *sc)
{
	switch (val) {
	case V_LOG_FILE:
		sc->log_file = arg;
		return 0;
	case V_REQUIRE:
	case V_NO_REQUIRE:
		sc->require_api_key = val == V_REQUIRE;
		return 0;
	case V_CHECK:
		sc->check_config = true;
		return 0;
	default:
		return -1;
	}
}

void service_usage(FILE *f)
{
	fputs("Service\n"
	      "  --log-file FILE       append the log to FILE (0640) instead of stderr; SIGHUP\n"
	      "                        reopens it (after logrotate moved it)\n"
	      "  --require-api-key     refuse to start without an API key (the default unless\n"
	      "                        --upstream is a loopback host, such as a mock)\n"
	      "  --no-require-api-key  start without one: every batch gets UPSTREAM_AUTH\n"
	      "  --check-config        check the flags, the API key, the token file and the\n"
	      "                        listening policy, print what would run, and exit\n"
	      "                        (0: fine, 2: not)\n"
	      "  SIGHUP                reopens --log-file and re-reads nothing else: listeners,\n"
	      "                        the cache and the upstream are in use by calls in flight\n"
	      "                        (restart to change them; SIGTERM drains first)\n"
	      "\n",
	      f);
}

/* The first line of FILE, trimmed; NULL with a message on failure. */
static char *read_key_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "cellbatchd: --api-key-file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
	return strdup(line);
}

/* Whether url's host is a loopback one ("http://127.0.0.1:8080/x", "http://[::1]/"). */
static bool loopback_upstream(const char *url)
{
	const char *h = strstr(url, "://"), *end;

	if (h == NULL)
		return false;
	h += 3;
	if (*h == '[')
		end = strchr(h, ']') ? strchr(h, ']') + 1 : h + strlen(h);
	else
		end = h + strcspn(h, ":/?#");
	return policy_host_loopback(h, (size_t)(end - h));
}

int service_finish(const service_cfg *sc, const char *upstream, const char *key_file,
                   char **api_key)
{
	bool need =
	    sc->require_api_key >= 0 ? sc->require_api_key != 0 : !loopback_upstream(upstream);
	const char *env = getenv("GEOAPIFY_API_KEY");

	if (key_file != NULL) {
		if ((*api_key = read_key_file(key_file)) == NULL)
			return 2;
	} else if (env != NULL) {
		*api_key = strdup(env);
	}
	if (*api_key != NULL && (*api_key)[0] != '\0')
		return 0;
	if (need) {
		fprintf(
		    stderr,
		    "cellbatchd: no API key (GEOAPIFY_API_KEY or --api-key-file) for the upstream "
		    "%s: refusing to start, as every batch would fail (--no-require-api-key "
		    "starts anyway)\n",
		    upstream);
		return 2;
	}
	log_warn("no API key (GEOAPIFY_API_KEY or --api-key-file): the upstream will answer "
	         "UPSTREAM_AUTH");
	return 0;
}
