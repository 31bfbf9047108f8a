/* admin: the reference statsd's management TCP interface (server.admin):
 * help, stats, counters, timers, gauges, delcounters, deltimers, delgauges,
 * health [up|down], config, quit; anything else answers "ERROR". Edge layer
 * (libevent listener on the main loop). Read-only except the del* commands. */
#ifndef TALLYD_ADMIN_H
#define TALLYD_ADMIN_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct registry;
struct config;
struct admin;

/* Binds addr ("host:port", port 0 picks one). registry and cfg are borrowed
 * for the admin's life. Returns NULL with err set when it cannot bind. */
struct admin *admin_new(struct event_base *base, const char *addr, struct registry *reg,
                        const struct config *cfg, int64_t start_time_s, char *err, size_t errlen);
void admin_free(struct admin *a);

/* The bound "host:port" (for server.port_file). */
const char *admin_address(const struct admin *a);

/* Health as set by `health up|down` (also served on HTTP /health). */
int admin_healthy(const struct admin *a);

#endif
