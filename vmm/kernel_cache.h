/*
 * --kernel-cache: a bzImage decompresses itself in the guest on every boot,
 * which is most of the difference in boot time against a vmlinux (see
 * README, Benchmarks). With a cache directory, kestrel decompresses the
 * payload once (liblzma) and boots the cached vmlinux through its PVH entry
 * from then on. Entries are keyed by the kernel file's device, inode, size
 * and modification time, and written atomically. Main thread.
 */
#ifndef KESTREL_KERNEL_CACHE_H
#define KESTREL_KERNEL_CACHE_H

#include <stddef.h>
#include <stdint.h>

/*
 * For the bzImage open as fd (bytes in kernel[0..len)): puts the path of its
 * cached vmlinux in path, decompressing it first on a miss. 0, or -errno
 * with a message in err.
 */
int kernel_cache_get(const char *dir, int fd, const uint8_t *kernel, size_t len, char *path,
		     size_t pathlen, char *err, size_t errlen);

#endif
