/* test_hll: exact counts up to 1000 members, estimates within 2% beyond
 * (fixed seeds, members hashed with htab_hash), union by merge equal to one
 * sketch of the union in every pair of forms, encode/decode round trips and
 * rejection of truncated, flipped, random and well-checksummed but invalid
 * encodings, and the memory of each form. Prints the errors and sizes seen. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hll.h"
#include "htab.h"

/* The encoding, as hll.c documents it. */
enum { ENC_VERSION = 1, FORM_EXACT = 0, FORM_SPARSE = 1, FORM_DENSE = 2 };
#define HLL_M 16384
#define DENSE_BYTES (HLL_M / 4 * 3)
#define SPARSE_MAX (DENSE_BYTES / 4 - 1)

static uint64_t member(uint64_t seed, uint64_t i)
{
	unsigned char b[16];
	for (int k = 0; k < 8; k++) {
		b[k] = (unsigned char)(seed >> (8 * k));
		b[8 + k] = (unsigned char)(i >> (8 * k));
	}
	return htab_hash(b, sizeof(b));
}

/* Adds members [from, to) of seed. */
static void fill(struct hll *h, uint64_t seed, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		hll_add_hash(h, member(seed, i));
}

static struct hll *sketch_of(uint64_t seed, uint64_t from, uint64_t to)
{
	struct hll *h = hll_new();
	fill(h, seed, from, to);
	return h;
}

static struct buf encoded(const struct hll *h)
{
	struct buf b = BUF_INIT;
	hll_encode(h, &b);
	return b;
}

static int form_of(const struct hll *h)
{
	struct buf b = encoded(h);
	int f = b.len >= 2 ? (unsigned char)b.p[1] : -1;
	buf_free(&b);
	return f;
}

static bool same_state(const struct hll *a, const struct hll *b)
{
	struct buf x = encoded(a), y = encoded(b);
	bool same = x.len == y.len && memcmp(x.p, y.p, x.len) == 0;
	buf_free(&x);
	buf_free(&y);
	return same;
}

static double rel_err(uint64_t est, uint64_t truth)
{
	return fabs((double)est - (double)truth) / (double)truth;
}

/* ---- exact form ---- */

struct exact_case {
	uint64_t n;
	int passes; /* every member added this many times */
};

static const struct exact_case exact_cases[] = {
    {0, 1}, {1, 3}, {2, 5}, {999, 2}, {1000, 3},
};

static void test_exact_counts(void)
{
	for (size_t c = 0; c < sizeof(exact_cases) / sizeof(exact_cases[0]); c++) {
		const struct exact_case *t = &exact_cases[c];
		struct hll *h = hll_new();
		for (int p = 0; p < t->passes; p++) {
			for (uint64_t i = 0; i < t->n; i++) /* alternate directions */
				hll_add_hash(h, member(42, p % 2 ? t->n - 1 - i : i));
			CU_ASSERT_EQUAL(hll_count(h), t->n);
		}
		CU_ASSERT_EQUAL(form_of(h), FORM_EXACT);
		hll_free(h);
	}
}

static void test_exact_edges(void)
{
	/* 0 and UINT64_MAX are members like any other hash. */
	struct hll *h = hll_new();
	const uint64_t edge[] = {0, 1, UINT64_MAX, 0, UINT64_MAX, 1};
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		hll_add_hash(h, edge[i]);
	CU_ASSERT_EQUAL(hll_count(h), 3);

	/* 997 more: exactly 1000, still exact; one more turns it sparse. */
	fill(h, 9, 0, 997);
	fill(h, 9, 0, 997);
	hll_add_hash(h, 0);
	CU_ASSERT_EQUAL(hll_count(h), 1000);
	CU_ASSERT_EQUAL(form_of(h), FORM_EXACT);
	hll_add_hash(h, member(9, 997));
	CU_ASSERT_EQUAL(form_of(h), FORM_SPARSE);
	CU_ASSERT(rel_err(hll_count(h), 1001) < 0.02);

	/* The same 1001 hashes in another order give the same sketch. */
	struct hll *g = hll_new();
	for (uint64_t i = 998; i-- > 0;)
		hll_add_hash(g, member(9, i));
	hll_add_hash(g, UINT64_MAX);
	hll_add_hash(g, 1);
	hll_add_hash(g, 0);
	CU_ASSERT(same_state(h, g));
	hll_free(g);
	hll_free(h);
}

