/* hll: distinct count of 64-bit member hashes in three forms that switch one
 * way only: exact (open-addressing set, up to HLL_EXACT_MAX hashes), sparse
 * (sorted (index, rank) list while smaller than the dense form) and dense
 * (2^14 six-bit HyperLogLog registers), estimated with Ertl's improved raw
 * estimator (arXiv:1702.01284). It neither hashes members nor subtracts.
 * Called by the interval shards and the windows for sets, and by the state file. */
#include "hll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "xalloc.h"

#define HLL_P 14
#define HLL_M (1u << HLL_P)
#define HLL_Q (64 - HLL_P)       /* bits left for the rank */
#define HLL_RANK_MAX (HLL_Q + 1) /* 51: the remaining bits were all zero */
#define HLL_EXACT_MAX 1000       /* distinct hashes kept exactly */
#define EXACT_CAP_MIN 16
#define EXACT_CAP_MAX 1400 /* HLL_EXACT_MAX at load 0.71 */
/* Dense registers are packed four to three bytes: 12 KiB instead of 16 KiB
 * for one byte each, which keeps a dense sketch (struct included) under
 * 16 KiB for a few shifts per register access. */
#define DENSE_BYTES (HLL_M / 4 * 3)
/* A sparse entry is a uint32_t (index << 8 | rank); the list stays sparse
 * while it is smaller than the dense registers. */
#define SPARSE_MAX ((uint32_t)(DENSE_BYTES / sizeof(uint32_t) - 1))

#define ENC_VERSION 1
#define ENC_CHECK 4 /* trailing checksum bytes */

enum form { FORM_EXACT = 0, FORM_SPARSE = 1, FORM_DENSE = 2 };

struct hll {
	enum form form;
	bool has_zero; /* exact: hash 0 is a member (0 marks an empty slot) */
	uint32_t n;    /* exact: non-zero hashes in set; sparse: entries */
	uint32_t cap;  /* exact: slots of set; sparse: entries allocated */
	uint64_t *set; /* exact */
	uint32_t *sparse;
	uint8_t *dense;
};

static uint32_t reg_index(uint64_t hash)
{
	return (uint32_t)(hash >> HLL_Q);
}

static uint8_t reg_rank(uint64_t hash)
{
	uint64_t rest = hash << HLL_P; /* the low HLL_Q bits, left-aligned */
	if (rest == 0)
		return HLL_RANK_MAX;
	return (uint8_t)(__builtin_clzll(rest) + 1);
}

static uint8_t dense_get(const uint8_t *d, uint32_t i)
{
	const uint8_t *g = d + (i >> 2) * 3;
	uint32_t w = (uint32_t)g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;
	return (uint8_t)((w >> ((i & 3) * 6)) & 63);
}

static void dense_set(uint8_t *d, uint32_t i, uint8_t v)
{
	uint8_t *g = d + (i >> 2) * 3;
	unsigned shift = (i & 3) * 6;
	uint32_t w = (uint32_t)g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;
	w = (w & ~(63u << shift)) | (uint32_t)v << shift;
	g[0] = (uint8_t)w;
	g[1] = (uint8_t)(w >> 8);
	g[2] = (uint8_t)(w >> 16);
}

static void dense_max(uint8_t *d, uint32_t i, uint8_t v)
{
	if (dense_get(d, i) < v)
		dense_set(d, i, v);
}

/* ---- exact form ---- */

static size_t exact_slot(uint64_t hash, uint32_t cap)
{
	return (size_t)(((uint64_t)(uint32_t)hash * cap) >> 32);
}

static uint32_t exact_limit(uint32_t cap)
{
	return cap >= EXACT_CAP_MAX ? HLL_EXACT_MAX : cap / 4 * 3;
}

/* Inserts a non-zero hash; returns true if it was new. The caller has made
 * room. */
static bool exact_insert(uint64_t *set, uint32_t cap, uint64_t hash)
{
	size_t i = exact_slot(hash, cap);
	while (set[i]) {
		if (set[i] == hash)
			return false;
		if (++i == cap)
			i = 0;
	}
	set[i] = hash;
	return true;
}

static bool exact_contains(const struct hll *h, uint64_t hash)
{
	if (!h->cap)
		return false;
	size_t i = exact_slot(hash, h->cap);
	while (h->set[i]) {
		if (h->set[i] == hash)
			return true;
		if (++i == h->cap)
			i = 0;
	}
	return false;
}

static void exact_grow(struct hll *h)
{
	uint32_t cap = h->cap ? h->cap * 2 : EXACT_CAP_MIN;
	if (cap > EXACT_CAP_MAX)
		cap = EXACT_CAP_MAX;
	uint64_t *set = xcalloc(cap, sizeof(*set));
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->set[i])
			exact_insert(set, cap, h->set[i]);
	free(h->set);
	h->set = set;
	h->cap = cap;
}

