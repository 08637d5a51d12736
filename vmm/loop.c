#include "vmm/loop.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vmm/container_of.h"
#include "vmm/log.h"

struct io_uring_sqe *loop_sqe(struct loop *l, struct loop_op *op)
{
	struct io_uring_sqe *sqe;
	while (!(sqe = io_uring_get_sqe(&l->ring)))
		io_uring_submit(&l->ring); /* the SQ ring is full: hand it to the kernel */
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

static void kick_arm(struct loop *l)
{
	io_uring_prep_read(loop_sqe(l, &l->kick_op), l->kick_fd, &l->kick_buf, sizeof(l->kick_buf), 0);
}

static void run_tasks(struct loop *l)
{
	pthread_mutex_lock(&l->lock);
	struct loop_task *t = l->tasks;
	l->tasks = NULL;
	while (l->new_pollers) {
		struct loop_poller *p = l->new_pollers;
		l->new_pollers = p->next;
		p->next = l->pollers;
		l->pollers = p;
	}
	pthread_mutex_unlock(&l->lock);

	/* Run in the order they were queued. */
	struct loop_task *rev = NULL;
	while (t) {
		struct loop_task *next = t->next;
		t->next = rev;
		rev = t;
		t = next;
	}
	while (rev) {
		struct loop_task *next = rev->next;
		rev->next = NULL;
		rev->fn(rev);
		rev = next;
	}
}

void loop_defer(struct loop *l, struct loop_task *task)
{
	task->next = l->deferred;
	l->deferred = task;
}

static void run_deferred(struct loop *l)
{
	/* Deferred work may defer more; it runs in this same pass. */
	while (l->deferred) {
		struct loop_task *t = l->deferred;
		l->deferred = t->next;
		t->next = NULL;
		t->fn(t);
	}
}

static void kick_done(struct loop_op *op, int res)
{
	struct loop *l = container_of(op, struct loop, kick_op);
	if (res < 0 && res != -EINTR && res != -EAGAIN)
		log_err("event loop: reading the kick eventfd failed: %s", strerror(-res));
	run_tasks(l);
	if (!l->stopping)
		kick_arm(l);
}

static void stop_fn(struct loop_task *t)
{
	struct loop *l = container_of(t, struct loop, stop_task);
	l->stopping = true;
}

int loop_init(struct loop *l, unsigned int entries)
{
	memset(l, 0, sizeof(*l));
	struct io_uring_params p = {0};
	/*
	 * One thread submits; completions run their task work when it next
	 * enters. The ring starts disabled so that the loop thread, not this
	 * one, becomes its single issuer when it enables it.
	 */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
		  IORING_SETUP_R_DISABLED;
	int ret = io_uring_queue_init_params(entries, &l->ring, &p);
	if (ret == -EINVAL) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(entries, &l->ring, &p);
	}
	if (ret)
		return ret;
	l->enable_on_start = p.flags & IORING_SETUP_R_DISABLED;
	l->kick_fd = eventfd(0, EFD_CLOEXEC);
	if (l->kick_fd < 0) {
		ret = -errno;
		io_uring_queue_exit(&l->ring);
		return ret;
	}
	l->kick_op.cb = kick_done;
	l->stop_task.fn = stop_fn;
	l->poll_ns = LOOP_DEFAULT_POLL_NS;
	const char *env = getenv("KESTREL_POLL_NS");
	if (env)
		l->poll_ns = strtoull(env, NULL, 10);
	pthread_mutex_init(&l->lock, NULL);
	return 0;
}

