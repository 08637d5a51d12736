/*
 * virtio-mmio + virtio-vsock driven by a hostile guest
 * (tests/fuzz/fuzz_virtio.h): any packet on the TX queue (headers, ops,
 * CIDs, ports, lengths, credit), any RX buffers, resets and notifications.
 * The host side has no listener and nothing at <uds_path>_<port>, so every
 * connection the guest asks for is refused: what is fuzzed is the packet
 * checks, the connection table and the resets owed. At the end no
 * connection is left, at most VSOCK_MAX_RESETS resets are owed, and every
 * chain the device took went back.
 */
#include "devices/virtio_vsock.h"
#include "tests/fuzz/fuzz_virtio.h"

static struct vsock v;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct fuzz_env *env = fuzz_env();
	env->swap_image = NULL;
	/* CID 3, the default a guest agent setup uses; the driver may send from any. */
	FUZZ_CHECK(vsock_init(&v, 3, "/nonexistent/kestrel-fuzz-vsock", -1, 0, env->irq_fd,
			      &env->loop, &env->gm, &fuzz_ctl) == 0);
	if (!(fuzz_u8(&in) & 0x80))
		fuzz_virtio_bring_up(&v.mmio, VSOCK_NQUEUES);
	static struct fuzz_engine no_disk; /* nothing pending, ever */
	fuzz_virtio_play(env, &v.mmio, VSOCK_NQUEUES, &no_disk, &in);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		FUZZ_CHECK(v.conns[i].state == VSC_FREE);
	FUZZ_CHECK(v.reset_len <= VSOCK_MAX_RESETS);
	FUZZ_CHECK(v.mmio.inflight == 0);
	vsock_destroy(&v);
	return 0;
}
