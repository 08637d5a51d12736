#include "boot/elf.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot/bytes.h"

int elf_probe(const uint8_t *buf, size_t len)
{
	return len >= 4 && !memcmp(buf, ELFMAG, SELFMAG);
}

/* Is [off, off+size) inside a buffer of len bytes? Overflow-safe. */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static int parse_notes(const uint8_t *p, uint64_t size, struct elf_kernel *k, const char **why)
{
	uint64_t pos = 0;
	/* Each note is at least 12 bytes, so this loop runs at most size/12 times. */
	while (size - pos >= 12) {
		uint32_t namesz = get_le32(p + pos);
		uint32_t descsz = get_le32(p + pos + 4);
		uint32_t type = get_le32(p + pos + 8);
		uint64_t name_off = pos + 12;
		uint64_t desc_off = name_off + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc_off + (((uint64_t)descsz + 3) & ~3ull);
		if (desc_off > size || next > size || (uint64_t)descsz > size - desc_off) {
			*why = "ELF note runs past its segment";
			return -ENOEXEC;
		}
		if (namesz == 4 && !memcmp(p + name_off, "Xen", 4) && type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (descsz < 4) {
				*why = "Xen PVH entry note is too short";
				return -ENOEXEC;
			}
			k->has_pvh = true;
			k->pvh_entry = get_le32(p + desc_off);
		}
		pos = next;
	}
	return 0;
}

int elf_parse(const uint8_t *buf, size_t len, struct elf_kernel *k, const char **why)
{
	memset(k, 0, sizeof(*k));
	if (len < sizeof(Elf64_Ehdr) || !elf_probe(buf, len)) {
		*why = "not an ELF file";
		return -ENOEXEC;
	}
	Elf64_Ehdr eh;
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64) {
		*why = "not a little-endian x86-64 ELF";
		return -ENOEXEC;
	}
	if (eh.e_type != ET_EXEC) {
		*why = "ELF is not an executable";
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    !in_file(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len)) {
		*why = "ELF program headers are missing or outside the file";
		return -ENOEXEC;
	}
	k->entry = eh.e_entry;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE) {
			if (!in_file(ph.p_offset, ph.p_filesz, len)) {
				*why = "ELF note segment is outside the file";
				return -ENOEXEC;
			}
			int ret = parse_notes(buf + ph.p_offset, ph.p_filesz, k, why);
			if (ret)
				return ret;
		} else if (ph.p_type == PT_LOAD && ph.p_memsz) {
			if (!in_file(ph.p_offset, ph.p_filesz, len) || ph.p_filesz > ph.p_memsz ||
			    ph.p_paddr + ph.p_memsz < ph.p_paddr) {
				*why = "ELF loadable segment is outside the file or malformed";
				return -ENOEXEC;
			}
			if (k->nsegs == ELF_MAX_SEGMENTS) {
				*why = "ELF has too many loadable segments";
				return -ENOEXEC;
			}
			k->segs[k->nsegs++] = (struct elf_segment){ph.p_paddr, ph.p_offset, ph.p_filesz,
								   ph.p_memsz};
			if (ph.p_paddr + ph.p_memsz > k->load_end)
				k->load_end = ph.p_paddr + ph.p_memsz;
		}
	}
	if (k->nsegs == 0) {
		*why = "ELF has no loadable segment";
		return -ENOEXEC;
	}
	return 0;
}
