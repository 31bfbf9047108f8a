/* shard: per-worker interval aggregation. The queue (filled by the parser
 * and shard_queue), shard_commit and shard_record are on the per-line hot
 * path: one hash, one probe, an in-place update, with a batch's slots and
 * entries prefetched; a name the parser did not check is checked here, once,
 * when its series is made. Memory is allocated only when a series (or set
 * member, or timer sample block) is first seen in the interval. It does not
 * know about Graphite, windows or other workers: the registry merges shards
 * at the flush tick. */
#include "shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "parse.h"
#include "xalloc.h"

/* The shard's own key hash: its tables live for one interval and are never
 * written anywhere, so unlike htab_hash (whose values are pinned) it can
 * be the cheapest that spreads keys well: keys of 8 to 16 bytes (most
 * names) take two overlapping loads and one 64x64->128 multiply.
 * hash_final is its last step. */
static inline uint64_t hash_final(uint64_t a, uint64_t b, uint64_t h)
{
	/* The top bit set keeps 0 free for empty slots; it costs the table
	 * nothing (slot indexes are the low bits). */
	return htab_mix(a ^ 0xe7037ed1a0b428dbULL, b ^ h ^ 0x8ebc6af09c88c6e3ULL) | 1ULL << 63;
}

/* shard_hash of a key shorter than 8 or longer than 32 bytes: out of line,
 * so that the common key's hash stays small where it is inlined. */
static __attribute__((noinline)) uint64_t hash_other(const unsigned char *p, size_t len)
{
	uint64_t a, b, h = len * 0x9e3779b97f4a7c15ULL;

	if (len > 32) {
		size_t i = 0;
		for (; i + 16 < len; i += 16)
			h = htab_mix(htab_rd64(p + i) ^ 0xa0761d6478bd642fULL,
			             htab_rd64(p + i + 8) ^ h);
		a = htab_rd64(p + len - 16);
		b = htab_rd64(p + len - 8);
	} else if (len >= 4) {
		uint32_t x, y;
		memcpy(&x, p, 4);
		memcpy(&y, p + len - 4, 4);
		a = x;
		b = y;
	} else {
		a = len > 0 ? (uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1] : 0;
		b = 0;
	}
	return hash_final(a, b, h);
}

/* Keys of 8 to 32 bytes (most names) take no loop. */
static inline uint64_t shard_hash(const char *key, size_t len)
{
	const unsigned char *p = (const unsigned char *)key;
	if (__builtin_expect(len - 8 > 24, 0))
		return hash_other(p, len);
	uint64_t h = len * 0x9e3779b97f4a7c15ULL, a = htab_rd64(p);
	if (len > 16) {
		h = htab_mix(a ^ 0xa0761d6478bd642fULL, htab_rd64(p + 8) ^ h);
		a = htab_rd64(p + len - 16);
	}
	return hash_final(a, htab_rd64(p + len - 8), h);
}

struct shard {
	struct htab *tab[SHARD_KIND_COUNT];
	struct htab *by_type[METRIC_TYPE_COUNT]; /* tab[kind_of[type]] */
	/* entries in first-seen order, so the registry keeps the wire's order */
	struct shard_entry **order[SHARD_KIND_COUNT];
	size_t norder[SHARD_KIND_COUNT], cap[SHARD_KIND_COUNT];
	size_t max_series;
	struct selfstats stats;
	struct buf events; /* event and check records (shard.h) */
	size_t nevents;
	struct sample_queue q;
	/* shard_commit's: each queued sample's hash, first slot and candidate
	 * entry */
	uint64_t qhash[SAMPLE_QUEUE_MAX];
	const struct htab_slot *qslot[SAMPLE_QUEUE_MAX];
	struct shard_entry *qentry[SAMPLE_QUEUE_MAX];
	size_t keys_used; /* of keys, by shard_queue_copy since the last commit */
	shard_fallback_fn fallback;
	void *fallback_ctx;
	char keys[SHARD_QUEUE_KEYS];
};

/* The table of each wire type (ms, h and d are timers). */
static const unsigned char kind_of[METRIC_TYPE_COUNT] = {
    [METRIC_COUNTER] = SHARD_COUNTERS, [METRIC_GAUGE] = SHARD_GAUGES,
    [METRIC_SET] = SHARD_SETS,         [METRIC_TIMER] = SHARD_TIMERS,
    [METRIC_HISTOGRAM] = SHARD_TIMERS, [METRIC_DISTRIBUTION] = SHARD_TIMERS,
};

