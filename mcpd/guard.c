/* The guard process: see guard.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "guard.h"
#include "log.h"

/* One message: a process group, positive to add, negative to remove. */
typedef int32_t guard_msg;

#define GUARD_MAX_GROUPS 65536

/* How long the guard waits for killed servers to leave their cgroups before it removes them. */
#define GUARD_CGROUP_WAIT_MS 5000

static int guard_fd = -1;
static pid_t guard;
static unsigned long long dropped;	/* messages the guard did not take: its pipe was full */

static void guard_main(int fd, const char *cgroups)
{
	static pid_t groups[GUARD_MAX_GROUPS];
	size_t n = 0;
	sigset_t all;

	/* Not in mcpd's session: a ^C at mcpd's terminal is not for the guard. */
	setsid();
	prctl(PR_SET_NAME, "mcpd-guard");
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int i = 3; i < 1024; i++)
		if (i != fd)
			close(i);

	for (;;) {
		guard_msg msg;
		ssize_t r = read(fd, &msg, sizeof(msg));

		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(msg))
			break;	/* EOF: mcpd is gone, or said goodbye */
		if (msg > 0 && n < GUARD_MAX_GROUPS) {
			groups[n++] = msg;
		} else if (msg < 0) {
			for (size_t i = 0; i < n; i++) {
				if (groups[i] == -msg) {
					groups[i] = groups[--n];
					break;
				}
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		kill(-groups[i], SIGKILL);
	/* Exact: whatever a server left behind, double-forked and setsid()'d included. */
	cgroup_kill_tree(cgroups, GUARD_CGROUP_WAIT_MS);
	_exit(0);
}

int guard_start(void)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		close(fds[1]);
		guard_main(fds[0], cgroup_base());
	}
	close(fds[0]);
	/* Never block the loop on the guard: a full pipe drops the message (counted, warned once). */
	fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
	guard_fd = fds[1];
	guard = pid;
	return 0;
}

static void send_msg(guard_msg msg)
{
	ssize_t r;

	if (guard_fd < 0)
		return;
	/* 4 bytes, smaller than PIPE_BUF: written whole or not at all. */
	do
		r = write(guard_fd, &msg, sizeof(msg));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(msg))
		return;
	if (r < 0 && errno == EAGAIN) {
		if (dropped++ == 0)
			log_warning(NULL, NULL, "guard: its pipe is full, the guard does not read; process groups "
				    "started from now on may outlive a killed mcpd (dropped messages are counted)");
		return;
	}
	log_warning(NULL, NULL, "the guard process is gone: orphans may outlive a killed mcpd");
	close(guard_fd);
	guard_fd = -1;
}

pid_t guard_pid(void)
{
	return guard;
}

void guard_add(pid_t pgid)
{
	send_msg((guard_msg)pgid);
}

void guard_remove(pid_t pgid)
{
	send_msg(-(guard_msg)pgid);
}

void guard_stop(void)
{
	if (dropped > 0)
		log_warning(NULL, NULL, "guard: dropped %llu messages in all: its pipe was full", dropped);
	if (guard_fd >= 0)
		close(guard_fd);
	guard_fd = -1;
	if (guard <= 0)
		return;
	/* Bounded: the guard kills what is left and waits at most GUARD_CGROUP_WAIT_MS. */
	waitpid(guard, NULL, 0);
	guard = 0;
}
