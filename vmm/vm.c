#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/layout.h"
#include "boot/linux.h"
#include "boot/x86.h"
#include "devices/blk_log.h"
#include "vmm/container_of.h"
#include "vmm/kvm_eventfd.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < errlen && ret < 0)
		snprintf(err + n, errlen - (size_t)n, ": %s", strerror(-ret));
	return ret < 0 ? ret : -EINVAL;
}

void vm_request_stop(struct vm *vm, enum vm_stop reason, const char *msg)
{
	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stop == VM_RUNNING) {
		snprintf(vm->stop_msg, sizeof(vm->stop_msg), "%s", msg ? msg : "");
		__atomic_store_n(&vm->stop, reason, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&vm->stop_cond);
	}
	pthread_mutex_unlock(&vm->stop_lock);
}

bool vm_wait_while_paused(struct vm *vm)
{
	if (!__atomic_load_n(&vm->pauses, __ATOMIC_SEQ_CST))
		return false;
	pthread_mutex_lock(&vm->stop_lock);
	while (vm->pauses && vm->stop == VM_RUNNING)
		pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
	pthread_mutex_unlock(&vm->stop_lock);
	return true;
}

static void ctl_pause(struct vm_ctl *ctl, bool pause)
{
	struct vm *vm = container_of(ctl, struct vm, ctl);
	pthread_mutex_lock(&vm->stop_lock);
	if (pause)
		__atomic_store_n(&vm->pauses, vm->pauses + 1, __ATOMIC_SEQ_CST);
	else if (vm->pauses)
		__atomic_store_n(&vm->pauses, vm->pauses - 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->stop_cond);
	/* Under the lock, before any stop: no vCPU thread has been joined yet. */
	if (pause && vm->stop == VM_RUNNING)
		for (unsigned i = 0; i < vm->ncpus; i++)
			vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_unlock(&vm->stop_lock);
}

bool vm_stopping(const struct vm *vm)
{
	return __atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST) != VM_RUNNING;
}

static void ctl_stop(struct vm_ctl *ctl, enum vm_stop reason, const char *msg)
{
	vm_request_stop(container_of(ctl, struct vm, ctl), reason, msg);
}

static bool ctl_stopping(struct vm_ctl *ctl)
{
	return vm_stopping(container_of(ctl, struct vm, ctl));
}

static int kvm_ioctl_retry(int fd, unsigned long req, unsigned long arg)
{
	int ret;
	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

/*
 * IOAPIC-only routing for GSI 0-23: the hardware-reduced guest never
 * programs the 8259s, so nothing should be routed to them.
 */
static int set_gsi_routing(struct vm *vm)
{
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[24];
	} r;
	memset(&r, 0, sizeof(r));
	r.hdr.nr = 24;
	for (unsigned i = 0; i < 24; i++) {
		r.e[i].gsi = i;
		r.e[i].type = KVM_IRQ_ROUTING_IRQCHIP;
		r.e[i].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		r.e[i].u.irqchip.pin = i;
	}
	return ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, &r) < 0 ? -errno : 0;
}

int vm_open_kvm(struct vm *vm, char *err, size_t errlen)
{
	if (vm->kvm_fd >= 0)
		return 0;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	return vm->kvm_fd < 0 ? fail(err, errlen, -errno, "cannot open /dev/kvm") : 0;
}

