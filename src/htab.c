/* htab: linear-probing hash table with backward-shift deletion, keyed by
 * (bytes, length) with the 64-bit hash cached per slot so probes compare
 * keys only on a hash match. Used by interval shards and the registry.
 * It does not own keys or values (see htab.h). */
#include "htab.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* The array is 64-byte aligned (see htab.h). */
static struct htab_slot *new_slots(size_t cap)
{
	struct htab_slot *s = aligned_alloc(64, cap * sizeof(struct htab_slot));
	if (s == NULL)
		return xcalloc(cap, sizeof(struct htab_slot)); /* aborts if memory is gone */
	memset(s, 0, cap * sizeof(struct htab_slot));
	return s;
}

struct htab *htab_new(size_t expected)
{
	struct htab *h = xcalloc(1, sizeof(*h));
	size_t cap = 16;
	while (cap < expected * 2)
		cap *= 2;
	h->slots = new_slots(cap);
	h->mask = cap - 1;
	return h;
}

void htab_free(struct htab *h, void (*free_val)(void *))
{
	if (!h)
		return;
	if (free_val)
		for (size_t i = 0; i <= h->mask; i++)
			if (h->slots[i].hash)
				free_val(h->slots[i].val);
	free(h->slots);
	free(h);
}

size_t htab_count(const struct htab *h)
{
	return h->count;
}

static inline size_t find(const struct htab *h, const char *key, size_t len, uint64_t hash)
{
	size_t i = hash & h->mask;
	for (;;) {
		const struct htab_slot *s = &h->slots[i];
		if (s->hash == 0)
			return i;
		if (s->hash == hash && s->len == len && htab_key_eq(s->key, key, len))
			return i;
		i = (i + 1) & h->mask;
	}
}

void *htab_get(const struct htab *h, const char *key, size_t len, uint64_t hash)
{
	size_t i = find(h, key, len, hash);
	return h->slots[i].hash ? h->slots[i].val : NULL;
}

static void grow(struct htab *h)
{
	struct htab_slot *old = h->slots;
	size_t oldcap = h->mask + 1;
	h->slots = new_slots(oldcap * 2);
	h->mask = oldcap * 2 - 1;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].hash)
			continue;
		size_t j = old[i].hash & h->mask;
		while (h->slots[j].hash)
			j = (j + 1) & h->mask;
		h->slots[j] = old[i];
	}
	free(old);
}

void htab_put(struct htab *h, const char *key, size_t len, uint64_t hash, void *val)
{
	if ((h->count + 1) * 4 > (h->mask + 1) * 3)
		grow(h);
	size_t i = find(h, key, len, hash);
	if (!h->slots[i].hash)
		h->count++;
	h->slots[i] = (struct htab_slot){hash, key, len, val};
}

void *htab_del(struct htab *h, const char *key, size_t len, uint64_t hash)
{
	size_t i = find(h, key, len, hash);
	if (!h->slots[i].hash)
		return NULL;
	void *val = h->slots[i].val;
	/* Backward-shift: pull later entries of the cluster into the hole. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & h->mask;
		if (!h->slots[j].hash)
			break;
		size_t home = h->slots[j].hash & h->mask;
		/* Move j into i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			h->slots[i] = h->slots[j];
			i = j;
		}
	}
	h->slots[i].hash = 0;
	h->count--;
	return val;
}

void *htab_next(const struct htab *h, size_t *pos)
{
	for (size_t i = *pos; i <= h->mask; i++) {
		if (h->slots[i].hash) {
			*pos = i + 1;
			return h->slots[i].val;
		}
	}
	*pos = h->mask + 1;
	return NULL;
}
