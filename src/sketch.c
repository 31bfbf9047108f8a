/* sketch: DDSketch (Masson, Rim, Lee, VLDB 2019) — logarithmic buckets with
 * a relative-accuracy guarantee, a positive and a negative store of uint64
 * counts bounded by max_buckets (collapsing the lowest values), a zero count,
 * exact merge/subtract and a compact frozen byte form. It does not keep
 * min/max/sum (window.c does, next to it). Called by window.c per flush and
 * by the state file code through the frozen form. */
#include "sketch.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* Mapping. A positive value v lands in bucket i = ceil(log_gamma(v)), which
 * covers (gamma^(i-1), gamma^i]; the bucket's value 2 gamma^i / (gamma + 1)
 * = gamma^i (1 - a) is within a of every point of it (as in the paper). The
 * gamma used is that of a * (1 - 1e-6): the tiny margin absorbs floating
 * point rounding in the index and in the bucket value, so the guarantee
 * holds for a itself even for values that sit exactly on a boundary.
 *
 * Values with |v| < DBL_MIN (zero and subnormals) go to the zero count.
 *
 * Stores hold keys: the positive store keys by i, the negative store by -i
 * (i of |v|), so in both stores a larger key is a larger value and both
 * collapse the same way, on their LOWEST keys (the paper's rule, "collapse
 * the lowest buckets"): positive values closest to zero and the most negative
 * values (largest |v|) lose accuracy first; the upper quantiles of each sign
 * (values closest to zero for negatives) keep it. A store spans at most
 * max_buckets keys; when a key would widen it further, every key below
 * hi - max_buckets + 1 (the floor) is folded into the floor bucket and the
 * store is marked collapsed: while collapsed, the lowest bucket also holds
 * every value whose key was below it, so later adds, merges and subtracts
 * map such keys onto it and counts stay conserved. The mark clears when
 * that bucket empties (then nothing collapsed is left). */

#define SKETCH_MIN_ACCURACY 1e-5
#define SKETCH_MAX_BUCKETS (1u << 20)
#define MARGIN 1e-6
#define LN2 0.69314718055994530942
#define ADD_SLACK_MIN 16
#define ADD_SLACK_MAX 128
#define MERGE_SLACK 8

struct store {
	uint64_t *c;    /* c[k - off] is the count of key k, k in [off, off + cap) */
	int32_t off;    /* key of c[0] */
	uint32_t cap;   /* allocated buckets (0: c is NULL) */
	int32_t lo, hi; /* lowest and highest non-empty key; lo > hi when empty */
	bool collapsed; /* c[lo] also holds every value whose key was below lo */
	uint64_t n;     /* sum of the counts */
};

struct sketch {
	double acc;         /* the configured relative accuracy */
	double lng;         /* ln(gamma) */
	double inv_lng;     /* 1 / ln(gamma) */
	double k2;          /* ln(2) / ln(gamma) */
	double eps;         /* error bound of the fast index, in index units */
	double log1m;       /* ln(1 - a'): bucket value = exp(i lng + log1m) */
	int32_t imin;       /* index range of [DBL_MIN, DBL_MAX], one key of slack */
	int32_t imax;       /* on either side */
	uint32_t maxb;      /* bound on the span of each store */
	uint64_t zero;      /* count of |v| < DBL_MIN */
	uint64_t count;     /* zero + pos.n + neg.n */
	struct store st[2]; /* 0: positive, 1: negative */
};

enum { POS = 0, NEG = 1 };

/* ---- index ------------------------------------------------------------ */

static int32_t ceil_i32(double x)
{
	int32_t t = (int32_t)x; /* truncates toward zero; |x| < 2^31 here */
	return (double)t < x ? t + 1 : t;
}

static int32_t index_exact(const struct sketch *s, double v)
{
	return ceil_i32(log(v) * s->inv_lng);
}

/* Fast path for a normal positive v. v = 2^e m with m in [sqrt(1/2),
 * sqrt(2)), ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| <= 0.17158, and
 * the series is cut after t^9: the tail is at most 2 t^11 / 11 / (1 - t^2)
 * < 7.2e-10, plus a few ulps of rounding. With x = e k2 + ln(m) / ln(gamma),
 * the exact real log_gamma(v) lies within eps of x (eps counts both, see
 * sketch_new), so when x - eps and x + eps have the same ceiling, that is
 * the index; otherwise (v within ~1e-9 relative of a boundary, a few values
 * in 10^7 at a = 0.01) log() decides. tests/unit/test_sketch.c checks the
 * ulps around bucket boundaries. */
static inline int32_t index_of(const struct sketch *s, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	const uint64_t frac = u & 0xFFFFFFFFFFFFFull;
	const uint64_t up = frac >= 0x6A09E667F3BCDull; /* m >= sqrt(2): use m / 2 */
	const int e = (int)((u >> 52) & 0x7FF) - 1023 + (int)up;
	const uint64_t mb = frac | ((1023 - up) << 52);
	double m;
	memcpy(&m, &mb, sizeof(m));
	const double t = (m - 1.0) / (m + 1.0);
	const double z = t * t;
	const double lnm =
	    t * (2.0 + z * (2.0 / 3 + z * (2.0 / 5 + z * (2.0 / 7 + z * (2.0 / 9)))));
	const double x = (double)e * s->k2 + lnm * s->inv_lng;
	const int32_t i = ceil_i32(x + s->eps);
	if (x - s->eps > (double)(i - 1))
		return i;
	return index_exact(s, v);
}

/* Value of key k of store which: within a of every value in that bucket. */
static double bucket_value(const struct sketch *s, int which, int32_t k)
{
	int32_t i = which == POS ? k : -k;
	double r = exp((double)i * s->lng + s->log1m);
	if (r > DBL_MAX) /* v <= DBL_MAX < r: DBL_MAX is closer to v */
		r = DBL_MAX;
	return which == POS ? r : -r;
}

/* ---- stores ----------------------------------------------------------- */

static bool store_empty(const struct store *st)
{
	return st->n == 0;
}

static void store_reset(struct store *st)
{
	free(st->c);
	st->c = NULL;
	st->off = 0;
	st->cap = 0;
	st->lo = 1;
	st->hi = 0;
	st->collapsed = false;
	st->n = 0;
}

static uint64_t *slot(const struct store *st, int32_t k)
{
	return &st->c[(int64_t)k - st->off];
}

/* Makes [a, b] addressable (b - a + 1 <= maxb), keeping the counts of keys
 * [klo, khi] (none when klo > khi), which must lie inside [a, b]. Every
 * other key of [a, b] reads zero afterwards. */
static void store_ensure(struct store *st, int32_t a, int32_t b, int32_t klo, int32_t khi,
                         uint32_t slack, uint32_t maxb)
{
	const int64_t need = (int64_t)b - a + 1;
	const bool keep = klo <= khi;
	const size_t nkeep = keep ? (size_t)((int64_t)khi - klo + 1) : 0;
	if (st->c && a >= st->off && (int64_t)b < (int64_t)st->off + st->cap)
		return;
	if (st->c && need <= (int64_t)st->cap) { /* slide within the allocation */
		int64_t off = a < st->off ? (int64_t)b - st->cap + 1 : a;
		if (keep) {
			memmove(st->c + (klo - off), slot(st, klo), nkeep * sizeof(uint64_t));
			memset(st->c, 0, (size_t)(klo - off) * sizeof(uint64_t));
			size_t top = (size_t)(khi - off + 1);
			memset(st->c + top, 0, (st->cap - top) * sizeof(uint64_t));
		} else {
			memset(st->c, 0, st->cap * sizeof(uint64_t));
		}
		st->off = (int32_t)off;
		return;
	}
	int64_t cap = need + slack;
	if (cap > (int64_t)maxb)
		cap = maxb;
	const int64_t spare = cap - need;
	int64_t off;
	if (!keep || (a < klo && b > khi))
		off = a - spare / 2; /* unknown direction: slack on both sides */
	else if (a < klo)
		off = a - spare; /* growing down */
	else
		off = a;
	uint64_t *c = xcalloc((size_t)cap, sizeof(uint64_t));
	if (keep)
		memcpy(c + (klo - off), slot(st, klo), nkeep * sizeof(uint64_t));
	free(st->c);
	st->c = c;
	st->off = (int32_t)off;
	st->cap = (uint32_t)cap;
}

#define NO_FLOOR INT32_MIN

/* Makes room in st for incoming keys [slo, shi] (scol: the incoming lowest
 * key holds collapsed values) and applies the collapsing rule. Returns the
 * floor every incoming key below it must be mapped to, or NO_FLOOR. On
 * return st->lo/hi already cover the incoming keys; the caller adds them. */
static int32_t store_prepare(struct store *st, int32_t slo, int32_t shi, bool scol, uint32_t slack,
                             uint32_t maxb)
{
	const bool live = !store_empty(st);
	int32_t floor = st->collapsed ? st->lo : NO_FLOOR;
	if (scol && slo > floor)
		floor = slo;
	int32_t lo = live && st->lo < slo ? st->lo : slo;
	int32_t hi = live && st->hi > shi ? st->hi : shi;
	if (floor != NO_FLOOR)
		lo = floor;
	if ((int64_t)hi - lo + 1 > (int64_t)maxb)
		lo = floor = (int32_t)((int64_t)hi - maxb + 1);
	if (floor == NO_FLOOR || !live || st->lo > floor) {
		if (live)
			store_ensure(st, lo, hi, st->lo, st->hi, slack, maxb);
		else
			store_ensure(st, lo, hi, 1, 0, slack, maxb);
	} else { /* fold [st->lo, floor] into the floor bucket */
		uint64_t sum = 0;
		int32_t top = st->hi < floor ? st->hi : floor;
		for (int32_t k = st->lo; k <= top; k++) {
			sum += *slot(st, k);
			*slot(st, k) = 0;
		}
		/* what is left above the floor is kept; the floor gets the sum */
		store_ensure(st, lo, hi, floor + 1, st->hi, slack, maxb);
		*slot(st, floor) += sum;
	}
	st->lo = lo;
	st->hi = hi;
	st->collapsed = floor != NO_FLOOR;
	return floor;
}

static void store_add_slow(struct store *st, int32_t k, uint32_t maxb)
{
	int64_t span = store_empty(st) ? 1 : (int64_t)st->hi - st->lo + 1;
	uint32_t slack = (uint32_t)(span / 2);
	if (slack < ADD_SLACK_MIN)
		slack = ADD_SLACK_MIN;
	if (slack > ADD_SLACK_MAX)
		slack = ADD_SLACK_MAX;
	int32_t floor = store_prepare(st, k, k, false, slack, maxb);
	*slot(st, k < floor ? floor : k) += 1;
	st->n++;
}

static inline void store_add(struct store *st, int32_t k, uint32_t maxb)
{
	if (k >= st->lo && k <= st->hi) {
		*slot(st, k) += 1;
		st->n++;
		return;
	}
	store_add_slow(st, k, maxb);
}

/* After counts were removed: clears the collapsed mark once its bucket is
 * empty, narrows [lo, hi] to the non-empty keys and gives back memory. */
static void store_settle(struct store *st)
{
	if (st->n == 0) {
		store_reset(st);
		return;
	}
	if (*slot(st, st->lo) == 0)
		st->collapsed = false;
	while (*slot(st, st->lo) == 0)
		st->lo++;
	while (*slot(st, st->hi) == 0)
		st->hi--;
	int64_t need = (int64_t)st->hi - st->lo + 1;
	if ((int64_t)st->cap > need + 48) { /* shrink: windows slide */
		int64_t cap = need + MERGE_SLACK;
		int64_t off = st->lo - MERGE_SLACK / 2;
		uint64_t *c = xcalloc((size_t)cap, sizeof(uint64_t));
		memcpy(c + (st->lo - off), slot(st, st->lo), (size_t)need * sizeof(uint64_t));
		free(st->c);
		st->c = c;
		st->off = (int32_t)off;
		st->cap = (uint32_t)cap;
	}
}

/* ---- live merge and subtract ------------------------------------------ */

/* st += src (st may be src: doubles it). */
static void store_merge(struct store *st, const struct store *src, uint32_t maxb)
{
	if (store_empty(src))
		return;
	const uint64_t n = src->n;
	const int32_t lo = src->lo, hi = src->hi;
	int32_t floor = store_prepare(st, lo, hi, src->collapsed, MERGE_SLACK, maxb);
	int32_t k = lo;
	if (floor != NO_FLOOR && k < floor) {
		uint64_t sum = 0;
		for (; k < floor && k <= hi; k++)
			sum += *slot(src, k);
		*slot(st, floor) += sum;
	}
	if (k <= hi) {
		uint64_t *d = slot(st, k);
		const uint64_t *c = slot(src, k);
		for (size_t i = 0, m = (size_t)((int64_t)hi - k + 1); i < m; i++)
			d[i] += c[i];
	}
	st->n += n;
}

/* Where a key of something merged earlier sits in st now. */
static int32_t store_map(const struct store *st, int32_t k)
{
	return st->collapsed && k < st->lo ? st->lo : k;
}

/* Sum of src's counts for keys up to st's collapsed floor; *next is the
 * first key above it. */
static uint64_t floor_part(const struct store *st, const struct store *src, int32_t *next)
{
	uint64_t sum = 0;
	int32_t k = src->lo;
	if (st->collapsed)
		for (; k <= st->lo && k <= src->hi; k++)
			sum += *slot(src, k);
	*next = k;
	return sum;
}

/* Can src be subtracted from st without a count going negative? */
static bool store_can_subtract(const struct store *st, const struct store *src)
{
	int32_t k;
	if (store_empty(src))
		return true;
	if (src->n > st->n || store_empty(st))
		return false;
	if (floor_part(st, src, &k) > *slot(st, st->lo))
		return false;
	if (k > src->hi)
		return true;
	if (k < st->lo || src->hi > st->hi) /* src->lo and src->hi are non-empty */
		return false;
	const uint64_t *d = slot(st, k), *c = slot(src, k);
	bool bad = false;
	for (size_t i = 0, m = (size_t)((int64_t)src->hi - k + 1); i < m; i++)
		bad |= c[i] > d[i];
	return !bad;
}

/* st -= src, checked by store_can_subtract (st may be src: empties it). */
static void store_subtract(struct store *st, const struct store *src)
{
	int32_t k;
	if (store_empty(src))
		return;
	const uint64_t n = src->n;
	const int32_t hi = src->hi;
	*slot(st, st->lo) -= floor_part(st, src, &k);
	if (k <= hi) {
		uint64_t *d = slot(st, k);
		const uint64_t *c = slot(src, k);
		for (size_t i = 0, m = (size_t)((int64_t)hi - k + 1); i < m; i++)
			d[i] -= c[i];
	}
	st->n -= n;
	store_settle(st);
}

/* ---- varints and frozen stores ----------------------------------------- */

static inline bool varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	if (p < end && *p < 0x80) { /* the common one-byte case */
		*out = *p;
		*pp = p + 1;
		return true;
	}
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (p == end)
			return false;
		uint8_t b = *p++;
		if (shift == 63 && b > 1)
			return false; /* more than 64 bits */
		v |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*out = v;
			return true;
		}
	}
	return false;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* One token of a frozen store: the count of the next non-empty bucket and
 * the key delta from the previous one (see the format below). The first
 * bucket (key lo) carries only its count. false on malformed bytes. */
