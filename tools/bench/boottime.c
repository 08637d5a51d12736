/*
 * boottime: runs a VMM command and prints, on one line,
 *   marker_ms exit_ms maxrss_kib status
 * where marker_ms is the time from fork to the first output line starting
 * with the marker, exit_ms the time to the process's exit, and maxrss_kib
 * its peak resident memory (VmHWM, from wait4). Used by tools/bench-boot.
 * Usage: boottime MARKER COMMAND [ARG]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: boottime MARKER COMMAND [ARG]...\n");
		return 2;
	}
	const char *marker = argv[1];
	size_t mlen = strlen(marker);
	int fds[2];
	if (pipe(fds) < 0)
		return 1;
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	close(fds[1]);
	double marker_ms = -1;
	char buf[65536];
	size_t have = 0;
	ssize_t n;
	while ((n = read(fds[0], buf + have, sizeof(buf) - have)) > 0) {
		have += (size_t)n;
		if (marker_ms < 0) {
			/* Look for the marker at the start of a line. */
			for (size_t i = 0; i + mlen <= have; i++) {
				if ((i == 0 || buf[i - 1] == '\n') && !memcmp(buf + i, marker, mlen)) {
					marker_ms = now_ms() - t0;
					break;
				}
			}
		}
		if (have > sizeof(buf) / 2) { /* keep the tail for a marker split across reads */
			memmove(buf, buf + have - mlen, mlen);
			have = mlen;
		}
	}
	int status;
	struct rusage ru;
	wait4(pid, &status, 0, &ru);
	double exit_ms = now_ms() - t0;
	printf("%.2f %.2f %ld %d\n", marker_ms, exit_ms, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
