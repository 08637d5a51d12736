/*
 * HTTP/1.0 and 1.1 requests off a byte stream, one at a time, with the
 * framing Firecracker's API server uses: bodies by Content-Length (chunked
 * is decoded too), at most HTTP_MAX_BODY bytes, "Expect: 100-continue"
 * noticed, keep-alive and pipelining. The parsing itself is http_parser's
 * (libhttp-parser); this only collects what a request handler needs, and
 * formats responses. Pure: no sockets, so every rule is unit-testable.
 *
 * Threads: a struct http_in belongs to one connection, used by one thread
 * (the loop's).
 */
#ifndef KESTREL_API_HTTP_H
#define KESTREL_API_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_BODY 51200 /* Firecracker's default payload limit */
#define HTTP_MAX_PATH 1024

enum req_method { REQ_GET, REQ_PUT, REQ_PATCH, REQ_DELETE, REQ_OTHER };

struct http_request {
	enum req_method method;
	const char *method_name;
	char path[HTTP_MAX_PATH]; /* without the query string */
	char body[HTTP_MAX_BODY];
	size_t body_len;
	bool has_body;   /* a Content-Length or chunked framing was sent, even for 0 bytes */
	bool keep_alive; /* the connection may carry another request after this one */
	int http_minor;  /* 1.0 or 1.1 */
};

enum http_event {
	HTTPIN_MORE,     /* all bytes taken; no whole request yet */
	HTTPIN_CONTINUE, /* as HTTPIN_MORE, and the client waits for "100 Continue" */
	HTTPIN_REQUEST,  /* a whole request is in req; bytes after it are not taken */
	HTTPIN_BAD,      /* unparseable or over a limit: answer 400 with error, then close */
};

struct http_in {
	http_parser parser;
	struct http_request req;
	char field[32];   /* the header name being read, lower case; cut if longer */
	size_t field_len;
	bool field_done;  /* the value is being read now */
	bool expect_continue, continue_sent;
	bool complete;
	const char *error; /* for HTTPIN_BAD */
	char error_buf[160];
};

void http_in_init(struct http_in *h);

/*
 * Feeds up to len bytes; *used says how many were taken. After
 * HTTPIN_REQUEST, handle in->req, then call http_in_next() before feeding
 * the rest (pipelined requests wait their turn). After HTTPIN_CONTINUE
 * the caller sends HTTP_CONTINUE once (http_in_continue_sent).
 */
enum http_event http_in_feed(struct http_in *h, const char *data, size_t len, size_t *used);
void http_in_next(struct http_in *h);
void http_in_continue_sent(struct http_in *h);

#define HTTP_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"

/*
 * A response: status, and a JSON body or none (NULL). Returns a malloc'd
 * buffer of *len bytes, or NULL when out of memory.
 */
char *http_response(int status, const char *json_body, bool keep_alive, size_t *len);

const char *http_reason(int status);

#endif
