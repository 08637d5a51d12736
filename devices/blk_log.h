/*
 * The writer of a disk's write log (`--disk ...,log=FILE`; the format is
 * blklog/format.h). Entries are appended to memory on the loop thread, in
 * the order things happen there, and written out through the same loop's
 * io_uring, one write at a time, never blocking it. The backend stops
 * telling the guest about completions while more than BLK_LOG_BACKLOG bytes
 * wait to be written (blk_log_full), so a guest cannot outrun the log and
 * grow host memory without bound. A log that cannot be written stops the VM
 * with a message naming it: entries are never dropped silently.
 *
 * Threads: blk_log_open and blk_log_close on the main thread, while the
 * loop is not running this disk; everything else on the loop thread.
 */
#ifndef KESTREL_BLK_LOG_H
#define KESTREL_BLK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "blklog/format.h"
#include "vmm/loop.h"
#include "vmm/vm_ctl.h"

#define BLK_LOG_CHUNK (1u << 20)     /* memory is taken and written in pieces of this */
#define BLK_LOG_BACKLOG (16u << 20)  /* unwritten bytes at which completions wait */
#define BLK_LOG_MAX_IOV 64

struct blk_engine;
struct blk_log_chunk;

struct blk_log {
	int fd;
	char path[4096];
	struct loop *loop;
	struct blk_engine *engine; /* the disk's: io_uring, or a unit test's */
	struct vm_ctl *ctl;        /* stops the VM when the log cannot be written */
	uint64_t next_seq;

	/* Chunks in file order: the first `wr_chunks` are being written. */
	struct blk_log_chunk *head, *tail;
	uint64_t file_off;  /* where the first chunk goes */
	unsigned int wr_chunks;
	uint64_t wr_len, wr_done; /* bytes of the write in flight, and how many went already */
	struct iovec iov[BLK_LOG_MAX_IOV];
	struct loop_op op;
	bool writing;
	bool quiesced;    /* the loop has stopped: entries wait for blk_log_close */
	uint64_t backlog; /* bytes appended and not yet written */
	int error;        /* the failed write's -errno; nothing more is written then */

	/* Called when the backlog drops below the limit (or the log failed). */
	void (*room)(void *ctx);
	void *room_ctx;

	uint64_t entries, bytes; /* stats */
};

/*
 * Creates (or truncates) path and writes the header; err names the file and
 * the problem. Main thread, before the guest starts.
 */
__attribute__((warn_unused_result)) int blk_log_open(struct blk_log *l, const char *path,
						     uint64_t image_size, uint32_t block_size,
						     uint32_t cache_mode, char *err, size_t errlen);
void blk_log_attach(struct blk_log *l, struct loop *loop, struct blk_engine *engine,
		    struct vm_ctl *ctl, void (*room)(void *ctx), void *ctx);

/* Loop thread. The seq the next entry will get. */
uint64_t blk_log_next_seq(const struct blk_log *l);
/* Loop thread. Whether the backlog is at its limit: completions should wait. */
bool blk_log_full(const struct blk_log *l);

/*
 * Loop thread. Appends e (type, flags, req, offset, len, covers, reason
 * filled in by the caller; the rest here) with data_len bytes of data
 * taken from iov[0..niov) after skipping `skip` bytes. Returns its seq.
 */
uint64_t blk_log_append(struct blk_log *l, struct blklog_entry *e, const struct iovec *iov,
			unsigned int niov, uint64_t skip, uint32_t data_len);

/* Loop thread. The backend's events, as entries (blklog/format.h says what each means). */
void blk_log_change(struct blk_log *l, uint16_t type, bool durable, uint64_t req, uint64_t offset,
		    uint64_t len, const struct iovec *iov, unsigned int niov, uint64_t skip);
void blk_log_sync(struct blk_log *l, uint64_t covers);
void blk_log_promise(struct blk_log *l, uint32_t reason, bool all, uint64_t covers, uint64_t req);

/*
 * Loop thread. Appends a MARK entry with text (cut to BLKLOG_MAX_MARK bytes).
 * Returns false, appending nothing, when the backlog is at its limit or the
 * loop has stopped: marks are the guest's notes, and a guest must not grow
 * host memory by printing them faster than the log is written.
 */
bool blk_log_mark(struct blk_log *l, const char *text, size_t len);

/* Main thread, once the loop has stopped: later entries (the exit flush's) are only kept. */
void blk_log_quiesce(struct blk_log *l);

/*
 * Main thread, with the loop stopped: writes what is left, fdatasyncs the
 * log and closes it. Returns 0, or -errno after saying what failed.
 */
int blk_log_close(struct blk_log *l);

#endif
