/* window_codec: a window's complete state as bytes for the state file
 * (window_encode) and back (window_decode, which validates every length and
 * refuses a mismatched type, interval or window list). It only reads and
 * writes struct window (window_impl.h); the sliding itself is window.c's.
 * Called by state.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hll.h"
#include "sketch.h"
#include "window.h"
#include "window_impl.h"
#include "xalloc.h"

/* ---- state file encoding ------------------------------------------------
 * Fixed-width little-endian integers, doubles as their IEEE-754 bits, and
 * variable parts (frozen sketches, HLLs) as u32 length + bytes. */

#define WIN_ENC_VERSION 2

/* Layout: u8 version, u8 type, u32 intervals per minute, u32 windows, u32
 * minute slices, u64 pushes, u64 idle, u8 touched, then per type
 *   counter: f64 interval slices, f64 minute slices
 *   gauge:   u64 first push with a value, f64 interval values, f64 min, max,
 *            sum of the newest minute, u32 length + the minute records
 *   set:     per slice u8 present (+ u32 length + hll_encode bytes)
 *   timer:   per slice 7 f64 moments, then per slice u32 length + frozen
 *            sketch (0: empty).
 * The timers' running window sketches are not stored: decode rebuilds them
 * from the slices, which also checks every slice applies. */

static void put_moments(struct buf *b, const struct moments *m)
{
	const double v[7] = {m->n, m->mean, m->m2, m->sum, m->min, m->max, m->count};
	for (size_t i = 0; i < 7; i++)
		buf_put_f64(b, v[i]);
}

void window_encode(const struct window *w, struct buf *out)
{
	const size_t ns = (size_t)w->ipm + w->nm;
	buf_putc(out, WIN_ENC_VERSION);
	buf_putc(out, (char)w->type);
	buf_put_u32(out, w->ipm);
	buf_put_u32(out, (uint32_t)w->c->n);
	buf_put_u32(out, w->nm);
	buf_put_u64(out, w->pushes);
	buf_put_u64(out, w->idle);
	buf_putc(out, w->touched ? 1 : 0);
	switch (w->type) {
	case METRIC_COUNTER:
		for (size_t i = 0; i < ns; i++)
			buf_put_f64(out, window_dv(w)[i]);
		break;
	case METRIC_GAUGE:
		buf_put_u64(out, w->u.g.first);
		for (size_t i = 0; i < w->ipm; i++)
			buf_put_f64(out, window_dv(w)[i]);
		buf_put_f64(out, w->u.g.min);
		buf_put_f64(out, w->u.g.max);
		buf_put_f64(out, w->u.g.sum);
		buf_put_u32(out, w->u.g.len);
		if (w->u.g.len)
			buf_append(out, w->u.g.rec + w->u.g.head, w->u.g.len);
		break;
	case METRIC_SET:
		for (size_t i = 0; i < ns; i++) {
			const struct hll *h = window_hv(w)[i];
			buf_putc(out, h ? 1 : 0);
			if (!h)
				continue;
			size_t at = out->len;
			buf_put_u32(out, 0); /* length, patched below */
			hll_encode(h, out);
			uint32_t n = (uint32_t)(out->len - at - 4);
			for (int k = 0; k < 4; k++)
				out->p[at + (size_t)k] = (char)(n >> (8 * k));
		}
		break;
	default:
		buf_reserve(out, ns * (7 * 8 + 4));
		for (size_t i = 0; i < ns; i++)
			put_moments(out, &window_mv(w)[i]);
		for (size_t i = 0; i < ns; i++) {
			buf_put_u32(out, window_fl(w)[i]);
			if (window_fl(w)[i])
				buf_append(out, window_fp(w)[i], window_fl(w)[i]);
		}
		break;
	}
}

/* A bounded reader over the encoded bytes: every get fails (and keeps
 * failing) once a read would pass the end. */
struct rd {
	const unsigned char *p;
	size_t len, pos;
	bool bad;
};

static bool get_raw(struct rd *r, size_t n, const unsigned char **out)
{
	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		return false;
	}
	*out = r->p + r->pos;
	r->pos += n;
	return true;
}

static uint64_t get_u64(struct rd *r)
{
	const unsigned char *x;
	uint64_t v = 0;
	if (!get_raw(r, 8, &x))
		return 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)x[i] << (8 * i);
	return v;
}

static uint32_t get_u32(struct rd *r)
{
	const unsigned char *x;
	uint32_t v = 0;
	if (!get_raw(r, 4, &x))
		return 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)x[i] << (8 * i);
	return v;
}

