/* window: sliding-window state of one series — interval and minute slices,
 * timer windows as running sketch sums (add the newest slice, subtract the
 * one that fell out), moments recombined at read time (Chan), sets
 * re-merged, gauge minutes XOR-compressed; window_push_idle fast-forwards.
 * No I/O. Called by registry (pushes, stats), state (catch-up) and the
 * formatters (stats); the layout is window_impl.h's. */
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

/* Bytes of the slice arrays after the struct, for a type. */
static size_t tail_size(enum metric_type type, size_t ipm, size_t nm, size_t nlong)
{
	switch (type) {
	case METRIC_COUNTER:
		return (ipm + nm) * sizeof(double);
	case METRIC_GAUGE:
		return (ipm + 3 * nlong) * sizeof(double);
	case METRIC_SET:
		return (ipm + nm) * sizeof(struct hll *);
	default:
		return (ipm + nm) * (sizeof(struct moments) + sizeof(uint8_t *) + sizeof(uint32_t));
	}
}

struct window *window_new(const struct window_conf *c, enum metric_type type)
{
	const size_t ipm = (size_t)(MINUTE_MS / c->interval_ms);
	size_t nm = 0, nshort = 0;
	enum metric_type t = metric_is_timer(type) ? METRIC_TIMER : type;
	for (size_t i = 0; i < c->n; i++) {
		if (c->len_ms[i] <= MINUTE_MS)
			nshort++;
		else if ((size_t)(c->len_ms[i] / MINUTE_MS) - 1 > nm)
			nm = (size_t)(c->len_ms[i] / MINUTE_MS) - 1;
	}
	struct window *w = xcalloc(1, sizeof(*w) + tail_size(t, ipm, nm, c->n - nshort));
	w->c = c;
	w->type = (uint8_t)t;
	w->ipm = (uint32_t)ipm;
	w->nm = (uint32_t)nm;
	w->nshort = (uint8_t)nshort;
	if (t == METRIC_GAUGE) {
		w->u.g.first = GAUGE_NONE;
		w->u.g.min = INFINITY;
		w->u.g.max = -INFINITY;
		window_gauge_refresh(w);
	} else if (t == METRIC_TIMER) {
		for (size_t i = 0; i < ipm + nm; i++)
			moments_clear(&window_mv(w)[i]);
		for (size_t i = 0; i < c->n; i++)
			w->u.t.win[i] = sketch_new(c->accuracy, window_max_buckets(c->accuracy));
	}
	return w;
}

void window_free(struct window *w)
{
	if (!w)
		return;
	const size_t ns = (size_t)w->ipm + w->nm;
	switch (w->type) {
	case METRIC_GAUGE:
		free(w->u.g.rec);
		break;
	case METRIC_SET:
		for (size_t i = 0; i < ns; i++)
			hll_free(window_hv(w)[i]);
		break;
	case METRIC_TIMER:
		for (size_t i = 0; i < ns; i++)
			free(window_fp(w)[i]);
		for (size_t i = 0; i < w->c->n; i++)
			sketch_free(w->u.t.win[i]);
		break;
	default:
		break;
	}
	free(w);
}

/* Position of interval t (0-based push number) and minute m in their rings
 * (the minute ring only when nm > 0). The intervals of a minute fill the
 * interval ring in order: slot s holds the minute's s-th interval. */
static size_t iv_slot(const struct window *w, uint64_t t)
{
	return (size_t)(t % w->ipm);
}

static size_t mn_slot(const struct window *w, uint64_t m)
{
	return (size_t)(m % w->nm);
}

/* After pushing interval t: does it complete a minute? */
static bool ends_minute(const struct window *w, uint64_t t)
{
	return (t + 1) % w->ipm == 0;
}

