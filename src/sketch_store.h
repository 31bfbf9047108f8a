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
	void *c;        /* c[k - off] is the count of key k, k in [off, off + cap),
	                 * uint32_t while n <= UINT32_MAX, else uint64_t (wide) */
	int32_t off;    /* key of c[0] */
	uint32_t cap;   /* allocated buckets (0: c is NULL) */
	int32_t lo, hi; /* lowest and highest non-empty key; lo > hi when empty */
	bool collapsed; /* c[lo] also holds every value whose key was below lo */
	bool wide;      /* 64-bit counts (only once n passed UINT32_MAX) */
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

/* Counts are 32-bit while the store's total fits (no bucket can then
 * overflow); sketch_store_room widens them before a total would pass it. */
static inline size_t store_esz(const struct store *st)
{
	return st->wide ? sizeof(uint64_t) : sizeof(uint32_t);
}

static inline size_t cidx(const struct store *st, int32_t k)
{
	return (size_t)((int64_t)k - st->off);
}

static inline uint64_t cget(const struct store *st, int32_t k)
{
	const size_t i = cidx(st, k);
	return st->wide ? ((const uint64_t *)st->c)[i] : ((const uint32_t *)st->c)[i];
}

static inline void cset(struct store *st, int32_t k, uint64_t v)
{
	const size_t i = cidx(st, k);
	if (st->wide)
		((uint64_t *)st->c)[i] = v;
	else
		((uint32_t *)st->c)[i] = (uint32_t)v;
}

static inline void cadd(struct store *st, int32_t k, uint64_t v)
{
	const size_t i = cidx(st, k);
	if (st->wide)
		((uint64_t *)st->c)[i] += v;
	else
		((uint32_t *)st->c)[i] += (uint32_t)v;
}

static inline void csub(struct store *st, int32_t k, uint64_t v)
{
	const size_t i = cidx(st, k);
	if (st->wide)
		((uint64_t *)st->c)[i] -= v;
	else
		((uint32_t *)st->c)[i] -= (uint32_t)v;
}

/* Call before adding `more` counts to st: widens its counts to 64 bits
 * when the total would no longer fit in 32. */
void sketch_store_room(struct store *st, uint64_t more);

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
