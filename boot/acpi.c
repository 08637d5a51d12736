#include "boot/acpi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/aml.h"
#include "boot/bytes.h"
#include "boot/layout.h"

#define SDT_HEADER_LEN 36
#define OEM_ID "KESTRL"
#define OEM_TABLE_ID "KESTREL "

uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put_le32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le32(t + 24, 1);
	memcpy(t + 28, "KSTL", 4);
	put_le32(t + 32, 1);
}

static void sdt_checksum(uint8_t *t, size_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)(0x100 - acpi_sum(t, len));
}

/* Generic Address Structure for a byte-wide I/O port. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = 1; /* SystemIO */
	g[1] = 8;
	g[2] = 0;
	g[3] = 1; /* byte access */
	put_le64(g + 4, port);
}

static int is_eisa_id(const char *hid)
{
	if (strlen(hid) != 7)
		return 0;
	for (int i = 0; i < 3; i++)
		if (hid[i] < 'A' || hid[i] > 'Z')
			return 0;
	for (int i = 3; i < 7; i++)
		if (!((hid[i] >= '0' && hid[i] <= '9') || (hid[i] >= 'A' && hid[i] <= 'F')))
			return 0;
	return 1;
}

static void dsdt_device(struct aml *scope, const struct acpi_device *d)
{
	struct aml body, v, res, buf;
	aml_init(&body);

	aml_init(&v);
	if (is_eisa_id(d->hid))
		aml_eisaid(&v, d->hid);
	else
		aml_string(&v, d->hid);
	aml_name(&body, "_HID", &v);
	aml_free(&v);

	aml_init(&v);
	aml_integer(&v, d->uid);
	aml_name(&body, "_UID", &v);
	aml_free(&v);

	aml_init(&res);
	for (unsigned i = 0; i < d->nres && i < ACPI_MAX_RES; i++) {
		const struct acpi_res *r = &d->res[i];
		switch (r->kind) {
		case ACPI_RES_IO: aml_res_io(&res, (uint16_t)r->base, (uint8_t)r->len); break;
		case ACPI_RES_MEM32: aml_res_mem32(&res, r->base, r->len); break;
		case ACPI_RES_IRQ_EDGE: aml_res_irq(&res, r->base, true, false); break;
		case ACPI_RES_IRQ_LEVEL: aml_res_irq(&res, r->base, false, false); break;
		case ACPI_RES_BUS_NUMBERS:
			aml_res_bus_numbers(&res, (uint16_t)r->base, (uint16_t)r->len);
			break;
		case ACPI_RES_IO_WINDOW:
			aml_res_io_window(&res, (uint16_t)r->base, (uint16_t)r->len);
			break;
		case ACPI_RES_MEM_WINDOW: aml_res_mem_window(&res, r->base, r->len); break;
		}
	}
	aml_res_end(&res);
	aml_init(&buf);
	aml_buffer(&buf, &res);
	aml_name(&body, "_CRS", &buf);
	aml_free(&buf);
	aml_free(&res);

	aml_device(scope, d->name, &body);
	aml_free(&body);
}

int acpi_build_dsdt(const struct acpi_config *cfg, uint8_t **out, size_t *len)
{
	struct aml dsdt, sb, v, pkg;
	aml_init(&dsdt);
	uint8_t hdr[SDT_HEADER_LEN] = {0};
	aml_bytes(&dsdt, hdr, sizeof(hdr));

	aml_init(&sb);
	for (unsigned i = 0; i < cfg->ndevices; i++)
		dsdt_device(&sb, &cfg->devices[i]);
	aml_scope(&dsdt, "_SB_", &sb);
	aml_free(&sb);

	/* \_S5: the SLP_TYP the guest writes to power off. */
	aml_init(&v);
	aml_integer(&v, ACPI_S5_SLP_TYP);
	aml_integer(&v, 0);
	aml_integer(&v, 0);
	aml_integer(&v, 0);
	aml_init(&pkg);
	aml_package(&pkg, 4, &v);
	aml_name(&dsdt, "_S5_", &pkg);
	aml_free(&pkg);
	aml_free(&v);

	if (dsdt.err) {
		int err = dsdt.err;
		aml_free(&dsdt);
		return err;
	}
	/* Revision 2: integers are 64-bit. */
	sdt_header(dsdt.buf, "DSDT", (uint32_t)dsdt.len, 2);
	sdt_checksum(dsdt.buf, dsdt.len);
	*out = dsdt.buf;
	*len = dsdt.len;
	return 0;
}

