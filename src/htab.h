/* htab: open-addressing hash table from byte-string keys to pointers.
 * Foundation layer. The table borrows keys: each key must stay valid (and
 * unchanged) while its entry is in the table; callers usually keep the key
 * inside the value they store. Not thread-safe. */
#ifndef TALLYD_HTAB_H
#define TALLYD_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct htab;

uint64_t htab_hash(const void *key, size_t len);

struct htab *htab_new(size_t expected);
/* Frees the table; calls free_val(value) on every value if non-NULL. */
void htab_free(struct htab *h, void (*free_val)(void *));
size_t htab_count(const struct htab *h);

void *htab_get(const struct htab *h, const char *key, size_t len, uint64_t hash);
/* Inserts or replaces; key borrowed (see above). */
void htab_put(struct htab *h, const char *key, size_t len, uint64_t hash, void *val);
/* Removes and returns the value, or NULL if absent. */
void *htab_del(struct htab *h, const char *key, size_t len, uint64_t hash);

/* Iteration: start with *pos = 0; returns the next value or NULL at the end.
 * Deleting the returned entry during iteration is not allowed; collect keys
 * first. */
void *htab_next(const struct htab *h, size_t *pos);

#endif