static inline bool token_get(const uint8_t **pp, const uint8_t *end, unsigned kb, bool first,
                             uint64_t *delta, uint64_t *count)
{
	uint64_t t, extra;
	if (!varint_get(pp, end, &t))
		return false;
	if (first) {
		*delta = 0;
		*count = t + 1;
		return t != UINT64_MAX;
	}
	const uint64_t mask = ((uint64_t)1 << kb) - 1;
	if (kb == 0 && t == UINT64_MAX)
		return false;
	*count = (t >> kb) + 1;
	if ((t & mask) < mask) {
		*delta = (t & mask) + 1;
		return true;
	}
	if (!varint_get(pp, end, &extra) || extra > UINT64_MAX - mask - 1)
		return false;
	*delta = mask + 1 + extra;
	return true;
}

/* One store of a validated frozen encoding. */
struct fstore {
	bool nonempty, collapsed;
	unsigned kb; /* delta bits of a token */
	int32_t lo, hi;
	uint64_t n;
	const uint8_t *p, *end; /* its tokens */
};

struct fcur {
	const uint8_t *p;
	int32_t k;
	bool first, done;
};

static void fcur_init(struct fcur *cur, const struct fstore *fs)
{
	cur->p = fs->p;
	cur->k = fs->lo;
	cur->first = true;
	cur->done = !fs->nonempty;
}