static void set_by_type(struct shard *s)
{
	for (int t = 0; t < METRIC_TYPE_COUNT; t++)
		s->by_type[t] = s->tab[kind_of[t]];
}

struct shard *shard_new(size_t max_series)
{
	struct shard *s = xcalloc(1, sizeof(*s));
	for (int k = 0; k < SHARD_KIND_COUNT; k++)
		s->tab[k] = htab_new(64);
	set_by_type(s);
	s->max_series = max_series;
	return s;
}

static void free_entry(void *p)
{
	struct shard_entry *e = p;
	free(e->values);
	htab_free(e->members, free);
	free(e);
}

void shard_free(struct shard *s)
{
	if (!s)
		return;
	for (int k = 0; k < SHARD_KIND_COUNT; k++) {
		htab_free(s->tab[k], free_entry);
		free(s->order[k]);
	}
	buf_free(&s->events);
	free(s);
}

static void add_member(struct shard_entry *e, const char *m, size_t len)
{
	uint64_t h = htab_hash(m, len);
	if (!e->members)
		e->members = htab_new(8);
	if (htab_get(e->members, m, len, h))
		return;
	struct shard_member *sm = xmalloc(sizeof(*sm) + len + 1);
	sm->len = len;
	memcpy(sm->data, m, len);
	sm->data[len] = '\0';
	htab_put(e->members, sm->data, len, h, sm);
}

/* A zeroed entry for a key of len bytes, 64-byte aligned (see shard.h). */
static struct shard_entry *new_entry(size_t len)
{
	size_t size = (sizeof(struct shard_entry) + len + 1 + 63) & ~(size_t)63;
	struct shard_entry *e = aligned_alloc(64, size);
	if (e == NULL)
		e = xcalloc(1, size); /* unaligned; xcalloc aborts if memory is gone */
	else
		memset(e, 0, size);
	return e;
}

/* A new entry for key (not in table k), or NULL when the series limit
 * drops it (counted). */
static struct shard_entry *add(struct shard *s, enum shard_kind k, const char *key, size_t len,
                               size_t name_len, uint64_t h)
{
	struct shard_entry *e;
	if (htab_count(s->tab[k]) >= s->max_series) {
		s->stats.series_dropped++;
		return NULL;
	}
	e = new_entry(len);
	memcpy(e->key, key, len);
	e->key_len = len;
	e->name_len = name_len;
	e->not_plain = name_len == len && parse_name_plain(key, len) ? 0 : 0xffff;
	htab_put(s->tab[k], e->key, e->key_len, h, e);
	if (s->norder[k] == s->cap[k]) {
		s->cap[k] = s->cap[k] ? s->cap[k] * 2 : 64;
		s->order[k] = xrealloc(s->order[k], s->cap[k] * sizeof(*s->order[k]));
	}
	s->order[k][s->norder[k]++] = e;
	return e;
}

/* The entry of key in table k, created if new; NULL when the series
 * limit drops it (counted). */
static struct shard_entry *find_or_add(struct shard *s, enum shard_kind k, const char *key,
                                       size_t len, size_t name_len, uint64_t h)
{
	struct shard_entry *e = htab_get(s->tab[k], key, len, h);
	return e ? e : add(s, k, key, len, name_len, h);
}

/* Folds a counter, gauge or timer sample into its entry. */
static inline void update(struct shard_entry *e, enum shard_kind k, enum metric_type type,
                          double value, double weight, bool gauge_delta)
{
	e->type = type;
	switch (k) {
	case SHARD_COUNTERS:
		e->value += value * weight;
		break;
	case SHARD_GAUGES:
		if (gauge_delta) {
			e->value += value;
		} else {
			e->value = value;
			e->gauge_abs = true;
		}
		break;
	default:
		if (e->nvalues == e->cap) {
			e->cap = e->cap ? e->cap * 2 : 8;
			e->values = xrealloc(e->values, e->cap * sizeof(double));
		}
		e->values[e->nvalues++] = value;
		e->count += weight;
		break;
	}
}

