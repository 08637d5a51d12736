#include "devices/virtqueue.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

static uint16_t load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static void store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

int vq_enable(struct vq *q, const struct guest_mem *gm)
{
	uint16_t n = q->size;
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	/* Alignment the spec requires; it also keeps our 16-bit atomics aligned. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	q->desc = gm_ptr(gm, q->desc_gpa, 16ull * n);
	q->avail = gm_ptr(gm, q->avail_gpa, 6ull + 2ull * n);
	q->used = gm_ptr(gm, q->used_gpa, 6ull + 8ull * n);
	if (!q->desc || !q->avail || !q->used)
		return -EINVAL;
	q->gm = gm;
	q->last_avail = q->used_idx = q->signalled = 0;
	q->broken = false;
	/* Publishes everything above to the loop thread, which may be polling already. */
	__atomic_store_n(&q->enabled, true, __ATOMIC_RELEASE);
	return 0;
}

void vq_disable(struct vq *q)
{
	__atomic_store_n(&q->enabled, false, __ATOMIC_RELAXED);
	q->desc = q->avail = q->used = NULL;
}

bool vq_enabled(const struct vq *q)
{
	return __atomic_load_n(&q->enabled, __ATOMIC_ACQUIRE);
}

static enum vq_pop_result broken(struct vq *q)
{
	q->broken = true;
	return VQ_BROKEN;
}

/* One descriptor, copied out of guest memory (the guest may rewrite it). */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static void read_desc(const uint8_t *table, uint16_t i, struct desc *d)
{
	struct vring_desc raw;
	memcpy(&raw, table + 16u * i, sizeof(raw));
	d->addr = raw.addr;
	d->len = raw.len;
	d->flags = raw.flags;
	d->next = raw.next;
}

enum vq_pop_result vq_pop(struct vq *q, struct vq_elem *e)
{
	if (!vq_enabled(q) || q->broken)
		return VQ_EMPTY;
	uint16_t avail_idx = load16(q->avail + 2);
	if (avail_idx == q->last_avail)
		return VQ_EMPTY;
	/* More new entries than the ring holds: the index is garbage. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return broken(q);
	uint16_t head = load16(q->avail + 4 + 2u * (q->last_avail % q->size));
	if (head >= q->size)
		return broken(q);
	q->last_avail++;

	e->head = head;
	e->nout = e->nin = 0;
	e->out_len = e->in_len = 0;
	e->bad_addr = false;

	const uint8_t *table = q->desc;
	uint32_t table_size = q->size;
	uint16_t i = head;
	unsigned count = 0;
	bool in_indirect = false;
	uint64_t total = 0;
	for (;;) {
		struct desc d;
		read_desc(table, i, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* One level only, never combined with NEXT, only if negotiated. */
			if (in_indirect || !q->indirect || (d.flags & VRING_DESC_F_NEXT))
				return broken(q);
			if (d.len == 0 || d.len % 16 || d.len / 16 > VQ_MAX_CHAIN)
				return broken(q);
			const uint8_t *t = gm_ptr(q->gm, d.addr, d.len);
			if (!t)
				return broken(q);
			table = t;
			table_size = d.len / 16;
			in_indirect = true;
			i = 0;
			continue;
		}
		/* Bounds the walk: a loop in `next` ends here too. */
		if (++count > VQ_MAX_CHAIN || count > (in_indirect ? table_size : q->size))
			return broken(q);
		bool writable = d.flags & VRING_DESC_F_WRITE;
		if (!writable && e->nin)
			return broken(q); /* readable after writable */
		total += d.len;
		if (total > UINT32_MAX)
			return broken(q);
		void *p = d.len ? gm_ptr(q->gm, d.addr, d.len) : NULL;
		if (!p)
			e->bad_addr = true; /* zero-length or outside RAM: fail this request */
		struct iovec *v = &e->iov[e->nout + e->nin];
		v->iov_base = p;
		v->iov_len = d.len;
		if (writable) {
			e->nin++;
			e->in_len += d.len;
		} else {
			e->nout++;
			e->out_len += d.len;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= table_size)
			return broken(q);
	}
	return VQ_GOT;
}

void vq_push(struct vq *q, uint16_t head, uint32_t written)
{
	struct vring_used_elem el = {.id = head, .len = written};
	memcpy(q->used + 4 + 8u * (q->used_idx % q->size), &el, sizeof(el));
	q->used_idx++;
	/* The element is visible before the index that publishes it. */
	store16(q->used + 2, q->used_idx);
}

bool vq_need_interrupt(struct vq *q)
{
	if (!vq_enabled(q))
		return false;
	/* used->idx is stored before we read what the driver asked for (FACTS §4.4). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = q->signalled, now = q->used_idx;
	q->signalled = now;
	if (old == now)
		return false;
	if (q->event_idx) {
		uint16_t used_event = load16(q->avail + 4 + 2u * q->size);
		return vring_need_event(used_event, now, old);
	}
	return !(load16(q->avail) & VRING_AVAIL_F_NO_INTERRUPT);
}

void vq_suppress_kicks(struct vq *q)
{
	/* With EVENT_IDX an avail_event left behind suppresses kicks by itself. */
	if (vq_enabled(q) && !q->event_idx)
		store16(q->used, VRING_USED_F_NO_NOTIFY);
}

bool vq_has_new(const struct vq *q)
{
	return vq_enabled(q) && !q->broken && load16(q->avail + 2) != q->last_avail;
}

bool vq_arm_and_check(struct vq *q)
{
	if (!vq_enabled(q) || q->broken)
		return false;
	if (q->event_idx)
		store16(q->used + 4 + 8u * q->size, q->last_avail);
	else
		store16(q->used, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(q->avail + 2) != q->last_avail;
}

/* Copies between buf and the iovecs' bytes [skip, skip+len), in either direction. */
static uint64_t iov_copy(const struct iovec *iov, unsigned n, uint64_t skip, uint8_t *buf,
			 uint64_t len, bool to_iov)
{
	uint64_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		uint64_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (!iov[i].iov_base)
			break; /* a buffer outside guest RAM (vq_elem.bad_addr): stop before it */
		uint64_t c = l - skip < len - done ? l - skip : len - done;
		uint8_t *v = (uint8_t *)iov[i].iov_base + skip;
		if (to_iov)
			memcpy(v, buf + done, c);
		else
			memcpy(buf + done, v, c);
		done += c;
		skip = 0;
	}
	return done;
}

uint64_t vq_iov_to_buf(const struct iovec *iov, unsigned n, uint64_t skip, void *buf, uint64_t len)
{
	return iov_copy(iov, n, skip, buf, len, false);
}

uint64_t vq_buf_to_iov(const struct iovec *iov, unsigned n, uint64_t skip, const void *buf, uint64_t len)
{
	return iov_copy(iov, n, skip, (uint8_t *)buf, len, true);
}

unsigned vq_iov_slice(const struct iovec *iov, unsigned n, uint64_t skip, uint64_t len,
		      struct iovec *out)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint64_t c = l - skip < len ? l - skip : len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[k].iov_len = c;
		k++;
		len -= c;
		skip = 0;
	}
	return k;
}