uint64_t window_minutes_kept(const struct window *w)
{
	uint64_t done = w->pushes / w->ipm;
	return done < w->nm ? done : w->nm;
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

/* ---- counters ----------------------------------------------------------- */

static void counter_minute_end(struct window *w, uint64_t minute)
{
	const double *iv = window_dv(w);
	double sum = 0;
	if (w->nm == 0)
		return;
	for (size_t s = 0; s < w->ipm; s++)
		sum += iv[s];
	window_dv(w)[w->ipm + mn_slot(w, minute)] = sum;
}

void window_push_counter(struct window *w, double count)
{
	uint64_t t = w->pushes;
	window_dv(w)[iv_slot(w, t)] = count;
	if (ends_minute(w, t))
		counter_minute_end(w, t / w->ipm);
	end_push(w);
}

/* ---- gauges --------------------------------------------------------------
 * A gauge keeps its value across intervals (as in statsd), so interval t
 * has a value iff t >= first, and the number of values of any slice follows
 * from first. The interval ring holds each interval's value; the newest
 * complete minute keeps min, max and sum as doubles; older minutes are
 * records in a byte area, oldest first, each the XOR of its three doubles
 * with the next newer minute's: per value a header byte (0xFF: equal; else
 * L << 4 | T, the zero bytes at the top and bottom of the XOR) and the 8 - L
 * - T bytes between, then one byte with the record's length so the area can
 * be read backwards from the newest. Exact (bit for bit); a gauge that holds
 * still or moves in small steps takes a few bytes a minute, one whose every
 * value is a random double up to 28. */

static uint64_t dbits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

size_t window_grec_len(const uint8_t *p, size_t avail)
{
	size_t len = 4;
	if (avail < 4)
		return 0;
	for (int f = 0; f < 3; f++) {
		unsigned h = p[f], l = h >> 4, t = h & 15;
		if (h == 0xFF)
			continue;
		if (l + t > 7)
			return 0;
		len += 8 - l - t;
	}
	return len <= avail && p[len - 1] == len ? len : 0;
}

/* The values of the record at p (valid) from those of the newer minute. */
static void grec_decode(const uint8_t *p, const double newer[3], double old[3])
{
	const uint8_t *q = p + 3;
	for (int f = 0; f < 3; f++) {
		unsigned h = p[f], l = h >> 4, t = h & 15;
		uint64_t x = 0;
		if (h != 0xFF)
			for (unsigned b = t; b < 8 - l; b++)
				x |= (uint64_t)*q++ << (8 * b);
		old[f] = bitsd(dbits(newer[f]) ^ x);
	}
}

/* Appends the record of minute `old` relative to `newer` (min, max, sum). */
static void grec_append(struct window *w, const double old[3], const double newer[3])
{
	uint8_t r[GREC_MAX];
	size_t n = 3;
	for (int f = 0; f < 3; f++) {
		uint64_t x = dbits(old[f]) ^ dbits(newer[f]);
		if (x == 0) {
			r[f] = 0xFF;
			continue;
		}
		unsigned l = (unsigned)__builtin_clzll(x) / 8, t = (unsigned)__builtin_ctzll(x) / 8;
		r[f] = (uint8_t)(l << 4 | t);
		for (unsigned b = t; b < 8 - l; b++)
			r[n++] = (uint8_t)(x >> (8 * b));
	}
	r[n] = (uint8_t)(n + 1);
	n++;
	if (w->u.g.head + w->u.g.len + n > w->u.g.cap) {
		if (w->u.g.len)
			memmove(w->u.g.rec, w->u.g.rec + w->u.g.head, w->u.g.len);
		w->u.g.head = 0;
		if (w->u.g.len + n > w->u.g.cap) { /* grow a little: it fills once */
			w->u.g.cap = (uint32_t)(w->u.g.len + n + GREC_MAX + (w->u.g.len + n) / 16);
			w->u.g.rec = xrealloc(w->u.g.rec, w->u.g.cap);
		}
	}
	memcpy(w->u.g.rec + w->u.g.head + w->u.g.len, r, n);
	w->u.g.len += (uint32_t)n;
}

/* Drops the oldest record and gives back memory the area no longer needs. */
static void grec_drop(struct window *w)
{
	size_t n = window_grec_len(w->u.g.rec + w->u.g.head, w->u.g.len);
	w->u.g.head += (uint32_t)n;
	w->u.g.len -= (uint32_t)n;
	if (w->u.g.cap > 2 * (w->u.g.len + GREC_MAX) + 64 && w->u.g.len) {
		memmove(w->u.g.rec, w->u.g.rec + w->u.g.head, w->u.g.len);
		w->u.g.head = 0;
		w->u.g.cap = w->u.g.len + GREC_MAX;
		w->u.g.rec = xrealloc(w->u.g.rec, w->u.g.cap);
	}
}

/* How many of the pushes [from, to) have a value. */
static uint64_t gauge_count(const struct window *w, uint64_t from, uint64_t to)
{
	if (from < w->u.g.first)
		from = w->u.g.first;
	return to > from ? to - from : 0;
}

/* Folds the intervals [from, to) into v (min, max, sum); their count. */
static uint64_t gauge_fold_iv(const struct window *w, uint64_t from, uint64_t to, double v[3])
{
	const double *iv = window_dv(w);
	if (from < w->u.g.first)
		from = w->u.g.first;
	for (uint64_t t = from; t < to; t++) {
		double x = iv[iv_slot(w, t)];
		v[0] = fmin(v[0], x);
		v[1] = fmax(v[1], x);
		v[2] += x;
	}
	return to > from ? to - from : 0;
}

/* One pass from the newest of the `kept` minutes back: window i (of m
 * minutes) holds the last min(m - 1, kept) of them. */
static void gauge_refresh(struct window *w, uint64_t kept)
{
	double acc[3] = {INFINITY, -INFINITY, 0}, cur[3] = {w->u.g.min, w->u.g.max, w->u.g.sum};
	size_t end = w->u.g.head + w->u.g.len, i = w->nshort;
	for (uint64_t j = 1; j <= kept && i < w->c->n; j++) {
		acc[0] = fmin(acc[0], cur[0]);
		acc[1] = fmax(acc[1], cur[1]);
		acc[2] += cur[2];
		for (; i < w->c->n && minutes_of(w, i) - 1 == j; i++)
			memcpy(window_gagg(w, i), acc, sizeof(acc));
		if (j < kept && i < w->c->n) {
			const uint8_t *r = w->u.g.rec + end - w->u.g.rec[end - 1];
			grec_decode(r, cur, cur);
			end -= w->u.g.rec[end - 1];
		}
	}
	for (; i < w->c->n; i++) /* windows longer than what is kept */
		memcpy(window_gagg(w, i), acc, sizeof(acc));
}

void window_gauge_refresh(struct window *w)
{
	gauge_refresh(w, window_minutes_kept(w));
}

/* Ends a gauge minute; `refresh`: bring the window aggregates up to date
 * (push_idle does that once at its end). */
static void gauge_minute_end(struct window *w, uint64_t minute, bool refresh)
{
	double nw[3] = {INFINITY, -INFINITY, 0};
	if (w->nm == 0)
		return;
	gauge_fold_iv(w, minute * w->ipm, (minute + 1) * w->ipm, nw);
	uint64_t kept = minute < w->nm ? minute : w->nm; /* complete minutes before */
	if (kept >= 1 && w->nm > 1) {
		const double old[3] = {w->u.g.min, w->u.g.max, w->u.g.sum};
		grec_append(w, old, nw);
		if (kept == w->nm)
			grec_drop(w);
	}
	w->u.g.min = nw[0];
	w->u.g.max = nw[1];
	w->u.g.sum = nw[2];
	if (refresh)
		gauge_refresh(w, minute + 1 < w->nm ? minute + 1 : w->nm);
}

void window_push_gauge(struct window *w, bool has_value, double value)
{
	uint64_t t = w->pushes;
	double *iv = window_dv(w);
	if (has_value) {
		if (w->u.g.first == GAUGE_NONE)
			w->u.g.first = t;
		iv[iv_slot(w, t)] = value;
	} else if (w->u.g.first != GAUGE_NONE) {
		iv[iv_slot(w, t)] = iv[iv_slot(w, t - 1)];
	}
	if (ends_minute(w, t))
		gauge_minute_end(w, t / w->ipm, true);
	end_push(w);
}

/* ---- sets --------------------------------------------------------------- */

/* The minute's slice is the union of its interval slices. */
static void set_minute_end(struct window *w, uint64_t minute)
{
	struct hll **h = window_hv(w), *u = NULL;
	if (w->nm == 0)
		return;
	for (size_t s = 0; s < w->ipm; s++) {
		if (!h[s])
			continue;
		if (!u)
			u = hll_new();
		hll_merge(u, h[s]);
	}
	struct hll **slot = &h[w->ipm + mn_slot(w, minute)];
	hll_free(*slot);
	*slot = u;
}

void window_push_set(struct window *w, const struct hll *members)
{
	uint64_t t = w->pushes;
	struct hll **slot = &window_hv(w)[iv_slot(w, t)];
	if (members) {
		if (*slot)
			hll_clear(*slot);
		else
			*slot = hll_new();
		hll_merge(*slot, members);
	} else {
		hll_free(*slot);
		*slot = NULL;
	}
	if (ends_minute(w, t))
		set_minute_end(w, t / w->ipm);
	end_push(w);
}

/* ---- timers ------------------------------------------------------------- */

/* Freezes s into a block of exactly its size (*len bytes): a timer keeps 65
 * of these, so slack would add up. NULL for an empty sketch. */
static uint8_t *freeze_exact(const struct sketch *s, uint32_t *len)
{
	struct buf b = BUF_INIT;
	*len = 0;
	if (sketch_count(s) == 0)
		return NULL;
	sketch_freeze(s, &b);
	*len = (uint32_t)b.len;
	return xrealloc(b.p, b.len);
}

/* Ends a timer minute; windows whose bit is set in `cleared` were emptied
 * already (push_idle) and have nothing to subtract. */
static void timer_minute_end(struct window *w, uint64_t minute, unsigned cleared)
{
	const struct moments *iv = window_mv(w);
	uint8_t **fp = window_fp(w);
	uint32_t *fl = window_fl(w);
	if (w->nm == 0)
		return;
	size_t ms = w->ipm + mn_slot(w, minute);
	/* Long windows of m minutes keep the current minute plus m-1 complete
	 * ones: the minute that is m-1 old now falls out (it may sit in the
	 * slot this minute is about to take, so it goes first). */
	for (size_t i = 0; i < w->c->n; i++) {
		size_t mw = minutes_of(w, i);
		if (is_short(w, i) || minute + 1 < mw || (cleared >> i & 1))
			continue;
		size_t old = w->ipm + mn_slot(w, minute + 1 - mw);
		if (fp[old])
			sketch_subtract_frozen_trusted(w->u.t.win[i], fp[old], fl[old]);
	}
	struct moments m;
	moments_clear(&m);
	struct sketch *sk = NULL;
	for (size_t s = 0; s < w->ipm; s++) {
		moments_merge(&m, &iv[s]);
		if (!fp[s])
			continue;
		if (!sk)
			sk = sketch_new(w->c->accuracy, window_max_buckets(w->c->accuracy));
		sketch_merge_frozen_trusted(sk, fp[s], fl[s]);
	}
	window_mv(w)[ms] = m;
	free(fp[ms]);
	fp[ms] = NULL;
	fl[ms] = 0;
	if (sk)
		fp[ms] = freeze_exact(sk, &fl[ms]);
	sketch_free(sk);
}

void window_push_timer(struct window *w, const double *values, size_t n, double count)
{
	uint64_t t = w->pushes;
	size_t slot = iv_slot(w, t);
	uint8_t **fp = window_fp(w);
	uint32_t *fl = window_fl(w);
	struct sketch *sk = NULL;
	struct moments m;

	moments_clear(&m);
	if (n > 0)
		sk = sketch_new(w->c->accuracy, window_max_buckets(w->c->accuracy));
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
			size_t old = iv_slot(w, t - short_len(w, i));
			if (fp[old])
				sketch_subtract_frozen_trusted(w->u.t.win[i], fp[old], fl[old]);
		}
		if (sk)
			sketch_merge(w->u.t.win[i], sk);
	}
	window_mv(w)[slot] = m;
	free(fp[slot]);
	fp[slot] = sk ? freeze_exact(sk, &fl[slot]) : NULL;
	if (!sk)
		fl[slot] = 0;
	sketch_free(sk);
	if (ends_minute(w, t))
		timer_minute_end(w, t / w->ipm, 0);
	end_push(w);
}

