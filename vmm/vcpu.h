/*
 * vCPU threads: KVM_RUN, and each exit dispatched to the port or MMIO bus.
 * A vCPU is stopped by setting immediate_exit and signalling its thread.
 */
#ifndef KESTREL_VCPU_H
#define KESTREL_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

/* Not SIGUSR1: that one tells kestrel to retry disk writes held for lack of space. */
#define VCPU_KICK_SIGNAL SIGUSR2

/* Main thread. Creates the KVM vCPU, maps its run area, sets CPUID and MSRs. */
int vcpu_create(struct vm *vm, unsigned int id, struct vcpu *v);
int vcpu_start(struct vcpu *v);
/* Main thread: makes KVM_RUN return and joins the thread. */
void vcpu_stop(struct vcpu *v);
/* Any thread: makes KVM_RUN return soon, so the thread sees a stop or a pause. */
void vcpu_kick(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

/* Installs the (empty) handler of the kick signal; once, before any vCPU starts. */
int vcpu_init_signals(void);

#endif