/* The next non-empty bucket; the data was validated, so decoding cannot
 * fail here (if it did, the walk would just end). */
static inline bool fcur_next(struct fcur *cur, const struct fstore *fs, int32_t *k, uint64_t *c)
{
	uint64_t delta;
	if (cur->done)
		return false;
	if (!token_get(&cur->p, fs->end, fs->kb, cur->first, &delta, c)) {
		cur->done = true;
		return false;
	}
	cur->k = (int32_t)((int64_t)cur->k + (int64_t)delta);
	cur->first = false;
	cur->done = cur->k == fs->hi;
	*k = cur->k;
	return true;
}

static void fstore_merge(struct store *st, const struct fstore *fs, uint32_t maxb)
{
	struct fcur cur;
	int32_t k;
	uint64_t c;
	if (!fs->nonempty)
		return;
	int32_t floor = store_prepare(st, fs->lo, fs->hi, fs->collapsed, MERGE_SLACK, maxb);
	fcur_init(&cur, fs);
	while (fcur_next(&cur, fs, &k, &c))
		*slot(st, k < floor ? floor : k) += c;
	st->n += fs->n;
}

/* Adds back the first `limit` buckets of fs that fstore_take removed. */
static void fstore_give_back(struct store *st, const struct fstore *fs, size_t limit)
{
	struct fcur cur;
	int32_t k;
	uint64_t c;
	fcur_init(&cur, fs);
	for (size_t i = 0; i < limit && fcur_next(&cur, fs, &k, &c); i++)
		*slot(st, store_map(st, k)) += c;
}

