#include "api/server.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/container_of.h"
#include "vmm/log.h"

static const char too_many[] =
	"HTTP/1.1 503 Service Unavailable\r\nServer: kestrel API\r\nConnection: close\r\n"
	"Content-Type: application/json\r\nContent-Length: 47\r\n\r\n"
	"{\"fault_message\": \"Too many open connections\"}";

char *api_fault_body(const char *msg)
{
	/*
	 * A message may quote the request (its path, a field's value), which
	 * need not be UTF-8, and JSON strings must be: non-ASCII and control
	 * bytes become '?' (found by fuzz-api: a path byte 0xB8 left a 400
	 * without a body).
	 */
	char clean[1024];
	size_t n = 0;
	for (; msg[n] && n < sizeof(clean) - 1; n++)
		clean[n] = (msg[n] >= 0x20 && msg[n] < 0x7f) ? msg[n] : '?';
	clean[n] = '\0';
	json_t *o = json_pack("{s:s}", "fault_message", clean);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static void conn_process(struct api_conn *c);

/* Reads what the client sends next into c->in. */
static void recv_arm(struct api_conn *c)
{
	io_uring_prep_recv(loop_sqe(c->server->loop, &c->recv_op), c->fd, c->in, sizeof(c->in), 0);
}

static void conn_close(struct api_conn *c)
{
	if (c->fd >= 0)
		close(c->fd); /* an AF_UNIX close does not block */
	if (c->out_owned)
		free(c->out);
	c->out = NULL;
	c->out_owned = false;
	c->fd = -1;
}

static void send_more(struct api_conn *c)
{
	io_uring_prep_send(loop_sqe(c->server->loop, &c->send_op), c->fd, c->out + c->out_off,
			   c->out_len - c->out_off, MSG_NOSIGNAL);
}

static void send_done(struct loop_op *op, int res)
{
	struct api_conn *c = container_of(op, struct api_conn, send_op);
	if (res == -EINTR || res == -EAGAIN) {
		send_more(c);
		return;
	}
	if (res <= 0) { /* the client went away */
		conn_close(c);
		return;
	}
	c->out_off += (size_t)res;
	if (c->out_off < c->out_len) {
		send_more(c);
		return;
	}
	if (c->out_owned)
		free(c->out);
	c->out = NULL;
	c->out_owned = false;
	if (c->close_after_send) {
		/* Half-close, then read until the client closes too (or sent too much). */
		shutdown(c->fd, SHUT_WR);
		c->draining = true;
		c->drained = 0;
		recv_arm(c);
		return;
	}
	conn_process(c);
}

static void send_buf(struct api_conn *c, char *buf, size_t len, bool owned)
{
	c->out = buf;
	c->out_len = len;
	c->out_off = 0;
	c->out_owned = owned;
	send_more(c);
}

/* Sends a response; a closing one ends the connection after it. */
static void respond(struct api_conn *c, int status, char *body, bool keep_alive)
{
	size_t len;
	char *resp = http_response(status, body, keep_alive, &len);
	free(body);
	c->close_after_send = !keep_alive;
	if (!resp) {
		conn_close(c);
		return;
	}
	send_buf(c, resp, len, true);
}

static void recv_done(struct loop_op *op, int res)
{
	struct api_conn *c = container_of(op, struct api_conn, recv_op);
	if (res == -EINTR || res == -EAGAIN) {
		recv_arm(c);
		return;
	}
	if (res <= 0 || (c->draining && (c->drained += (size_t)res) > API_DRAIN_MAX)) {
		conn_close(c);
		return;
	}
	if (c->draining) {
		recv_arm(c);
		return;
	}
	c->in_off = 0;
	c->in_len = (size_t)res;
	conn_process(c);
}

/* Parses what has arrived and answers it; reads more when it is used up. */
static void conn_process(struct api_conn *c)
{
	while (c->in_off < c->in_len) {
		size_t used;
		enum http_event ev = http_in_feed(&c->http, c->in + c->in_off, c->in_len - c->in_off, &used);
		c->in_off += used;
		switch (ev) {
		case HTTPIN_MORE:
			continue;
		case HTTPIN_CONTINUE:
			http_in_continue_sent(&c->http);
			send_buf(c, (char *)HTTP_CONTINUE, strlen(HTTP_CONTINUE), false);
			return;
		case HTTPIN_BAD:
			respond(c, 400, api_fault_body(c->http.error), false);
			return;
		case HTTPIN_REQUEST: {
			struct api_answer a = {0};
			c->server->requests++;
			c->server->handler(c->server->handler_ctx, c, &c->http.req, &a);
			if (a.pending) {
				c->waiting = true;
				return;
			}
			bool keep = c->http.req.keep_alive;
			http_in_next(&c->http);
			respond(c, a.status, a.body, keep);
			return;
		}
		}
	}
	c->in_off = c->in_len = 0;
	recv_arm(c);
}

void api_server_reply(struct api_conn *c, int status, char *body)
{
	c->waiting = false;
	bool keep = c->http.req.keep_alive;
	http_in_next(&c->http);
	respond(c, status, body, keep);
}

static void reject_done(struct loop_op *op, int res)
{
	struct api_reject *r = container_of(op, struct api_reject, op);
	if (!r->sent && res > 0) {
		/* Read the request, so that the close does not reset the answer away. */
		r->sent = true;
		shutdown(r->fd, SHUT_WR);
		io_uring_prep_recv(loop_sqe(r->srv->loop, &r->op),
				   r->fd, r->buf, sizeof(r->buf), 0);
		return;
	}
	close(r->fd);
	r->fd = -1;
}

static void accept_arm(struct api_server *s)
{
	io_uring_prep_accept(loop_sqe(s->loop, &s->accept_op), s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

static void accept_done(struct loop_op *op, int res)
{
	struct api_server *s = container_of(op, struct api_server, accept_op);
	if (res >= 0) {
		struct api_conn *c = NULL;
		for (unsigned i = 0; i < API_MAX_CONNS && !c; i++)
			if (s->conns[i].fd < 0)
				c = &s->conns[i];
		if (c) {
			c->fd = res;
			c->in_off = c->in_len = 0;
			c->waiting = c->close_after_send = c->draining = false;
			http_in_init(&c->http);
			conn_process(c);
		} else {
			s->rejected++;
			struct api_reject *r = NULL;
			for (unsigned i = 0; i < API_REJECT_SLOTS && !r; i++)
				if (s->rejects[i].fd < 0)
					r = &s->rejects[i];
			if (r) {
				r->fd = res;
				r->sent = false;
				io_uring_prep_send(loop_sqe(s->loop, &r->op), res, too_many,
						   sizeof(too_many) - 1, MSG_NOSIGNAL);
			} else {
				close(res);
			}
		}
	} else if (res != -EINTR && res != -EAGAIN && res != -ECONNABORTED) {
		log_err("API socket: accept: %s", strerror(-res));
		if (res == -EMFILE || res == -ENFILE)
			return; /* no retry storm; connections wait in the backlog */
	}
	accept_arm(s);
}

static void start_fn(struct loop_task *t)
{
	accept_arm(container_of(t, struct api_server, start_task));
}

int api_server_open(struct api_server *s, struct loop *loop, const char *path, api_handler h,
		    void *ctx, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->handler = h;
	s->handler_ctx = ctx;
	s->listen_fd = -1;
	for (unsigned i = 0; i < API_MAX_CONNS; i++) {
		s->conns[i].fd = -1;
		s->conns[i].server = s;
		s->conns[i].recv_op.cb = recv_done;
		s->conns[i].send_op.cb = send_done;
	}
	for (unsigned i = 0; i < API_REJECT_SLOTS; i++) {
		s->rejects[i].fd = -1;
		s->rejects[i].op.cb = reject_done;
		s->rejects[i].srv = s;
	}
	s->accept_op.cb = accept_done;
	s->start_task.fn = start_fn;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "--api-sock '%s': path too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "--api-sock: socket: %s", strerror(errno));
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		snprintf(err, errlen, "--api-sock '%s': %s%s", path, strerror(e),
			 e == EADDRINUSE ? " (remove it first, as for Firecracker)" : "");
		close(fd);
		return -e;
	}
	s->listen_fd = fd;
	snprintf(s->path, sizeof(s->path), "%s", path);
	return 0;
}

void api_server_forget_path(struct api_server *s)
{
	s->path[0] = '\0';
}

void api_server_start(struct api_server *s)
{
	loop_call(s->loop, &s->start_task);
}

void api_server_close(struct api_server *s)
{
	for (unsigned i = 0; i < API_MAX_CONNS; i++)
		conn_close(&s->conns[i]);
	for (unsigned i = 0; i < API_REJECT_SLOTS; i++)
		if (s->rejects[i].fd >= 0)
			close(s->rejects[i].fd);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (s->path[0])
			unlink(s->path);
	}
	s->listen_fd = -1;
}
