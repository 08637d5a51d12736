#include "devices/virtio_mmio.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/container_of.h"
#include "vmm/kvm_eventfd.h"
#include "vmm/log.h"

#define VMMIO_MAGIC 0x74726976 /* "virt" */
#define VMMIO_VENDOR 0x4c54534b /* "KSTL" */

/* Ring features every kestrel virtio device offers, on top of its own. */
#define TRANSPORT_FEATURES                                                                  \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) |            \
	 (1ull << VIRTIO_RING_F_EVENT_IDX))

static uint64_t offered(const struct vmmio *m)
{
	return m->device_features | TRANSPORT_FEATURES;
}

bool vmmio_has_feature(const struct vmmio *m, unsigned int bit)
{
	return bit < 64 && (m->driver_features >> bit) & 1;
}

/* Returns whether an interrupt was actually sent. */
static bool raise_irq(struct vmmio *m, uint32_t why)
{
	/*
	 * If the guest has not acknowledged the last interrupt for this reason
	 * yet, its handler is still to run: it acknowledges, then scans every
	 * queue, and so sees what we just published (the seq_cst order puts our
	 * used->idx store before its acknowledgement). Another edge would only
	 * cost it two more register exits. This is the coalescing a level
	 * interrupt line gives QEMU.
	 */
	uint32_t old = __atomic_fetch_or(&m->interrupt_status, why, __ATOMIC_SEQ_CST);
	if ((old & why) == why)
		return false;
	uint64_t one = 1;
	if (write(m->irq_fd, &one, sizeof(one)) < 0)
		log_err("virtio-mmio: raising the interrupt failed");
	return true;
}