/* update by wire type: the same, for shard_commit. */
static inline void record(struct shard_entry *e, unsigned char type, double value, double weight,
                          bool gauge_delta)
{
	if (type == METRIC_COUNTER) {
		/* e->type is METRIC_COUNTER (0) since the entry was made */
		e->value += value * weight;
	} else {
		update(e, type == METRIC_GAUGE ? SHARD_GAUGES : SHARD_TIMERS,
		       (enum metric_type)type, value, weight, gauge_delta);
	}
}

bool shard_record(struct shard *s, const struct sample *smp)
{
	if (s->q.n > 0)
		shard_commit(s);
	enum shard_kind k = kind_of[smp->type];
	uint64_t h = shard_hash(smp->key, smp->key_len);
	struct shard_entry *e = find_or_add(s, k, smp->key, smp->key_len, smp->name_len, h);

	if (!e)
		return false;
	if (k == SHARD_SETS) {
		e->type = smp->type;
		add_member(e, smp->member, smp->member_len);
	} else {
		update(e, k, smp->type, smp->value, smp->weight, smp->gauge_delta);
	}
	return true;
}

struct sample_queue *shard_sample_queue(struct shard *s)
{
	return &s->q;
}

void shard_set_fallback(struct shard *s, shard_fallback_fn fn, void *ctx)
{
	s->fallback = fn;
	s->fallback_ctx = ctx;
}

/* Queues smp with its key at key (smp->key or a copy of it). */
static inline void enqueue(struct shard *s, const struct sample *smp, const char *key)
{
	struct qsample *q = &s->q.v[s->q.n++];
	q->key = key;
	q->key_len = (uint16_t)smp->key_len;
	q->name_len = (uint16_t)smp->name_len;
	q->value = smp->value;
	q->weight = smp->weight;
	q->type = (unsigned char)smp->type;
	q->gauge_delta = smp->gauge_delta;
	q->line_len = 0;
}

/* The queue's lengths are 16-bit (struct qsample); a longer key (none
 * from the parser) is recorded at once. */
_Static_assert(PARSE_KEY_MAX <= UINT16_MAX && SHARD_QUEUE_KEYS <= UINT16_MAX,
               "queued key lengths fit in 16 bits");
_Static_assert(sizeof(struct qsample) == 32, "a queued sample is 32 bytes");

void shard_queue(struct shard *s, const struct sample *smp)
{
	/* A set is recorded at once: its member may not outlive the call. */
	if (smp->type == METRIC_SET || smp->key_len > UINT16_MAX) {
		shard_record(s, smp);
		return;
	}
	if (s->q.n == SAMPLE_QUEUE_MAX)
		shard_commit(s);
	enqueue(s, smp, smp->key);
}

void shard_queue_copy(struct shard *s, const struct sample *smp)
{
	if (smp->type == METRIC_SET || smp->key_len > SHARD_QUEUE_KEYS) {
		shard_record(s, smp);
		return;
	}
	if (smp->key_len > SHARD_QUEUE_KEYS - s->keys_used || s->q.n == SAMPLE_QUEUE_MAX)
		shard_commit(s);
	char *key = s->keys + s->keys_used;
	buf_copy_short(key, smp->key, smp->key_len);
	s->keys_used += smp->key_len;
	enqueue(s, smp, key);
}

/* A queued sample with no entry it may use (found: one of a name that is
 * not plain, for an unchecked name): a new series when its name may be one
 * (the entry, or NULL when the series limit drops it), else its line goes
 * to the fallback (NULL). */
static __attribute__((noinline)) struct shard_entry *miss(struct shard *s, enum shard_kind k,
                                                          const struct qsample *q, uint64_t h,
                                                          struct shard_entry *found)
{
	if (q->line_len == 0)
		return add(s, k, q->key, q->key_len, q->name_len, h);
	if (found == NULL && parse_name_plain(q->key, q->key_len))
		return add(s, k, q->key, q->key_len, q->key_len, h);
	if (s->fallback != NULL)
		s->fallback(s->fallback_ctx, q->key, q->line_len);
	else
		s->stats.bad_lines_seen++;
	return NULL;
}

