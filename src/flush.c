/* flush: every server.flush_interval (aligned to the wall clock) asks the
 * intake workers for their shards, merges them into the registry, adds the
 * interval's self-stats and the reference's internal counters, slides every
 * series' windows, scores anomalies, evaluates the alert rules (queueing
 * webhook notifications), formats the Graphite lines (gfmt) for the
 * Graphite sink and the Redis commands (rfmt) for the Redis sink, then ends
 * the interval. Only this module creates sinks and the webhook sender. It
 * never blocks: the swap is asynchronous, sinks and webhooks queue. */
#include "flush.h"

#include <event2/event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "alertfmt.h"
#include "anomaly.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "gfmt.h"
#include "graphite.h"
#include "intake.h"
#include "istat.h"
#include "log.h"
#include "num.h"
#include "redis.h"
#include "registry.h"
#include "rfmt.h"
#include "selfstats.h"
#include "shard.h"
#include "state.h"
#include "webhook.h"
#include "window.h"
#include "xalloc.h"

/* Webhook notifications queued or in flight at most; more are dropped
 * and counted. */
#define WEBHOOK_QUEUE_MAX 10000
/* <prefix>:alerts:log entries kept while Redis is away. */
#define ALERT_LOG_MAX 1000
/* Series per ZADD of the Redis index. */
#define INDEX_BATCH 1000
/* At shutdown, how long queued webhook notifications may still take. */
#define WEBHOOK_DRAIN_MS 2000
#define ALERT_LOG_FIELDS 16

/* A stat the scorer flagged this interval (for <prefix>:anomalies). */
struct flagged {
	const struct reg_series *s;
	int stat;
	struct anomaly_score sc;
};

/* One <prefix>:alerts:log entry waiting for the next Redis flush. */
struct log_entry {
	size_t n;
	char *kv[ALERT_LOG_FIELDS];
};

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
	struct alert_engine *alerts;
	struct webhook_sender *webhooks;
	struct alertfmt_batch **batches; /* this flush's, one per [webhook] */
	char external_url[300];          /* http://<server.http>, for payload links */
	struct flagged *flagged;
	size_t nflagged, capflagged;
	struct log_entry *log;
	size_t nlog;
	bool alerts_dirty; /* the <prefix>:alerts hash needs a rewrite */
};

/* ---- the alert log: transitions and webhook outcomes ------------------- */

static void log_entry_clear(struct log_entry *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->kv[i]);
	e->n = 0;
}

/* Queues an entry (name, value pairs, NULL-terminated); the oldest goes
 * when ALERT_LOG_MAX are waiting. */
static void alert_log(struct flush *f, ...)
{
	if (f->nlog == ALERT_LOG_MAX) {
		log_entry_clear(&f->log[0]);
		memmove(f->log, f->log + 1, (ALERT_LOG_MAX - 1) * sizeof(*f->log));
		f->nlog--;
	}
	struct log_entry *e = &f->log[f->nlog++];
	va_list ap;
	va_start(ap, f);
	const char *s;
	e->n = 0;
	while ((s = va_arg(ap, const char *)) != NULL && e->n < ALERT_LOG_FIELDS)
		e->kv[e->n++] = xstrdup(s);
	va_end(ap);
}

static const char *const outcome_names[] = {"delivered", "retrying", "failed", "dropped"};

static void on_webhook_result(void *ctx, const struct webhook_result *r)
{
	struct flush *f = ctx;
	char attempt[16], status[16], ts[24];
	snprintf(attempt, sizeof(attempt), "%d", r->attempt);
	snprintf(status, sizeof(status), "%ld", r->http_status);
	snprintf(ts, sizeof(ts), "%lld", (long long)(clock_wall_ms() / 1000));
	alert_log(f, "event", "delivery", "webhook", r->webhook, "what", r->what, "outcome",
	          outcome_names[r->outcome], "attempt", attempt, "http_status", status, "error",
	          r->error ? r->error : "", "ts", ts, (const char *)NULL);
}

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
	f->webhooks = webhook_new(base, WEBHOOK_QUEUE_MAX, err, errlen);
	if (!f->webhooks) {
		redis_sink_free(f->redis);
		graphite_free(f->graphite);
		free(f);
		return NULL;
	}
	webhook_on_result(f->webhooks, on_webhook_result, f);
	f->alerts = alert_engine_new();
	alert_engine_set_rules(f->alerts, cfg->rules);
	if (cfg->http[0])
		snprintf(f->external_url, sizeof(f->external_url), "http://%s", cfg->http);
	f->log = xcalloc(ALERT_LOG_MAX, sizeof(*f->log));
	rfmt_names_init(&f->names, cfg);
	return f;
}

