/* alert: the alert engine — evaluates the rules (rules.h) against every
 * series at each flush and produces transitions (pending → firing →
 * resolved) and notifications (first firing, repeats, resolved). Domain
 * layer: pure, no I/O and no clock of its own (the caller passes now). The
 * flush calls begin / observe (every series) / end; http and the Redis
 * formatting read the instances. */
#ifndef TALLYD_ALERT_H
#define TALLYD_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

enum alert_state { ALERT_PENDING = 0, ALERT_FIRING, ALERT_RESOLVED };

/* Most instances (pending, firing, resolved, and the per-series records
 * kind absent keeps of every matching series) held at once. At the cap the
 * oldest resolved instance makes room; when there is none the new instance
 * is not created and counted (alert_engine_dropped). */
#define ALERT_MAX_INSTANCES 100000
/* How long a resolved instance stays listed. */
#define ALERT_RESOLVED_KEEP_MS 3600000

/* What the engine needs to know about one series at this flush. */
struct alert_input {
	const char *id; /* series id: name + canonical ";k=v" tags */
	size_t id_len;
	size_t name_len; /* id[0..name_len) is the name */
	bool has_data;   /* the series received data this interval */
	/* The value of stat (e.g. "rate", "p99", "zscore") over window w (-1 =
	 * the interval, else an index into windows.list); NaN when the series
	 * has no such stat. */
	double (*value)(void *ctx, int w, const char *stat);
	/* Whether the anomaly scorer flagged stat this interval ("" = any of the
	 * series' monitored stats), with that stat's z in *z. */
	bool (*anomalous)(void *ctx, const char *stat, double *z);
	void *ctx;
};

/* One notification, valid only during the emit callback. */
struct alert_note {
	const struct alert_rule *rule;
	const char *series; /* id */
	size_t series_len;
	size_t name_len;
	enum alert_state state; /* ALERT_FIRING or ALERT_RESOLVED */
	bool repeat;            /* a re-notification of a still firing instance */
	double value;           /* the stat (or z) when it fired / its last value */
	int64_t starts_ms;      /* when the instance started firing */
	int64_t ends_ms;        /* resolved: when; firing: 0 */
	uint64_t fingerprint;   /* stable per (rule, series) */
};

/* One instance, for /api/v1/alerts and the tallyd:alerts hash. */
struct alert_view {
	const struct alert_rule *rule;
	const char *series;
	size_t series_len;
	enum alert_state state;
	double value;
	int64_t since_ms;         /* entered this state */
	int64_t starts_ms;        /* started firing (0 while pending) */
	int64_t last_notified_ms; /* 0 = never */
	uint64_t fingerprint;
};

struct alert_engine;

struct alert_engine *alert_engine_new(void);
void alert_engine_free(struct alert_engine *e); /* NULL is a no-op */

/* Installs the alert rules of r (copied: r may be freed afterwards; NULL =
 * none). Instances of a rule whose name and definition (every key but the
 * line numbers) are unchanged keep their state. The instances of a changed
 * or removed rule are dropped at once, except firing ones: those send their
 * RESOLVED note (ends_ms = that flush's now, rule = the old definition) at
 * the next alert_engine_end, before any other note, and are then dropped.
 * The new definition of a changed rule starts with no instances. */
void alert_engine_set_rules(struct alert_engine *e, const struct rules *r);

/* now_ms must not go backwards from one flush to the next. */
void alert_engine_begin(struct alert_engine *e, int64_t now_ms);
/* One series (in and what it points to borrowed until return). The same id
 * observed twice in a flush (e.g. a counter and a gauge of one name) is one
 * series: its condition holds if it holds for either (kind absent: if
 * neither has data). */
void alert_engine_observe(struct alert_engine *e, const struct alert_input *in);
/* Ends the flush: absent rules for series not observed, pending → firing
 * after `for`, resolutions, repeats. emit is called once per notification.
 * Returns whether the list of instances or any state or last_notified_ms
 * changed (the Redis hash needs a rewrite); a value alone does not count. */
bool alert_engine_end(struct alert_engine *e, void (*emit)(void *ctx, const struct alert_note *n),
                      void *ctx);

/* Every instance (pending, firing, and resolved ones kept for an hour),
 * views valid during fn only. Kind absent's records of series that have
 * data are not instances and are not listed. */
void alert_engine_each(const struct alert_engine *e,
                       void (*fn)(void *ctx, const struct alert_view *v), void *ctx);
size_t alert_engine_count(const struct alert_engine *e, enum alert_state s);

/* Instances not created because of ALERT_MAX_INSTANCES, since
 * alert_engine_new (one per refused (rule, series) per flush). */
uint64_t alert_engine_dropped(const struct alert_engine *e);

/* The fingerprint of (rule name, series id): FNV-1a 64 over the bytes of
 * the rule name, one 0 byte, then the bytes of the series id. Stable across
 * restarts and builds. */
uint64_t alert_fingerprint(const char *rule, const char *series, size_t series_len);

#endif
