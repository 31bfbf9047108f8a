/* sketch_frozen: the compact frozen byte form of a sketch — sketch_freeze
 * (varint tokens, the shortest key-delta width per store) and merging or
 * subtracting a validated encoding into a live sketch in one pass. It does
 * not map values or manage store memory (sketch.c does, through
 * sketch_store.h). Called by window.c for slices and by the state file. */
#include "sketch.h"

#include <string.h>

#include "sketch_store.h"

/* Where a key of something merged earlier sits in st now. */
static int32_t store_map(const struct store *st, int32_t k)
{
	return st->collapsed && k < st->lo ? st->lo : k;
}

/* ---- varints and frozen stores ----------------------------------------- */

static inline bool varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	if (p < end && *p < 0x80) { /* the common one-byte case */
		*out = *p;
		*pp = p + 1;
		return true;
	}
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (p == end)
			return false;
		uint8_t b = *p++;
		if (shift == 63 && b > 1)
			return false; /* more than 64 bits */
		v |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*out = v;
			return true;
		}
	}
	return false;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* One token of a frozen store: the count of the next non-empty bucket and
 * the key delta from the previous one (see the format below). The first
 * bucket (key lo) carries only its count. false on malformed bytes. */
static inline bool token_get(const uint8_t **pp, const uint8_t *end, unsigned kb, bool first,
                             uint64_t *delta, uint64_t *count)
{
	uint64_t t, extra;
	if (!varint_get(pp, end, &t))
		return false;
	if (first) {
		*delta = 0;
		*count = t + 1;
		return t != UINT64_MAX;
	}
	const uint64_t mask = ((uint64_t)1 << kb) - 1;
	if (kb == 0 && t == UINT64_MAX)
		return false;
	*count = (t >> kb) + 1;
	if ((t & mask) < mask) {
		*delta = (t & mask) + 1;
		return true;
	}
	if (!varint_get(pp, end, &extra) || extra > UINT64_MAX - mask - 1)
		return false;
	*delta = mask + 1 + extra;
	return true;
}

/* One store of a validated frozen encoding. */
struct fstore {
	bool nonempty, collapsed;
	unsigned kb; /* delta bits of a token */
	int32_t lo, hi;
	uint64_t n;
	const uint8_t *p, *end; /* its tokens */
};

struct fcur {
	const uint8_t *p;
	int32_t k;
	bool first, done;
};

static void fcur_init(struct fcur *cur, const struct fstore *fs)
{
	cur->p = fs->p;
	cur->k = fs->lo;
	cur->first = true;
	cur->done = !fs->nonempty;
}

/* The next non-empty bucket; the data was validated, so decoding cannot
 * fail here (if it did, the walk would just end). */
static inline bool fcur_next(struct fcur *cur, const struct fstore *fs, int32_t *k, uint64_t *c)
{
	uint64_t delta;
	if (cur->done)
		return false;
	if (!token_get(&cur->p, fs->end, fs->kb, cur->first, &delta, c)) {
		cur->done = true;
		return false;
	}
	cur->k = (int32_t)((int64_t)cur->k + (int64_t)delta);
	cur->first = false;
	cur->done = cur->k == fs->hi;
	*k = cur->k;
	return true;
}

/* st += fs. fs->n may be 0 (unknown, trusted data): the walk counts it,
 * and sets fs->n and fs->end. */
static void fstore_merge(struct store *st, struct fstore *fs, uint32_t maxb)
{
	struct fcur cur;
	int32_t k;
	uint64_t c;
	uint64_t n = 0;
	if (!fs->nonempty)
		return;
	sketch_store_room(st, fs->n);
	int32_t floor = sketch_store_prepare(st, fs->lo, fs->hi, fs->collapsed, MERGE_SLACK, maxb);
	fcur_init(&cur, fs);
	while (fcur_next(&cur, fs, &k, &c)) {
		n += c;
		if (!st->wide && n > UINT32_MAX - st->n) /* only when fs->n was unknown */
			sketch_store_room(st, n);
		cadd(st, k < floor ? floor : k, c);
	}
	st->n += n;
	fs->n = n;
	fs->end = cur.p;
}

