/*
 * Work the loop must not do itself because it blocks (opening and closing
 * files on a running VM): handed to the main thread, which is idle in
 * vm_run() while the guest runs. vm_run_on_main() in vm.h.
 */
#ifndef KESTREL_MAIN_JOB_H
#define KESTREL_MAIN_JOB_H

struct vm_main_job {
	void (*fn)(struct vm_main_job *job); /* main thread */
	struct vm_main_job *next;
};

#endif