static unsigned get_u8(struct rd *r)
{
	const unsigned char *x;
	return get_raw(r, 1, &x) ? x[0] : 0;
}

static double get_f64(struct rd *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

static void get_moments(struct rd *r, struct moments *m)
{
	m->n = get_f64(r);
	m->mean = get_f64(r);
	m->m2 = get_f64(r);
	m->sum = get_f64(r);
	m->min = get_f64(r);
	m->max = get_f64(r);
	m->count = get_f64(r);
}

/* An optional HLL into *slot (empty before). */
static void get_hll(struct rd *r, struct hll **slot)
{
	unsigned present = get_u8(r);
	const unsigned char *x;
	if (r->bad || present > 1) {
		r->bad = true;
		return;
	}
	if (!present)
		return;
	uint32_t n = get_u32(r);
	if (!get_raw(r, n, &x))
		return;
	*slot = hll_decode(x, n);
	if (!*slot)
		r->bad = true;
}

/* The gauge's minute records: exactly one per kept minute but the newest,
 * each well formed. */
static void get_grecs(struct rd *r, struct window *w)
{
	const unsigned char *x;
	uint32_t n = get_u32(r);
	uint64_t kept = window_minutes_kept(w), want = w->nm > 1 && kept > 0 ? kept - 1 : 0;
	if (!get_raw(r, n, &x))
		return;
	for (size_t pos = 0; pos < n; want--) {
		size_t len = window_grec_len(x + pos, n - pos);
		if (len == 0 || want == 0) {
			r->bad = true;
			return;
		}
		pos += len;
	}
	if (want != 0 || (w->u.g.first != GAUGE_NONE && w->u.g.first >= w->pushes)) {
		r->bad = true;
		return;
	}
	if (n) {
		w->u.g.rec = xmalloc(n);
		memcpy(w->u.g.rec, x, n);
	}
	w->u.g.len = w->u.g.cap = n;
}

/* A frozen slice into slot i, checked against the window's sketches. */
static void get_frozen(struct rd *r, struct window *w, size_t i)
{
	const unsigned char *x;
	uint32_t n = get_u32(r);
	if (!get_raw(r, n, &x) || n == 0)
		return;
	if (!sketch_frozen_valid(w->u.t.win[0], x, n)) {
		r->bad = true;
		return;
	}
	window_fp(w)[i] = xmalloc(n);
	memcpy(window_fp(w)[i], x, n);
	window_fl(w)[i] = n;
}

struct window *window_decode(const struct window_conf *c, enum metric_type type, const void *data,
                             size_t len)
{
	struct rd r = {data, len, 0, false};
	if ((int)type < 0 || type >= METRIC_TYPE_COUNT)
		return NULL;
	struct window *w = window_new(c, type);
	const size_t ns = (size_t)w->ipm + w->nm;
	if (get_u8(&r) != WIN_ENC_VERSION || get_u8(&r) != (unsigned)w->type ||
	    get_u32(&r) != w->ipm || get_u32(&r) != c->n || get_u32(&r) != w->nm)
		goto fail;
	w->pushes = get_u64(&r);
	w->idle = get_u64(&r);
	unsigned touched = get_u8(&r);
	if (touched > 1)
		goto fail;
	w->touched = touched == 1;
	switch (w->type) {
	case METRIC_COUNTER:
		for (size_t i = 0; i < ns; i++)
			window_dv(w)[i] = get_f64(&r);
		break;
	case METRIC_GAUGE:
		w->u.g.first = get_u64(&r);
		for (size_t i = 0; i < w->ipm; i++)
			window_dv(w)[i] = get_f64(&r);
		w->u.g.min = get_f64(&r);
		w->u.g.max = get_f64(&r);
		w->u.g.sum = get_f64(&r);
		get_grecs(&r, w);
		if (!r.bad)
			window_gauge_refresh(w);
		break;
	case METRIC_SET:
		for (size_t i = 0; i < ns && !r.bad; i++)
			get_hll(&r, &window_hv(w)[i]);
		break;
	default:
		for (size_t i = 0; i < ns; i++)
			get_moments(&r, &window_mv(w)[i]);
		for (size_t i = 0; i < ns && !r.bad; i++)
			get_frozen(&r, w, i);
		if (!r.bad && window_timer_rebuild(w) < 0)
			r.bad = true;
		break;
	}
	if (r.bad || r.pos != r.len)
		goto fail;
	return w;
fail:
	window_free(w);
	return NULL;
}