static int create_kvm_vm(struct vm *vm, char *err, size_t errlen)
{
	int ret = vm_open_kvm(vm, err, errlen); /* unless a jail opened it already */
	if (ret)
		return ret;
	int ver = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION)
		return fail(err, errlen, -ENOTSUP, "/dev/kvm speaks API %d, not %d", ver, KVM_API_VERSION);
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{KVM_CAP_IRQCHIP, "in-kernel irqchip"},
		{KVM_CAP_IRQFD, "irqfd"},
		{KVM_CAP_IOEVENTFD, "ioeventfd"},
		{KVM_CAP_IMMEDIATE_EXIT, "immediate_exit"},
		{KVM_CAP_IRQ_ROUTING, "GSI routing"},
		{KVM_CAP_PIT2, "in-kernel PIT"},
	};
	for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return fail(err, errlen, -ENOTSUP, "KVM lacks %s", caps[i].name);

	int fd = kvm_ioctl_retry(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (fd < 0)
		return fail(err, errlen, fd, "KVM_CREATE_VM");
	vm->vm_fd = fd;
	ret = kvm_ioctl_retry(vm->vm_fd, KVM_SET_TSS_ADDR, LAYOUT_TSS);
	if (ret < 0)
		return fail(err, errlen, ret, "KVM_SET_TSS_ADDR");
	uint64_t idmap = LAYOUT_IDENTITY_MAP;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return fail(err, errlen, -errno, "KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail(err, errlen, -errno, "KVM_CREATE_IRQCHIP");
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return fail(err, errlen, -errno, "KVM_CREATE_PIT2");
	ret = set_gsi_routing(vm);
	if (ret)
		return fail(err, errlen, ret, "KVM_SET_GSI_ROUTING");
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return fail(err, errlen, -errno, "KVM_GET_VCPU_MMAP_SIZE");
	vm->run_size = (size_t)run_size;
	ret = x86_supported_cpuid(vm->kvm_fd, &vm->cpuid);
	if (ret)
		return fail(err, errlen, ret, "KVM_GET_SUPPORTED_CPUID");
	return 0;
}

static int setup_memory(struct vm *vm, char *err, size_t errlen)
{
	int ret = gm_init(&vm->mem, vm->cfg->mem_size);
	if (ret)
		return fail(err, errlen, ret, "cannot map %llu MiB of guest memory",
			    (unsigned long long)(vm->cfg->mem_size >> 20));
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct gm_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
			return fail(err, errlen, -errno, "KVM_SET_USER_MEMORY_REGION");
	}
	return 0;
}

static void signal_read(struct loop_watch *w, int res)
{
	struct vm *vm = container_of(w, struct vm, signal_watch);
	if (res == (int)sizeof(struct signalfd_siginfo)) {
		struct signalfd_siginfo si;
		memcpy(&si, vm->signal_buf, sizeof(si));
		if (si.ssi_signo == SIGUSR1) {
			/* The operator freed host space: disks held by werror=stop go on. */
			unsigned n = __atomic_load_n(&vm->disks_live, __ATOMIC_ACQUIRE);
			for (unsigned i = 0; i < n; i++)
				blk_retry_held(vm->disks[i]);
			return;
		}
		char msg[64];
		snprintf(msg, sizeof(msg), "terminated by signal %u (%s)", si.ssi_signo,
			 strsignal((int)si.ssi_signo));
		vm_request_stop(vm, VM_SIGNAL, msg);
	}
}

static int setup_devices(struct vm *vm, const struct vm_files *files, char *err, size_t errlen)
{
	int ret = kvm_irqfd_new(vm->vm_fd, GSI_COM1, &vm->uart_irq_fd);
	if (ret)
		return fail(err, errlen, ret, "irqfd for the UART");
	uart_init(&vm->uart, vm->uart_irq_fd, files->console_out);
	ret = kvm_irqfd_new(vm->vm_fd, GSI_I8042, &vm->i8042_irq_fd);
	if (ret)
		return fail(err, errlen, ret, "irqfd for the keyboard controller");
	i8042_init(&vm->i8042, &vm->ctl, vm->i8042_irq_fd);
	pci_bus_init(&vm->pci);
	vm->pvpanic.ctl = &vm->ctl;
	vm->power.ctl = &vm->ctl;

	if ((ret = bus_map(&vm->pio, PORT_COM1, 8, &uart_bus_ops, &vm->uart)) ||
	    (ret = bus_map(&vm->pio, PORT_ACPI_SLEEP_CTL, 3, &power_acpi_bus_ops, &vm->power)) ||
	    (ret = bus_map(&vm->pio, PORT_I8042_DATA, 1, &i8042_data_bus_ops, &vm->i8042)) ||
	    (ret = bus_map(&vm->pio, PORT_I8042_CMD, 1, &i8042_cmd_bus_ops, &vm->i8042)) ||
	    (ret = bus_map(&vm->pio, PCI_CONFIG_PORT, 8, &pci_conf1_bus_ops, &vm->pci)) ||
	    (ret = bus_map(&vm->mmio, LAYOUT_PVPANIC, LAYOUT_PVPANIC_SIZE, &pvpanic_bus_ops,
			   &vm->pvpanic)))
		return fail(err, errlen, ret, "mapping device registers");

	/*
	 * Port 0x80 writes are I/O delays. KVM absorbs them into an eventfd
	 * nobody reads (its counter saturates, never blocks), so the vCPU does
	 * not exit for them.
	 */
	ret = kvm_ioeventfd_new(vm->vm_fd, 0x80, 1, true, false, 0, &vm->io_delay_fd);
	if (ret)
		return fail(err, errlen, ret, "ioeventfd for port 0x80");

	if (files->console_in >= 0) {
		console_init(&vm->console, &vm->loop, &vm->uart, &vm->ctl, files->console_in);
		vm->has_console_in = true;
	}
	return 0;
}