/* Removes fs's buckets from st in one pass; if a count would go negative
 * it puts back what it took and returns false. st->n and the range are
 * left for the caller to settle. */
static bool fstore_take(struct store *st, const struct fstore *fs)
{
	struct fcur cur;
	int32_t k;
	uint64_t c;
	size_t taken = 0;
	if (!fs->nonempty)
		return true;
	if (fs->n > st->n)
		return false;
	fcur_init(&cur, fs);
	while (fcur_next(&cur, fs, &k, &c)) {
		int32_t m = store_map(st, k);
		if (m < st->lo || m > st->hi || c > *slot(st, m)) {
			fstore_give_back(st, fs, taken);
			return false;
		}
		*slot(st, m) -= c;
		taken++;
	}
	return true;
}

/* ---- the sketch ------------------------------------------------------- */

struct sketch *sketch_new(double relative_accuracy, size_t max_buckets)
{
	const double a = relative_accuracy;
	if (!(a >= SKETCH_MIN_ACCURACY && a < 1.0) || max_buckets < 1 ||
	    max_buckets > SKETCH_MAX_BUCKETS)
		return NULL;
	struct sketch *s = xcalloc(1, sizeof(*s));
	const double ae = a * (1.0 - MARGIN);
	s->acc = a;
	s->lng = log1p(2.0 * ae / (1.0 - ae)); /* ln((1 + a') / (1 - a')) */
	s->inv_lng = 1.0 / s->lng;
	s->k2 = LN2 * s->inv_lng;
	s->log1m = log1p(-ae);
	s->maxb = (uint32_t)max_buckets;
	s->imin = index_exact(s, DBL_MIN) - 1;
	s->imax = index_exact(s, DBL_MAX) + 1;
	/* |ln m - lnm| < 7.2e-10 (series tail) + 1e-15 (rounding); |e k2| has
	 * at most a few ulps of error, each below |imin| * 2.3e-16. */
	s->eps = 1e-9 * s->inv_lng + 1e-14 * (double)(-s->imin) + 1e-12;
	store_reset(&s->st[POS]);
	store_reset(&s->st[NEG]);
	return s;
}