/* Windows are nested (ascending lengths): one scratch sum grows from the
 * newest slice back and each window, shortest first, takes a copy of it
 * when it holds that window's slices — every slice is merged once. */
int window_timer_rebuild(struct window *w)
{
	const uint64_t t = w->pushes, done = t / w->ipm;
	uint8_t **fp = window_fp(w);
	uint32_t *fl = window_fl(w);
	struct sketch *acc = sketch_new(w->c->accuracy, window_max_buckets(w->c->accuracy));
	uint64_t in = 0; /* intervals, then complete minutes, in acc */
	int rc = 0;
	for (size_t i = 0; i < w->c->n; i++) {
		sketch_clear(w->u.t.win[i]);
		if (i == w->nshort) { /* the long ones: the current minute first */
			sketch_clear(acc);
			for (size_t k = 0; k < t % w->ipm; k++)
				if (fp[k] && sketch_merge_frozen_trusted(acc, fp[k], fl[k]) < 0)
					rc = -1;
			in = 0;
		}
		for (; is_short(w, i) && in < short_len(w, i) && in < t; in++) {
			size_t k = iv_slot(w, t - 1 - in);
			if (fp[k] && sketch_merge_frozen_trusted(acc, fp[k], fl[k]) < 0)
				rc = -1;
		}
		for (; !is_short(w, i) && in + 1 < minutes_of(w, i) && in < done; in++) {
			size_t k = w->ipm + mn_slot(w, done - 1 - in);
			if (fp[k] && sketch_merge_frozen_trusted(acc, fp[k], fl[k]) < 0)
				rc = -1;
		}
		sketch_merge(w->u.t.win[i], acc);
	}
	sketch_free(acc);
	return rc;
}