/* ---- accuracy ---- */

static const uint64_t acc_cards[] = {1001, 1500, 2000, 5000, 10000, 50000, 100000, 1000000};
static const uint64_t acc_seeds[] = {1, 2, 3, 4, 5};

static void test_accuracy(void)
{
	const size_t nseeds = sizeof(acc_seeds) / sizeof(acc_seeds[0]);
	printf("\n  cardinality  max |error|  form (%zu seeds)\n", nseeds);
	for (size_t c = 0; c < sizeof(acc_cards) / sizeof(acc_cards[0]); c++) {
		uint64_t n = acc_cards[c];
		double worst = 0;
		int form = -1;
		for (size_t s = 0; s < nseeds; s++) {
			struct hll *h = sketch_of(acc_seeds[s], 0, n);
			uint64_t est = hll_count(h);
			fill(h, acc_seeds[s], 0, n / 2); /* duplicates change nothing */
			CU_ASSERT_EQUAL(hll_count(h), est);
			double e = rel_err(est, n);
			CU_ASSERT(e < 0.02);
			if (e >= 0.02)
				printf("  n=%llu seed=%llu estimate=%llu\n", (unsigned long long)n,
				       (unsigned long long)acc_seeds[s], (unsigned long long)est);
			worst = e > worst ? e : worst;
			form = form_of(h);
			CU_ASSERT_EQUAL(form, n <= 2000 ? FORM_SPARSE : FORM_DENSE);
			hll_free(h);
		}
		printf("  %11llu  %10.3f%%  %s\n", (unsigned long long)n, 100 * worst,
		       form == FORM_SPARSE ? "sparse" : "dense");
	}
}

/* ---- merge ---- */

/* A = members [0, na), B = members [na - overlap, na - overlap + nb). */
struct merge_case {
	uint64_t na, nb, overlap;
	int form_a, form_b, form_u;
};

static const struct merge_case merge_cases[] = {
    {0, 0, 0, FORM_EXACT, FORM_EXACT, FORM_EXACT},
    {0, 10, 0, FORM_EXACT, FORM_EXACT, FORM_EXACT},
    {10, 0, 0, FORM_EXACT, FORM_EXACT, FORM_EXACT},
    {300, 400, 100, FORM_EXACT, FORM_EXACT, FORM_EXACT},
    {600, 600, 200, FORM_EXACT, FORM_EXACT, FORM_EXACT}, /* exactly 1000 */
    {1000, 1000, 1000, FORM_EXACT, FORM_EXACT, FORM_EXACT},
    {600, 600, 199, FORM_EXACT, FORM_EXACT, FORM_SPARSE}, /* 1001 */
    {1000, 1, 0, FORM_EXACT, FORM_EXACT, FORM_SPARSE},
    {1000, 1000, 0, FORM_EXACT, FORM_EXACT, FORM_SPARSE},
    {400, 1800, 200, FORM_EXACT, FORM_SPARSE, FORM_SPARSE},
    {1800, 400, 200, FORM_SPARSE, FORM_EXACT, FORM_SPARSE},
    {400, 20000, 200, FORM_EXACT, FORM_DENSE, FORM_DENSE},
    {20000, 400, 200, FORM_DENSE, FORM_EXACT, FORM_DENSE},
    {1800, 1800, 900, FORM_SPARSE, FORM_SPARSE, FORM_SPARSE},
    {2000, 2000, 0, FORM_SPARSE, FORM_SPARSE, FORM_DENSE}, /* past SPARSE_MAX */
    {1800, 20000, 900, FORM_SPARSE, FORM_DENSE, FORM_DENSE},
    {20000, 1800, 900, FORM_DENSE, FORM_SPARSE, FORM_DENSE},
    {20000, 20000, 10000, FORM_DENSE, FORM_DENSE, FORM_DENSE},
    {50000, 50000, 25000, FORM_DENSE, FORM_DENSE, FORM_DENSE},
    {100000, 1000, 1000, FORM_DENSE, FORM_EXACT, FORM_DENSE}, /* B inside A */
};

