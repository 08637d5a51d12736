#include "api/http.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/container_of.h"

static struct http_in *in_of(http_parser *p)
{
	return container_of(p, struct http_in, parser);
}

static int bad(struct http_in *h, const char *msg)
{
	h->error = msg;
	return -1; /* stops http_parser with a callback error (1 from on_headers_complete would mean "no body") */
}

static int on_message_begin(http_parser *p)
{
	struct http_in *h = in_of(p);
	memset(&h->req, 0, offsetof(struct http_request, body));
	h->req.body_len = 0;
	h->field_len = 0;
	h->field_done = false;
	h->expect_continue = h->continue_sent = h->complete = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_in *h = in_of(p);
	size_t have = strlen(h->req.path);
	if (have + len >= sizeof(h->req.path))
		return bad(h, "The request's path is too long.");
	memcpy(h->req.path + have, at, len);
	h->req.path[have + len] = '\0';
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_in *h = in_of(p);
	if (h->field_done) { /* a new header begins */
		h->field_len = 0;
		h->field_done = false;
	}
	for (size_t i = 0; i < len && h->field_len < sizeof(h->field) - 1; i++)
		h->field[h->field_len++] = (char)tolower((unsigned char)at[i]);
	h->field[h->field_len] = '\0';
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_in *h = in_of(p);
	h->field_done = true;
	/* Only Expect matters; Content-Type and Accept are ignored, as Firecracker does. */
	if (!strcmp(h->field, "expect") && len >= 12 && !strncasecmp(at, "100-continue", 12))
		h->expect_continue = true;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_in *h = in_of(p);
	h->req.http_minor = p->http_minor;
	h->req.keep_alive = http_should_keep_alive(p);
	h->req.has_body = (p->flags & F_CHUNKED) || p->content_length != ULLONG_MAX;
	if (p->content_length != ULLONG_MAX && p->content_length > HTTP_MAX_BODY) {
		snprintf(h->error_buf, sizeof(h->error_buf),
			 "Request payload with size %llu is larger than the limit of %u allowed by server.",
			 (unsigned long long)p->content_length, HTTP_MAX_BODY);
		return bad(h, h->error_buf);
	}
	static const struct {
		enum http_method m;
		enum req_method k;
	} kinds[] = {
		{HTTP_GET, REQ_GET},
		{HTTP_PUT, REQ_PUT},
		{HTTP_PATCH, REQ_PATCH},
		{HTTP_DELETE, REQ_DELETE},
	};
	h->req.method = REQ_OTHER;
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (p->method == kinds[i].m)
			h->req.method = kinds[i].k;
	h->req.method_name = http_method_str(p->method);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_in *h = in_of(p);
	if (h->req.body_len + len > HTTP_MAX_BODY) {
		snprintf(h->error_buf, sizeof(h->error_buf),
			 "Request payload is larger than the limit of %u allowed by server.",
			 HTTP_MAX_BODY);
		return bad(h, h->error_buf);
	}
	memcpy(h->req.body + h->req.body_len, at, len);
	h->req.body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_in *h = in_of(p);
	char *q = strchr(h->req.path, '?');
	if (q)
		*q = '\0';
	h->complete = true;
	http_parser_pause(p, 1); /* one request at a time: the next waits for http_in_next */
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http_in_init(struct http_in *h)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->parser, HTTP_REQUEST);
}

enum http_event http_in_feed(struct http_in *h, const char *data, size_t len, size_t *used)
{
	*used = 0;
	if (h->error)
		return HTTPIN_BAD;
	if (h->complete)
		return HTTPIN_REQUEST;
	size_t n = http_parser_execute(&h->parser, &settings, data, len);
	*used = n;
	enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
	if (h->complete)
		return HTTPIN_REQUEST;
	if (e != HPE_OK) {
		if (!h->error) {
			snprintf(h->error_buf, sizeof(h->error_buf), "Invalid HTTP request: %s.",
				 http_errno_description(e));
			h->error = h->error_buf;
		}
		return HTTPIN_BAD;
	}
	if (h->expect_continue && !h->continue_sent)
		return HTTPIN_CONTINUE;
	return HTTPIN_MORE;
}

void http_in_next(struct http_in *h)
{
	h->complete = false;
	http_parser_pause(&h->parser, 0);
}

void http_in_continue_sent(struct http_in *h)
{
	h->continue_sent = true;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

char *http_response(int status, const char *json_body, bool keep_alive, size_t *len)
{
	size_t blen = json_body ? strlen(json_body) : 0;
	size_t cap = blen + 256;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nServer: kestrel API\r\nConnection: %s\r\n",
			 status, http_reason(status), keep_alive ? "keep-alive" : "close");
	/* A 204 carries no body and no Content-Length (RFC 9110 §8.6). */
	if (status != 204)
		n += snprintf(out + n, cap - (size_t)n, "%sContent-Length: %zu\r\n",
			      json_body ? "Content-Type: application/json\r\n" : "", blen);
	n += snprintf(out + n, cap - (size_t)n, "\r\n");
	if (blen)
		memcpy(out + n, json_body, blen);
	*len = (size_t)n + blen;
	return out;
}
