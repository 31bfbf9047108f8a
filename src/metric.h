/* metric: metric types and the sample value passed from the parser to the
 * interval shard. Domain layer, values only (no functions with state). */
#ifndef TALLYD_METRIC_H
#define TALLYD_METRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metric_type {
	METRIC_COUNTER = 0,
	METRIC_GAUGE,
	METRIC_SET,
	METRIC_TIMER,        /* ms */
	METRIC_HISTOGRAM,    /* h: aggregated like ms */
	METRIC_DISTRIBUTION, /* d: aggregated like ms */
	METRIC_TYPE_COUNT
};

/* "c", "g", "s", "ms", "h", "d". */
const char *metric_type_name(enum metric_type t);

static inline bool metric_is_timer(enum metric_type t)
{
	return t == METRIC_TIMER || t == METRIC_HISTOGRAM || t == METRIC_DISTRIBUTION;
}

/* One sample. key/member point into parser scratch or the packet and are
 * borrowed until the callback that receives the sample returns. */
struct sample {
	enum metric_type type;
	const char *key; /* series id: sanitised name + canonical ";k=v" tags */
	size_t key_len;
	size_t name_len;    /* key[0..name_len) is the name without tags */
	double value;       /* counter increment, gauge value/delta, timer value */
	double weight;      /* 1 / sample rate (1 when absent or invalid) */
	const char *member; /* set member (METRIC_SET only) */
	size_t member_len;
	bool gauge_delta;  /* value is a signed delta (+N / -N with gauge_deltas) */
	int64_t timestamp; /* |T<unix s>, 0 when absent */
};

/* A sample on its way into an interval shard, in the compact form the
 * shard records in batches: no set member (sets are recorded one by one)
 * and no timestamp (a |T sample counts in the current interval). key is
 * borrowed until the queue is committed. */
struct qsample {
	const char *key;
	double value, weight;
	/* keys are shorter than PARSE_KEY_MAX (parse.h), so 16 bits hold
	 * their lengths and the record is 32 bytes (two a cache line, and an
	 * index is a shift away from a pointer); name_len is not set (it is
	 * key_len) when line_len > 0 */
	uint16_t key_len, name_len;
	unsigned char type; /* enum metric_type */
	bool gauge_delta;
	/* 0, or the key is a name as received, not checked for bytes that
	 * sanitising changes, at the start of a line of line_len bytes (parse.h) */
	uint16_t line_len;
};

/* Samples in packet order, waiting for their shard's commit. The shard owns
 * it; the parser appends its common lines to it directly (parse.h). */
#define SAMPLE_QUEUE_MAX 64
struct sample_queue {
	size_t n;
	struct qsample v[SAMPLE_QUEUE_MAX];
};

#endif
