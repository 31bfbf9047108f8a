/* tstats: timer statistics with the reference statsd's exact arithmetic —
 * ascending sort, running cumulative sums (so mean_90 and sum_top10 carry
 * the same rounding as the reference), Math.round nearest-rank thresholds,
 * and the reference's quirk that a skipped percentile leaves the previous
 * sum/mean/boundary in place. Called by gfmt at flush; no I/O. The one
 * deliberate difference: a negative percentile covering every value gives
 * the real sum instead of the reference's NaN. */
#include "tstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"
#include "xalloc.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* JavaScript's Math.round: halves round towards +Infinity. */
static double js_round(double x)
{
	return floor(x + 0.5);
}

void tstats_pct_label(double pct, char *out)
{
	char num[NUM_FMT_MAX];
	size_t o = 0;
	bool dot_done = false, minus_done = false;

	num_format(pct, num);
	/* The reference does .replace('.', '_').replace('-', 'top'): the first
	 * occurrence of each only. */
	for (const char *p = num; *p; p++) {
		if (*p == '.' && !dot_done) {
			out[o++] = '_';
			dot_done = true;
		} else if (*p == '-' && !minus_done) {
			memcpy(out + o, "top", 3);
			o += 3;
			minus_done = true;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void emit_pct(tstats_emit_fn emit, void *ctx, const char *what, const char *label, double v)
{
	char name[64];
	size_t wl = strlen(what), ll = strlen(label);
	memcpy(name, what, wl);
	name[wl] = '_';
	memcpy(name + wl + 1, label, ll + 1);
	emit(ctx, name, v);
}

static void emit_bins(double *values, size_t n, const struct config_histogram *h,
                      tstats_emit_fn emit, void *ctx)
{
	size_t i = 0;
	for (size_t b = 0; b < h->nbins; b++) {
		double bound = h->bins[b];
		double freq = 0;
		while (i < n && (isinf(bound) || values[i] < bound)) {
			freq += 1;
			i++;
		}
		char num[NUM_FMT_MAX], name[64];
		if (isinf(bound)) {
			memcpy(num, "inf", 4);
		} else {
			num_format(bound, num);
			char *dot = strchr(num, '.');
			if (dot)
				*dot = '_';
		}
		size_t nl = strlen(num);
		memcpy(name, "histogram.bin_", 14);
		memcpy(name + 14, num, nl + 1);
		emit(ctx, name, freq);
	}
}

void tstats_compute(double *values, size_t n, double count, double interval_s, const double *pcts,
                    size_t npcts, const struct config_histogram *bins, tstats_emit_fn emit,
                    void *ctx)
{
	if (n == 0) {
		emit(ctx, "count", count);
		emit(ctx, "count_ps", count / interval_s);
		return;
	}
	qsort(values, n, sizeof(double), cmp_double);
	double min = values[0], max = values[n - 1];
	double *cum = xmalloc(n * sizeof(double));
	double *cum_sq = xmalloc(n * sizeof(double));
	cum[0] = min;
	cum_sq[0] = min * min;
	for (size_t i = 1; i < n; i++) {
		cum[i] = values[i] + cum[i - 1];
		cum_sq[i] = (values[i] * values[i]) + cum_sq[i - 1];
	}

	double sum = min, sum_sq = min * min, mean = min, boundary = max;
	for (size_t k = 0; k < npcts; k++) {
		double pct = pcts[k];
		double in_threshold = (double)n;
		if (n > 1) {
			in_threshold = js_round(fabs(pct) / 100 * (double)n);
			if (in_threshold == 0)
				continue;
			size_t t = (size_t)in_threshold;
			if (pct > 0) {
				boundary = values[t - 1];
				sum = cum[t - 1];
				sum_sq = cum_sq[t - 1];
			} else {
				boundary = values[n - t];
				if (t < n) {
					sum = cum[n - 1] - cum[n - t - 1];
					sum_sq = cum_sq[n - 1] - cum_sq[n - t - 1];
				} else {
					sum = cum[n - 1];
					sum_sq = cum_sq[n - 1];
				}
			}
			mean = sum / in_threshold;
		}
		char label[40];
		tstats_pct_label(pct, label);
		emit_pct(emit, ctx, "count", label, in_threshold);
		emit_pct(emit, ctx, "mean", label, mean);
		emit_pct(emit, ctx, pct > 0 ? "upper" : "lower", label, boundary);
		emit_pct(emit, ctx, "sum", label, sum);
		emit_pct(emit, ctx, "sum_squares", label, sum_sq);
	}

	sum = cum[n - 1];
	sum_sq = cum_sq[n - 1];
	mean = sum / (double)n;
	double diffs = 0;
	for (size_t i = 0; i < n; i++)
		diffs += (values[i] - mean) * (values[i] - mean);
	size_t mid = n / 2;
	double median = (n % 2) ? values[mid] : (values[mid - 1] + values[mid]) / 2;

	emit(ctx, "std", sqrt(diffs / (double)n));
	emit(ctx, "upper", max);
	emit(ctx, "lower", min);
	emit(ctx, "count", count);
	emit(ctx, "count_ps", count / interval_s);
	emit(ctx, "sum", sum);
	emit(ctx, "sum_squares", sum_sq);
	emit(ctx, "mean", mean);
	emit(ctx, "median", median);
	if (bins)
		emit_bins(values, n, bins, emit, ctx);
	free(cum);
	free(cum_sq);
}

const struct config_histogram *tstats_histogram_for(const struct config *cfg, const char *key,
                                                    size_t key_len)
{
	for (size_t i = 0; i < cfg->nhistograms; i++) {
		const char *m = cfg->histograms[i].metric;
		size_t ml = strlen(m);
		if (ml == 0)
			return &cfg->histograms[i];
		if (ml > key_len)
			continue;
		for (size_t off = 0; off + ml <= key_len; off++)
			if (memcmp(key + off, m, ml) == 0)
				return &cfg->histograms[i];
	}
	return NULL;
}