/* Under the lock, whenever status changes. */
static void update_live(struct vmmio *m)
{
	bool live = (m->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		    !(m->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	__atomic_store_n(&m->live, live, __ATOMIC_RELEASE);
}

/* ---- loop side ---- */

static void irq_task_fn(struct loop_task *t)
{
	struct vmmio *m = container_of(t, struct vmmio, irq_task);
	m->irq_deferred = false;
	if (m->resetting)
		return;
	bool need = false;
	for (unsigned i = 0; i < m->nqueues; i++)
		if (vq_need_interrupt(&m->queues[i]))
			need = true;
	if (need && raise_irq(m, VIRTIO_MMIO_INT_VRING))
		m->interrupts++;
}

static void finish_reset(struct vmmio *m)
{
	m->ops->reset(m->dev);
	/*
	 * Status first, then the queues, both under the lock: a vCPU setting up
	 * a queue meanwhile (QueueNum ... QueueReady, under the same lock) sees
	 * either the old device, whose QueueReady is refused while the reset is
	 * pending, or the clean one; never a queue half cleared.
	 */
	pthread_mutex_lock(&m->lock);
	m->status = 0;
	update_live(m);
	for (unsigned i = 0; i < m->nqueues; i++) {
		vq_disable(&m->queues[i]);
		memset(&m->queues[i], 0, sizeof(m->queues[i]));
		m->popped[i] = 0;
	}
	m->over_budget = 0;
	m->driver_features = 0;
	m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
	__atomic_store_n(&m->interrupt_status, 0, __ATOMIC_SEQ_CST);
	m->reset_queued = false;
	m->reset_count++;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	m->resetting = false;
}

static void reset_task_fn(struct loop_task *t)
{
	struct vmmio *m = container_of(t, struct vmmio, reset_task);
	m->resetting = true;
	if (m->inflight == 0)
		finish_reset(m);
	/* Otherwise the last vmmio_complete() finishes it. */
}

static void resume_task_fn(struct loop_task *t)
{
	struct vmmio *m = container_of(t, struct vmmio, resume_task);
	m->resume_queued = false;
	uint32_t queues = m->over_budget;
	m->over_budget = 0;
	for (unsigned q = 0; q < m->nqueues; q++)
		if ((queues & (1u << q)) && !m->resetting && !(m->held & (1u << q)))
			m->ops->queue_notify(m->dev, q);
}

enum vq_pop_result vmmio_pop(struct vmmio *m, unsigned int q, struct vq_elem *e)
{
	if (m->resetting || q >= m->nqueues)
		return VQ_EMPTY;
	if (m->popped[q] >= VMMIO_POP_BUDGET) {
		/*
		 * The guest keeps this queue full: let the loop serve every other
		 * device once (the task runs after the kick eventfd) and come back.
		 */
		m->popped[q] = 0;
		m->over_budget |= 1u << q;
		m->budget_yields++;
		if (!m->resume_queued) {
			m->resume_queued = true;
			loop_call(m->loop, &m->resume_task);
		}
		return VQ_EMPTY;
	}
	enum vq_pop_result r = vq_pop(&m->queues[q], e);
	if (r != VQ_GOT)
		m->popped[q] = 0; /* the queue ran dry: a new round starts */
	if (r == VQ_GOT) {
		m->popped[q]++;
		m->inflight++;
	} else if (r == VQ_BROKEN) {
		log_err("virtio-mmio: the driver corrupted queue %u; the device needs a reset", q);
		pthread_mutex_lock(&m->lock);
		m->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		m->config_generation++;
		update_live(m);
		pthread_mutex_unlock(&m->lock);
		raise_irq(m, VIRTIO_MMIO_INT_CONFIG);
	}
	return r;
}

void vmmio_config_changed(struct vmmio *m)
{
	pthread_mutex_lock(&m->lock);
	m->config_generation++; /* a driver reading the config meanwhile reads it again */
	bool live = __atomic_load_n(&m->live, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&m->lock);
	/* Before DRIVER_OK the driver reads the config when it gets there. */
	if (live)
		raise_irq(m, VIRTIO_MMIO_INT_CONFIG);
}

void vmmio_complete(struct vmmio *m, unsigned int q, uint16_t head, uint32_t written)
{
	m->inflight--;
	if (m->resetting) {
		/* The driver is resetting the device: no more used entries. */
		if (m->inflight == 0)
			finish_reset(m);
		return;
	}
	vq_push(&m->queues[q], head, written);
	if (!m->irq_deferred) {
		m->irq_deferred = true;
		loop_defer(m->loop, &m->irq_task);
	}
}

void vmmio_hold_queue(struct vmmio *m, unsigned int q, bool held)
{
	if (held)
		m->held |= 1u << q;
	else
		m->held &= ~(1u << q);
}

static bool polling(const struct vmmio *m)
{
	return m->loop->poll_ns && m->poller.poll;
}

bool vmmio_queue_idle(struct vmmio *m, unsigned int q)
{
	if (m->resetting)
		return false;
	/*
	 * Over its budget: nothing more now, whatever arrived. Answering "more
	 * arrived" here sent the device's service loop straight back to popping
	 * (the budget reset), so a guest that kept the queue full kept the loop
	 * (found by tests/stress/stress_fairness.c).
	 */
	if (m->over_budget & (1u << q))
		return false; /* the resume task serves it next */
	/* A polling loop keeps kicks off and arms the queue only before it sleeps. */
	if (polling(m)) {
		vq_suppress_kicks(&m->queues[q]);
		return false;
	}
	return vq_arm_and_check(&m->queues[q]);
}

static bool poller_poll(struct loop_poller *p)
{
	struct vmmio *m = container_of(p, struct vmmio, poller);
	if (m->resetting || !__atomic_load_n(&m->live, __ATOMIC_ACQUIRE))
		return false;
	bool work = false;
	for (unsigned i = 0; i < m->nqueues; i++) {
		/* A queue over its budget waits for its resume task, behind everyone else. */
		if (!((m->held | m->over_budget) & (1u << i)) && vq_has_new(&m->queues[i])) {
			work = true;
			m->ops->queue_notify(m->dev, i);
		}
	}
	return work;
}

static bool poller_arm(struct loop_poller *p)
{
	struct vmmio *m = container_of(p, struct vmmio, poller);
	if (m->resetting || !__atomic_load_n(&m->live, __ATOMIC_ACQUIRE))
		return false;
	bool more = false;
	for (unsigned i = 0; i < m->nqueues; i++)
		if (!(m->held & (1u << i)))
			more |= vq_arm_and_check(&m->queues[i]);
	return more;
}

static void notify_read(struct loop_watch *w, int res)
{
	struct vmmio_notify *n = container_of(w, struct vmmio_notify, watch);
	struct vmmio *m = n->m;
	if (res < 0 || m->resetting)
		return;
	pthread_mutex_lock(&m->lock);
	bool live = (m->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
		    !(m->status & VIRTIO_CONFIG_S_NEEDS_RESET) && m->queues[n->q].enabled;
	pthread_mutex_unlock(&m->lock);
	if (live) {
		m->kicks++;
		m->ops->queue_notify(m->dev, n->q);
	}
}

/* ---- vCPU side ---- */

/* Hands the reset to the loop and waits for it (or for the VM to stop). */
static void reset_and_wait(struct vmmio *m)
{
	uint64_t target = m->reset_count + 1;
	if (!m->reset_queued) {
		m->reset_queued = true;
		loop_call(m->loop, &m->reset_task);
	}
	while (m->reset_count < target && !m->ctl->stopping(m->ctl)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&m->cond, &m->lock, &ts);
	}
}

static void write_status(struct vmmio *m, uint32_t v)
{
	if (v == 0) {
		reset_and_wait(m);
		return;
	}
	v &= 0xff;
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(m->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* Refuse features we did not offer, and a driver without VERSION_1. */
		uint64_t f = m->driver_features;
		if ((f & ~offered(m)) || !(f & (1ull << VIRTIO_F_VERSION_1))) {
			log_debug("virtio-mmio: refusing driver features %#llx", (unsigned long long)f);
			v &= ~(uint32_t)VIRTIO_CONFIG_S_FEATURES_OK;
		} else {
			m->ops->features_ok(m->dev, f);
		}
	}
	/* NEEDS_RESET is the device's to set; only a reset clears it. */
	m->status = v | (m->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	update_live(m);
}

static void write_queue_ready(struct vmmio *m, struct vq *q, uint32_t v)
{
	if (!v) {
		/* Without VIRTIO_F_RING_RESET a queue is only disabled by a device reset. */
		if (q->enabled)
			log_debug("virtio-mmio: ignoring QueueReady=0 on a live queue");
		return;
	}
	/* A reset the loop has not finished yet would clear the queue under us. */
	if (q->enabled || m->reset_queued || !(m->status & VIRTIO_CONFIG_S_FEATURES_OK))
		return;
	q->indirect = vmmio_has_feature(m, VIRTIO_RING_F_INDIRECT_DESC);
	q->event_idx = vmmio_has_feature(m, VIRTIO_RING_F_EVENT_IDX);
	if (vq_enable(q, m->gm)) {
		log_err("virtio-mmio: the driver's queue %u is invalid (size %u or rings outside RAM)",
			m->queue_sel, q->size);
		m->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		update_live(m);
	}
}

static void set_half(uint64_t *field, bool high, uint32_t v)
{
	if (high)
		*field = (*field & 0xffffffffull) | ((uint64_t)v << 32);
	else
		*field = (*field & ~0xffffffffull) | v;
}

static void vmmio_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct vmmio *m = dev;
	pthread_mutex_lock(&m->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		m->ops->config_write(m->dev, off - VIRTIO_MMIO_CONFIG, data, len);
		goto out;
	}
	if (len != 4 || (off & 3))
		goto out; /* control registers are 32-bit */
	uint32_t v;
	memcpy(&v, data, 4);
	struct vq *q = m->queue_sel < m->nqueues ? &m->queues[m->queue_sel] : NULL;
	/* Queue registers are read-only while the queue is live (the loop owns it). */
	bool q_writable = q && !q->enabled;
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: m->device_features_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: m->driver_features_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (m->driver_features_sel < 2 && !(m->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_half(&m->driver_features, m->driver_features_sel == 1, v);
		break;
	case VIRTIO_MMIO_QUEUE_SEL: m->queue_sel = v; break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q_writable)
			q->size = v > 0xffff ? 0 : (uint16_t)v; /* checked when the queue is enabled */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q)
			write_queue_ready(m, q, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: if (q_writable) set_half(&q->desc_gpa, false, v); break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: if (q_writable) set_half(&q->desc_gpa, true, v); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: if (q_writable) set_half(&q->avail_gpa, false, v); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: if (q_writable) set_half(&q->avail_gpa, true, v); break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: if (q_writable) set_half(&q->used_gpa, false, v); break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: if (q_writable) set_half(&q->used_gpa, true, v); break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&m->interrupt_status, ~v, __ATOMIC_SEQ_CST);
		break;
	case VIRTIO_MMIO_STATUS: write_status(m, v); break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Normally absorbed by the ioeventfd; a stray one is served the same way. */
		if (v < m->nqueues) {
			uint64_t one = 1;
			if (write(m->notify[v].fd, &one, sizeof(one)) < 0)
				log_debug("virtio-mmio: notify fallback failed");
		}
		break;
	default:
		break;
	}
out:
	pthread_mutex_unlock(&m->lock);
}

static uint32_t read_reg(struct vmmio *m, uint64_t off)
{
	const struct vq *q = m->queue_sel < m->nqueues ? &m->queues[m->queue_sel] : NULL;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VMMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return m->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VMMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (m->device_features_sel >= 2)
			return 0;
		return (uint32_t)(offered(m) >> (32 * m->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? VQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q && q->enabled;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&m->interrupt_status, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS: return m->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return m->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW: case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffff; /* no shared memory regions */
	default: return 0;
	}
}

static void vmmio_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct vmmio *m = dev;
	memset(data, 0, len);
	pthread_mutex_lock(&m->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		m->ops->config_read(m->dev, off - VIRTIO_MMIO_CONFIG, data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v = read_reg(m, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&m->lock);
}

const struct bus_ops vmmio_bus_ops = {
	.name = "virtio-mmio",
	.read = vmmio_read,
	.write = vmmio_write,
};

int vmmio_init(struct vmmio *m, int vm_fd, uint64_t base, unsigned int nqueues, int irq_fd,
	       const struct vmmio_device_ops *ops, void *dev, uint64_t device_features,
	       struct loop *loop, const struct guest_mem *gm, struct vm_ctl *ctl)
{
	memset(m, 0, sizeof(*m));
	if (nqueues == 0 || nqueues > VMMIO_MAX_QUEUES)
		return -EINVAL;
	m->ops = ops;
	m->dev = dev;
	m->device_features = device_features;
	m->loop = loop;
	m->gm = gm;
	m->ctl = ctl;
	m->irq_fd = irq_fd;
	m->nqueues = nqueues;
	m->reset_task.fn = reset_task_fn;
	m->irq_task.fn = irq_task_fn;
	m->resume_task.fn = resume_task_fn;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	for (unsigned i = 0; i < nqueues; i++) {
		m->notify[i].m = m;
		m->notify[i].q = i;
		m->notify[i].fd = -1;
		if (vm_fd < 0)
			continue; /* unit tests call queue_notify themselves */
		int ret = kvm_ioeventfd_new(vm_fd, base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, false, true, i,
					    &m->notify[i].fd);
		if (ret)
			return ret;
	}
	return 0;
}

void vmmio_start(struct vmmio *m)
{
	m->poller.poll = poller_poll;
	m->poller.arm = poller_arm;
	loop_add_poller(m->loop, &m->poller);
	for (unsigned i = 0; i < m->nqueues; i++)
		if (m->notify[i].fd >= 0)
			loop_watch(m->loop, &m->notify[i].watch, m->notify[i].fd, &m->notify[i].buf,
			   sizeof(m->notify[i].buf), notify_read);
}

void vmmio_destroy(struct vmmio *m)
{
	for (unsigned i = 0; i < m->nqueues; i++)
		if (m->notify[i].fd >= 0)
			close(m->notify[i].fd);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
}
