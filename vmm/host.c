#include "vmm/host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int host_check_kvm(char *err, size_t errlen)
{
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		int e = errno;
		snprintf(err, errlen,
			 e == ENOENT ? "/dev/kvm does not exist: this host offers no KVM"
				     : "/dev/kvm is not accessible (%s)",
			 strerror(e));
		return -e;
	}
	if (access("/sys/module/kvm_pvm", F_OK) == 0 && !getenv("KESTREL_ALLOW_PVM")) {
		snprintf(err, errlen,
			 "/dev/kvm is provided by kvm_pvm, which cannot run unmodified guest kernels "
			 "(its instruction emulation fails on a stock Linux); use a host with VT-x or "
			 "AMD-V, or tools/rig (set KESTREL_ALLOW_PVM=1 to try anyway)");
		return -ENOTSUP;
	}
	return 0;
}
