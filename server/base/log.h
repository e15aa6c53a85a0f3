/* log.h: leveled logging to stderr, one line per event. */
#ifndef CB_LOG_H
#define CB_LOG_H

typedef enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level;

extern log_level log_threshold;

/* Parses "error", "warn", "info", "debug"; returns 0, or -1 when unknown. */
int log_level_parse(const char *s, log_level *out);

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