/* ---- idle fast-forward -------------------------------------------------- */

void window_push_idle_one(struct window *w)
{
	switch (w->type) {
	case METRIC_COUNTER:
		window_push_counter(w, 0);
		break;
	case METRIC_GAUGE:
		window_push_gauge(w, false, 0);
		break;
	case METRIC_SET:
		window_push_set(w, NULL);
		break;
	default:
		window_push_timer(w, NULL, 0, 0);
		break;
	}
}

/* ipm idle pushes from a minute boundary in O(ipm + buckets): every short
 * window ends up holding only idle intervals. */
static void push_idle_minute(struct window *w, unsigned cleared)
{
	const uint64_t minute = w->pushes / w->ipm;
	switch (w->type) {
	case METRIC_COUNTER:
		memset(window_dv(w), 0, w->ipm * sizeof(double));
		if (w->nm)
			window_dv(w)[w->ipm + mn_slot(w, minute)] = 0;
		break;
	case METRIC_GAUGE:
		if (w->u.g.first != GAUGE_NONE) {
			double v = window_dv(w)[iv_slot(w, w->pushes - 1)];
			for (size_t s = 0; s < w->ipm; s++)
				window_dv(w)[s] = v;
		}
		gauge_minute_end(w, minute, false);
		break;
	case METRIC_SET:
		for (size_t s = 0; s < w->ipm; s++) {
			hll_free(window_hv(w)[s]);
			window_hv(w)[s] = NULL;
		}
		set_minute_end(w, minute);
		break;
	default:
		for (size_t s = 0; s < w->ipm; s++) {
			moments_clear(&window_mv(w)[s]);
			free(window_fp(w)[s]);
			window_fp(w)[s] = NULL;
			window_fl(w)[s] = 0;
		}
		for (size_t i = 0; i < w->c->n; i++)
			if (is_short(w, i))
				sketch_clear(w->u.t.win[i]);
		timer_minute_end(w, minute, cleared);
		break;
	}
	w->pushes += w->ipm;
	w->idle = w->touched ? w->ipm - 1 : w->idle + w->ipm;
	w->touched = false;
}