static uint64_t disk_mmio_base(unsigned i)
{
	return LAYOUT_VIRTIO_MMIO + i * LAYOUT_VIRTIO_MMIO_STRIDE;
}

static const unsigned disk_gsi[CONFIG_MAX_DISKS] = GSI_VIRTIO_LIST;

/* AHCI disks share one controller at 00:01.0, its ABAR at the start of the PCI window. */
static int setup_ahci(struct vm *vm, const struct vm_files *files, char *err, size_t errlen)
{
	struct blk *ports[AHCI_MAX_PORTS];
	unsigned n = 0;
	for (unsigned i = 0; i < vm->cfg->ndisks; i++)
		if (vm->cfg->disks[i].iface == DISK_IF_AHCI && n < AHCI_MAX_PORTS)
			ports[n++] = files->disks[i];
	if (!n)
		return 0;
	ahci_init(&vm->ahci, ports, n, PCI_MMIO_WINDOW, vm->vm_fd, &vm->loop, &vm->mem);
	vm->has_ahci = true;
	int ret = pci_plug(&vm->pci, 1, &vm->ahci.pci);
	if (!ret)
		ret = bus_map(&vm->mmio, PCI_MMIO_WINDOW, AHCI_ABAR_SIZE, &ahci_bus_ops, &vm->ahci);
	if (ret)
		return fail(err, errlen, ret, "setting up the AHCI controller");
	return 0;
}

/*
 * virtio-scsi disks share one controller, the virtio device after the
 * virtio-blk ones; disk k of them is target k. It has as many request queues
 * as the most any of its disks asks for (one per vCPU by default).
 */
static int setup_vscsi(struct vm *vm, const struct vm_files *files, unsigned slot, char *err,
		       size_t errlen)
{
	struct blk *targets[VSCSI_MAX_TARGETS];
	unsigned n = 0, queues = 1;
	for (unsigned i = 0; i < vm->cfg->ndisks; i++) {
		const struct disk_config *d = &vm->cfg->disks[i];
		if (d->iface != DISK_IF_VIRTIO_SCSI || n == VSCSI_MAX_TARGETS)
			continue;
		targets[n++] = files->disks[i];
		if (d->queues > queues)
			queues = d->queues;
	}
	if (!n)
		return 0;
	if (queues > VSCSI_MAX_REQUEST_QUEUES)
		queues = VSCSI_MAX_REQUEST_QUEUES;
	int ret = kvm_irqfd_new(vm->vm_fd, disk_gsi[slot], &vm->vscsi_irq_fd);
	if (ret)
		return fail(err, errlen, ret, "irqfd for the virtio-scsi controller");
	vm->has_vscsi = true;
	ret = vscsi_init(&vm->vscsi, targets, n, vm->vm_fd, disk_mmio_base(slot), queues,
			 vm->vscsi_irq_fd, &vm->loop, &vm->mem, &vm->ctl);
	if (ret)
		return fail(err, errlen, ret, "the virtio-scsi controller");
	ret = bus_map(&vm->mmio, disk_mmio_base(slot), VMMIO_SIZE, &vmmio_bus_ops, &vm->vscsi.mmio);
	if (ret)
		return fail(err, errlen, ret, "mapping the virtio-scsi controller");
	vmmio_start(&vm->vscsi.mmio);
	return 0;
}

/* --log-marks: the guest's marked console lines go into every disk's write log. */
static void setup_log_marks(struct vm *vm)
{
	if (!vm->cfg->log_marks)
		return;
	unsigned n = 0;
	for (unsigned i = 0; i < vm->ndisks; i++)
		if (vm->disks[i]->log)
			vm->mark_logs[n++] = vm->disks[i]->log;
	log_marks_init(&vm->marks, vm->cfg->log_marks, &vm->loop, vm->mark_logs, n);
	vm->has_marks = true;
	vm->uart.line_out = log_marks_line;
	vm->uart.line_out_ctx = &vm->marks;
}

