/*
 * Opening a disk image: flags from the cache policy, the checks that must
 * stop the monitor before the guest starts, and image locking.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/blk.h"
#include "devices/blk_log.h"
#include "vmm/errmsg.h"

/*
 * QEMU's image locking protocol (block/file-posix.c), so kestrel and QEMU
 * see each other: a shared OFD lock on byte 100+i means "I hold permission
 * i", on byte 200+i "I do not let others hold it". Permission 0 is
 * consistent read, 1 is write.
 */
#define LOCK_PERM_BASE 100
#define LOCK_SHARED_BASE 200
#define PERM_READ 0
#define PERM_WRITE 1

#define fail errmsg

static int lock_byte(int fd, off_t byte)
{
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Whether another open file description holds a lock on the byte. */
static bool byte_taken(int fd, off_t byte)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

static int take_locks(int fd, bool readonly, const char *path, char *err, size_t errlen)
{
	/* A reader (QEMU's default too) lets nobody write under it; a writer neither. */
	if (byte_taken(fd, LOCK_PERM_BASE + PERM_WRITE))
		return fail(err, errlen, -EBUSY,
			    "disk '%s': another process (kestrel or QEMU) has it open for writing", path);
	if (!readonly && byte_taken(fd, LOCK_SHARED_BASE + PERM_WRITE))
		return fail(err, errlen, -EBUSY,
			    "disk '%s': another process (kestrel or QEMU) is using it and does not "
			    "allow writers; use readonly=on", path);
	int ret = lock_byte(fd, LOCK_PERM_BASE + PERM_READ);
	if (!ret && !readonly)
		ret = lock_byte(fd, LOCK_PERM_BASE + PERM_WRITE);
	if (!ret)
		ret = lock_byte(fd, LOCK_SHARED_BASE + PERM_WRITE);
	if (ret == -EAGAIN || ret == -EACCES)
		return fail(err, errlen, -EBUSY, "disk '%s': locked by another process", path);
	if (ret)
		return fail(err, errlen, ret, "disk '%s': cannot lock it: %s", path, strerror(-ret));
	return 0;
}

/*
 * O_DIRECT needs the file offset, length and buffer aligned, to a size the
 * file system decides. Probe it with reads: the smallest length that works
 * becomes the guest's logical block size, the smallest buffer alignment the
 * point below which requests are bounced.
 */
static int probe_direct(struct blk *b, const char *path, char *err, size_t errlen)
{
	void *buf;
	if (posix_memalign(&buf, 4096, 8192))
		return fail(err, errlen, -ENOMEM, "disk '%s': out of memory", path);
	uint32_t block = 0;
	for (uint32_t len = 512; len <= 4096 && !block; len *= 2)
		if (pread(b->fd, buf, len, 0) == (ssize_t)len)
			block = len;
	uint32_t align = 4096;
	if (block && pread(b->fd, (uint8_t *)buf + 512, block, 0) == (ssize_t)block)
		align = 512;
	int saved = errno;
	free(buf);
	if (!block)
		return fail(err, errlen, -EINVAL,
			    "disk '%s': cache=%s needs O_DIRECT, but reading it with O_DIRECT fails "
			    "(%s); use cache=writeback or writethrough", path, b->policy->name,
			    strerror(saved));
	b->block_size = block;
	b->mem_align = align;
	return 0;
}

static int open_checked(struct blk *b, const struct disk_config *d, char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->mode = d->cache;
	b->policy = blk_cache_policy(d->cache);
	b->readonly = d->readonly;
	b->werror = d->werror;
	snprintf(b->serial, sizeof(b->serial), "%s", d->serial);
	char tmp[sizeof(d->path)];
	snprintf(tmp, sizeof(tmp), "%s", d->path);
	snprintf(b->name, sizeof(b->name), "%s", basename(tmp));

	int flags = (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (b->policy->direct)
		flags |= O_DIRECT;
	b->fd = open(d->path, flags);
	if (b->fd < 0 && errno == EINVAL && b->policy->direct)
		return fail(err, errlen, -EINVAL,
			    "disk '%s': cache=%s needs O_DIRECT, which its file system does not "
			    "support; use cache=writeback or writethrough", d->path, b->policy->name);
	if (b->fd < 0)
		return fail(err, errlen, -errno, "disk '%s': %s", d->path, strerror(errno));

	struct stat st;
	if (fstat(b->fd, &st) < 0)
		return fail(err, errlen, -errno, "disk '%s': %s", d->path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &b->size) < 0)
			return fail(err, errlen, -errno, "disk '%s': cannot read its size: %s", d->path,
				    strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		b->size = (uint64_t)st.st_size;
	} else {
		return fail(err, errlen, -EINVAL, "disk '%s': not a regular file or block device",
			    d->path);
	}
	/*
	 * Firecracker's clients (Kata, firecracker-containerd) start with empty
	 * placeholder drives and give them their images with PATCH /drives: a
	 * virtio-blk disk of 0 sectors is something Linux handles. SCSI and ATA
	 * have no way to describe a disk without blocks.
	 */
	if (b->size == 0 && d->iface != DISK_IF_VIRTIO_BLK)
		return fail(err, errlen, -EINVAL, "disk '%s': it is empty (only a virtio-blk disk may "
			    "start empty, as a placeholder for PATCH /drives)", d->path);
	if (b->size % 512)
		return fail(err, errlen, -EINVAL,
			    "disk '%s': its size, %llu bytes, is not a multiple of 512", d->path,
			    (unsigned long long)b->size);

	int ret = take_locks(b->fd, d->readonly, d->path, err, errlen);
	if (ret)
		return ret;

	b->block_size = 512;
	b->mem_align = 1;
	if (b->policy->direct && b->size == 0) {
		/* Nothing to probe with: the largest alignment O_DIRECT asks for is safe. */
		b->block_size = b->mem_align = 4096;
	} else if (b->policy->direct) {
		if ((ret = probe_direct(b, d->path, err, errlen)))
			return ret;
		if (b->size % b->block_size)
			return fail(err, errlen, -EINVAL,
				    "disk '%s': its size is not a multiple of the %u-byte blocks "
				    "O_DIRECT needs here", d->path, b->block_size);
	}
	b->guest_wce = true;
	b->lie = (enum blk_lie)d->lie;
	blk_stats_reset_latency(&b->stats);
	if (d->log[0]) {
		if (d->readonly)
			return fail(err, errlen, -EINVAL, "disk '%s': log= on a read-only disk has "
				    "nothing to record", d->path);
		if (b->size == 0)
			return fail(err, errlen, -EINVAL, "disk '%s': log= on an empty disk has "
				    "nothing to record", d->path);
		b->log = malloc(sizeof(*b->log));
		if (!b->log)
			return fail(err, errlen, -ENOMEM, "disk '%s': no memory for its log", d->path);
		ret = blk_log_open(b->log, d->log, b->size, b->block_size, b->mode, err, errlen);
		if (ret) {
			free(b->log);
			b->log = NULL;
			return ret;
		}
	}
	return 0;
}

int blk_open(struct blk *b, const struct disk_config *d, char *err, size_t errlen)
{
	int ret = open_checked(b, d, err, errlen);
	/* Nothing stays open: a failed file's locks would refuse the same file when retried. */
	if (ret)
		blk_close(b);
	return ret;
}

void blk_close(struct blk *b)
{
	if (b->log) {
		blk_log_close(b->log); /* vm_run closed it already, unless the VM never ran */
		free(b->log);
		b->log = NULL;
	}
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}
