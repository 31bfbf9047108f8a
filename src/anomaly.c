/* anomaly: per-stat sliding baselines and z-scores (DESIGN.md §5, "Anomaly
 * detection"). Keeps (n, mean, M2) per block of intervals in a ring used as
 * a two-stack queue, merges with Chan's formula, and encodes the state for
 * the state file. It does not pick stats, name series or write anything out:
 * registry.c pushes one value per stat per flush, flush.c and rfmt.c report
 * the flags, state.c stores the encoded bytes. */
#include "anomaly.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

#define BLOCK_MS 60000
#define BLOCK_MAX 1023        /* intervals per block: a slot keeps n in 10 bits */
#define SLOTS_MAX 65535       /* complete blocks kept (uint16_t indices) */
#define SLOT_BYTES 15         /* mean as a double (8) + M2 and n packed in 7 */
#define M2_DROP_BITS 17       /* low mantissa bits of M2 not kept: 35 remain */
#define ENC_MAGIC 0x31424e41u /* "ANB1" */

/* The moments of a group of values. */
struct moments {
	uint32_t n;
	double mean, m2;
};

/* The complete blocks form a queue, oldest first, in slot[] as a ring of
 * nslots entries starting at head. Its oldest front_len entries are the
 * "front stack": each holds the merged moments of itself and every newer
 * front entry (a suffix aggregate), so the front's moments are those of the
 * oldest entry, and dropping the oldest is O(1). The other entries hold
 * their own block's moments, merged as they arrive into back_*. When the
 * oldest must go and the front is empty, the whole queue is turned into
 * suffix aggregates at once (flip): O(B) once per B blocks. Every entry
 * keeps its own block's n, so front_n can drop it exactly. */
struct anomaly_base {
	const struct anomaly_conf *c;
	struct anomaly_score last;
	double back_mean, back_m2; /* the back entries merged */
	double cur_mean, cur_m2;   /* the current block so far (Welford) */
	uint32_t back_n, front_n;
	uint16_t nslots, head, count, front_len;
	uint16_t bsize;   /* S: intervals per block */
	uint16_t cur_pos; /* intervals of the current block pushed so far */
	uint16_t cur_n;   /* values among them */
	unsigned char slot[];
};

/* ---- configuration ----------------------------------------------------- */

/* S and B of the header comment; false with err (may be NULL) if unusable. */
static bool derive(const struct anomaly_conf *c, unsigned *bsize, unsigned *nslots, char *err,
                   size_t errlen)
{
	if (c->interval_ms <= 0) {
		snprintf(err, errlen, "server.flush_interval: must be positive (got %lld ms)",
		         (long long)c->interval_ms);
		return false;
	}
	if (c->baseline_ms <= 0) {
		snprintf(err, errlen, "anomaly.baseline: must be positive (got %lld ms)",
		         (long long)c->baseline_ms);
		return false;
	}
	if (!isfinite(c->threshold) || c->threshold <= 0) {
		snprintf(err, errlen, "anomaly.threshold: must be a positive number (got %g)",
		         c->threshold);
		return false;
	}
	if (c->min_intervals < 2) {
		snprintf(err, errlen,
		         "anomaly.min_intervals: at least 2, a standard deviation needs two values "
		         "(got %u)",
		         (unsigned)c->min_intervals);
		return false;
	}
	int64_t n = c->baseline_ms / c->interval_ms;
	if (n < (int64_t)c->min_intervals) {
		snprintf(err, errlen,
		         "anomaly.baseline: %lld ms holds %lld intervals of server.flush_interval "
		         "(%lld ms), fewer than anomaly.min_intervals (%u)",
		         (long long)c->baseline_ms, (long long)n, (long long)c->interval_ms,
		         (unsigned)c->min_intervals);
		return false;
	}
	int64_t s = BLOCK_MS / c->interval_ms;
	if (s < 1)
		s = 1;
	if (s > BLOCK_MAX)
		s = BLOCK_MAX;
	int64_t nb = (n + s - 1) / s;
	if (nb > SLOTS_MAX) {
		snprintf(err, errlen,
		         "anomaly.baseline: %lld ms needs %lld blocks of %lld intervals of "
		         "server.flush_interval (%lld ms), more than %d",
		         (long long)c->baseline_ms, (long long)nb, (long long)s,
		         (long long)c->interval_ms, SLOTS_MAX);
		return false;
	}
	*bsize = (unsigned)s;
	*nslots = (unsigned)nb;
	return true;
}

