#include "boot/x86.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot/bytes.h"
#include "boot/layout.h"

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_PS 0x80

/* Flat descriptors: null, null, code (0x10), data (0x18). */
static const uint64_t gdt_linux64[] = {0, 0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull};
/* For PVH the code segment is 32-bit (L=0, D=1). */
static const uint64_t gdt_pvh[] = {0, 0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull};

int x86_setup_memory(const struct guest_mem *gm, const struct linux_entry *entry)
{
	const uint64_t *gdt = entry->mode == LINUX_ENTRY_PVH ? gdt_pvh : gdt_linux64;
	uint8_t gdt_bytes[4 * 8];
	for (unsigned i = 0; i < 4; i++)
		put_le64(gdt_bytes + i * 8, gdt[i]);
	if (gm_write(gm, LAYOUT_GDT, gdt_bytes, sizeof(gdt_bytes)))
		return -EFAULT;

	/*
	 * Linux's default reboot on this platform goes "through the BIOS": back
	 * to real mode and a jump to the reset vector. Like firmware, we keep
	 * code there; ours writes the ACPI reset register (real mode):
	 *   mov al, RESET_VALUE; mov dx, PORT_ACPI_RESET; out dx, al; 1: hlt; jmp 1b
	 */
	const uint8_t reset_stub[] = {0xB0, ACPI_RESET_VALUE,
				      0xBA, PORT_ACPI_RESET & 0xFF, PORT_ACPI_RESET >> 8,
				      0xEE, 0xF4, 0xEB, 0xFD};
	if (gm_write(gm, LAYOUT_RESET_VECTOR, reset_stub, sizeof(reset_stub)))
		return -EFAULT;

	uint8_t pml4[4096] = {0}, pdpt[4096] = {0}, pd[4 * 4096];
	put_le64(pml4, LAYOUT_PDPT | PTE_P | PTE_RW);
	for (unsigned i = 0; i < 4; i++)
		put_le64(pdpt + i * 8, (LAYOUT_PD + i * 4096) | PTE_P | PTE_RW);
	for (unsigned i = 0; i < 4 * 512; i++)
		put_le64(pd + i * 8, ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS);
	if (gm_write(gm, LAYOUT_PML4, pml4, sizeof(pml4)) ||
	    gm_write(gm, LAYOUT_PDPT, pdpt, sizeof(pdpt)) || gm_write(gm, LAYOUT_PD, pd, sizeof(pd)))
		return -EFAULT;
	return 0;
}

static struct kvm_segment segment(uint64_t desc, uint16_t sel)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xFFFFFFFF,
		.selector = sel,
		.type = (desc >> 40) & 0xF,
		.present = (desc >> 47) & 1,
		.dpl = (desc >> 45) & 3,
		.db = (desc >> 54) & 1,
		.s = (desc >> 44) & 1,
		.l = (desc >> 53) & 1,
		.g = (desc >> 55) & 1,
	};
}

int x86_setup_boot_cpu(int vcpu_fd, const struct linux_entry *entry)
{
	struct kvm_sregs sregs;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	const uint64_t *gdt = entry->mode == LINUX_ENTRY_PVH ? gdt_pvh : gdt_linux64;
	/* The GDT lives in guest memory too: Linux reloads segments from it. */
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.cs = segment(gdt[2], 0x10);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = segment(gdt[3], 0x18);
	if (entry->mode == LINUX_ENTRY_64) {
		sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs.cr3 = LAYOUT_PML4;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
	} else {
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr3 = 0;
		sregs.cr4 = 0;
		sregs.efer = 0;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	struct kvm_regs regs = {0};
	regs.rflags = 0x2;
	regs.rip = entry->rip;
	if (entry->mode == LINUX_ENTRY_64)
		regs.rsi = entry->arg;
	else
		regs.rbx = entry->arg;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int x86_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			*out = c;
			return 0;
		}
		int err = errno;
		free(c);
		if (err != E2BIG)
			return -err;
	}
	return -E2BIG;
}

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

int x86_setup_cpuid(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned int id,
		    unsigned int ncpus)
{
	size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	if (!c)
		return -ENOMEM;
	memcpy(c, supported, size);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			/* Initial APIC ID = vCPU index = MADT APIC ID; logical count; hypervisor. */
			e->ebx = (e->ebx & 0x0000FFFF) | (id << 24) | ((ncpus & 0xFF) << 16);
			e->ecx |= 1u << 31;
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT: the count field is valid */
			break;
		case 0xB:
		case 0x1F:
			/* One thread per core, ncpus cores per package. */
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = bits_for(ncpus);
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			e->edx = id;
			break;
		case 0x80000008:
			/* AMD: cores per package - 1, and the APIC ID bits they use. */
			e->ecx = (e->ecx & ~0xF0FFu) | (bits_for(ncpus) << 12) | ((ncpus - 1) & 0xFF);
			break;
		}
	}
	int ret = ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return ret;
}

int x86_setup_msrs(int vcpu_fd)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
		{0x174, 0},        /* SYSENTER_CS */
		{0x175, 0},        /* SYSENTER_ESP */
		{0x176, 0},        /* SYSENTER_EIP */
		{0xC0000081, 0},   /* STAR */
		{0xC0000082, 0},   /* LSTAR */
		{0xC0000083, 0},   /* CSTAR */
		{0xC0000084, 0},   /* SFMASK */
		{0xC0000102, 0},   /* KERNEL_GS_BASE */
		{0x10, 0},         /* TSC */
		{0x1A0, 1},        /* MISC_ENABLE: fast strings */
		{0x2FF, 0x806},    /* MTRRdefType: enabled, default write-back */
	};
	const unsigned n = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[sizeof(boot_msrs) / sizeof(boot_msrs[0])];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		m.e[i].index = boot_msrs[i].index;
		m.e[i].data = boot_msrs[i].data;
	}
	int ret = ioctl(vcpu_fd, KVM_SET_MSRS, &m);
	if (ret < 0)
		return -errno;
	return (unsigned)ret == n ? 0 : -EINVAL;
}

void x86_dump_regs(int vcpu_fd, unsigned int id)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(stderr, "kestrel: vCPU %u: registers unavailable\n", id);
		return;
	}
	fprintf(stderr,
		"kestrel: vCPU %u registers:\n"
		"  rip %016llx rflags %016llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		"  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %016llx\n"
		"  cs %04x ss %04x idt %016llx/%x gdt %016llx/%x\n",
		id, r.rip, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8,
		r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
		s.cs.selector, s.ss.selector, s.idt.base, s.idt.limit, s.gdt.base, s.gdt.limit);
}
