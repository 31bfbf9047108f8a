/* sketch_store: private to sketch.c and sketch_frozen.c — the sketch and
 * store structs, the collapsing rule's store_prepare and store_settle
 * (defined in sketch.c) and inline bucket access. Nothing else includes it. */
#ifndef TALLYD_SKETCH_STORE_H
#define TALLYD_SKETCH_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "sketch.h"

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

static inline bool store_empty(const struct store *st)
{
	return st->n == 0;
}

static inline uint64_t *slot(const struct store *st, int32_t k)
{
	return &st->c[(int64_t)k - st->off];
}

#define NO_FLOOR INT32_MIN

/* Makes room in st for incoming keys [slo, shi] (scol: the incoming lowest
 * key holds collapsed values) and applies the collapsing rule. Returns the
 * floor every incoming key below it must be mapped to, or NO_FLOOR. On
 * return st->lo/hi already cover the incoming keys; the caller adds them. */
int32_t sketch_store_prepare(struct store *st, int32_t slo, int32_t shi, bool scol, uint32_t slack,
                             uint32_t maxb);

/* After counts were removed: clears the collapsed mark once its bucket is
 * empty, narrows [lo, hi] to the non-empty keys and gives back memory. */
void sketch_store_settle(struct store *st);

#endif
