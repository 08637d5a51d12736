#include "devices/ahci.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "devices/virtqueue.h" /* vq_buf_to_iov, vq_iov_slice */
#include "vmm/container_of.h"
#include "vmm/log.h"

/* Generic host control registers. */
#define HBA_CAP 0x00
#define HBA_GHC 0x04
#define HBA_IS 0x08
#define HBA_PI 0x0C
#define HBA_VS 0x10
#define HBA_CAP2 0x24
#define GHC_HR 0x1u
#define GHC_IE 0x2u
#define GHC_AE 0x80000000u
#define CAP_S64A (1u << 31)
#define CAP_SNCQ (1u << 30)
#define CAP_SCLO (1u << 24)
#define CAP_ISS_GEN3 (3u << 20)
#define CAP_SAM (1u << 18)

/* Port registers. */
#define PORT_BASE 0x100
#define PORT_SIZE 0x80
#define PX_CLB 0x00
#define PX_CLBU 0x04
#define PX_FB 0x08
#define PX_FBU 0x0C
#define PX_IS 0x10
#define PX_IE 0x14
#define PX_CMD 0x18
#define PX_TFD 0x20
#define PX_SIG 0x24
#define PX_SSTS 0x28
#define PX_SCTL 0x2C
#define PX_SERR 0x30
#define PX_SACT 0x34
#define PX_CI 0x38
#define CMD_ST 0x1u
#define CMD_SUD 0x2u
#define CMD_POD 0x4u
#define CMD_CLO 0x8u
#define CMD_FRE 0x10u
#define CMD_FR (1u << 14)
#define CMD_CR (1u << 15)
#define IS_DHRS 0x1u
#define IS_PSS 0x2u
#define IS_SDBS 0x8u
#define IS_TFES (1u << 30)
#define SERR_DIAG_X (1u << 26)
#define TFD_BSY 0x80u
#define TFD_DRQ 0x08u

/* Received-FIS area offsets. */
#define RX_PIO_SETUP 0x20
#define RX_D2H 0x40
#define RX_SDB 0x58

#define SSTS_PRESENT 0x113 /* device present, Gen1 speed, active */
#define SIG_ATA 0x00000101
#define TFD_AFTER_RESET 0x0150 /* status DRDY|DSC, error 1 = diagnostics passed */

/* ---- interrupts (under the lock) ---- */

