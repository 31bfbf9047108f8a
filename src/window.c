/* window: sliding-window state of one series. Slices: one per flush
 * interval for the last minute (ring of intervals-per-minute) and one per
 * minute for the last hour (ring of 60, plus the current minute so far). A
 * window of up to a minute is its last k interval slices; a longer one of m
 * minutes is the current minute plus the m-1 minutes before it. Timer
 * quantiles come from one live sketch per window kept as a running sum;
 * slices keep frozen sketches only to be subtracted when they fall out.
 * Counts, sums, min/max, gauge values and Chan moments are recombined from
 * the slices at read time (O(slices)). Sets re-merge their HLL slices. It
 * does no I/O and knows nothing of Redis or Graphite. */
#include "window.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hll.h"
#include "sketch.h"
#include "window_impl.h"
#include "xalloc.h"

bool window_conf_check(const struct window_conf *c, char *err, size_t errlen)
{
	if (c->interval_ms <= 0 || MINUTE_MS % c->interval_ms != 0) {
		snprintf(err, errlen,
		         "windows.list: server.flush_interval must divide a minute for windows "
		         "(got %lld ms)",
		         (long long)c->interval_ms);
		return false;
	}
	if (c->n == 0 || c->n > WINDOW_MAX) {
		snprintf(err, errlen, "windows.list: between 1 and %d windows", WINDOW_MAX);
		return false;
	}
	for (size_t i = 0; i < c->n; i++) {
		int64_t l = c->len_ms[i];
		if (i > 0 && l <= c->len_ms[i - 1]) {
			snprintf(err, errlen, "windows.list: windows must be strictly ascending");
			return false;
		}
		if (l <= MINUTE_MS && l % c->interval_ms != 0) {
			snprintf(err, errlen,
			         "windows.list: a window of a minute or less must be a multiple of "
			         "server.flush_interval (%lld ms)",
			         (long long)l);
			return false;
		}
		if (l > MINUTE_MS && (l % MINUTE_MS != 0 || l > HOUR_MINUTES * MINUTE_MS)) {
			snprintf(
			    err, errlen,
			    "windows.list: a window over a minute must be whole minutes, at most "
			    "1h (%lld ms)",
			    (long long)l);
			return false;
		}
	}
	for (size_t i = 0; i < c->nq; i++) {
		if (!(c->quantiles[i] > 0 && c->quantiles[i] < 1)) {
			snprintf(err, errlen, "windows.quantiles: %g is not in (0, 1)",
			         c->quantiles[i]);
			return false;
		}
	}
	return true;
}

static size_t short_len(const struct window *w, size_t i)
{
	return (size_t)(w->c->len_ms[i] / w->c->interval_ms);
}

static bool is_short(const struct window *w, size_t i)
{
	return w->c->len_ms[i] <= MINUTE_MS;
}

static size_t minutes_of(const struct window *w, size_t i)
{
	return (size_t)(w->c->len_ms[i] / MINUTE_MS);
}

static void moments_clear(struct moments *m)
{
	*m = (struct moments){0, 0, 0, 0, INFINITY, -INFINITY, 0};
}

/* Buckets a store needs to cover 18 decades (1e-9 .. 1e9 ms, say) without
 * collapsing at the configured accuracy: log(1e18) / log(gamma). */
size_t window_max_buckets(double accuracy)
{
	double gamma = (1 + accuracy) / (1 - accuracy);
	return (size_t)ceil(log(1e18) / log(gamma));
}

/* Freezes s into b at its exact size: a window keeps 66 of these per timer
 * series, so buf's power-of-two growth would waste a tenth of the memory. */
static void freeze_exact(const struct sketch *s, struct buf *b)
{
	buf_reset(b);
	sketch_freeze(s, b);
	if (b->cap > b->len + 1) {
		b->p = xrealloc(b->p, b->len + 1);
		b->cap = b->len + 1;
	}
}

