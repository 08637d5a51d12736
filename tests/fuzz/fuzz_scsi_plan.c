/*
 * The SCSI disk's CDB planner alone: any CDB, any initiator buffer sizes,
 * any parameter list. Whatever it plans must stay inside its own buffers
 * and inside the disk, and never move more than the initiator offered.
 */
#include <errno.h>
#include <string.h>

#include "devices/scsi_disk.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	uint8_t setup = fuzz_u8(&in);
	static struct blk blk;
	uint64_t blocks = 1 + fuzz_u32(&in) % (1u << 22);
	uint32_t bs = (setup & 0x10) ? 4096 : 512;
	blk_init_fake(&blk, -1, blocks * bs, (enum blk_cache)(setup % BLK_CACHE_COUNT), setup & 0x08);
	blk.block_size = bs;
	static struct scsi_disk d;
	scsi_disk_init(&d, &blk, 0);

	while (!fuzz_done(&in)) {
		uint8_t cdb[SCSI_CDB_MIN];
		for (unsigned i = 0; i < sizeof(cdb); i++)
			cdb[i] = fuzz_u8(&in);
		uint64_t in_len = fuzz_u32(&in), out_len = fuzz_u32(&in);
		uint32_t want = scsi_param_len(&d, cdb);
		FUZZ_CHECK(want <= SCSI_PARAM_MAX);
		static uint8_t param[SCSI_PARAM_MAX];
		uint32_t have = fuzz_u16(&in) % (SCSI_PARAM_MAX + 1);
		if (have > want)
			have = want;
		if (have > out_len)
			have = (uint32_t)out_len;
		for (uint32_t i = 0; i < have; i++)
			param[i] = fuzz_u8(&in);
		uint8_t result = fuzz_u8(&in); /* the backend's answer, if the plan is I/O */
		static struct scsi_plan p;
		memset(&p, 0x5A, sizeof(p)); /* a reused slot: nothing may leak from the last plan */
		scsi_plan(&d, cdb, in_len, out_len, param, have, &p);
		FUZZ_CHECK(p.sense_len <= SCSI_SENSE_LEN);
		if (p.overrun)
			continue;
		if (p.action == SCSI_ANSWER) {
			FUZZ_CHECK(p.data_len <= SCSI_DATA_MAX);
			FUZZ_CHECK(p.data_len <= in_len);
			continue;
		}
		FUZZ_CHECK(p.action == SCSI_IO);
		switch (p.op) {
		case BLK_OP_READ:
		case BLK_OP_WRITE:
			FUZZ_CHECK(p.len > 0 && p.len <= SCSI_MAX_TRANSFER_BYTES);
			FUZZ_CHECK(p.len <= (p.op == BLK_OP_READ ? in_len : out_len));
			FUZZ_CHECK(p.data_in == (p.op == BLK_OP_READ) && p.data_out == (p.op == BLK_OP_WRITE));
			/* fall through */
		case BLK_OP_DISCARD:
		case BLK_OP_WRITE_ZEROES:
			FUZZ_CHECK(p.offset <= blk.size && p.len <= blk.size - p.offset);
			FUZZ_CHECK(p.op == BLK_OP_READ || !blk.readonly);
			break;
		case BLK_OP_FLUSH:
			break;
		default:
			FUZZ_CHECK(!"unknown backend op");
		}
		static const int results[] = {0, -EIO, -EINVAL, -EOPNOTSUPP, -EROFS, -ENOSPC};
		scsi_io_done(&p, results[result % 6]);
		FUZZ_CHECK(p.sense_len <= SCSI_SENSE_LEN);
	}
	return 0;
}
