/* log.h: leveled logging to stderr (or --log-file), one line per event. */
#ifndef CB_LOG_H
#define CB_LOG_H

#include <stddef.h>

typedef enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level;

extern log_level log_threshold;

/* Parses "error", "warn", "info", "debug"; returns 0, or -1 when unknown. */
int log_level_parse(const char *s, log_level *out);

/*
 * Picks the line format once, before the first line: when stderr is the
 * journal (JOURNAL_STREAM names stderr's device and inode, as systemd sets
 * it), lines carry sd-daemon's "<N>" priority and no timestamp (the journal
 * stamps them); otherwise an ISO-8601 UTC timestamp with milliseconds.
 */
void log_init(void);

/*
 * Sends every line — and whatever else the process writes to stderr, such
 * as a sanitizer's report — to path, appended (created 0640). Called again
 * (SIGHUP) it opens path anew, so a file renamed by logrotate is let go; the
 * switch is one dup2, so a line being written by another thread goes whole
 * to one file or the other. 0, or -1 with why (cap bytes) filled, and the
 * old destination kept.
 */
int log_open_file(const char *path, char *why, size_t cap);

__attribute__((format(printf, 2, 3))) void log_at(log_level level, const char *fmt, ...);

#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_threshold >= LOG_DEBUG)                                                    \
			log_at(LOG_DEBUG, __VA_ARGS__);                                            \
	} while (0)

#endif