/* ---- sparse form ---- */

static uint32_t sp_index(uint32_t e)
{
	return e >> 8;
}

static uint8_t sp_rank(uint32_t e)
{
	return (uint8_t)(e & 0xff);
}

static uint32_t sp_entry(uint32_t index, uint8_t rank)
{
	return index << 8 | rank;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void to_dense(struct hll *h);

static void sparse_reserve(struct hll *h, uint32_t need)
{
	if (need <= h->cap)
		return;
	uint32_t cap = h->cap + h->cap / 2;
	if (cap < need)
		cap = need;
	if (cap < 64)
		cap = 64;
	if (cap > SPARSE_MAX)
		cap = SPARSE_MAX;
	h->sparse = xrealloc(h->sparse, (size_t)cap * sizeof(*h->sparse));
	h->cap = cap;
}

/* Raises register index to rank (sparse form), turning dense when the list
 * would reach the size of the dense registers. */
static void sparse_max(struct hll *h, uint32_t index, uint8_t rank)
{
	uint32_t lo = 0, hi = h->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (sp_index(h->sparse[mid]) < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < h->n && sp_index(h->sparse[lo]) == index) {
		if (sp_rank(h->sparse[lo]) < rank)
			h->sparse[lo] = sp_entry(index, rank);
		return;
	}
	if (h->n == SPARSE_MAX) {
		to_dense(h);
		dense_max(h->dense, index, rank);
		return;
	}
	sparse_reserve(h, h->n + 1);
	memmove(h->sparse + lo + 1, h->sparse + lo, (size_t)(h->n - lo) * sizeof(*h->sparse));
	h->sparse[lo] = sp_entry(index, rank);
	h->n++;
}

static void to_dense(struct hll *h)
{
	uint8_t *d = xcalloc(1, DENSE_BYTES);
	for (uint32_t i = 0; i < h->n; i++)
		dense_set(d, sp_index(h->sparse[i]), sp_rank(h->sparse[i]));
	free(h->sparse);
	h->sparse = NULL;
	h->dense = d;
	h->n = 0;
	h->cap = 0;
	h->form = FORM_DENSE;
}

/* Exact set plus one more hash (extra, ignored if has_extra is false) to
 * sparse registers. */
static void exact_to_sparse(struct hll *h, bool has_extra, uint64_t extra)
{
	uint32_t total = h->n + h->has_zero + has_extra;
	uint32_t *e = xmalloc((size_t)(total ? total : 1) * sizeof(*e));
	uint32_t k = 0;
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->set[i])
			e[k++] = sp_entry(reg_index(h->set[i]), reg_rank(h->set[i]));
	if (h->has_zero)
		e[k++] = sp_entry(reg_index(0), reg_rank(0));
	if (has_extra)
		e[k++] = sp_entry(reg_index(extra), reg_rank(extra));
	qsort(e, k, sizeof(*e), cmp_u32);
	/* Keep the last (highest rank) entry of each index. */
	uint32_t out = 0;
	for (uint32_t i = 0; i < k; i++) {
		if (out && sp_index(e[out - 1]) == sp_index(e[i]))
			out--;
		e[out++] = e[i];
	}
	free(h->set);
	h->set = NULL;
	h->has_zero = false;
	h->form = FORM_SPARSE;
	h->sparse = e;
	h->n = out;
	h->cap = k ? k : 1;
	/* At most HLL_EXACT_MAX + 1 entries: always below SPARSE_MAX. */
}

static void approx_max(struct hll *h, uint32_t index, uint8_t rank)
{
	if (h->form == FORM_SPARSE)
		sparse_max(h, index, rank);
	else
		dense_max(h->dense, index, rank);
}

/* ---- public ---- */

struct hll *hll_new(void)
{
	return xcalloc(1, sizeof(struct hll));
}

void hll_free(struct hll *h)
{
	if (!h)
		return;
	free(h->set);
	free(h->sparse);
	free(h->dense);
	free(h);
}

void hll_clear(struct hll *h)
{
	free(h->set);
	free(h->sparse);
	free(h->dense);
	memset(h, 0, sizeof(*h));
}

void hll_add_hash(struct hll *h, uint64_t hash)
{
	if (h->form != FORM_EXACT) {
		approx_max(h, reg_index(hash), reg_rank(hash));
		return;
	}
	if (hash == 0 ? h->has_zero : exact_contains(h, hash))
		return;
	if (h->n + h->has_zero == HLL_EXACT_MAX) {
		exact_to_sparse(h, true, hash);
		return;
	}
	if (hash == 0) {
		h->has_zero = true;
		return;
	}
	if (h->n + 1 > exact_limit(h->cap))
		exact_grow(h);
	exact_insert(h->set, h->cap, hash);
	h->n++;
}

