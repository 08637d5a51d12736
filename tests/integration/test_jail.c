/*
 * The jail with a real guest, as a non-root uid: a jailed kestrel (in a
 * new PID namespace) boots a guest with a virtio-blk, an AHCI and a
 * virtio-scsi disk, and while the guest runs the test looks at the monitor
 * from outside (/proc/PID/status, /proc/PID/root, /proc/PID/fd): its
 * credentials, its empty capability sets, no_new_privs, its seccomp mode,
 * its root and the descriptors it holds. Through the API, the paths a
 * client gives (boot source, drives, logger, PATCH /drives) are resolved
 * inside the jail, and a host path outside it is not found.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/disk_helpers.h"

#define JAIL_UID 4242
#define JAIL_UID_S "4242"
#define JAIL_TIMEOUT 360

/* A fresh jail directory owned by the jail's uid; its path in dir. */
static void make_jail(const char *name, char *dir, size_t len)
{
	snprintf(dir, len, "%s", scratch_path(name));
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s' && chown %d:%d '%s'", dir, dir,
		 JAIL_UID, JAIL_UID, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void remove_tree(const char *dir)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* What the test saw of the running monitor. */
struct inspection {
	char jail[512];
	const char *images[3];
	bool done;
	int monitor; /* host pid of the jailed kestrel (the child, in its own PID namespace) */
	char status[4096];
	bool root_is_jail;
	char fds[4096];      /* every descriptor's link, one per line */
	char unexpected[1024];
	unsigned images_open;
};

/* The first child of pid: with --new-pid-ns, the jailed kestrel. */
static int first_child(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	int child = 0;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &child) != 1)
			child = 0;
		fclose(f);
	}
	return child;
}

/* What a jailed kestrel may hold above 2: KVM, its loop's descriptors and the disks; nothing else of the host's. */
static bool expected_fd(const struct inspection *in, const char *link)
{
	static const char *const prefixes[] = {"anon_inode:", "/dev/kvm"};
	for (unsigned i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(link, prefixes[i], strlen(prefixes[i])))
			return true;
	for (unsigned i = 0; i < 3; i++)
		if (!strcmp(link, in->images[i]))
			return true;
	return false;
}

static void inspect_fds(struct inspection *in)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", in->monitor);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char fd[384], link[512];
		snprintf(fd, sizeof(fd), "%s/%s", path, e->d_name);
		ssize_t n = readlink(fd, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		size_t used = strlen(in->fds);
		snprintf(in->fds + used, sizeof(in->fds) - used, "%s -> %s\n", e->d_name, link);
		for (unsigned i = 0; i < 3; i++)
			in->images_open += !strcmp(link, in->images[i]);
		/* 0-2 are whatever the launcher gave (here the harness's output file). */
		if (atoi(e->d_name) > 2 && !expected_fd(in, link)) {
			used = strlen(in->unexpected);
			snprintf(in->unexpected + used, sizeof(in->unexpected) - used, "%s ", link);
		}
	}
	closedir(d);
}

/* Once the guest runs, kestrel is jailed: look at it from outside. */
static void inspect(int pid, const char *out, void *arg)
{
	struct inspection *in = arg;
	if (in->done || !strstr(out, "JAIL-GUEST-RUNNING"))
		return;
	in->done = true;
	in->monitor = first_child(pid);
	if (!in->monitor)
		return;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", in->monitor);
	snprintf(in->status, sizeof(in->status), "%s", slurp(path));
	struct stat root, jail;
	snprintf(path, sizeof(path), "/proc/%d/root", in->monitor);
	in->root_is_jail = stat(path, &root) == 0 && stat(in->jail, &jail) == 0 &&
			   root.st_dev == jail.st_dev && root.st_ino == jail.st_ino;
	inspect_fds(in);
}

static void expect_status_line(const struct inspection *in, const char *key, const char *want)
{
	char line[128];
	snprintf(line, sizeof(line), "\n%s:\t%s\n", key, want);
	cr_expect(strstr(in->status, line), "/proc/PID/status lacks '%s:\t%s':\n%s", key, want,
		  in->status);
}