static void send_msi(struct ahci *h)
{
	uint64_t addr;
	uint32_t data;
	if (h->vm_fd < 0 || !pci_msi_message(&h->pci, &addr, &data))
		return; /* INTx is not wired: Linux's ahci uses MSI */
	struct kvm_msi msi = {.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32),
			      .data = data};
	if (ioctl(h->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		log_debug("ahci: KVM_SIGNAL_MSI failed");
	h->msis++;
}

/*
 * IS has a port's bit while that port has an enabled interrupt pending; a
 * message goes out whenever something is pending after an event or a guest
 * write (an edge-triggered MSI must never be lost, QEMU does the same).
 */
static void update_irq(struct ahci *h)
{
	for (unsigned i = 0; i < h->nports; i++)
		if (h->ports[i].is & h->ports[i].ie)
			h->is |= 1u << i;
	if ((h->ghc & GHC_IE) && h->is)
		send_msi(h);
}

/* ---- guest memory helpers (loop thread) ---- */

static uint64_t clb_addr(const struct ahci_port *p)
{
	return (uint64_t)p->clbu << 32 | p->clb;
}

static uint64_t fb_addr(const struct ahci_port *p)
{
	return (uint64_t)p->fbu << 32 | p->fb;
}

/* Writes a FIS into the received-FIS area, if the guest enabled FIS receive. */
static void post_fis(struct ahci *h, struct ahci_port *p, unsigned off, const void *fis, size_t len)
{
	if (!(p->cmd & CMD_FRE))
		return;
	if (gm_write(h->gm, fb_addr(p) + off, fis, len))
		h->bad_commands++; /* the area is outside RAM: the guest loses the FIS */
}

static void d2h_fis(uint8_t f[20], uint8_t status, uint8_t error, uint64_t lba, uint16_t count)
{
	memset(f, 0, 20);
	f[0] = 0x34;
	f[1] = 0x40; /* interrupt */
	f[2] = status;
	f[3] = error;
	f[4] = (uint8_t)lba;
	f[5] = (uint8_t)(lba >> 8);
	f[6] = (uint8_t)(lba >> 16);
	f[7] = 0x40;
	f[8] = (uint8_t)(lba >> 24);
	f[9] = (uint8_t)(lba >> 32);
	f[10] = (uint8_t)(lba >> 40);
	f[12] = (uint8_t)count;
	f[13] = (uint8_t)(count >> 8);
}

/* ---- port state changes (under the lock) ---- */

static void port_power_on(struct ahci_port *p)
{
	p->clb = p->clbu = p->fb = p->fbu = 0;
	p->is = p->ie = 0;
	p->cmd = CMD_SUD | CMD_POD;
	p->tfd = TFD_AFTER_RESET;
	p->sig = SIG_ATA;
	p->ssts = SSTS_PRESENT;
	p->sctl = p->serr = p->sact = p->ci = 0;
	p->stop_pending = p->reset_pending = false;
}

/* COMRESET done: link up, signature FIS in the receive area. Loop thread. */
static void port_link_up(struct ahci *h, struct ahci_port *p)
{
	p->ci = p->sact = 0;
	p->tfd = TFD_AFTER_RESET;
	p->sig = SIG_ATA;
	p->ssts = SSTS_PRESENT;
	p->serr |= SERR_DIAG_X;
	uint8_t f[20];
	d2h_fis(f, (uint8_t)TFD_AFTER_RESET, 1, 1, 1);
	f[7] = 0;
	post_fis(h, p, RX_D2H, f, sizeof(f));
	p->is |= IS_DHRS;
}

static void kick(struct ahci *h);

/* ---- command completion (loop thread) ---- */

static void finish_slot(struct ahci_slot *s, uint8_t status, uint8_t error, uint16_t count)
{
	struct ahci_port *p = s->port;
	struct ahci *h = p->hba;
	uint32_t bit = 1u << s->index;
	/* PRDBC: bytes moved (the guest reads it for PIO and non-queued commands). */
	uint64_t hdr = clb_addr(p) + 32ull * s->index + 4;
	if (gm_write(h->gm, hdr, &s->prdbc, 4))
		h->bad_commands++;

	pthread_mutex_lock(&h->lock);
	p->fetched &= ~bit;
	p->inflight--;
	bool failed = status & ATA_ERR;
	p->tfd = (uint32_t)error << 8 | status;
	if (failed) {
		/* The HBA stops; Linux's error handling restarts the engine. */
		p->halted = true;
		if (s->ncq) {
			p->disk.ncq_error = true;
			p->disk.ncq_error_tag = (uint8_t)s->index;
			p->disk.ncq_error_status = status;
			p->disk.ncq_error_error = error;
			p->disk.ncq_error_lba = s->lba;
		} else {
			uint8_t f[20];
			d2h_fis(f, status, error, s->lba, count);
			post_fis(h, p, RX_D2H, f, sizeof(f));
		}
		p->is |= IS_TFES;
	} else if (s->ncq) {
		uint8_t f[8] = {0xA1, 0x40, (uint8_t)(status & 0x77), error};
		memcpy(f + 4, &bit, 4);
		post_fis(h, p, RX_SDB, f, sizeof(f));
		p->sact &= ~bit;
		p->is |= IS_SDBS;
	} else {
		uint8_t f[20];
		d2h_fis(f, status, error, s->lba, count);
		post_fis(h, p, RX_D2H, f, sizeof(f));
		p->ci &= ~bit;
		p->is |= IS_DHRS;
	}
	update_irq(h);
	/* A stop or reset waiting for this port to drain can finish now. */
	bool again = p->inflight == 0 && (p->stop_pending || p->reset_pending || h->hba_reset_pending);
	pthread_mutex_unlock(&h->lock);
	if (again)
		kick(h);
}

static void slot_io_done(struct blk_req *br, int res)
{
	struct ahci_slot *s = container_of(br, struct ahci_slot, br);
	if (res == 0) {
		s->prdbc = (uint32_t)br->len;
		finish_slot(s, ATA_STATUS_OK, 0, 0);
		return;
	}
	/* A read that failed is a medium error; anything else is aborted. */
	uint8_t error = res == -EINVAL ? ATA_IDNF : br->op == BLK_OP_READ ? ATA_UNC : ATA_ABRT;
	s->prdbc = 0;
	finish_slot(s, ATA_STATUS_ERR, error, 0);
}

/* ---- command fetch (loop thread) ---- */

struct prd {
	uint32_t dba, dbau, reserved, dw3;
};

/*
 * Builds the slot's iovecs from the PRDT, every entry checked: at most
 * AHCI_MAX_PRDT, even and non-zero byte counts, even addresses, all of it
 * in guest RAM. Returns the total bytes, or -1 for a table we refuse.
 */
static int64_t walk_prdt(struct ahci *h, struct ahci_slot *s, uint64_t table, unsigned n,
			 unsigned *niov)
{
	if (n > AHCI_MAX_PRDT)
		return -1;
	int64_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		struct prd e;
		if (gm_read(h->gm, &e, table + 0x80 + 16ull * i, sizeof(e)))
			return -1;
		uint64_t addr = (uint64_t)e.dbau << 32 | e.dba;
		uint32_t len = (e.dw3 & 0x3FFFFF) + 1;
		if ((addr & 1) || (len & 1))
			return -1;
		void *ptr = gm_ptr(h->gm, addr, len);
		if (!ptr)
			return -1;
		s->iov[i].iov_base = ptr;
		s->iov[i].iov_len = len;
		total += len;
	}
	*niov = n;
	return total;
}

