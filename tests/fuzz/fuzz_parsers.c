/*
 * The host-side parsers a user's files and flags reach: bzImage headers,
 * ELF vmlinux (program headers, PVH note) and --disk specs. Whatever the
 * bytes, a parser answers yes with values inside the file, or no.
 */
#include <stdlib.h>
#include <string.h>

#include "boot/bzimage.h"
#include "boot/elf.h"
#include "tests/fuzz/fuzz_common.h"
#include "vmm/disk_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* A copy of exactly the input's size, so a read past the end is caught. */
	size_t n = size - 1;
	uint8_t *buf = malloc(n ? n : 1);
	FUZZ_CHECK(buf);
	memcpy(buf, data + 1, n);
	const char *why = NULL;
	switch (data[0] % 3) {
	case 0: {
		struct bzimage bz;
		bzimage_probe(buf, n);
		if (bzimage_parse(buf, n, &bz, &why) == 0) {
			FUZZ_CHECK(bz.kernel_offset <= n && bz.kernel_size == n - bz.kernel_offset);
			FUZZ_CHECK(bz.header_end <= n && bz.header_end <= BZ_HEADER_MAX_END);
		} else {
			FUZZ_CHECK(why);
		}
		break;
	}
	case 1: {
		struct elf_kernel k;
		elf_probe(buf, n);
		if (elf_parse(buf, n, &k, &why) == 0) {
			FUZZ_CHECK(k.nsegs <= ELF_MAX_SEGMENTS);
			for (unsigned i = 0; i < k.nsegs; i++)
				FUZZ_CHECK(k.segs[i].offset <= n && k.segs[i].filesz <= n - k.segs[i].offset);
		} else {
			FUZZ_CHECK(why);
		}
		break;
	}
	default: {
		char *spec = malloc(n + 1);
		FUZZ_CHECK(spec);
		memcpy(spec, buf, n);
		spec[n] = 0;
		struct disk_config d;
		char err[256];
		if (disk_spec_parse(spec, &d, err, sizeof(err)) == 0) {
			FUZZ_CHECK(d.path[0]);
			FUZZ_CHECK(strlen(d.serial) <= DISK_SERIAL_MAX);
			FUZZ_CHECK(d.queues <= DISK_MAX_QUEUES);
		} else {
			FUZZ_CHECK(err[0]);
		}
		free(spec);
		break;
	}
	}
	free(buf);
	return 0;
}