static int setup_disks(struct vm *vm, const struct vm_files *files, char *err, size_t errlen)
{
	unsigned nvirtio = 0;
	for (unsigned i = 0; i < vm->cfg->ndisks; i++) {
		const struct disk_config *d = &vm->cfg->disks[i];
		struct blk *b = files->disks[i];
		vm->disks[i] = b;
		vm->ndisks = i + 1;
		vm->virtio_slot[i] = -1;
		blk_attach(b, &vm->loop, NULL);
		b->ctl = &vm->ctl;
		if (b->log)
			blk_attach_log(b, NULL, &vm->ctl);
		if (d->iface != DISK_IF_VIRTIO_BLK)
			continue;
		/* virtio devices get windows and interrupts in their own order. */
		unsigned v = nvirtio++;
		int ret = kvm_irqfd_new(vm->vm_fd, disk_gsi[v], &vm->disk_irq_fd[i]);
		if (ret)
			return fail(err, errlen, ret, "irqfd for disk %u", i);
		vm->virtio_slot[i] = (int)v;
		ret = vblk_init(&vm->vblk[i], b, vm->vm_fd, disk_mmio_base(v), d->queues,
				vm->disk_irq_fd[i], &vm->loop, &vm->mem, &vm->ctl);
		if (ret)
			return fail(err, errlen, ret, "virtio-blk for disk %u", i);
		ret = bus_map(&vm->mmio, disk_mmio_base(v), VMMIO_SIZE, &vmmio_bus_ops, &vm->vblk[i].mmio);
		if (ret)
			return fail(err, errlen, ret, "mapping disk %u", i);
		vmmio_start(&vm->vblk[i].mmio);
	}
	int ret = setup_vscsi(vm, files, nvirtio, err, errlen);
	if (ret)
		return ret;
	vm->nvirtio = nvirtio + vm->has_vscsi;
	if ((ret = setup_ahci(vm, files, err, errlen)))
		return ret;
	setup_log_marks(vm);
	return 0;
}

/*
 * The vsock device takes the virtio slot after the disks'. Its socket is
 * bound here, after a jail: uds_path and the <uds_path>_<port> sockets it
 * connects to are paths kestrel uses while the guest runs, so they are the
 * jail's, whether the command line or the API gave them.
 */
static int setup_vsock(struct vm *vm, char *err, size_t errlen, enum vm_error_kind *kind)
{
	const struct vsock_config *c = &vm->cfg->vsock;
	if (!c->cid)
		return 0;
	unsigned slot = vm->nvirtio;
	if (slot >= CONFIG_MAX_DISKS) {
		*kind = VM_ERR_CONFIG;
		return fail(err, errlen, -ENOSPC, "vsock: the %u virtio-mmio slots are taken by the "
			    "disks (virtio-blk disks and the virtio-scsi controller take one each)",
			    CONFIG_MAX_DISKS);
	}
	int ret = kvm_irqfd_new(vm->vm_fd, disk_gsi[slot], &vm->vsock_irq_fd);
	if (ret)
		return fail(err, errlen, ret, "irqfd for the vsock device");
	ret = vsock_init(&vm->vsock, c->cid, c->uds_path, vm->vm_fd, disk_mmio_base(slot),
			 vm->vsock_irq_fd, &vm->loop, &vm->mem, &vm->ctl);
	if (ret)
		return fail(err, errlen, ret, "the vsock device");
	vm->has_vsock = true;
	ret = vsock_listen(&vm->vsock, err, errlen);
	if (ret) {
		*kind = VM_ERR_CONFIG; /* a path that exists or cannot be made is the user's to fix */
		return ret;
	}
	ret = bus_map(&vm->mmio, disk_mmio_base(slot), VMMIO_SIZE, &vmmio_bus_ops, &vm->vsock.mmio);
	if (ret)
		return fail(err, errlen, ret, "mapping the vsock device");
	vm->nvirtio++;
	vsock_start(&vm->vsock);
	return 0;
}

