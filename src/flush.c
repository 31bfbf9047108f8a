/* flush: every server.flush_interval (aligned to the wall clock) asks the
 * intake workers for their shards, merges them into the registry, adds the
 * interval's self-stats and the reference's internal counters, formats the
 * Graphite lines (gfmt) and hands them to the Graphite sink, slides every
 * series' windows and hands their Redis commands (rfmt) to the Redis sink,
 * then ends the interval. Only this module creates sinks. It never blocks: the swap is
 * asynchronous and the sink queues. */
#include "flush.h"

#include <event2/event.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "gfmt.h"
#include "graphite.h"
#include "intake.h"
#include "log.h"
#include "redis.h"
#include "registry.h"
#include "rfmt.h"
#include "selfstats.h"
#include "shard.h"
#include "state.h"
#include "xalloc.h"

struct flush {
	struct event_base *base;
	const struct config *cfg;
	struct registry *reg;
	struct intake *intake;
	struct graphite *graphite;
	struct redis_sink *redis;
	struct rfmt_names names;
	struct event *tick;
	struct event *state_tick; /* server.state_file: saves the windows every minute */
	int64_t next_boundary_ms; /* wall-clock end of the current interval */
	int64_t pending_ts;
	int64_t last_ts;
	struct selfstats last; /* totals at the previous flush */
	struct buf out;
};

struct flush *flush_new(struct event_base *base, const struct config *cfg, struct registry *reg,
                        char *err, size_t errlen)
{
	struct flush *f = xcalloc(1, sizeof(*f));
	f->base = base;
	f->cfg = cfg;
	f->reg = reg;
	selfstats.graphite_last_flush = (uint64_t)(clock_wall_ms() / 1000);
	if (cfg->graphite_address[0]) {
		f->graphite = graphite_new(base, cfg->graphite_address, cfg->graphite_buffer_max,
		                           err, errlen);
		if (!f->graphite) {
			free(f);
			return NULL;
		}
	}
	if (cfg->redis_address[0] && cfg->nwindows > 0) {
		f->redis = redis_sink_new(base, cfg->redis_address, cfg->redis_password,
		                          (int)cfg->redis_db, cfg->redis_timeout_ms, err, errlen);
		if (!f->redis) {
			graphite_free(f->graphite);
			free(f);
			return NULL;
		}
	}
	rfmt_names_init(&f->names, cfg);
	return f;
}

void flush_free(struct flush *f)
{
	if (!f)
		return;
	if (f->tick)
		event_free(f->tick);
	if (f->state_tick)
		event_free(f->state_tick);
	graphite_free(f->graphite);
	redis_sink_free(f->redis);
	buf_free(&f->out);
	free(f);
}

void flush_set_intake(struct flush *f, struct intake *in)
{
	f->intake = in;
}

static void merge_one(void *ctx, struct shard *sh)
{
	struct flush *f = ctx;
	registry_merge(f->reg, sh, &selfstats);
}

static void rb_begin(void *ctx)
{
	redis_batch_begin(ctx);
}

static void rb_cmd(void *ctx, int argc, const char **argv, const size_t *len)
{
	redis_batch_cmd(ctx, argc, argv, len);
}

static void rb_end(void *ctx)
{
	redis_batch_end(ctx);
}

/* The Redis read model: every series that has windows, then the marker. */
static void send_redis(struct flush *f, int64_t ts, int64_t t0)
{
	struct redis_batch *b = redis_batch_new();
	struct rfmt_out out = {rb_begin, rb_cmd, rb_end, b};
	size_t n = 0;
	/* The sink would refuse this flush (previous one in flight, or not
	 * connected) and count it: do not spend the main loop building it. */
	if (redis_sink_busy(f->redis) || !redis_sink_connected(f->redis)) {
		redis_sink_submit(f->redis, b);
		return;
	}
	for (int k = 0; k < REG_KIND_COUNT; k++) {
		size_t pos = 0;
		struct reg_series *s;
		while ((s = registry_next(f->reg, (enum registry_kind)k, &pos)) != NULL) {
			if (!s->win)
				continue;
			rfmt_series(f->cfg, &f->names, s, ts, &out);
			n++;
		}
	}
	rfmt_events(f->cfg, registry_events(f->reg), &out);
	rfmt_finish(f->cfg, &f->names, ts, clock_mono_ms() - t0, n, &out);
	redis_sink_submit(f->redis, b);
}

