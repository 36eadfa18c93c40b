/* outcome_file.c: formats, parses, reads and writes the step's outcome file (see
 * outcome_file.h and lcrd(8), "Outcome"). The parser is strict: every key once, known keys
 * only, numbers in range, the message double-quoted with \" and \\ as its only escapes,
 * so that a torn or foreign file is refused with the line that is wrong. Reads and writes go
 * relative to a directory opened as a trusted one (internal/trusted_path.h), as checkpoints
 * do: nobody else can redirect them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "loop/outcome_file.h"
#include "internal/trusted_path.h"
#include "internal/util.h"

#define OUTCOME_FILE_MAX 4096
#define OUTCOME_FILE_NAME_MAX 32 /* "outcome." and two 10-digit numbers */

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

/* outcome.<job>.<step>: the file's name in its directory. */
static void outcome_file_name(uint32_t job, uint32_t step, char *name, size_t cap)
{
	snprintf(name, cap, "outcome.%" PRIu32 ".%" PRIu32, job, step);
}

int outcome_file_path(const char *dir, uint32_t job, uint32_t step, char *path, size_t cap)
{
	char name[OUTCOME_FILE_NAME_MAX];
	outcome_file_name(job, step, name, sizeof(name));
	int n = snprintf(path, cap, "%s/%s", dir, name);
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

/* The text of the outcome file fd (a regular file, opened) into text[cap]: 0, or -errno. */
static int read_text(int fd, char *text, size_t cap)
{
	ssize_t n = read(fd, text, cap - 1);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	return 0;
}

int outcome_file_read(int dir_fd, const char *dir, uint32_t job, uint32_t step, uid_t uid,
		      struct outcome_record *r, char *err, size_t errlen)
{
	char text[OUTCOME_FILE_MAX], name[OUTCOME_FILE_NAME_MAX], what[4200], why[4400];
	outcome_file_name(job, step, name, sizeof(name));
	snprintf(what, sizeof(what), "%s/%s", dir, name);
	/* No link followed, a regular file of uid's that nobody else may write, and a FIFO
	 * refused without waiting on it: nobody else chose what is read. */
	int rc, fd = trusted_open_at(dir_fd, name, O_RDONLY, uid, what, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "%s", why);
		return fd == -EPERM || fd == -ELOOP ? -EINVAL : fd;
	}
	rc = read_text(fd, text, sizeof(text));
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s: %s", what, strerror(-rc));
		return rc;
	}
	if (outcome_file_parse(text, r, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s is not an LCR outcome: %s", what, why);
		return -EINVAL;
	}
	return 0;
}

/* A new file of a random name in dir_fd, O_EXCL|O_NOFOLLOW, mode 0600: its descriptor, with
 * its name in tmp[cap], or -errno. Never a file or a link that was there before. */
static int create_temporary(int dir_fd, const char *name, char *tmp, size_t cap)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t random;
		if (getrandom(&random, sizeof(random), 0) != (ssize_t)sizeof(random))
			return -EIO;
		snprintf(tmp, cap, "%s.tmp.%016" PRIx64, name, random);
		int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

int outcome_file_write(int dir_fd, const char *dir, const struct outcome_record *r, char *err,
		       size_t errlen)
{
	char text[OUTCOME_FILE_MAX], name[OUTCOME_FILE_NAME_MAX], tmp[OUTCOME_FILE_NAME_MAX + 24];
	int len = outcome_file_format(r, text, sizeof(text)), rc = 0, fd;
	outcome_file_name(r->job, r->step, name, sizeof(name));
	if (len < 0) {
		snprintf(err, errlen, "the outcome does not fit %d bytes", OUTCOME_FILE_MAX);
		return len;
	}
	fd = create_temporary(dir_fd, name, tmp, sizeof(tmp));
	if (fd < 0)
		rc = fd;
	errno = EIO;
	if (rc == 0 && write(fd, text, (size_t)len) != len)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	/* Relative to dir_fd: a name in the directory that was checked, whatever its path
	 * leads to now. A link put at name is replaced, never written through. */
	if (rc == 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "cannot write %s/%s: %s", dir, name, strerror(-rc));
		if (fd >= 0)
			unlinkat(dir_fd, tmp, 0);
	}
	return rc;
}