static int setup_acpi(struct vm *vm, char *err, size_t errlen)
{
	struct acpi_device devices[4 + CONFIG_MAX_DISKS] = {
		{
			.name = "COM1", .hid = "PNP0501", .uid = 0, .nres = 2,
			.res = {{ACPI_RES_IO, PORT_COM1, 8}, {ACPI_RES_IRQ_EDGE, GSI_COM1, 0}},
		},
		/* A keyboard and no mouse: Linux's i8042 then leaves the AUX port alone. */
		{
			.name = "KBD0", .hid = "PNP0303", .uid = 0, .nres = 3,
			.res = {{ACPI_RES_IO, PORT_I8042_DATA, 1}, {ACPI_RES_IO, PORT_I8042_CMD, 1},
				{ACPI_RES_IRQ_EDGE, GSI_I8042, 0}},
		},
		{
			.name = "PEVT", .hid = "QEMU0001", .uid = 0, .nres = 1,
			.res = {{ACPI_RES_MEM32, (uint32_t)LAYOUT_PVPANIC, (uint32_t)LAYOUT_PVPANIC_SIZE}},
		},
	};
	unsigned n = 3;
	/* The PCI host bridge: Linux finds PCI only through it (FACTS §3.6). */
	devices[n++] = (struct acpi_device){
		.name = "PCI0", .hid = "PNP0A03", .uid = 0, .nres = 4,
		.res = {{ACPI_RES_BUS_NUMBERS, 0, 256}, {ACPI_RES_IO, PCI_CONFIG_PORT, 8},
			{ACPI_RES_IO_WINDOW, PCI_IO_WINDOW, PCI_IO_WINDOW_SIZE},
			{ACPI_RES_MEM_WINDOW, PCI_MMIO_WINDOW, PCI_MMIO_WINDOW_SIZE}},
	};
	/* virtio-mmio devices as Linux's virtio_mmio module binds them from ACPI (LNRO0005). */
	static const char *const names[CONFIG_MAX_DISKS] = {"VR00", "VR01", "VR02", "VR03",
							    "VR04", "VR05", "VR06", "VR07"};
	for (unsigned v = 0; v < vm->nvirtio; v++) {
		devices[n++] = (struct acpi_device){
			.name = names[v], .hid = "LNRO0005", .uid = v, .nres = 2,
			.res = {{ACPI_RES_MEM32, (uint32_t)disk_mmio_base(v), VMMIO_SIZE},
				{ACPI_RES_IRQ_EDGE, disk_gsi[v], 0}},
		};
	}
	struct acpi_config cfg = {
		.ncpus = vm->ncpus,
		.devices = devices,
		.ndevices = n,
	};
	uint8_t *dst = gm_ptr(&vm->mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
	struct acpi_layout layout;
	int ret = dst ? acpi_build(&cfg, LAYOUT_ACPI, dst, LAYOUT_ACPI_SIZE, &layout) : -EFAULT;
	if (ret)
		return fail(err, errlen, ret, "building ACPI tables");
	return 0;
}

static void phase_done(struct vm *vm, const char *name)
{
	if (vm->nphases < sizeof(vm->phases) / sizeof(vm->phases[0])) {
		vm->phases[vm->nphases].name = name;
		clock_gettime(CLOCK_MONOTONIC, &vm->phases[vm->nphases].end);
		vm->nphases++;
	}
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

int vm_prepare(struct vm *vm, char *err, size_t errlen)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->signal_fd = vm->uart_irq_fd = vm->io_delay_fd = -1;
	vm->i8042_irq_fd = -1;
	for (unsigned i = 0; i < CONFIG_MAX_DISKS; i++)
		vm->disk_irq_fd[i] = -1;
	vm->vscsi_irq_fd = vm->vsock_irq_fd = -1;
	for (unsigned i = 0; i < CONFIG_MAX_DISKS; i++)
		disk_swap_init(&vm->swaps[i], vm, i);
	vm->ctl.stop = ctl_stop;
	vm->ctl.stopping = ctl_stopping;
	vm->ctl.pause = ctl_pause;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_cond_init(&vm->stop_cond, NULL);
	int ret = loop_init(&vm->loop, 256);
	if (ret)
		return fail(err, errlen, ret, "io_uring setup");

	/*
	 * SIGINT, SIGTERM and SIGHUP become a clean stop, read on the loop;
	 * SIGUSR1 retries disk writes held for lack of host space. Every
	 * thread inherits the mask (none exists yet), and only vCPU threads
	 * take the kick signal.
	 */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigset_t blocked = set;
	sigaddset(&blocked, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (vm->signal_fd < 0)
		return fail(err, errlen, -errno, "signalfd");
	loop_watch(&vm->loop, &vm->signal_watch, vm->signal_fd, vm->signal_buf,
		   sizeof(vm->signal_buf), signal_read);
	return 0;
}

static int confine_loop(struct loop *l)
{
	int ret = seccomp_confine_loop(l->ring.ring_fd);
	if (ret)
		log_err("event loop: cannot load its seccomp filter: %s", strerror(-ret));
	return ret;
}

int vm_enable_seccomp(struct vm *vm, char *err, size_t errlen)
{
	int ret = seccomp_prepare();
	if (ret)
		return fail(err, errlen, ret, "seccomp: the SIGSYS handler");
	ret = loop_restrict(&vm->loop);
	if (ret)
		return fail(err, errlen, ret, "seccomp: restricting the io_uring ring to kestrel's "
			    "operations (--no-seccomp runs without)");
	vm->loop.on_thread_start = confine_loop;
	vm->seccomp = true;
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct vm_files *files,
	      char *err, size_t errlen, enum vm_error_kind *kind)
{
	vm->cfg = cfg;
	vm->ncpus = cfg->cpus;
	*kind = VM_ERR_RUNTIME;

	int ret = create_kvm_vm(vm, err, errlen);
	if (ret)
		return ret;
	phase_done(vm, "KVM VM and irqchip");
	if ((ret = setup_memory(vm, err, errlen)))
		return ret;
	phase_done(vm, "guest memory");
	if ((ret = setup_devices(vm, files, err, errlen)))
		return ret;
	if ((ret = setup_disks(vm, files, err, errlen)))
		return ret;
	if ((ret = setup_vsock(vm, err, errlen, kind)))
		return ret;
	if ((ret = setup_acpi(vm, err, errlen)))
		return ret;
	phase_done(vm, "event loop, devices, ACPI");

	struct linux_image img = {
		.kernel = files->kernel, .kernel_len = files->kernel_len, .kernel_fd = files->kernel_fd,
		.initrd = NULL, .initrd_len = files->initrd_len, .initrd_fd = files->initrd_fd,
		.cmdline = cfg->cmdline, .entry = cfg->boot_entry,
	};
	struct linux_entry entry;
	ret = linux_load(&vm->mem, &img, LAYOUT_ACPI, &entry, err, errlen);
	if (ret) {
		*kind = VM_ERR_CONFIG;
		return ret;
	}
	vm->boot_format = entry.format;
	phase_done(vm, "kernel and initrd loaded");
	if ((ret = x86_setup_memory(&vm->mem, &entry)))
		return fail(err, errlen, ret, "writing page tables");

	for (unsigned i = 0; i < vm->ncpus; i++) {
		ret = vcpu_create(vm, i, &vm->vcpus[i]);
		if (ret)
			return fail(err, errlen, ret, "creating vCPU %u", i);
	}
	if ((ret = x86_setup_boot_cpu(vm->vcpus[0].fd, &entry)))
		return fail(err, errlen, ret, "setting boot CPU registers");
	phase_done(vm, "vCPUs");
	return 0;
}

/* Loop thread: counts the disk requests still running on the host. */
static void drain_count(struct loop_task *t)
{
	struct vm *vm = container_of(t, struct vm, drain_task);
	unsigned n = 0;
	for (unsigned i = 0; i < vm->ndisks; i++)
		n += blk_inflight(vm->disks[i]) - blk_held(vm->disks[i]);
	pthread_mutex_lock(&vm->stop_lock);
	vm->drain_left = n;
	vm->drain_counted = true;
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_mutex_unlock(&vm->stop_lock);
}

static unsigned drain_ask(struct vm *vm)
{
	pthread_mutex_lock(&vm->stop_lock);
	vm->drain_counted = false;
	pthread_mutex_unlock(&vm->stop_lock);
	loop_call(&vm->loop, &vm->drain_task);
	pthread_mutex_lock(&vm->stop_lock);
	while (!vm->drain_counted)
		pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
	unsigned n = vm->drain_left;
	pthread_mutex_unlock(&vm->stop_lock);
	return n;
}

/*
 * Main thread, vCPUs stopped: lets the loop finish every disk request the
 * host is running, so that none is abandoned half done (QEMU drains too
 * when a VM stops). Gives up after VM_DRAIN_TIMEOUT_MS, saying on what.
 */
static void drain_disks(struct vm *vm)
{
	if (!vm->ndisks || !vm->loop.started)
		return;
	vm->drain_task.fn = drain_count;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	unsigned left;
	while ((left = drain_ask(vm)) != 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= VM_DRAIN_TIMEOUT_MS) {
			log_err("%u disk request(s) still running on the host after %d ms; giving up "
				"on them", left, VM_DRAIN_TIMEOUT_MS);
			break;
		}
		nanosleep(&(struct timespec){.tv_nsec = 2 * 1000 * 1000}, NULL);
	}
	/* Held requests were never acknowledged: the guest loses nothing it was promised. */
	for (unsigned i = 0; i < vm->ndisks; i++)
		if (blk_held(vm->disks[i]))
			log_err("disk %s: %u write(s) held for lack of host space were never done",
				vm->disks[i]->name, blk_held(vm->disks[i]));
}

enum vm_stop vm_run(struct vm *vm)
{
	int ret = vm->loop.started ? 0 : loop_start(&vm->loop);
	if (ret) {
		vm_request_stop(vm, VM_FAILURE, "cannot start the event loop thread");
		return vm->stop;
	}
	if (vm->has_console_in)
		console_start(&vm->console);
	/*
	 * The loop may already run (the API started it before the VM existed):
	 * only now may a SIGUSR1 read on it look at the disks, all built.
	 */
	__atomic_store_n(&vm->disks_live, vm->ndisks, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret) {
			vm_request_stop(vm, VM_FAILURE, "cannot start a vCPU thread");
			break;
		}
	}

	/*
	 * The vCPU threads exist (each confines itself): now this thread, which
	 * they would otherwise have inherited the filter of.
	 */
	if (!ret && vm->seccomp && (ret = seccomp_confine_main()) != 0) {
		log_err("main thread: cannot load its seccomp filter: %s", strerror(-ret));
		vm_request_stop(vm, VM_FAILURE, "cannot load the main thread's seccomp filter");
	}

	/* The main thread waits for the guest, doing what the loop hands it meanwhile. */
	pthread_mutex_lock(&vm->stop_lock);
	while (vm->stop == VM_RUNNING) {
		struct vm_main_job *job = vm->jobs;
		if (!job) {
			pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
			continue;
		}
		vm->jobs = job->next;
		if (!vm->jobs)
			vm->jobs_tail = NULL;
		pthread_mutex_unlock(&vm->stop_lock);
		job->fn(job);
		pthread_mutex_lock(&vm->stop_lock);
	}
	vm->jobs = vm->jobs_tail = NULL;
	pthread_mutex_unlock(&vm->stop_lock);

	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_stop(&vm->vcpus[i]);
	drain_disks(vm);
	loop_stop(&vm->loop);
	for (unsigned i = 0; i < vm->ndisks; i++)
		if (vm->disks[i]->log)
			blk_log_quiesce(vm->disks[i]->log);
	/* The loop has stopped: a blocking fdatasync on this thread holds up nothing. */
	for (unsigned i = 0; i < vm->ndisks; i++) {
		if (blk_final_flush(vm->disks[i]))
			vm->final_flush_failed = true;
		/* The last of the write log, after the final flush it records. */
		if (vm->disks[i]->log && blk_log_close(vm->disks[i]->log))
			vm->final_flush_failed = true;
	}
	uart_flush(&vm->uart);
	return vm->stop;
}

