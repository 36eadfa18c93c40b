/* outcome_file.c: formats, parses, reads and writes the step's outcome file (see
 * outcome_file.h and lcrd(8), "Outcome"). The parser is strict: every key once, known keys
 * only, numbers in range, the message double-quoted with \" and \\ as its only escapes,
 * so that a torn or foreign file is refused with the line that is wrong. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal/util.h"
#include "outcome_file.h"

#define OUTCOME_FILE_MAX 4096

enum outcome_key {
	KEY_VERSION,
	KEY_JOB,
	KEY_STEP,
	KEY_STATE,
	KEY_STATUS,
	KEY_RANK,
	KEY_GENERATION,
	KEY_FAILURES,
	KEY_RANKS,
	KEY_BATCH_HOST,
	KEY_MESSAGE,
	KEY_COUNT,
};

static const char *const key_names[KEY_COUNT] = {
	"version", "job", "step", "state", "status", "rank", "generation",
	"failures_recovered", "ranks", "batch_host_died", "message",
};

static int parse_error(char *err, size_t errlen, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int parse_error(char *err, size_t errlen, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "line %d: ", line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int outcome_file_path(const char *dir, uint32_t job, uint32_t step, char *path, size_t cap)
{
	int n = snprintf(path, cap, "%s/outcome.%" PRIu32 ".%" PRIu32, dir, job, step);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* The message, double-quoted, '"' and '\' escaped; control characters become spaces. */
static void quote_message(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	out[n++] = '"';
	for (; *in && n + 3 < cap; in++) {
		if (*in == '"' || *in == '\\')
			out[n++] = '\\';
		out[n++] = (unsigned char)*in < 0x20 ? ' ' : *in;
	}
	out[n++] = '"';
	out[n] = '\0';
}

