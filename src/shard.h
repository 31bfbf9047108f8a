/* shard: one intake worker's aggregates for the current flush interval —
 * counter sums, gauge values/deltas, set members, timer samples — keyed by
 * series id. Domain layer: pure, single-threaded (its worker owns it until
 * the flush tick hands it to the main thread, which merges and empties it).
 * It also carries the worker's self-stats counts for the interval. */
#ifndef TALLYD_SHARD_H
#define TALLYD_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "metric.h"
#include "selfstats.h"

struct parse_event;
struct parse_check;

struct htab;

/* An aggregate for one series of one kind. key follows the struct. Entries
 * are 64-byte aligned and the fields every sample touches (value, type,
 * key) share the second cache line: the per-line lookup and update read one
 * line of the entry, not two (keys up to 52 bytes). */
struct shard_entry {
	size_t key_len;
	size_t name_len;
	double count;   /* timer: sum of weights */
	double *values; /* timer samples */
	size_t nvalues, cap;
	struct htab *members; /* set members (owned strings) */
	bool gauge_abs;       /* gauge: an absolute value was set this interval */
	/* 0 when the key is a name parse_name_plain takes as it is (no tags),
	 * else 0xffff: a mask for qsample.line_len, so that one AND tells
	 * whether an unchecked name may use the entry */
	uint16_t not_plain;
	double value;          /* counter sum; gauge: absolute value (+ deltas) or delta sum */
	enum metric_type type; /* last wire type seen (ms, h or d for timers) */
	char key[];
};

enum shard_kind { SHARD_COUNTERS = 0, SHARD_TIMERS, SHARD_GAUGES, SHARD_SETS, SHARD_KIND_COUNT };

/* max_series bounds the distinct series one interval may hold (per kind
 * table); beyond it new series are dropped and counted. */
struct shard *shard_new(size_t max_series);
void shard_free(struct shard *s);

/* Hot path: folds one sample in. Returns false if it was dropped (limit). */
bool shard_record(struct shard *s, const struct sample *smp);

/* Hot path, in batches: shard_queue appends a sample whose key stays
 * valid (borrowed) until the next shard_commit to the shard's queue (the
 * parser appends common lines to it itself: shard_sample_queue);
 * shard_commit hashes every queued key and prefetches its table slot, then
 * finds and prefetches the entry of every sample, then records them, so
 * that the cache misses of a batch overlap instead of adding up. The
 * result is exactly that of shard_record on each sample in turn:
 * shard_record and shard_queue of a set commit the queue first, and
 * shard_queue commits a full queue (SAMPLE_QUEUE_MAX samples). Commit
 * before the key memory is reused and before the shard is handed over
 * (shard_next and shard_clear expect an empty queue). */
void shard_queue(struct shard *s, const struct sample *smp);
struct sample_queue *shard_sample_queue(struct shard *s);
/* A queued line whose unchecked name (parse.h) cannot be a series key as
 * it is goes to fn, during shard_commit, in order: fn parses it
 * (parse_line) and records what it gives with shard_record (the queue is
 * being committed: not shard_queue). Without fn such a line is counted as
 * a bad line. */
typedef void (*shard_fallback_fn)(void *ctx, const char *line, size_t len);
void shard_set_fallback(struct shard *s, shard_fallback_fn fn, void *ctx);
/* As shard_queue, for a key that does not stay valid (one built in the
 * parser's scratch): copies the key into the queue's own key space
 * (SHARD_QUEUE_KEYS bytes; a commit makes room). */
#define SHARD_QUEUE_KEYS 8192
void shard_queue_copy(struct shard *s, const struct sample *smp);
void shard_commit(struct shard *s);

/* The worker's self-stats for this interval (packets, lines, bad lines...). */
struct selfstats *shard_stats(struct shard *s);

size_t shard_count(const struct shard *s);

/* Iterates one kind's entries in first-seen order; *pos starts at 0; NULL
 * at the end. */
struct shard_entry *shard_next(const struct shard *s, enum shard_kind k, size_t *pos);

/* DogStatsD events and service checks of the interval, copied as records
 * (see shard.c) for the Redis sink; at most SHARD_EVENTS_MAX per interval,
 * the rest counted in events_dropped. */
#define SHARD_EVENTS_MAX 1000
void shard_add_event(struct shard *s, const struct parse_event *e);
void shard_add_check(struct shard *s, const struct parse_check *c);
/* The records: a buffer of [u32 length][bytes] fields; each record starts
 * with a kind field "e" (title text ts host aggregation_key priority
 * source alert_type tags) or "c" (name status ts host message tags). */
const struct buf *shard_events(const struct shard *s);

/* Empties the shard (entries freed, stats zeroed) for reuse. */
void shard_clear(struct shard *s);

/* Set members of an entry: iterate with htab_next; each value is a
 * struct shard_member. */
struct shard_member {
	size_t len;
	char data[];
};

#endif