void vm_run_on_main(struct vm *vm, struct vm_main_job *job)
{
	pthread_mutex_lock(&vm->stop_lock);
	job->next = NULL;
	if (vm->jobs_tail)
		vm->jobs_tail->next = job;
	else
		vm->jobs = job;
	vm->jobs_tail = job;
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_mutex_unlock(&vm->stop_lock);
}

void vm_disk_changed(struct vm *vm, unsigned int i)
{
	const struct disk_config *d = &vm->cfg->disks[i];
	if (vm->virtio_slot[i] >= 0) {
		vmmio_config_changed(&vm->vblk[i].mmio);
		return;
	}
	if (d->iface != DISK_IF_VIRTIO_SCSI)
		return; /* AHCI: same size only (vmm/disk_swap.h) */
	unsigned t = 0; /* targets follow the virtio-scsi disks' order (setup_vscsi) */
	for (unsigned k = 0; k < i; k++)
		t += vm->cfg->disks[k].iface == DISK_IF_VIRTIO_SCSI;
	vscsi_capacity_changed(&vm->vscsi, t);
}

/* Peak resident memory of this process (VmHWM), in KiB: getrusage needs no /proc (the jail has none). */
static long vm_hwm_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* Guest RAM pages that are resident, i.e. that the guest (or we) touched. */
static uint64_t guest_touched_bytes(const struct guest_mem *gm)
{
	uint64_t total = 0;
	const size_t page = 4096, chunk = 1 << 20;
	static unsigned char vec[(1 << 20) / 4096];
	for (unsigned i = 0; i < gm->nregions; i++) {
		const struct gm_region *r = &gm->regions[i];
		for (uint64_t off = 0; off < r->size; off += chunk) {
			size_t len = r->size - off < chunk ? r->size - off : chunk;
			if (mincore(r->host + off, len, vec) < 0)
				continue;
			for (size_t p = 0; p < (len + page - 1) / page; p++)
				total += (vec[p] & 1) ? page : 0;
		}
	}
	return total;
}

