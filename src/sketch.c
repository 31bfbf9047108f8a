/* sketch: DDSketch (Masson, Rim, Lee, VLDB 2019) — logarithmic buckets with
 * a relative-accuracy guarantee, a positive and a negative store of counts
 * (32-bit until a store's total needs 64) bounded by max_buckets (collapsing
 * the lowest values), a zero count, exact merge/subtract and quantiles. It
 * does not keep min/max/sum (window.c does) nor encode: the frozen byte form
 * is sketch_frozen.c. Called by window.c per flush. */
#include "sketch.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sketch_store.h"
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

static void store_reset(struct store *st)
{
	free(st->c);
	st->c = NULL;
	st->off = 0;
	st->cap = 0;
	st->lo = 1;
	st->hi = 0;
	st->collapsed = false;
	st->wide = false;
	st->n = 0;
}

/* Reallocates st's counts at the width `wide`, keeping them. */
static void store_rewidth(struct store *st, bool wide)
{
	if (st->wide == wide)
		return;
	if (st->c) {
		void *c = xcalloc(st->cap, wide ? sizeof(uint64_t) : sizeof(uint32_t));
		for (uint32_t i = 0; i < st->cap; i++) {
			if (wide)
				((uint64_t *)c)[i] = ((const uint32_t *)st->c)[i];
			else
				((uint32_t *)c)[i] = (uint32_t)((const uint64_t *)st->c)[i];
		}
		free(st->c);
		st->c = c;
	}
	st->wide = wide;
}

void sketch_store_room(struct store *st, uint64_t more)
{
	if (!st->wide && more > UINT32_MAX - st->n)
		store_rewidth(st, true);
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
	const size_t esz = store_esz(st);
	unsigned char *base = st->c;
	if (st->c && a >= st->off && (int64_t)b < (int64_t)st->off + st->cap)
		return;
	if (st->c && need <= (int64_t)st->cap) { /* slide within the allocation */
		int64_t off = a < st->off ? (int64_t)b - st->cap + 1 : a;
		if (keep) {
			memmove(base + (size_t)(klo - off) * esz, base + cidx(st, klo) * esz,
			        nkeep * esz);
			memset(base, 0, (size_t)(klo - off) * esz);
			size_t top = (size_t)(khi - off + 1);
			memset(base + top * esz, 0, (st->cap - top) * esz);
		} else {
			memset(base, 0, st->cap * esz);
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
	unsigned char *c = xcalloc((size_t)cap, esz);
	if (keep)
		memcpy(c + (size_t)(klo - off) * esz, base + cidx(st, klo) * esz, nkeep * esz);
	free(st->c);
	st->c = c;
	st->off = (int32_t)off;
	st->cap = (uint32_t)cap;
}

/* Makes room in st for incoming keys [slo, shi] (scol: the incoming lowest
 * key holds collapsed values) and applies the collapsing rule. Returns the
 * floor every incoming key below it must be mapped to, or NO_FLOOR. On
 * return st->lo/hi already cover the incoming keys; the caller adds them. */
int32_t sketch_store_prepare(struct store *st, int32_t slo, int32_t shi, bool scol, uint32_t slack,
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
			sum += cget(st, k);
			cset(st, k, 0);
		}
		/* what is left above the floor is kept; the floor gets the sum */
		store_ensure(st, lo, hi, floor + 1, st->hi, slack, maxb);
		cadd(st, floor, sum);
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
	sketch_store_room(st, 1);
	int32_t floor = sketch_store_prepare(st, k, k, false, slack, maxb);
	cadd(st, k < floor ? floor : k, 1);
	st->n++;
}

static inline void store_add(struct store *st, int32_t k, uint32_t maxb)
{
	if (k >= st->lo && k <= st->hi && (st->wide || st->n < UINT32_MAX)) {
		cadd(st, k, 1);
		st->n++;
		return;
	}
	store_add_slow(st, k, maxb);
}

/* After counts were removed: clears the collapsed mark once its bucket is
 * empty, narrows [lo, hi] to the non-empty keys and gives back memory. */
void sketch_store_settle(struct store *st)
{
	if (st->n == 0) {
		store_reset(st);
		return;
	}
	if (cget(st, st->lo) == 0)
		st->collapsed = false;
	while (cget(st, st->lo) == 0)
		st->lo++;
	while (cget(st, st->hi) == 0)
		st->hi--;
	if (st->wide && st->n <= UINT32_MAX)
		store_rewidth(st, false);
	int64_t need = (int64_t)st->hi - st->lo + 1;
	if ((int64_t)st->cap > need + 48) { /* shrink: windows slide */
		const size_t esz = store_esz(st);
		int64_t cap = need + MERGE_SLACK;
		int64_t off = st->lo - MERGE_SLACK / 2;
		unsigned char *c = xcalloc((size_t)cap, esz);
		memcpy(c + (size_t)(st->lo - off) * esz,
		       (unsigned char *)st->c + cidx(st, st->lo) * esz, (size_t)need * esz);
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
	sketch_store_room(st, n);
	int32_t floor = sketch_store_prepare(st, lo, hi, src->collapsed, MERGE_SLACK, maxb);
	int32_t k = lo;
	if (floor != NO_FLOOR && k < floor) {
		uint64_t sum = 0;
		for (; k < floor && k <= hi; k++)
			sum += cget(src, k);
		cadd(st, floor, sum);
	}
	if (k <= hi && !st->wide && !src->wide) { /* the common case, vectorised */
		uint32_t *d = (uint32_t *)st->c + cidx(st, k);
		const uint32_t *c = (const uint32_t *)src->c + cidx(src, k);
		for (size_t i = 0, m = (size_t)((int64_t)hi - k + 1); i < m; i++)
			d[i] += c[i];
	} else {
		for (; k <= hi; k++)
			cadd(st, k, cget(src, k));
	}
	st->n += n;
}

/* Sum of src's counts for keys up to st's collapsed floor; *next is the
 * first key above it. */
static uint64_t floor_part(const struct store *st, const struct store *src, int32_t *next)
{
	uint64_t sum = 0;
	int32_t k = src->lo;
	if (st->collapsed)
		for (; k <= st->lo && k <= src->hi; k++)
			sum += cget(src, k);
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
	if (floor_part(st, src, &k) > cget(st, st->lo))
		return false;
	if (k > src->hi)
		return true;
	if (k < st->lo || src->hi > st->hi) /* src->lo and src->hi are non-empty */
		return false;
	bool bad = false;
	for (; k <= src->hi; k++)
		bad |= cget(src, k) > cget(st, k);
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
	csub(st, st->lo, floor_part(st, src, &k));
	for (; k <= hi; k++)
		csub(st, k, cget(src, k));
	st->n -= n;
	sketch_store_settle(st);
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
			cum += cget(st, k);
			if (cum > r || k == st->hi)
				return k;
		}
	}
	r = st->n - 1 - r; /* rank from the top */
	for (int32_t k = st->hi;; k--) {
		cum += cget(st, k);
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
	return sizeof(*s) + (size_t)s->st[POS].cap * store_esz(&s->st[POS]) +
	       (size_t)s->st[NEG].cap * store_esz(&s->st[NEG]);
}