const struct alert_engine *flush_alerts(const struct flush *f)
{
	return f->alerts;
}

void flush_rules_changed(struct flush *f)
{
	alert_engine_set_rules(f->alerts, f->cfg->rules);
	f->alerts_dirty = true;
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
	webhook_free(f->webhooks);
	alert_engine_free(f->alerts);
	for (size_t i = 0; i < f->nlog; i++)
		log_entry_clear(&f->log[i]);
	free(f->log);
	free(f->flagged);
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

/* ---- anomalies and alerts ---------------------------------------------- */

static void on_flagged(void *ctx, enum registry_kind k, const struct reg_series *s, int stat,
                       const struct anomaly_score *sc)
{
	struct flush *f = ctx;
	selfstats.anomalies++;
	if (f->nflagged == f->capflagged) {
		f->capflagged = f->capflagged ? f->capflagged * 2 : 64;
		f->flagged = xrealloc(f->flagged, f->capflagged * sizeof(*f->flagged));
	}
	f->flagged[f->nflagged++] = (struct flagged){s, stat, *sc};
	log_debug("anomaly: series=%.*s stat=%s value=%g mean=%g stddev=%g z=%g", (int)s->key_len,
	          s->key, istat_name((enum istat)stat), sc->value, sc->mean, sc->stddev, sc->z);
}

/* What the alert engine reads of one series. */
struct series_ctx {
	struct flush *f;
	enum registry_kind k;
	struct reg_series *s;
};

static double series_value(void *ctx, int w, const char *stat)
{
	struct series_ctx *c = ctx;
	const struct config *cfg = c->f->cfg;
	if (strcmp(stat, "zscore") == 0)
		return registry_zscore(c->f->reg, c->k, c->s);
	if (w < 0)
		return istat_by_name(c->s, (enum istat_kind)c->k, stat,
		                     (double)cfg->flush_interval_ms / 1000.0);
	if (!c->s->win || (size_t)w >= cfg->nwindows)
		return NAN;
	struct window_stats ws;
	window_stats(c->s->win, (size_t)w, &ws);
	return istat_window_by_name(&ws, (enum istat_kind)c->k, cfg->window_quantiles,
	                            cfg->nwindow_quantiles, stat);
}

static bool series_anomalous(void *ctx, const char *stat, double *z)
{
	struct series_ctx *c = ctx;
	return registry_anomalous(c->f->reg, c->k, c->s, stat, z);
}

static void on_note(void *ctx, const struct alert_note *n)
{
	struct flush *f = ctx;
	const struct rules *rs = f->cfg->rules;
	const char *state = alertfmt_state_name(n->state);
	char val[NUM_FMT_MAX] = "", ts[24], series[8192];
	if (isfinite(n->value))
		num_format(n->value, val);
	snprintf(ts, sizeof(ts), "%lld", (long long)(clock_wall_ms() / 1000));
	snprintf(series, sizeof(series), "%.*s", (int)n->series_len, n->series);
	if (!n->repeat) {
		if (n->state == ALERT_FIRING)
			selfstats.alerts_fired++;
		else
			selfstats.alerts_resolved++;
	}
	log_info("alert: rule=%s series=%s state=%s%s value=%s", n->rule->name, series, state,
	         n->repeat ? " (repeat)" : "", val);
	alert_log(f, "event", "transition", "rule", n->rule->name, "series", series, "state", state,
	          "repeat", n->repeat ? "1" : "0", "value", val, "severity", n->rule->severity,
	          "ts", ts, (const char *)NULL);
	if (!n->rule->webhook[0])
		return;
	for (size_t i = 0; i < rs->nwebhooks; i++) {
		if (strcmp(rs->webhooks[i].name, n->rule->webhook) != 0)
			continue;
		if (!f->batches[i]) {
			f->batches[i] = alertfmt_batch_new(&rs->webhooks[i], f->external_url);
			alertfmt_batch_windows(f->batches[i], f->cfg->windows_ms, f->cfg->nwindows);
		}
		alertfmt_batch_add(f->batches[i], n);
		return;
	}
}

static size_t alert_instances(const struct alert_engine *e)
{
	return alert_engine_count(e, ALERT_PENDING) + alert_engine_count(e, ALERT_FIRING) +
	       alert_engine_count(e, ALERT_RESOLVED);
}

/* Every series through the rules; notifications batched per webhook and
 * queued (never waited for). */
static void evaluate_alerts(struct flush *f, int64_t now_ms)
{
	const struct rules *rs = f->cfg->rules;
	if (rs->nalerts == 0 && alert_instances(f->alerts) == 0)
		return;
	f->batches = xcalloc(rs->nwebhooks + 1, sizeof(*f->batches));
	alert_engine_begin(f->alerts, now_ms);
	for (int k = 0; k < REG_KIND_COUNT && rs->nalerts > 0; k++) {
		size_t pos = 0;
		struct reg_series *s;
		while ((s = registry_next(f->reg, (enum registry_kind)k, &pos)) != NULL) {
			if (s->internal)
				continue;
			struct series_ctx c = {f, (enum registry_kind)k, s};
			struct alert_input in = {.id = s->key,
			                         .id_len = s->key_len,
			                         .name_len = s->name_len,
			                         .has_data = s->updated,
			                         .value = series_value,
			                         .anomalous = series_anomalous,
			                         .ctx = &c};
			alert_engine_observe(f->alerts, &in);
		}
	}
	if (alert_engine_end(f->alerts, on_note, f))
		f->alerts_dirty = true;
	selfstats.alerts_dropped = alert_engine_dropped(f->alerts);
	for (size_t i = 0; i < rs->nwebhooks; i++) {
		if (!f->batches[i])
			continue;
		char what[64];
		snprintf(what, sizeof(what), "%zu alerts", alertfmt_batch_count(f->batches[i]));
		size_t len;
		char *body = alertfmt_batch_finish(f->batches[i], &len);
		if (body)
			webhook_post(f->webhooks, &rs->webhooks[i], body, len, what);
		free(body);
	}
	free(f->batches);
	f->batches = NULL;
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
	uint32_t gen = (uint32_t)selfstats.redis_reconnects;
	const struct reg_series *idx[INDEX_BATCH];
	size_t nidx = 0;
	for (int k = 0; k < REG_KIND_COUNT; k++) {
		size_t pos = 0;
		struct reg_series *s;
		while ((s = registry_next(f->reg, (enum registry_kind)k, &pos)) != NULL) {
			if (!s->win)
				continue;
			rfmt_series(f->cfg, &f->names, s, ts,
			            registry_zscore(f->reg, (enum registry_kind)k, s),
			            s->redis_gen != gen, &out);
			s->redis_gen = gen;
			idx[nidx++] = s;
			if (nidx == INDEX_BATCH) {
				rfmt_index(f->cfg, ts, idx, nidx, &out);
				nidx = 0;
			}
			n++;
		}
	}
	rfmt_index(f->cfg, ts, idx, nidx, &out);
	for (size_t i = 0; i < f->nflagged; i++)
		rfmt_anomaly(f->cfg, f->flagged[i].s, istat_name((enum istat)f->flagged[i].stat),
		             &f->flagged[i].sc, ts, &out);
	if (f->alerts_dirty || alert_instances(f->alerts) > 0) {
		rfmt_alerts(f->cfg, f->alerts, &out);
		f->alerts_dirty = false;
	}
	for (size_t i = 0; i < f->nlog; i++) {
		rfmt_alert_log(f->cfg, (const char *const *)f->log[i].kv, f->log[i].n, &out);
		log_entry_clear(&f->log[i]);
	}
	f->nlog = 0;
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
	f->nflagged = 0;
	registry_score(f->reg, on_flagged, f);
	evaluate_alerts(f, ts * 1000);
	selfstats.series = registry_total(f->reg);
	selfstats.webhook_queue = webhook_pending(f->webhooks);

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
	/* Webhooks get less: a receiver that is down would hold the exit for
	 * its whole backoff. */
	int wh_ms = timeout_ms < WEBHOOK_DRAIN_MS ? timeout_ms : WEBHOOK_DRAIN_MS;
	if (webhook_drain(f->webhooks, wh_ms) < 0) {
		log_warn("flush: %zu webhook notifications not delivered within %d ms",
		         webhook_pending(f->webhooks), wh_ms);
		rc = -1;
	}
	return rc;
}
