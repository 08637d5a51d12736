/*
 * The API's Unix socket on the io_uring loop: accept, receive and send are
 * ring operations, so no thread of its own is needed and a slow or stalled
 * client holds only its own connection. At most API_MAX_CONNS connections;
 * one more is answered 503 and closed, as Firecracker does. Requests on a
 * connection are answered in order (pipelining), one at a time.
 *
 * Threads: api_server_open on the main thread before the loop runs or
 * while it runs; api_server_start, the handler and api_server_reply on the
 * loop thread; api_server_close on the main thread after the loop stopped.
 */
#ifndef KESTREL_API_SERVER_H
#define KESTREL_API_SERVER_H

#include <stdbool.h>

#include "api/http.h"
#include "vmm/loop.h"

#define API_MAX_CONNS 10
#define API_REJECT_SLOTS 4 /* 503s being sent at once; more are just closed */
/*
 * After an error that ends a connection, what the client still sends is read
 * and dropped, up to this much, so that closing does not reset the
 * connection before the client has read the answer.
 */
#define API_DRAIN_MAX (2 * HTTP_MAX_BODY)

struct api_server;

struct api_conn {
	struct api_server *server;
	int fd;             /* -1: free */
	struct loop_op recv_op, send_op;
	char in[4096];
	size_t in_off, in_len; /* bytes received but not yet parsed */
	struct http_in http;
	char *out;          /* the response being sent (malloc'd), or HTTP_CONTINUE */
	bool out_owned;
	size_t out_len, out_off;
	bool close_after_send;
	bool draining;      /* answered with an error: reading what is left, then closing */
	size_t drained;
	bool waiting;       /* the handler answers later, with api_server_reply */
};

struct api_reject {
	struct api_server *srv;
	struct loop_op op;
	int fd; /* -1: free */
	bool sent; /* the 503 is out; now reading what the client sent, then closing */
	char buf[1024];
};

/*
 * What a request gets: status and JSON body (malloc'd, taken over), or
 * pending: the handler answers later with api_server_reply(conn, ...).
 */
struct api_answer {
	int status;
	char *body;
	bool pending;
};

typedef void (*api_handler)(void *ctx, struct api_conn *conn, const struct http_request *req,
			    struct api_answer *out);

struct api_server {
	struct loop *loop;
	int listen_fd;
	char path[108];
	struct loop_op accept_op;
	struct loop_task start_task;
	api_handler handler;
	void *handler_ctx;
	struct api_conn conns[API_MAX_CONNS];
	struct api_reject rejects[API_REJECT_SLOTS];
	unsigned long long requests, rejected; /* stats */
};

/* Binds and listens at path (which must not exist yet). -errno with a message. */
int api_server_open(struct api_server *s, struct loop *loop, const char *path, api_handler h,
		    void *ctx, char *err, size_t errlen);
/*
 * Main thread, before the loop runs: the socket file is not removed at
 * close (the jail: its path is no longer the one kestrel can see).
 */
void api_server_forget_path(struct api_server *s);
/* Any thread: starts accepting (on the loop). */
void api_server_start(struct api_server *s);
/* Loop thread: answers a request its handler left pending. */
void api_server_reply(struct api_conn *c, int status, char *body);
/* Main thread, loop stopped: closes everything and removes the socket file (if not forgotten). */
void api_server_close(struct api_server *s);

/* A {"fault_message": msg} body (malloc'd). */
char *api_fault_body(const char *msg);

#endif
