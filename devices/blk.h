/*
 * The block backend every disk frontend (virtio-blk, AHCI, virtio-scsi)
 * sits on. It owns the image file and is the only place that knows the cache
 * policy: frontends submit reads, writes, flushes, discards and write-zeroes
 * as struct blk_req and derive what they advertise from
 * blk_has_volatile_cache() and blk_write_cache_enabled().
 *
 * Durability rules kept here (FACTS §5.4, §8), one for every frontend:
 *  - a flush completes only after every write, write-zeroes and discard that
 *    completed before the flush arrived is on stable storage: a per-disk
 *    generation of completed cached changes, never IOSQE_IO_DRAIN (ring-wide;
 *    it would stall the loop);
 *  - concurrent flushes share one host fdatasync, and none is issued when
 *    nothing was changed since the last one;
 *  - FUA writes, and every write while the cache is off (by policy or by the
 *    guest), carry RWF_DSYNC;
 *  - while the cache is off, no change completes before everything that
 *    completed before it is on stable storage too: a cached write still in
 *    flight when the guest turned the cache off, a discard, the writes
 *    cached before the switch (its flush must finish first);
 *  - a failed durable host operation (fdatasync, an RWF_DSYNC write,
 *    fallocate) is sticky for as long as the image is open: the kernel
 *    reports a writeback error once, so the data it stood for may be gone.
 *    From then on every flush, FUA write and write with the cache off fails.
 *    Only ENOSPC/EDQUOT that cannot hide a writeback error (on fallocate; on
 *    a write with O_DIRECT or with nothing cached awaiting writeback) is not;
 *  - `unsafe` never asks the host for durability, whatever the guest does.
 *
 * Threads: blk_submit() and the completions run on the loop thread;
 * blk_set_write_cache() may be called from any thread.
 */
#ifndef KESTREL_BLK_H
#define KESTREL_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/blk_cache.h"
#include "vmm/disk_spec.h"
#include "vmm/loop.h"
#include "vmm/vm_ctl.h"

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
};

#define BLK_REQ_FUA 1u /* the write is durable before it completes */

/*
 * O_DIRECT needs aligned buffers; a guest's unaligned ones are copied
 * through a bounce buffer of at most BLK_BOUNCE_CHUNK bytes per request (a
 * larger request moves chunk by chunk), and a disk never holds more than
 * BLK_BOUNCE_BUDGET bytes of them at once: a request that would exceed it
 * waits for another to finish. So a guest cannot make a disk allocate more
 * than the budget however large or many its requests (CVE-2016-7422 class).
 */
#define BLK_BOUNCE_CHUNK (256u << 10)
#define BLK_BOUNCE_BUDGET (4u << 20)
#define BLK_REQ_INTERNAL 0x100u /* the backend's own request: not counted as the guest's */

struct blk;

struct blk_req {
	/* Filled in by the frontend. */
	enum blk_op op;
	unsigned int flags;
	uint64_t offset;    /* bytes */
	uint64_t len;       /* bytes; for READ/WRITE the iovecs' total, set by blk_submit */
	struct iovec *iov;  /* READ/WRITE; the backend may rewrite these entries */
	unsigned int niov;
	/* res is 0, or -EIO, -EROFS, -EINVAL (bad range), -EOPNOTSUPP, ... */
	void (*done)(struct blk_req *req, int res);

	/* Backend-private. */
	struct blk *blk;
	struct loop_op io_op;
	struct blk_req *next;
	uint64_t remaining;
	int rw_flags;
	int stage;
	void *bounce;             /* O_DIRECT copy of an unaligned request, one chunk */
	uint32_t bounce_len;      /* its size */
	struct iovec bounce_iov;
	void (*reissue)(struct blk_req *req); /* held for werror=stop: how to try again */
	/* The write log (blklog/format.h). */
	uint64_t req_no;     /* this disk's request number */
	uint64_t log_mark;   /* the log's next seq when a flush arrived or a change finished */
	bool promise_all;    /* completing it tells the guest everything before it is durable */
	void (*log_resume)(struct blk_req *req, int res); /* waiting for room in the log */
	int log_res;
	uint64_t t_submit_ns; /* CLOCK_MONOTONIC at blk_submit: the latency counters */
};

/* One host operation the backend asks for: what io_uring runs. */
enum blk_io_kind { BLK_IO_READV, BLK_IO_WRITEV, BLK_IO_FDATASYNC, BLK_IO_FALLOCATE };

struct blk_io {
	enum blk_io_kind kind;
	int fd;
	const struct iovec *iov;
	unsigned int niov;
	uint64_t offset;
	uint64_t len;
	int rw_flags; /* RWF_DSYNC */
	int mode;     /* fallocate mode */
	struct loop_op *op; /* completion: op->cb(op, result) on the loop thread */
};

