/* browser.c: runs headless Chromium for the dashboard test and reads attributes from its DOM. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "browser.h"
#include "harness.h"

const char *browser_find(void)
{
	static char found[1024];
	static const char *const names[] = {"chromium", "chromium-browser", "google-chrome"};
	const char *env = getenv("CHROMIUM"), *path = getenv("PATH");

	if (env != NULL && *env != '\0')
		return access(env, X_OK) == 0 ? env : NULL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (const char *p = path ? path : "/usr/bin:/bin"; *p != '\0';) {
			size_t len = strcspn(p, ":");
			snprintf(found, sizeof(found), "%.*s/%s", (int)len, p, names[i]);
			if (len > 0 && access(found, X_OK) == 0)
				return found;
			p += len + (p[len] == ':');
		}
	}
	return NULL;
}

/* The child: its own process group (killed as one), stdout to the pipe, stderr to log. */
static void exec_browser(const char *bin, char *const argv[], int out_fd, const char *log)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

	setpgid(0, 0);
	if (fd >= 0)
		dup2(fd, 2);
	dup2(out_fd, 1);
	execv(bin, argv);
	_exit(127);
}

/* Reads fd into *out until EOF or the deadline; 0 at EOF, -1 at the deadline. */
static int read_until(int fd, char **out, double deadline)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int rv = -1;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double left = deadline - it_now_ms();
		ssize_t n;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (len + 65536 > cap && (buf = realloc(buf, cap = cap * 2 + 65536)) == NULL)
			break;
		if ((n = read(fd, buf + len, cap - len - 1)) < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rv = 0; /* EOF: the browser is done with stdout */
			break;
		}
		len += (size_t)n;
	}
	if (buf != NULL)
		buf[len] = '\0';
	if (out != NULL)
		*out = buf ? buf : calloc(1, 1);
	else
		free(buf);
	return rv;
}

int browser_run(const char *bin, const char *profile, const char *log, const char *url,
                const char *mode, int budget_ms, int timeout_ms, char **out)
{
	char data_dir[600], budget[64];
	char *argv[] = {(char *)bin,
	                "--headless",
	                "--disable-gpu",
	                "--no-first-run",
	                "--no-default-browser-check",
	                "--disable-extensions",
	                "--disable-dev-shm-usage",
	                "--hide-scrollbars",
	                "--window-size=1280,800",
	                data_dir,
	                budget,
	                (char *)mode,
	                (char *)url,
	                geteuid() == 0 ? "--no-sandbox" : NULL,
	                NULL}; /* root: no sandbox */
	double deadline = it_now_ms() + timeout_ms;
	int fds[2], status = -1, killed;
	pid_t pid;

	snprintf(data_dir, sizeof(data_dir), "--user-data-dir=%s", profile);
	snprintf(budget, sizeof(budget), "--virtual-time-budget=%d", budget_ms);
	if (pipe(fds) != 0)
		return -1;
	if ((pid = fork()) == 0)
		exec_browser(bin, argv, fds[1], log);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	setpgid(pid, pid); /* as the child does: no race on who is first */
	killed = read_until(fds[0], out, deadline);
	close(fds[0]);
	while (!killed && waitpid(pid, &status, WNOHANG) == 0) {
		if (it_now_ms() > deadline)
			killed = -1;
		else
			usleep(20000);
	}
	kill(-pid, SIGKILL); /* its renderer and helpers, if any outlived it */
	if (killed) {
		waitpid(pid, &status, 0);
		fprintf(stderr, "%s did not finish in %d ms: killed\n", bin, timeout_ms);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The start tag holding anchor: [*b, *e) from '<' to '>'; 0 or -1. */
static int find_tag(const char *dom, const char *anchor, const char **b, const char **e)
{
	const char *a = strstr(dom, anchor);

	if (a == NULL)
		return -1;
	for (*b = a; *b > dom && **b != '<'; (*b)--)
		;
	*e = strchr(a, '>');
	return *e == NULL ? -1 : 0;
}

int dom_attr(const char *dom, const char *anchor, const char *attr, char *buf, size_t n)
{
	const char *b, *e, *v, *end;
	char pat[128];

	snprintf(pat, sizeof(pat), " %s=\"", attr);
	if (find_tag(dom, anchor, &b, &e) != 0)
		return -1;
	for (v = strstr(b, pat); v != NULL && v < e; v = NULL) {
		v += strlen(pat);
		if ((end = strchr(v, '"')) == NULL)
			return -1;
		snprintf(buf, n, "%.*s", (int)(end - v), v);
		return 0;
	}
	return -1;
}

int dom_text(const char *dom, const char *anchor, char *buf, size_t n)
{
	const char *b, *e, *end;

	if (find_tag(dom, anchor, &b, &e) != 0 || (end = strchr(e + 1, '<')) == NULL)
		return -1;
	snprintf(buf, n, "%.*s", (int)(end - e - 1), e + 1);
	return 0;
}