void vm_print_stats(const struct vm *vm)
{
	fprintf(stderr, "kestrel: stats: boot format %s\n", vm->boot_format ? vm->boot_format : "-");
	fprintf(stderr, "kestrel: stats: main() to first KVM_RUN %.3f ms\n",
		ms_between(&vm->t_main, &vm->t_first_run));
	const struct timespec *prev = &vm->t_main;
	for (unsigned i = 0; i < vm->nphases; i++) {
		fprintf(stderr, "kestrel: stats:   %-28s %8.3f ms\n", vm->phases[i].name,
			ms_between(prev, &vm->phases[i].end));
		prev = &vm->phases[i].end;
	}
	fprintf(stderr, "kestrel: stats: console bytes from guest %llu\n",
		(unsigned long long)vm->uart.tx_bytes);
	if (vm->has_marks)
		fprintf(stderr, "kestrel: stats: log marks recorded %llu, dropped %llu\n",
			(unsigned long long)vm->marks.recorded, (unsigned long long)vm->marks.dropped);
	for (unsigned i = 0; i < vm->ndisks; i++) {
		char label[32];
		snprintf(label, sizeof(label), "disk%u %s", i, disk_iface_name(vm->cfg->disks[i].iface));
		blk_print_stats(vm->disks[i], label);
		if (vm->virtio_slot[i] < 0)
			continue;
		const struct vmmio *m = &vm->vblk[i].mmio;
		fprintf(stderr, "kestrel: stats: %s: kicks %llu, interrupts %llu, bad requests %llu\n",
			label, (unsigned long long)m->kicks, (unsigned long long)m->interrupts,
			(unsigned long long)m->bad_requests);
	}
	if (vm->has_vscsi) {
		const struct vmmio *m = &vm->vscsi.mmio;
		fprintf(stderr, "kestrel: stats: virtio-scsi: kicks %llu, interrupts %llu, "
			"bad requests %llu, task management %llu\n",
			(unsigned long long)m->kicks, (unsigned long long)m->interrupts,
			(unsigned long long)m->bad_requests, (unsigned long long)vm->vscsi.tmfs);
	}
	if (vm->has_vsock) {
		const struct vsock *v = &vm->vsock;
		fprintf(stderr, "kestrel: stats: vsock: connections %llu, refused %llu, resets sent "
			"%llu, bad packets %llu, credit violations %llu, kicks %llu, interrupts %llu\n",
			(unsigned long long)v->conns_opened, (unsigned long long)v->conns_refused,
			(unsigned long long)v->resets_sent, (unsigned long long)v->bad_packets,
			(unsigned long long)v->credit_violations, (unsigned long long)v->mmio.kicks,
			(unsigned long long)v->mmio.interrupts);
	}
	if (vm->has_ahci)
		fprintf(stderr, "kestrel: stats: ahci: interrupts %llu, bad commands %llu\n",
			(unsigned long long)vm->ahci.msis, (unsigned long long)vm->ahci.bad_commands);
	long hwm = vm_hwm_kib();
	uint64_t touched = guest_touched_bytes(&vm->mem) >> 10;
	fprintf(stderr, "kestrel: stats: peak RSS %ld KiB, guest RAM resident %llu KiB, "
		"monitor's own %ld KiB\n", hwm, (unsigned long long)touched,
		hwm - (long)touched);
}