/* Runs host operations; unit tests substitute one that records them. */
struct blk_engine {
	void (*submit)(struct blk_engine *e, const struct blk_io *io);
};

struct blk_stats {
	uint64_t reads, writes, read_bytes, write_bytes;
	uint64_t flushes;      /* flush requests from the guest */
	uint64_t host_flushes; /* fdatasync calls issued */
	uint64_t fua_writes;   /* writes the guest marked FUA */
	uint64_t dsync_writes; /* writes issued with RWF_DSYNC (FUA or cache off) */
	uint64_t discards, write_zeroes;
	uint64_t errors;       /* requests completed with an error */
	uint64_t held;         /* requests held for lack of host space (werror=stop) */
	uint64_t bounced;      /* requests copied through a bounce buffer */
	uint64_t bounce_waits; /* of those, waited for the disk's bounce budget */
	uint64_t bounce_peak;  /* most bounce bytes held at once */
	uint64_t invalid;      /* requests refused at once: out of range, misaligned, unsupported */
	uint64_t swaps, swap_fails; /* images swapped in (PATCH /drives), and refused */
	/*
	 * Microseconds from submission to completion of the reads and writes
	 * that succeeded: sums since the start, min and max since the metrics
	 * last reset them (BLK_LATENCY_NONE: none since).
	 */
	uint64_t read_us_sum, write_us_sum;
	uint64_t read_us_min, read_us_max, write_us_min, write_us_max;
};

#define BLK_LATENCY_NONE UINT64_MAX
/* Loop thread: the min/max latency window starts again (the metrics' line). */
void blk_stats_reset_latency(struct blk_stats *s);

/*
 * Test-only ways to make a disk lie, to prove the write log's promise check
 * catches broken devices (`x-lie=` in --disk; never in --help).
 */
enum blk_lie {
	BLK_LIE_NONE,
	BLK_LIE_HIDE_CACHE, /* says it has no write cache, but caches (2009's IDE) */
	BLK_LIE_NO_FLUSH,   /* acknowledges flushes without a host flush */
	BLK_LIE_NO_FUA,     /* treats FUA writes as ordinary cached ones */
};

struct blk_log;
struct blk_swap;

struct blk {
	int fd;
	char name[64]; /* for messages: the file's base name */
	uint64_t size;
	uint32_t block_size; /* logical block the guest must use: 512, or the O_DIRECT alignment */
	uint32_t mem_align;  /* buffer alignment O_DIRECT needs; 1 without O_DIRECT */
	bool readonly;
	enum blk_cache mode;
	const struct blk_cache_policy *policy;
	char serial[DISK_SERIAL_MAX + 1];

	struct blk_engine *engine;
	struct blk_engine uring; /* the default engine, on `loop` */
	struct loop *loop;

	enum disk_werror werror;
	struct vm_ctl *ctl;      /* pauses the guest for werror=stop; NULL: report instead */

	bool guest_wce;          /* atomic: the guest's write-cache switch */
	bool wce_flush_queued;   /* atomic: wce_flush_task is queued and has not started */
	struct loop_task wce_flush_task;

	/* Loop thread only. */
	uint64_t dirty_gen;      /* completed changes that may still be in a volatile cache */
	uint64_t flushed_gen;    /* dirty_gen covered by the last successful host flush */
	uint64_t flight_gen;     /* dirty_gen when the in-flight host flush started */
	uint64_t want_gen;       /* a host flush must cover this much without a request waiting */
	bool flush_in_flight;
	struct loop_op flush_op;
	struct blk_req *flush_waiting; /* covered by the in-flight host flush */
	struct blk_req *flush_next;    /* need another host flush after it */
	int flush_error;               /* sticky while open: 0 or the failed operation's -errno */
	struct blk_req *held;          /* werror=stop: waiting for host space */
	uint64_t bounce_bytes;         /* bounce buffers held now, at most BLK_BOUNCE_BUDGET */
	struct blk_req *bounce_wait, *bounce_wait_tail; /* waiting for bounce memory, oldest first */
	unsigned int inflight;         /* requests submitted and not yet done */
	struct blk_stats stats;

	enum blk_lie lie;
	/* The write log, or NULL (log=FILE). Loop thread. */
	struct blk_log *log;
	uint64_t next_req;
	uint64_t log_flight_mark;      /* the log's next seq when the in-flight host flush started */
	struct blk_req *log_wait, *log_wait_tail; /* waiting for room in the log, oldest first */
	/* The image being swapped (blk_swap_start), or NULL. Loop thread. */
	struct blk_swap *swap;
};

