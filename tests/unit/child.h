/*
 * A check run in a forked child with its stderr captured: for the seccomp
 * and jail tests, whose filters, namespaces and credentials cannot be
 * undone in the test process.
 */
#ifndef KESTREL_TEST_CHILD_H
#define KESTREL_TEST_CHILD_H

struct outcome {
	int status; /* the child's exit status, or 128 + the signal that ended it */
	char msg[512]; /* what it wrote on stderr (the first 511 bytes) */
};

/* body(arg) runs in the child, which exits with what it returns. */
struct outcome child_run(int (*body)(void *arg), void *arg);

#endif
