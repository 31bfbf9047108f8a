/* rfmt: the Redis read model's commands for one flush (DESIGN.md §6):
 * per series and window a hash `<prefix>:{<series>}:<window>` with its
 * stats and an EXPIRE of twice the window, the `<prefix>:index` sorted set,
 * the opt-in per-series history stream, `<prefix>:meta`, and the
 * `<prefix>:flush` marker that must be written last. Domain layer: it only
 * produces argument vectors; the flush hands them to the Redis sink. */
#ifndef TALLYD_RFMT_H
#define TALLYD_RFMT_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "buf.h"
#include "config.h"
#include "istat.h"
#include "registry.h"
#include "window.h"

struct anomaly_score;
/* Receives commands. group_begin/group_end bracket one series (MULTI/EXEC).
 * argv/len are borrowed until return. */
struct rfmt_out {
	void (*group_begin)(void *ctx);
	void (*cmd)(void *ctx, int argc, const char **argv, const size_t *len);
	void (*group_end)(void *ctx);
	void *ctx;
};

/* Window names ("1m", "5m", ...) and quantile field names ("p50", "p999"),
 * computed once from the config. */
struct rfmt_names {
	char window[WINDOW_MAX][16];
	char quantile[WINDOW_QMAX][ISTAT_QNAME_MAX];
};
void rfmt_names_init(struct rfmt_names *n, const struct config *cfg);

/* "counter", "gauge", "set", "timer", "histogram" or "distribution". */
const char *rfmt_type_name(enum metric_type t);

/* One series in one MULTI/EXEC group: every window's hash and, when due,
 * its EXPIRE of twice the window, and with redis.history a history entry
 * of this interval's stats. zscore (NaN = none) goes into every window
 * hash. An EXPIRE is refreshed once every half window (staggered by
 * series), so a key expires 1.5 to 2 windows after its last write; first
 * (the series was not written on this Redis connection yet) sends them
 * all. */
void rfmt_series(const struct config *cfg, const struct rfmt_names *names,
                 const struct reg_series *s, int64_t ts, double zscore, bool first,
                 const struct rfmt_out *out);

/* Index entries of n series: one ZADD <prefix>:index ts id ts id ... */
void rfmt_index(const struct config *cfg, int64_t ts, const struct reg_series *const *ss, size_t n,
                const struct rfmt_out *out);

/* One flagged stat: XADD <prefix>:anomalies MAXLEN ~ 10000 * series S stat
 * X value V mean M stddev D zscore Z ts T. */
void rfmt_anomaly(const struct config *cfg, const struct reg_series *s, const char *stat,
                  const struct anomaly_score *sc, int64_t ts, const struct rfmt_out *out);

/* The alert instances as <prefix>:alerts, rewritten whole in one group:
 * DEL, then HSET "<rule>|<series>" → JSON state per instance. */
void rfmt_alerts(const struct config *cfg, const struct alert_engine *e,
                 const struct rfmt_out *out);

/* One entry of <prefix>:alerts:log (MAXLEN ~ 10000): fields name, value,
 * name, value... (borrowed until return). */
void rfmt_alert_log(const struct config *cfg, const char *const *fields, size_t nfields,
                    const struct rfmt_out *out);

/* The interval's DogStatsD events (XADD <prefix>:events, MAXLEN ~ 10000)
 * and service checks (HSET <prefix>:checks <name;tags> <status>), from the
 * records of registry_events(). */
void rfmt_events(const struct config *cfg, const struct buf *records, const struct rfmt_out *out);

/* After every series: meta, index pruning (series idle longer than the
 * longest window), and last the flush marker. */
void rfmt_finish(const struct config *cfg, const struct rfmt_names *names, int64_t ts,
                 int64_t duration_ms, size_t series, const struct rfmt_out *out);

#endif
