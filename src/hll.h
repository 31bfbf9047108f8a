/* hll: distinct-count of set members, exact up to 1,000 distinct members
 * (64-bit member hashes kept explicitly) and a HyperLogLog beyond that (2^14
 * registers, within 2% of the true count), with a sparse form so small sets
 * stay small. Mergeable (union); not subtractable, so a window re-merges its
 * slices. Domain layer: pure. */
#ifndef TALLYD_HLL_H
#define TALLYD_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct hll;

struct hll *hll_new(void);
void hll_free(struct hll *h); /* NULL is a no-op */
void hll_clear(struct hll *h);

/* Adds a member by its 64-bit hash (htab_hash of the member bytes). */
void hll_add_hash(struct hll *h, uint64_t hash);
void hll_merge(struct hll *dst, const struct hll *src); /* union */
uint64_t hll_count(const struct hll *h);
size_t hll_memory(const struct hll *h);

/* Serialisation for the state file: appends to out; decode returns NULL on
 * a malformed encoding. */
void hll_encode(const struct hll *h, struct buf *out);
struct hll *hll_decode(const void *data, size_t len);

#endif