/*
 * Giving a running disk a new image (PATCH /drives). The guest's requests
 * that arrive meanwhile wait (they count as in flight, so a frontend reset
 * waits for them too) and go to the new image; the swap happens once every
 * other request has finished and what was written to the old image is
 * flushed (not with `unsafe`), so nothing the guest wrote is left unflushed
 * in a file kestrel no longer holds.
 */
struct blk_swap {
	/*
	 * The new image, opened and checked by blk_open (main thread) with the
	 * disk's cache mode and read-only flag. After a swap it holds the old
	 * one, for the caller to blk_close off the loop.
	 */
	struct blk *fresh;
	/* Loop thread: 0, or -errno with the reason in msg (the disk keeps its old image). */
	void (*done)(struct blk_swap *s, int res);
	char msg[256];

	/* The backend's. */
	struct blk *b;
	struct blk_req *waiting, *waiting_tail; /* the guest's requests meanwhile, oldest first */
	unsigned int nwaiting;
	bool stepping;
};

/*
 * Opens d->path with the policy's flags and checks it: it exists, its size is
 * a non-zero multiple of 512, O_DIRECT works when the policy needs it, and no
 * other process holds it in a conflicting way (QEMU-compatible OFD locks).
 * Main thread, before the guest starts; err names the file and the problem.
 */
__attribute__((warn_unused_result)) int blk_open(struct blk *b, const struct disk_config *d,
						 char *err, size_t errlen);
void blk_close(struct blk *b);

/* Binds the backend to the loop (engine NULL: io_uring on that loop). Main thread. */
void blk_attach(struct blk *b, struct loop *loop, struct blk_engine *engine);
/*
 * Records this disk's events in b->log (opened by blk_open for log=, or by a
 * test with blk_log_open), written with
 * log_engine (NULL: the disk's io_uring engine); ctl stops the VM if the
 * log cannot be written. Main thread, after blk_attach.
 */
void blk_attach_log(struct blk *b, struct blk_engine *log_engine, struct vm_ctl *ctl);

/* For unit tests: a backend on fd with the given policy and no file checks. */
void blk_init_fake(struct blk *b, int fd, uint64_t size, enum blk_cache mode, bool readonly);

/* Loop thread. Always finishes through req->done, also for requests refused at once. */
void blk_submit(struct blk *b, struct blk_req *req);

/* Whether the policy offers the guest a volatile write cache at all. */
bool blk_has_volatile_cache(const struct blk *b);
/* Whether writes are cached right now: the policy has a cache and the guest left it on. */
bool blk_write_cache_enabled(const struct blk *b);
/*
 * The guest's switch; any thread. Turning the cache off makes every later
 * write durable and starts a host flush for the writes cached before.
 */
void blk_set_write_cache(struct blk *b, bool enabled);

/* Loop thread: requests not yet done (a frontend's reset waits for 0). */
unsigned int blk_inflight(const struct blk *b);
/*
 * Loop thread, with nothing in flight (device reset): the guest's cache
 * switch goes back on. A failed host flush stays sticky: the kernel will not
 * report the lost writeback again.
 */
void blk_reset(struct blk *b);
/*
 * Main thread, the loop stopped, nothing in flight: at exit, makes what the
 * guest wrote durable when the policy has a volatile cache (not `unsafe`),
 * as QEMU does when a VM stops. Returns -errno (already reported) on failure.
 */
int blk_final_flush(struct blk *b);
/* Loop thread: tries the requests werror=stop held again (the operator freed space). */
void blk_retry_held(struct blk *b);
/* Loop thread: requests held by werror=stop. */
unsigned int blk_held(const struct blk *b);

/*
 * Whether fresh (opened by blk_open) can replace b's image without the
 * guest seeing a different logical block size: its own O_DIRECT block
 * divides b's, and its size is a multiple of b's. Any thread that owns
 * fresh; b's block size never changes. 0, or -EINVAL with a message.
 */
int blk_swap_check(const struct blk *b, const struct blk *fresh, char *err, size_t errlen);
/*
 * Loop thread: starts swapping b's image for s->fresh; s->done says how it
 * went (perhaps before this returns). Refused at once (done with -EBUSY,
 * -EIO, -EINVAL) while another swap runs, while werror=stop holds writes,
 * after a host flush of the old image failed (its data may be lost, and
 * the guest must still hear so), or with a write log (log=: one log, one
 * image).
 */
void blk_swap_start(struct blk *b, struct blk_swap *s);
/* The image's size in bytes; any thread (a swap changes it on the loop). */
uint64_t blk_size(const struct blk *b);

void blk_print_stats(const struct blk *b, const char *label);

#endif
