/*
 * rendezvous.c: starting the step's rendezvous from srun (see rendezvous.h).
 *
 * The server must not hold anything of srun's: process_start_detached (process_start.h)
 * runs it in a session of its own, as a grandchild (srun never waits for it), with the
 * signal mask srun gave its threads cleared, its standard streams on /dev/null (or
 * `$(srun ...)` would wait for its stdout to close) and every descriptor closed but three:
 * the listening socket (3), a pidfd of srun (4) and, until execve succeeds, a close-on-exec
 * socket that says why it failed. srun has threads: everything the children need is
 * prepared here, before the fork.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal/process_start.h"
#include "internal/settings.h"
#include "rendezvous.h"

#define RENDEZVOUS_ARG_MAX 12
#define LISTEN_FD 3
#define PARENT_PIDFD 4
#define TOKEN_BYTES 16
#define EXEC_REPORT_MS 5000

struct server_plan {
	char *argv[RENDEZVOUS_ARG_MAX];
	char *envp[3];
	const char *path;
	int listen_fd;
	int pidfd;
};

static int format_arg(char **slot, const char *format, ...) __attribute__((format(printf, 2, 3)));
static int format_arg(char **slot, const char *format, ...)
{
	va_list args;
	int rc;

	va_start(args, format);
	rc = vasprintf(slot, format, args);
	va_end(args);
	return rc < 0 ? -ENOMEM : 0;
}

static void free_plan(struct server_plan *plan)
{
	for (int i = 0; i < RENDEZVOUS_ARG_MAX && plan->argv[i]; i++)
		free(plan->argv[i]);
	for (int i = 0; i < 3 && plan->envp[i]; i++)
		free(plan->envp[i]);
}

static int build_plan(const struct lcr_site_config *site, uint32_t job_id, uint32_t step_id,
		      const char *log_level, const char *token, struct server_plan *plan)
{
	int n = 0, rc = 0;

	rc |= format_arg(&plan->argv[n++], "%s", site->helper);
	rc |= format_arg(&plan->argv[n++], "--rendezvous-server");
	rc |= format_arg(&plan->argv[n++], "--job-id=%u", job_id);
	rc |= format_arg(&plan->argv[n++], "--step-id=%u", step_id);
	rc |= format_arg(&plan->argv[n++], "--listen-fd=%d", LISTEN_FD);
	rc |= format_arg(&plan->argv[n++], "--parent-pidfd=%d", PARENT_PIDFD);
	rc |= format_arg(&plan->argv[n++], "--munge-socket=%s", site->munge_socket);
	rc |= format_arg(&plan->argv[n++], "--log-level=%s", log_level);
	rc |= format_arg(&plan->argv[n++], "--%s=%s", lcr_settings[LCR_SETTING_WIRE_ENCRYPTION].lcrd_arg,
			 site->wire_encryption ? "true" : "false");
	plan->argv[n] = NULL;
	rc |= format_arg(&plan->envp[0], "LCR_RENDEZVOUS_TOKEN=%s", token);
	rc |= format_arg(&plan->envp[1], "PATH=/usr/bin:/bin");
	plan->envp[2] = NULL;
	plan->path = site->helper;
	return rc < 0 ? -ENOMEM : 0;
}

/* A TCP socket listening on every address, IPv6 and IPv4 when the host has IPv6. */
static int open_listener(uint16_t *port)
{
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct sockaddr_storage bound;
	socklen_t len = sizeof(bound);
	int off = 0, rc, fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
			bind(fd, (struct sockaddr *)&any6, sizeof(any6)) < 0)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&any4, sizeof(any4)) < 0)
			goto fail;
	}
	if (listen(fd, SOMAXCONN) < 0 || getsockname(fd, (struct sockaddr *)&bound, &len) < 0)
		goto fail;
	*port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						  : ((struct sockaddr_in *)&bound)->sin_port);
	return fd;
fail:
	rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

static int make_token(char *out, size_t outlen)
{
	unsigned char bytes[TOKEN_BYTES];

	if (outlen < 2 * TOKEN_BYTES + 1 || getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes))
		return -EIO;
	for (size_t i = 0; i < sizeof(bytes); i++)
		snprintf(out + 2 * i, 3, "%02x", bytes[i]);
	return 0;
}

/* Starts the server detached: 0 once it was executed, or -errno with why. */
static int launch(const struct server_plan *plan, char *why, size_t whylen)
{
	struct process_plan exec_plan = PROCESS_PLAN_INIT;
	struct process_detached started;
	int rc;

	exec_plan.path = plan->path;
	exec_plan.argv = plan->argv;
	exec_plan.envp = plan->envp;
	exec_plan.keep[0] = (struct process_fd){ plan->listen_fd, LISTEN_FD };
	exec_plan.keep[1] = (struct process_fd){ plan->pidfd, PARENT_PIDFD };
	exec_plan.keep_count = 2;
	exec_plan.dir = "/";
	rc = process_start_detached(&exec_plan, EXEC_REPORT_MS, &started, why, whylen);
	if (rc < 0)
		return rc;
	return process_detached_finish(&started, why, whylen);
}

int rendezvous_start(const struct lcr_site_config *site, uint32_t job_id, uint32_t step_id,
		     const char *log_level, char *err, size_t errlen)
{
	struct server_plan plan = { .listen_fd = -1, .pidfd = -1 };
	char token[2 * TOKEN_BYTES + 1], port_text[8], why[256] = "";
	uint16_t port = 0;
	int rc;

	rc = make_token(token, sizeof(token));
	if (rc < 0) {
		snprintf(err, errlen, "lcr: cannot make the step's rendezvous token: getrandom failed");
		return rc;
	}
	rc = build_plan(site, job_id, step_id, log_level, token, &plan);
	if (rc < 0) {
		snprintf(err, errlen, "lcr: cannot prepare the rendezvous command: out of memory");
		goto out;
	}
	plan.listen_fd = open_listener(&port);
	if (plan.listen_fd < 0) {
		rc = plan.listen_fd;
		snprintf(err, errlen, "lcr: cannot open the step's rendezvous socket: %s", strerror(-rc));
		goto out;
	}
	plan.pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (plan.pidfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot open a pidfd of srun for the rendezvous: %s", strerror(errno));
		goto out;
	}
	rc = launch(&plan, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "lcr: cannot start the rendezvous %s: %s", site->helper,
			 why[0] ? why : strerror(-rc));
		goto out;
	}
	snprintf(port_text, sizeof(port_text), "%u", port);
	if (setenv("LCR_RENDEZVOUS", port_text, 1) < 0 || setenv("LCR_RENDEZVOUS_TOKEN", token, 1) < 0) {
		rc = -errno;
		snprintf(err, errlen, "lcr: cannot export the rendezvous to the step: %s", strerror(errno));
	}
out:
	if (plan.listen_fd >= 0)
		close(plan.listen_fd);
	if (plan.pidfd >= 0)
		close(plan.pidfd);
	free_plan(&plan);
	return rc;
}