bool anomaly_conf_check(const struct anomaly_conf *c, char *err, size_t errlen)
{
	unsigned s, nb;
	return derive(c, &s, &nb, err, errlen);
}

/* ---- moments ----------------------------------------------------------- */

/* Chan et al.: a is the older group (the order only affects rounding). */
static struct moments merge(struct moments a, struct moments b)
{
	if (b.n == 0)
		return a;
	if (a.n == 0)
		return b;
	struct moments m;
	double na = a.n, f = (double)b.n / (double)(a.n + b.n); /* nb / n */
	double d = b.mean - a.mean;
	m.n = a.n + b.n;
	m.mean = a.mean + d * f;
	m.m2 = a.m2 + b.m2 + d * d * na * f; /* d^2 na nb / n */
	return m;
}

/* ---- slots ------------------------------------------------------------- */

/* M2 >= 0 keeps its exponent and top 35 mantissa bits (rounded), n its 10
 * bits: 56 bits in all. NaN is made canonical so rounding cannot carry out
 * of it. */
static uint64_t pack(double m2, unsigned n)
{
	uint64_t bits;
	if (isnan(m2))
		m2 = NAN;
	memcpy(&bits, &m2, sizeof(bits));
	bits &= ~(UINT64_C(1) << 63);
	bits = (bits + (UINT64_C(1) << (M2_DROP_BITS - 1))) >> M2_DROP_BITS;
	return bits << 10 | n;
}

static void unpack(uint64_t p, double *m2, uint32_t *n)
{
	uint64_t bits = (p >> 10) << M2_DROP_BITS;
	memcpy(m2, &bits, sizeof(*m2));
	*n = (uint32_t)(p & BLOCK_MAX);
}

/* Entry i of the queue (0 = oldest). */
static unsigned char *slot_at(const struct anomaly_base *b, unsigned i)
{
	return (unsigned char *)b->slot + (size_t)((b->head + i) % b->nslots) * SLOT_BYTES;
}

static void slot_get(const struct anomaly_base *b, unsigned i, double *mean, uint64_t *packed)
{
	const unsigned char *p = slot_at(b, i);
	uint64_t v = 0;
	memcpy(mean, p, sizeof(*mean));
	for (int k = 0; k < 7; k++)
		v |= (uint64_t)p[8 + k] << (8 * k);
	*packed = v;
}

static void slot_set(struct anomaly_base *b, unsigned i, double mean, uint64_t packed)
{
	unsigned char *p = slot_at(b, i);
	memcpy(p, &mean, sizeof(mean));
	for (int k = 0; k < 7; k++)
		p[8 + k] = (unsigned char)(packed >> (8 * k));
}

static struct moments slot_moments(const struct anomaly_base *b, unsigned i)
{
	struct moments m;
	uint64_t p;
	slot_get(b, i, &m.mean, &p);
	unpack(p, &m.m2, &m.n);
	return m;
}

/* Turns the whole queue into the front stack. */
static void flip(struct anomaly_base *b)
{
	struct moments run = {0, 0, 0};
	for (unsigned i = b->count; i-- > 0;) {
		struct moments own = slot_moments(b, i);
		run = merge(own, run);
		slot_set(b, i, run.mean, pack(run.m2, own.n));
	}
	b->front_len = b->count;
	b->front_n = run.n;
	b->back_n = 0;
	b->back_mean = b->back_m2 = 0;
}

/* Appends a complete block, dropping the oldest when the queue is full. */
static void push_block(struct anomaly_base *b, struct moments blk)
{
	if (b->count == b->nslots) {
		if (b->front_len == 0)
			flip(b);
		struct moments oldest = slot_moments(b, 0);
		b->front_n -= oldest.n;
		b->head = (uint16_t)((b->head + 1u) % b->nslots);
		b->count--;
		b->front_len--;
	}
	slot_set(b, b->count, blk.mean, pack(blk.m2, blk.n));
	b->count++;
	struct moments back = {b->back_n, b->back_mean, b->back_m2};
	back = merge(back, blk);
	b->back_n = back.n;
	b->back_mean = back.mean;
	b->back_m2 = back.m2;
}

