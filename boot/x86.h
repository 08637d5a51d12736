/*
 * x86 CPU state at kernel entry: identity page tables, GDT, segment and
 * control registers, CPUID and boot MSRs. Main thread, before KVM_RUN.
 */
#ifndef KESTREL_X86_H
#define KESTREL_X86_H

#include <linux/kvm.h>
#include <stdint.h>

#include "boot/linux.h"
#include "vmm/guest_mem.h"

/* Writes the GDT for the entry mode and the identity map of the first 4 GiB (2 MiB pages). */
__attribute__((warn_unused_result)) int x86_setup_memory(const struct guest_mem *gm,
							 const struct linux_entry *entry);

/* Registers of the boot CPU for the given entry. */
__attribute__((warn_unused_result)) int x86_setup_boot_cpu(int vcpu_fd,
							   const struct linux_entry *entry);

/*
 * CPUID for vCPU `id` of `ncpus`, from KVM's supported set with the APIC ID,
 * topology and hypervisor bit made consistent with the MADT.
 */
__attribute__((warn_unused_result)) int x86_setup_cpuid(int vcpu_fd,
							const struct kvm_cpuid2 *supported,
							unsigned int id, unsigned int ncpus);

/* KVM_GET_SUPPORTED_CPUID, grown until it fits; caller frees. */
__attribute__((warn_unused_result)) int x86_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out);

__attribute__((warn_unused_result)) int x86_setup_msrs(int vcpu_fd);

/* Prints the vCPU's registers on stderr, for runtime failure reports. */
void x86_dump_regs(int vcpu_fd, unsigned int id);

#endif
