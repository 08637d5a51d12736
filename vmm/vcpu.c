#include "vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "boot/x86.h"
#include "vmm/log.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

static void kick_handler(int sig)
{
	(void)sig; /* only here to make KVM_RUN return -EINTR */
}

int vcpu_init_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must return */
	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

int vcpu_create(struct vm *vm, unsigned int id, struct vcpu *v)
{
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		int ret = -errno;
		close(v->fd);
		return ret;
	}
	int ret = x86_setup_cpuid(v->fd, vm->cpuid, id, vm->ncpus);
	if (!ret)
		ret = x86_setup_msrs(v->fd);
	if (ret) {
		vcpu_destroy(v);
		return ret;
	}
	return 0;
}

static void fail(struct vcpu *v, const char *what)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "vCPU %u: %s", v->id, what);
	log_err("%s", msg);
	x86_dump_regs(v->fd, v->id);
	vm_request_stop(v->vm, VM_FAILURE, msg);
}

/* Returns false when the vCPU should stop running. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;
	char what[96];
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint8_t *data = (uint8_t *)run + run->io.data_offset;
		bool out = run->io.direction == KVM_EXIT_IO_OUT;
		for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
			bus_access(&vm->pio, run->io.port, data, run->io.size, out);
		return true;
	}
	case KVM_EXIT_MMIO:
		bus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			   run->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours has one. */
		return true;
	case KVM_EXIT_SHUTDOWN:
		fail(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN: vm_request_stop(vm, VM_POWEROFF, NULL); break;
		case KVM_SYSTEM_EVENT_RESET: vm_request_stop(vm, VM_REBOOT, NULL); break;
		case KVM_SYSTEM_EVENT_CRASH: vm_request_stop(vm, VM_PANIC, "guest crashed"); break;
		default:
			snprintf(what, sizeof(what), "unknown system event %u", run->system_event.type);
			fail(v, what);
		}
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed (hardware reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		fail(v, what);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error (suberror %u)", run->internal.suberror);
		fail(v, what);
		return false;
	default:
		snprintf(what, sizeof(what), "unexpected KVM exit reason %u", run->exit_reason);
		fail(v, what);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	/* Firecracker's name: Kata finds vCPU threads to pin by "fc_vcpu N". */
	snprintf(name, sizeof(name), "fc_vcpu %u", v->id);
	pthread_setname_np(pthread_self(), name);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	if (v->vm->seccomp) {
		int ret = seccomp_confine_vcpu(name, v->fd, v->vm->vm_fd);
		if (ret) {
			char what[96];
			snprintf(what, sizeof(what), "cannot load its seccomp filter: %s", strerror(-ret));
			fail(v, what);
			return NULL;
		}
	}

	bool first = true;
	while (!vm_stopping(v->vm)) {
		if (vm_wait_while_paused(v->vm)) {
			/*
			 * A pause kicked us with immediate_exit; clear it, then look
			 * again: a pause or stop that lands after the store sets it anew.
			 */
			__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			continue;
		}
		if (first && v->id == 0) {
			clock_gettime(CLOCK_MONOTONIC, &v->vm->t_first_run);
			first = false;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			char what[96];
			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(errno));
			fail(v, what);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (ret)
		return -ret;
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	/* immediate_exit closes the race with a signal that lands before KVM_RUN. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_stop(struct vcpu *v)
{
	if (!v->started)
		return;
	vcpu_kick(v);
	pthread_join(v->thread, NULL);
	v->started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run && v->run != MAP_FAILED)
		munmap(v->run, v->vm->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
