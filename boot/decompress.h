/*
 * Decompressing a bzImage's payload (the compressed ELF vmlinux) in the
 * monitor, with liblzma. Debian's kernels use xz; other compressors are
 * refused with a message. Main thread.
 */
#ifndef KESTREL_DECOMPRESS_H
#define KESTREL_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* Upper bound on a decompressed vmlinux; anything larger is refused. */
#define DECOMPRESS_MAX (512u << 20)

/*
 * Decompresses the payload of the bzImage in buf[0..len) into a malloc'd
 * buffer. 0, or -errno with a message in err.
 */
int bzimage_decompress(const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len,
		       char *err, size_t errlen);

#endif
