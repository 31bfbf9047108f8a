/* anomaly: the sliding baseline of one monitored stat of one series, and
 * the z-score of each new interval value against it. Domain layer: pure
 * (libc, buf, xalloc). The registry keeps one anomaly_base per monitored
 * stat per series and pushes exactly one value per flush interval.
 *
 * What the baseline covers. A base counts its pushes from its first one (not
 * the wall clock) and groups them into blocks of
 *     S = min(1023, max(1, floor(60000 / interval_ms)))
 * consecutive intervals: exactly one minute when the interval divides a
 * minute, otherwise the most whole intervals that fit in a minute (one per
 * block above 30 s). With N = floor(baseline_ms / interval_ms) and
 * B = ceil(N / S), the baseline of push number t (0-based), k = floor(t / S),
 * is the values pushed at t' in [max(0, (k - B) * S), t): the B complete
 * blocks before the current one plus the current block's earlier intervals;
 * the latest value (t) is never in its own baseline. Once warm it so spans
 * between B * S >= N and B * S + S - 1 intervals, i.e. at least baseline_ms
 * and less than baseline_ms plus one block: 1h at 10 s covers the last 360 to
 * 365 intervals (1h to 1h50s). Intervals pushed with has = false take their
 * place in time but add no value, so n can be smaller than the span.
 *
 * Statistics: mean, and the SAMPLE standard deviation (n - 1 divisor) of the
 * baseline's values; blocks are merged with Chan et al.'s parallel formula
 * (never from a raw sum of squares), so 1e9 +- 1 scores right. Each push is
 * O(1) amortised: complete blocks sit in a two-stack queue (a stack of
 * suffix aggregates for the oldest, a running aggregate of the newest), so
 * no push ever recombines the whole baseline. A block's M2 is stored rounded
 * to 36 significant bits (relative error <= 2^-36, about 1.5e-11); means and
 * every running aggregate are full doubles. Memory: about 104 + 15 * B bytes
 * (1,004 for 1h at 10 s); anomaly_memory says exactly. */
#ifndef TALLYD_ANOMALY_H
#define TALLYD_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct anomaly_conf {
	int64_t interval_ms; /* server.flush_interval */
	int64_t baseline_ms; /* anomaly.baseline, default 1h */
	double threshold;    /* anomaly.threshold, default 3.0: flag when |z| >= threshold */
	uint32_t
	    min_intervals; /* anomaly.min_intervals, default 30: values needed in the baseline */
};

/* False with err naming the key ("anomaly.baseline: ...") when the
 * combination is unusable: interval or baseline not positive, threshold not
 * a positive finite number, min_intervals < 2 (a sample stddev needs two
 * values), a baseline holding fewer than min_intervals intervals, or one
 * needing more than 65,535 blocks. */
bool anomaly_conf_check(const struct anomaly_conf *c, char *err, size_t errlen);

struct anomaly_score {
	double value; /* the interval's value; NaN when it had none */
	double mean,
	    stddev;   /* of the baseline (latest excluded); NaN when n < 1 (mean), n < 2 (stddev) */
	double z;     /* (value - mean) / stddev; NaN when not scored */
	uint32_t n;   /* values in the baseline */
	bool scored;  /* has value && n >= min_intervals && stddev > 0 && z finite */
	bool flagged; /* scored && |z| >= threshold */
};

/* c borrowed for life (it must outlive the base); NULL if c fails
 * anomaly_conf_check. */
struct anomaly_base *anomaly_base_new(const struct anomaly_conf *c);
void anomaly_base_free(struct anomaly_base *b); /* NULL: no-op */

/* Scores x against the baseline (values of earlier intervals only), then adds
 * x to it. has = false, or x NaN or infinite: the interval has no value (e.g. a
 * timer that got no samples): nothing is scored or added, but time moves on
 * (old values still fall out). out may be NULL. Returns the score's flagged. */
bool anomaly_push(struct anomaly_base *b, bool has, double x, struct anomaly_score *out);

/* The last push's score (for readers between flushes); before the first
 * push: value, mean, stddev and z NaN, n 0, not scored. Borrowed until the
 * next push or free. */
const struct anomaly_score *anomaly_last(const struct anomaly_base *b);

/* Bytes the base holds (its one allocation). */
size_t anomaly_memory(const struct anomaly_base *b);

/* Appends the base's state to out: portable little-endian, versioned,
 * 96 + 16 * (complete blocks held) bytes, at most 96 + 16 * B. Decoding it
 * under a conf with the same interval_ms and baseline_ms gives a base whose
 * every later score is identical; threshold and min_intervals may differ
 * (anomaly_last is then re-judged under the new ones). */
void anomaly_encode(const struct anomaly_base *b, struct buf *out);
/* c borrowed for life. NULL on malformed, truncated or trailing bytes, or
 * bytes encoded under another interval_ms or baseline_ms, or when c fails
 * anomaly_conf_check. data borrowed until return. */
struct anomaly_base *anomaly_decode(const struct anomaly_conf *c, const void *data, size_t len);

#endif
