#include "vmm/kernel_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/decompress.h"
#include "boot/elf.h"
#include "vmm/log.h"


int kernel_cache_default_dir(char *dir, size_t len, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char base[4096];
	if (xdg && *xdg == '/')
		snprintf(base, sizeof(base), "%s", xdg);
	else if (home && *home == '/')
		snprintf(base, sizeof(base), "%s/.cache", home);
	else {
		snprintf(err, errlen, "neither XDG_CACHE_HOME nor HOME is an absolute path");
		return -ENOENT;
	}
	/* base, base/kestrel, base/kestrel/kernels: each may be there already. */
	const char *parts[] = {"", "/kestrel", "/kestrel/kernels"};
	for (unsigned i = 0; i < 3; i++) {
		snprintf(dir, len, "%s%s", base, parts[i]);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			snprintf(err, errlen, "%s: %s", dir, strerror(e));
			return -e;
		}
	}
	return 0;
}

/* Whether path holds a whole ELF vmlinux with a PVH entry (what kestrel wrote). */
static bool entry_good(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool good = false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			struct elf_kernel k;
			const char *why;
			good = elf_parse(p, (size_t)st.st_size, &k, &why) == 0 && k.has_pvh;
			munmap(p, (size_t)st.st_size);
		}
	}
	close(fd);
	return good;
}

void kernel_cache_prune(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (;;) {
		char oldest[4200] = "";
		struct timespec when = {0, 0};
		unsigned n = 0;
		struct dirent *e;
		rewinddir(d);
		while ((e = readdir(d))) {
			if (strncmp(e->d_name, KERNEL_CACHE_PREFIX, strlen(KERNEL_CACHE_PREFIX)) || strstr(e->d_name, ".tmp."))
				continue;
			char p[4200];
			struct stat st;
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			if (stat(p, &st) < 0)
				continue;
			n++;
			if (!oldest[0] || st.st_mtim.tv_sec < when.tv_sec ||
			    (st.st_mtim.tv_sec == when.tv_sec && st.st_mtim.tv_nsec < when.tv_nsec)) {
				snprintf(oldest, sizeof(oldest), "%s", p);
				when = st.st_mtim;
			}
		}
		if (n <= KERNEL_CACHE_KEEP || unlink(oldest) < 0)
			break;
		log_info("kernel cache: removed the least recently used entry %s", oldest);
	}
	closedir(d);
}

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

int kernel_cache_get(const char *what, const char *dir, int fd, const uint8_t *kernel, size_t len, char *path,
		     size_t pathlen, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "kernel: %s", strerror(errno));
		return -errno;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "%s '%s': %s", what, dir, strerror(e));
		return -e;
	}
	snprintf(path, pathlen, "%s/" KERNEL_CACHE_PREFIX "%llx-%llx-%llx-%lld.%09ld", dir,
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
		 (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (access(path, R_OK) == 0) {
		if (entry_good(path)) {
			utimensat(AT_FDCWD, path, NULL, 0); /* recently used: pruned last */
			return 0;
		}
		log_err("kernel cache: %s is not a whole vmlinux; making it again", path);
		unlink(path);
	}

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
		snprintf(err, errlen, "%s '%s': %s", what, dir, strerror(-ret));
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
		snprintf(err, errlen, "%s '%s': writing failed: %s", what, dir, strerror(-ret));
		return ret;
	}
	log_info("decompressed the kernel once into %s", path);
	kernel_cache_prune(dir);
	return 0;
}
