/*
 * ACPI tables for a hardware-reduced microVM: RSDP, XSDT, FADT, MADT and a
 * DSDT generated from a table of devices. Pure: builds bytes for a given
 * guest physical base; main thread.
 */
#ifndef KESTREL_ACPI_H
#define KESTREL_ACPI_H

#include <stddef.h>
#include <stdint.h>

enum acpi_res_kind {
	ACPI_RES_IO,       /* base = first port, len = ports */
	ACPI_RES_MEM32,    /* base, len */
	ACPI_RES_IRQ_EDGE, /* base = GSI, active-high */
	ACPI_RES_IRQ_LEVEL,/* base = GSI, active-high */
	ACPI_RES_BUS_NUMBERS, /* a host bridge's bus range: base = first, len = count */
	ACPI_RES_IO_WINDOW,   /* a host bridge's port window */
	ACPI_RES_MEM_WINDOW,  /* a host bridge's memory window */
};

struct acpi_res {
	enum acpi_res_kind kind;
	uint32_t base;
	uint32_t len;
};

#define ACPI_MAX_RES 4

/* One device in the DSDT, under \_SB. */
struct acpi_device {
	const char *name;  /* 4-character NameSeg */
	const char *hid;   /* "PNP0501" becomes an EisaId; anything else a string */
	unsigned int uid;
	struct acpi_res res[ACPI_MAX_RES];
	unsigned int nres;
};

struct acpi_config {
	unsigned int ncpus;
	const struct acpi_device *devices;
	unsigned int ndevices;
};

/* Offsets of each table inside the built blob, for tests and logs. */
struct acpi_layout {
	size_t rsdp, xsdt, fadt, madt, dsdt;
	size_t len;
};

#define ACPI_FADT_LEN 276
#define ACPI_FADT_FLAG_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_FLAG_HW_REDUCED (1u << 20)

/*
 * Builds all tables into out (cap bytes), to be placed at guest physical
 * `base`; the RSDP is at offset 0. Returns 0, -ENOSPC or -ENOMEM.
 */
__attribute__((warn_unused_result)) int acpi_build(const struct acpi_config *cfg, uint64_t base,
						   uint8_t *out, size_t cap,
						   struct acpi_layout *layout);

/* The DSDT alone (header and AML), in a malloc'd buffer. */
__attribute__((warn_unused_result)) int acpi_build_dsdt(const struct acpi_config *cfg,
							uint8_t **out, size_t *len);

/* 8-bit sum of len bytes (0 for a valid table). */
uint8_t acpi_sum(const uint8_t *p, size_t len);

#endif