void window_push_idle(struct window *w, uint64_t n)
{
	while (n > 0 && w->pushes % w->ipm != 0) {
		window_push_idle_one(w);
		n--;
	}
	/* After nm + 1 idle minutes every slice is idle and every running sum
	 * empty; more idle minutes only turn the rings, whose slots are then all
	 * alike, so they are counted, not done. */
	uint64_t minutes = n / w->ipm, steps = minutes < (uint64_t)w->nm + 1 ? minutes : w->nm + 1;
	/* A long timer window of m minutes holds only idle ones after m - 1
	 * idle minutes: it is emptied now instead of one subtraction a minute
	 * (what the subtractions would leave, exactly). */
	unsigned cleared = 0;
	for (size_t i = 0; w->type == METRIC_TIMER && i < w->c->n; i++) {
		if (is_short(w, i) || minutes + 1 < minutes_of(w, i))
			continue;
		sketch_clear(w->u.t.win[i]);
		cleared |= 1u << i;
	}
	for (uint64_t i = 0; i < steps; i++)
		push_idle_minute(w, cleared);
	if (steps > 0 && w->type == METRIC_GAUGE)
		window_gauge_refresh(w);
	uint64_t skip = (minutes - steps) * w->ipm;
	w->pushes += skip;
	w->idle += skip;
	for (n %= w->ipm; n > 0; n--)
		window_push_idle_one(w);
}

