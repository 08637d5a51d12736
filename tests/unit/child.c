#include "tests/unit/child.h"

#include <criterion/criterion.h>
#include <sys/wait.h>
#include <unistd.h>

struct outcome child_run(int (*body)(void *arg), void *arg)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		close(p[1]);
		_exit(body(arg));
	}
	close(p[1]);
	struct outcome o = {0};
	size_t n = 0;
	ssize_t r;
	while (n < sizeof(o.msg) - 1 && (r = read(p[0], o.msg + n, sizeof(o.msg) - 1 - n)) > 0)
		n += (size_t)r;
	close(p[0]);
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return o;
}
