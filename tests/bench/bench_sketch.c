/* bench_sketch: what the DDSketch costs per timer series: ns per sketch_add
 * (log-normal values, mu 3 sigma 1), ns per merge/subtract of a 1,000-sample
 * slice into a window (live and frozen), ns per quantile, the bytes of
 * frozen slices, the memory of live windows after an hour, and an estimate
 * of the total per timer series. Medians of several runs; relative accuracy
 * 0.01, 2048 buckets as window.c uses. Not a test: make bench prints it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "sketch.h"

#define ACC 0.01
#define MAXB 2048
#define RUNS 7
#define NADD 1000000
#define SLICE 1000  /* samples a minute */
#define NSLICES 600 /* distinct one-minute slices */
#define HOUR 60
#define INTERVALS 6 /* 10 s intervals in a minute */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rng_next(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double lognormal(void) /* Box-Muller, mu 3, sigma 1 */
{
	double u1 = rng_unit(), u2 = rng_unit();
	return exp(3.0 + sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static volatile double sink;

static struct sketch *slice_of(const double *v, size_t n)
{
	struct sketch *s = sketch_new(ACC, MAXB);
	for (size_t i = 0; i < n; i++)
		sketch_add(s, v[i]);
	return s;
}

int main(void)
{
	double runs[RUNS];
	double *vals = malloc(NADD * sizeof(double));
	for (size_t i = 0; i < NADD; i++)
		vals[i] = lognormal();

	/* sketch_add into one long-lived sketch */
	for (int r = 0; r < RUNS; r++) {
		struct sketch *s = sketch_new(ACC, MAXB);
		double t0 = now_ns();
		for (size_t i = 0; i < NADD; i++)
			sketch_add(s, vals[i]);
		runs[r] = (now_ns() - t0) / NADD;
		sink = (double)sketch_count(s);
		sketch_free(s);
	}
	printf("sketch_add, one sketch:             %6.1f ns/value\n", median(runs, RUNS));

	/* sketch_add into fresh 1,000-sample slices (new + adds + free) */
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		for (size_t i = 0; i + SLICE <= NADD; i += SLICE) {
			struct sketch *s = slice_of(vals + i, SLICE);
			sink = (double)sketch_count(s);
			sketch_free(s);
		}
		runs[r] = (now_ns() - t0) / NADD;
	}
	printf("sketch_add, fresh 1,000-value slice: %5.1f ns/value (new + adds + free)\n",
	       median(runs, RUNS));

	/* slices: live and frozen */
	struct sketch **sl = malloc(NSLICES * sizeof(*sl));
	struct buf *fz = calloc(NSLICES, sizeof(*fz));
	double *bytes = malloc(NSLICES * sizeof(double));
	double lo = 1e30, hi = 0;
	for (size_t i = 0; i < NSLICES; i++) {
		sl[i] = slice_of(vals + i * SLICE, SLICE);
		sketch_freeze(sl[i], &fz[i]);
		bytes[i] = (double)fz[i].len;
		lo = bytes[i] < lo ? bytes[i] : lo;
		hi = bytes[i] > hi ? bytes[i] : hi;
	}
	double slice_bytes = median(bytes, NSLICES);
	printf("frozen 1,000-value slice:           %6.0f bytes median (min %.0f, max %.0f, %d "
	       "slices)\n",
	       slice_bytes, lo, hi, NSLICES);
	double ivbytes[NSLICES];
	size_t per_iv = SLICE / INTERVALS;
	for (size_t i = 0; i < NSLICES; i++) {
		struct sketch *s = slice_of(vals + i * per_iv, per_iv);
		struct buf b = BUF_INIT;
		sketch_freeze(s, &b);
		ivbytes[i] = (double)b.len;
		buf_free(&b);
		sketch_free(s);
	}
	double iv_bytes = median(ivbytes, NSLICES);
	printf("frozen %zu-value interval slice:     %6.0f bytes median\n", per_iv, iv_bytes);

	/* merge and subtract of a slice into a window holding an hour */
	static const char *const opname[6] = {"sketch_merge",          "sketch_subtract",
	                                      "sketch_merge_frozen",   "sketch_subtract_frozen",
	                                      "  ..._trusted (merge)", "  ..._trusted (subtract)"};
	double opns[6][RUNS];
	for (int r = 0; r < RUNS; r++) {
		for (int frozen = 0; frozen < 3; frozen++) {
			struct sketch *w = sketch_new(ACC, MAXB);
			for (size_t i = 0; i < HOUR; i++)
				sketch_merge(w, sl[i]);
			size_t n = NSLICES - HOUR;
			double t0 = now_ns();
			for (size_t i = HOUR; i < NSLICES; i++) {
				if (frozen == 2)
					sketch_merge_frozen_trusted(w, fz[i].p, fz[i].len);
				else if (frozen)
					sketch_merge_frozen(w, fz[i].p, fz[i].len);
				else
					sketch_merge(w, sl[i]);
			}
			double t1 = now_ns();
			for (size_t i = HOUR; i < NSLICES; i++) {
				if (frozen == 2)
					sketch_subtract_frozen_trusted(w, fz[i].p, fz[i].len);
				else if (frozen)
					sketch_subtract_frozen(w, fz[i].p, fz[i].len);
				else
					sketch_subtract(w, sl[i]);
			}
			double t2 = now_ns();
			opns[2 * frozen][r] = (t1 - t0) / (double)n;
			opns[2 * frozen + 1][r] = (t2 - t1) / (double)n;
			sink = (double)sketch_count(w);
			sketch_free(w);
		}
	}
	for (int k = 0; k < 6; k++)
		printf("%-23s a 1,000-value slice: %7.0f ns\n", opname[k], median(opns[k], RUNS));

	/* windows kept as running sums over two hours of minute slices */
	static const size_t wmin[4] = {1, 5, 15, 60};
	struct sketch *win[4];
	for (int k = 0; k < 4; k++)
		win[k] = sketch_new(ACC, MAXB);
	for (size_t m = 0; m < 2 * HOUR; m++) {
		for (int k = 0; k < 4; k++) {
			sketch_merge(win[k], sl[m]);
			if (m >= wmin[k])
				sketch_subtract_frozen(win[k], fz[m - wmin[k]].p,
				                       fz[m - wmin[k]].len);
		}
	}
	size_t live = 0;
	for (int k = 0; k < 4; k++) {
		printf("live %2zum window (%6llu values):  %6zu bytes (sketch_memory)\n", wmin[k],
		       (unsigned long long)sketch_count(win[k]), sketch_memory(win[k]));
		live += sketch_memory(win[k]);
	}
	double qns[RUNS];
	for (int r = 0; r < RUNS; r++) {
		static const double qs[5] = {0.5, 0.9, 0.95, 0.99, 0.999};
		double t0 = now_ns(), acc = 0;
		for (int i = 0; i < 2000; i++)
			acc += sketch_quantile(win[3], qs[i % 5]);
		qns[r] = (now_ns() - t0) / 2000;
		sink = acc;
	}
	printf("sketch_quantile on the 1h window:   %6.0f ns\n", median(qns, RUNS));
	/* per timer series (window.c): 59 minute slices + 6 interval slices
	 * frozen at their exact size, and 4 live windows (32-bit counts) */
	double frozen_total = (HOUR - 1) * slice_bytes + INTERVALS * iv_bytes;
	printf("per timer series: 59 x %.0f + 6 x %.0f frozen bytes = %.0f, + 4 live windows %zu "
	       "= %.0f bytes (%.1f KiB), before the slices' moments and malloc headers\n",
	       slice_bytes, iv_bytes, frozen_total, live, frozen_total + (double)live,
	       (frozen_total + (double)live) / 1024);

	for (int k = 0; k < 4; k++)
		sketch_free(win[k]);
	for (size_t i = 0; i < NSLICES; i++) {
		sketch_free(sl[i]);
		buf_free(&fz[i]);
	}
	free(sl);
	free(fz);
	free(bytes);
	free(vals);
	return 0;
}
