/* How devices ask the VM to stop, without knowing struct vm. Any thread. */
#ifndef KESTREL_VM_CTL_H
#define KESTREL_VM_CTL_H

#include <stdbool.h>

enum vm_stop {
	VM_RUNNING = 0,
	VM_POWEROFF, /* guest powered off: exit 0 */
	VM_REBOOT,   /* guest asked to reboot: exit 0 */
	VM_QUIT,     /* user typed Ctrl-A x: exit 0 */
	VM_PANIC,    /* guest panicked (pvpanic): exit 1 */
	VM_FAILURE,  /* triple fault, KVM error, internal error: exit 1 */
	VM_SIGNAL,   /* the monitor got SIGINT/SIGTERM/SIGHUP: exit 1 */
};

struct vm_ctl {
	/* The first request wins; later ones are ignored. msg may be NULL. */
	void (*stop)(struct vm_ctl *ctl, enum vm_stop reason, const char *msg);
	/* Whether a stop was requested: a device waiting for the loop gives up then. */
	bool (*stopping)(struct vm_ctl *ctl);
	/*
	 * Holds the vCPUs out of KVM_RUN (pause true) or lets them go again
	 * (false); the guest runs while every pause has been undone. Returns at
	 * once, before the vCPUs have stopped. Any thread but a vCPU's.
	 */
	void (*pause)(struct vm_ctl *ctl, bool pause);
};

#endif
