/* http: the HTTP interface on libevent's evhttp, main loop: GET /health
 * (JSON, 503 when the admin set `health down`) and GET /metrics (the
 * self-stats as Prometheus text). Other paths answer 404, other methods 405.
 * It keeps no state of its own; main creates it after the admin. */
#include "http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "admin.h"
#include "buf.h"
#include "log.h"
#include "net.h"
#include "selfstats.h"
#include "xalloc.h"

#define HTTP_TIMEOUT_S 30
#define HTTP_MAX_HEADERS 16384
#define HTTP_MAX_BODY 65536

struct http {
	struct evhttp *evh;
	struct evhttp_bound_socket *sock;
	const struct admin *admin;
	char address[256];
};

static void reply(struct evhttp_request *req, int code, const char *reason, const char *ctype,
                  const char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);

	evhttp_add_header(hdr, "Content-Type", ctype);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	if (!out) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

/* Replies with {"key":"value"}. */
static void reply_json(struct evhttp_request *req, int code, const char *reason, const char *key,
                       const char *value)
{
	json_t *obj = json_pack("{s:s}", key, value);
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!text) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	reply(req, code, reason, "application/json", text, strlen(text));
	free(text);
}

static void handle(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);

	if (!path || !*path)
		path = "/";
	bool health = strcmp(path, "/health") == 0;
	bool metrics = strcmp(path, "/metrics") == 0;
	if (!health && !metrics) {
		reply_json(req, HTTP_NOTFOUND, "Not Found", "error", "not found");
		return;
	}
	/* HEAD is GET without the body (evhttp leaves the body out). */
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		reply_json(req, HTTP_BADMETHOD, "Method Not Allowed", "error",
		           "method not allowed");
		return;
	}
	if (health) {
		if (admin_healthy(h->admin))
			reply_json(req, HTTP_OK, "OK", "status", "up");
		else
			reply_json(req, HTTP_SERVUNAVAIL, "Service Unavailable", "status", "down");
		return;
	}
	struct buf body = BUF_INIT;
	selfstats_prometheus(&selfstats, &body);
	reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", body.p ? body.p : "",
	      body.len);
	buf_free(&body);
}

struct http *http_new(struct event_base *base, const char *addr, const struct admin *admin,
                      char *err, size_t errlen)
{
	char why[256];
	int fd = net_listen_tcp(addr, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "server.http: %s", why);
		return NULL;
	}
	struct evhttp *evh = evhttp_new(base);
	if (!evh) {
		snprintf(err, errlen, "server.http: %s: cannot create the HTTP server", addr);
		close(fd);
		return NULL;
	}
	struct http *h = xcalloc(1, sizeof(*h));
	h->evh = evh;
	h->admin = admin;
	net_local_addr(fd, h->address, sizeof(h->address));
	/* Every method reaches handle(), which answers 405 itself (evhttp
	 * would answer 501 for methods outside this set). */
	evhttp_set_allowed_methods(evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	                                    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(evh, HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(evh, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(evh, HTTP_MAX_BODY);
	evhttp_set_gencb(evh, handle, h);
	/* net_listen_tcp parses our address forms ("[::1]:p") and listens;
	 * evhttp takes the socket (and closes it when freed). */
	h->sock = evhttp_accept_socket_with_handle(evh, fd);
	if (!h->sock) {
		snprintf(err, errlen, "server.http: %s: evhttp cannot accept on the socket", addr);
		close(fd);
		http_free(h);
		return NULL;
	}
	log_info("http: listening addr=%s", h->address);
	return h;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	if (h->evh)
		evhttp_free(h->evh);
	free(h);
}

const char *http_address(const struct http *h)
{
	return h->address;
}
