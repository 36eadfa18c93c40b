/* log.c: lcrd's prefixed, levelled log lines on stderr (see log.h). One line is one write,
 * so lines from several helpers sharing a file do not interleave mid-line. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loop/log.h"

static char log_node[128] = "?";
static enum log_level log_max = LOG_LEVEL_INFO;

static const char *const level_names[] = { "error", "warning", "info", "verbose", "debug" };

void log_init(const char *node_name, enum log_level level)
{
	snprintf(log_node, sizeof(log_node), "%s", node_name);
	log_max = level;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_message(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	int saved_errno = errno;
	if (level > log_max)
		return;
	int n = snprintf(line, sizeof(line), "lcrd[%s]: %s%s", log_node,
			 level <= LOG_LEVEL_WARNING ? level_names[level] : "",
			 level <= LOG_LEVEL_WARNING ? ": " : "");
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		errno = saved_errno;
	errno = saved_errno;
}
