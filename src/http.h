/* http: the HTTP interface (server.http) on libevent's evhttp: GET /health
 * (200 {"status":"up"} or 503 when the admin set health down), GET
 * /metrics (Prometheus text of the self-stats), GET /api/v1/series?match=GLOB
 * GET /api/v1/series/<id> (window stats as JSON) and GET /api/v1/alerts. Edge layer, main loop. */
#ifndef TALLYD_HTTP_H
#define TALLYD_HTTP_H

#include <stddef.h>

struct alert_engine;
struct event_base;
struct admin;
struct config;
struct http;
struct registry;

/* Binds addr ("host:port", port 0 picks one). admin, reg and cfg borrowed
 * (admin may be NULL: then health is always up; reg/cfg NULL: no series
 * API). Returns NULL with err set when it cannot bind. */
struct http *http_new(struct event_base *base, const char *addr, const struct admin *admin,
                      struct registry *reg, const struct config *cfg, char *err, size_t errlen);
void http_free(struct http *h);
/* Serves GET /api/v1/alerts from e (borrowed for the http's life). */
void http_set_alerts(struct http *h, const struct alert_engine *e);
const char *http_address(const struct http *h);

#endif
