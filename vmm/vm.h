/*
 * One virtual machine: the KVM objects, guest memory, the buses, the event
 * loop, the devices and the vCPUs, created explicitly in vm_create() (no
 * hidden registration). vm_run() blocks the main thread until the guest
 * stops and returns why.
 */
#ifndef KESTREL_VM_H
#define KESTREL_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "devices/ahci.h"
#include "devices/virtio_scsi.h"
#include "devices/console.h"
#include "devices/i8042.h"
#include "devices/log_marks.h"
#include "devices/pci.h"
#include "devices/power.h"
#include "devices/pvpanic.h"
#include "devices/uart.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_vsock.h"
#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/disk_swap.h"
#include "vmm/guest_mem.h"
#include "vmm/loop.h"
#include "vmm/main_job.h"
#include "vmm/vcpu.h"
#include "vmm/vm_ctl.h"

/* How long stopping waits for disk requests the host is still running. */
#define VM_DRAIN_TIMEOUT_MS 20000

struct vm_files {
	const uint8_t *kernel; /* mapping, for parsing headers */
	size_t kernel_len;
	int kernel_fd;         /* bulk reads */
	int initrd_fd;         /* -1: none */
	size_t initrd_len;
	int console_out; /* -1 for none */
	int console_in;  /* -1 for none */
	struct blk *disks[CONFIG_MAX_DISKS]; /* opened and checked; cfg->disks[i] describes each */
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct loop loop;
	struct kvm_cpuid2 *cpuid;
	size_t run_size;
	struct vcpu vcpus[CONFIG_MAX_CPUS];
	unsigned int ncpus;

	struct vm_ctl ctl;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	enum vm_stop stop; /* under stop_lock; read atomically by vCPUs */
	char stop_msg[256];
	unsigned int pauses; /* under stop_lock (and read atomically): ctl.pause(true) not yet undone */
	struct loop_task drain_task;
	bool drain_counted;  /* under stop_lock */
	unsigned int drain_left;
	bool final_flush_failed; /* a disk's flush at exit failed: exit 1 */
	struct vm_main_job *jobs, *jobs_tail; /* under stop_lock: for the main thread, oldest first */

	struct uart uart;
	int uart_irq_fd;
	struct pvpanic pvpanic;
	struct power power;
	struct i8042 i8042;
	int i8042_irq_fd;
	struct console console;
	bool has_console_in;
	bool seccomp; /* each thread confines itself before guest-driven work (vmm/seccomp.h) */
	int signal_fd;
	struct loop_watch signal_watch;
	uint8_t signal_buf[128];
	int io_delay_fd;
	struct pci_bus pci;
	struct ahci ahci;
	bool has_ahci;
	struct log_marks marks; /* --log-marks */
	bool has_marks;
	struct blk_log *mark_logs[CONFIG_MAX_DISKS];
	struct blk *disks[CONFIG_MAX_DISKS];
	struct vblk vblk[CONFIG_MAX_DISKS];
	int disk_irq_fd[CONFIG_MAX_DISKS];
	int virtio_slot[CONFIG_MAX_DISKS]; /* virtio-blk: order among virtio devices, or -1 */
	struct vscsi vscsi; /* one controller for every virtio-scsi disk, after the virtio-blk ones */
	bool has_vscsi;
	int vscsi_irq_fd;
	struct vsock vsock; /* --vsock or PUT /vsock: the virtio device after the disks' */
	bool has_vsock;
	int vsock_irq_fd;
	unsigned int nvirtio; /* virtio-mmio devices, slots 0..nvirtio-1 */
	unsigned int ndisks;
	unsigned int disks_live; /* atomic: disks the loop may touch for SIGUSR1 (set in vm_run) */
	struct disk_swap swaps[CONFIG_MAX_DISKS]; /* PATCH /drives */

	const char *boot_format;
	struct timespec t_main;       /* main() entered */
	struct timespec t_first_run;  /* BSP's first KVM_RUN */
	/* Where start-up time goes, for --stats: name and end time of each phase. */
	struct {
		const char *name;
		struct timespec end;
	} phases[8];
	unsigned int nphases;
};

enum vm_error_kind {
	VM_ERR_CONFIG,  /* the user's input is wrong: exit 2 */
	VM_ERR_RUNTIME, /* the host failed: exit 1 */
};

/*
 * Main thread, first, before any other thread exists: zeroes vm, makes its
 * event loop (not yet started: the API socket starts it before the VM is
 * built, vm_run otherwise), blocks the signals every thread inherits blocked
 * and turns SIGINT/SIGTERM/SIGHUP into a stop read on the loop. -errno with
 * a message.
 */
int vm_prepare(struct vm *vm, char *err, size_t errlen);

/*
 * Main thread, after vm_prepare and before the loop starts: every thread
 * will confine itself (vmm/seccomp.h) — the loop as it starts, each vCPU
 * before its first KVM_RUN, the main thread in vm_run once the vCPU threads
 * exist — and the loop's ring takes only kestrel's own operations
 * (loop_restrict). -errno with a message.
 */
int vm_enable_seccomp(struct vm *vm, char *err, size_t errlen);

/*
 * Main thread, after vm_prepare: opens /dev/kvm unless it is open (the jail
 * opens it before /dev is out of sight; vm_create otherwise). -errno with a
 * message.
 */
int vm_open_kvm(struct vm *vm, char *err, size_t errlen);

/*
 * Main thread, after vm_prepare: builds everything up to the point where vCPUs can run. On failure returns
 * -errno, with a message in err and whether it is the user's or the host's fault.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg, const struct vm_files *files,
	      char *err, size_t errlen, enum vm_error_kind *kind);

/* Runs until the guest stops; returns why (message in vm->stop_msg). */
enum vm_stop vm_run(struct vm *vm);

void vm_destroy(struct vm *vm);

/* Any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop reason, const char *msg);
bool vm_stopping(const struct vm *vm);
/*
 * vCPU threads, before KVM_RUN: if the VM is paused, waits until it is not
 * (or is stopping) and returns true.
 */
bool vm_wait_while_paused(struct vm *vm);

/*
 * Any thread: job->fn runs on the main thread while vm_run() waits for the
 * guest (never once the VM is stopping: a job queued then is dropped).
 */
void vm_run_on_main(struct vm *vm, struct vm_main_job *job);

/*
 * Loop thread: disk i has a new image (vmm/disk_swap.h); its frontend
 * tells the guest as its bus allows.
 */
void vm_disk_changed(struct vm *vm, unsigned int i);

/* Prints device counters on stderr (--stats). */
void vm_print_stats(const struct vm *vm);

#endif
