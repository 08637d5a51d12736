/* Checks on the host before a VM is built. Main thread. */
#ifndef KESTREL_HOST_H
#define KESTREL_HOST_H

#include <stddef.h>

/*
 * 0 if /dev/kvm can run an unmodified Linux guest; otherwise -errno and a
 * message. kvm_pvm (a shadow-paging KVM for hosts without VT-x/AMD-V) is
 * refused because it cannot emulate what a stock kernel executes; set
 * KESTREL_ALLOW_PVM=1 to try anyway.
 */
int host_check_kvm(char *err, size_t errlen);

#endif