static size_t build_fadt(uint8_t *t, uint64_t dsdt)
{
	memset(t, 0, ACPI_FADT_LEN);
	sdt_header(t, "FACP", ACPI_FADT_LEN, 6);
	put_le32(t + 40, (uint32_t)dsdt);
	/* IAPC_BOOT_ARCH: no VGA (bit 2), no CMOS RTC (bit 5); no i8042 (bit 1 clear). */
	put_le16(t + 109, (1u << 2) | (1u << 5));
	/* Power and sleep buttons are control-method (none exist): no fixed events. */
	put_le32(t + 112, ACPI_FADT_FLAG_HW_REDUCED | ACPI_FADT_FLAG_RESET_REG_SUP | (1u << 4) | (1u << 5));
	gas_io8(t + 116, PORT_ACPI_RESET);
	t[128] = ACPI_RESET_VALUE;
	t[131] = 3; /* FADT minor version: ACPI 6.3 */
	put_le64(t + 140, dsdt);
	gas_io8(t + 244, PORT_ACPI_SLEEP_CTL);
	gas_io8(t + 256, PORT_ACPI_SLEEP_STS);
	memcpy(t + 268, "KESTREL", 7);
	sdt_checksum(t, ACPI_FADT_LEN);
	return ACPI_FADT_LEN;
}

static size_t build_madt(uint8_t *t, unsigned ncpus)
{
	size_t len = 44 + ncpus * 8 + 12 + 6;
	memset(t, 0, len);
	sdt_header(t, "APIC", (uint32_t)len, 5);
	put_le32(t + 36, (uint32_t)LAYOUT_LAPIC);
	put_le32(t + 40, 0); /* no dual 8259 PCs: the guest is hardware-reduced */
	uint8_t *p = t + 44;
	for (unsigned i = 0; i < ncpus; i++, p += 8) {
		p[0] = 0; /* Processor Local APIC */
		p[1] = 8;
		p[2] = (uint8_t)i; /* ACPI processor UID */
		p[3] = (uint8_t)i; /* APIC ID = vCPU index (CPUID leaf 1 says the same) */
		put_le32(p + 4, 1); /* enabled */
	}
	p[0] = 1; /* I/O APIC */
	p[1] = 12;
	p[2] = 0;
	put_le32(p + 4, (uint32_t)LAYOUT_IOAPIC);
	put_le32(p + 8, 0);
	p += 12;
	p[0] = 4; /* Local APIC NMI on LINT1 of every CPU */
	p[1] = 6;
	p[2] = 0xFF;
	put_le16(p + 3, 0);
	p[5] = 1;
	sdt_checksum(t, len);
	return len;
}

int acpi_build(const struct acpi_config *cfg, uint64_t base, uint8_t *out, size_t cap,
	       struct acpi_layout *l)
{
	uint8_t *dsdt;
	size_t dsdt_len;
	int ret = acpi_build_dsdt(cfg, &dsdt, &dsdt_len);
	if (ret)
		return ret;

	const size_t xsdt_len = SDT_HEADER_LEN + 2 * 8;
	const size_t madt_len = 44 + cfg->ncpus * 8 + 12 + 6;
	l->rsdp = 0;
	l->xsdt = 64;
	l->fadt = l->xsdt + ((xsdt_len + 15) & ~15ul);
	l->madt = l->fadt + ((ACPI_FADT_LEN + 15) & ~15ul);
	l->dsdt = l->madt + ((madt_len + 15) & ~15ul);
	l->len = l->dsdt + dsdt_len;
	if (l->len > cap) {
		free(dsdt);
		return -ENOSPC;
	}
	memset(out, 0, l->len);

	memcpy(out + l->dsdt, dsdt, dsdt_len);
	free(dsdt);
	build_fadt(out + l->fadt, base + l->dsdt);
	build_madt(out + l->madt, cfg->ncpus);

	uint8_t *x = out + l->xsdt;
	sdt_header(x, "XSDT", (uint32_t)xsdt_len, 1);
	put_le64(x + 36, base + l->fadt);
	put_le64(x + 44, base + l->madt);
	sdt_checksum(x, xsdt_len);

	uint8_t *r = out + l->rsdp;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2;
	put_le32(r + 20, 36);
	put_le64(r + 24, base + l->xsdt);
	r[8] = (uint8_t)(0x100 - acpi_sum(r, 20));
	r[32] = (uint8_t)(0x100 - acpi_sum(r, 36));
	return 0;
}
