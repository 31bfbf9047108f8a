/* http: the HTTP interface on libevent's evhttp, main loop: GET /health
 * (JSON, 503 when the admin set `health down`), GET /metrics (the
 * self-stats as Prometheus text), GET /api/v1/series?match=GLOB (the series
 * that have windows), GET /api/v1/series/<id> (one series' window stats
 * as JSON) and GET /api/v1/alerts (the alert instances). Other paths answer 404, other methods 405.
 * It keeps no state of its own and reads the registry on the main loop; main creates it. */
#include "http.h"

#include <fnmatch.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <jansson.h>

#include "admin.h"
#include "alert.h"
#include "alertfmt.h"
#include "buf.h"
#include "log.h"
#include "net.h"
#include "registry.h"
#include "rfmt.h"
#include "selfstats.h"
#include "window.h"
#include "xalloc.h"

#define HTTP_TIMEOUT_S 30
#define HTTP_MAX_HEADERS 16384
#define HTTP_MAX_BODY 65536

struct http {
	struct evhttp *evh;
	struct evhttp_bound_socket *sock;
	const struct admin *admin;
	struct registry *reg;
	const struct config *cfg;
	struct rfmt_names names;
	char address[256];
	const struct alert_engine *alerts;
};

#define SERIES_PREFIX "/api/v1/series"
#define SERIES_LIST_MAX 10000

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

static void reply_obj(struct evhttp_request *req, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!text) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	reply(req, HTTP_OK, "OK", "application/json", text, strlen(text));
	free(text);
}

/* A number, or null for a statistic with no data. */
static json_t *num(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *window_json(const struct http *h, const struct reg_series *s, size_t i)
{
	struct window_stats st;
	json_t *o = json_object();
	window_stats(s->win, i, &st);
	switch (s->type) {
	case METRIC_COUNTER:
		json_object_set_new(o, "count", num(st.count));
		json_object_set_new(o, "rate", num(st.rate));
		break;
	case METRIC_GAUGE:
		json_object_set_new(o, "last", num(st.last));
		json_object_set_new(o, "min", num(st.min));
		json_object_set_new(o, "max", num(st.max));
		json_object_set_new(o, "mean", num(st.mean));
		break;
	case METRIC_SET:
		json_object_set_new(o, "unique", json_integer((json_int_t)st.unique));
		break;
	default:
		json_object_set_new(o, "count", num(st.count));
		json_object_set_new(o, "rate", num(st.rate));
		json_object_set_new(o, "sum", num(st.has_data ? st.sum : NAN));
		json_object_set_new(o, "min", num(st.min));
		json_object_set_new(o, "max", num(st.max));
		json_object_set_new(o, "mean", num(st.mean));
		json_object_set_new(o, "stddev", num(st.stddev));
		for (size_t q = 0; q < h->cfg->nwindow_quantiles && q < WINDOW_QMAX; q++)
			json_object_set_new(o, h->names.quantile[q], num(st.q[q]));
		break;
	}
	json_object_set_new(o, "covered", num(st.covered_s));
	return o;
}

/* GET /api/v1/series?match=GLOB: ids and types of the series with windows. */
static void series_list(struct http *h, struct evhttp_request *req, const struct evhttp_uri *uri)
{
	struct evkeyvalq q;
	const char *query = evhttp_uri_get_query(uri);
	const char *match = "*";
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) == 0) {
		const char *m = evhttp_find_header(&q, "match");
		if (m && *m)
			match = m;
	}
	json_t *arr = json_array();
	size_t n = 0;
	bool truncated = false;
	for (int k = 0; k < REG_KIND_COUNT && !truncated; k++) {
		size_t pos = 0;
		struct reg_series *s;
		while ((s = registry_next(h->reg, (enum registry_kind)k, &pos)) != NULL) {
			if (!s->win)
				continue;
			char id[8192];
			snprintf(id, sizeof(id), "%.*s", (int)s->key_len, s->key);
			if (fnmatch(match, id, 0) != 0)
				continue;
			if (n == SERIES_LIST_MAX) {
				truncated = true;
				break;
			}
			json_array_append_new(arr, json_pack("{s:s, s:s}", "id", id, "type",
			                                     rfmt_type_name(s->type)));
			n++;
		}
	}
	json_t *obj = json_pack("{s:s, s:o, s:I, s:b}", "match", match, "series", arr, "count",
	                        (json_int_t)n, "truncated", truncated);
	evhttp_clear_headers(&q);
	reply_obj(req, obj);
}

/* GET /api/v1/series/<id>: every window of the series (URL-encoded id). */
static void series_one(struct http *h, struct evhttp_request *req, const char *enc)
{
	size_t len = 0;
	char *id = evhttp_uridecode(enc, 0, &len);
	const struct reg_series *found = NULL;
	for (int k = 0; id && k < REG_KIND_COUNT && !found; k++) {
		size_t pos = 0;
		struct reg_series *s;
		while ((s = registry_next(h->reg, (enum registry_kind)k, &pos)) != NULL) {
			if (s->win && s->key_len == len && memcmp(s->key, id, len) == 0) {
				found = s;
				break;
			}
		}
	}
	if (!found) {
		free(id);
		reply_json(req, HTTP_NOTFOUND, "Not Found", "error", "no such series with windows");
		return;
	}
	json_t *wins = json_object();
	for (size_t i = 0; i < h->cfg->nwindows && i < WINDOW_MAX; i++)
		json_object_set_new(wins, h->names.window[i], window_json(h, found, i));
	json_t *obj = json_pack("{s:s%, s:s%, s:s, s:o}", "id", found->key, found->key_len, "name",
	                        found->key, found->name_len, "type", rfmt_type_name(found->type),
	                        "windows", wins);
	free(id);
	reply_obj(req, obj);
}

static void alert_json(void *ctx, const struct alert_view *v)
{
	json_array_append_new(ctx, alertfmt_view_json(v));
}

/* GET /api/v1/alerts: every instance (pending, firing, recently resolved). */
static void alerts_list(struct http *h, struct evhttp_request *req)
{
	json_t *arr = json_array();
	alert_engine_each(h->alerts, alert_json, arr);
	json_t *obj =
	    json_pack("{s:o, s:I, s:I, s:I}", "alerts", arr, "firing",
	              (json_int_t)alert_engine_count(h->alerts, ALERT_FIRING), "pending",
	              (json_int_t)alert_engine_count(h->alerts, ALERT_PENDING), "resolved",
	              (json_int_t)alert_engine_count(h->alerts, ALERT_RESOLVED));
	reply_obj(req, obj);
}

void http_set_alerts(struct http *h, const struct alert_engine *e)
{
	h->alerts = e;
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
	bool list = h->reg && strcmp(path, SERIES_PREFIX) == 0;
	bool one = h->reg && strncmp(path, SERIES_PREFIX "/", sizeof(SERIES_PREFIX)) == 0 &&
	           path[sizeof(SERIES_PREFIX)] != '\0';
	bool alerts = h->alerts && strcmp(path, "/api/v1/alerts") == 0;
	if (!health && !metrics && !list && !one && !alerts) {
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
	if (list) {
		series_list(h, req, uri);
		return;
	}
	if (alerts) {
		alerts_list(h, req);
		return;
	}
	if (one) {
		series_one(h, req, path + sizeof(SERIES_PREFIX));
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
                      struct registry *reg, const struct config *cfg, char *err, size_t errlen)
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
	h->reg = reg;
	h->cfg = cfg;
	if (cfg)
		rfmt_names_init(&h->names, cfg);
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
