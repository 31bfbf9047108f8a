/* window: sliding windows (default 1m, 5m, 15m, 1h) for one series, fed
 * one flush interval at a time. Windows up to a minute slide over
 * per-interval slices; longer ones over per-minute slices plus the current
 * minute so far, so a flush costs O(buckets) for timers (running sketch
 * sums: add the newest slice, subtract the one that fell out) and O(slices)
 * for the moments. Timer mean/stddev merge with Chan's parallel formula.
 * Domain layer: pure. One struct window per series. */
#ifndef TALLYD_WINDOW_H
#define TALLYD_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metric.h"

struct buf;
struct hll;

#define WINDOW_MAX 8
#define WINDOW_QMAX 8

struct window_conf {
	int64_t interval_ms;
	size_t n;                   /* number of windows */
	int64_t len_ms[WINDOW_MAX]; /* strictly ascending */
	size_t nq;
	double quantiles[WINDOW_QMAX]; /* in (0, 1), e.g. 0.5, 0.99, 0.999 */
	double accuracy;               /* sketch relative accuracy */
};

/* Windows of at most a minute must be multiples of the interval; longer ones
 * multiples of a minute and at most an hour; the interval must divide a
 * minute. false with err ("windows.list: ...") otherwise. */
bool window_conf_check(const struct window_conf *c, char *err, size_t errlen);

struct window_stats {
	double covered_s;                   /* seconds of data the window holds so far */
	double count;                       /* counter: count; timer: sample-rate weighted count */
	double rate;                        /* count / covered_s */
	double sum, min, max, mean, stddev; /* timers (min/max/mean also gauges) */
	double last;                        /* gauge: last value */
	uint64_t unique;                    /* set: distinct members */
	uint64_t samples;                   /* timer: raw samples (sketch count) */
	double q[WINDOW_QMAX];              /* timer quantiles, NaN when empty */
	bool has_data;                      /* anything in the window */
};

/* type decides which stats the window keeps (timers, histograms and
 * distributions alike). The conf is borrowed for the window's life. */
struct window *window_new(const struct window_conf *c, enum metric_type type);
void window_free(struct window *w);

/* Exactly one push per flush interval for every series (an idle series is
 * pushed with nothing: n = 0, has_value = false, members = NULL). */
void window_push_counter(struct window *w, double count);
void window_push_gauge(struct window *w, bool has_value, double value);
void window_push_set(struct window *w, const struct hll *members); /* borrowed */
/* values are the interval's raw samples (borrowed); count is weighted. */
void window_push_timer(struct window *w, const double *values, size_t n, double count);
/* One idle push: the push of the window's type with nothing (a counter of
 * 0, a gauge without a value, an empty set, a timer without samples). */
void window_push_idle_one(struct window *w);
/* n idle pushes at once (what the push of its type with nothing would do,
 * n times: gauges keep their value), in O(slices + buckets) whatever n: for
 * the intervals a restored state file missed while the server was down. */
void window_push_idle(struct window *w, uint64_t n);

void window_stats(const struct window *w, size_t i, struct window_stats *out);

/* Marks that the series received data in the interval about to be pushed
 * (call it before that interval's push). */
void window_touch(struct window *w);
/* Pushes since the series last received data: expire it once this covers
 * the longest window. */
uint64_t window_idle_intervals(const struct window *w);
/* Bytes the window holds: the struct, its slices and everything they own. */
size_t window_memory(const struct window *w);

/* The window's full state (pushes, idle, every slice, the running sketches)
 * in a portable little-endian form, appended to out (for the state file). */
void window_encode(const struct window *w, struct buf *out);
/* A window rebuilt from window_encode's bytes (borrowed until return) for
 * conf c (borrowed for the window's life) and type; NULL when the bytes are
 * malformed or were encoded for another type, interval or window count. */
struct window *window_decode(const struct window_conf *c, enum metric_type type, const void *data,
                             size_t len);

#endif
