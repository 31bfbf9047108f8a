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
#define GAUGE_NONE UINT64_MAX /* g_first of a gauge that never had a value */
#define GREC_MAX 28           /* bytes of the longest gauge minute record */

/* Timer moments of a slice: raw samples n, Chan mean/M2, sum, min, max,
 * and the sample-rate weighted count statsd reports. */
struct moments {
	double n, mean, m2, sum, min, max, count;
};

/* One series' windows. Slices: a ring of ipm per-interval slices (the last
 * minute) and a ring of nm per-minute slices (complete minutes, nm = the
 * longest window's minutes - 1, 0 without windows over a minute); the
 * current minute so far is recombined from the interval ring. The arrays
 * live in the same allocation as the struct (tail), laid out per type:
 *   counter: double iv[ipm], mn[nm]
 *   gauge:   double iv[ipm] (the value of each interval; intervals before
 *            first have none), agg[windows over a minute][3] (min, max,
 *            sum of the complete minutes each holds, refreshed once a
 *            minute so a read is O(intervals)), plus the minute records
 *   set:     struct hll *iv[ipm], *mn[nm] (NULL: no members; a minute is
 *            the union of its intervals)
 *   timer:   struct moments iv[ipm], mn[nm]; frozen sketches fp[ipm + nm]
 *            (NULL: empty slice) of fl[ipm + nm] bytes */
struct window {
	const struct window_conf *c;
	uint64_t pushes; /* intervals pushed */
	uint64_t idle;   /* pushes since the last touch */
	uint32_t ipm;    /* intervals per minute */
	uint32_t nm;     /* minute slices kept */
	uint8_t type;    /* enum metric_type; timers all as METRIC_TIMER */
	uint8_t nshort;  /* windows of a minute or less (the first ones) */
	bool touched;    /* touched since the last push */
	union {
		struct {                /* gauge */
			uint64_t first; /* first push with a value, GAUGE_NONE */
			/* newest complete minute: min, max, sum of its values */
			double min, max, sum;
			/* the older complete minutes, oldest first, each XORed
			 * with the next newer one (see window.c) */
			uint8_t *rec;
			uint32_t head, len, cap;
		} g;
		struct { /* timer: running sums of the windows' slices */
			struct sketch *win[WINDOW_MAX];
		} t;
	} u;
	double tail[]; /* the slice arrays, see above */
};

/* Typed views of the tail. */
static inline double *window_dv(const struct window *w)
{
	return (double *)w->tail;
}

static inline struct hll **window_hv(const struct window *w)
{
	return (struct hll **)(void *)w->tail;
}

static inline struct moments *window_mv(const struct window *w)
{
	return (struct moments *)(void *)w->tail;
}

static inline uint8_t **window_fp(const struct window *w)
{
	return (uint8_t **)(void *)(window_mv(w) + w->ipm + w->nm);
}

static inline uint32_t *window_fl(const struct window *w)
{
	return (uint32_t *)(void *)(window_fp(w) + w->ipm + w->nm);
}

static inline double *window_gagg(const struct window *w, size_t i)
{
	return window_dv(w) + w->ipm + 3 * (i - w->nshort);
}

/* Buckets a sketch store needs to cover 18 decades at this accuracy. */
size_t window_max_buckets(double accuracy);

/* Bytes of the gauge minute record at p (at most avail), 0 when malformed. */
size_t window_grec_len(const uint8_t *p, size_t avail);
/* Recomputes a gauge's per-window minute aggregates (agg) from its records. */
void window_gauge_refresh(struct window *w);
/* Rebuilds the running window sketches of a timer from its slices; -1 when
 * a slice does not apply (malformed). */
int window_timer_rebuild(struct window *w);
/* Complete minutes kept after `pushes` pushes. */
uint64_t window_minutes_kept(const struct window *w);

#endif