/* Adds back the first `limit` buckets of fs that fstore_take removed. */
static void fstore_give_back(struct store *st, const struct fstore *fs, size_t limit)
{
	struct fcur cur;
	int32_t k;
	uint64_t c;
	fcur_init(&cur, fs);
	for (size_t i = 0; i < limit && fcur_next(&cur, fs, &k, &c); i++)
		cadd(st, store_map(st, k), c);
}

/* Removes fs's buckets from st in one pass; if a count would go negative
 * it puts back what it took and returns false. st->n and the range are
 * left for the caller to settle. Sets fs->n (it may be 0, unknown, before)
 * and fs->end. */
static bool fstore_take(struct store *st, struct fstore *fs)
{
	struct fcur cur;
	int32_t k;
	uint64_t c, n = 0;
	size_t taken = 0;
	if (!fs->nonempty)
		return true;
	if (fs->n > st->n)
		return false;
	fcur_init(&cur, fs);
	while (fcur_next(&cur, fs, &k, &c)) {
		int32_t m = store_map(st, k);
		if (m < st->lo || m > st->hi || c > cget(st, m)) {
			fstore_give_back(st, fs, taken);
			return false;
		}
		csub(st, m, c);
		n += c;
		taken++;
	}
	fs->n = n;
	fs->end = cur.p;
	return true;
}

/* ---- frozen form ------------------------------------------------------ */

/* Layout (little-endian):
 *   u8 magic 0xD5, u8 version 1, f64 accuracy,
 *   u8 flags: bit 0/1 positive/negative store non-empty, bit 2/3 that store
 *      is collapsed, bits 4-5/6-7 kb of that store (0..3),
 *   varint zero count,
 *   per non-empty store (positive first): zigzag varint lo, varint hi - lo,
 *   then per non-empty store its buckets in ascending key order: the first
 *   (key lo) as varint count-1; each next one as one varint token
 *   t = (count-1) << kb | min(delta-1, 2^kb - 1), where delta is the key step
 *   from the previous non-empty bucket, followed by varint delta - 2^kb when
 *   the low field is saturated. The last bucket is at key hi and the data
 *   ends there. kb is chosen per store to make the encoding shortest, so a
 *   1,000-sample slice takes about one byte per non-empty bucket. */
#define FZ_MAGIC 0xD5
#define FZ_VERSION 1
#define FZ_HEAD 11

static uint64_t zigzag(int32_t k)
{
	return k < 0 ? ((uint64_t)(-(int64_t)k) << 1) - 1 : (uint64_t)k << 1;
}

static bool unzigzag(uint64_t z, int64_t *k)
{
	if (z > ((uint64_t)1 << 33))
		return false;
	*k = (z & 1) ? -(int64_t)((z + 1) >> 1) : (int64_t)(z >> 1);
	return true;
}

/* Bytes of the token for a bucket after the first. */
static size_t token_len(uint64_t count, uint64_t delta, unsigned kb)
{
	const uint64_t mask = ((uint64_t)1 << kb) - 1;
	if (delta - 1 < mask)
		return varint_len((count - 1) << kb | (delta - 1));
	return varint_len((count - 1) << kb | mask) + varint_len(delta - 1 - mask);
}

static uint8_t *token_put(uint8_t *p, uint64_t count, uint64_t delta, unsigned kb)
{
	const uint64_t mask = ((uint64_t)1 << kb) - 1;
	if (delta - 1 < mask)
		return varint_put(p, (count - 1) << kb | (delta - 1));
	p = varint_put(p, (count - 1) << kb | mask);
	return varint_put(p, delta - 1 - mask);
}

/* The shortest kb for a store, and the bytes of its buckets with it. */
static unsigned store_best_kb(const struct store *st, size_t *bytes)
{
	size_t len[4] = {0, 0, 0, 0};
	uint64_t biggest = 0;
	int32_t prev = st->lo;
	len[0] = len[1] = len[2] = len[3] = varint_len(cget(st, st->lo) - 1);
	for (int32_t k = st->lo + 1; k <= st->hi; k++) {
		uint64_t c = cget(st, k);
		if (c == 0)
			continue;
		if (c > biggest)
			biggest = c;
		for (unsigned kb = 0; kb < 4; kb++)
			len[kb] += token_len(c, (uint64_t)((int64_t)k - prev), kb);
		prev = k;
	}
	unsigned best = 0;
	for (unsigned kb = 1; kb < 4; kb++) /* counts must fit beside kb bits */
		if (biggest - 1 <= (UINT64_MAX >> kb) && len[kb] < len[best])
			best = kb;
	*bytes = len[best];
	return best;
}