Test(jail, a_jailed_unprivileged_kestrel_boots_every_disk_kind_and_holds_nothing_else,
     .timeout = RUN_ATTEMPTS * JAIL_TIMEOUT + 60)
{
	struct inspection in = {.done = false};
	make_jail("jail-root", in.jail, sizeof(in.jail));
	char imgs[3][512], specs[3][1200];
	const char *names[] = {"jail-blk.img", "jail-sata.img", "jail-scsi.img"};
	const char *ifaces[] = {"virtio-blk", "ahci", "virtio-scsi"};
	for (unsigned i = 0; i < 3; i++) {
		snprintf(imgs[i], sizeof(imgs[i]), "%s", make_image(names[i], (long long)(i + 2) << 24));
		snprintf(specs[i], sizeof(specs[i]), "path=%s,if=%s,cache=%s", imgs[i], ifaces[i],
			 i ? "writeback" : "none");
		in.images[i] = imgs[i];
	}
	char cmdline[1024];
	snprintf(cmdline, sizeof(cmdline), "console=ttyS0 panic=-1 quiet -- disk-test report; "
		 "for x in /dev/sd? /dev/vda; do dd if=/dev/urandom of=$x bs=64k count=8 oflag=direct "
		 "2>/dev/null || echo WRITE_FAILED=$x; done; echo JAIL-GUEST-RUNNING; sleep 2");
	const char *args[] = {"--kernel", guest_file("vmlinux"), "--initrd",
			      guest_file("initrd-tools.img"), "--mem", "512M", "--cpus", "2", "--stats",
			      "--disk", specs[0], "--disk", specs[1], "--disk", specs[2],
			      "--cmdline", cmdline, "--chroot", in.jail, "--uid", JAIL_UID_S, "--gid",
			      JAIL_UID_S, "--new-pid-ns", "--resource-limit", "no-file=256", NULL};
	struct run r = run_kestrel_watched(args, JAIL_TIMEOUT, inspect, &in);
	cr_assert_not(r.timed_out, "kestrel did not exit:\n%s", r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "KESTREL-GUEST-EXIT 0"), "%s", r.out);
	cr_assert_null(strstr(r.out, "WRITE_FAILED"), "%s", r.out);
	for (unsigned i = 0; i < 3; i++) {
		cr_expect_geq(counter(&r, i, "writes"), 8, "disk %u (%s) got no writes:\n%s", i,
			      ifaces[i], r.out);
		cr_expect_eq(counter(&r, i, "errors"), 0);
	}

	cr_assert(in.done && in.monitor > 0, "never found the jailed kestrel:\n%s", r.out);
	expect_status_line(&in, "Uid", JAIL_UID_S "\t" JAIL_UID_S "\t" JAIL_UID_S "\t" JAIL_UID_S);
	expect_status_line(&in, "Gid", JAIL_UID_S "\t" JAIL_UID_S "\t" JAIL_UID_S "\t" JAIL_UID_S);
	cr_expect(strstr(in.status, "\nGroups:\t\n") || strstr(in.status, "\nGroups:\t \n"),
		  "supplementary groups are left:\n%s", in.status);
	static const char *const caps[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
	for (unsigned i = 0; i < 5; i++)
		expect_status_line(&in, caps[i], "0000000000000000");
	expect_status_line(&in, "NoNewPrivs", "1");
	expect_status_line(&in, "Seccomp", "2");
	/* PID 1 in its own namespace: NSpid lists the host's pid, then 1. */
	char nspid[64];
	snprintf(nspid, sizeof(nspid), "NSpid:\t%d\t1\n", in.monitor);
	cr_expect(strstr(in.status, nspid), "not PID 1 of a new namespace:\n%s", in.status);
	cr_expect(in.root_is_jail, "/proc/%d/root is not %s", in.monitor, in.jail);
	cr_expect_eq(in.images_open, 3, "the three images are not all open:\n%s", in.fds);
	cr_expect_eq(in.unexpected[0], '\0', "unexpected descriptors: %s\nall:\n%s", in.unexpected,
		     in.fds);
	for (unsigned i = 0; i < 3; i++)
		unlink(imgs[i]);
	remove_tree(in.jail);
	run_free(&r);
}

/* The API's paths: inside the jail. */
struct jailed_client {
	char sock[512], jail[512];
	bool started, patched;
	char why[1024];
};

static bool expect_code(struct jailed_client *c, const char *method, const char *path,
			const char *body, int want, const char *in_body)
{
	char resp[1024];
	int code = api_request(c->sock, method, path, body, resp, sizeof(resp));
	if (code == want && (!in_body || strstr(resp, in_body)))
		return true;
	snprintf(c->why, sizeof(c->why), "%s %s %.300s: %d %.400s (wanted %d)", method, path,
		 body ? body : "", code, resp, want);
	return false;
}