void sketch_free(struct sketch *s)
{
	if (!s)
		return;
	free(s->st[POS].c);
	free(s->st[NEG].c);
	free(s);
}

void sketch_clear(struct sketch *s)
{
	store_reset(&s->st[POS]);
	store_reset(&s->st[NEG]);
	s->zero = 0;
	s->count = 0;
}

bool sketch_add(struct sketch *s, double v)
{
	if (v >= DBL_MIN) {
		if (v > DBL_MAX)
			return false;
		store_add(&s->st[POS], index_of(s, v), s->maxb);
	} else if (v <= -DBL_MIN) {
		if (v < -DBL_MAX)
			return false;
		store_add(&s->st[NEG], -index_of(s, -v), s->maxb);
	} else if (v == v) {
		s->zero++;
	} else {
		return false; /* NaN */
	}
	s->count++;
	return true;
}

int sketch_merge(struct sketch *dst, const struct sketch *src)
{
	if (dst->acc != src->acc || src->count > UINT64_MAX - dst->count)
		return -1;
	const uint64_t zero = src->zero, count = src->count; /* src may be dst */
	for (int w = POS; w <= NEG; w++)
		store_merge(&dst->st[w], &src->st[w], dst->maxb);
	dst->zero += zero;
	dst->count += count;
	return 0;
}

