/* test_sketch: the DDSketch against exact order statistics (sorted data,
 * rank floor(q (n - 1))) over many distributions and both accuracies; merge
 * equals the sketch of the union, subtract undoes merge, the frozen form
 * round-trips and equals the live operations, collapsing conserves counts
 * and keeps the upper quantiles, and malformed frozen data is rejected with
 * the destination left untouched. Fixed seeds, our own PRNG. */
#include <CUnit/Basic.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sketch.h"

/* ---- data ------------------------------------------------------------- */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
}

static uint64_t rng_next(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double rng_unit(void) /* uniform in (0, 1) */
{
	return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void) /* Box-Muller */
{
	double u1 = rng_unit(), u2 = rng_unit();
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

enum dist {
	D_UNIFORM,   /* U(0, 1000) */
	D_LOGNORMAL, /* exp(N(3, 1)) */
	D_BIMODAL,   /* N(100, 10) or N(1000, 50) */
	D_PARETO,    /* xm = 1, alpha = 1.5, by inverse CDF */
	D_CONSTANT,  /* 42.5 */
	D_NEGATIVE,  /* -exp(N(2, 1.5)) */
	D_MIXED,     /* N(0, 100) with 10% exact zeros (some -0.0) */
	D_WIDE,      /* 10^U(-9, 9) */
	D_WIDE_LOGN, /* exp(N(3, 2)) */
	D_NCOUNT
};

static double draw(enum dist d)
{
	switch (d) {
	case D_UNIFORM:
		return 1000.0 * rng_unit();
	case D_LOGNORMAL:
		return exp(3.0 + rng_normal());
	case D_BIMODAL:
		return rng_unit() < 0.5 ? 100.0 + 10.0 * rng_normal()
		                        : 1000.0 + 50.0 * rng_normal();
	case D_PARETO:
		return 1.0 / pow(rng_unit(), 1.0 / 1.5);
	case D_CONSTANT:
		return 42.5;
	case D_NEGATIVE:
		return -exp(2.0 + 1.5 * rng_normal());
	case D_MIXED: {
		double u = rng_unit();
		if (u < 0.05)
			return 0.0;
		if (u < 0.1)
			return -0.0;
		return 100.0 * rng_normal();
	}
	case D_WIDE:
		return pow(10.0, -9.0 + 18.0 * rng_unit());
	case D_WIDE_LOGN:
		return exp(3.0 + 2.0 * rng_normal());
	default:
		return 0.0;
	}
}

static double *gen(enum dist d, size_t n, uint64_t seed)
{
	double *v = malloc((n ? n : 1) * sizeof(double));
	rng_seed(seed);
	for (size_t i = 0; i < n; i++)
		v[i] = draw(d);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double exact_quantile(const double *sorted, size_t n, double q)
{
	return sorted[(size_t)floor(q * (double)(n - 1))];
}

static bool within(double est, double exact, double a)
{
	return fabs(est - exact) <= a * fabs(exact);
}

static struct sketch *sketch_of(const double *v, size_t n, double a, size_t maxb)
{
	struct sketch *s = sketch_new(a, maxb);
	for (size_t i = 0; i < n; i++)
		sketch_add(s, v[i]);
	return s;
}

/* Two sketches hold the same state iff their frozen forms are equal: the
 * encoding is canonical (buckets, ranges, collapse marks, zero count). */
static bool same_state(const struct sketch *x, const struct sketch *y)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	sketch_freeze(x, &a);
	sketch_freeze(y, &b);
	bool same = a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
	buf_free(&a);
	buf_free(&b);
	return same;
}

static const double qs[] = {0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1};
#define NQ (sizeof(qs) / sizeof(qs[0]))
static const double accs[] = {0.01, 0.05};
#define NACC (sizeof(accs) / sizeof(accs[0]))

/* ---- accuracy against exact order statistics --------------------------- */

struct dcase {
	const char *name;
	enum dist d;
	size_t n;
};

static const struct dcase dcases[] = {
    {"uniform", D_UNIFORM, 20000},
    {"lognormal", D_LOGNORMAL, 20000},
    {"bimodal", D_BIMODAL, 20000},
    {"pareto", D_PARETO, 20000},
    {"constant", D_CONSTANT, 1000},
    {"n=1", D_LOGNORMAL, 1},
    {"n=2", D_LOGNORMAL, 2},
    {"n=3", D_MIXED, 3},
    {"n=5", D_LOGNORMAL, 5},
    {"negative", D_NEGATIVE, 20000},
    {"mixed+zeros", D_MIXED, 20000},
    {"1e-9..1e9", D_WIDE, 20000},
    {"wide lognormal", D_WIDE_LOGN, 20000},
};
#define NDCASES (sizeof(dcases) / sizeof(dcases[0]))

static void test_accuracy(void)
{
	for (size_t c = 0; c < NDCASES; c++) {
		for (size_t ai = 0; ai < NACC; ai++) {
			const struct dcase *dc = &dcases[c];
			double a = accs[ai];
			double *v = gen(dc->d, dc->n, 1000 + c);
			struct sketch *s = sketch_of(v, dc->n, a, 4096);
			qsort(v, dc->n, sizeof(double), cmp_double);
			CU_ASSERT_EQUAL(sketch_count(s), dc->n);
			for (size_t i = 0; i < NQ; i++) {
				double exact = exact_quantile(v, dc->n, qs[i]);
				double est = sketch_quantile(s, qs[i]);
				if (!within(est, exact, a)) {
					fprintf(stderr, "%s a=%g q=%g: est %.17g exact %.17g\n",
					        dc->name, a, qs[i], est, exact);
					CU_FAIL("quantile outside the relative accuracy");
				}
			}
			sketch_free(s);
			free(v);
		}
	}
}

/* Single values over the whole double range, and the ulps around bucket
 * boundaries found by bisection through the public API: every one within
 * the accuracy, and the estimate never decreases as the value grows. */
static double single(struct sketch *s, double v)
{
	sketch_clear(s);
	sketch_add(s, v);
	return sketch_quantile(s, 0.5);
}

static const double boundary_starts[] = {1e-300, 3e-9, 1.0, 37.0, 1e9, 1e300, -1.0, -5e7};
static const double boundary_accs[] = {0.01, 0.05, 0.002, 1e-5, 0.4};

static void test_boundaries(void)
{
	size_t nacc = sizeof(boundary_accs) / sizeof(boundary_accs[0]);
	size_t nstart = sizeof(boundary_starts) / sizeof(boundary_starts[0]);
	size_t found = 0;
	for (size_t ai = 0; ai < nacc; ai++) {
		double a = boundary_accs[ai];
		struct sketch *s = sketch_new(a, 64);
		for (size_t si = 0; si < nstart; si++) {
			double x = boundary_starts[si], e0 = single(s, x), y = x;
			/* walk up (in |v|) until the bucket changes, then bisect */
			for (int step = 0; step < 64 && single(s, y) == e0; step++)
				y = y * (1.0 + a / 4);
			if (single(s, y) == e0)
				continue;
			while (nextafter(x, y) != y) {
				double m = x + (y - x) / 2;
				if (m == x || m == y)
					break;
				if (single(s, m) == e0)
					x = m;
				else
					y = m;
			}
			found++;
			double w = x, prev = NAN;
			for (int i = 0; i < 16; i++)
				w = nextafter(w, 0.0);
			for (int i = 0; i < 34; i++) {
				double est = single(s, w);
				CU_ASSERT(within(est, w, a));
				if (!isnan(prev)) /* away from zero: |estimate| grows */
					CU_ASSERT(fabs(est) >= fabs(prev));
				prev = est;
				w = nextafter(w, x > 0 ? INFINITY : -INFINITY);
			}
		}
		sketch_free(s);
	}
	CU_ASSERT(found >= nacc * nstart - 2);

	/* random doubles over the whole normal range, both signs */
	struct sketch *s = sketch_new(0.01, 64);
	rng_seed(77);
	for (int i = 0; i < 200000; i++) {
		uint64_t bits = rng_next() & 0x7FFFFFFFFFFFFFFFull;
		double v;
		memcpy(&v, &bits, sizeof(v));
		if (!isfinite(v) || v < DBL_MIN)
			continue;
		if (i & 1)
			v = -v;
		double est = single(s, v);
		if (!within(est, v, 0.01)) {
			fprintf(stderr, "single %.17g -> %.17g\n", v, est);
			CU_FAIL("single value outside the relative accuracy");
		}
	}
	sketch_free(s);
}

struct special {
	double v;
	bool accepted;
	bool is_zero; /* counted as zero (|v| < DBL_MIN) */
};

static const struct special specials[] = {
    {NAN, false, false},    {INFINITY, false, false}, {-INFINITY, false, false},
    {0.0, true, true},      {-0.0, true, true},       {4.9e-324, true, true},
    {-1e-310, true, true},  {DBL_MIN, true, false},   {-DBL_MIN, true, false},
    {DBL_MAX, true, false}, {-DBL_MAX, true, false},  {1.0, true, false},
    {-1.0, true, false},    {2.5e-308, true, false},  {1.7e308, true, false},
};

static void test_specials(void)
{
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		const struct special *sp = &specials[i];
		for (size_t ai = 0; ai < NACC; ai++) {
			struct sketch *s = sketch_new(accs[ai], 128);
			CU_ASSERT_EQUAL(sketch_add(s, sp->v), sp->accepted);
			CU_ASSERT_EQUAL(sketch_count(s), sp->accepted ? 1u : 0u);
			double est = sketch_quantile(s, 0.5);
			bool good;
			if (!sp->accepted)
				good = isnan(est);
			else if (sp->is_zero)
				good = est == 0.0;
			else
				good = isfinite(est) && within(est, sp->v, accs[ai]);
			CU_ASSERT(good);
			sketch_free(s);
		}
	}
}

/* The topmost bucket's value may exceed DBL_MAX: it is clamped, so +-DBL_MAX
 * stay finite and within the accuracy for every accuracy. */
static void test_dbl_max(void)
{
	for (int k = 1; k <= 500; k++) {
		double a = 0.001 * k;
		struct sketch *s = sketch_new(a, 16);
		CU_ASSERT(sketch_add(s, DBL_MAX));
		CU_ASSERT(sketch_add(s, -DBL_MAX));
		double hi = sketch_quantile(s, 1), lo = sketch_quantile(s, 0);
		CU_ASSERT(isfinite(hi) && within(hi, DBL_MAX, a));
		CU_ASSERT(isfinite(lo) && within(lo, -DBL_MAX, a));
		sketch_free(s);
	}
}

struct newcase {
	double a;
	size_t maxb;
	bool ok;
};

static const struct newcase newcases[] = {
    {0.0, 100, false},  {1.0, 100, false},     {-0.01, 100, false},     {NAN, 100, false},
    {1e-6, 100, false}, {0.01, 0, false},      {0.01, 1u << 21, false}, {0.01, 1, true},
    {1e-5, 10, true},   {0.5, 2048, true},     {0.999, 8, true},        {0.01, 1u << 20, true},
    {0.05, 2048, true}, {INFINITY, 10, false},
};

static void test_new_and_empty(void)
{
	for (size_t i = 0; i < sizeof(newcases) / sizeof(newcases[0]); i++) {
		struct sketch *s = sketch_new(newcases[i].a, newcases[i].maxb);
		CU_ASSERT_EQUAL(s != NULL, newcases[i].ok);
		if (!s)
			continue;
		CU_ASSERT_EQUAL(sketch_count(s), 0u);
		CU_ASSERT(isnan(sketch_quantile(s, 0.5)));
		CU_ASSERT(sketch_add(s, 3.0));
		CU_ASSERT(isnan(sketch_quantile(s, -0.1)));
		CU_ASSERT(isnan(sketch_quantile(s, 1.1)));
		CU_ASSERT(isnan(sketch_quantile(s, NAN)));
		CU_ASSERT(within(sketch_quantile(s, 1.0), 3.0, newcases[i].a));
		sketch_free(s);
	}
	sketch_free(NULL);

	/* clear gives back an empty sketch, equal to a new one */
	struct sketch *s = sketch_new(0.01, 2048), *e = sketch_new(0.01, 2048);
	for (int i = -50; i < 50; i++)
		sketch_add(s, i * 1.5);
	size_t full = sketch_memory(s);
	sketch_clear(s);
	CU_ASSERT_EQUAL(sketch_count(s), 0u);
	CU_ASSERT(isnan(sketch_quantile(s, 0.5)));
	CU_ASSERT(same_state(s, e));
	CU_ASSERT(sketch_memory(s) < full);
	CU_ASSERT(sketch_memory(s) == sketch_memory(e));
	sketch_free(s);
	sketch_free(e);
}

/* ---- merge, subtract, frozen ------------------------------------------- */

struct mcase {
	const char *name;
	enum dist d;
	size_t n;
	size_t maxb;
};

static const struct mcase mcases[] = {
    {"lognormal", D_LOGNORMAL, 5000, 2048},
    {"mixed+zeros", D_MIXED, 5000, 2048},
    {"negative", D_NEGATIVE, 3000, 2048},
    {"1e-9..1e9", D_WIDE, 5000, 4096},
    {"pareto", D_PARETO, 5000, 2048},
    {"n=1", D_LOGNORMAL, 1, 2048},
    {"n=2", D_MIXED, 2, 2048},
    {"constant", D_CONSTANT, 100, 2048},
    {"collapsing pos", D_WIDE, 5000, 100},
    {"collapsing mixed", D_MIXED, 5000, 40},
    {"collapsing neg", D_NEGATIVE, 5000, 30},
    {"maxb=1", D_WIDE_LOGN, 500, 1},
};
#define NMCASES (sizeof(mcases) / sizeof(mcases[0]))

static void freeze_to(const struct sketch *s, struct buf *b)
{
	buf_reset(b);
	sketch_freeze(s, b);
}

static void test_merge_union(void)
{
	for (size_t c = 0; c < NMCASES; c++) {
		for (size_t ai = 0; ai < NACC; ai++) {
			const struct mcase *mc = &mcases[c];
			double a = accs[ai];
			double *v = gen(mc->d, mc->n, 2000 + c);
			struct sketch *sa = sketch_new(a, mc->maxb), *sb = sketch_new(a, mc->maxb);
			struct sketch *all = sketch_of(v, mc->n, a, mc->maxb);
			rng_seed(3000 + c);
			for (size_t i = 0; i < mc->n; i++)
				sketch_add(rng_next() & 1 ? sa : sb, v[i]);

			struct sketch *m = sketch_new(a, mc->maxb);
			CU_ASSERT_EQUAL(sketch_merge(m, sa), 0);
			CU_ASSERT(same_state(m, sa));
			CU_ASSERT_EQUAL(sketch_merge(m, sb), 0);
			CU_ASSERT_EQUAL(sketch_count(m), mc->n);
			if (!same_state(m, all)) {
				fprintf(stderr, "merge != union: %s a=%g\n", mc->name, a);
				CU_FAIL("merge differs from the sketch of the union");
			}
			for (size_t i = 0; i < NQ; i++) {
				double x = sketch_quantile(m, qs[i]),
				       y = sketch_quantile(all, qs[i]);
				CU_ASSERT(x == y || (isnan(x) && isnan(y)));
			}

			/* the same through the frozen form */
			struct buf fa = BUF_INIT, fb = BUF_INIT;
			freeze_to(sa, &fa);
			freeze_to(sb, &fb);
			struct sketch *mf = sketch_new(a, mc->maxb);
			CU_ASSERT_EQUAL(sketch_merge_frozen(mf, fa.p, fa.len), 0);
			CU_ASSERT_EQUAL(sketch_merge_frozen(mf, fb.p, fb.len), 0);
			CU_ASSERT(same_state(mf, all));

			/* merge in the other order */
			struct sketch *m2 = sketch_new(a, mc->maxb);
			CU_ASSERT_EQUAL(sketch_merge(m2, sb), 0);
			CU_ASSERT_EQUAL(sketch_merge(m2, sa), 0);
			CU_ASSERT(same_state(m2, all));
			/* a sketch merged into and subtracted from itself */
			CU_ASSERT_EQUAL(sketch_merge(m2, m2), 0);
			CU_ASSERT_EQUAL(sketch_count(m2), 2 * mc->n);
			CU_ASSERT_EQUAL(sketch_subtract(m2, all), 0);
			CU_ASSERT(same_state(m2, all));
			CU_ASSERT_EQUAL(sketch_subtract(m2, m2), 0);
			CU_ASSERT_EQUAL(sketch_count(m2), 0u);

			/* subtract undoes merge exactly when nothing collapsed; with
			 * collapsing it conserves the counts */
			bool collapses = mc->maxb < 1000;
			CU_ASSERT_EQUAL(sketch_subtract(m, sb), 0);
			CU_ASSERT_EQUAL(sketch_subtract_frozen(mf, fb.p, fb.len), 0);
			CU_ASSERT_EQUAL(sketch_count(m), sketch_count(sa));
			CU_ASSERT(same_state(m, mf));
			if (!collapses)
				CU_ASSERT(same_state(m, sa));
			CU_ASSERT_EQUAL(sketch_subtract(m, sa), 0);
			CU_ASSERT_EQUAL(sketch_subtract_frozen(mf, fa.p, fa.len), 0);
			CU_ASSERT_EQUAL(sketch_count(m), 0u);
			CU_ASSERT_EQUAL(sketch_count(mf), 0u);
			CU_ASSERT(isnan(sketch_quantile(m, 0.5)));
			CU_ASSERT(same_state(m, mf));

			/* a sketch that was not merged in cannot be subtracted */
			if (sketch_count(sa) > 0) {
				struct buf before = BUF_INIT;
				freeze_to(sb, &before);
				struct buf fall = BUF_INIT;
				freeze_to(all, &fall);
				CU_ASSERT_EQUAL(sketch_subtract(sb, all), -1);
				CU_ASSERT_EQUAL(sketch_subtract_frozen(sb, fall.p, fall.len), -1);
				buf_free(&fall);
				struct buf after = BUF_INIT;
				freeze_to(sb, &after);
				CU_ASSERT(before.len == after.len &&
				          memcmp(before.p, after.p, before.len) == 0);
				buf_free(&before);
				buf_free(&after);
			}
			buf_free(&fa);
			buf_free(&fb);
			sketch_free(sa);
			sketch_free(sb);
			sketch_free(all);
			sketch_free(m);
			sketch_free(mf);
			sketch_free(m2);
			free(v);
		}
	}
}

/* Subtracting something that was not merged in is refused, dst unchanged. */
struct subcase {
	const char *name;
	double dst[4];
	size_t ndst;
	double src[4];
	size_t nsrc;
	int want;
};

static const struct subcase subcases[] = {
    {"other bucket, same count", {1, 2}, 2, {1, 3}, 2, -1},
    {"other sign", {1}, 1, {-1}, 1, -1},
    {"too many zeros", {0}, 1, {0, 0}, 2, -1},
    {"too many in a bucket", {5, 5}, 2, {5, 5, 5}, 3, -1},
    {"one too many in a bucket", {5, 5, 7}, 3, {5, 5, 5}, 3, -1},
    {"positive fits, negative not", {1, -1}, 2, {1, -2}, 2, -1},
    {"from empty", {0}, 0, {7}, 1, -1},
    {"contained", {1, 2, 3}, 3, {2}, 1, 0},
    {"contained mixed", {-1, 0, 1}, 3, {0, -1}, 2, 0},
    {"empty from empty", {0}, 0, {0}, 0, 0},
};

static void test_subtract_refused(void)
{
	for (size_t i = 0; i < sizeof(subcases) / sizeof(subcases[0]); i++) {
		const struct subcase *sc = &subcases[i];
		struct sketch *d1 = sketch_of(sc->dst, sc->ndst, 0.01, 2048);
		struct sketch *d2 = sketch_of(sc->dst, sc->ndst, 0.01, 2048);
		struct sketch *ref = sketch_of(sc->dst, sc->ndst, 0.01, 2048);
		struct sketch *src = sketch_of(sc->src, sc->nsrc, 0.01, 2048);
		struct buf f = BUF_INIT;
		sketch_freeze(src, &f);
		CU_ASSERT_EQUAL(sketch_subtract(d1, src), sc->want);
		CU_ASSERT_EQUAL(sketch_subtract_frozen(d2, f.p, f.len), sc->want);
		CU_ASSERT(same_state(d1, d2));
		if (sc->want < 0) {
			CU_ASSERT(same_state(d1, ref));
		} else {
			CU_ASSERT_EQUAL(sketch_count(d1), sc->ndst - sc->nsrc);
			CU_ASSERT_EQUAL(sketch_merge(d1, src), 0);
			CU_ASSERT(same_state(d1, ref));
		}
		buf_free(&f);
		sketch_free(d1);
		sketch_free(d2);
		sketch_free(ref);
		sketch_free(src);
	}
}

/* ---- collapsing -------------------------------------------------------- */

struct ccase {
	const char *name;
	enum dist d;
	size_t n;
	double a;
	size_t maxb;
};

static const struct ccase ccases[] = {
    {"lognormal s=2", D_WIDE_LOGN, 20000, 0.01, 512},
    {"lognormal s=2", D_WIDE_LOGN, 20000, 0.05, 64},
    {"1e-9..1e9", D_WIDE, 20000, 0.01, 256},
    {"pareto", D_PARETO, 20000, 0.01, 300},
    {"negative", D_NEGATIVE, 20000, 0.01, 256},
    {"mixed", D_MIXED, 20000, 0.05, 32},
};

static void test_collapsing(void)
{
	for (size_t c = 0; c < sizeof(ccases) / sizeof(ccases[0]); c++) {
		const struct ccase *cc = &ccases[c];
		double *v = gen(cc->d, cc->n, 4000 + c);
		struct sketch *s = sketch_of(v, cc->n, cc->a, cc->maxb);
		qsort(v, cc->n, sizeof(double), cmp_double);
		CU_ASSERT_EQUAL(sketch_count(s), cc->n);
		CU_ASSERT(sketch_memory(s) <= 512 + 2 * cc->maxb * sizeof(uint64_t));

		/* The buckets kept are the top maxb keys of each store: positive
		 * values down to max / gamma^maxb, negative ones out to
		 * min|v| * gamma^maxb (two keys of slack for rounding). */
		double gamma = (1 + cc->a) / (1 - cc->a), reach = pow(gamma, (double)cc->maxb - 3);
		double maxpos = 0, minneg = INFINITY;
		for (size_t i = 0; i < cc->n; i++) {
			if (v[i] > 0)
				maxpos = v[i];
			else if (v[i] < 0 && -v[i] < minneg)
				minneg = -v[i];
		}
		for (size_t i = 0; i < NQ; i++) {
			double exact = exact_quantile(v, cc->n, qs[i]);
			double est = sketch_quantile(s, qs[i]);
			bool kept = exact == 0 || (exact > 0 && exact >= maxpos / reach) ||
			            (exact < 0 && -exact <= minneg * reach);
			if (qs[i] >= 0.9)
				CU_ASSERT(kept); /* the cases are built so the top is kept */
			if (kept && !within(est, exact, cc->a)) {
				fprintf(stderr, "collapse %s q=%g: est %.17g exact %.17g\n",
				        cc->name, qs[i], est, exact);
				CU_FAIL("kept quantile outside the relative accuracy");
			}
		}
		/* and collapsing did happen: the minimum is folded upward */
		CU_ASSERT(!within(sketch_quantile(s, 0), v[0], cc->a));
		CU_ASSERT(sketch_quantile(s, 0) > v[0]);
		sketch_free(s);
		free(v);
	}
}

/* The collapsed mark clears once the folded values are subtracted: a low
 * value added afterwards gets its own accurate bucket again. */
struct markcase {
	double a;
	size_t maxb;
	double sign;
};

static const struct markcase markcases[] = {
    {0.05, 8, 1},
    {0.01, 16, 1},
    {0.05, 8, -1},
    {0.02, 3, -1},
};

static void test_collapse_mark(void)
{
	for (size_t i = 0; i < sizeof(markcases) / sizeof(markcases[0]); i++) {
		const struct markcase *mc = &markcases[i];
		double gamma = (1 + mc->a) / (1 - mc->a), top = mc->sign * 1e6;
		/* the lowest keys collapse: small positives, large negatives */
		double step = mc->sign > 0 ? 1 / gamma : gamma;
		double near = top * pow(step, (double)mc->maxb - 2);  /* inside the span */
		double far = top * pow(step, 3.0 * (double)mc->maxb); /* beyond it */
		struct sketch *s = sketch_new(mc->a, mc->maxb), *low = sketch_new(mc->a, mc->maxb);
		struct sketch *high = sketch_new(mc->a, mc->maxb);
		sketch_add(low, far);
		sketch_add(high, top);
		CU_ASSERT_EQUAL(sketch_merge(s, low), 0);
		CU_ASSERT_EQUAL(sketch_merge(s, high), 0);
		CU_ASSERT(!within(sketch_quantile(s, 0), far, mc->a)); /* folded */
		CU_ASSERT_EQUAL(sketch_subtract(s, low), 0);
		CU_ASSERT_EQUAL(sketch_count(s), 1u);
		sketch_add(s, near);
		CU_ASSERT(within(sketch_quantile(s, 0), near, mc->a));
		CU_ASSERT(within(sketch_quantile(s, 1), top, mc->a));
		sketch_free(s);
		sketch_free(low);
		sketch_free(high);
	}
}

/* A window kept as a running sum: add the newest slice, subtract the one
 * that falls out (live and frozen alternately). Counts stay exact; without
 * collapsing the window equals the sum of its slices built afresh. */
struct wcase {
	const char *name;
	double a;
	size_t maxb;
	size_t width; /* slices in the window */
};

static const struct wcase wcases[] = {
    {"exact", 0.01, 4096, 6},
    {"collapsing", 0.05, 24, 7},
    {"collapsing 1 bucket", 0.01, 1, 3},
};

#define WSTEPS 50
#define WSLICE 200

static void test_window_running_sum(void)
{
	static const enum dist mix[] = {D_WIDE, D_NEGATIVE, D_MIXED, D_WIDE_LOGN, D_LOGNORMAL};
	for (size_t c = 0; c < sizeof(wcases) / sizeof(wcases[0]); c++) {
		const struct wcase *wc = &wcases[c];
		struct sketch *slices[WSTEPS];
		struct buf frozen[WSTEPS];
		struct sketch *win = sketch_new(wc->a, wc->maxb);
		struct sketch *empty = sketch_new(wc->a, wc->maxb);
		rng_seed(5000 + c);
		for (size_t t = 0; t < WSTEPS; t++) {
			slices[t] = sketch_new(wc->a, wc->maxb);
			enum dist d = mix[t % 5];
			size_t n = (size_t)(rng_next() % WSLICE);
			for (size_t i = 0; i < n; i++)
				sketch_add(slices[t], draw(d));
			frozen[t] = (struct buf)BUF_INIT;
			sketch_freeze(slices[t], &frozen[t]);
			CU_ASSERT_EQUAL(sketch_merge(win, slices[t]), 0);
			if (t >= wc->width) {
				size_t old = t - wc->width;
				int rc = (t & 1) ? sketch_subtract(win, slices[old])
				                 : sketch_subtract_frozen(win, frozen[old].p,
				                                          frozen[old].len);
				CU_ASSERT_EQUAL(rc, 0);
			}
			uint64_t want = 0;
			size_t first = t + 1 >= wc->width ? t + 1 - wc->width : 0;
			struct sketch *fresh = sketch_new(wc->a, wc->maxb);
			for (size_t i = first; i <= t; i++) {
				want += sketch_count(slices[i]);
				sketch_merge(fresh, slices[i]);
			}
			CU_ASSERT_EQUAL(sketch_count(win), want);
			if (wc->maxb >= 4096)
				CU_ASSERT(same_state(win, fresh));
			sketch_free(fresh);
		}
		for (size_t t = WSTEPS - wc->width; t < WSTEPS; t++)
			CU_ASSERT_EQUAL(sketch_subtract(win, slices[t]), 0);
		CU_ASSERT_EQUAL(sketch_count(win), 0u);
		CU_ASSERT(same_state(win, empty));
		for (size_t t = 0; t < WSTEPS; t++) {
			sketch_free(slices[t]);
			buf_free(&frozen[t]);
		}
		sketch_free(win);
		sketch_free(empty);
	}
}

/* ---- accuracy mismatch -------------------------------------------------- */

struct acase {
	double dst, src;
	size_t dst_maxb, src_maxb;
	int want;
};

static const struct acase acases[] = {
    {0.01, 0.05, 2048, 2048, -1},
    {0.05, 0.01, 2048, 2048, -1},
    {0.01, 0.0100000001, 2048, 2048, -1},
    {0.01, 0.01, 2048, 512, 0}, /* the bound may differ */
};

static void test_mismatch(void)
{
	for (size_t i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		const struct acase *ac = &acases[i];
		double *v = gen(D_MIXED, 500, 6000 + i);
		struct sketch *d = sketch_of(v, 500, ac->dst, ac->dst_maxb);
		struct sketch *ref = sketch_of(v, 500, ac->dst, ac->dst_maxb);
		struct sketch *src = sketch_of(v, 100, ac->src, ac->src_maxb);
		struct buf f = BUF_INIT;
		sketch_freeze(src, &f);
		CU_ASSERT_EQUAL(sketch_merge(d, src), ac->want);
		if (ac->want == 0)
			CU_ASSERT_EQUAL(sketch_subtract(d, src), 0);
		CU_ASSERT(same_state(d, ref));
		CU_ASSERT_EQUAL(sketch_merge_frozen(d, f.p, f.len), ac->want);
		if (ac->want == 0)
			CU_ASSERT_EQUAL(sketch_subtract_frozen(d, f.p, f.len), 0);
		CU_ASSERT(same_state(d, ref));
		CU_ASSERT_EQUAL(sketch_subtract(d, src), ac->want);
		if (ac->want == 0)
			CU_ASSERT_EQUAL(sketch_merge(d, src), 0);
		CU_ASSERT_EQUAL(sketch_subtract_frozen(d, f.p, f.len), ac->want);
		if (ac->want == 0)
			CU_ASSERT_EQUAL(sketch_merge_frozen(d, f.p, f.len), 0);
		CU_ASSERT(same_state(d, ref));
		buf_free(&f);
		sketch_free(d);
		sketch_free(ref);
		sketch_free(src);
		free(v);
	}
}

/* ---- frozen form -------------------------------------------------------- */

static const double rt_accs[] = {0.01, 0.05, 0.002, 0.3};
static const size_t rt_maxb[] = {1, 16, 64, 2048};

static struct sketch *random_sketch(double *a, size_t *maxb)
{
	*a = rt_accs[rng_next() % 4];
	*maxb = rt_maxb[rng_next() % 4];
	struct sketch *s = sketch_new(*a, *maxb);
	size_t n = (size_t)(rng_next() % 3000);
	if (rng_next() % 8 == 0)
		n = rng_next() % 3;
	for (size_t i = 0; i < n; i++) {
		enum dist d = (enum dist)(rng_next() % D_NCOUNT);
		double x = draw(d);
		if (rng_next() % 4 == 0)
			x = -x;
		sketch_add(s, x);
	}
	return s;
}

static void test_freeze_round_trip(void)
{
	rng_seed(7000);
	for (int i = 0; i < 300; i++) {
		double a;
		size_t maxb;
		struct sketch *s = random_sketch(&a, &maxb);
		struct buf f = BUF_INIT;
		sketch_freeze(s, &f);
		struct sketch *r = sketch_new(a, maxb);
		CU_ASSERT_EQUAL(sketch_merge_frozen(r, f.p, f.len), 0);
		CU_ASSERT(same_state(r, s));
		CU_ASSERT_EQUAL(sketch_count(r), sketch_count(s));
		for (size_t q = 0; q < NQ; q++) {
			double x = sketch_quantile(r, qs[q]), y = sketch_quantile(s, qs[q]);
			CU_ASSERT(x == y || (isnan(x) && isnan(y)));
		}
		/* freezing appends: a second copy after the first decodes too */
		size_t first = f.len;
		sketch_freeze(s, &f);
		CU_ASSERT_EQUAL(f.len, 2 * first);
		CU_ASSERT(memcmp(f.p, f.p + first, first) == 0);
		CU_ASSERT_EQUAL(sketch_subtract_frozen(r, f.p + first, first), 0);
		CU_ASSERT_EQUAL(sketch_count(r), 0u);
		/* the two copies together are one malformed encoding */
		CU_ASSERT_EQUAL(sketch_merge_frozen(r, f.p, f.len), -1);
		CU_ASSERT_EQUAL(sketch_count(r), 0u);
		buf_free(&f);
		sketch_free(s);
		sketch_free(r);
	}
}

/* The trusted merge and subtract of a frozen sketch (one walk) leave the
 * same state and return the same as the checked ones, on random sketches
 * (collapsing included) and when a subtraction is refused half way (the
 * positive store taken, the negative not contained: dst unchanged). */
static void test_trusted(void)
{
	unsigned refused = 0;
	rng_seed(7100);
	for (int i = 0; i < 300; i++) {
		double a;
		size_t maxb;
		struct sketch *s = random_sketch(&a, &maxb), *base = NULL;
		size_t mb;
		for (;;) { /* a base of the same accuracy */
			double ab;
			base = random_sketch(&ab, &mb);
			if (ab == a)
				break;
			sketch_free(base);
		}
		struct sketch *x = sketch_new(a, maxb), *y = sketch_new(a, maxb);
		struct buf f = BUF_INIT;
		sketch_freeze(s, &f);
		sketch_merge(x, base);
		sketch_merge(y, base);
		CU_ASSERT_EQUAL(sketch_merge_frozen(x, f.p, f.len), 0);
		CU_ASSERT_EQUAL(sketch_merge_frozen_trusted(y, f.p, f.len), 0);
		CU_ASSERT(same_state(x, y));
		CU_ASSERT_EQUAL(sketch_count(x), sketch_count(y));
		int rx = sketch_subtract_frozen(x, f.p, f.len);
		int ry = sketch_subtract_frozen_trusted(y, f.p, f.len);
		CU_ASSERT_EQUAL(rx, ry);
		CU_ASSERT(same_state(x, y));
		CU_ASSERT_EQUAL(sketch_count(x), sketch_count(y));
		/* from the base alone: refused unless s happens to be inside it */
		struct sketch *z = sketch_new(a, mb);
		sketch_merge(z, base);
		CU_ASSERT(same_state(z, base));
		rx = sketch_subtract_frozen(base, f.p, f.len);
		refused += rx < 0;
		CU_ASSERT_EQUAL(sketch_subtract_frozen_trusted(z, f.p, f.len), rx);
		CU_ASSERT(same_state(z, base));
		CU_ASSERT_EQUAL(sketch_count(z), sketch_count(base));
		sketch_free(z);
		buf_free(&f);
		sketch_free(s);
		sketch_free(base);
		sketch_free(x);
		sketch_free(y);
	}
	CU_ASSERT(refused > 100 && refused < 300); /* both outcomes tried */
	static const double sv[] = {1, 2, 3, -1, -2}, dv[] = {1, 2, 3, 4, -5};
	struct sketch *s = sketch_of(sv, 5, 0.01, 2048), *d = sketch_of(dv, 5, 0.01, 2048);
	struct buf f = BUF_INIT, before = BUF_INIT, after = BUF_INIT;
	sketch_freeze(s, &f);
	sketch_freeze(d, &before);
	CU_ASSERT_EQUAL(sketch_subtract_frozen_trusted(d, f.p, f.len), -1);
	sketch_freeze(d, &after);
	CU_ASSERT(before.len == after.len && memcmp(before.p, after.p, before.len) == 0);
	CU_ASSERT_EQUAL(sketch_count(d), 5u);
	f.p[2] ^= 1; /* another accuracy: refused by the header check */
	CU_ASSERT_EQUAL(sketch_merge_frozen_trusted(d, f.p, f.len), -1);
	CU_ASSERT_FALSE(sketch_frozen_valid(d, f.p, f.len));
	f.p[2] ^= 1;
	CU_ASSERT_TRUE(sketch_frozen_valid(d, f.p, f.len));
	CU_ASSERT_FALSE(sketch_frozen_valid(d, f.p, f.len - 1));
	buf_free(&f);
	buf_free(&before);
	buf_free(&after);
	sketch_free(s);
	sketch_free(d);
}

/* Applies data to dst: either refused with dst unchanged, or accepted and
 * then undone by subtracting the same data (counts conserved; the state may
 * differ only when a far-off key made dst collapse). */
static void check_robust(struct sketch *dst, const void *data, size_t len, size_t *accepted)
{
	struct buf before = BUF_INIT, after = BUF_INIT;
	uint64_t count = sketch_count(dst);
	sketch_freeze(dst, &before);
	if (sketch_merge_frozen(dst, data, len) == 0) {
		(*accepted)++;
		CU_ASSERT_EQUAL(sketch_subtract_frozen(dst, data, len), 0);
		CU_ASSERT_EQUAL(sketch_count(dst), count);
	} else {
		CU_ASSERT_EQUAL(sketch_subtract_frozen(dst, data, len), -1);
		sketch_freeze(dst, &after);
		CU_ASSERT(before.len == after.len && memcmp(before.p, after.p, before.len) == 0);
	}
	buf_free(&before);
	buf_free(&after);
}

static void test_corrupt(void)
{
	static const enum dist srcs[] = {D_LOGNORMAL, D_MIXED, D_WIDE, D_CONSTANT};
	static const uint8_t flips[] = {0x01, 0x02, 0x40, 0x80, 0xFF};
	size_t accepted = 0, tried = 0;
	for (size_t c = 0; c < sizeof(srcs) / sizeof(srcs[0]) + 1; c++) {
		size_t maxb = c == 2 ? 100 : 2048; /* case 2 collapses */
		size_t n = c < 4 ? 1000 : 0;
		double *v = gen(c < 4 ? srcs[c] : D_CONSTANT, n, 8000 + c);
		struct sketch *s = sketch_of(v, n, 0.01, maxb);
		struct buf f = BUF_INIT;
		sketch_freeze(s, &f);
		uint8_t *copy = malloc(f.len);

		/* every truncation is rejected, by merge and by subtract */
		struct sketch *other = sketch_of(v, n / 2, 0.01, 2048);
		struct sketch *other_ref = sketch_of(v, n / 2, 0.01, 2048);
		for (size_t len = 0; len < f.len; len++) {
			memcpy(copy, f.p, len);
			CU_ASSERT_EQUAL(sketch_merge_frozen(other, copy, len), -1);
			CU_ASSERT_EQUAL(sketch_subtract_frozen(s, copy, len), -1);
		}
		CU_ASSERT(same_state(other, other_ref));
		CU_ASSERT_EQUAL(sketch_count(s), n);

		/* every byte flipped: refused untouched, or accepted and undone */
		for (size_t pos = 0; pos < f.len; pos++) {
			for (size_t k = 0; k < sizeof(flips); k++) {
				memcpy(copy, f.p, f.len);
				copy[pos] ^= flips[k];
				check_robust(other, copy, f.len, &accepted);
				tried++;
			}
		}
		CU_ASSERT_EQUAL(sketch_count(other), sketch_count(other_ref));
		buf_free(&f);
		free(copy);
		sketch_free(s);
		sketch_free(other);
		sketch_free(other_ref);
		free(v);
	}
	CU_ASSERT(accepted > 0 && accepted < tried); /* both paths were taken */

	/* random bytes, half of them behind a valid header */
	struct sketch *d = sketch_new(0.01, 512), *ref = sketch_new(0.01, 512);
	struct buf head = BUF_INIT;
	sketch_freeze(d, &head); /* empty: magic, version, accuracy, flags, zero */
	uint8_t junk[96];
	rng_seed(9000);
	accepted = 0;
	for (int i = 0; i < 50000; i++) {
		size_t len = (size_t)(rng_next() % sizeof(junk));
		for (size_t j = 0; j < len; j++)
			junk[j] = (uint8_t)rng_next();
		if ((i & 1) && len > 11) {
			memcpy(junk, head.p, 10);
			junk[10] &= (uint8_t)rng_next(); /* fewer flags set */
		}
		check_robust(d, junk, len, &accepted);
	}
	CU_ASSERT(accepted > 0);
	CU_ASSERT_EQUAL(sketch_count(d), 0u);
	CU_ASSERT_EQUAL(sketch_merge_frozen(d, NULL, 0), -1);
	CU_ASSERT_EQUAL(sketch_merge_frozen(d, "", 0), -1);
	buf_free(&head);
	sketch_free(d);
	sketch_free(ref);
}

/* Hand-built encodings: header (magic, version, accuracy, flags) then
 * varints, then raw bytes. */
struct mal {
	const char *name;
	int magic, version; /* 0: the valid one */
	double acc;
	uint8_t flags;
	uint64_t v[8];
	size_t nv;
	const char *raw;
	size_t nraw;
	bool ok;
	uint64_t count; /* when ok */
};

#define U64MAX UINT64_MAX
static const struct mal mals[] = {
    {"zero only", 0, 0, 0.01, 0x00, {5}, 1, "", 0, true, 5},
    {"one bucket", 0, 0, 0.01, 0x01, {0, 6, 0, 4}, 4, "", 0, true, 5},
    {"two buckets kb=0", 0, 0, 0.01, 0x01, {0, 6, 2, 0, 0, 1}, 6, "", 0, true, 2},
    {"negative kb=2", 0, 0, 0.01, 0x82, {1, 19, 1, 2, 0}, 5, "", 0, true, 5},
    {"collapsed", 0, 0, 0.01, 0x05, {0, 6, 0, 0}, 4, "", 0, true, 1},
    {"bad magic", 0xD4, 0, 0.01, 0x00, {5}, 1, "", 0, false, 0},
    {"bad version", 0, 2, 0.01, 0x00, {5}, 1, "", 0, false, 0},
    {"other accuracy", 0, 0, 0.05, 0x00, {5}, 1, "", 0, false, 0},
    {"NaN accuracy", 0, 0, NAN, 0x00, {5}, 1, "", 0, false, 0},
    {"collapsed but empty", 0, 0, 0.01, 0x04, {0}, 1, "", 0, false, 0},
    {"kb on empty store", 0, 0, 0.01, 0x10, {0}, 1, "", 0, false, 0},
    {"no zero count", 0, 0, 0.01, 0x00, {0}, 0, "", 0, false, 0},
    {"trailing byte", 0, 0, 0.01, 0x00, {5, 0}, 2, "", 0, false, 0},
    {"lo out of range", 0, 0, 0.01, 0x01, {0, 200000000, 0, 0}, 4, "", 0, false, 0},
    {"lo beyond 2^32", 0, 0, 0.01, 0x01, {0, 1ull << 40, 0, 0}, 4, "", 0, false, 0},
    {"hi out of range", 0, 0, 0.01, 0x01, {0, 0, 100000000, 0}, 4, "", 0, false, 0},
    {"delta past hi", 0, 0, 0.01, 0x01, {0, 6, 2, 0, 0, 2}, 6, "", 0, false, 0},
    {"stops before hi", 0, 0, 0.01, 0x01, {0, 6, 2, 0}, 4, "", 0, false, 0},
    {"store count overflow", 0, 0, 0.01, 0x01, {0, 6, 1, U64MAX - 1, 0, 0}, 6, "", 0, false, 0},
    {"first count overflow", 0, 0, 0.01, 0x01, {0, 6, 0, U64MAX}, 4, "", 0, false, 0},
    {"kb=0 count overflow", 0, 0, 0.01, 0x01, {0, 6, 1, 0, U64MAX, 0}, 6, "", 0, false, 0},
    {"total overflow", 0, 0, 0.01, 0x01, {U64MAX, 6, 0, 0}, 4, "", 0, false, 0},
    {"escape overflow", 0, 0, 0.01, 0x11, {0, 6, 2, 0, 1, U64MAX}, 6, "", 0, false, 0},
    {"varint past 64 bits",
     0,
     0,
     0.01,
     0x00,
     {0},
     0,
     "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",
     10,
     false,
     0},
    {"varint of 11 bytes",
     0,
     0,
     0.01,
     0x00,
     {0},
     0,
     "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00",
     11,
     false,
     0},
    {"varint cut", 0, 0, 0.01, 0x00, {0}, 0, "\x80", 1, false, 0},
    {"max varint ok",
     0,
     0,
     0.01,
     0x00,
     {0},
     0,
     "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01",
     10,
     true,
     U64MAX - 1},
};

static void put_varint(struct buf *b, uint64_t v)
{
	while (v >= 0x80) {
		buf_putc(b, (char)(v | 0x80));
		v >>= 7;
	}
	buf_putc(b, (char)v);
}

static void test_malformed(void)
{
	for (size_t i = 0; i < sizeof(mals) / sizeof(mals[0]); i++) {
		const struct mal *m = &mals[i];
		struct buf b = BUF_INIT;
		uint64_t bits;
		memcpy(&bits, &m->acc, sizeof(bits));
		buf_putc(&b, (char)(m->magic ? m->magic : 0xD5));
		buf_putc(&b, (char)(m->version ? m->version : 1));
		for (int k = 0; k < 8; k++)
			buf_putc(&b, (char)(bits >> (8 * k)));
		buf_putc(&b, (char)m->flags);
		for (size_t k = 0; k < m->nv; k++)
			put_varint(&b, m->v[k]);
		buf_append(&b, m->raw, m->nraw);

		struct sketch *d = sketch_new(0.01, 2048), *ref = sketch_new(0.01, 2048);
		int rc = sketch_merge_frozen(d, b.p, b.len);
		if (rc != (m->ok ? 0 : -1))
			fprintf(stderr, "malformed case '%s': rc %d\n", m->name, rc);
		CU_ASSERT_EQUAL(rc, m->ok ? 0 : -1);
		if (m->ok) {
			CU_ASSERT_EQUAL(sketch_count(d), m->count);
			CU_ASSERT_EQUAL(sketch_subtract_frozen(d, b.p, b.len), 0);
		} else {
			CU_ASSERT_EQUAL(sketch_subtract_frozen(d, b.p, b.len), -1);
		}
		CU_ASSERT(same_state(d, ref));
		buf_free(&b);
		sketch_free(d);
		sketch_free(ref);
	}
}

/* The frozen form is compact: about a byte per non-empty bucket. */
static void test_frozen_size(void)
{
	double *v = gen(D_LOGNORMAL, 1000, 10000);
	struct sketch *s = sketch_of(v, 1000, 0.01, 2048);
	struct buf f = BUF_INIT;
	sketch_freeze(s, &f);
	CU_ASSERT(f.len > 100 && f.len < 300);
	struct sketch *e = sketch_new(0.01, 2048);
	buf_reset(&f);
	sketch_freeze(e, &f);
	CU_ASSERT_EQUAL(f.len, 12u);
	buf_free(&f);
	sketch_free(s);
	sketch_free(e);
	free(v);
}

/* Counts are 32-bit until a store's total passes UINT32_MAX: doubling a
 * sketch past it (live and frozen merges) must widen them with every count
 * kept, and subtracting back below it must narrow them again. */
static void test_wide_counts(void)
{
	static const double vals[] = {3.0, 3.0, 7.5, -2.0, 0.0, 1e6};
	const size_t n = sizeof(vals) / sizeof(vals[0]);
	struct sketch *x = sketch_of(vals, n, 0.01, 2048);
	struct sketch *half = sketch_of(vals, n, 0.01, 2048);
	struct buf fx = BUF_INIT, fh = BUF_INIT, fd = BUF_INIT;
	sketch_freeze(x, &fx);
	for (int i = 0; i < 31; i++)
		CU_ASSERT_EQUAL(sketch_merge(half, half), 0); /* n * 2^31 */
	size_t narrow_mem;
	struct sketch *d = sketch_of(vals, n, 0.01, 2048);
	CU_ASSERT_EQUAL(sketch_subtract(d, d), 0);
	CU_ASSERT_EQUAL(sketch_merge(d, half), 0);
	narrow_mem = sketch_memory(d);
	CU_ASSERT_EQUAL(sketch_merge(d, half), 0); /* n * 2^32: wide */
	CU_ASSERT_EQUAL(sketch_count(d), (uint64_t)n << 32);
	CU_ASSERT(sketch_memory(d) > narrow_mem);
	for (size_t j = 0; j < n; j++) { /* the middle of each value's ranks */
		double q = ((double)j + 0.5) / (double)n;
		CU_ASSERT_DOUBLE_EQUAL(sketch_quantile(d, q), sketch_quantile(half, q), 0);
	}
	CU_ASSERT(fabs(sketch_quantile(d, 1.0) - 1e6) <= 0.01 * 1e6);
	CU_ASSERT(fabs(sketch_quantile(d, 0.0) + 2.0) <= 0.01 * 2.0);
	/* frozen: a wide encoding merged into a narrow sketch widens it */
	sketch_freeze(d, &fd);
	struct sketch *e = sketch_of(vals, n, 0.01, 2048);
	CU_ASSERT_EQUAL(sketch_merge_frozen(e, fd.p, fd.len), 0);
	CU_ASSERT_EQUAL(sketch_count(e), ((uint64_t)n << 32) + n);
	CU_ASSERT_EQUAL(sketch_subtract_frozen(e, fx.p, fx.len), 0);
	struct buf fe = BUF_INIT;
	sketch_freeze(e, &fe);
	CU_ASSERT(fe.len == fd.len && memcmp(fe.p, fd.p, fd.len) == 0);
	/* back below 2^32: narrow again, byte-identical to the half */
	CU_ASSERT_EQUAL(sketch_subtract(d, half), 0);
	CU_ASSERT_EQUAL(sketch_count(d), (uint64_t)n << 31);
	sketch_freeze(half, &fh);
	buf_reset(&fd);
	sketch_freeze(d, &fd);
	CU_ASSERT(fh.len == fd.len && memcmp(fh.p, fd.p, fd.len) == 0);
	CU_ASSERT(sketch_memory(d) <= narrow_mem);
	/* and a live add at the edge of 32 bits: 2^32 - 1 then one more */
	struct sketch *one = sketch_of(vals, 1, 0.01, 2048); /* {3.0} */
	for (int i = 0; i < 31; i++)
		CU_ASSERT_EQUAL(sketch_merge(one, one), 0); /* 2^31 */
	struct sketch *edge = sketch_of(vals, 1, 0.01, 2048);
	CU_ASSERT_EQUAL(sketch_subtract(edge, edge), 0);
	CU_ASSERT_EQUAL(sketch_merge(edge, one), 0);
	CU_ASSERT_EQUAL(sketch_merge(edge, one), 0);   /* 2^32: wide */
	CU_ASSERT_EQUAL(sketch_subtract(edge, x), -1); /* not contained */
	CU_ASSERT_TRUE(sketch_add(edge, 3.0));
	CU_ASSERT_EQUAL(sketch_count(edge), ((uint64_t)1 << 32) + 1);
	CU_ASSERT_DOUBLE_EQUAL(sketch_quantile(edge, 1.0), sketch_quantile(x, 0.5), 0);
	buf_free(&fx);
	buf_free(&fh);
	buf_free(&fd);
	buf_free(&fe);
	sketch_free(x);
	sketch_free(half);
	sketch_free(d);
	sketch_free(e);
	sketch_free(one);
	sketch_free(edge);
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"accuracy vs exact order statistics", test_accuracy},
	    {"bucket boundaries and the full range", test_boundaries},
	    {"NaN, infinities, zeros, extremes", test_specials},
	    {"DBL_MAX at every accuracy", test_dbl_max},
	    {"construction, empty, clear", test_new_and_empty},
	    {"merge equals union, subtract undoes", test_merge_union},
	    {"subtract refused when not contained", test_subtract_refused},
	    {"collapsing keeps counts and the top", test_collapsing},
	    {"collapsed mark clears", test_collapse_mark},
	    {"window running sum", test_window_running_sum},
	    {"mismatched accuracies refused", test_mismatch},
	    {"frozen round trip", test_freeze_round_trip},
	    {"corrupt frozen data rejected", test_corrupt},
	    {"hand-built malformed encodings", test_malformed},
	    {"frozen size", test_frozen_size},
	    {"32-bit counts widen and narrow", test_wide_counts},
	    {"trusted frozen merge and subtract", test_trusted},
	};
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite suite = CU_add_suite("sketch", NULL, NULL);
	if (!suite)
		goto fail;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			goto fail;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0 || CU_get_error() != CUE_SUCCESS;
fail:
	CU_cleanup_registry();
	return 1;
}