static void drive_jailed(int pid, const char *out, void *arg)
{
	struct jailed_client *c = arg;
	(void)pid;
	if (!c->started && access(c->sock, F_OK) == 0) {
		c->started = true;
		/* Each path is the jail's: "/vmlinux" is <jail>/vmlinux on the host. */
		bool ok = expect_code(c, "PUT", "/logger", "{\"log_path\": \"/kestrel.log\"}", 204, NULL) &&
			expect_code(c, "PUT", "/boot-source",
				    "{\"kernel_image_path\": \"/vmlinux\", \"initrd_path\": "
				    "\"/initrd.img\", \"boot_args\": \"console=ttyS0 panic=-1 quiet -- "
				    "echo JAIL-GUEST-RUNNING; i=0; while [ $(cat /sys/block/vda/size) = "
				    "8192 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; echo "
				    "VDA_AFTER=$(cat /sys/block/vda/size); echo MARK=$(head -c 8 "
				    "/dev/vda)\"}", 204, NULL) &&
			expect_code(c, "PUT", "/drives/rootfs",
				    "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/rootfs.img\", "
				    "\"is_root_device\": false, \"is_read_only\": false}", 204, NULL) &&
			expect_code(c, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204, NULL);
		if (!ok)
			kill(pid, SIGTERM);
		return;
	}
	if (c->started && !c->patched && strstr(out, "JAIL-GUEST-RUNNING")) {
		c->patched = true;
		char outside[1200], body[1400];
		/* The host's path of a file in the jail is not a path the jailed kestrel can open. */
		snprintf(outside, sizeof(outside), "%s/new.img", c->jail);
		snprintf(body, sizeof(body), "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\"}", outside);
		bool ok = expect_code(c, "PATCH", "/drives/rootfs", body, 400, "No such file") &&
			  expect_code(c, "PATCH", "/drives/rootfs",
				      "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/new.img\"}", 204, NULL);
		if (!ok)
			kill(pid, SIGTERM);
	}
}

static void copy_into(const char *file, const char *dir, const char *name)
{
	char cmd[1600];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/%s' && chmod 0644 '%s/%s'", file, dir, name, dir, name);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(jail, api_paths_are_resolved_inside_the_jail, .timeout = JAIL_TIMEOUT + 60)
{
	struct jailed_client c = {.started = false};
	make_jail("jail-api", c.jail, sizeof(c.jail));
	snprintf(c.sock, sizeof(c.sock), "%s", scratch_path("jail-api.sock"));
	unlink(c.sock);
	copy_into(guest_file("vmlinux"), c.jail, "vmlinux");
	copy_into(guest_file("initrd.img"), c.jail, "initrd.img");
	char rootfs[700], fresh[700];
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs.img", c.jail);
	snprintf(fresh, sizeof(fresh), "%s/new.img", c.jail);
	int fd = open(rootfs, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0 && ftruncate(fd, 4 << 20) == 0);
	close(fd);
	fd = open(fresh, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0 && ftruncate(fd, 8 << 20) == 0 && pwrite(fd, "JAILNEW1", 8, 0) == 8);
	close(fd);
	cr_assert_eq(chown(rootfs, JAIL_UID, JAIL_UID) | chown(fresh, JAIL_UID, JAIL_UID), 0);

	const char *args[] = {"--api-sock", c.sock, "--chroot", c.jail, "--uid", JAIL_UID_S, "--gid",
			      JAIL_UID_S, NULL};
	struct run r = run_kestrel_watched(args, JAIL_TIMEOUT, drive_jailed, &c);
	cr_assert_not(r.timed_out, "kestrel did not exit:\n%s", r.out);
	cr_assert_eq(c.why[0], '\0', "%s\nkestrel:\n%s", c.why, r.out);
	cr_assert(c.started && c.patched, "the client did not get as far as PATCH:\n%s", r.out);
	cr_assert_eq(r.status, 0, "exit %d:\n%s", r.status, r.out);
	char v[64];
	cr_expect_str_eq(guest_value(&r, "VDA_AFTER", v, sizeof(v)) ?: "", "16384", "%s", r.out);
	cr_expect_str_eq(guest_value(&r, "MARK", v, sizeof(v)) ?: "", "JAILNEW1", "%s", r.out);
	/* PUT /logger's "/kestrel.log" is the jail's, made by the jail's uid. */
	char log[700];
	struct stat st;
	snprintf(log, sizeof(log), "%s/kestrel.log", c.jail);
	cr_expect(stat(log, &st) == 0 && st.st_uid == JAIL_UID, "%s is not there, owned by %d", log,
		  JAIL_UID);
	cr_expect(strstr(slurp(log), "guest powered off"), "log: %s", slurp(log));
	/* kestrel cannot see the socket's path from inside: it is the launcher's to remove. */
	cr_expect_eq(access(c.sock, F_OK), 0, "the socket file went away");
	unlink(c.sock);
	remove_tree(c.jail);
	run_free(&r);
}