static void start_slot(struct ahci *h, struct ahci_port *p, unsigned idx)
{
	struct ahci_slot *s = &p->slots[idx];
	s->ncq = false;
	s->lba = 0;
	s->prdbc = 0;
	p->inflight++;

	uint32_t hdr[4];
	if (gm_read(h->gm, hdr, clb_addr(p) + 32ull * idx, sizeof(hdr))) {
		h->bad_commands++;
		finish_slot(s, ATA_STATUS_ERR, ATA_ABRT, 0);
		return;
	}
	uint64_t table = (uint64_t)hdr[3] << 32 | hdr[2];
	unsigned prdtl = hdr[0] >> 16;
	uint8_t fis[20];
	if ((table & 0x7F) || gm_read(h->gm, fis, table, sizeof(fis)) || fis[0] != 0x27) {
		h->bad_commands++;
		finish_slot(s, ATA_STATUS_ERR, ATA_ABRT, 0);
		return;
	}
	if (!(fis[1] & 0x80)) {
		/* A control FIS (software reset): answer with the device signature. */
		pthread_mutex_lock(&h->lock);
		if (!(fis[15] & 0x04)) {
			uint8_t f[20];
			d2h_fis(f, (uint8_t)TFD_AFTER_RESET, 1, 1, 1);
			f[7] = 0;
			post_fis(h, p, RX_D2H, f, sizeof(f));
			p->sig = SIG_ATA;
		}
		pthread_mutex_unlock(&h->lock);
		s->lba = 1;
		finish_slot(s, (uint8_t)TFD_AFTER_RESET, 1, 1);
		return;
	}
	struct ata_tf tf;
	ata_tf_from_fis(fis, &tf);
	s->command = tf.command;
	s->lba = tf.lba;
	s->ncq = tf.command == ATA_CMD_READ_FPDMA || tf.command == ATA_CMD_WRITE_FPDMA;
	if (s->ncq) {
		/* Queued: the HBA takes it off PxCI at once; PxSACT tracks it. */
		pthread_mutex_lock(&h->lock);
		p->ci &= ~(1u << idx);
		pthread_mutex_unlock(&h->lock);
	}

	unsigned niov = 0;
	int64_t prd_bytes = walk_prdt(h, s, table, prdtl, &niov);
	if (prd_bytes < 0) {
		h->bad_commands++;
		finish_slot(s, ATA_STATUS_ERR, ATA_ABRT, 0);
		return;
	}

	struct ata_plan plan;
	ata_plan(&p->disk, &tf, &plan);
	switch (plan.action) {
	case ATA_ANSWER: {
		uint16_t count = tf.command == ATA_CMD_CHECK_POWER ? 0xFF : 0;
		finish_slot(s, plan.status, plan.error, count);
		return;
	}
	case ATA_DATA_IN: {
		s->prdbc = (uint32_t)vq_buf_to_iov(s->iov, niov, 0, plan.data, plan.data_len);
		/* Linux reads a PIO data-in command's final status from the PIO Setup FIS. */
		uint8_t ps[20] = {0x5F, 0x60, 0x58, 0};
		ps[15] = plan.status;
		ps[16] = (uint8_t)plan.data_len;
		ps[17] = (uint8_t)(plan.data_len >> 8);
		pthread_mutex_lock(&h->lock);
		post_fis(h, p, RX_PIO_SETUP, ps, sizeof(ps));
		p->is |= IS_PSS;
		pthread_mutex_unlock(&h->lock);
		finish_slot(s, plan.status, plan.error, 0);
		return;
	}
	case ATA_IO:
		break;
	}
	s->br = (struct blk_req){.op = plan.op, .offset = plan.offset, .len = plan.len,
				 .flags = (plan.fua ? BLK_REQ_FUA : 0) |
					  (plan.internal ? BLK_REQ_INTERNAL : 0),
				 .done = slot_io_done};
	if (plan.op == BLK_OP_READ || plan.op == BLK_OP_WRITE) {
		/* The PRDT must cover the transfer; a longer one is used only as far as needed. */
		if ((uint64_t)prd_bytes < plan.len) {
			h->bad_commands++;
			finish_slot(s, ATA_STATUS_ERR, ATA_ABRT, 0);
			return;
		}
		s->br.iov = s->iov;
		/* Exactly plan.len bytes of the PRDT's buffers (it may describe more), in place. */
		s->br.niov = vq_iov_slice(s->iov, niov, 0, plan.len, s->iov);
	}
	blk_submit(p->disk.blk, &s->br);
}