void sketch_freeze(const struct sketch *s, struct buf *out)
{
	unsigned kb[2] = {0, 0};
	size_t body[2] = {0, 0};
	uint8_t flags = 0;
	size_t total = FZ_HEAD + varint_len(s->zero);
	for (int w = POS; w <= NEG; w++) {
		const struct store *st = &s->st[w];
		if (store_empty(st))
			continue;
		kb[w] = store_best_kb(st, &body[w]);
		flags |= (uint8_t)(1u << w);
		if (st->collapsed)
			flags |= (uint8_t)(4u << w);
		flags |= (uint8_t)(kb[w] << (4 + 2 * w));
		total += varint_len(zigzag(st->lo)) +
		         varint_len((uint64_t)((int64_t)st->hi - st->lo)) + body[w];
	}
	buf_reserve(out, total);
	uint8_t *start = (uint8_t *)out->p + out->len, *p = start;
	uint64_t bits;
	memcpy(&bits, &s->acc, sizeof(bits));
	*p++ = FZ_MAGIC;
	*p++ = FZ_VERSION;
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(bits >> (8 * i));
	*p++ = flags;
	p = varint_put(p, s->zero);
	for (int w = POS; w <= NEG; w++) {
		const struct store *st = &s->st[w];
		if (store_empty(st))
			continue;
		p = varint_put(p, zigzag(st->lo));
		p = varint_put(p, (uint64_t)((int64_t)st->hi - st->lo));
	}
	for (int w = POS; w <= NEG; w++) {
		const struct store *st = &s->st[w];
		if (store_empty(st))
			continue;
		int32_t prev = st->lo;
		p = varint_put(p, cget(st, st->lo) - 1);
		for (int32_t k = st->lo + 1; k <= st->hi; k++) {
			uint64_t c = cget(st, k);
			if (c == 0)
				continue;
			p = token_put(p, c, (uint64_t)((int64_t)k - prev), kb[w]);
			prev = k;
		}
	}
	out->len += (size_t)(p - start);
	out->p[out->len] = '\0';
}

struct frozen {
	uint64_t zero;
	uint64_t count;
	struct fstore st[2];
};

/* Reads the header and store ranges of an encoding into f (checked
 * against s); *tokens is where the first store's buckets begin. */
static int frozen_head(const struct sketch *s, const void *data, size_t len, struct frozen *f,
                       const uint8_t **tokens)
{
	const uint8_t *p = data, *end;
	uint64_t bits = 0, v;
	double acc;
	memset(f, 0, sizeof(*f));
	if (!data || len < FZ_HEAD + 1 || p[0] != FZ_MAGIC || p[1] != FZ_VERSION)
		return -1;
	end = p + len;
	for (int i = 0; i < 8; i++)
		bits |= (uint64_t)p[2 + i] << (8 * i);
	memcpy(&acc, &bits, sizeof(acc));
	if (acc != s->acc)
		return -1;
	const uint8_t flags = p[10];
	p += FZ_HEAD;
	if (!varint_get(&p, end, &f->zero))
		return -1;
	f->count = f->zero;
	for (int w = POS; w <= NEG; w++) {
		struct fstore *b = &f->st[w];
		b->nonempty = flags & (1u << w);
		b->collapsed = flags & (4u << w);
		b->kb = (flags >> (4 + 2 * w)) & 3u;
		if (!b->nonempty) {
			if (b->collapsed || b->kb)
				return -1;
			continue;
		}
		const int64_t kmin = w == POS ? s->imin : -(int64_t)s->imax;
		const int64_t kmax = w == POS ? s->imax : -(int64_t)s->imin;
		int64_t lo;
		if (!varint_get(&p, end, &v) || !unzigzag(v, &lo) || lo < kmin || lo > kmax)
			return -1;
		if (!varint_get(&p, end, &v) || v > (uint64_t)(kmax - lo))
			return -1;
		b->lo = (int32_t)lo;
		b->hi = (int32_t)(lo + (int64_t)v);
		b->end = end;
	}
	*tokens = p;
	return 0;
}

