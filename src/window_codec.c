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

#define WIN_ENC_VERSION 1

static void put_bytes(struct buf *b, const void *p, size_t n)
{
	buf_put_u32(b, (uint32_t)n);
	if (n)
		buf_append(b, p, n);
}

static void put_moments(struct buf *b, const struct moments *m)
{
	const double v[7] = {m->n, m->mean, m->m2, m->sum, m->min, m->max, m->count};
	for (size_t i = 0; i < 7; i++)
		buf_put_f64(b, v[i]);
}

static void put_gslice(struct buf *b, const struct gslice *g)
{
	const double v[5] = {g->last, g->min, g->max, g->sum, g->n};
	for (size_t i = 0; i < 5; i++)
		buf_put_f64(b, v[i]);
}

static void put_hll(struct buf *b, const struct hll *h)
{
	struct buf tmp = BUF_INIT;
	buf_putc(b, h ? 1 : 0);
	if (!h)
		return;
	hll_encode(h, &tmp);
	put_bytes(b, tmp.p, tmp.len);
	buf_free(&tmp);
}

static void put_sketch(struct buf *b, const struct sketch *s)
{
	struct buf tmp = BUF_INIT;
	sketch_freeze(s, &tmp);
	put_bytes(b, tmp.p, tmp.len);
	buf_free(&tmp);
}

void window_encode(const struct window *w, struct buf *out)
{
	buf_putc(out, WIN_ENC_VERSION);
	buf_putc(out, (char)w->type);
	buf_put_u32(out, (uint32_t)w->ipm);
	buf_put_u32(out, (uint32_t)w->c->n);
	buf_put_u64(out, w->pushes);
	buf_put_u64(out, w->idle);
	buf_putc(out, w->touched ? 1 : 0);
	switch (w->type) {
	case METRIC_COUNTER:
		for (size_t i = 0; i < w->ipm; i++)
			buf_put_f64(out, w->c_iv[i]);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			buf_put_f64(out, w->c_mn[i]);
		buf_put_f64(out, w->c_cur);
		break;
	case METRIC_GAUGE:
		for (size_t i = 0; i < w->ipm; i++)
			put_gslice(out, &w->g_iv[i]);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			put_gslice(out, &w->g_mn[i]);
		put_gslice(out, &w->g_cur);
		buf_put_f64(out, w->g_last);
		buf_putc(out, w->g_has ? 1 : 0);
		break;
	case METRIC_SET:
		for (size_t i = 0; i < w->ipm; i++)
			put_hll(out, w->s_iv[i]);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			put_hll(out, w->s_mn[i]);
		put_hll(out, w->s_cur);
		break;
	default:
		for (size_t i = 0; i < w->ipm; i++)
			put_moments(out, &w->t_iv[i]);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			put_moments(out, &w->t_mn[i]);
		put_moments(out, &w->t_cur);
		/* frozen slices are already compact: copied as they are */
		for (size_t i = 0; i < w->ipm; i++)
			put_bytes(out, w->f_iv[i].p, w->f_iv[i].len);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			put_bytes(out, w->f_mn[i].p, w->f_mn[i].len);
		for (size_t i = 0; i < w->c->n; i++)
			put_sketch(out, w->sk_win[i]);
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

static void get_gslice(struct rd *r, struct gslice *g)
{
	g->last = get_f64(r);
	g->min = get_f64(r);
	g->max = get_f64(r);
	g->sum = get_f64(r);
	g->n = get_f64(r);
}

/* An optional HLL into *slot (replacing what is there). */
static void get_hll(struct rd *r, struct hll **slot, bool required)
{
	unsigned present = get_u8(r);
	const unsigned char *x;
	if (r->bad || present > 1 || (required && !present)) {
		r->bad = true;
		return;
	}
	if (!present)
		return;
	uint32_t n = get_u32(r);
	if (!get_raw(r, n, &x))
		return;
	struct hll *h = hll_decode(x, n);
	if (!h) {
		r->bad = true;
		return;
	}
	hll_free(*slot);
	*slot = h;
}

/* A frozen sketch into b, checked by applying it to the scratch sketch. */
static void get_frozen(struct rd *r, struct buf *b, struct sketch *scratch)
{
	const unsigned char *x;
	uint32_t n = get_u32(r);
	if (!get_raw(r, n, &x) || n == 0)
		return;
	sketch_clear(scratch);
	if (sketch_merge_frozen(scratch, x, n) < 0) {
		r->bad = true;
		return;
	}
	b->p = xmalloc(n + 1);
	memcpy(b->p, x, n);
	b->len = n;
	b->cap = n + 1;
}

struct window *window_decode(const struct window_conf *c, enum metric_type type, const void *data,
                             size_t len)
{
	struct rd r = {data, len, 0, false};
	if ((int)type < 0 || type >= METRIC_TYPE_COUNT)
		return NULL;
	struct window *w = window_new(c, type);
	if (get_u8(&r) != WIN_ENC_VERSION || get_u8(&r) != (unsigned)w->type ||
	    get_u32(&r) != w->ipm || get_u32(&r) != c->n)
		goto fail;
	w->pushes = get_u64(&r);
	w->idle = get_u64(&r);
	unsigned touched = get_u8(&r);
	if (touched > 1)
		goto fail;
	w->touched = touched == 1;
	switch (w->type) {
	case METRIC_COUNTER:
		for (size_t i = 0; i < w->ipm; i++)
			w->c_iv[i] = get_f64(&r);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			w->c_mn[i] = get_f64(&r);
		w->c_cur = get_f64(&r);
		break;
	case METRIC_GAUGE: {
		for (size_t i = 0; i < w->ipm; i++)
			get_gslice(&r, &w->g_iv[i]);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			get_gslice(&r, &w->g_mn[i]);
		get_gslice(&r, &w->g_cur);
		w->g_last = get_f64(&r);
		unsigned has = get_u8(&r);
		if (has > 1)
			goto fail;
		w->g_has = has == 1;
		break;
	}
	case METRIC_SET:
		for (size_t i = 0; i < w->ipm && !r.bad; i++)
			get_hll(&r, &w->s_iv[i], false);
		for (size_t i = 0; i < HOUR_MINUTES && !r.bad; i++)
			get_hll(&r, &w->s_mn[i], false);
		get_hll(&r, &w->s_cur, true);
		break;
	default: {
		struct sketch *scratch = sketch_new(c->accuracy, window_max_buckets(c->accuracy));
		for (size_t i = 0; i < w->ipm; i++)
			get_moments(&r, &w->t_iv[i]);
		for (size_t i = 0; i < HOUR_MINUTES; i++)
			get_moments(&r, &w->t_mn[i]);
		get_moments(&r, &w->t_cur);
		for (size_t i = 0; i < w->ipm && !r.bad; i++)
			get_frozen(&r, &w->f_iv[i], scratch);
		for (size_t i = 0; i < HOUR_MINUTES && !r.bad; i++)
			get_frozen(&r, &w->f_mn[i], scratch);
		sketch_free(scratch);
		/* the live window sketches are rebuilt from their frozen form */
		for (size_t i = 0; i < c->n && !r.bad; i++) {
			const unsigned char *x;
			uint32_t n = get_u32(&r);
			if (!get_raw(&r, n, &x))
				break;
			if (sketch_merge_frozen(w->sk_win[i], x, n) < 0)
				r.bad = true;
		}
		break;
	}
	}
	if (r.bad || r.pos != r.len)
		goto fail;
	return w;
fail:
	window_free(w);
	return NULL;
}
