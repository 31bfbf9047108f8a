/* test_anomaly: the anomaly scorer against a brute-force baseline computed
 * from every value kept (the coverage rule of anomaly.h, re-derived here),
 * Gaussian noise false-positive rate, 5 sigma steps, constant series,
 * warm-up, values falling out, the state encoding and conf checks. All
 * random data comes from a seeded PRNG, so every run sees the same values. */
#include <CUnit/Basic.h>
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "buf.h"

/* ---- helpers ----------------------------------------------------------- */

struct rng {
	uint64_t s;
};

/* splitmix64 */
static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double rng_unit(struct rng *r) /* [0, 1) */
{
	return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static double rng_gauss(struct rng *r) /* Box-Muller, N(0, 1) */
{
	double u1 = 1.0 - rng_unit(r), u2 = rng_unit(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static struct anomaly_conf mkconf(int64_t interval_ms, int64_t baseline_ms, double threshold,
                                  uint32_t min_intervals)
{
	struct anomaly_conf c = {interval_ms, baseline_ms, threshold, min_intervals};
	return c;
}

static const struct anomaly_conf def_conf = {10000, 3600 * 1000, 3.0, 30};

/* Doubles equal bit for bit (NaN included). */
static bool same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static bool same_score(const struct anomaly_score *a, const struct anomaly_score *b)
{
	return same_double(a->value, b->value) && same_double(a->mean, b->mean) &&
	       same_double(a->stddev, b->stddev) && same_double(a->z, b->z) && a->n == b->n &&
	       a->scored == b->scored && a->flagged == b->flagged;
}

/* ---- conf check -------------------------------------------------------- */

static void test_conf_check(void)
{
	static const struct {
		struct anomaly_conf c;
		const char *key; /* NULL: accepted */
	} cases[] = {
	    {{10000, 3600000, 3.0, 30}, NULL},
	    {{7000, 3600000, 3.0, 30}, NULL}, /* interval that does not divide a minute */
	    {{100, 24 * 3600000LL, 3.0, 30}, NULL},
	    {{31000, 24 * 3600000LL, 3.0, 30}, NULL},
	    {{10000, 300000, 3.0, 30}, NULL}, /* exactly 30 intervals */
	    {{10000, 300000, 3.0, 31}, "anomaly.baseline"},
	    {{10000, 0, 3.0, 30}, "anomaly.baseline"},
	    {{10000, -60000, 3.0, 30}, "anomaly.baseline"},
	    {{10000, 5000, 3.0, 2}, "anomaly.baseline"}, /* shorter than an interval */
	    {{0, 3600000, 3.0, 30}, "server.flush_interval"},
	    {{-10, 3600000, 3.0, 30}, "server.flush_interval"},
	    {{10000, 3600000, 0.0, 30}, "anomaly.threshold"},
	    {{10000, 3600000, -3.0, 30}, "anomaly.threshold"},
	    {{10000, 3600000, NAN, 30}, "anomaly.threshold"},
	    {{10000, 3600000, INFINITY, 30}, "anomaly.threshold"},
	    {{10000, 3600000, 3.0, 0}, "anomaly.min_intervals"},
	    {{10000, 3600000, 3.0, 1}, "anomaly.min_intervals"},
	    {{10000, 3600000, 3.0, 2}, NULL},
	    {{61000, 61000LL * 70000, 3.0, 30}, "anomaly.baseline"}, /* > 65535 blocks */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		bool ok = anomaly_conf_check(&cases[i].c, err, sizeof(err));
		struct anomaly_base *b = anomaly_base_new(&cases[i].c);
		if (cases[i].key == NULL) {
			CU_ASSERT_TRUE(ok);
			CU_ASSERT_PTR_NOT_NULL(b);
		} else {
			CU_ASSERT_FALSE(ok);
			CU_ASSERT_PTR_NULL(b);
			CU_ASSERT_EQUAL(strncmp(err, cases[i].key, strlen(cases[i].key)), 0);
			CU_ASSERT_EQUAL(err[strlen(cases[i].key)], ':');
		}
		if (ok != (cases[i].key == NULL))
			printf("\n  conf case %zu: ok=%d err=%s", i, ok, err);
		anomaly_base_free(b);
	}
	anomaly_base_free(NULL);
}

/* ---- memory ------------------------------------------------------------ */

static void test_memory(void)
{
	static const struct {
		struct anomaly_conf c;
		size_t max; /* 0: only printed */
	} cases[] = {
	    {{10000, 3600000, 3.0, 30}, 1024},
	    {{1000, 3600000, 3.0, 30}, 1024},
	    {{60000, 3600000, 3.0, 30}, 1024},
	    {{7000, 3600000, 3.0, 30}, 0}, /* 56 s blocks: B 65 */
	    {{10000, 300000, 3.0, 30}, 1024},
	    {{10000, 24 * 3600000LL, 3.0, 30}, 0},
	    {{45000, 24 * 3600000LL, 3.0, 30}, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct anomaly_base *b = anomaly_base_new(&cases[i].c);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		size_t m = anomaly_memory(b);
		printf("\n  anomaly_memory(interval %lld ms, baseline %lld ms) = %zu bytes",
		       (long long)cases[i].c.interval_ms, (long long)cases[i].c.baseline_ms, m);
		if (cases[i].max)
			CU_ASSERT(m <= cases[i].max);
		anomaly_base_free(b);
	}
	printf("\n");
}

/* ---- Gaussian noise ---------------------------------------------------- */

static void test_noise_false_positives(void)
{
	static const struct {
		uint64_t seed;
		double mean, sigma;
		struct anomaly_conf c;
	} cases[] = {
	    {1, 0, 1, {10000, 3600000, 3.0, 30}},   {2, 1000, 25, {10000, 3600000, 3.0, 30}},
	    {3, 1e9, 1, {10000, 3600000, 3.0, 30}}, {4, -5, 0.001, {7000, 600000, 3.0, 30}},
	    {5, 42, 3, {1000, 300000, 3.0, 30}},
	};
	const int steps = 25000;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rng r = {cases[i].seed};
		struct anomaly_base *b = anomaly_base_new(&cases[i].c);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		int scored = 0, flagged = 0;
		for (int t = 0; t < steps; t++) {
			struct anomaly_score sc;
			double x = cases[i].mean + cases[i].sigma * rng_gauss(&r);
			bool f = anomaly_push(b, true, x, &sc);
			CU_ASSERT_EQUAL(f, sc.flagged);
			scored += sc.scored;
			flagged += sc.flagged;
		}
		double rate = (double)flagged / scored;
		printf("\n  noise seed %llu: %d of %d scored intervals flagged (%.3f%%)",
		       (unsigned long long)cases[i].seed, flagged, scored, 100 * rate);
		CU_ASSERT(scored >= steps - 40);
		CU_ASSERT(rate <= 0.005);
		anomaly_base_free(b);
	}
	printf("\n");
}

/* ---- 5 sigma steps ----------------------------------------------------- */

/* After 500 intervals of N(mean, sigma), the level moves by +-5 sigma: the
 * first interval at the new level (value exactly mean +- 5 sigma) must be
 * flagged, with z near +-5 (the baseline's estimates vary by a few %). */
static void test_step_flagged(void)
{
	static const struct {
		uint64_t seed;
		double mean, sigma, dir;
	} cases[] = {
	    {11, 0, 1, 1},      {12, 0, 1, -1},      {13, 100, 7, 1},   {14, -250, 0.5, -1},
	    {15, 1e9, 1, 1},    {16, 1e9, 1, -1},    {17, 1e6, 1e3, 1}, {18, 3e-6, 1e-7, 1},
	    {19, 1e12, 10, -1}, {20, 0.25, 0.01, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rng r = {cases[i].seed};
		struct anomaly_base *b = anomaly_base_new(&def_conf);
		struct anomaly_score sc;
		for (int t = 0; t < 500; t++)
			anomaly_push(b, true, cases[i].mean + cases[i].sigma * rng_gauss(&r), NULL);
		double x = cases[i].mean + cases[i].dir * 5 * cases[i].sigma;
		bool f = anomaly_push(b, true, x, &sc);
		CU_ASSERT_TRUE(f);
		CU_ASSERT_TRUE(sc.scored);
		CU_ASSERT(sc.z * cases[i].dir > 4.0 && sc.z * cases[i].dir < 6.0);
		CU_ASSERT(fabs(sc.mean - cases[i].mean) < cases[i].sigma);
		CU_ASSERT(fabs(sc.stddev / cases[i].sigma - 1) < 0.2);
		if (!f || !(sc.z * cases[i].dir > 4.0 && sc.z * cases[i].dir < 6.0))
			printf("\n  step case %zu: z=%g mean=%.17g stddev=%g", i, sc.z, sc.mean,
			       sc.stddev);
		CU_ASSERT_TRUE(anomaly_last(b)->flagged);
		anomaly_base_free(b);
	}
}

/* ---- constant series --------------------------------------------------- */

static void test_constant(void)
{
	static const double values[] = {0, 1, -3.5, 0.1, 1e9, 1e-300, 1e300, -7e15, 5e-324};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct anomaly_base *b = anomaly_base_new(&def_conf);
		int fe = 0, bad = 0;
		for (int t = 0; t < 1500; t++) {
			struct anomaly_score sc;
			bool has = t % 7 != 3;
			feclearexcept(FE_ALL_EXCEPT);
			bool f = anomaly_push(b, has, values[i], &sc);
			fe |= fetestexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
			if (f || sc.flagged || sc.scored || !isnan(sc.z))
				bad++;
			if (sc.n >= 2 && !(sc.stddev == 0))
				bad++;
			if (sc.n >= 1 && !(sc.mean == values[i]))
				bad++;
		}
		CU_ASSERT_EQUAL(fe, 0);
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT(anomaly_last(b)->n >= 300);
		if (fe || bad)
			printf("\n  constant %g: fe=%#x bad=%d", values[i], (unsigned)fe, bad);
		anomaly_base_free(b);
	}
}

/* ---- non-finite values ------------------------------------------------- */

/* NaN and +-inf pushed with has = true count as intervals without a value:
 * a twin base fed has = false there scores identically. */
static void test_nonfinite(void)
{
	static const double bad[] = {NAN, INFINITY, -INFINITY, -NAN};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rng r = {500 + i};
		struct anomaly_base *a = anomaly_base_new(&def_conf);
		struct anomaly_base *b = anomaly_base_new(&def_conf);
		long diff = 0, wrong = 0, scored = 0;
		for (int t = 0; t < 2000; t++) {
			struct anomaly_score sa, sb;
			bool hole = t % 5 == 2 || (t > 700 && t < 1200);
			double x = 10 + rng_gauss(&r);
			feclearexcept(FE_ALL_EXCEPT);
			anomaly_push(a, true, hole ? bad[i] : x, &sa);
			wrong += fetestexcept(FE_INVALID | FE_DIVBYZERO) != 0;
			anomaly_push(b, !hole, x, &sb);
			diff += !same_score(&sa, &sb);
			if (hole)
				wrong += !isnan(sa.value) || sa.scored || sa.flagged;
			scored += sa.scored;
		}
		CU_ASSERT_EQUAL(diff, 0);
		CU_ASSERT_EQUAL(wrong, 0);
		CU_ASSERT(scored > 800);
		anomaly_base_free(a);
		anomaly_base_free(b);
	}
}

/* ---- warm-up ----------------------------------------------------------- */

/* k values (alternating 10, 12) then a spike of 1e6: flagged only when the
 * baseline holds min_intervals values. */
static void test_warmup(void)
{
	static const struct {
		uint32_t min;
		uint32_t k;
		bool flagged;
	} cases[] = {
	    {30, 0, false},  {30, 1, false}, {30, 2, false}, {30, 15, false}, {30, 28, false},
	    {30, 29, false}, {30, 30, true}, {30, 31, true}, {30, 100, true}, {5, 4, false},
	    {5, 5, true},    {2, 1, false},  {2, 2, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct anomaly_conf c = mkconf(10000, 3600000, 3.0, cases[i].min);
		struct anomaly_base *b = anomaly_base_new(&c);
		struct anomaly_score sc;
		for (uint32_t t = 0; t < cases[i].k; t++) {
			anomaly_push(b, true, t % 2 ? 12 : 10, &sc);
			CU_ASSERT_FALSE(sc.flagged);
		}
		bool f = anomaly_push(b, true, 1e6, &sc);
		CU_ASSERT_EQUAL(f, cases[i].flagged);
		CU_ASSERT_EQUAL(sc.scored, cases[i].flagged);
		CU_ASSERT_EQUAL(sc.n, cases[i].k);
		CU_ASSERT_EQUAL(isnan(sc.z) != 0, !cases[i].flagged);
		anomaly_base_free(b);
	}
}

/* ---- brute force ------------------------------------------------------- */

/* The baseline of push t per anomaly.h, from every value kept. */
static void brute(const struct anomaly_conf *c, const bool *has, const double *xs, long t,
                  uint32_t *n, double *mean, double *sd)
{
	long s = 60000 / c->interval_ms;
	if (s < 1)
		s = 1;
	if (s > 1023)
		s = 1023;
	long nint = (long)(c->baseline_ms / c->interval_ms);
	long nb = (nint + s - 1) / s;
	long from = (t / s - nb) * s;
	if (from < 0)
		from = 0;
	long double sum = 0, m2 = 0;
	uint32_t k = 0;
	for (long i = from; i < t; i++)
		if (has[i]) {
			sum += xs[i];
			k++;
		}
	long double mu = k ? sum / k : 0;
	for (long i = from; i < t; i++)
		if (has[i])
			m2 += (xs[i] - mu) * (xs[i] - mu);
	*n = k;
	*mean = k ? (double)mu : NAN;
	*sd = k >= 2 ? (double)sqrtl(m2 / (k - 1)) : NAN;
}

static bool close_to(double got, double want, double scale)
{
	return fabs(got - want) <= 1e-9 * fmax(fabs(want), scale);
}

static void test_brute_force(void)
{
	static const struct {
		struct anomaly_conf c;
		long steps;
		double idle; /* share of intervals without a value */
		uint64_t seed;
	} cases[] = {
	    {{10000, 3600000, 3.0, 30}, 6000, 0.2, 101}, /* S 6, B 60 */
	    {{7000, 600000, 3.0, 30}, 5000, 0.1, 102},   /* S 8, B 11 */
	    {{1000, 300000, 3.0, 30}, 6000, 0.3, 103},   /* S 60, B 5 */
	    {{45000, 3600000, 3.0, 30}, 4000, 0.2, 104}, /* S 1, B 80 */
	    {{10000, 90000, 2.0, 5}, 4000, 0.25, 105},   /* S 6, B 2 (12..17 intervals) */
	    {{100, 60000, 3.0, 30}, 5000, 0.2, 106},     /* S 600, B 1 */
	    {{60000, 3600000, 3.0, 30}, 3000, 0.0, 107}, /* S 1, B 60 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct anomaly_conf *c = &cases[i].c;
		long steps = cases[i].steps;
		struct rng r = {cases[i].seed};
		bool *has = calloc((size_t)steps, sizeof(*has));
		double *xs = calloc((size_t)steps, sizeof(*xs));
		struct anomaly_base *b = anomaly_base_new(c);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		long checked = 0, scored = 0, flagged = 0, bad = 0;
		double level = 100, sigma = 5;
		long gap = 0;
		for (long t = 0; t < steps; t++) {
			/* Drifting level, changing noise, spikes, and now and then a
			 * silence long enough to empty part or all of the baseline. */
			level += rng_gauss(&r) * 0.5;
			if (rng_unit(&r) < 0.002)
				sigma = 0.5 + 20 * rng_unit(&r);
			if (gap == 0 && rng_unit(&r) < 0.001)
				gap = (long)(rng_unit(&r) * 800);
			double x = level + sigma * rng_gauss(&r);
			if (rng_unit(&r) < 0.01)
				x *= 50;
			has[t] = gap == 0 && rng_unit(&r) >= cases[i].idle;
			if (gap > 0)
				gap--;
			xs[t] = x;
			uint32_t bn;
			double bmean, bsd;
			brute(c, has, xs, t, &bn, &bmean, &bsd);
			struct anomaly_score sc;
			/* An idle interval may carry any x: it must be ignored. */
			anomaly_push(b, has[t], has[t] ? x : (t % 2 ? 1e300 : -5), &sc);
			bool ok = sc.n == bn;
			if (bn >= 1)
				ok = ok && close_to(sc.mean, bmean, bsd > 0 ? bsd : 0);
			else
				ok = ok && isnan(sc.mean);
			if (bn >= 2)
				ok = ok && close_to(sc.stddev, bsd, 0);
			else
				ok = ok && isnan(sc.stddev);
			bool want_scored = has[t] && bn >= c->min_intervals && bsd > 0;
			ok = ok && sc.scored == want_scored;
			if (want_scored) {
				double z = (x - bmean) / bsd;
				/* z near 0 has no relative precision: compare in z units there */
				ok = ok && close_to(sc.z, z, 1);
				if (fabs(fabs(z) - c->threshold) > 1e-6)
					ok = ok && sc.flagged == (fabs(z) >= c->threshold);
				scored++;
				flagged += sc.flagged;
			} else {
				ok = ok && isnan(sc.z) && !sc.flagged;
			}
			if (!ok && bad++ < 5)
				printf("\n  brute case %zu t=%ld: n %u/%u mean %.17g/%.17g sd "
				       "%.17g/%.17g z %.17g scored %d/%d",
				       i, t, sc.n, bn, sc.mean, bmean, sc.stddev, bsd, sc.z,
				       sc.scored, want_scored);
			checked++;
		}
		printf("\n  brute case %zu: %ld pushes checked, %ld scored, %ld flagged, %ld bad",
		       i, checked, scored, flagged, bad);
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT(scored > steps / 3);
		CU_ASSERT(flagged > 0);
		anomaly_base_free(b);
		free(has);
		free(xs);
	}
	printf("\n");
}

/* ---- values fall out --------------------------------------------------- */

static void test_falls_out(void)
{
	static const struct {
		struct anomaly_conf c;
		bool idle_after; /* no values at all after the spike */
	} cases[] = {
	    {{10000, 3600000, 3.0, 30}, false},
	    {{10000, 3600000, 3.0, 30}, true},
	    {{7000, 600000, 3.0, 30}, false},
	    {{45000, 3600000, 3.0, 30}, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct anomaly_conf *c = &cases[i].c;
		long s = 60000 / c->interval_ms < 1 ? 1 : 60000 / c->interval_ms;
		long nb = (c->baseline_ms / c->interval_ms + s - 1) / s;
		struct rng r = {200 + i};
		struct anomaly_base *b = anomaly_base_new(c);
		const long t0 = 1000;
		/* The first push whose baseline no longer reaches block t0 / s. */
		const long gone = (t0 / s + nb + 1) * s;
		long bad = 0;
		for (long t = 0; t < gone + 50; t++) {
			struct anomaly_score sc;
			bool has = t <= t0 || !cases[i].idle_after;
			double x = t == t0 ? 1e6 : 50 + rng_gauss(&r);
			anomaly_push(b, has, x, &sc);
			if (t <= t0)
				continue;
			if (t < gone) {
				/* the spike is in (idle after it, it may be alone) */
				bad += !(sc.n >= 1 && sc.mean > 1000);
				bad += !cases[i].idle_after && !(sc.stddev > 1000);
			} else if (cases[i].idle_after) {
				bad += sc.n != 0 || !isnan(sc.mean);
			} else {
				bad += !(sc.stddev < 5 && fabs(sc.mean - 50) < 1);
			}
		}
		CU_ASSERT_EQUAL(bad, 0);
		if (bad)
			printf("\n  falls-out case %zu: %ld bad", i, bad);
		anomaly_base_free(b);
	}
}

/* ---- encode / decode --------------------------------------------------- */

static double seq_value(struct rng *r, bool *has)
{
	*has = rng_unit(r) >= 0.15;
	double x = 200 + 10 * rng_gauss(r);
	return rng_unit(r) < 0.01 ? x * 20 : x;
}

static void test_round_trip(void)
{
	static const long cuts[] = {0, 1, 5, 359, 360, 365, 366, 720, 1000, 2161, 2500};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct rng r = {300};
		struct anomaly_base *a = anomaly_base_new(&def_conf);
		bool has;
		for (long t = 0; t < cuts[i]; t++) {
			double x = seq_value(&r, &has);
			anomaly_push(a, has, x, NULL);
		}
		struct buf enc = BUF_INIT, enc2 = BUF_INIT;
		anomaly_encode(a, &enc);
		struct anomaly_base *d = anomaly_decode(&def_conf, enc.p, enc.len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT_EQUAL(anomaly_memory(d), anomaly_memory(a));
		CU_ASSERT_TRUE(same_score(anomaly_last(a), anomaly_last(d)));
		anomaly_encode(d, &enc2);
		CU_ASSERT_TRUE(enc.len == enc2.len && memcmp(enc.p, enc2.p, enc.len) == 0);
		long diff = 0, flagged = 0;
		for (long t = 0; t < 1500; t++) {
			struct anomaly_score sa, sd;
			double x = seq_value(&r, &has);
			anomaly_push(a, has, x, &sa);
			anomaly_push(d, has, x, &sd);
			diff += !same_score(&sa, &sd);
			flagged += sa.flagged;
		}
		CU_ASSERT_EQUAL(diff, 0);
		CU_ASSERT(flagged > 0);
		buf_free(&enc);
		buf_free(&enc2);
		anomaly_base_free(a);
		anomaly_base_free(d);
	}
}

static void put_le(char *p, uint64_t v, int nbytes)
{
	for (int k = 0; k < nbytes; k++)
		p[k] = (char)(unsigned char)(v >> (8 * k));
}

static void test_decode_rejects(void)
{
	struct rng r = {400};
	struct anomaly_base *a = anomaly_base_new(&def_conf);
	bool has;
	/* Leave a spike as the last push, so last is flagged. */
	for (long t = 0; t < 1003; t++) {
		double x = seq_value(&r, &has);
		anomaly_push(a, has, x, NULL);
	}
	CU_ASSERT_TRUE(anomaly_push(a, true, 1e5, NULL));
	struct buf enc = BUF_INIT;
	anomaly_encode(a, &enc);
	CU_ASSERT_EQUAL(enc.len, 96 + 16 * 60);

	/* Every truncation, and a trailing byte. */
	long accepted = 0;
	for (size_t len = 0; len < enc.len; len++) {
		struct anomaly_base *d = anomaly_decode(&def_conf, enc.p, len);
		accepted += d != NULL;
		anomaly_base_free(d);
	}
	CU_ASSERT_EQUAL(accepted, 0);
	buf_putc(&enc, 0);
	CU_ASSERT_PTR_NULL(anomaly_decode(&def_conf, enc.p, enc.len));
	enc.len--;

	/* Another conf: layout fields must match; threshold may change. */
	static const struct {
		struct anomaly_conf c;
		bool ok, flagged;
	} confs[] = {
	    {{10000, 3600000, 3.0, 30}, true, true},     {{10000, 3600000, 1e6, 30}, true, false},
	    {{10000, 3600000, 3.0, 5000}, false, false}, /* fails anomaly_conf_check */
	    {{5000, 3600000, 3.0, 30}, false, false},    {{10000, 7200000, 3.0, 30}, false, false},
	    {{10000, 3000000, 3.0, 30}, false, false},
	};
	for (size_t i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
		struct anomaly_base *d = anomaly_decode(&confs[i].c, enc.p, enc.len);
		CU_ASSERT_EQUAL(d != NULL, confs[i].ok);
		if (d) {
			CU_ASSERT_EQUAL(anomaly_last(d)->flagged, confs[i].flagged);
			CU_ASSERT_TRUE(anomaly_last(d)->scored);
		}
		anomaly_base_free(d);
	}

	/* Corrupted fields (offsets per the layout in anomaly.c). */
	static const struct {
		size_t off;
		int nbytes;
		uint64_t v;
	} bad[] = {
	    {0, 4, 0x32424e41},             /* magic */
	    {20, 4, 61},                    /* count > B */
	    {20, 4, 59},                    /* count != the slots that follow */
	    {24, 4, 61},                    /* front_len > count */
	    {28, 4, 6},                     /* cur_pos >= S */
	    {28, 4, 0xffffffff},            /* cur_pos huge */
	    {32, 4, 7},                     /* cur_n > cur_pos */
	    {92, 4, 100000},                /* last n beyond any baseline */
	    {96 + 8, 8, 7},                 /* slot n > S */
	    {96 + 8, 8, UINT64_C(1) << 56}, /* packed beyond 56 bits */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *copy = malloc(enc.len);
		memcpy(copy, enc.p, enc.len);
		put_le(copy + bad[i].off, bad[i].v, bad[i].nbytes);
		struct anomaly_base *d = anomaly_decode(&def_conf, copy, enc.len);
		CU_ASSERT_PTR_NULL(d);
		if (d)
			printf("\n  corruption %zu accepted", i);
		anomaly_base_free(d);
		free(copy);
	}
	/* A partly filled ring with a front is unreachable. */
	{
		struct anomaly_base *p = anomaly_base_new(&def_conf);
		for (int t = 0; t < 100; t++)
			anomaly_push(p, true, t, NULL);
		struct buf e = BUF_INIT;
		anomaly_encode(p, &e);
		struct anomaly_base *d = anomaly_decode(&def_conf, e.p, e.len);
		CU_ASSERT_PTR_NOT_NULL(d);
		anomaly_base_free(d);
		put_le(e.p + 24, 1, 4);
		CU_ASSERT_PTR_NULL(anomaly_decode(&def_conf, e.p, e.len));
		buf_free(&e);
		anomaly_base_free(p);
	}

	/* Random garbage, with and without a valid prefix. */
	long garbage_ok = 0;
	for (int i = 0; i < 2000; i++) {
		size_t len = (size_t)(rng_next(&r) % 1200);
		char *g = malloc(len + 1);
		for (size_t k = 0; k < len; k++)
			g[k] = (char)rng_next(&r);
		if (i % 2 && len >= 20)
			memcpy(g, enc.p, 20);
		struct anomaly_base *d = anomaly_decode(&def_conf, g, len);
		garbage_ok += d != NULL;
		anomaly_base_free(d);
		free(g);
	}
	CU_ASSERT_EQUAL(garbage_ok, 0);
	buf_free(&enc);
	anomaly_base_free(a);
}

/* A base caught before its ring is full (idle intervals mixed in) decodes
 * to one that scores the same. */
static void test_decode_partial(void)
{
	struct anomaly_base *p = anomaly_base_new(&def_conf);
	for (int t = 0; t < 100; t++)
		anomaly_push(p, t % 3 != 0, t, NULL);
	struct buf e = BUF_INIT;
	anomaly_encode(p, &e);
	CU_ASSERT_EQUAL(e.len, 96 + 16 * (100 / 6));
	struct anomaly_base *d = anomaly_decode(&def_conf, e.p, e.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	struct anomaly_score sa, sd;
	anomaly_push(p, true, 1000, &sa);
	anomaly_push(d, true, 1000, &sd);
	CU_ASSERT_TRUE(same_score(&sa, &sd));
	CU_ASSERT_TRUE(sa.flagged);
	anomaly_base_free(d);
	anomaly_base_free(p);
	buf_free(&e);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("anomaly", NULL, NULL);
	CU_add_test(s, "conf check", test_conf_check);
	CU_add_test(s, "memory", test_memory);
	CU_add_test(s, "gaussian noise false positives", test_noise_false_positives);
	CU_add_test(s, "5 sigma step flagged at once", test_step_flagged);
	CU_add_test(s, "constant series", test_constant);
	CU_add_test(s, "non-finite values are idle", test_nonfinite);
	CU_add_test(s, "warm-up", test_warmup);
	CU_add_test(s, "brute force baseline", test_brute_force);
	CU_add_test(s, "values fall out", test_falls_out);
	CU_add_test(s, "encode/decode round trip", test_round_trip);
	CU_add_test(s, "decode rejects bad input", test_decode_rejects);
	CU_add_test(s, "decode of a partly filled base", test_decode_partial);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