int sketch_subtract(struct sketch *dst, const struct sketch *src)
{
	if (dst->acc != src->acc || src->zero > dst->zero)
		return -1;
	for (int w = POS; w <= NEG; w++)
		if (!store_can_subtract(&dst->st[w], &src->st[w]))
			return -1;
	const uint64_t zero = src->zero, count = src->count;
	for (int w = POS; w <= NEG; w++)
		store_subtract(&dst->st[w], &src->st[w]);
	dst->zero -= zero;
	dst->count -= count;
	return 0;
}

uint64_t sketch_count(const struct sketch *s)
{
	return s->count;
}

/* Key of the bucket holding the value of rank r (0-based) of a store. */
static int32_t store_rank(const struct store *st, uint64_t r)
{
	uint64_t cum = 0;
	if (r < st->n / 2) {
		for (int32_t k = st->lo;; k++) {
			cum += *slot(st, k);
			if (cum > r || k == st->hi)
				return k;
		}
	}
	r = st->n - 1 - r; /* rank from the top */
	for (int32_t k = st->hi;; k--) {
		cum += *slot(st, k);
		if (cum > r || k == st->lo)
			return k;
	}
}

double sketch_quantile(const struct sketch *s, double q)
{
	if (s->count == 0 || !(q >= 0.0 && q <= 1.0))
		return NAN;
	uint64_t r = (uint64_t)floor(q * (double)(s->count - 1));
	if (r > s->count - 1)
		r = s->count - 1;
	const struct store *neg = &s->st[NEG], *pos = &s->st[POS];
	if (r < neg->n)
		return bucket_value(s, NEG, store_rank(neg, r));
	r -= neg->n;
	if (r < s->zero)
		return 0.0;
	r -= s->zero;
	return bucket_value(s, POS, store_rank(pos, r));
}

size_t sketch_memory(const struct sketch *s)
{
	return sizeof(*s) + ((size_t)s->st[POS].cap + s->st[NEG].cap) * sizeof(uint64_t);
}

/* ---- frozen form ------------------------------------------------------ */

/* Layout (little-endian):
 *   u8 magic 0xD5, u8 version 1, f64 accuracy,
 *   u8 flags: bit 0/1 positive/negative store non-empty, bit 2/3 that store
 *      is collapsed, bits 4-5/6-7 kb of that store (0..3),
 *   varint zero count,
 *   per non-empty store (positive first): zigzag varint lo, varint hi - lo,
 *   then per non-empty store its buckets in ascending key order: the first
 *   (key lo) as varint count-1; each next one as one varint token
 *   t = (count-1) << kb | min(delta-1, 2^kb - 1), where delta is the key step
 *   from the previous non-empty bucket, followed by varint delta - 2^kb when
 *   the low field is saturated. The last bucket is at key hi and the data
 *   ends there. kb is chosen per store to make the encoding shortest, so a
 *   1,000-sample slice takes about one byte per non-empty bucket. */