/* Validates a whole encoding against s (accuracy, key ranges, every token,
 * exact length, no count overflow) and fills f for merging. */
static int frozen_parse(const struct sketch *s, const void *data, size_t len, struct frozen *f)
{
	const uint8_t *p, *end;
	if (frozen_head(s, data, len, f, &p) < 0)
		return -1;
	end = (const uint8_t *)data + len;
	for (int w = POS; w <= NEG; w++) {
		struct fstore *b = &f->st[w];
		if (!b->nonempty)
			continue;
		b->p = p;
		int64_t k = b->lo;
		bool first = true;
		for (;;) {
			uint64_t delta, c;
			if (!token_get(&p, end, b->kb, first, &delta, &c))
				return -1;
			if (delta > (uint64_t)(b->hi - k))
				return -1;
			k += (int64_t)delta;
			if (c > UINT64_MAX - b->n)
				return -1;
			b->n += c;
			first = false;
			if (k == b->hi)
				break;
		}
		b->end = p;
		if (b->n > UINT64_MAX - f->count)
			return -1;
		f->count += b->n;
	}
	return p == end ? 0 : -1;
}

bool sketch_frozen_valid(const struct sketch *s, const void *data, size_t len)
{
	struct frozen f;
	return frozen_parse(s, data, len, &f) == 0;
}

int sketch_merge_frozen(struct sketch *dst, const void *data, size_t len)
{
	struct frozen f;
	if (frozen_parse(dst, data, len, &f) < 0 || f.count > UINT64_MAX - dst->count)
		return -1;
	for (int w = POS; w <= NEG; w++)
		fstore_merge(&dst->st[w], &f.st[w], dst->maxb);
	dst->zero += f.zero;
	dst->count += f.count;
	return 0;
}

/* The trusted forms walk each store once, applying it as they go; the
 * negative store's buckets start where the positive store's walk ended. */
int sketch_merge_frozen_trusted(struct sketch *dst, const void *data, size_t len)
{
	struct frozen f;
	const uint8_t *p;
	if (frozen_head(dst, data, len, &f, &p) < 0)
		return -1;
	uint64_t count = f.zero;
	for (int w = POS; w <= NEG; w++) {
		if (!f.st[w].nonempty)
			continue;
		f.st[w].p = p;
		fstore_merge(&dst->st[w], &f.st[w], dst->maxb);
		p = f.st[w].end;
		count += f.st[w].n;
	}
	dst->zero += f.zero;
	dst->count += count;
	return 0;
}

int sketch_subtract_frozen_trusted(struct sketch *dst, const void *data, size_t len)
{
	struct frozen f;
	const uint8_t *p;
	if (frozen_head(dst, data, len, &f, &p) < 0 || f.zero > dst->zero)
		return -1;
	f.st[POS].p = p;
	if (!fstore_take(&dst->st[POS], &f.st[POS]))
		return -1;
	f.st[NEG].p = f.st[POS].nonempty ? f.st[POS].end : p;
	if (!fstore_take(&dst->st[NEG], &f.st[NEG])) {
		fstore_give_back(&dst->st[POS], &f.st[POS], SIZE_MAX);
		return -1;
	}
	uint64_t count = f.zero;
	for (int w = POS; w <= NEG; w++) {
		if (!f.st[w].nonempty)
			continue;
		dst->st[w].n -= f.st[w].n;
		count += f.st[w].n;
		sketch_store_settle(&dst->st[w]);
	}
	dst->zero -= f.zero;
	dst->count -= count;
	return 0;
}

int sketch_subtract_frozen(struct sketch *dst, const void *data, size_t len)
{
	struct frozen f;
	if (frozen_parse(dst, data, len, &f) < 0 || f.zero > dst->zero)
		return -1;
	if (!fstore_take(&dst->st[POS], &f.st[POS]))
		return -1;
	if (!fstore_take(&dst->st[NEG], &f.st[NEG])) {
		fstore_give_back(&dst->st[POS], &f.st[POS], SIZE_MAX);
		return -1;
	}
	for (int w = POS; w <= NEG; w++) {
		if (!f.st[w].nonempty)
			continue;
		dst->st[w].n -= f.st[w].n;
		sketch_store_settle(&dst->st[w]);
	}
	dst->zero -= f.zero;
	dst->count -= f.count;
	return 0;
}
