/* log.h: lcrd's log. Every line goes to stderr and starts with "lcrd[<node-name>]: ", so a
 * log file the plugin collects from several helpers stays readable. Levels, from quiet to
 * chatty: error, warning, info (the default), verbose, debug. */
#ifndef LCR_HELPER_LOG_H
#define LCR_HELPER_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_VERBOSE = 3,
	LOG_LEVEL_DEBUG = 4,
};

/* Sets the node name of the prefix and the most detailed level written. */
void log_init(const char *node_name, enum log_level level);

/* "error" -> LOG_LEVEL_ERROR ...; 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

void log_message(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_message(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_message(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_message(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_verbose(...) log_message(LOG_LEVEL_VERBOSE, __VA_ARGS__)
#define log_debug(...) log_message(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
