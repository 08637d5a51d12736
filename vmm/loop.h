/*
 * The single io_uring event loop. One thread owns the ring and runs every
 * completion callback; other threads reach it only through loop_call() (and
 * the eventfds KVM signals for them). Nothing on the loop thread blocks.
 *
 * An operation is a struct loop_op embedded in its owner; its address is the
 * SQE's user_data, and its callback gets the CQE result (-errno on failure).
 */
#ifndef KESTREL_LOOP_H
#define KESTREL_LOOP_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct loop_op {
	void (*cb)(struct loop_op *op, int res);
};

/* Work handed to the loop thread from any thread. */
struct loop_task {
	void (*fn)(struct loop_task *task);
	struct loop_task *next;
};

/* A file descriptor the loop reads whenever it is readable (eventfd, signalfd, …). */
struct loop_watch {
	struct loop_op op;
	struct loop_task arm;
	struct loop *loop;
	int fd;
	void *buf;
	unsigned int len;
	/* Called on the loop thread with the read's result; the read is re-armed after. */
	void (*fn)(struct loop_watch *w, int res);
};

/*
 * Work the loop looks for itself, instead of waiting for an eventfd: before
 * it sleeps, the loop spins for up to poll_ns calling poll() (true: it found
 * and did work). While pollers are being polled their devices need no
 * notifications; arm() is called before sleeping to turn them back on, and
 * returns true if work arrived meanwhile (then the loop keeps going).
 */
struct loop_poller {
	bool (*poll)(struct loop_poller *p);
	bool (*arm)(struct loop_poller *p);
	struct loop_poller *next;
};

#define LOOP_DEFAULT_POLL_NS 32000 /* like QEMU's default poll-max-ns */

struct loop {
	struct io_uring ring;
	pthread_t thread;
	bool started;
	bool enable_on_start;
	int kick_fd;
	uint64_t kick_buf;
	struct loop_op kick_op;
	pthread_mutex_t lock;
	struct loop_task *tasks; /* under lock, newest first */
	bool stopping;           /* loop thread only */
	struct loop_task *deferred; /* loop thread only: run after the current batch */
	struct loop_poller *pollers; /* loop thread (or anyone before loop_start) */
	struct loop_poller *new_pollers; /* under lock: added while the loop runs */
	uint64_t poll_ns;            /* 0: never spin */
	uint64_t polls_with_work;    /* stats */
	struct loop_task stop_task;
	/* Run first on the loop thread, before any task or completion (seccomp). */
	int (*on_thread_start)(struct loop *l);
};

/* Main thread, before loop_start. */
__attribute__((warn_unused_result)) int loop_init(struct loop *l, unsigned int entries);
__attribute__((warn_unused_result)) int loop_start(struct loop *l);

/*
 * Main thread, before loop_start: the ring takes only the operations
 * kestrel submits (read, write, readv, writev, fsync, fallocate, accept,
 * recv, send, timeout) and no further registrations. io_uring operations do
 * not pass through seccomp, so without this a confined loop could still
 * open files through its ring. -EOPNOTSUPP when the ring could not be
 * created disabled (a kernel before 5.10), else 0 or -errno.
 */
__attribute__((warn_unused_result)) int loop_restrict(struct loop *l);
/* Main thread: asks the loop to finish and joins it. */
void loop_stop(struct loop *l);
void loop_destroy(struct loop *l);

/*
 * Main thread. Before loop_start the poller is polled from the first pass;
 * once the loop runs (the API socket starts it before the VM is built) it
 * joins at the loop's next task pass, which any loop_call() brings about.
 */
void loop_add_poller(struct loop *l, struct loop_poller *p);

/* Any thread: runs task->fn on the loop thread soon. A task may be queued once at a time. */
void loop_call(struct loop *l, struct loop_task *task);

/* Any thread: starts watching fd; reads of len bytes into buf feed w->fn. */
void loop_watch(struct loop *l, struct loop_watch *w, int fd, void *buf, unsigned int len,
		void (*fn)(struct loop_watch *w, int res));

/*
 * Loop thread only: runs task->fn once the completions at hand have all been
 * handled, before the next submit (e.g. one interrupt for a batch of
 * completions). A task may be deferred once at a time.
 */
void loop_defer(struct loop *l, struct loop_task *task);

/* Loop thread only: an SQE whose completion goes to op->cb. Never NULL. */
struct io_uring_sqe *loop_sqe(struct loop *l, struct loop_op *op);

/*
 * Unit tests and fuzz targets, on a loop that was never started: runs the
 * tasks handed to it and the deferred ones, as the loop thread would, until
 * none are left or `max_rounds` passes have run. Returns false if work was
 * still queued then (a task that keeps queueing itself: a livelock).
 */
bool loop_run_pending(struct loop *l, unsigned int max_rounds);

/* True on the loop thread; for assertions. */
bool loop_on_thread(const struct loop *l);

#endif
