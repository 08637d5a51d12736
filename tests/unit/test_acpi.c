#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/bytes.h"
#include "boot/layout.h"

static const struct acpi_device devices[] = {
	{.name = "COM1", .hid = "PNP0501", .uid = 0, .nres = 2,
	 .res = {{ACPI_RES_IO, 0x3F8, 8}, {ACPI_RES_IRQ_EDGE, 4, 0}}},
	{.name = "PEVT", .hid = "QEMU0001", .uid = 0, .nres = 1,
	 .res = {{ACPI_RES_MEM32, 0xD1000000, 2}}},
	{.name = "PCI0", .hid = "PNP0A03", .uid = 0, .nres = 4,
	 .res = {{ACPI_RES_BUS_NUMBERS, 0, 256}, {ACPI_RES_IO, 0xCF8, 8},
		 {ACPI_RES_IO_WINDOW, 0x1000, 0xF000}, {ACPI_RES_MEM_WINDOW, 0xC0000000, 0x10000000}}},
};

static uint8_t blob[LAYOUT_ACPI_SIZE];
static struct acpi_layout l;

static void build(unsigned ncpus)
{
	struct acpi_config cfg = {ncpus, devices, 3};
	cr_assert_eq(acpi_build(&cfg, LAYOUT_ACPI, blob, sizeof(blob), &l), 0);
}

Test(acpi, every_table_checksums_to_zero)
{
	build(4);
	cr_assert_eq(memcmp(blob, "RSD PTR ", 8), 0);
	cr_assert_eq(acpi_sum(blob, 20), 0, "RSDP v1 checksum");
	cr_assert_eq(acpi_sum(blob, 36), 0, "RSDP extended checksum");
	cr_assert_eq(blob[15], 2, "RSDP revision 2 (XSDT)");
	const size_t tables[] = {l.xsdt, l.fadt, l.madt, l.dsdt};
	for (unsigned i = 0; i < 4; i++) {
		uint32_t len = get_le32(blob + tables[i] + 4);
		cr_assert_gt(len, 36);
		cr_assert_eq(acpi_sum(blob + tables[i], len), 0, "table %.4s", blob + tables[i]);
	}
}

Test(acpi, pointers_link_the_tables)
{
	build(1);
	cr_assert_eq(get_le64(blob + 24), LAYOUT_ACPI + l.xsdt);
	cr_assert_eq(memcmp(blob + l.xsdt, "XSDT", 4), 0);
	cr_assert_eq(get_le64(blob + l.xsdt + 36), LAYOUT_ACPI + l.fadt);
	cr_assert_eq(get_le64(blob + l.xsdt + 44), LAYOUT_ACPI + l.madt);
	cr_assert_eq(memcmp(blob + l.fadt, "FACP", 4), 0);
	cr_assert_eq(get_le64(blob + l.fadt + 140), LAYOUT_ACPI + l.dsdt, "X_DSDT");
	cr_assert_eq(memcmp(blob + l.dsdt, "DSDT", 4), 0);
}

Test(acpi, fadt_is_hardware_reduced_with_sleep_and_reset_registers)
{
	build(1);
	const uint8_t *f = blob + l.fadt;
	cr_assert_eq(get_le32(f + 4), ACPI_FADT_LEN);
	cr_assert_eq(f[8], 6, "FADT revision");
	uint32_t flags = get_le32(f + 112);
	cr_assert(flags & ACPI_FADT_FLAG_HW_REDUCED);
	cr_assert(flags & ACPI_FADT_FLAG_RESET_REG_SUP);
	/* Reset register: SystemIO byte at the port the power device decodes. */
	cr_assert_eq(f[116], 1);
	cr_assert_eq(f[117], 8);
	cr_assert_eq(get_le64(f + 120), PORT_ACPI_RESET);
	cr_assert_eq(f[128], ACPI_RESET_VALUE);
	cr_assert_eq(f[244], 1);
	cr_assert_eq(get_le64(f + 248), PORT_ACPI_SLEEP_CTL);
	cr_assert_eq(get_le64(f + 260), PORT_ACPI_SLEEP_STS);
	/* No CMOS RTC, no VGA: the guest skips probing them. */
	cr_assert_eq(get_le16(f + 109) & 0x24, 0x24);
}

Test(acpi, madt_has_one_enabled_lapic_per_cpu_and_the_ioapic)
{
	for (unsigned ncpus = 1; ncpus <= 32; ncpus += 31) {
		build(ncpus);
		const uint8_t *m = blob + l.madt;
		uint32_t len = get_le32(m + 4);
		cr_assert_eq(get_le32(m + 36), 0xFEE00000);
		unsigned lapics = 0, ioapics = 0;
		for (uint32_t off = 44; off < len; off += m[off + 1]) {
			cr_assert_gt(m[off + 1], 0);
			if (m[off] == 0) {
				cr_assert_eq(m[off + 3], lapics, "APIC IDs are 0..n-1");
				cr_assert_eq(get_le32(m + off + 4) & 1, 1, "enabled");
				lapics++;
			} else if (m[off] == 1) {
				cr_assert_eq(get_le32(m + off + 4), 0xFEC00000);
				ioapics++;
			}
		}
		cr_assert_eq(lapics, ncpus);
		cr_assert_eq(ioapics, 1);
	}
}

/* The DSDT must decompile cleanly with ACPICA's iasl and name our devices. */
Test(acpi, dsdt_decompiles_with_iasl_and_names_the_devices)
{
	struct acpi_config cfg = {1, devices, 3};
	uint8_t *dsdt;
	size_t len;
	cr_assert_eq(acpi_build_dsdt(&cfg, &dsdt, &len), 0);
	char dir[] = "/tmp/kestrel-acpi-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[256], cmd[768];
	snprintf(path, sizeof(path), "%s/dsdt.aml", dir);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(dsdt, 1, len, f), len);
	fclose(f);
	free(dsdt);

	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.aml > iasl.log 2>&1", dir);
	int status = system(cmd);
	cr_assert_eq(status, 0, "iasl -d failed (is acpica-tools installed?)");
	snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f, "iasl wrote no dsdt.dsl");
	static char dsl[65536];
	size_t n = fread(dsl, 1, sizeof(dsl) - 1, f);
	dsl[n] = 0;
	fclose(f);
	const char *want[] = {"Device (COM1)", "EisaId (\"PNP0501\")", "Device (PEVT)",
			      "\"QEMU0001\"", "Name (_S5, Package", "0x03F8", "0xD1000000",
			      "Device (PCI0)", "EisaId (\"PNP0A03\")",
			      "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,",
			      "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,",
			      "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,",
			      "0xCFFFFFFF", "0xFFFF"};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(dsl, want[i]), "decompiled DSDT lacks %s:\n%s", want[i], dsl);
	cr_assert_null(strstr(dsl, "Error"), "%s", dsl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}