#define FZ_MAGIC 0xD5
#define FZ_VERSION 1
#define FZ_HEAD 11

static uint64_t zigzag(int32_t k)
{
	return k < 0 ? ((uint64_t)(-(int64_t)k) << 1) - 1 : (uint64_t)k << 1;
}

static bool unzigzag(uint64_t z, int64_t *k)
{
	if (z > ((uint64_t)1 << 33))
		return false;
	*k = (z & 1) ? -(int64_t)((z + 1) >> 1) : (int64_t)(z >> 1);
	return true;
}

/* Bytes of the token for a bucket after the first. */
static size_t token_len(uint64_t count, uint64_t delta, unsigned kb)
{
	const uint64_t mask = ((uint64_t)1 << kb) - 1;
	if (delta - 1 < mask)
		return varint_len((count - 1) << kb | (delta - 1));
	return varint_len((count - 1) << kb | mask) + varint_len(delta - 1 - mask);
}

static uint8_t *token_put(uint8_t *p, uint64_t count, uint64_t delta, unsigned kb)
{
	const uint64_t mask = ((uint64_t)1 << kb) - 1;
	if (delta - 1 < mask)
		return varint_put(p, (count - 1) << kb | (delta - 1));
	p = varint_put(p, (count - 1) << kb | mask);
	return varint_put(p, delta - 1 - mask);
}

/* The shortest kb for a store, and the bytes of its buckets with it. */
static unsigned store_best_kb(const struct store *st, size_t *bytes)
{
	size_t len[4] = {0, 0, 0, 0};
	uint64_t biggest = 0;
	int32_t prev = st->lo;
	len[0] = len[1] = len[2] = len[3] = varint_len(*slot(st, st->lo) - 1);
	for (int32_t k = st->lo + 1; k <= st->hi; k++) {
		uint64_t c = *slot(st, k);
		if (c == 0)
			continue;
		if (c > biggest)
			biggest = c;
		for (unsigned kb = 0; kb < 4; kb++)
			len[kb] += token_len(c, (uint64_t)((int64_t)k - prev), kb);
		prev = k;
	}
	unsigned best = 0;
	for (unsigned kb = 1; kb < 4; kb++) /* counts must fit beside kb bits */
		if (biggest - 1 <= (UINT64_MAX >> kb) && len[kb] < len[best])
			best = kb;
	*bytes = len[best];
	return best;
}

void sketch_freeze(const struct sketch *s, struct buf *out)
{
	unsigned kb[2] = {0, 0};
	size_t body[2] = {0, 0};
	uint8_t flags = 0;
	size_t total = FZ_HEAD + varint_len(s->zero);
	for (int w = POS; w <= NEG; w++) {
		const struct store *st = &s->st[w];
		if (store_empty(st))
			continue;
		kb[w] = store_best_kb(st, &body[w]);
		flags |= (uint8_t)(1u << w);
		if (st->collapsed)
			flags |= (uint8_t)(4u << w);
		flags |= (uint8_t)(kb[w] << (4 + 2 * w));
		total += varint_len(zigzag(st->lo)) +
		         varint_len((uint64_t)((int64_t)st->hi - st->lo)) + body[w];
	}
	buf_reserve(out, total);
	uint8_t *start = (uint8_t *)out->p + out->len, *p = start;
	uint64_t bits;
	memcpy(&bits, &s->acc, sizeof(bits));
	*p++ = FZ_MAGIC;
	*p++ = FZ_VERSION;
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(bits >> (8 * i));
	*p++ = flags;
	p = varint_put(p, s->zero);
	for (int w = POS; w <= NEG; w++) {
		const struct store *st = &s->st[w];
		if (store_empty(st))
			continue;
		p = varint_put(p, zigzag(st->lo));
		p = varint_put(p, (uint64_t)((int64_t)st->hi - st->lo));
	}
	for (int w = POS; w <= NEG; w++) {
		const struct store *st = &s->st[w];
		if (store_empty(st))
			continue;
		int32_t prev = st->lo;
		p = varint_put(p, *slot(st, st->lo) - 1);
		for (int32_t k = st->lo + 1; k <= st->hi; k++) {
			uint64_t c = *slot(st, k);
			if (c == 0)
				continue;
			p = token_put(p, c, (uint64_t)((int64_t)k - prev), kb[w]);
			prev = k;
		}
	}
	out->len += (size_t)(p - start);
	out->p[out->len] = '\0';
}