/* ---- the loop's pass over the ports ---- */

/*
 * Returns false if the port still had commands when it used up its share
 * of this pass (AHCI_PASS_BUDGET): a guest that re-issues commands that
 * finish at once must not keep the loop from other devices.
 */
static bool port_process(struct ahci *h, struct ahci_port *p)
{
	unsigned started = 0;
	for (;;) {
		pthread_mutex_lock(&h->lock);
		bool drained = p->inflight == 0;
		if (p->reset_pending && drained) {
			p->reset_pending = false;
			p->fetched = 0;
			p->halted = false;
			port_link_up(h, p);
			update_irq(h);
		}
		if (p->stop_pending && drained) {
			/* Engine stopped: the HBA forgets every command (AHCI 1.3, 3.3.7). */
			p->stop_pending = false;
			p->ci = p->sact = 0;
			p->fetched = 0;
			p->halted = false;
			p->cmd &= ~CMD_CR;
		}
		uint32_t todo = 0;
		if ((p->cmd & CMD_ST) && !p->stop_pending && !p->reset_pending && !p->halted &&
		    started < AHCI_PASS_BUDGET)
			todo = p->ci & ~p->fetched;
		bool more = started >= AHCI_PASS_BUDGET && (p->ci & ~p->fetched);
		p->fetched |= todo;
		pthread_mutex_unlock(&h->lock);
		if (!todo)
			return !more;
		started += (unsigned)__builtin_popcount(todo);
		while (todo) {
			unsigned idx = (unsigned)__builtin_ctz(todo);
			todo &= todo - 1;
			start_slot(h, p, idx);
		}
	}
}

static void kick(struct ahci *h);

