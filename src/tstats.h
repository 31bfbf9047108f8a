/* tstats: the reference statsd's per-interval timer statistics, computed
 * exactly as its process_metrics.js does (same sort, cumulative sums,
 * nearest-rank percentile rule, population std, median, histogram bins), so
 * the values are bit-identical. Domain layer: pure. */
#ifndef TALLYD_TSTATS_H
#define TALLYD_TSTATS_H

#include <stddef.h>

#include "config.h"

/* Receives each statistic: stat is the reference's name relative to the
 * timer ("count_90", "upper_99_9", "lower_top10", "std", "median",
 * "histogram.bin_0_01", ...); borrowed until return. */
typedef void (*tstats_emit_fn)(void *ctx, const char *stat, double value);

/* Percentile label as the reference prints it: 90 → "90", 99.9 → "99_9",
 * -10 → "top10". out needs 40 bytes. */
void tstats_pct_label(double pct, char *out);

/* values: the interval's samples (sorted in place); count: the weighted
 * count (sum of 1/rate); interval_s: flush interval in seconds. With no
 * values only count and count_ps are emitted (0 for an idle timer). bins may
 * be NULL. */
void tstats_compute(double *values, size_t n, double count, double interval_s, const double *pcts,
                    size_t npcts, const struct config_histogram *bins, tstats_emit_fn emit,
                    void *ctx);

/* The histogram spec that applies to key (first entry whose metric is a
 * substring of key, as the reference), or NULL. */
const struct config_histogram *tstats_histogram_for(const struct config *cfg, const char *key,
                                                    size_t key_len);

#endif
