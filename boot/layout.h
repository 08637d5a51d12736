/*
 * The guest's physical address map, in one place. Low memory follows the
 * conventions Linux and other microVM monitors use; see README "Guest layout".
 */
#ifndef KESTREL_LAYOUT_H
#define KESTREL_LAYOUT_H

#define LAYOUT_GDT 0x500ull
#define LAYOUT_START_INFO 0x6000ull   /* PVH: hvm_start_info, module list, memory map */
#define LAYOUT_BOOT_PARAMS 0x7000ull  /* Linux zero page */
#define LAYOUT_PML4 0x9000ull
#define LAYOUT_PDPT 0xA000ull
#define LAYOUT_PD 0xB000ull           /* 4 pages: identity map of the first 4 GiB */
#define LAYOUT_CMDLINE 0x20000ull
#define LAYOUT_CMDLINE_MAX 0x10000ull
#define LAYOUT_LOW_RAM_END 0x9FC00ull /* usable below 1 MiB (SMP trampoline lives here) */
#define LAYOUT_ACPI 0xE0000ull        /* RSDP first, then the tables; up to 1 MiB */
#define LAYOUT_ACPI_SIZE 0x20000ull
#define LAYOUT_HIMEM 0x100000ull
#define LAYOUT_RESET_VECTOR 0xFFFF0ull /* F000:FFF0, where a BIOS reboot jumps */

/* Platform MMIO between the end of low RAM (3 GiB) and the IOAPIC. */
#define LAYOUT_VIRTIO_MMIO 0xD0000000ull /* one 4 KiB window per virtio device */
#define LAYOUT_VIRTIO_MMIO_STRIDE 0x1000ull
#define LAYOUT_PVPANIC 0xD1000000ull
#define LAYOUT_PVPANIC_SIZE 0x2ull
#define LAYOUT_IOAPIC 0xFEC00000ull
#define LAYOUT_LAPIC 0xFEE00000ull
#define LAYOUT_IDENTITY_MAP 0xFFFBC000ull /* KVM's, one page (Intel) */
#define LAYOUT_TSS 0xFFFBD000ull          /* KVM's, three pages (Intel) */

/* Port I/O. */
#define PORT_COM1 0x3F8
#define PORT_I8042_DATA 0x60         /* the keyboard controller (SendCtrlAltDel) */
#define PORT_I8042_CMD 0x64          /* 0xFE here is the legacy reboot Linux falls back to */
#define PORT_ACPI_SLEEP_CTL 0x600    /* FADT SLEEP_CONTROL_REG */
#define PORT_ACPI_SLEEP_STS 0x601    /* FADT SLEEP_STATUS_REG */
#define PORT_ACPI_RESET 0x602        /* FADT RESET_REG */
#define ACPI_RESET_VALUE 0x01
#define ACPI_S5_SLP_TYP 5

/* Interrupts (IOAPIC pins = GSIs). */
#define GSI_I8042 1 /* the keyboard, as on a PC */
#define GSI_COM1 4
/* virtio-mmio devices, in order; 8 and 9 stay free (the RTC's and ACPI's by convention). */
#define GSI_VIRTIO_LIST {5, 6, 7, 10, 11, 12, 13, 14}

#endif