/* The baseline: front stack, back, current block, oldest first. */
static struct moments baseline(const struct anomaly_base *b)
{
	struct moments m = {0, 0, 0};
	if (b->front_len > 0) {
		m = slot_moments(b, 0);
		m.n = b->front_n;
	}
	struct moments back = {b->back_n, b->back_mean, b->back_m2};
	struct moments cur = {b->cur_n, b->cur_mean, b->cur_m2};
	return merge(merge(m, back), cur);
}

/* ---- scoring ----------------------------------------------------------- */

/* Sets z, scored and flagged from value, mean, stddev and n. No ordered
 * comparison ever sees a NaN, so no floating-point exception is raised. */
static void judge(const struct anomaly_conf *c, struct anomaly_score *s)
{
	s->z = NAN;
	s->scored = s->flagged = false;
	if (isnan(s->value) || s->n < c->min_intervals || !isfinite(s->mean) ||
	    !isfinite(s->stddev) || s->stddev <= 0)
		return;
	double z = (s->value - s->mean) / s->stddev;
	if (!isfinite(z))
		return;
	s->z = z;
	s->scored = true;
	s->flagged = fabs(z) >= c->threshold;
}

static void score(const struct anomaly_base *b, struct moments m, bool has, double x,
                  struct anomaly_score *s)
{
	s->value = has ? x : NAN;
	s->n = m.n;
	s->mean = m.n >= 1 ? m.mean : NAN;
	s->stddev = m.n >= 2 ? sqrt(m.m2 / (double)(m.n - 1)) : NAN;
	judge(b->c, s);
}

static void init_last(struct anomaly_score *s)
{
	s->value = s->mean = s->stddev = s->z = NAN;
	s->n = 0;
	s->scored = s->flagged = false;
}

/* ---- public ------------------------------------------------------------ */

static struct anomaly_base *alloc_base(const struct anomaly_conf *c)
{
	unsigned bsize, nslots;
	char err[256];
	if (!derive(c, &bsize, &nslots, err, sizeof(err)))
		return NULL;
	struct anomaly_base *b = xcalloc(1, sizeof(*b) + (size_t)nslots * SLOT_BYTES);
	b->c = c;
	b->bsize = (uint16_t)bsize;
	b->nslots = (uint16_t)nslots;
	init_last(&b->last);
	return b;
}

struct anomaly_base *anomaly_base_new(const struct anomaly_conf *c)
{
	return alloc_base(c);
}

void anomaly_base_free(struct anomaly_base *b)
{
	free(b);
}

bool anomaly_push(struct anomaly_base *b, bool has, double x, struct anomaly_score *out)
{
	if (!isfinite(x))
		has = false;
	score(b, baseline(b), has, x, &b->last);
	if (has) {
		b->cur_n++;
		double d = x - b->cur_mean;
		b->cur_mean += d / b->cur_n;
		b->cur_m2 += d * (x - b->cur_mean);
	}
	if (++b->cur_pos == b->bsize) {
		struct moments blk = {b->cur_n, b->cur_mean, b->cur_m2};
		push_block(b, blk);
		b->cur_pos = b->cur_n = 0;
		b->cur_mean = b->cur_m2 = 0;
	}
	if (out)
		*out = b->last;
	return b->last.flagged;
}

const struct anomaly_score *anomaly_last(const struct anomaly_base *b)
{
	return &b->last;
}

size_t anomaly_memory(const struct anomaly_base *b)
{
	return sizeof(*b) + (size_t)b->nslots * SLOT_BYTES;
}

/* ---- state ------------------------------------------------------------- */

/* Layout: u32 magic, u64 interval_ms, u64 baseline_ms, u32 count,
 * front_len, cur_pos, cur_n, f64 back_mean, back_m2, cur_mean, cur_m2,
 * f64 last value, mean, stddev, u32 last n, then count x (f64 mean,
 * u64 packed M2 and n), oldest first. back_n and front_n are the sums of
 * their entries' n. */