/* ---- reading ------------------------------------------------------------ */

/* The slices of window i after t pushes: the interval pushes [from, t) for
 * a short window; for a long one the current minute's pushes [from, t)
 * plus the complete minutes done - nmn .. done - 1. */
struct span {
	uint64_t from, t, done;
	uint64_t nmn;
	int long_i; /* the window, when over a minute; else -1 */
	double covered_intervals;
};

static void window_span(const struct window *w, size_t i, struct span *sp)
{
	uint64_t t = w->pushes;
	sp->t = t;
	sp->done = t / w->ipm;
	if (is_short(w, i)) {
		uint64_t k = short_len(w, i);
		sp->from = t > k ? t - k : 0;
		sp->nmn = 0;
		sp->long_i = -1;
	} else {
		uint64_t m = minutes_of(w, i) - 1;
		sp->from = sp->done * w->ipm;
		sp->nmn = sp->done < m ? sp->done : m;
		sp->long_i = (int)i;
	}
	sp->covered_intervals = (double)(sp->nmn * w->ipm + (t - sp->from));
}

static void stats_counter(const struct window *w, const struct span *sp, struct window_stats *out)
{
	const double *d = window_dv(w);
	double c = 0;
	for (uint64_t t = sp->from; t < sp->t; t++)
		c += d[iv_slot(w, t)];
	for (uint64_t j = 1; j <= sp->nmn; j++)
		c += d[w->ipm + mn_slot(w, sp->done - j)];
	out->count = c;
	out->has_data = out->covered_s > 0;
}

