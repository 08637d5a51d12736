/*
 * Firecracker's REST API for one kestrel VM: the routes, their pre-boot
 * and post-boot rules and Firecracker's messages, over api/server.c. The
 * VM is configured in an fc_config (api/fc_config.h) until InstanceStart
 * hands it to the main thread, which builds and runs the VM and answers
 * through api_start_done().
 *
 * Threads: api_init and api_start_done on the main thread (api_start_done
 * any time after start was asked for); everything else on the loop thread.
 */
#ifndef KESTREL_API_API_H
#define KESTREL_API_API_H

#include <stdbool.h>

#include "api/fc_config.h"
#include "api/metrics.h"
#include "api/server.h"

enum api_state {
	API_NOT_STARTED,
	API_STARTING, /* InstanceStart asked; the main thread is building the VM */
	API_RUNNING,
	API_PAUSED,
};

/* How the API reaches the VM (main.c; fakes in unit tests). Loop thread. */
struct api_vm_ops {
	/* Build and run the VM from fc; the main thread answers with api_start_done(). */
	void (*start)(void *ctx, struct fc_config *fc);
	/* Stop the vCPUs where they are, or let them go on. */
	void (*pause)(void *ctx, bool pause);
	/* Press Ctrl-Alt-Del on the guest's keyboard. */
	void (*ctrl_alt_del)(void *ctx);
	/*
	 * After start: drive `index` gets the image at path; the VM answers
	 * with api_drive_done(). 0, or -errno with a message (nothing started).
	 */
	int (*update_drive)(void *ctx, unsigned int index, const char *path, char *err, size_t errlen);
};

struct api {
	struct fc_config fc;
	enum api_state state;
	const char *id;
	const struct api_vm_ops *ops;
	void *ops_ctx;
	struct api_server server;
	struct api_conn *start_waiter; /* InstanceStart's connection, until answered */
	struct loop_task start_done_task;
	bool start_ok;      /* under the loop's handoff: written before loop_call */
	char start_err[512];
	struct metrics *metrics; /* FlushMetrics; set before api_start_done(ok), or NULL */
	struct api_conn *drive_waiter[CONFIG_MAX_DISKS]; /* PATCH /drives waiting for the VM */
	char drive_path[CONFIG_MAX_DISKS][PATH_MAX];     /* the path each of them asked for */
	bool drive_updating[CONFIG_MAX_DISKS];           /* until api_drive_done */
	unsigned long long get_requests, put_requests, patch_requests, bad_requests; /* stats */
};

/*
 * Main thread: an API in state Not started, serving at path, or, with
 * booting set (a --kernel or --config-file VM that the API only watches),
 * starting already: api_start_done() says when it runs. fc is the
 * configuration so far (copied). -errno with a message.
 */
int api_init(struct api *a, struct loop *loop, const char *path, const struct fc_config *fc,
	     bool booting, const char *id, const struct api_vm_ops *ops, void *ops_ctx, char *err,
	     size_t errlen);

/* The same without a socket (fuzz targets and unit tests drive api_handle). */
void api_reset(struct api *a, struct loop *loop, const struct fc_config *fc, bool booting,
	       const char *id, const struct api_vm_ops *ops, void *ops_ctx);

/* Main thread: InstanceStart's outcome (ok, or the fault message). */
void api_start_done(struct api *a, bool ok, const char *err);

/* Loop thread: PATCH /drives of drive index is done (0) or refused (-errno, why). */
void api_drive_done(struct api *a, unsigned int index, int res, const char *msg);

/* The handler api/server.c calls; exposed for unit tests. Loop thread. */
void api_handle(void *ctx, struct api_conn *conn, const struct http_request *req,
		struct api_answer *out);

#endif