void vm_destroy(struct vm *vm)
{
	if (vm->has_console_in)
		console_restore(&vm->console);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].vm)
			vcpu_destroy(&vm->vcpus[i]);
	if (vm->loop.kick_fd > 0)
		loop_destroy(&vm->loop);
	uart_destroy(&vm->uart);
	if (vm->i8042_irq_fd >= 0)
		i8042_destroy(&vm->i8042);
	if (vm->has_marks)
		log_marks_destroy(&vm->marks);
	pci_bus_destroy(&vm->pci);
	for (unsigned i = 0; i < vm->ndisks; i++) {
		if (vm->virtio_slot[i] >= 0)
			vblk_destroy(&vm->vblk[i]);
		if (vm->disk_irq_fd[i] >= 0)
			close(vm->disk_irq_fd[i]);
	}
	if (vm->has_vscsi)
		vscsi_destroy(&vm->vscsi);
	if (vm->vscsi_irq_fd >= 0)
		close(vm->vscsi_irq_fd);
	if (vm->has_ahci)
		ahci_destroy(&vm->ahci);
	if (vm->has_vsock)
		vsock_destroy(&vm->vsock);
	if (vm->vsock_irq_fd >= 0)
		close(vm->vsock_irq_fd);
	for (unsigned i = 0; i < CONFIG_MAX_DISKS; i++)
		disk_swap_release(&vm->swaps[i]);
	gm_destroy(&vm->mem);
	free(vm->cpuid);
	int fds[] = {vm->signal_fd, vm->uart_irq_fd, vm->i8042_irq_fd, vm->io_delay_fd, vm->vm_fd,
		     vm->kvm_fd};
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_cond_destroy(&vm->stop_cond);
}
