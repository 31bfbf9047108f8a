/* sketch: a DDSketch quantile sketch (Masson, Rim, Lee, VLDB 2019) written
 * here: logarithmic bucket mapping with a configured relative accuracy,
 * separate stores for positive and negative values plus a zero count, and a
 * bounded (collapsing) store. Sketches of the same accuracy add, merge and
 * subtract exactly, which is what lets a window be a running sum of slices.
 * A sketch can be frozen into a compact immutable byte form (for slices that
 * only wait to be subtracted, and for the state file). Domain layer: pure. */
#ifndef TALLYD_SKETCH_H
#define TALLYD_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct sketch;

/* relative_accuracy in (0, 1), e.g. 0.01; max_buckets bounds each store
 * (beyond it the lowest buckets collapse into one). NULL if out of range. */
struct sketch *sketch_new(double relative_accuracy, size_t max_buckets);
void sketch_free(struct sketch *s); /* NULL is a no-op */
void sketch_clear(struct sketch *s);

/* Adds one value (finite; NaN/Inf are ignored and return false). */
bool sketch_add(struct sketch *s, double v);

/* dst += src. -1 (dst unchanged) if the accuracies differ. */
int sketch_merge(struct sketch *dst, const struct sketch *src);
/* dst -= src, where src's values were previously added or merged into dst.
 * -1 (dst unchanged) if the accuracies differ or a count would go negative. */
int sketch_subtract(struct sketch *dst, const struct sketch *src);

uint64_t sketch_count(const struct sketch *s);
/* The q-quantile (0 <= q <= 1) within the relative accuracy of the exact
 * order statistic at rank floor(q * (count - 1)); NaN when empty. */
double sketch_quantile(const struct sketch *s, double q);
/* Bytes of memory held (struct + stores). */
size_t sketch_memory(const struct sketch *s);

/* Compact immutable form: appended to out (varint-encoded buckets).
 * sketch_merge_frozen / sketch_subtract_frozen apply one to a live sketch
 * without decoding it into a second sketch; they return -1 (dst unchanged)
 * on a malformed or mismatched encoding. */
void sketch_freeze(const struct sketch *s, struct buf *out);
int sketch_merge_frozen(struct sketch *dst, const void *data, size_t len);
int sketch_subtract_frozen(struct sketch *dst, const void *data, size_t len);
/* The same for bytes known good: frozen by sketch_freeze in this process
 * from a sketch of dst's accuracy, or checked by sketch_frozen_valid. They
 * skip the validating pass (one walk instead of two); -1 only on a
 * mismatched header or, for subtract, a count that would go negative. */
int sketch_merge_frozen_trusted(struct sketch *dst, const void *data, size_t len);
int sketch_subtract_frozen_trusted(struct sketch *dst, const void *data, size_t len);
/* Whether data is a well-formed frozen sketch that could be merged into s
 * (same accuracy, keys in range); reads it, changes nothing. */
bool sketch_frozen_valid(const struct sketch *s, const void *data, size_t len);

#endif
