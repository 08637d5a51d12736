#include "vmm/kernel_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/decompress.h"
#include "vmm/log.h"

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int kernel_cache_get(const char *dir, int fd, const uint8_t *kernel, size_t len, char *path,
		     size_t pathlen, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "kernel: %s", strerror(errno));
		return -errno;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "--kernel-cache '%s': %s", dir, strerror(e));
		return -e;
	}
	snprintf(path, pathlen, "%s/vmlinux-%llx-%llx-%llx-%lld.%09ld", dir,
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		 (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (access(path, R_OK) == 0)
		return 0;

	uint8_t *vmlinux;
	size_t vlen;
	int ret = bzimage_decompress(kernel, len, &vmlinux, &vlen, err, errlen);
	if (ret)
		return ret;
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid());
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		ret = -errno;
		snprintf(err, errlen, "--kernel-cache '%s': %s", dir, strerror(-ret));
		free(vmlinux);
		return ret;
	}
	ret = write_all(out, vmlinux, vlen);
	free(vmlinux);
	if (!ret && fsync(out) < 0)
		ret = -errno;
	close(out);
	/* rename() publishes it whole: a concurrent kestrel sees all or nothing. */
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		snprintf(err, errlen, "--kernel-cache '%s': writing failed: %s", dir, strerror(-ret));
		return ret;
	}
	log_info("decompressed the kernel once into %s", path);
	return 0;
}