struct frozen {
	uint64_t zero;
	uint64_t count;
	struct fstore st[2];
};

/* Validates a whole encoding against s (accuracy, key ranges, every token,
 * exact length, no count overflow) and fills f for merging. */
static int frozen_parse(const struct sketch *s, const void *data, size_t len, struct frozen *f)
{
	const uint8_t *p = data, *end;
	uint64_t bits = 0, v;
	double acc;
	memset(f, 0, sizeof(*f));
	if (!data || len < FZ_HEAD + 1 || p[0] != FZ_MAGIC || p[1] != FZ_VERSION)
		return -1;
	end = p + len;
	for (int i = 0; i < 8; i++)
		bits |= (uint64_t)p[2 + i] << (8 * i);
	memcpy(&acc, &bits, sizeof(acc));
	if (acc != s->acc)
		return -1;
	const uint8_t flags = p[10];
	p += FZ_HEAD;
	if (!varint_get(&p, end, &f->zero))
		return -1;
	f->count = f->zero;
	for (int w = POS; w <= NEG; w++) {
		struct fstore *b = &f->st[w];
		b->nonempty = flags & (1u << w);
		b->collapsed = flags & (4u << w);
		b->kb = (flags >> (4 + 2 * w)) & 3u;
		if (!b->nonempty) {
			if (b->collapsed || b->kb)
				return -1;
			continue;
		}
		const int64_t kmin = w == POS ? s->imin : -(int64_t)s->imax;
		const int64_t kmax = w == POS ? s->imax : -(int64_t)s->imin;
		int64_t lo;
		if (!varint_get(&p, end, &v) || !unzigzag(v, &lo) || lo < kmin || lo > kmax)
			return -1;
		if (!varint_get(&p, end, &v) || v > (uint64_t)(kmax - lo))
			return -1;
		b->lo = (int32_t)lo;
		b->hi = (int32_t)(lo + (int64_t)v);
	}
	for (int w = POS; w <= NEG; w++) {
		struct fstore *b = &f->st[w];
		if (!b->nonempty)
			continue;
		b->p = p;
		int64_t k = b->lo;
		bool first = true;
		for (;;) {
			uint64_t delta, c;
			if (!token_get(&p, end, b->kb, first, &delta, &c))
				return -1;
			if (delta > (uint64_t)(b->hi - k))
				return -1;
			k += (int64_t)delta;
			if (c > UINT64_MAX - b->n)
				return -1;
			b->n += c;
			first = false;
			if (k == b->hi)
				break;
		}
		b->end = p;
		if (b->n > UINT64_MAX - f->count)
			return -1;
		f->count += b->n;
	}
	return p == end ? 0 : -1;
}

int sketch_merge_frozen(struct sketch *dst, const void *data, size_t len)
{
	struct frozen f;
	if (frozen_parse(dst, data, len, &f) < 0 || f.count > UINT64_MAX - dst->count)
		return -1;
	for (int w = POS; w <= NEG; w++)
		fstore_merge(&dst->st[w], &f.st[w], dst->maxb);
	dst->zero += f.zero;
	dst->count += f.count;
	return 0;
}

int sketch_subtract_frozen(struct sketch *dst, const void *data, size_t len)
{
	struct frozen f;
	if (frozen_parse(dst, data, len, &f) < 0 || f.zero > dst->zero)
		return -1;
	if (!fstore_take(&dst->st[POS], &f.st[POS]))
		return -1;
	if (!fstore_take(&dst->st[NEG], &f.st[NEG])) {
		fstore_give_back(&dst->st[POS], &f.st[POS], SIZE_MAX);
		return -1;
	}
	for (int w = POS; w <= NEG; w++) {
		if (!f.st[w].nonempty)
			continue;
		dst->st[w].n -= f.st[w].n;
		store_settle(&dst->st[w]);
	}
	dst->zero -= f.zero;
	dst->count -= f.count;
	return 0;
}
