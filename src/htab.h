/* htab: open-addressing hash table from byte-string keys to pointers.
 * Foundation layer. The table borrows keys: each key must stay valid (and
 * unchanged) while its entry is in the table; callers usually keep the key
 * inside the value they store. Not thread-safe. */
#ifndef TALLYD_HTAB_H
#define TALLYD_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct htab;

/* The hash of key[0..len), never 0. Its values are stable (HyperLogLog
 * registers and state-file checksums are built on them). Inline: interval
 * shards hash every received line. */
static inline uint64_t htab_rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t htab_mix(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t htab_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
	size_t i = 0;

	for (; i + 16 <= len; i += 16)
		h = htab_mix(htab_rd64(p + i) ^ 0xa0761d6478bd642fULL, htab_rd64(p + i + 8) ^ h);
	if (i + 8 <= len) {
		h = htab_mix(htab_rd64(p + i) ^ 0xe7037ed1a0b428dbULL, h ^ 0x8ebc6af09c88c6e3ULL);
		i += 8;
	}
	/* The 0-7 bytes left, little-endian: t = p[i] | p[i+1] << 8 | ... */
	uint64_t t = 0;
	size_t r = len - i;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (r > 0 && len >= 8) {
		/* One load of the last 8 bytes, those already hashed shifted out. */
		t = htab_rd64(p + len - 8) >> (8 * (8 - r));
		r = 0;
	}
#endif
	for (size_t s = 0; r > 0; i++, r--, s += 8)
		t |= (uint64_t)p[i] << s;
	h = htab_mix(t ^ 0x589965cc75374cc3ULL, h ^ 0x1d8e4e27c47d124fULL);
	h = htab_mix(h, 0xa0761d6478bd642fULL);
	return h ? h : 1;
}

/* Keys of 8 to 16 bytes (most series names) are compared with two loads
 * each, overlapping, and one test, instead of a call to memcmp. The table
 * compares keys with it; callers that check a value found by htab_peek use
 * it too. */
static inline bool htab_key_eq(const char *a, const char *b, size_t len)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	if (len >= 8 && len <= 16)
		return ((htab_rd64(x) ^ htab_rd64(y)) |
		        (htab_rd64(x + len - 8) ^ htab_rd64(y + len - 8))) == 0;
	return memcmp(a, b, len) == 0;
}

struct htab *htab_new(size_t expected);
/* Frees the table; calls free_val(value) on every value if non-NULL. */
void htab_free(struct htab *h, void (*free_val)(void *));
size_t htab_count(const struct htab *h);

void *htab_get(const struct htab *h, const char *key, size_t len, uint64_t hash);
/* Inserts or replaces; key borrowed (see above). */
void htab_put(struct htab *h, const char *key, size_t len, uint64_t hash, void *val);
/* Removes and returns the value, or NULL if absent. */
void *htab_del(struct htab *h, const char *key, size_t len, uint64_t hash);

/* The table's layout, in the header only so that htab_prefetch and
 * htab_peek inline into the per-line path; everything else goes through
 * the functions above. Slots are 32 bytes in a 64-byte aligned array, so a
 * slot never straddles two cache lines (one prefetch covers it). */
struct htab_slot {
	uint64_t hash; /* 0 = empty (real hashes are forced non-zero) */
	const char *key;
	size_t len;
	void *val;
};

struct htab {
	struct htab_slot *slots;
	size_t mask;
	size_t count;
};

/* For lookups in batches, so that cache misses overlap: htab_prefetch
 * starts loading the slot where hash's probe begins; htab_peek returns the
 * value of the first slot on hash's probe path whose cached hash and key
 * length equal hash and len, or NULL, without reading any key. That value
 * is only a candidate (two keys may share a hash): the caller compares its
 * key, and falls back to htab_get when it differs or is NULL. */
static inline void htab_prefetch(const struct htab *h, uint64_t hash)
{
	__builtin_prefetch(&h->slots[hash & h->mask]);
}

/* The slot where hash's probe begins (what htab_prefetch loads), and
 * htab_peek from it: a caller that keeps the slot from its prefetch does
 * not compute it again. Valid until the next htab_put or htab_del. */
static inline const struct htab_slot *htab_first_slot(const struct htab *h, uint64_t hash)
{
	return &h->slots[hash & h->mask];
}

/* htab_peek's probe from slot i on */
static inline void *htab_peek_from(const struct htab *h, size_t i, size_t len, uint64_t hash)
{
	for (;; i = (i + 1) & h->mask) {
		const struct htab_slot *s = &h->slots[i];
		if (s->hash == hash && s->len == len)
			return s->val;
		if (s->hash == 0)
			return NULL;
	}
}

static inline void *htab_peek(const struct htab *h, size_t len, uint64_t hash)
{
	return htab_peek_from(h, hash & h->mask, len, hash);
}

static inline void *htab_peek_at(const struct htab *h, const struct htab_slot *first, size_t len,
                                 uint64_t hash)
{
	if (first->hash == hash && first->len == len)
		return first->val;
	if (first->hash == 0)
		return NULL;
	return htab_peek_from(h, ((size_t)(first - h->slots) + 1) & h->mask, len, hash);
}

/* Iteration: start with *pos = 0; returns the next value or NULL at the end.
 * Deleting the returned entry during iteration is not allowed; collect keys
 * first. */
void *htab_next(const struct htab *h, size_t *pos);

#endif
