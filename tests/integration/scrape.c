/* scrape.c: fetching cellbatchd's HTTP pages in tests, and reading /metrics as Prometheus does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "scrape.h"

static size_t got_write(char *p, size_t size, size_t n, void *arg)
{
	http_got *g = arg;
	char *nb = realloc(g->body, g->len + size * n + 1);

	if (nb == NULL)
		return 0;
	memcpy(nb + g->len, p, size * n);
	g->body = nb;
	g->len += size * n;
	g->body[g->len] = '\0';
	return size * n;
}

/* GET http://127.0.0.1:port/path; fails the test when no HTTP answer comes. */
void http_get(unsigned port, const char *path, http_got *g)
{
	CURL *c = curl_easy_init();
	char url[256];
	char *ct = NULL;
	double t0 = it_now_ms();

	memset(g, 0, sizeof(*g));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, got_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) != CURLE_OK)
		fail_msg("GET %s: no answer", url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(g->ctype, sizeof(g->ctype), "%s", ct ? ct : "");
	curl_easy_cleanup(c);
	g->ms = it_now_ms() - t0;
	if (g->body == NULL)
		g->body = calloc(1, 1);
}

/* A port nothing listens on now: bound to 0 and let go (the server may still lose a race). */
unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

void parse_metrics(const char *text, scrape *out)
{
	const char *line = text;

	out->s = NULL;
	out->n = 0;
	while (*line != '\0') {
		const char *end = strchr(line, '\n'), *sp;
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (line[0] != '#' && len > 0 && (sp = memrchr(line, ' ', len)) != NULL) {
			out->s = realloc(out->s, (out->n + 1) * sizeof(*out->s));
			snprintf(out->s[out->n].key, sizeof(out->s[0].key), "%.*s",
			         (int)(sp - line), line);
			out->s[out->n].v = strtod(sp + 1, NULL);
			out->n++;
		}
		line += len + (end != NULL);
	}
}

/* The sample named exactly key ("name{l=\"v\"}"); fails when absent. */
double metric(const scrape *sc, const char *key)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].key, key) == 0)
			return sc->s[i].v;
	fail_msg("/metrics has no %s", key);
	return 0;
}

/* The sum of every sample of name (all its label sets). */
double metric_sum(const scrape *sc, const char *name)
{
	size_t n = strlen(name);
	double sum = 0;

	for (size_t i = 0; i < sc->n; i++)
		if (strncmp(sc->s[i].key, name, n) == 0 && sc->s[i].key[n] == '{')
			sum += sc->s[i].v;
	return sum;
}

/* Each histogram's buckets never decrease, and +Inf is its _count; returns how many. */
int check_histograms(const scrape *sc)
{
	int found = 0;

	for (size_t i = 0; i < sc->n; i++) {
		char base[200], key[240];
		const char *b = strstr(sc->s[i].key, "_bucket{le=\"+Inf\"}");
		double prev = 0;
		if (b == NULL)
			continue;
		snprintf(base, sizeof(base), "%.*s", (int)(b - sc->s[i].key), sc->s[i].key);
		snprintf(key, sizeof(key), "%s_bucket{", base);
		for (size_t k = 0; k < sc->n; k++) {
			if (strncmp(sc->s[k].key, key, strlen(key)) != 0)
				continue;
			if (sc->s[k].v < prev)
				fail_msg("%s: buckets decrease at %s", base, sc->s[k].key);
			prev = sc->s[k].v;
		}
		snprintf(key, sizeof(key), "%s_count", base);
		assert_true(metric(sc, key) == sc->s[i].v);
		assert_true(prev == sc->s[i].v); /* +Inf is the last bucket */
		found++;
	}
	return found;
}

/* promtool check metrics on text; the test fails if promtool is missing (bootstrap installs it). */
void promtool_check(it_env *e, const char *text, size_t len)
{
	char path[300], cmd[700];
	FILE *f;
	int rv;

	snprintf(path, sizeof(path), "%s/metrics.txt", e->dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s.check 2>&1", path, path);
	rv = system(cmd);
	if (!WIFEXITED(rv) || WEXITSTATUS(rv) != 0) {
		char out[320];
		snprintf(out, sizeof(out), "%s.check", path);
		char *msg = it_slurp(out, NULL);
		fail_msg(
		    "promtool check metrics (exit %d; 127: missing, run scripts/bootstrap): %s",
		    WIFEXITED(rv) ? WEXITSTATUS(rv) : -1, msg ? msg : "");
	}
}
