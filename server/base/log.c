/* log.c: leveled logging to stderr (or --log-file), one line per event, with an ISO-8601 UTC
 * timestamp, or the journal's priority prefix when stderr is the journal. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

log_level log_threshold = LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};
/* sd-daemon.h's LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
static const int priority[] = {3, 4, 6, 7};

static bool journal; /* stderr is the journal: "<N>" and no timestamp */

int log_level_parse(const char *s, log_level *out)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	journal = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
	          (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int log_open_file(const char *path, char *why, size_t cap)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0 || dup2(fd, 2) < 0) {
		snprintf(why, cap, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	journal = false; /* a file of ours: it needs the timestamps */
	return 0;
}

void log_at(log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;

	if (level > log_threshold)
		return;
	if (journal) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>%-5s ", priority[level],
		                     names[level]);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s ",
		                      ts.tv_nsec / 1000000, names[level]);
	}
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	/* one write per line keeps lines whole when several threads log, and O_APPEND files too */
	if (write(2, line, n) < 0)
		return; /* nowhere left to say it */
}
