/*
 * The few AML encoders the DSDT needs (ACPI 6.x, chapter 20), writing into a
 * growable byte buffer. Objects that contain others (Scope, Device, Package,
 * Buffer) take the already-encoded body, so PkgLength is always computed from
 * real bytes. Allocation failure is sticky in a->err and checked once at the end.
 */
#ifndef KESTREL_AML_H
#define KESTREL_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int err;
};

void aml_init(struct aml *a);
void aml_free(struct aml *a);

void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);
/* PkgLength for an object whose contents after the PkgLength are `content` bytes. */
void aml_pkglen(struct aml *a, size_t content);
/* A NameSeg: up to 4 characters, padded with '_'. */
void aml_nameseg(struct aml *a, const char *name);
/* The shortest integer encoding: Zero, One, Byte, Word, DWord or QWord. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0501"): a 7-character ID compressed into a DWord. */
void aml_eisaid(struct aml *a, const char *id);

void aml_name(struct aml *a, const char *name, const struct aml *value);
void aml_scope(struct aml *a, const char *name, const struct aml *body);
void aml_device(struct aml *a, const char *name, const struct aml *body);
void aml_package(struct aml *a, unsigned int count, const struct aml *elements);
/* Buffer(){bytes} with its size as an integer. */
void aml_buffer(struct aml *a, const struct aml *bytes);

/* Resource descriptors, for a ResourceTemplate (then aml_res_end and aml_buffer). */
void aml_res_io(struct aml *r, uint16_t base, uint8_t len);
void aml_res_mem32(struct aml *r, uint32_t base, uint32_t len);
void aml_res_irq(struct aml *r, uint32_t gsi, bool edge, bool active_low);
/* Address space descriptors a host bridge produces (its windows): min..min+len-1. */
void aml_res_bus_numbers(struct aml *r, uint16_t first, uint16_t count);
void aml_res_io_window(struct aml *r, uint16_t base, uint16_t len);
void aml_res_mem_window(struct aml *r, uint32_t base, uint32_t len);
void aml_res_end(struct aml *r);

#endif