static void do_flush(struct flush *f, int64_t ts)
{
	int64_t t0 = clock_mono_ms();
	struct selfstats delta;

	intake_each_shard(f->intake, merge_one, f);

	/* This interval's counter increments: totals minus the last flush's. */
	for (size_t i = 0; i < selfstats_count; i++) {
		uint64_t now = selfstats_value(&selfstats, i);
		uint64_t *d = (uint64_t *)((char *)&delta + selfstats_desc[i].offset);
		*d = selfstats_desc[i].kind == 'C' ? now - selfstats_value(&f->last, i) : now;
	}
	f->last = selfstats;
	registry_set_internal(
	    f->reg, &delta,
	    f->last_ts ? ts - f->last_ts - (int64_t)(f->cfg->flush_interval_ms / 1000) : 0,
	    f->last_ts != 0);
	f->last_ts = ts;
	registry_push_windows(f->reg); /* before gfmt: graphite.windows reads them */
	selfstats.series = registry_total(f->reg);

	buf_reset(&f->out);
	size_t lines = gfmt_flush(f->reg, f->cfg, ts, &delta, &selfstats, &f->out);
	if (f->graphite) {
		graphite_send(f->graphite, f->out.p, f->out.len);
		selfstats.graphite_flush_length = f->out.len;
		selfstats.graphite_flush_time_ms = (uint64_t)(clock_mono_ms() - t0);
	}
	if (f->redis)
		send_redis(f, ts, t0);
	registry_end_interval(f->reg);
	selfstats.flushes++;
	selfstats.flush_duration_ms = (uint64_t)(clock_mono_ms() - t0);
	log_debug("flush: ts=%lld lines=%zu bytes=%zu series=%llu duration_ms=%llu", (long long)ts,
	          lines, f->out.len, (unsigned long long)selfstats.series,
	          (unsigned long long)selfstats.flush_duration_ms);
}

void flush_on_swapped(void *ctx)
{
	struct flush *f = ctx;
	do_flush(f, f->pending_ts);
}

/* A flush is stamped with the end of the interval it covers (the aligned
 * boundary), as the reference stamps its flush time. */
static int64_t boundary_ts(int64_t boundary_ms)
{
	return (int64_t)llround((double)boundary_ms / 1000.0);
}

static void arm(struct flush *f)
{
	int64_t iv = f->cfg->flush_interval_ms;
	int64_t now = clock_wall_ms();
	int64_t next = (now / iv + 1) * iv;
	/* A timer that fires a little early must not flush one boundary twice. */
	if (next <= f->next_boundary_ms)
		next = f->next_boundary_ms + iv;
	struct timeval tv = {(time_t)((next - now) / 1000),
	                     (suseconds_t)((next - now) % 1000 * 1000)};
	f->next_boundary_ms = next;
	evtimer_add(f->tick, &tv);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flush *f = arg;
	f->pending_ts = boundary_ts(f->next_boundary_ms);
	arm(f);
	if (intake_request_swap(f->intake) < 0)
		log_warn("flush: previous swap still in progress, skipping tick ts=%lld",
		         (long long)f->pending_ts);
}

/* ---- server.state_file: the windows saved every minute ---- */
#define STATE_SAVE_EVERY_S 60

static void state_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flush *f = arg;
	state_save(f->reg, f->cfg->state_file);
}

static int state_timer_start(struct flush *f)
{
	if (!f->cfg->state_file[0])
		return 0;
	struct timeval tv = {STATE_SAVE_EVERY_S, 0};
	f->state_tick = event_new(f->base, -1, EV_PERSIST, state_tick_cb, f);
	if (!f->state_tick || evtimer_add(f->state_tick, &tv) < 0)
		return -1;
	return 0;
}

int flush_start(struct flush *f)
{
	f->tick = evtimer_new(f->base, tick_cb, f);
	if (!f->tick)
		return -1;
	arm(f);
	return state_timer_start(f);
}

int flush_final(struct flush *f, int timeout_ms)
{
	/* The last, partial interval is stamped with the boundary it would have
	 * ended at, so it never lands in the Graphite bucket of the previous
	 * flush (carbon accepts the future timestamp; see docs/operations.md). */
	int64_t iv = f->cfg->flush_interval_ms;
	int64_t ts = boundary_ts((clock_wall_ms() / iv + 1) * iv);
	if (ts <= f->last_ts)
		ts = f->last_ts + (iv + 999) / 1000;
	if (f->tick)
		evtimer_del(f->tick);
	do_flush(f, ts);
	/* server.state_file: the windows after the last flush */
	if (f->state_tick)
		evtimer_del(f->state_tick);
	if (f->cfg->state_file[0])
		state_save(f->reg, f->cfg->state_file);
	int rc = 0;
	if (f->graphite && graphite_drain(f->graphite, timeout_ms) < 0) {
		log_warn("flush: graphite did not take the final flush within %d ms, pending=%zu",
		         timeout_ms, graphite_pending(f->graphite));
		rc = -1;
	}
	if (f->redis && redis_sink_drain(f->redis, timeout_ms) < 0) {
		log_warn("flush: redis did not take the final flush within %d ms", timeout_ms);
		rc = -1;
	}
	return rc;
}
