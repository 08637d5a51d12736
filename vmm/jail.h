/*
 * The jail (--chroot DIR --uid N --gid N): what Firecracker's jailer does
 * before it runs Firecracker, done by kestrel itself once it has opened
 * everything its command line names. A guest that breaks into the monitor
 * then finds a root that is DIR, no way back to the host's file system, no
 * environment, uid and gid N with no capabilities, no_new_privs, bounded
 * rlimits, and (with seccomp) a few system calls per thread.
 *
 * Main thread only, before any other thread exists: unshare(CLONE_NEWNS)
 * and the credential changes act on the calling thread's view, and a fork
 * (--new-pid-ns) keeps only the calling thread.
 */
#ifndef KESTREL_JAIL_H
#define KESTREL_JAIL_H

#include <stddef.h>

#include "vmm/config.h"

/*
 * As kestrel starts, before it opens anything: closes every descriptor
 * above 2 that it inherited (the jail keeps only what kestrel opened), and
 * checks that DIR is a directory and that kestrel runs as root. -1 with a
 * message (the user's to fix: exit 2).
 */
int jail_check(const struct jail_config *j, char *err, size_t errlen);

/*
 * --new-pid-ns, right after jail_check: forks into a new PID namespace.
 * Returns 0 in the child (PID 1 there), which goes on to be kestrel. The
 * parent holds nothing (only descriptors 0-2 are open yet): it forwards
 * SIGINT, SIGTERM, SIGHUP and SIGUSR1 to the child and returns 1 once the
 * child ended, with the child's exit status (128 + N if signal N ended it)
 * in *exit_status, for main to exit with. -1 with a message.
 */
int jail_new_pid_ns(int *exit_status, char *err, size_t errlen);

/*
 * Once every file the command line names is open (and /dev/kvm, and the
 * API socket is bound): a new mount namespace whose root is DIR (bind
 * mount, pivot_root, the old root detached), an empty environment, the
 * rlimits, uid and gid N with no supplementary groups, no capabilities in
 * any set (bounding and ambient too) and no_new_privs. After it, every path
 * is resolved inside DIR. -1 with a message naming the step that failed.
 */
int jail_enter(const struct jail_config *j, char *err, size_t errlen);

#endif