void anomaly_encode(const struct anomaly_base *b, struct buf *out)
{
	buf_put_u32(out, ENC_MAGIC);
	buf_put_u64(out, (uint64_t)b->c->interval_ms);
	buf_put_u64(out, (uint64_t)b->c->baseline_ms);
	buf_put_u32(out, b->count);
	buf_put_u32(out, b->front_len);
	buf_put_u32(out, b->cur_pos);
	buf_put_u32(out, b->cur_n);
	buf_put_f64(out, b->back_mean);
	buf_put_f64(out, b->back_m2);
	buf_put_f64(out, b->cur_mean);
	buf_put_f64(out, b->cur_m2);
	buf_put_f64(out, b->last.value);
	buf_put_f64(out, b->last.mean);
	buf_put_f64(out, b->last.stddev);
	buf_put_u32(out, b->last.n);
	for (unsigned i = 0; i < b->count; i++) {
		double mean;
		uint64_t p;
		slot_get(b, i, &mean, &p);
		buf_put_f64(out, mean);
		buf_put_u64(out, p);
	}
}

struct reader {
	const unsigned char *p;
	size_t left;
	bool ok;
};

static uint64_t rd_le(struct reader *r, int nbytes)
{
	uint64_t v = 0;
	if (!r->ok || r->left < (size_t)nbytes) {
		r->ok = false;
		return 0;
	}
	for (int k = 0; k < nbytes; k++)
		v |= (uint64_t)r->p[k] << (8 * k);
	r->p += nbytes;
	r->left -= (size_t)nbytes;
	return v;
}

static uint32_t rd_u32(struct reader *r)
{
	return (uint32_t)rd_le(r, 4);
}

static double rd_f64(struct reader *r)
{
	uint64_t v = rd_le(r, 8);
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

struct anomaly_base *anomaly_decode(const struct anomaly_conf *c, const void *data, size_t len)
{
	struct reader r = {data, len, true};
	if (rd_u32(&r) != ENC_MAGIC || rd_le(&r, 8) != (uint64_t)c->interval_ms ||
	    rd_le(&r, 8) != (uint64_t)c->baseline_ms || !r.ok)
		return NULL;
	struct anomaly_base *b = alloc_base(c);
	if (!b)
		return NULL;
	uint32_t count = rd_u32(&r), front_len = rd_u32(&r);
	uint32_t cur_pos = rd_u32(&r), cur_n = rd_u32(&r);
	b->back_mean = rd_f64(&r);
	b->back_m2 = rd_f64(&r);
	b->cur_mean = rd_f64(&r);
	b->cur_m2 = rd_f64(&r);
	b->last.value = rd_f64(&r);
	b->last.mean = rd_f64(&r);
	b->last.stddev = rd_f64(&r);
	b->last.n = rd_u32(&r);
	/* Reachable states only: the queue is never flipped before it is full. */
	if (!r.ok || count > b->nslots || front_len > count ||
	    (count < b->nslots && front_len > 0) || cur_pos >= b->bsize || cur_n > cur_pos ||
	    r.left != (size_t)count * 16)
		goto fail;
	b->count = (uint16_t)count;
	b->front_len = (uint16_t)front_len;
	b->cur_pos = (uint16_t)cur_pos;
	b->cur_n = (uint16_t)cur_n;
	for (unsigned i = 0; i < count; i++) {
		double mean = rd_f64(&r);
		uint64_t p = rd_le(&r, 8);
		if ((p >> 56) != 0 || (p & BLOCK_MAX) > b->bsize)
			goto fail;
		slot_set(b, i, mean, p);
		uint32_t n = (uint32_t)(p & BLOCK_MAX);
		if (i < front_len)
			b->front_n += n;
		else
			b->back_n += n;
	}
	if (b->last.n > ((uint64_t)b->nslots + 1) * b->bsize)
		goto fail;
	judge(c, &b->last);
	return b;
fail:
	free(b);
	return NULL;
}