/* Chan et al.'s pairwise update: a += b. */
static void moments_merge(struct moments *a, const struct moments *b)
{
	if (b->n == 0) {
		a->count += b->count;
		return;
	}
	double n = a->n + b->n;
	double delta = b->mean - a->mean;
	a->mean += delta * b->n / n;
	a->m2 += b->m2 + delta * delta * a->n * b->n / n;
	a->n = n;
	a->sum += b->sum;
	a->count += b->count;
	if (b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
}

struct window *window_new(const struct window_conf *c, enum metric_type type)
{
	struct window *w = xcalloc(1, sizeof(*w));
	w->c = c;
	w->type = metric_is_timer(type) ? METRIC_TIMER : type;
	w->ipm = (size_t)(MINUTE_MS / c->interval_ms);
	switch (w->type) {
	case METRIC_COUNTER:
		w->c_iv = xcalloc(w->ipm, sizeof(double));
		w->c_mn = xcalloc(HOUR_MINUTES, sizeof(double));
		break;
	case METRIC_GAUGE:
		w->g_iv = xcalloc(w->ipm, sizeof(struct gslice));
		w->g_mn = xcalloc(HOUR_MINUTES, sizeof(struct gslice));
		w->g_cur = (struct gslice){0, INFINITY, -INFINITY, 0, 0};
		break;
	case METRIC_SET:
		w->s_iv = xcalloc(w->ipm, sizeof(struct hll *));
		w->s_mn = xcalloc(HOUR_MINUTES, sizeof(struct hll *));
		w->s_cur = hll_new();
		break;
	default:
		w->t_iv = xcalloc(w->ipm, sizeof(struct moments));
		w->t_mn = xcalloc(HOUR_MINUTES, sizeof(struct moments));
		w->f_iv = xcalloc(w->ipm, sizeof(struct buf));
		w->f_mn = xcalloc(HOUR_MINUTES, sizeof(struct buf));
		moments_clear(&w->t_cur);
		for (size_t i = 0; i < c->n; i++)
			w->sk_win[i] = sketch_new(c->accuracy, window_max_buckets(c->accuracy));
		break;
	}
	return w;
}

void window_free(struct window *w)
{
	if (!w)
		return;
	free(w->c_iv);
	free(w->c_mn);
	free(w->g_iv);
	free(w->g_mn);
	if (w->s_iv) {
		for (size_t i = 0; i < w->ipm; i++)
			hll_free(w->s_iv[i]);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			hll_free(w->s_mn[i]);
		free(w->s_iv);
		free(w->s_mn);
		hll_free(w->s_cur);
	}
	if (w->f_iv) {
		for (size_t i = 0; i < w->ipm; i++)
			buf_free(&w->f_iv[i]);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			buf_free(&w->f_mn[i]);
		free(w->f_iv);
		free(w->f_mn);
		for (size_t i = 0; i < w->c->n; i++)
			sketch_free(w->sk_win[i]);
	}
	free(w->t_iv);
	free(w->t_mn);
	free(w);
}

/* Position of interval t (0-based push number) and minute m in their rings. */
static size_t iv_slot(const struct window *w, uint64_t t)
{
	return (size_t)(t % w->ipm);
}

static size_t mn_slot(uint64_t m)
{
	return (size_t)(m % HOUR_MINUTES);
}

/* After pushing interval t: does it complete a minute? */
static bool ends_minute(const struct window *w, uint64_t t)
{
	return (t + 1) % w->ipm == 0;
}

static void end_push(struct window *w)
{
	w->pushes++;
	w->idle = w->touched ? 0 : w->idle + 1;
	w->touched = false;
}

void window_touch(struct window *w)
{
	w->touched = true;
}

void window_push_counter(struct window *w, double count)
{
	uint64_t t = w->pushes;
	w->c_iv[iv_slot(w, t)] = count;
	w->c_cur += count;
	if (ends_minute(w, t)) {
		w->c_mn[mn_slot(t / w->ipm)] = w->c_cur;
		w->c_cur = 0;
	}
	end_push(w);
}

void window_push_gauge(struct window *w, bool has_value, double value)
{
	uint64_t t = w->pushes;
	struct gslice s = {0, INFINITY, -INFINITY, 0, 0};
	if (has_value) {
		w->g_last = value;
		w->g_has = true;
	}
	if (w->g_has) /* a gauge keeps its value across intervals, as in statsd */
		s = (struct gslice){w->g_last, w->g_last, w->g_last, w->g_last, 1};
	w->g_iv[iv_slot(w, t)] = s;
	if (s.n > 0) {
		w->g_cur.last = s.last;
		w->g_cur.min = fmin(w->g_cur.min, s.min);
		w->g_cur.max = fmax(w->g_cur.max, s.max);
		w->g_cur.sum += s.sum;
		w->g_cur.n += 1;
	}
	if (ends_minute(w, t)) {
		w->g_mn[mn_slot(t / w->ipm)] = w->g_cur;
		w->g_cur = (struct gslice){0, INFINITY, -INFINITY, 0, 0};
	}
	end_push(w);
}

void window_push_set(struct window *w, const struct hll *members)
{
	uint64_t t = w->pushes;
	size_t slot = iv_slot(w, t);
	if (!w->s_iv[slot])
		w->s_iv[slot] = hll_new();
	hll_clear(w->s_iv[slot]);
	if (members) {
		hll_merge(w->s_iv[slot], members);
		hll_merge(w->s_cur, members);
	}
	if (ends_minute(w, t)) {
		size_t ms = mn_slot(t / w->ipm);
		hll_free(w->s_mn[ms]);
		w->s_mn[ms] = w->s_cur;
		w->s_cur = hll_new();
	}
	end_push(w);
}

void window_push_timer(struct window *w, const double *values, size_t n, double count)
{
	uint64_t t = w->pushes;
	size_t slot = iv_slot(w, t);
	struct moments m;
	struct sketch *sk = sketch_new(w->c->accuracy, window_max_buckets(w->c->accuracy));

	moments_clear(&m);
	for (size_t i = 0; i < n; i++) {
		double v = values[i], d = v - m.mean;
		m.n += 1;
		m.mean += d / m.n;
		m.m2 += d * (v - m.mean);
		m.sum += v;
		m.min = fmin(m.min, v);
		m.max = fmax(m.max, v);
		sketch_add(sk, v);
	}
	m.count = count;

	/* Short windows: drop the interval slice that falls out, then add. */
	for (size_t i = 0; i < w->c->n; i++) {
		if (is_short(w, i) && t >= short_len(w, i)) {
			const struct buf *old = &w->f_iv[iv_slot(w, t - short_len(w, i))];
			sketch_subtract_frozen(w->sk_win[i], old->p, old->len);
		}
		sketch_merge(w->sk_win[i], sk);
	}
	w->t_iv[slot] = m;
	freeze_exact(sk, &w->f_iv[slot]);
	moments_merge(&w->t_cur, &m);

	if (ends_minute(w, t)) {
		uint64_t minute = t / w->ipm;
		size_t ms = mn_slot(minute);
		w->t_mn[ms] = w->t_cur;
		/* The minute's sketch is the sum of its interval slices, all still
		 * in the interval ring (no live sketch per minute is kept). */
		sketch_clear(sk);
		for (size_t j = 0; j < w->ipm; j++)
			sketch_merge_frozen(sk, w->f_iv[j].p, w->f_iv[j].len);
		freeze_exact(sk, &w->f_mn[ms]);
		moments_clear(&w->t_cur);
		/* Long windows of m minutes keep the current minute plus m-1
		 * complete ones: the minute that is m-1 old now falls out. */
		for (size_t i = 0; i < w->c->n; i++) {
			size_t mw = minutes_of(w, i);
			if (is_short(w, i) || minute + 1 < mw)
				continue;
			const struct buf *old = &w->f_mn[mn_slot(minute + 1 - mw)];
			sketch_subtract_frozen(w->sk_win[i], old->p, old->len);
		}
	}
	sketch_free(sk);
	end_push(w);
}

/* Calls fn for every slice of window i: interval slots (short windows) or
 * minute slots plus the current minute (long ones). */
struct span {
	size_t iv[64];
	size_t niv;
	size_t mn[HOUR_MINUTES];
	size_t nmn;
	bool cur;
	double covered_intervals;
};

static void window_span(const struct window *w, size_t i, struct span *sp)
{
	uint64_t t = w->pushes;
	sp->niv = sp->nmn = 0;
	sp->cur = false;
	if (is_short(w, i)) {
		size_t k = short_len(w, i);
		for (size_t j = 1; j <= k && j <= t; j++)
			sp->iv[sp->niv++] = iv_slot(w, t - j);
		sp->covered_intervals = (double)sp->niv;
		return;
	}
	size_t m = minutes_of(w, i);
	uint64_t done = t / w->ipm; /* complete minutes */
	sp->cur = true;
	for (size_t j = 1; j < m && j <= done; j++)
		sp->mn[sp->nmn++] = mn_slot(done - j);
	sp->covered_intervals = (double)(sp->nmn * w->ipm + t % w->ipm);
}

void window_stats(const struct window *w, size_t i, struct window_stats *out)
{
	struct span sp;
	memset(out, 0, sizeof(*out));
	window_span(w, i, &sp);
	out->covered_s = sp.covered_intervals * (double)w->c->interval_ms / 1000.0;
	for (size_t q = 0; q < WINDOW_QMAX; q++)
		out->q[q] = NAN;
	out->min = out->max = out->mean = out->stddev = out->last = NAN;

	switch (w->type) {
	case METRIC_COUNTER: {
		double c = sp.cur ? w->c_cur : 0;
		for (size_t j = 0; j < sp.niv; j++)
			c += w->c_iv[sp.iv[j]];
		for (size_t j = 0; j < sp.nmn; j++)
			c += w->c_mn[sp.mn[j]];
		out->count = c;
		out->has_data = out->covered_s > 0;
		break;
	}
	case METRIC_GAUGE: {
		struct gslice g = {0, INFINITY, -INFINITY, 0, 0};
		const struct gslice *parts[64 + HOUR_MINUTES + 1];
		size_t np = 0;
		for (size_t j = 0; j < sp.niv; j++)
			parts[np++] = &w->g_iv[sp.iv[j]];
		for (size_t j = 0; j < sp.nmn; j++)
			parts[np++] = &w->g_mn[sp.mn[j]];
		if (sp.cur)
			parts[np++] = &w->g_cur;
		for (size_t j = 0; j < np; j++) {
			if (parts[j]->n == 0)
				continue;
			g.min = fmin(g.min, parts[j]->min);
			g.max = fmax(g.max, parts[j]->max);
			g.sum += parts[j]->sum;
			g.n += parts[j]->n;
		}
		if (g.n > 0) {
			out->has_data = true;
			out->last = w->g_last;
			out->min = g.min;
			out->max = g.max;
			out->mean = g.sum / g.n;
		}
		break;
	}
	case METRIC_SET: {
		struct hll *u = hll_new();
		for (size_t j = 0; j < sp.niv; j++)
			if (w->s_iv[sp.iv[j]])
				hll_merge(u, w->s_iv[sp.iv[j]]);
		for (size_t j = 0; j < sp.nmn; j++)
			if (w->s_mn[sp.mn[j]])
				hll_merge(u, w->s_mn[sp.mn[j]]);
		if (sp.cur)
			hll_merge(u, w->s_cur);
		out->unique = hll_count(u);
		out->has_data = out->covered_s > 0;
		hll_free(u);
		break;
	}
	default: {
		struct moments m;
		moments_clear(&m);
		for (size_t j = 0; j < sp.niv; j++)
			moments_merge(&m, &w->t_iv[sp.iv[j]]);
		for (size_t j = 0; j < sp.nmn; j++)
			moments_merge(&m, &w->t_mn[sp.mn[j]]);
		if (sp.cur)
			moments_merge(&m, &w->t_cur);
		out->count = m.count;
		out->samples = sketch_count(w->sk_win[i]);
		out->has_data = m.n > 0;
		if (m.n > 0) {
			out->sum = m.sum;
			out->min = m.min;
			out->max = m.max;
			out->mean = m.mean;
			out->stddev = sqrt(m.m2 / m.n);
			for (size_t q = 0; q < w->c->nq; q++)
				out->q[q] = sketch_quantile(w->sk_win[i], w->c->quantiles[q]);
		}
		break;
	}
	}
	out->rate = out->covered_s > 0 ? out->count / out->covered_s : 0;
}

uint64_t window_idle_intervals(const struct window *w)
{
	return w->idle;
}

size_t window_memory(const struct window *w)
{
	size_t n = sizeof(*w);
	switch (w->type) {
	case METRIC_COUNTER:
		return n + (w->ipm + HOUR_MINUTES) * sizeof(double);
	case METRIC_GAUGE:
		return n + (w->ipm + HOUR_MINUTES) * sizeof(struct gslice);
	case METRIC_SET:
		n += (w->ipm + HOUR_MINUTES) * sizeof(struct hll *) + hll_memory(w->s_cur);
		for (size_t i = 0; i < w->ipm; i++)
			n += w->s_iv[i] ? hll_memory(w->s_iv[i]) : 0;
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			n += w->s_mn[i] ? hll_memory(w->s_mn[i]) : 0;
		return n;
	default:
		n += (w->ipm + HOUR_MINUTES) * (sizeof(struct moments) + sizeof(struct buf));
		for (size_t i = 0; i < w->ipm; i++)
			n += w->f_iv[i].cap;
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			n += w->f_mn[i].cap;
		for (size_t i = 0; i < w->c->n; i++)
			n += sketch_memory(w->sk_win[i]);
		return n;
	}
}
