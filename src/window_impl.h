/* window_impl: the private layout of struct window, shared by window.c
 * (the sliding logic) and window_codec.c (its state-file encoding). No other
 * module includes it. Domain layer. */
#ifndef TALLYD_WINDOW_IMPL_H
#define TALLYD_WINDOW_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "window.h"

struct hll;
struct sketch;

#define MINUTE_MS 60000
#define HOUR_MINUTES 60

/* Timer moments of a slice: raw samples n, Chan mean/M2, sum, min, max,
 * and the sample-rate weighted count statsd reports. */
struct moments {
	double n, mean, m2, sum, min, max, count;
};

struct gslice {
	double last, min, max, sum, n;
};

struct window {
	const struct window_conf *c;
	enum metric_type type;
	size_t ipm;      /* intervals per minute */
	uint64_t pushes; /* intervals pushed */
	uint64_t idle;   /* pushes since the last touch */
	bool touched;    /* touched since the last push */
	/* counters */
	double *c_iv, *c_mn, c_cur;
	/* gauges */
	struct gslice *g_iv, *g_mn, g_cur;
	double g_last;
	bool g_has;
	/* sets */
	struct hll **s_iv, **s_mn, *s_cur;
	/* timers */
	struct moments *t_iv, *t_mn, t_cur;
	struct buf *f_iv, *f_mn;           /* frozen sketches per slice */
	struct sketch *sk_win[WINDOW_MAX]; /* running sums */
};

/* Buckets a sketch store needs to cover 18 decades at this accuracy. */
size_t window_max_buckets(double accuracy);

#endif