static void stats_gauge(const struct window *w, const struct span *sp, struct window_stats *out)
{
	double v[3] = {INFINITY, -INFINITY, 0};
	if (sp->long_i >= 0 && sp->nmn > 0) {
		memcpy(v, window_gagg(w, (size_t)sp->long_i), sizeof(v));
	}
	uint64_t n = gauge_count(w, (sp->done - sp->nmn) * w->ipm, sp->done * w->ipm);
	n += gauge_fold_iv(w, sp->from, sp->t, v);
	if (n > 0) {
		out->has_data = true;
		out->last = window_dv(w)[iv_slot(w, w->pushes - 1)];
		out->min = v[0];
		out->max = v[1];
		out->mean = v[2] / (double)n;
	}
}

static void stats_set(const struct window *w, const struct span *sp, struct window_stats *out)
{
	struct hll *u = hll_new();
	struct hll *const *h = window_hv(w);
	for (uint64_t t = sp->from; t < sp->t; t++)
		if (h[iv_slot(w, t)])
			hll_merge(u, h[iv_slot(w, t)]);
	for (uint64_t j = 1; j <= sp->nmn; j++)
		if (h[w->ipm + mn_slot(w, sp->done - j)])
			hll_merge(u, h[w->ipm + mn_slot(w, sp->done - j)]);
	out->unique = hll_count(u);
	out->has_data = out->covered_s > 0;
	hll_free(u);
}

static void stats_timer(const struct window *w, size_t i, const struct span *sp,
                        struct window_stats *out)
{
	const struct moments *mv = window_mv(w);
	struct moments m;
	moments_clear(&m);
	for (uint64_t t = sp->from; t < sp->t; t++)
		moments_merge(&m, &mv[iv_slot(w, t)]);
	for (uint64_t j = 1; j <= sp->nmn; j++)
		moments_merge(&m, &mv[w->ipm + mn_slot(w, sp->done - j)]);
	out->count = m.count;
	out->samples = sketch_count(w->u.t.win[i]);
	out->has_data = m.n > 0;
	if (m.n > 0) {
		out->sum = m.sum;
		out->min = m.min;
		out->max = m.max;
		out->mean = m.mean;
		out->stddev = sqrt(m.m2 / m.n);
		for (size_t q = 0; q < w->c->nq; q++)
			out->q[q] = sketch_quantile(w->u.t.win[i], w->c->quantiles[q]);
	}
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
	case METRIC_COUNTER:
		stats_counter(w, &sp, out);
		break;
	case METRIC_GAUGE:
		stats_gauge(w, &sp, out);
		break;
	case METRIC_SET:
		stats_set(w, &sp, out);
		break;
	default:
		stats_timer(w, i, &sp, out);
		break;
	}
	out->rate = out->covered_s > 0 ? out->count / out->covered_s : 0;
}

uint64_t window_idle_intervals(const struct window *w)
{
	return w->idle;
}

size_t window_memory(const struct window *w)
{
	const size_t ns = (size_t)w->ipm + w->nm;
	size_t n =
	    sizeof(*w) + tail_size((enum metric_type)w->type, w->ipm, w->nm, w->c->n - w->nshort);
	switch (w->type) {
	case METRIC_GAUGE:
		n += w->u.g.cap;
		break;
	case METRIC_SET:
		for (size_t i = 0; i < ns; i++)
			n += window_hv(w)[i] ? hll_memory(window_hv(w)[i]) : 0;
		break;
	case METRIC_TIMER:
		for (size_t i = 0; i < ns; i++)
			n += window_fl(w)[i];
		for (size_t i = 0; i < w->c->n; i++)
			n += sketch_memory(w->u.t.win[i]);
		break;
	default:
		break;
	}
	return n;
}