void ahci_process(struct ahci *h)
{
	__atomic_store_n(&h->task_queued, false, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&h->lock);
	bool hba_reset = h->hba_reset_pending;
	pthread_mutex_unlock(&h->lock);
	if (hba_reset) {
		unsigned busy = 0;
		for (unsigned i = 0; i < h->nports; i++)
			busy += h->ports[i].inflight;
		if (busy == 0) {
			pthread_mutex_lock(&h->lock);
			for (unsigned i = 0; i < h->nports; i++) {
				port_power_on(&h->ports[i]);
				h->ports[i].fetched = 0;
				h->ports[i].halted = false;
			}
			h->is = 0;
			h->ghc = GHC_AE;
			h->hba_reset_pending = false;
			pthread_mutex_unlock(&h->lock);
		}
		return; /* the last completion comes back here */
	}
	bool done = true;
	for (unsigned i = 0; i < h->nports; i++)
		done &= port_process(h, &h->ports[i]);
	if (!done) {
		/* Come back after the loop has served everything else once. */
		h->budget_yields++;
		kick(h);
	}
}

static void task_fn(struct loop_task *t)
{
	ahci_process(container_of(t, struct ahci, task));
}

/* Any thread: the loop should look at the registers again. */
static void kick(struct ahci *h)
{
	if (h->loop && !__atomic_exchange_n(&h->task_queued, true, __ATOMIC_SEQ_CST))
		loop_call(h->loop, &h->task);
}

/* ---- registers (vCPU threads) ---- */

static uint32_t port_read(const struct ahci_port *p, unsigned off)
{
	switch (off) {
	case PX_CLB: return p->clb;
	case PX_CLBU: return p->clbu;
	case PX_FB: return p->fb;
	case PX_FBU: return p->fbu;
	case PX_IS: return p->is;
	case PX_IE: return p->ie;
	case PX_CMD: return p->cmd;
	case PX_TFD: return p->tfd;
	case PX_SIG: return p->sig;
	case PX_SSTS: return p->ssts;
	case PX_SCTL: return p->sctl;
	case PX_SERR: return p->serr;
	case PX_SACT: return p->sact;
	case PX_CI: return p->ci;
	default: return 0;
	}
}

/* Returns whether the loop has work. */
static bool port_write(struct ahci *h, struct ahci_port *p, unsigned off, uint32_t v)
{
	switch (off) {
	case PX_CLB: p->clb = v & ~0x3FFu; return false;
	case PX_CLBU: p->clbu = v; return false;
	case PX_FB: p->fb = v & ~0xFFu; return false;
	case PX_FBU: p->fbu = v; return false;
	case PX_IS: p->is &= ~v; h->is &= ~(1u << p->index); update_irq(h); return false;
	case PX_IE: p->ie = v & 0xFDC000FFu; update_irq(h); return false;
	case PX_CMD: {
		uint32_t old = p->cmd;
		uint32_t keep = CMD_SUD | CMD_POD;
		p->cmd = (old & (CMD_CR | keep)) | (v & (CMD_ST | CMD_FRE)) | keep;
		if (v & CMD_FRE)
			p->cmd |= CMD_FR;
		if (v & CMD_CLO)
			p->tfd &= ~(TFD_BSY | TFD_DRQ);
		if ((v & CMD_ST) && !(old & CMD_ST)) {
			p->cmd |= CMD_CR;
			p->stop_pending = false;
			return p->ci != 0;
		}
		if (!(v & CMD_ST) && (old & CMD_ST)) {
			p->stop_pending = true; /* CR clears once the loop drained the port */
			return true;
		}
		return false;
	}
	case PX_SCTL: {
		uint32_t old = p->sctl;
		p->sctl = v & 0xFFF;
		if ((v & 0xF) == 1) {
			p->ssts = 0; /* COMRESET asserted: no link */
		} else if ((old & 0xF) == 1) {
			p->reset_pending = true;
			return true;
		}
		return false;
	}
	case PX_SERR: p->serr &= ~v; return false;
	case PX_SACT:
		if (p->cmd & CMD_ST)
			p->sact |= v;
		return false;
	case PX_CI:
		if (!(p->cmd & CMD_ST))
			return false;
		p->ci |= v;
		return true;
	default:
		return false;
	}
}

