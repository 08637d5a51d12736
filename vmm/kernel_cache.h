/*
 * The kernel cache: a bzImage decompresses itself in the guest on every
 * boot, which is most of the difference in boot time against a vmlinux
 * (see README, Benchmarks). kestrel decompresses the payload once (liblzma)
 * and boots the cached vmlinux through its PVH entry from then on. On by
 * default, in $XDG_CACHE_HOME/kestrel/kernels (~/.cache/kestrel/kernels);
 * --kernel-cache DIR picks another directory, --kernel-cache none turns it
 * off.
 *  - Entries are keyed by the kernel file's device, inode, size and
 *    modification time (and the cache's format version), so a changed
 *    kernel never boots a stale entry.
 *  - They are written to a temporary file, fsync'd and renamed: a kestrel
 *    starting meanwhile sees all of an entry or none, and two that miss at
 *    once both write and one rename wins.
 *  - An entry that is not a whole ELF vmlinux with a PVH entry (truncated
 *    or damaged on disk) is removed and made again.
 *  - At most KERNEL_CACHE_KEEP entries stay: the least recently used go.
 * Main thread.
 */
#ifndef KESTREL_KERNEL_CACHE_H
#define KESTREL_KERNEL_CACHE_H

#include <stddef.h>
#include <stdint.h>

/*
 * For the bzImage open as fd (bytes in kernel[0..len)): puts the path of its
 * cached vmlinux in path, decompressing it first on a miss. 0, or -errno
 * with a message in err that starts with `what` (naming the option).
 */
int kernel_cache_get(const char *what, const char *dir, int fd, const uint8_t *kernel, size_t len, char *path,
		     size_t pathlen, char *err, size_t errlen);

#define KERNEL_CACHE_KEEP 4
#define KERNEL_CACHE_PREFIX "vmlinux-v2-" /* v2: entries checked on use; v1's are left alone */

/* Keeps the KERNEL_CACHE_KEEP most recently used entries in dir (a hit touches its entry). */
void kernel_cache_prune(const char *dir);

/*
 * The default directory, created with its parents if missing: 0, or -errno
 * with a message (no home, a read-only one: the caller boots uncached).
 */
int kernel_cache_default_dir(char *dir, size_t len, char *err, size_t errlen);

#endif
