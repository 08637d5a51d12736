/*
 * The two eventfd paths between KVM and the event loop: an irqfd raises a
 * guest interrupt when written; an ioeventfd is signalled, instead of a vCPU
 * exit, when the guest writes a register. Main thread, during setup.
 */
#ifndef KESTREL_KVM_EVENTFD_H
#define KESTREL_KVM_EVENTFD_H

#include <stdbool.h>
#include <stdint.h>

/* An eventfd whose every write pulses GSI `gsi` (edge-triggered). */
__attribute__((warn_unused_result)) int kvm_irqfd_new(int vm_fd, unsigned int gsi, int *out);

/*
 * An eventfd KVM signals when the guest writes `len` bytes to `addr` (port
 * I/O when pio); with match, only when the value written equals `value`.
 */
__attribute__((warn_unused_result)) int kvm_ioeventfd_new(int vm_fd, uint64_t addr, uint32_t len,
							  bool pio, bool match, uint64_t value,
							  int *out);

#endif