void hll_merge(struct hll *dst, const struct hll *src)
{
	if (dst == src)
		return;
	if (src->form == FORM_EXACT) {
		if (src->has_zero)
			hll_add_hash(dst, 0);
		for (uint32_t i = 0; i < src->cap; i++)
			if (src->set[i])
				hll_add_hash(dst, src->set[i]);
		return;
	}
	/* src holds more than HLL_EXACT_MAX hashes, so the union does too. */
	if (dst->form == FORM_EXACT)
		exact_to_sparse(dst, false, 0);
	if (src->form == FORM_DENSE) {
		if (dst->form == FORM_SPARSE)
			to_dense(dst);
		for (uint32_t i = 0; i < HLL_M; i++) {
			uint8_t r = dense_get(src->dense, i);
			if (r)
				dense_max(dst->dense, i, r);
		}
		return;
	}
	if (dst->form == FORM_DENSE) {
		for (uint32_t i = 0; i < src->n; i++)
			dense_max(dst->dense, sp_index(src->sparse[i]), sp_rank(src->sparse[i]));
		return;
	}
	/* sparse into sparse: merge the two sorted lists. */
	uint32_t *m = xmalloc(((size_t)dst->n + src->n) * sizeof(*m));
	uint32_t a = 0, b = 0, k = 0;
	while (a < dst->n || b < src->n) {
		uint32_t x = a < dst->n ? dst->sparse[a] : UINT32_MAX;
		uint32_t y = b < src->n ? src->sparse[b] : UINT32_MAX;
		if (sp_index(x) == sp_index(y)) {
			m[k++] = x > y ? x : y;
			a++;
			b++;
		} else if (sp_index(x) < sp_index(y)) {
			m[k++] = x;
			a++;
		} else {
			m[k++] = y;
			b++;
		}
	}
	free(dst->sparse);
	dst->sparse = m;
	dst->n = k;
	dst->cap = k;
	if (k > SPARSE_MAX)
		to_dense(dst);
	else
		dst->sparse = xrealloc(m, (size_t)k * sizeof(*m));
}

/* Ertl's sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), for 0 <= x < 1. */
static double ertl_sigma(double x)
{
	double y = 1, z = x, prev;
	do {
		x *= x;
		prev = z;
		z += x * y;
		y += y;
	} while (z != prev);
	return z;
}

/* Ertl's tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3. */
static double ertl_tau(double x)
{
	if (x == 0 || x == 1)
		return 0;
	double y = 1, z = 1 - x, prev;
	do {
		x = sqrt(x);
		prev = z;
		y *= 0.5;
		z -= (1 - x) * (1 - x) * y;
	} while (z != prev);
	return z / 3;
}

static double estimate(const struct hll *h)
{
	uint32_t c[HLL_RANK_MAX + 1] = {0};
	if (h->form == FORM_SPARSE) {
		c[0] = HLL_M - h->n;
		for (uint32_t i = 0; i < h->n; i++)
			c[sp_rank(h->sparse[i])]++;
	} else {
		for (uint32_t i = 0; i < HLL_M; i++)
			c[dense_get(h->dense, i)]++;
	}
	if (c[0] == HLL_M)
		return 0;
	const double m = HLL_M;
	double z = m * ertl_tau(1 - c[HLL_Q + 1] / m);
	for (int k = HLL_Q; k >= 1; k--)
		z = 0.5 * (z + c[k]);
	z += m * ertl_sigma(c[0] / m);
	return m * m / (2 * log(2)) / z;
}

uint64_t hll_count(const struct hll *h)
{
	if (h->form == FORM_EXACT)
		return h->n + h->has_zero;
	double e = estimate(h);
	/* The approximate forms are only reached past HLL_EXACT_MAX hashes. */
	if (e < HLL_EXACT_MAX + 1)
		return HLL_EXACT_MAX + 1;
	if (e >= 18446744073709549568.0)
		return UINT64_MAX;
	return (uint64_t)llround(e);
}

size_t hll_memory(const struct hll *h)
{
	size_t n = sizeof(*h);
	if (h->form == FORM_EXACT)
		n += (size_t)h->cap * sizeof(*h->set);
	else if (h->form == FORM_SPARSE)
		n += (size_t)h->cap * sizeof(*h->sparse);
	else
		n += DENSE_BYTES;
	return n;
}

/* ---- encoding ----
 * version(1) form(1) body checksum(4, LE low half of htab_hash of all the
 * preceding bytes). Bodies:
 *   exact:  varint n (<= 1000), n hashes as 8-byte LE, strictly increasing
 *   sparse: varint n (1..SPARSE_MAX), n varints (index delta << 6 | rank),
 *           the first delta from 0, later deltas >= 1, index < 2^14, rank 1..51
 *   dense:  DENSE_BYTES of packed registers (each <= 51), more than
 *           SPARSE_MAX of them non-zero
 * Varints are LEB128, minimal. */