static void test_merge_union(void)
{
	for (size_t c = 0; c < sizeof(merge_cases) / sizeof(merge_cases[0]); c++) {
		const struct merge_case *t = &merge_cases[c];
		uint64_t b0 = t->na - t->overlap, b1 = b0 + t->nb;
		uint64_t total = (b1 > t->na ? b1 : t->na);
		struct hll *a = sketch_of(77, 0, t->na);
		struct hll *b = sketch_of(77, b0, b1);
		CU_ASSERT_EQUAL(form_of(a), t->form_a);
		CU_ASSERT_EQUAL(form_of(b), t->form_b);

		/* The union added to one sketch, in another order. */
		struct hll *u = hll_new();
		for (uint64_t i = total; i-- > 0;)
			hll_add_hash(u, member(77, i));
		CU_ASSERT_EQUAL(form_of(u), t->form_u);

		struct hll *ab = sketch_of(77, 0, t->na);
		hll_merge(ab, b);
		struct hll *ba = sketch_of(77, b0, b1);
		hll_merge(ba, a);
		CU_ASSERT(same_state(ab, u));
		CU_ASSERT(same_state(ba, u));
		CU_ASSERT_EQUAL(hll_count(ab), hll_count(u));
		CU_ASSERT_EQUAL(hll_count(ba), hll_count(u));
		if (total <= 1000) {
			CU_ASSERT_EQUAL(hll_count(ab), total);
		} else {
			CU_ASSERT(rel_err(hll_count(ab), total) < 0.02);
		}

		/* Sources are unchanged; merging again changes nothing. */
		struct hll *a2 = sketch_of(77, 0, t->na);
		CU_ASSERT(same_state(a, a2));
		hll_merge(ab, b);
		hll_merge(ab, a);
		hll_merge(ab, ab);
		CU_ASSERT(same_state(ab, u));

		/* Into an empty sketch: a copy. */
		struct hll *e = hll_new();
		hll_merge(e, b);
		CU_ASSERT(same_state(e, b));
		hll_free(e);
		hll_free(a2);
		hll_free(a);
		hll_free(b);
		hll_free(u);
		hll_free(ab);
		hll_free(ba);
	}
}

/* Many small exact slices of one window merged in turn equal one sketch. */
static void test_merge_many_slices(void)
{
	struct hll *w = hll_new(), *u = hll_new();
	for (uint64_t s = 0; s < 60; s++) {
		struct hll *slice = sketch_of(5, s * 400, s * 400 + 500); /* overlapping */
		hll_merge(w, slice);
		fill(u, 5, s * 400, s * 400 + 500);
		CU_ASSERT(same_state(w, u));
		hll_free(slice);
	}
	CU_ASSERT(rel_err(hll_count(w), 59 * 400 + 500) < 0.02);
	hll_free(w);
	hll_free(u);
}

/* ---- encoding ---- */

struct rt_case {
	uint64_t n;
	int form;
	size_t max_len; /* compactness bound */
};

static const struct rt_case rt_cases[] = {
    {0, FORM_EXACT, 7},
    {1, FORM_EXACT, 7 + 8},
    {10, FORM_EXACT, 7 + 88}, /* and the zero hash */
    {1000, FORM_EXACT, 8 + 8000},
    {1001, FORM_SPARSE, 8 + 3 * 1001},
    {2500, FORM_SPARSE, 8 + 3 * 2500},
    {5000, FORM_DENSE, 6 + DENSE_BYTES},
    {200000, FORM_DENSE, 6 + DENSE_BYTES},
};

