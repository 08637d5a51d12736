#include "vmm/kvm_eventfd.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

int kvm_irqfd_new(int vm_fd, unsigned int gsi, int *out)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = gsi};
	if (ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int kvm_ioeventfd_new(int vm_fd, uint64_t addr, uint32_t len, bool pio, bool match,
		      uint64_t value, int *out)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct kvm_ioeventfd io = {
		.datamatch = value, .addr = addr, .len = len, .fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0u) | (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0u),
	};
	if (ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}