static void put_varint(struct buf *out, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;
	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	buf_append(out, b, n);
}

static void put_le(struct buf *out, uint64_t v, size_t n)
{
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	buf_append(out, b, n);
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void hll_encode(const struct hll *h, struct buf *out)
{
	size_t start = out->len;
	uint8_t head[2] = {ENC_VERSION, (uint8_t)h->form};
	buf_append(out, head, sizeof(head));
	if (h->form == FORM_EXACT) {
		uint32_t total = h->n + h->has_zero;
		uint64_t *v = xmalloc((size_t)(total ? total : 1) * sizeof(*v));
		uint32_t k = 0;
		if (h->has_zero)
			v[k++] = 0;
		for (uint32_t i = 0; i < h->cap; i++)
			if (h->set[i])
				v[k++] = h->set[i];
		qsort(v, k, sizeof(*v), cmp_u64);
		put_varint(out, k);
		for (uint32_t i = 0; i < k; i++)
			put_le(out, v[i], 8);
		free(v);
	} else if (h->form == FORM_SPARSE) {
		put_varint(out, h->n);
		uint32_t prev = 0;
		for (uint32_t i = 0; i < h->n; i++) {
			uint32_t idx = sp_index(h->sparse[i]);
			put_varint(out, (uint64_t)(idx - prev) << 6 | sp_rank(h->sparse[i]));
			prev = idx;
		}
	} else {
		buf_append(out, h->dense, DENSE_BYTES);
	}
	uint64_t sum = htab_hash(out->p + start, out->len - start);
	put_le(out, sum & 0xffffffffu, ENC_CHECK);
}

static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p == end)
			return false;
		uint8_t b = *(*p)++;
		if (shift == 63 && b > 1)
			return false;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			if (b == 0 && shift > 0)
				return false; /* not minimal */
			if (v > max)
				return false;
			*out = v;
			return true;
		}
	}
	return false;
}

static bool decode_exact(struct hll *h, const uint8_t *p, const uint8_t *end)
{
	uint64_t n;
	if (!get_varint(&p, end, HLL_EXACT_MAX, &n) || (size_t)(end - p) != n * 8)
		return false;
	uint64_t prev = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v = get_le(p + i * 8, 8);
		if (i > 0 && v <= prev)
			return false;
		prev = v;
		hll_add_hash(h, v);
	}
	return true;
}

static bool decode_sparse(struct hll *h, const uint8_t *p, const uint8_t *end)
{
	uint64_t n;
	if (!get_varint(&p, end, SPARSE_MAX, &n) || n == 0)
		return false;
	h->form = FORM_SPARSE;
	h->sparse = xmalloc((size_t)n * sizeof(*h->sparse));
	h->cap = (uint32_t)n;
	uint64_t idx = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v;
		if (!get_varint(&p, end, (uint64_t)HLL_M << 6, &v))
			return false;
		uint64_t delta = v >> 6;
		uint8_t rank = (uint8_t)(v & 63);
		if ((i > 0 && delta == 0) || rank == 0 || rank > HLL_RANK_MAX)
			return false;
		idx += delta;
		if (idx >= HLL_M)
			return false;
		h->sparse[i] = sp_entry((uint32_t)idx, rank);
		h->n++;
	}
	return p == end;
}

static bool decode_dense(struct hll *h, const uint8_t *p, const uint8_t *end)
{
	if ((size_t)(end - p) != DENSE_BYTES)
		return false;
	h->form = FORM_DENSE;
	h->dense = xmalloc(DENSE_BYTES);
	memcpy(h->dense, p, DENSE_BYTES);
	uint32_t nonzero = 0;
	for (uint32_t i = 0; i < HLL_M; i++) {
		uint8_t r = dense_get(h->dense, i);
		if (r > HLL_RANK_MAX)
			return false;
		nonzero += r != 0;
	}
	return nonzero > SPARSE_MAX;
}

struct hll *hll_decode(const void *data, size_t len)
{
	const uint8_t *p = data;
	if (!data || len < 2 + ENC_CHECK || p[0] != ENC_VERSION)
		return NULL;
	size_t body = len - ENC_CHECK;
	if (get_le(p + body, ENC_CHECK) != (htab_hash(p, body) & 0xffffffffu))
		return NULL;
	struct hll *h = hll_new();
	bool ok;
	switch (p[1]) {
	case FORM_EXACT:
		ok = decode_exact(h, p + 2, p + body);
		break;
	case FORM_SPARSE:
		ok = decode_sparse(h, p + 2, p + body);
		break;
	case FORM_DENSE:
		ok = decode_dense(h, p + 2, p + body);
		break;
	default:
		ok = false;
	}
	if (!ok) {
		hll_free(h);
		return NULL;
	}
	return h;
}
