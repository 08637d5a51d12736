/* Builders for synthetic kernel images used by the unit tests. */
#ifndef KESTREL_TEST_FAKE_KERNEL_H
#define KESTREL_TEST_FAKE_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A minimal bzImage shaped like Debian's: setup_sects 39, protocol 2.15,
 * 64-bit entry, pref_address 16 MiB, init_size as given. *len is the size.
 */
uint8_t *fake_bzimage(uint32_t init_size, size_t payload, size_t *len);

/*
 * A minimal ELF64 vmlinux: one PT_LOAD at paddr 16 MiB (filesz 4096, memsz
 * 8192), e_entry 16 MiB, and a PT_NOTE with the Xen PVH entry when pvh != 0.
 */
uint8_t *fake_vmlinux(uint32_t pvh, size_t *len);

#endif