static uint32_t hba_read(struct ahci *h, unsigned off)
{
	switch (off) {
	case HBA_CAP:
		return CAP_S64A | CAP_SNCQ | CAP_SCLO | CAP_ISS_GEN3 | CAP_SAM |
		       (AHCI_SLOTS - 1) << 8 | (h->nports - 1);
	case HBA_GHC: return h->ghc;
	case HBA_IS: return h->is;
	case HBA_PI: return (1u << h->nports) - 1;
	case HBA_VS: return 0x00010300;
	default: return 0;
	}
}

static void ahci_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct ahci *h = dev;
	uint32_t v = 0xFFFFFFFF;
	if (len == 4 && !(off & 3) && pci_bar_live(&h->pci, 5)) {
		pthread_mutex_lock(&h->lock);
		if (off < PORT_BASE) {
			v = hba_read(h, (unsigned)off);
		} else {
			unsigned port = (unsigned)(off - PORT_BASE) / PORT_SIZE;
			v = port < h->nports ? port_read(&h->ports[port], (unsigned)(off - PORT_BASE) % PORT_SIZE) : 0;
		}
		pthread_mutex_unlock(&h->lock);
	}
	memcpy(data, &v, len < 4 ? len : 4);
	if (len > 4)
		memset(data + 4, 0xFF, len - 4);
}

static void ahci_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct ahci *h = dev;
	if (len != 4 || (off & 3) || !pci_bar_live(&h->pci, 5))
		return;
	uint32_t v;
	memcpy(&v, data, 4);
	bool work = false;
	pthread_mutex_lock(&h->lock);
	if (off == HBA_GHC) {
		if (v & GHC_HR) {
			h->ghc |= GHC_HR; /* reads 1 until the loop has reset everything */
			h->hba_reset_pending = true;
			work = true;
		} else {
			h->ghc = (h->ghc & GHC_HR) | (v & GHC_IE) | GHC_AE;
			update_irq(h);
		}
	} else if (off == HBA_IS) {
		h->is &= ~v;
		update_irq(h);
	} else if (off >= PORT_BASE) {
		unsigned port = (unsigned)(off - PORT_BASE) / PORT_SIZE;
		if (port < h->nports && !h->hba_reset_pending)
			work = port_write(h, &h->ports[port], (unsigned)(off - PORT_BASE) % PORT_SIZE, v);
	}
	pthread_mutex_unlock(&h->lock);
	if (work)
		kick(h);
}

const struct bus_ops ahci_bus_ops = {
	.name = "ahci",
	.read = ahci_read,
	.write = ahci_write,
};

void ahci_init(struct ahci *h, struct blk *const *disks, unsigned int ndisks, uint32_t abar,
	       int vm_fd, struct loop *loop, const struct guest_mem *gm)
{
	memset(h, 0, sizeof(*h));
	/* Intel's ICH9 AHCI IDs, as QEMU's ich9-ahci: plain board_ahci in Linux. */
	pci_dev_init(&h->pci, 0x8086, 0x2922, 0x010601, 2);
	pci_dev_set_bar(&h->pci, 5, abar, AHCI_ABAR_SIZE);
	pci_dev_add_msi(&h->pci);
	pthread_mutex_init(&h->lock, NULL);
	h->ghc = GHC_AE;
	h->nports = ndisks;
	h->loop = loop;
	h->gm = gm;
	h->vm_fd = vm_fd;
	h->task.fn = task_fn;
	for (unsigned i = 0; i < ndisks; i++) {
		struct ahci_port *p = &h->ports[i];
		p->hba = h;
		p->index = i;
		ata_disk_init(&p->disk, disks[i], i);
		port_power_on(p);
		for (unsigned s = 0; s < AHCI_SLOTS; s++) {
			p->slots[s].port = p;
			p->slots[s].index = s;
		}
	}
}

void ahci_destroy(struct ahci *h)
{
	pthread_mutex_destroy(&h->lock);
}
