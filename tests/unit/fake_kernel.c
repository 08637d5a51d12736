#include "tests/unit/fake_kernel.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bytes.h"
#include "boot/bzimage.h"

uint8_t *fake_bzimage(uint32_t init_size, size_t payload, size_t *len)
{
	const unsigned setup_sects = 39;
	*len = (setup_sects + 1) * 512 + payload;
	uint8_t *b = calloc(1, *len);
	b[BZ_SETUP_SECTS] = setup_sects;
	put_le16(b + BZ_BOOT_FLAG, 0xAA55);
	b[BZ_JUMP] = 0xEB;
	b[BZ_JUMP + 1] = 0x6A; /* header ends at 0x26C */
	put_le32(b + BZ_HEADER, BZ_MAGIC);
	put_le16(b + BZ_VERSION, 0x020F);
	b[BZ_LOADFLAGS] = BZ_LOADED_HIGH;
	put_le32(b + 0x1F4, (uint32_t)(payload / 16)); /* syssize */
	put_le32(b + BZ_INITRD_ADDR_MAX, 0x7FFFFFFF);
	put_le32(b + BZ_KERNEL_ALIGNMENT, 0x200000);
	b[BZ_RELOCATABLE] = 1;
	put_le16(b + BZ_XLOADFLAGS, 0x7F);
	put_le32(b + BZ_CMDLINE_SIZE, 2047);
	put_le64(b + BZ_PREF_ADDRESS, 0x1000000);
	put_le32(b + BZ_INIT_SIZE, init_size);
	for (size_t i = 0; i < payload; i++)
		b[(setup_sects + 1) * 512 + i] = (uint8_t)(i * 7 + 1);
	return b;
}

uint8_t *fake_vmlinux(uint32_t pvh, size_t *len)
{
	const size_t note_off = 0x200, load_off = 0x1000;
	*len = load_off + 4096;
	uint8_t *b = calloc(1, *len);
	Elf64_Ehdr eh = {0};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0x1000000;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 2;
	memcpy(b, &eh, sizeof(eh));

	Elf64_Phdr ph[2] = {{0}};
	ph[0].p_type = PT_LOAD;
	ph[0].p_offset = load_off;
	ph[0].p_paddr = 0x1000000;
	ph[0].p_vaddr = 0xffffffff81000000ull;
	ph[0].p_filesz = 4096;
	ph[0].p_memsz = 8192;
	ph[1].p_type = PT_NOTE;
	ph[1].p_offset = note_off;
	ph[1].p_filesz = pvh ? 20 : 0;
	memcpy(b + sizeof(eh), ph, sizeof(ph));

	if (pvh) {
		uint8_t *n = b + note_off;
		put_le32(n, 4);      /* namesz */
		put_le32(n + 4, 4);  /* descsz */
		put_le32(n + 8, 18); /* XEN_ELFNOTE_PHYS32_ENTRY */
		memcpy(n + 12, "Xen", 4);
		put_le32(n + 16, pvh);
	}
	memset(b + load_off, 0xCC, 4096);
	return b;
}