int outcome_file_format(const struct outcome_record *r, char *buf, size_t cap)
{
	char rank[16], quoted[2 * OUTCOME_MESSAGE_MAX + 4];
	if (r->rank == OUTCOME_NO_RANK)
		strcpy(rank, "none");
	else
		snprintf(rank, sizeof(rank), "%" PRIu32, r->rank);
	quote_message(r->message, quoted, sizeof(quoted));
	int n = snprintf(buf, cap,
			 "# LCR outcome of a job step, written by its leading lcrd; see lcrd(8)\n"
			 "version: %d\njob: %" PRIu32 "\nstep: %" PRIu32 "\nstate: %s\n"
			 "status: %" PRId32 "\nrank: %s\ngeneration: %" PRIu64 "\n"
			 "failures_recovered: %" PRIu32 "\nranks: %" PRIu32 "\n"
			 "batch_host_died: %s\nmessage: %s\n",
			 OUTCOME_FILE_VERSION, r->job, r->step, r->finished ? "finished" : "running",
			 r->status, rank, r->generation, r->failures_recovered, r->ranks,
			 r->batch_host_died[0] ? r->batch_host_died : "none", quoted);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

/* A double-quoted message into out[cap]: 0, or -EINVAL. A control character is refused:
 * the writer never puts one there, and `lcrctl wait` prints the message to a terminal. */
static int unquote_message(const char *value, char *out, size_t cap)
{
	size_t n = 0;
	if (*value++ != '"')
		return -EINVAL;
	for (; *value && *value != '"'; value++) {
		if (*value == '\\' && (value[1] == '"' || value[1] == '\\'))
			value++;
		else if (*value == '\\' || (unsigned char)*value < 0x20)
			return -EINVAL;
		if (n + 1 >= cap)
			return -EINVAL;
		out[n++] = *value;
	}
	out[n] = '\0';
	return *value == '"' && value[1] == '\0' ? 0 : -EINVAL;
}

static int parse_u64(const char *value, uint64_t *out)
{
	char *end;
	if (*value < '0' || *value > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* One key's value into r: 0, or -EINVAL with what was expected in why. */
static int apply_value(enum outcome_key key, const char *value, struct outcome_record *r,
		       const char **why)
{
	uint64_t v = 0;
	switch (key) {
	case KEY_STATE:
		*why = "expected running or finished";
		if (strcmp(value, "running") && strcmp(value, "finished"))
			return -EINVAL;
		r->finished = value[0] == 'f';
		return 0;
	case KEY_BATCH_HOST:
		*why = "expected none or a node name";
		if (!*value || util_copy_string(r->batch_host_died, sizeof(r->batch_host_died),
						strcmp(value, "none") ? value : "") < 0)
			return -EINVAL;
		return 0;
	case KEY_MESSAGE:
		*why = "expected a double-quoted sentence";
		return unquote_message(value, r->message, sizeof(r->message));
	case KEY_RANK:
		*why = "expected none or a rank";
		if (strcmp(value, "none") == 0) {
			r->rank = OUTCOME_NO_RANK;
			return 0;
		}
		if (parse_u64(value, &v) < 0 || v >= OUTCOME_NO_RANK)
			return -EINVAL;
		r->rank = (uint32_t)v;
		return 0;
	default:
		break;
	}
	*why = key == KEY_STATUS ? "expected an exit status from 0 to 255" :
	       key == KEY_VERSION ? "expected version 1" : "expected a number";
	if (parse_u64(value, &v) < 0 || (key == KEY_STATUS && v > 255) ||
	    (key == KEY_VERSION && v != OUTCOME_FILE_VERSION) ||
	    (key != KEY_GENERATION && v > UINT32_MAX))
		return -EINVAL;
	switch (key) {
	case KEY_JOB: r->job = (uint32_t)v; break;
	case KEY_STEP: r->step = (uint32_t)v; break;
	case KEY_STATUS: r->status = (int32_t)v; break;
	case KEY_GENERATION: r->generation = v; break;
	case KEY_FAILURES: r->failures_recovered = (uint32_t)v; break;
	case KEY_RANKS: r->ranks = (uint32_t)v; break;
	default: break;
	}
	return 0;
}

/* One "key: value" line. */
static int parse_line(char *line, int number, struct outcome_record *r, unsigned *seen,
		      char *err, size_t errlen)
{
	const char *why = "";
	char *colon = strstr(line, ": ");
	if (!colon)
		return parse_error(err, errlen, number, "expected 'key: value'");
	*colon = '\0';
	for (int key = 0; key < KEY_COUNT; key++) {
		if (strcmp(line, key_names[key]) != 0)
			continue;
		if (*seen & (1u << key))
			return parse_error(err, errlen, number, "'%s' is given twice", line);
		*seen |= 1u << key;
		if (apply_value((enum outcome_key)key, colon + 2, r, &why) < 0)
			return parse_error(err, errlen, number, "%s: '%s': %s", line, colon + 2, why);
		return 0;
	}
	return parse_error(err, errlen, number, "unknown key '%s'", line);
}

int outcome_file_parse(const char *text, struct outcome_record *r, char *err, size_t errlen)
{
	char copy[OUTCOME_FILE_MAX], *line, *next;
	unsigned seen = 0;
	int number = 0, rc;
	if (util_copy_string(copy, sizeof(copy), text) < 0)
		return parse_error(err, errlen, 0, "the file is larger than %d bytes",
				   OUTCOME_FILE_MAX - 1);
	memset(r, 0, sizeof(*r));
	for (line = copy; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		number++;
		if (*line == '#' || *line == '\0')
			continue;
		rc = parse_line(line, number, r, &seen, err, errlen);
		if (rc < 0)
			return rc;
	}
	for (int key = 0; key < KEY_COUNT; key++)
		if (!(seen & (1u << key)))
			return parse_error(err, errlen, number, "'%s' is missing", key_names[key]);
	return 0;
}

int outcome_file_read(const char *path, struct outcome_record *r, char *err, size_t errlen)
{
	char text[OUTCOME_FILE_MAX];
	struct stat st;
	/* O_NONBLOCK: a FIFO planted there must not hang the reader. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s is not a regular file", path);
		return -EINVAL;
	}
	ssize_t n = read(fd, text, sizeof(text) - 1);
	int e = errno;
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
		return -e;
	}
	text[n] = '\0';
	char why[256];
	if (outcome_file_parse(text, r, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s is not an LCR outcome: %s", path, why);
		return -EINVAL;
	}
	return 0;
}

/* mkdir -p of path's directory, 0700 for what it creates. */
static int make_parent(const char *path)
{
	char dir[4096];
	if (util_copy_string(dir, sizeof(dir), path) < 0)
		return -ENAMETOOLONG;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(dir, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

int outcome_file_write(const char *path, const struct outcome_record *r, char *err,
		       size_t errlen)
{
	char text[OUTCOME_FILE_MAX], tmp[4200];
	int len = outcome_file_format(r, text, sizeof(text)), rc = 0, fd = -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (len < 0) {
		snprintf(err, errlen, "the outcome does not fit %d bytes", OUTCOME_FILE_MAX);
		return len;
	}
	rc = make_parent(path);
	if (rc == 0) {
		/* A new file of a name nobody can guess (O_EXCL, 0600): never one planted there. */
		fd = mkostemp(tmp, O_CLOEXEC);
		rc = fd < 0 ? -errno : 0;
	}
	errno = EIO;
	if (rc == 0 && write(fd, text, (size_t)len) != len)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
		if (fd >= 0)
			unlink(tmp);
	}
	return rc;
}