void shard_commit(struct shard *s)
{
	size_t n = s->q.n;
	const struct qsample *v = s->q.v;

	s->q.n = 0;
	s->keys_used = 0; /* the keys stay as they are until the next queue */
	/* Pass 1: hash every key and start loading its table slot. */
	for (size_t i = 0; i < n; i++) {
		uint64_t h = shard_hash(v[i].key, v[i].key_len);
		const struct htab_slot *slot = htab_first_slot(s->by_type[v[i].type], h);
		__builtin_prefetch(slot);
		s->qhash[i] = h;
		s->qslot[i] = slot;
	}
	/* Pass 2: the candidate entry of every sample; start loading the line
	 * recording writes (value, type, key), and the first line (timer
	 * samples and count). */
	for (size_t i = 0; i < n; i++) {
		struct shard_entry *e =
		    htab_peek_at(s->by_type[v[i].type], s->qslot[i], v[i].key_len, s->qhash[i]);
		s->qentry[i] = e;
		if (e != NULL) {
			__builtin_prefetch(&e->value, 1);
			__builtin_prefetch(e, 1);
		}
	}
	/* Pass 3: record in order. A candidate whose key differs, or none
	 * (a new series, maybe created earlier in this pass), takes the
	 * ordinary lookup. An unchecked name (parse.h) is good for the series
	 * of a plain name only: it is that name. */
	for (size_t i = 0; i < n; i++) {
		const struct qsample *q = &v[i];
		struct shard_entry *e = s->qentry[i];
		if (e == NULL || !htab_key_eq(e->key, q->key, q->key_len))
			e = htab_get(s->by_type[q->type], q->key, q->key_len, s->qhash[i]);
		if (__builtin_expect(e == NULL || (q->line_len & e->not_plain) != 0, 0)) {
			e = miss(s, kind_of[q->type], q, s->qhash[i], e);
			if (e == NULL)
				continue;
		}
		record(e, q->type, q->value, q->weight, q->gauge_delta);
	}
}

static void put_field(struct buf *b, const char *p, size_t n)
{
	uint32_t len = (uint32_t)n;
	buf_append(b, &len, sizeof(len));
	buf_append(b, p ? p : "", n);
}

static void put_int(struct buf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	put_field(b, tmp, (size_t)n);
}

static bool event_room(struct shard *s)
{
	if (s->nevents < SHARD_EVENTS_MAX) {
		s->nevents++;
		return true;
	}
	s->stats.events_dropped++;
	return false;
}

void shard_add_event(struct shard *s, const struct parse_event *e)
{
	if (!event_room(s))
		return;
	put_field(&s->events, "e", 1);
	put_field(&s->events, e->title, e->title_len);
	put_field(&s->events, e->text, e->text_len);
	put_int(&s->events, e->timestamp);
	put_field(&s->events, e->host, e->host_len);
	put_field(&s->events, e->agg_key, e->agg_key_len);
	put_field(&s->events, e->priority, e->priority_len);
	put_field(&s->events, e->source, e->source_len);
	put_field(&s->events, e->alert_type, e->alert_type_len);
	put_field(&s->events, e->tags, e->tags_len);
}

void shard_add_check(struct shard *s, const struct parse_check *c)
{
	if (!event_room(s))
		return;
	put_field(&s->events, "c", 1);
	put_field(&s->events, c->name, c->name_len);
	put_int(&s->events, c->status);
	put_int(&s->events, c->timestamp);
	put_field(&s->events, c->host, c->host_len);
	put_field(&s->events, c->message, c->message_len);
	put_field(&s->events, c->tags, c->tags_len);
}

const struct buf *shard_events(const struct shard *s)
{
	return &s->events;
}

struct selfstats *shard_stats(struct shard *s)
{
	return &s->stats;
}

size_t shard_count(const struct shard *s)
{
	size_t n = 0;
	for (int k = 0; k < SHARD_KIND_COUNT; k++)
		n += htab_count(s->tab[k]);
	return n;
}

struct shard_entry *shard_next(const struct shard *s, enum shard_kind k, size_t *pos)
{
	return *pos < s->norder[k] ? s->order[k][(*pos)++] : NULL;
}

void shard_clear(struct shard *s)
{
	for (int k = 0; k < SHARD_KIND_COUNT; k++) {
		size_t cap = htab_count(s->tab[k]);
		htab_free(s->tab[k], free_entry);
		s->tab[k] = htab_new(cap < 64 ? 64 : cap);
		s->norder[k] = 0;
	}
	set_by_type(s);
	memset(&s->stats, 0, sizeof(s->stats));
	buf_reset(&s->events);
	s->nevents = 0;
}
