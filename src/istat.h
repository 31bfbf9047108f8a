/* istat: the named statistics of a series that anomaly scoring and alert
 * rules read — the interval's own values (a counter's count and rate, a
 * gauge's value, a set's unique members, a timer's count, rate, sum, min,
 * max, mean, stddev and p50..p999, exact nearest-rank) and, by name, any
 * stat of a window (window_stats). Domain layer: pure. */
#ifndef TALLYD_ISTAT_H
#define TALLYD_ISTAT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct reg_series;
struct window_stats;

/* The kinds, in the registry's order (registry.c checks it). */
enum istat_kind { ISTAT_COUNTER = 0, ISTAT_TIMER, ISTAT_GAUGE, ISTAT_SET, ISTAT_KINDS };

enum istat {
	ISTAT_COUNT = 0,
	ISTAT_RATE,
	ISTAT_VALUE,
	ISTAT_UNIQUE,
	ISTAT_SUM,
	ISTAT_MIN,
	ISTAT_MAX,
	ISTAT_MEAN,
	ISTAT_STDDEV,
	ISTAT_P50,
	ISTAT_P90,
	ISTAT_P95,
	ISTAT_P99,
	ISTAT_P999,
	ISTAT_N
};

const char *istat_name(enum istat s);
const char *istat_kind_name(enum istat_kind k); /* "counter", "timer", "gauge", "set" */
/* Bits (1u << enum istat) of the interval stats kind k has. */
unsigned istat_kind_mask(enum istat_kind k);

/* "counter.rate, timer.mean, timer.p99, gauge.value" (commas or spaces)
 * into one bit mask per kind; empty gives all zero. false with why on an
 * unknown kind or a stat the kind does not have. */
bool istat_parse_list(const char *s, size_t len, unsigned masks[ISTAT_KINDS], char *why,
                      size_t whylen);
void istat_format_list(struct buf *b, const unsigned masks[ISTAT_KINDS]);

/* The interval value of stat st of series s (of kind k) for an interval of
 * interval_s seconds; NaN when it has none (a timer with no samples). May
 * sort a timer's interval values in place (tstats sorts them anyway). */
double istat_interval(struct reg_series *s, enum istat_kind k, enum istat st, double interval_s);

/* A stat by name: for the interval ("count", "rate", "value" or "last",
 * "unique", "sum", ..., "p99", "p999") or, with ws, a window's ("count",
 * "rate", "sum", "min", "max", "mean", "stddev", "last" or "value",
 * "unique", "covered", and "p<q>" for each of windows.quantiles, named
 * by istat_quantile_name). NaN when the
 * series has no such stat. */
double istat_by_name(struct reg_series *s, enum istat_kind k, const char *stat, double interval_s);
/* pcts: windows.quantiles in percent (the order of ws->q). */
double istat_window_by_name(const struct window_stats *ws, enum istat_kind k, const double *pcts,
                            size_t nq, const char *stat);

/* "p" and a quantile in percent without its dot: 50 → "p50", 99.9 →
 * "p999" (the Redis field names). */
#define ISTAT_QNAME_MAX 32
void istat_quantile_name(double pct, char out[ISTAT_QNAME_MAX]);

#endif
