/* registry: every known series with the reference statsd's per-kind state
 * (counters, timers, gauges, sets), the interval's merged aggregates, and
 * the statsd-style views the admin interface shows. Domain layer: pure.
 * Only the main thread touches it: worker shards are merged into it at the
 * flush tick (registry_merge), formatted (gfmt), then reset for the next
 * interval (registry_end_interval). */
#ifndef TALLYD_REGISTRY_H
#define TALLYD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "metric.h"
#include "selfstats.h"

struct anomaly_base;
struct anomaly_conf;
struct anomaly_score;
struct window;
struct window_conf;

struct shard;

enum registry_kind { REG_COUNTERS = 0, REG_TIMERS, REG_GAUGES, REG_SETS, REG_KIND_COUNT };

/* One series of one kind. key is owned by the registry. */
struct reg_series {
	char *key;
	size_t key_len;
	size_t name_len;       /* key[0..name_len) is the name, the rest ";k=v" tags */
	enum metric_type type; /* the wire type last seen (ms, h or d for timers) */
	bool internal;         /* the reference's own statsd.* counters and timestamp_lag */
	bool updated;          /* received data this interval */
	/* statsd.delete_idle removed it from the statsd view (Graphite, admin,
	 * numStats), but its windows still slide until they expire */
	bool dormant;
	/* counters: interval count (sample-rate weighted); gauges: value */
	double value;
	/* timers: interval values (sorted by tstats at flush) and weighted count */
	double *values;
	size_t nvalues, cap;
	double count;
	/* sets: distinct members this interval (htab of owned strings) */
	struct htab *members;
	/* sliding windows (NULL until the first flush with windows, and again
	 * once the series has been idle longer than the longest window) */
	struct window *win;
	/* anomaly.stats of its kind: one baseline per monitored stat, in the
	 * order of the stat bits (NULL until its first scored interval) */
	struct anomaly_base **anom;
	/* the Redis connection (selfstats.redis_reconnects) it was last written
	 * on; another one means its keys may be gone (flush, rfmt) */
	uint32_t redis_gen;
};

struct registry *registry_new(const struct config *cfg); /* cfg borrowed for life */
void registry_free(struct registry *r);

/* Folds one worker's interval shard into the registry; the shard is left
 * empty. Series beyond server.max_series are dropped and counted in st. */
void registry_merge(struct registry *r, struct shard *sh, struct selfstats *st);

/* Records the reference's internal counters (<prefix_stats>.packets_received,
 * .metrics_received, .bad_lines_seen) for this interval and the
 * timestamp_lag gauge (skipped at the first flush, as the reference). */
void registry_set_internal(struct registry *r, const struct selfstats *interval, int64_t lag_s,
                           bool have_lag);

/* The interval's DogStatsD event and check records, gathered from the
 * merged shards (format in shard.h); emptied by registry_end_interval. */
const struct buf *registry_events(const struct registry *r);

size_t registry_count(const struct registry *r, enum registry_kind k);
size_t registry_total(const struct registry *r);

/* Iteration over one kind, in insertion order; *pos starts at 0.
 * registry_next gives every series (the windows' view); registry_next_shown
 * skips dormant ones (the statsd view: Graphite, admin). */
struct reg_series *registry_next(const struct registry *r, enum registry_kind k, size_t *pos);
struct reg_series *registry_next_shown(const struct registry *r, enum registry_kind k, size_t *pos);

/* Feeds this interval into every series' sliding windows (creating them for
 * series that received data, expiring those idle longer than the longest
 * window). Call after the last merge of the interval and before
 * registry_end_interval. No-op when windows.list is empty. */
void registry_push_windows(struct registry *r);

/* Scores this interval's value of every monitored stat (anomaly.stats) of
 * every series except the internal ones against its baseline, then adds it
 * to the baseline. Calls flagged for each stat whose |z| reached
 * anomaly.threshold (may be NULL). Call after the last merge of the
 * interval and before registry_end_interval. No-op when anomaly.stats is
 * empty. */
void registry_score(struct registry *r,
                    void (*flagged)(void *ctx, enum registry_kind k, const struct reg_series *s,
                                    int stat, const struct anomaly_score *sc),
                    void *ctx);
/* The series' z of this interval with the largest magnitude among its
 * scored stats (signed); NaN when none was scored. */
double registry_zscore(const struct registry *r, enum registry_kind k, const struct reg_series *s);
/* Whether stat ("" = any) of the series was flagged this interval; *z its z. */
bool registry_anomalous(const struct registry *r, enum registry_kind k, const struct reg_series *s,
                        const char *stat, double *z);
/* The scoring configuration (NULL when anomaly.stats is empty) and the
 * monitored stat bits of kind k (istat.h), for the state file. */
const struct anomaly_conf *registry_anomaly_conf(const struct registry *r);
unsigned registry_anomaly_stats(const struct registry *r, enum registry_kind k);

/* Ends the interval: counters to 0, timer values and set members cleared;
 * with statsd.delete_idle every series is removed instead (as the
 * reference's deleteIdleStats), except its internal counters. */
void registry_end_interval(struct registry *r);

/* The windows' configuration (interval, windows.list, quantiles as
 * fractions, accuracy), borrowed for the registry's life. */
const struct window_conf *registry_window_conf(const struct registry *r);

/* Attaches a window restored from the state file to series key of kind k,
 * creating the series if absent (not updated and dormant: the statsd view
 * starts fresh, only the windows carry on) and replacing any window it had.
 * Takes ownership of w (built on registry_window_conf(r)); copies key.
 * -1 (w freed) when server.max_series is reached or type does not belong
 * to kind k. */
int registry_restore_window(struct registry *r, enum registry_kind k, const char *key,
                            size_t key_len, size_t name_len, enum metric_type type,
                            struct window *w);

/* Attaches anomaly baselines restored from the state file to the series
 * key of kind k (restored just before by registry_restore_window). Takes
 * ownership of bases (NULL-terminated, built on registry_anomaly_conf(r))
 * on success (0); -1 (bases left to the caller) when the series is absent
 * or their number is not that of the kind's monitored stats. */
int registry_restore_anomaly(struct registry *r, enum registry_kind k, const char *key,
                             size_t key_len, struct anomaly_base **bases);

/* Admin views, in the reference's util.inspect style: `counters`,
 * `timers`, `gauges` (and `sets`). Appends to out, without the END line. */
void registry_inspect(const struct registry *r, enum registry_kind k, struct buf *out);

/* Admin delete: bucket is a full key or "folder.*". Appends the reference's
 * "deleted: KEY" / "metric BUCKET not found" lines to out. */
void registry_delete(struct registry *r, enum registry_kind k, const char *bucket, struct buf *out);

#endif