static void test_roundtrip(void)
{
	printf("\n  members  form    encoded bytes\n");
	for (size_t c = 0; c < sizeof(rt_cases) / sizeof(rt_cases[0]); c++) {
		const struct rt_case *t = &rt_cases[c];
		struct hll *h = sketch_of(11, 0, t->n);
		if (t->n == 10)
			hll_add_hash(h, 0); /* the zero hash survives too */
		CU_ASSERT_EQUAL(form_of(h), t->form);
		struct buf b = encoded(h);
		CU_ASSERT(b.len <= t->max_len);
		printf("  %7llu  %-6s  %zu\n", (unsigned long long)t->n,
		       t->form == FORM_EXACT    ? "exact"
		       : t->form == FORM_SPARSE ? "sparse"
		                                : "dense",
		       b.len);
		struct hll *d = hll_decode(b.p, b.len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(d);
		CU_ASSERT(same_state(h, d));
		CU_ASSERT_EQUAL(hll_count(d), hll_count(h));

		/* The decoded sketch goes on like the original. */
		fill(h, 12, 0, 3000);
		fill(d, 12, 0, 3000);
		CU_ASSERT(same_state(h, d));
		CU_ASSERT_EQUAL(hll_count(d), hll_count(h));

		/* Appended to a non-empty buffer, the encoding is the same. */
		struct buf pre = BUF_INIT;
		buf_append(&pre, "xyz", 3);
		hll_encode(h, &pre);
		struct buf again = encoded(h);
		CU_ASSERT(pre.len == again.len + 3 && memcmp(pre.p + 3, again.p, again.len) == 0);
		buf_free(&pre);
		buf_free(&again);
		buf_free(&b);
		hll_free(d);
		hll_free(h);
	}
}

static void expect_reject(const void *p, size_t len)
{
	struct hll *h = hll_decode(p, len);
	CU_ASSERT_PTR_NULL(h);
	hll_free(h);
}

static void test_truncated_and_flipped(void)
{
	const uint64_t sizes[] = {0, 50, 1500, 5000};
	for (size_t c = 0; c < sizeof(sizes) / sizeof(sizes[0]); c++) {
		struct hll *h = sketch_of(13, 0, sizes[c]);
		struct buf b = encoded(h);
		unsigned char *copy = malloc(b.len + 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		for (size_t len = 0; len < b.len; len++) {
			memcpy(copy, b.p, len); /* an exact-sized copy, for ASan */
			expect_reject(copy, len);
		}
		memcpy(copy, b.p, b.len);
		for (size_t i = 0; i < b.len; i++) {
			const unsigned char masks[] = {(unsigned char)(1u << (i % 8)), 0xff};
			for (size_t m = 0; m < 2; m++) {
				copy[i] ^= masks[m];
				expect_reject(copy, b.len);
				copy[i] ^= masks[m];
			}
		}
		copy[b.len] = 0;
		expect_reject(copy, b.len + 1);
		struct hll *ok = hll_decode(copy, b.len);
		CU_ASSERT_PTR_NOT_NULL(ok);
		hll_free(ok);
		free(copy);
		buf_free(&b);
		hll_free(h);
	}
	expect_reject(NULL, 0);
}

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t rng(void)
{
	rng_state += 0x9e3779b97f4a7c15ULL;
	uint64_t z = rng_state;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_random_bytes(void)
{
	unsigned char buf[DENSE_BYTES + 16];
	for (int round = 0; round < 3000; round++) {
		size_t len = round % 3 == 2 ? DENSE_BYTES + 6 : rng() % 400;
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rng();
		if (round % 2 && len >= 2) { /* a plausible header */
			buf[0] = ENC_VERSION;
			buf[1] = (unsigned char)(rng() % 3);
		}
		expect_reject(buf, len);
	}
}

/* Hand-built bodies; the test appends the right checksum, so only the
 * structure decides. */
struct craft {
	const char *name;
	unsigned char bytes[24];
	size_t len;
	bool ok;
};

static const struct craft crafts[] = {
    {"empty exact", {1, 0, 0}, 3, true},
    {"version 0", {0, 0, 0}, 3, false},
    {"version 2", {2, 0, 0}, 3, false},
    {"form 3", {1, 3, 0}, 3, false},
    {"header only", {1, 0}, 2, false},
    {"exact one hash", {1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8}, 11, true},
    {"exact hash cut", {1, 0, 1, 1, 2, 3, 4, 5, 6, 7}, 10, false},
    {"exact n too big", {1, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8}, 11, false},
    {"exact increasing", {1, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, 19, true},
    {"exact decreasing", {1, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, 19, false},
    {"exact duplicate", {1, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, 19, false},
    {"exact trailing", {1, 0, 0, 0}, 4, false},
    {"varint not minimal", {1, 0, 0x80, 0x00}, 4, false},
    {"varint too long",
     {1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
     13,
     false},
    {"varint cut", {1, 1, 0x81}, 3, false},
    {"sparse one", {1, 1, 1, 0xc1, 0x02}, 5, true},     /* index 5 rank 1 */
    {"sparse index 0", {1, 1, 1, 0x33}, 4, true},       /* rank 51 */
    {"sparse none", {1, 1, 0}, 3, false},               /* n = 0 */
    {"sparse rank 0", {1, 1, 1, 0xc0, 0x02}, 5, false}, /* index 5 rank 0 */
    {"sparse rank 52", {1, 1, 1, 0xf4, 0x02}, 5, false},
    {"sparse last index", {1, 1, 1, 0xc1, 0xff, 0x3f}, 6, true},  /* 16383 */
    {"sparse index 2^14", {1, 1, 1, 0x81, 0x80, 0x40}, 6, false}, /* 16384 */
    {"sparse sum past 2^14",
     {1, 1, 2, 0x81, 0xc0, 0x3e, 0x81, 0xc8, 0x01},
     9,
     false},                                                          /* 16000+400 */
    {"sparse two", {1, 1, 2, 0x81, 0xc0, 0x3e, 0x81, 0x28}, 8, true}, /* 16000, 16080 */
    {"sparse repeated index", {1, 1, 2, 0xc1, 0x02, 0x02}, 6, false},
    {"sparse entry missing", {1, 1, 2, 0xc1, 0x02}, 5, false},
    {"sparse trailing", {1, 1, 1, 0xc1, 0x02, 0}, 6, false},
    {"dense empty", {1, 2}, 2, false},
};

static void finish(struct buf *b)
{
	uint64_t sum = htab_hash(b->p, b->len);
	for (int k = 0; k < 4; k++)
		buf_putc(b, (char)(sum >> (8 * k)));
}

static bool accepts(struct buf *b)
{
	finish(b);
	struct hll *h = hll_decode(b->p, b->len);
	bool ok = h != NULL;
	hll_free(h);
	return ok;
}

static void put_varint(struct buf *b, uint64_t v)
{
	do {
		buf_putc(b, (char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
		v >>= 7;
	} while (v);
}

static void set_reg(unsigned char *d, uint32_t i, unsigned v)
{
	unsigned char *g = d + (i / 4) * 3;
	uint32_t w = (uint32_t)g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;
	unsigned shift = (i % 4) * 6;
	w = (w & ~(63u << shift)) | (uint32_t)v << shift;
	g[0] = (unsigned char)w;
	g[1] = (unsigned char)(w >> 8);
	g[2] = (unsigned char)(w >> 16);
}

/* A dense body with the first nonzero registers set to rank, then one
 * register set to odd (if odd_at < HLL_M), padded by extra bytes. */
static bool dense_accepted(uint32_t nonzero, unsigned rank, uint32_t odd_at, unsigned odd,
                           int extra)
{
	unsigned char *d = calloc(1, DENSE_BYTES + 1);
	for (uint32_t i = 0; i < nonzero; i++)
		set_reg(d, i, rank);
	if (odd_at < HLL_M)
		set_reg(d, odd_at, odd);
	struct buf b = BUF_INIT;
	buf_putc(&b, ENC_VERSION);
	buf_putc(&b, FORM_DENSE);
	buf_append(&b, d, (size_t)((int)DENSE_BYTES + extra));
	bool ok = accepts(&b);
	buf_free(&b);
	free(d);
	return ok;
}

/* A sparse body of n entries at indexes 0..n-1 with rank 1. */
static bool sparse_accepted(uint32_t n)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, ENC_VERSION);
	buf_putc(&b, FORM_SPARSE);
	put_varint(&b, n);
	for (uint32_t i = 0; i < n; i++)
		put_varint(&b, (uint64_t)(i ? 1 : 0) << 6 | 1);
	bool ok = accepts(&b);
	buf_free(&b);
	return ok;
}

/* An exact body of n increasing hashes. */
static bool exact_accepted(uint32_t n)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, ENC_VERSION);
	buf_putc(&b, FORM_EXACT);
	put_varint(&b, n);
	for (uint64_t i = 0; i < n; i++)
		for (int k = 0; k < 8; k++)
			buf_putc(&b, (char)((i * 0x10000000000ULL + 7) >> (8 * k)));
	bool ok = accepts(&b);
	buf_free(&b);
	return ok;
}

static void test_crafted(void)
{
	for (size_t c = 0; c < sizeof(crafts) / sizeof(crafts[0]); c++) {
		struct buf b = BUF_INIT;
		buf_append(&b, crafts[c].bytes, crafts[c].len);
		bool ok = accepts(&b);
		if (ok != crafts[c].ok)
			printf("\n  crafted case '%s': decode %s\n", crafts[c].name,
			       ok ? "accepted" : "rejected");
		CU_ASSERT_EQUAL(ok, crafts[c].ok);
		buf_free(&b);
	}
	CU_ASSERT(exact_accepted(1000));
	CU_ASSERT(!exact_accepted(1001));
	CU_ASSERT(sparse_accepted(SPARSE_MAX));
	CU_ASSERT(!sparse_accepted(SPARSE_MAX + 1));
	/* A dense sketch always has more than SPARSE_MAX registers set. */
	CU_ASSERT(dense_accepted(SPARSE_MAX + 1, 5, HLL_M, 0, 0));
	CU_ASSERT(!dense_accepted(SPARSE_MAX, 5, HLL_M, 0, 0));
	CU_ASSERT(dense_accepted(HLL_M, 51, HLL_M, 0, 0));
	CU_ASSERT(dense_accepted(5000, 3, HLL_M - 1, 51, 0));
	CU_ASSERT(!dense_accepted(5000, 3, HLL_M - 1, 52, 0));
	CU_ASSERT(!dense_accepted(5000, 3, 7, 63, 0));
	CU_ASSERT(!dense_accepted(5000, 3, HLL_M, 0, -1));
	CU_ASSERT(!dense_accepted(5000, 3, HLL_M, 0, 1));
}

/* Every register at the top rank: the estimate saturates, it does not wrap. */
static void test_saturated(void)
{
	struct hll *h = sketch_of(3, 0, 5000);
	for (uint32_t i = 0; i < HLL_M; i++)
		hll_add_hash(h, (uint64_t)i << 50);
	CU_ASSERT_EQUAL(hll_count(h), UINT64_MAX);
	hll_free(h);
}

/* ---- memory ---- */

struct mem_case {
	uint64_t n;
	int form;
	size_t max_bytes;
};

static const struct mem_case mem_cases[] = {
    {0, FORM_EXACT, 64},          {10, FORM_EXACT, 511},      {1000, FORM_EXACT, 12 * 1024},
    {1001, FORM_SPARSE, 8192},    {2000, FORM_SPARSE, 12288}, {5000, FORM_DENSE, 16383},
    {1000000, FORM_DENSE, 16383},
};

static void test_memory(void)
{
	printf("\n  members  form    hll_memory\n");
	for (size_t c = 0; c < sizeof(mem_cases) / sizeof(mem_cases[0]); c++) {
		const struct mem_case *t = &mem_cases[c];
		struct hll *h = sketch_of(21, 0, t->n);
		size_t mem = hll_memory(h);
		printf("  %7llu  %-6s  %zu\n", (unsigned long long)t->n,
		       t->form == FORM_EXACT    ? "exact"
		       : t->form == FORM_SPARSE ? "sparse"
		                                : "dense",
		       mem);
		CU_ASSERT_EQUAL(form_of(h), t->form);
		CU_ASSERT(mem <= t->max_bytes);

		/* clear returns to an empty exact sketch that works again */
		hll_clear(h);
		CU_ASSERT_EQUAL(hll_count(h), 0);
		CU_ASSERT(hll_memory(h) <= mem_cases[0].max_bytes);
		fill(h, 22, 0, 10);
		CU_ASSERT_EQUAL(hll_count(h), 10);
		CU_ASSERT_EQUAL(form_of(h), FORM_EXACT);
		hll_free(h);
	}
	/* Sparse stays smaller than dense right up to the switch. */
	struct hll *h = hll_new();
	size_t dense_mem = 0, sparse_peak = 0;
	for (uint64_t i = 0; form_of(h) != FORM_DENSE; i += 100) {
		if (form_of(h) == FORM_SPARSE && hll_memory(h) > sparse_peak)
			sparse_peak = hll_memory(h);
		fill(h, 23, i, i + 100);
	}
	dense_mem = hll_memory(h);
	printf("  sparse peak %zu, dense %zu\n", sparse_peak, dense_mem);
	CU_ASSERT(sparse_peak > 0 && sparse_peak < dense_mem);
	hll_free(h);
	hll_free(NULL);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("hll", NULL, NULL);
	if (!s || !CU_add_test(s, "exact_counts", test_exact_counts) ||
	    !CU_add_test(s, "exact_edges", test_exact_edges) ||
	    !CU_add_test(s, "accuracy", test_accuracy) ||
	    !CU_add_test(s, "merge_union", test_merge_union) ||
	    !CU_add_test(s, "merge_many_slices", test_merge_many_slices) ||
	    !CU_add_test(s, "roundtrip", test_roundtrip) ||
	    !CU_add_test(s, "truncated_and_flipped", test_truncated_and_flipped) ||
	    !CU_add_test(s, "random_bytes", test_random_bytes) ||
	    !CU_add_test(s, "crafted", test_crafted) ||
	    !CU_add_test(s, "saturated", test_saturated) ||
	    !CU_add_test(s, "memory", test_memory)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
}
