/*
 * Bad input stops kestrel before the guest starts: exit 2 and a message
 * naming the problem, and no guest output at all.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

static void expect_refused(const char *const *args, const char *message)
{
	struct run r = run_kestrel(args, 120);
	cr_assert_not(r.timed_out, "%s", r.out);
	cr_assert_eq(r.status, 2, "exit %d, want 2:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, message), "message lacks '%s':\n%s", message, r.out);
	cr_assert_null(strstr(r.out, "KESTREL-GUEST-INIT"), "the guest started:\n%s", r.out);
	run_free(&r);
}

Test(bad_input, missing_kernel)
{
	const char *a[] = {"--kernel", "/nonexistent/vmlinuz", NULL};
	expect_refused(a, "kernel '/nonexistent/vmlinuz': No such file or directory");
}

Test(bad_input, kernel_that_is_a_directory)
{
	const char *a[] = {"--kernel", "/", NULL};
	expect_refused(a, "not a regular file");
}

Test(bad_input, empty_kernel)
{
	const char *path = scratch_path("empty");
	close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	const char *a[] = {"--kernel", path, NULL};
	expect_refused(a, "file is empty");
	unlink(path);
}

Test(bad_input, file_that_is_no_kernel)
{
	const char *a[] = {"--kernel", "/etc/os-release", NULL};
	expect_refused(a, "neither a bzImage nor an ELF vmlinux");
}

Test(bad_input, truncated_bzimage)
{
	const char *path = scratch_path("truncated");
	FILE *in = fopen(guest_file("vmlinuz"), "rb");
	FILE *out = fopen(path, "wb");
	cr_assert(in && out);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf), in);
	fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	const char *a[] = {"--kernel", path, NULL};
	expect_refused(a, "truncated");
	unlink(path);
}

Test(bad_input, mem_smaller_than_the_kernel_needs)
{
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--mem", "64M", NULL};
	expect_refused(a, "--mem is too small for this kernel");
}

Test(bad_input, initrd_that_does_not_fit)
{
	const char *path = scratch_path("big-initrd");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, 200 << 20), 0); /* sparse 200 MiB */
	close(fd);
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--initrd", path, "--mem", "128M", NULL};
	expect_refused(a, "does not fit in guest memory");
	unlink(path);
}

Test(bad_input, missing_initrd)
{
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--initrd", "/nonexistent.img", NULL};
	expect_refused(a, "initrd '/nonexistent.img'");
}

Test(bad_input, cpus_zero_and_beyond_the_maximum)
{
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--cpus", "0", NULL};
	expect_refused(a, "--cpus: 0 is outside 1..32");
	const char *b[] = {"--kernel", guest_file("vmlinuz"), "--cpus", "33", NULL};
	expect_refused(b, "--cpus: 33 is outside 1..32");
}

Test(bad_input, unknown_flag_and_disk)
{
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--turbo", NULL};
	expect_refused(a, "unknown option '--turbo'");
	const char *b[] = {"--kernel", guest_file("vmlinuz"), "--disk", "path=x,if=virtio-blk,speed=9", NULL};
	expect_refused(b, "--disk: unknown key 'speed'");
}

Test(bad_input, kernel_cache_that_cannot_be_created)
{
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--kernel-cache", "/nonexistent/dir/cache",
			   NULL};
	expect_refused(a, "--kernel-cache '/nonexistent/dir/cache': No such file or directory");
}

static const char *disk_arg(const char *path, const char *extra)
{
	static char spec[1400];
	snprintf(spec, sizeof(spec), "path=%s,if=virtio-blk%s", path, extra);
	return spec;
}

static const char *sized_file(const char *name, off_t size)
{
	const char *path = scratch_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
	return path;
}

Test(bad_input, missing_disk_image)
{
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--disk",
			   disk_arg("/nonexistent/disk.img", ""), NULL};
	expect_refused(a, "disk '/nonexistent/disk.img': No such file or directory");
}

Test(bad_input, every_disk_interface_checks_the_image)
{
	const char *path = sized_file("odd2.img", 4097);
	static const char *const ifaces[] = {"virtio-scsi", "ahci"};
	for (unsigned i = 0; i < 2; i++) {
		char spec[1400];
		snprintf(spec, sizeof(spec), "path=/nonexistent/disk.img,if=%s", ifaces[i]);
		const char *a[] = {"--kernel", guest_file("vmlinuz"), "--disk", spec, NULL};
		expect_refused(a, "disk '/nonexistent/disk.img': No such file or directory");
		snprintf(spec, sizeof(spec), "path=%s,if=%s,cache=writethrough", path, ifaces[i]);
		const char *b[] = {"--kernel", guest_file("vmlinuz"), "--disk", spec, NULL};
		expect_refused(b, "4097 bytes, is not a multiple of 512");
	}
	unlink(path);
}

Test(bad_input, disk_size_not_a_multiple_of_512)
{
	const char *path = sized_file("odd.img", 1000000);
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--disk", disk_arg(path, ""), NULL};
	expect_refused(a, "1000000 bytes, is not a multiple of 512");
	unlink(path);
}

Test(bad_input, disk_another_process_writes)
{
	/* What QEMU holds on an image it writes: a shared lock on byte 101. */
	const char *path = sized_file("locked.img", 1 << 20);
	int fd = open(path, O_RDWR);
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 101, .l_len = 1};
	cr_assert_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--disk", disk_arg(path, ""), NULL};
	expect_refused(a, "another process (kestrel or QEMU) has it open for writing");
	const char *b[] = {"--kernel", guest_file("vmlinuz"), "--disk", disk_arg(path, ",readonly=on"), NULL};
	expect_refused(b, "has it open for writing");
	close(fd);
	unlink(path);
}

Test(bad_input, same_disk_twice)
{
	const char *path = sized_file("twice.img", 1 << 20);
	char one[1400];
	snprintf(one, sizeof(one), "%s", disk_arg(path, ""));
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--disk", one, "--disk", disk_arg(path, ""), NULL};
	expect_refused(a, "has it open for writing");
	unlink(path);
}

Test(bad_input, cache_none_without_o_direct)
{
	/* ramfs has no O_DIRECT on any kernel. */
	char dir[] = "/tmp/kestrel-ramfs-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(mount("ramfs", dir, "ramfs", 0, NULL), 0,
		     "cannot mount ramfs (the integration tests run as root, in the rig)");
	char path[1200];
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	const char *a[] = {"--kernel", guest_file("vmlinuz"), "--disk", disk_arg(path, ",cache=none"), NULL};
	expect_refused(a, "cache=none needs O_DIRECT");
	const char *b[] = {"--kernel", guest_file("vmlinuz"), "--disk", disk_arg(path, ",cache=directsync"), NULL};
	expect_refused(b, "cache=directsync needs O_DIRECT");
	umount(dir);
	rmdir(dir);
}