void loop_add_poller(struct loop *l, struct loop_poller *p)
{
	if (!l->started) {
		p->next = l->pollers;
		l->pollers = p;
		return;
	}
	pthread_mutex_lock(&l->lock);
	p->next = l->new_pollers;
	l->new_pollers = p;
	pthread_mutex_unlock(&l->lock);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Completions are ready, or only need the kernel to run their task work. */
static bool completions_pending(struct loop *l)
{
	if (io_uring_cq_ready(&l->ring))
		return true;
	if (IO_URING_READ_ONCE(*l->ring.sq.kflags) & IORING_SQ_TASKRUN) {
		io_uring_get_events(&l->ring);
		return io_uring_cq_ready(&l->ring) > 0;
	}
	return false;
}

static bool poll_all(struct loop *l)
{
	bool work = false;
	for (struct loop_poller *p = l->pollers; p; p = p->next)
		work |= p->poll(p);
	return work;
}

enum poll_result { POLL_SLEEP, POLL_COMPLETIONS, POLL_AGAIN };

/*
 * Spins for up to poll_ns, serving pollers, until a completion is ready;
 * the deadline restarts whenever a poller found work. POLL_SLEEP: pollers
 * armed, nothing pending; POLL_AGAIN: work arrived while arming.
 */
static enum poll_result busy_poll(struct loop *l)
{
	io_uring_submit(&l->ring);
	uint64_t deadline = now_ns() + l->poll_ns;
	for (;;) {
		if (completions_pending(l))
			return POLL_COMPLETIONS;
		if (poll_all(l)) {
			l->polls_with_work++;
			io_uring_submit(&l->ring);
			run_deferred(l);
			deadline = now_ns() + l->poll_ns;
			continue;
		}
		if (now_ns() >= deadline)
			break;
		__builtin_ia32_pause();
	}
	bool more = false;
	for (struct loop_poller *p = l->pollers; p; p = p->next)
		more |= p->arm(p);
	return more ? POLL_AGAIN : POLL_SLEEP;
}

int loop_restrict(struct loop *l)
{
	if (!l->enable_on_start)
		return -EOPNOTSUPP; /* restrictions go on a ring before it is enabled */
	static const uint8_t ops[] = {
		IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV, IORING_OP_WRITEV,
		IORING_OP_FSYNC, IORING_OP_FALLOCATE, IORING_OP_ACCEPT, IORING_OP_RECV,
		IORING_OP_SEND, IORING_OP_TIMEOUT,
	};
	struct io_uring_restriction res[sizeof(ops)];
	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < sizeof(ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	/*
	 * No SQE flags are allowed (kestrel sets none), and no register opcodes.
	 * Debian 12's liburing 2.3 declares a wrapper for this but does not export it.
	 */
	if (syscall(__NR_io_uring_register, l->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res,
		    (unsigned)sizeof(ops)) < 0)
		return -errno;
	return 0;
}

static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	if (l->enable_on_start) {
		/* liburing 2.3 (Debian 12) has no wrapper for this registration. */
		if (syscall(__NR_io_uring_register, l->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			    NULL, 0) < 0) {
			log_err("event loop: enabling the ring failed: %s", strerror(errno));
			abort();
		}
	}
	if (l->on_thread_start && l->on_thread_start(l)) {
		log_err("event loop: its thread could not be set up");
		abort();
	}
	kick_arm(l);
	run_tasks(l); /* work queued before the thread started */
	while (!l->stopping) {
		/* With completions ready, the wait below returns at once. */
		if (l->pollers && l->poll_ns && busy_poll(l) == POLL_AGAIN)
			continue;
		int ret = io_uring_submit_and_wait(&l->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) {
			log_err("event loop: io_uring_submit_and_wait: %s", strerror(-ret));
			abort();
		}
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&l->ring, head, cqe) {
			struct loop_op *op = io_uring_cqe_get_data(cqe);
			int res = cqe->res;
			seen++;
			if (op)
				op->cb(op, res);
		}
		io_uring_cq_advance(&l->ring, seen);
		run_deferred(l);
	}
	return NULL;
}

int loop_start(struct loop *l)
{
	int ret = pthread_create(&l->thread, NULL, loop_thread, l);
	if (ret)
		return -ret;
	l->started = true;
	return 0;
}

void loop_call(struct loop *l, struct loop_task *task)
{
	pthread_mutex_lock(&l->lock);
	task->next = l->tasks;
	l->tasks = task;
	pthread_mutex_unlock(&l->lock);
	uint64_t one = 1;
	/* An eventfd write never blocks while the counter is far from overflow. */
	if (write(l->kick_fd, &one, sizeof(one)) < 0)
		log_err("event loop: kick failed: %s", strerror(errno));
}

void loop_stop(struct loop *l)
{
	if (!l->started)
		return;
	loop_call(l, &l->stop_task);
	pthread_join(l->thread, NULL);
	l->started = false;
}

void loop_destroy(struct loop *l)
{
	io_uring_queue_exit(&l->ring);
	close(l->kick_fd);
	pthread_mutex_destroy(&l->lock);
}

bool loop_run_pending(struct loop *l, unsigned int max_rounds)
{
	for (unsigned i = 0; i < max_rounds; i++) {
		pthread_mutex_lock(&l->lock);
		bool queued = l->tasks != NULL;
		pthread_mutex_unlock(&l->lock);
		if (!queued && !l->deferred)
			return true;
		run_tasks(l);
		run_deferred(l);
	}
	return false;
}

bool loop_on_thread(const struct loop *l)
{
	return l->started && pthread_equal(pthread_self(), l->thread);
}

static void watch_arm(struct loop_watch *w)
{
	io_uring_prep_read(loop_sqe(w->loop, &w->op), w->fd, w->buf, w->len, 0);
}

static void watch_done(struct loop_op *op, int res)
{
	struct loop_watch *w = container_of(op, struct loop_watch, op);
	w->fn(w, res);
	if (!w->loop->stopping)
		watch_arm(w);
}

static void watch_arm_task(struct loop_task *t)
{
	watch_arm(container_of(t, struct loop_watch, arm));
}

void loop_watch(struct loop *l, struct loop_watch *w, int fd, void *buf, unsigned int len,
		void (*fn)(struct loop_watch *w, int res))
{
	w->op.cb = watch_done;
	w->arm.fn = watch_arm_task;
	w->loop = l;
	w->fd = fd;
	w->buf = buf;
	w->len = len;
	w->fn = fn;
	loop_call(l, &w->arm);
}
