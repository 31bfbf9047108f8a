/* flush: the flush tick and everything it drives. Layer 4: it owns the
 * sinks (Graphite) and wires intake → registry → gfmt → sinks. Ticks are
 * aligned to wall-clock multiples of server.flush_interval. */
#ifndef TALLYD_FLUSH_H
#define TALLYD_FLUSH_H

#include <stddef.h>

struct alert_engine;
struct config;
struct event_base;
struct intake;
struct registry;
struct flush;

/* Creates the sinks (graphite.address). All arguments borrowed for life.
 * NULL with err set if a sink address is unusable. */
struct flush *flush_new(struct event_base *base, const struct config *cfg, struct registry *reg,
                        char *err, size_t errlen);
void flush_free(struct flush *f);

/* The intake whose shards the flush merges (set once, before start). */
void flush_set_intake(struct flush *f, struct intake *in);

/* The intake's "every worker swapped" callback (ctx = the flush). */
void flush_on_swapped(void *ctx);

/* The alert engine (for /api/v1/alerts), valid for the flush's life. */
const struct alert_engine *flush_alerts(const struct flush *f);

/* SIGHUP: cfg->rules were replaced (the old ones must still be alive
 * during this call); instances of unchanged rules keep their state. */
void flush_rules_changed(struct flush *f);

/* Arms the first aligned tick. */
int flush_start(struct flush *f);

/* Shutdown: call after intake_stop. Merges everything received, sends a
 * last flush and waits up to timeout_ms for the sinks to take it. Returns 0
 * when every sink took all of it. */
int flush_final(struct flush *f, int timeout_ms);

#endif
