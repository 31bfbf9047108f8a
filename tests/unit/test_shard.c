/* test_shard: interval aggregation in a worker shard and its merge into
 * the registry — counter weighting, gauge values and deltas (within one
 * shard and across shards), set members, timer samples, series limits,
 * the end-of-interval lifecycle (with and without delete_idle), and the
 * admin views and deletes. Configs are built by hand: no config file. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "htab.h"
#include "parse.h"
#include "registry.h"
#include "shard.h"
#include "window.h"

static struct config cfg;

static void reset_cfg(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.prefix_stats = (char *)"statsd";
	cfg.max_series = 1000;
	cfg.flush_interval_ms = 10000;
}

struct op {
	enum metric_type type;
	const char *key;
	double value;
	double weight;
	bool delta;
	const char *member;
};

static void feed(struct shard *sh, const struct op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sample s = {.type = ops[i].type,
		                   .key = ops[i].key,
		                   .key_len = strlen(ops[i].key),
		                   .name_len = strcspn(ops[i].key, ";"),
		                   .value = ops[i].value,
		                   .weight = ops[i].weight ? ops[i].weight : 1,
		                   .gauge_delta = ops[i].delta,
		                   .member = ops[i].member,
		                   .member_len = ops[i].member ? strlen(ops[i].member) : 0};
		shard_record(sh, &s);
	}
}

static struct reg_series *find(struct registry *r, enum registry_kind k, const char *key)
{
	size_t pos = 0;
	struct reg_series *s;
	while ((s = registry_next(r, k, &pos)) != NULL)
		if (s->key_len == strlen(key) && memcmp(s->key, key, s->key_len) == 0)
			return s;
	return NULL;
}

static void test_counters_and_weights(void)
{
	reset_cfg();
	struct registry *r = registry_new(&cfg);
	struct shard *sh = shard_new(100);
	struct selfstats st = {0};
	const struct op ops[] = {
	    {METRIC_COUNTER, "gorets", 1, 1, false, NULL},
	    {METRIC_COUNTER, "gorets", 1, 1 / 0.1, false, NULL},
	    {METRIC_COUNTER, "rate.gt1", 4, 1 / 2.0, false, NULL},
	    {METRIC_COUNTER, "neg", -3, 1, false, NULL},
	    {METRIC_COUNTER, "t;env=prod", 2, 1, false, NULL},
	};
	feed(sh, ops, 5);
	CU_ASSERT_EQUAL(shard_count(sh), 4);
	/* first-seen order survives the shard (hash order would not) */
	size_t pos = 0;
	CU_ASSERT_STRING_EQUAL(shard_next(sh, SHARD_COUNTERS, &pos)->key, "gorets");
	CU_ASSERT_STRING_EQUAL(shard_next(sh, SHARD_COUNTERS, &pos)->key, "rate.gt1");
	CU_ASSERT_STRING_EQUAL(shard_next(sh, SHARD_COUNTERS, &pos)->key, "neg");
	CU_ASSERT_STRING_EQUAL(shard_next(sh, SHARD_COUNTERS, &pos)->key, "t;env=prod");
	CU_ASSERT_PTR_NULL(shard_next(sh, SHARD_COUNTERS, &pos));
	registry_merge(r, sh, &st);
	CU_ASSERT_EQUAL(shard_count(sh), 0);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_COUNTERS, "gorets")->value, 11, 0);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_COUNTERS, "rate.gt1")->value, 2, 0);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_COUNTERS, "neg")->value, -3, 0);
	CU_ASSERT_EQUAL(find(r, REG_COUNTERS, "t;env=prod")->name_len, 1);
	/* the reference's internal counters exist from the start */
	CU_ASSERT_PTR_NOT_NULL(find(r, REG_COUNTERS, "statsd.bad_lines_seen"));
	CU_ASSERT_EQUAL(registry_count(r, REG_COUNTERS), 7);
	shard_free(sh);
	registry_free(r);
}

static void test_gauges(void)
{
	reset_cfg();
	struct registry *r = registry_new(&cfg);
	struct shard *a = shard_new(100), *b = shard_new(100);
	struct selfstats st = {0};
	const struct op first[] = {
	    {METRIC_GAUGE, "gaugor", 333, 1, false, NULL},
	    {METRIC_GAUGE, "gaugor", -10, 1, true, NULL},
	    {METRIC_GAUGE, "gaugor", 4, 1, true, NULL},
	    {METRIC_GAUGE, "new.neg", -5, 1, true, NULL},
	    {METRIC_GAUGE, "reset", 5, 1, true, NULL},
	    {METRIC_GAUGE, "reset", 7, 1, false, NULL},
	};
	feed(a, first, 6);
	registry_merge(r, a, &st);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_GAUGES, "gaugor")->value, 327, 0);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_GAUGES, "new.neg")->value, -5, 0);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_GAUGES, "reset")->value, 7, 0);
	registry_end_interval(r);
	/* gauges persist; a later delta applies to the kept value, and deltas
	 * from two workers' shards both apply */
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_GAUGES, "gaugor")->value, 327, 0);
	const struct op d1[] = {{METRIC_GAUGE, "gaugor", 3, 1, true, NULL}};
	const struct op d2[] = {{METRIC_GAUGE, "gaugor", -7, 1, true, NULL}};
	feed(a, d1, 1);
	feed(b, d2, 1);
	registry_merge(r, a, &st);
	registry_merge(r, b, &st);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_GAUGES, "gaugor")->value, 323, 0);
	shard_free(a);
	shard_free(b);
	registry_free(r);
}

static void test_sets_and_timers(void)
{
	reset_cfg();
	struct registry *r = registry_new(&cfg);
	struct shard *a = shard_new(100), *b = shard_new(100);
	struct selfstats st = {0};
	const struct op oa[] = {
	    {METRIC_SET, "uniques", 0, 1, false, "765"},
	    {METRIC_SET, "uniques", 0, 1, false, "765"},
	    {METRIC_SET, "uniques", 0, 1, false, "766"},
	    {METRIC_TIMER, "glork", 320, 1, false, NULL},
	    {METRIC_TIMER, "glork", 100, 10, false, NULL},
	};
	const struct op ob[] = {
	    {METRIC_SET, "uniques", 0, 1, false, "abc"},
	    {METRIC_SET, "uniques", 0, 1, false, "766"},
	    {METRIC_DISTRIBUTION, "glork", 200, 1, false, NULL},
	};
	feed(a, oa, 5);
	feed(b, ob, 3);
	registry_merge(r, a, &st);
	registry_merge(r, b, &st);
	struct reg_series *u = find(r, REG_SETS, "uniques");
	CU_ASSERT_EQUAL(htab_count(u->members), 3);
	struct reg_series *g = find(r, REG_TIMERS, "glork");
	CU_ASSERT_EQUAL(g->nvalues, 3);
	CU_ASSERT_DOUBLE_EQUAL(g->count, 12, 1e-12);
	CU_ASSERT_EQUAL(g->type, METRIC_DISTRIBUTION);
	registry_end_interval(r);
	CU_ASSERT_EQUAL(find(r, REG_TIMERS, "glork")->nvalues, 0);
	CU_ASSERT_PTR_NULL(find(r, REG_SETS, "uniques")->members);
	shard_free(a);
	shard_free(b);
	registry_free(r);
}

static void test_limits(void)
{
	reset_cfg();
	cfg.max_series = 5; /* 3 internal counters + 2 */
	struct registry *r = registry_new(&cfg);
	struct shard *sh = shard_new(2);
	struct selfstats st = {0};
	const struct op ops[] = {
	    {METRIC_COUNTER, "a", 1, 1, false, NULL},
	    {METRIC_COUNTER, "b", 1, 1, false, NULL},
	    {METRIC_COUNTER, "c", 1, 1, false, NULL}, /* shard limit */
	    {METRIC_COUNTER, "a", 1, 1, false, NULL}, /* existing: kept */
	};
	feed(sh, ops, 4);
	CU_ASSERT_EQUAL(shard_stats(sh)->series_dropped, 1);
	registry_merge(r, sh, &st);
	CU_ASSERT_EQUAL(st.series_dropped, 1);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_COUNTERS, "a")->value, 2, 0);
	const struct op more[] = {{METRIC_GAUGE, "g", 1, 1, false, NULL}};
	feed(sh, more, 1);
	registry_merge(r, sh, &st); /* registry limit reached */
	CU_ASSERT_EQUAL(st.series_dropped, 2);
	CU_ASSERT_PTR_NULL(find(r, REG_GAUGES, "g"));
	shard_free(sh);
	registry_free(r);
}

static void test_delete_idle(void)
{
	reset_cfg();
	cfg.delete_idle = true;
	struct registry *r = registry_new(&cfg);
	struct shard *sh = shard_new(100);
	struct selfstats st = {0};
	const struct op ops[] = {
	    {METRIC_COUNTER, "c", 1, 1, false, NULL},
	    {METRIC_GAUGE, "g", 1, 1, false, NULL},
	    {METRIC_TIMER, "t", 1, 1, false, NULL},
	    {METRIC_SET, "s", 0, 1, false, "x"},
	};
	feed(sh, ops, 4);
	registry_merge(r, sh, &st);
	CU_ASSERT_EQUAL(registry_total(r), 7);
	/* Regression: the reference deletes every series after each flush, so
	 * the idle interval that follows sends none of them. */
	registry_end_interval(r);
	CU_ASSERT_EQUAL(registry_total(r), 3);
	CU_ASSERT_PTR_NOT_NULL(find(r, REG_COUNTERS, "statsd.packets_received"));
	CU_ASSERT_PTR_NULL(find(r, REG_GAUGES, "g"));
	/* data in the next interval brings a series back */
	feed(sh, ops, 1);
	registry_merge(r, sh, &st);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_COUNTERS, "c")->value, 1, 0);
	CU_ASSERT_EQUAL(registry_total(r), 4);
	shard_free(sh);
	registry_free(r);
}

/* Regression: with delete_idle the statsd view forgets a series after each
 * flush, but its windows must keep sliding until they expire (they used to
 * be freed with the series, so windows never held more than one interval). */
static void test_delete_idle_keeps_windows(void)
{
	reset_cfg();
	cfg.delete_idle = true;
	cfg.nwindows = 1;
	cfg.windows_ms[0] = 60000; /* six 10 s intervals */
	cfg.window_accuracy = 0.01;
	struct registry *r = registry_new(&cfg);
	struct shard *sh = shard_new(100);
	struct selfstats st = {0};
	const struct op ops[] = {{METRIC_COUNTER, "c", 4, 1, false, NULL}};
	feed(sh, ops, 1);
	registry_merge(r, sh, &st);
	registry_push_windows(r);
	registry_end_interval(r);
	size_t pos = 0;
	struct reg_series *s;
	bool shown = false;
	while ((s = registry_next_shown(r, REG_COUNTERS, &pos)) != NULL)
		shown |= strcmp(s->key, "c") == 0;
	CU_ASSERT_FALSE(shown); /* gone from the statsd view */
	struct reg_series *c = find(r, REG_COUNTERS, "c");
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT(c->dormant);
	struct buf b = BUF_INIT;
	registry_inspect(r, REG_COUNTERS, &b);
	CU_ASSERT_PTR_NULL(strstr(b.p, " c: "));
	buf_free(&b);
	/* idle intervals: the window still holds the 4 until it slides out */
	for (int t = 0; t < 5; t++) {
		registry_push_windows(r);
		registry_end_interval(r);
	}
	struct window_stats ws;
	window_stats(find(r, REG_COUNTERS, "c")->win, 0, &ws);
	CU_ASSERT_DOUBLE_EQUAL(ws.count, 4, 0);
	registry_push_windows(r); /* sixth idle interval: expired and removed */
	CU_ASSERT_PTR_NULL(find(r, REG_COUNTERS, "c"));
	/* data brings it back, fresh */
	feed(sh, ops, 1);
	registry_merge(r, sh, &st);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_COUNTERS, "c")->value, 4, 0);
	shard_free(sh);
	registry_free(r);
}

static void test_events_and_checks(void)
{
	reset_cfg();
	struct registry *r = registry_new(&cfg);
	struct shard *sh = shard_new(100);
	struct selfstats st = {0};
	struct parse_event e = {.title = "deploy", .title_len = 6, .text = "done", .text_len = 4};
	struct parse_check c = {.name = "svc.up", .name_len = 6, .status = 2};
	for (int i = 0; i < SHARD_EVENTS_MAX; i++)
		shard_add_event(sh, &e);
	shard_add_check(sh, &c); /* over the limit: counted, not kept */
	CU_ASSERT_EQUAL(shard_stats(sh)->events_dropped, 1);
	size_t one = shard_events(sh)->len / SHARD_EVENTS_MAX;
	CU_ASSERT(one > 0);
	registry_merge(r, sh, &st);
	CU_ASSERT_EQUAL(shard_events(sh)->len, 0); /* handed over and cleared */
	CU_ASSERT_EQUAL(registry_events(r)->len, one * SHARD_EVENTS_MAX);
	CU_ASSERT_EQUAL(st.events_dropped, 1);
	shard_add_check(sh, &c); /* room again in the next interval */
	CU_ASSERT_EQUAL(shard_stats(sh)->events_dropped, 0);
	registry_end_interval(r);
	CU_ASSERT_EQUAL(registry_events(r)->len, 0);
	shard_free(sh);
	registry_free(r);
}

static void test_internal_and_views(void)
{
	reset_cfg();
	struct registry *r = registry_new(&cfg);
	struct shard *sh = shard_new(100);
	struct selfstats st = {0}, delta = {0};
	const struct op ops[] = {
	    {METRIC_COUNTER, "gorets", 1, 1, false, NULL},
	    {METRIC_COUNTER, "dd.tagged;env=prod", 1, 1, false, NULL},
	    {METRIC_GAUGE, "gaugor", 327, 1, false, NULL},
	    {METRIC_TIMER, "glork", 320, 1, false, NULL},
	};
	feed(sh, ops, 4);
	registry_merge(r, sh, &st);
	delta.packets_received = 96;
	delta.metrics_received = 119;
	delta.bad_lines_seen = 13;
	registry_set_internal(r, &delta, 0, false);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_COUNTERS, "statsd.packets_received")->value, 96, 0);
	CU_ASSERT_PTR_NULL(find(r, REG_GAUGES, "statsd.timestamp_lag"));
	registry_end_interval(r);
	registry_set_internal(r, &(struct selfstats){0}, 0, true);
	CU_ASSERT_PTR_NOT_NULL(find(r, REG_GAUGES, "statsd.timestamp_lag"));
	registry_end_interval(r);

	struct buf b = BUF_INIT;
	registry_inspect(r, REG_COUNTERS, &b);
	CU_ASSERT_STRING_EQUAL(b.p,
	                       "{\n  'statsd.bad_lines_seen': 0,\n  'statsd.packets_received': "
	                       "0,\n  'statsd.metrics_received': 0,\n  gorets: 0,\n  "
	                       "'dd.tagged;env=prod': 0\n}\n");
	buf_reset(&b);
	registry_inspect(r, REG_TIMERS, &b);
	CU_ASSERT_STRING_EQUAL(b.p, "{\n  glork: []\n}\n");
	buf_reset(&b);
	registry_inspect(r, REG_GAUGES, &b);
	CU_ASSERT_STRING_EQUAL(b.p, "{\n  gaugor: 327,\n  'statsd.timestamp_lag': 0\n}\n");
	buf_reset(&b);
	registry_delete(r, REG_COUNTERS, "gorets", &b);
	registry_delete(r, REG_COUNTERS, "nope", &b);
	registry_delete(r, REG_COUNTERS, "statsd.*", &b);
	CU_ASSERT_STRING_EQUAL(b.p, "deleted: gorets\nmetric nope not found\n"
	                            "deleted: statsd.bad_lines_seen\n"
	                            "deleted: statsd.packets_received\n"
	                            "deleted: statsd.metrics_received\n");
	CU_ASSERT_EQUAL(registry_count(r, REG_COUNTERS), 1);
	buf_reset(&b);
	registry_delete(r, REG_TIMERS, "glork", &b);
	registry_inspect(r, REG_TIMERS, &b);
	CU_ASSERT_STRING_EQUAL(b.p, "deleted: glork\n{}\n");
	/* internal counters come back at the next flush */
	registry_set_internal(r, &delta, 0, false);
	CU_ASSERT_DOUBLE_EQUAL(find(r, REG_COUNTERS, "statsd.bad_lines_seen")->value, 13, 0);
	buf_free(&b);
	shard_free(sh);
	registry_free(r);
}

/* ---- shard_queue/shard_commit = shard_record, sample by sample ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Two shards hold the same entries, in the same first-seen order, with
 * the same keys, values, samples and members, and the same drop count. */
static bool same_shards(const struct shard *a, const struct shard *b)
{
	for (int k = 0; k < SHARD_KIND_COUNT; k++) {
		size_t pa = 0, pb = 0;
		struct shard_entry *x, *y;
		do {
			x = shard_next(a, (enum shard_kind)k, &pa);
			y = shard_next(b, (enum shard_kind)k, &pb);
			if (x == NULL || y == NULL)
				break;
			size_t ma = x->members ? htab_count(x->members) : 0;
			size_t mb = y->members ? htab_count(y->members) : 0;
			if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0 ||
			    x->name_len != y->name_len || x->type != y->type ||
			    memcmp(&x->value, &y->value, sizeof(double)) != 0 ||
			    memcmp(&x->count, &y->count, sizeof(double)) != 0 ||
			    x->gauge_abs != y->gauge_abs || x->nvalues != y->nvalues ||
			    (x->nvalues > 0 &&
			     memcmp(x->values, y->values, x->nvalues * sizeof(double)) != 0) ||
			    ma != mb) {
				fprintf(stderr, "shard: entries differ at kind %d key %.*s\n", k,
				        (int)x->key_len, x->key);
				return false;
			}
		} while (true);
		if (x != NULL || y != NULL) {
			fprintf(stderr, "shard: kind %d has a different number of entries\n", k);
			return false;
		}
	}
	return shard_count(a) == shard_count(b) &&
	       shard_stats((struct shard *)a)->series_dropped ==
	           shard_stats((struct shard *)b)->series_dropped;
}

/* Random samples over a pool of keys (1 to 70 bytes, so both sides of the
 * 8-16 byte key comparison and keys longer than an entry's first line),
 * every type, weights and deltas. Shard A takes shard_record for each;
 * shard B takes shard_queue, shard_queue_copy or shard_record at random,
 * with shard_commit every `commit` samples (0: at random). B's queued keys
 * are in a buffer that is overwritten after each commit, as the receive
 * buffers are, and its copied keys in one overwritten at once, as the
 * parser's scratch is: B must read neither afterwards. */
static void test_queue_equals_record(void)
{
	static const struct {
		uint64_t seed;
		size_t nkeys, nops, max_series, commit;
	} cases[] = {
	    {1, 50, 5000, 1000, 0},         /* few keys, many repeats in a batch */
	    {2, 3000, 20000, 100000, 0},    /* many new series in each batch */
	    {3, 400, 20000, 100, 0},        /* series limit reached mid-batch */
	    {4, 1000, 20000, 100000, 960},  /* commits as intake (30 x 32 lines) */
	    {5, 200, 5000, 100000, 1},      /* a commit after every sample */
	    {6, 5000, 30000, 2500, 100000}, /* only the queue's own commits */
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		rng_state = 0x9e3779b97f4a7c15ULL * cases[c].seed;
		size_t nkeys = cases[c].nkeys;
		char(*keys)[72] = calloc(nkeys, sizeof(*keys));
		size_t *lens = calloc(nkeys, sizeof(size_t));
		for (size_t i = 0; i < nkeys; i++) {
			size_t len = 1 + rng() % 70;
			for (size_t j = 0; j < len; j++)
				keys[i][j] = (char)('a' + rng() % 26);
			int n = snprintf(keys[i], sizeof(keys[i]), "%zu", i); /* distinct */
			keys[i][n] = 'x';
			lens[i] = len > (size_t)n ? len : (size_t)n;
		}
		struct shard *a = shard_new(cases[c].max_series);
		struct shard *b = shard_new(cases[c].max_series);
		char *pend = malloc((size_t)cases[c].nops * 72);
		size_t used = 0, since = 0;
		for (size_t op = 0; op < cases[c].nops; op++) {
			size_t ki = rng() % nkeys;
			static const enum metric_type types[] = {
			    METRIC_COUNTER, METRIC_COUNTER,   METRIC_GAUGE,       METRIC_TIMER,
			    METRIC_SET,     METRIC_HISTOGRAM, METRIC_DISTRIBUTION};
			struct sample s = {.type = types[rng() % 7],
			                   .key = keys[ki],
			                   .key_len = lens[ki],
			                   .name_len = lens[ki] / 2, /* fixed per key */
			                   .value = (double)(rng() % 2000) / 8 - 50,
			                   .weight = rng() % 4 == 0 ? 10 : 1,
			                   .gauge_delta = rng() % 3 == 0,
			                   .member = keys[rng() % nkeys],
			                   .member_len = 3};
			shard_record(a, &s);
			memcpy(pend + used, s.key, s.key_len);
			s.key = pend + used;
			used += s.key_len;
			unsigned how = (unsigned)(rng() % 8);
			if (how == 0) {
				shard_record(b, &s);
			} else if (how <= 3) {
				/* a key in scratch: rewritten right after the call */
				char scratch[72];
				memcpy(scratch, s.key, s.key_len);
				s.key = scratch;
				shard_queue_copy(b, &s);
				memset(scratch, '#', sizeof(scratch));
			} else {
				shard_queue(b, &s);
			}
			since++;
			if (cases[c].commit ? since == cases[c].commit : rng() % 50 == 0) {
				shard_commit(b);
				memset(pend, '#', used);
				used = 0;
				since = 0;
			}
		}
		shard_commit(b);
		CU_ASSERT_TRUE(same_shards(a, b));
		CU_ASSERT_TRUE(shard_count(a) > 0);
		if (cases[c].max_series < cases[c].nkeys)
			CU_ASSERT_TRUE(shard_stats(a)->series_dropped > 0);
		/* Cleared shards take new samples the same way. */
		shard_clear(a);
		shard_clear(b);
		struct sample s = {.type = METRIC_COUNTER,
		                   .key = "k",
		                   .key_len = 1,
		                   .name_len = 1,
		                   .value = 2,
		                   .weight = 1};
		shard_record(a, &s);
		shard_queue(b, &s);
		shard_commit(b);
		CU_ASSERT_TRUE(same_shards(a, b));
		shard_free(a);
		shard_free(b);
		free(pend);
		free(keys);
		free(lens);
	}
}

/* shard_commit hashes queued keys of 8 to 32 bytes inline and others out
 * of line; shard_record takes shard_hash: for every key length
 * around those bounds, a key recorded, queued and copied in either order
 * is one series whose value is the sum. So too for keys around the queue's
 * key space (SHARD_QUEUE_KEYS) and its 16-bit lengths (struct qsample). */
static void test_queue_hash_lengths(void)
{
	static const struct {
		int first, second; /* 0 record, 1 queue, 2 queue_copy */
	} orders[] = {{0, 1}, {1, 0}, {2, 1}, {1, 2}, {1, 1}, {0, 2}};
	static const size_t longer[] = {8191, 8192, 8193, 65535, 65536, 70000};
	static char key[70000];
	for (size_t li = 0; li < 80 + sizeof(longer) / sizeof(longer[0]); li++) {
		size_t len = li < 80 ? li + 1 : longer[li - 80];
		for (size_t j = 0; j < len; j++)
			key[j] = (char)('a' + (j * 7 + len) % 26);
		for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
			struct shard *sh = shard_new(1000);
			struct sample s = {.type = METRIC_COUNTER,
			                   .key = key,
			                   .key_len = len,
			                   .name_len = len,
			                   .value = 1,
			                   .weight = 1};
			int how[2] = {orders[o].first, orders[o].second};
			for (int i = 0; i < 2; i++) {
				s.value = i + 1;
				if (how[i] == 0)
					shard_record(sh, &s);
				else if (how[i] == 1)
					shard_queue(sh, &s);
				else
					shard_queue_copy(sh, &s);
			}
			shard_commit(sh);
			size_t pos = 0;
			struct shard_entry *e = shard_next(sh, SHARD_COUNTERS, &pos);
			CU_ASSERT_EQUAL(shard_count(sh), 1);
			CU_ASSERT_TRUE(e != NULL && e->key_len == len && e->value == 3);
			if (shard_count(sh) != 1)
				fprintf(stderr, "shard: key of %zu bytes, order %zu: %zu series\n",
				        len, o, shard_count(sh));
			shard_free(sh);
		}
	}
}

/* ---- the parser's queue = the parser's callbacks ---- */

/* A shard fed by parse_packet as intake feeds it (common lines queued by
 * the parser, their names unchecked; other samples queued by the sample
 * callback, copied when their key is in scratch; lines the shard gives
 * back parsed again with parse_line into shard_record), or without the
 * queue, every sample recorded at once by the callback. */
struct feed_ctx {
	struct shard *sh;
	const char *pkt; /* the packet being parsed */
	size_t pkt_len;
	struct parse_opts o;
	struct parse_scratch scr, fb_scr;
	size_t bad, events, fallbacks;
};

static void fc_record(void *ctx, const struct sample *s)
{
	struct feed_ctx *fc = ctx;
	shard_record(fc->sh, s);
}

static void fc_queue(void *ctx, const struct sample *s)
{
	struct feed_ctx *fc = ctx;
	if ((uintptr_t)s->key - (uintptr_t)fc->pkt < fc->pkt_len)
		shard_queue(fc->sh, s);
	else
		shard_queue_copy(fc->sh, s);
}

static void fc_event(void *ctx, const struct parse_event *e)
{
	struct feed_ctx *fc = ctx;
	fc->events++;
	shard_add_event(fc->sh, e);
}

static void fc_check(void *ctx, const struct parse_check *c)
{
	struct feed_ctx *fc = ctx;
	fc->events++;
	shard_add_check(fc->sh, c);
}

static void fc_bad(void *ctx, const char *line, size_t len, const char *reason)
{
	struct feed_ctx *fc = ctx;
	fc->bad++;
}

static void fc_full(void *ctx)
{
	struct feed_ctx *fc = ctx;
	shard_commit(fc->sh);
}

static const struct parse_handler record_handler = {
    .sample = fc_record, .event = fc_event, .check = fc_check, .bad = fc_bad};

static void fc_fallback(void *ctx, const char *line, size_t len)
{
	struct feed_ctx *fc = ctx;
	fc->fallbacks++;
	parse_line(line, len, &fc->o, &fc->fb_scr, &record_handler, fc);
}

/* Lines of every kind: plain names; names to sanitise (so the parser
 * queues them unchecked and the shard gives them back), one of them the
 * sanitised form of another; names that are the keys of tagged series or
 * hold a line's syntax; values the one-pass path reads and others; fields;
 * sets, events, checks, bad lines. */
static const char *const vocab[] = {
    "app.req.%u:1|c",
    "app.req.%u:17|c",
    "app.lat.%u:0.25|ms",
    "app.lat.%u:12|h",
    "app.g.%u:5|g",
    "app.g.%u:+2|g",
    "app.g.%u:-1|g",
    "app.d.%u:3|d",
    "a b%u:1|c",
    "a_b%u:2|c",
    "a/b%u:4|c",
    "a-b%u:8|c",
    "x\ty%u:1|ms",
    "x!y%u:3|g",
    "Caf\xc3\xa9%u:1|c",
    "tag%u;env=prod:1|c",
    "tag%u:1|c|#env:prod",
    "tag%u;env=prod:2|g",
    "_sc|chk%u|0|m:1|c",
    "_e{2,2}:ab|c%u",
    "app.req.%u:1|c|@0.5",
    "app.req.%u:2|c|#a:b",
    "set%u:m|s",
    "app.req.%u:1:2:3|c",
    "bad%u",
    "app.req.%u:x|c",
    "a b%u:q|c",
    "app.lat.%u:-4|ms",
    "app.lat.%u:250|ms",
    "app.req.%u:1234567|c",
    "app.req.%u:12345678|c",
    "app.req.%u:007|c",
    "app.req.%u:1|c\r",
    ":%u|c",
    "app.req.%u:1|zz",
    "a b%u:1|c|#k:v",
};

/* Writes fmt with its "%u" replaced by n; returns the length. */
static size_t put_line(char *out, const char *fmt, unsigned n)
{
	const char *u = strstr(fmt, "%u");
	size_t a = (size_t)(u - fmt);
	memcpy(out, fmt, a);
	int d = snprintf(out + a, 12, "%u", n);
	size_t b = strlen(u + 2);
	memcpy(out + a + (size_t)d, u + 2, b);
	return a + (size_t)d + b;
}

/* Two shards of max_series to feed the same packets: fa by the
 * callbacks (record_handler), fb as intake feeds it, through the handler
 * returned. */
static struct parse_handler feed_pair(struct feed_ctx *fa, struct feed_ctx *fb, size_t max_series)
{
	memset(fa, 0, sizeof(*fa));
	memset(fb, 0, sizeof(*fb));
	parse_opts_default(&fa->o);
	parse_opts_default(&fb->o);
	fa->sh = shard_new(max_series);
	fb->sh = shard_new(max_series);
	shard_set_fallback(fb->sh, fc_fallback, fb);
	return (struct parse_handler){.sample = fc_queue,
	                              .event = fc_event,
	                              .check = fc_check,
	                              .bad = fc_bad,
	                              .queue = shard_sample_queue(fb->sh),
	                              .commit = fc_full};
}

static void test_parser_queue(void)
{
	static const struct {
		uint64_t seed;
		unsigned names;    /* %u in a vocabulary line: 0 .. names-1 */
		size_t max_series; /* per kind */
		size_t packets;
	} cases[] = {
	    {11, 20, 100000, 400},   /* few series: most lines hit */
	    {12, 3000, 100000, 400}, /* many new series */
	    {13, 200, 60, 400},      /* the series limit */
	};
	static struct feed_ctx fa, fb;
	char pkt[4096], copy[4096 + PARSE_PAD];
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		rng_state = 0x9e3779b97f4a7c15ULL * cases[c].seed;
		const struct parse_handler queue_handler = feed_pair(&fa, &fb, cases[c].max_series);
		size_t lines_a = 0, lines_b = 0;
		for (size_t k = 0; k < cases[c].packets; k++) {
			size_t len = 0, nlines = 1 + rng() % 90;
			for (size_t l = 0; l < nlines && len < sizeof(pkt) - 80; l++) {
				const char *fmt = vocab[rng() % (sizeof(vocab) / sizeof(vocab[0]))];
				len += put_line(pkt + len, fmt, (unsigned)(rng() % cases[c].names));
				if (l + 1 < nlines || rng() % 2)
					pkt[len++] = '\n';
			}
			memcpy(copy, pkt, len);
			fa.pkt = pkt;
			fa.pkt_len = len;
			lines_a += parse_packet(pkt, len, &fa.o, &fa.scr, &record_handler, &fa);
			fb.pkt = copy;
			fb.pkt_len = len;
			/* every other packet as intake parses it: with room after it
			 * (holding the '#'s of the memset below) */
			if (k % 2)
				lines_b += parse_packet_padded(copy, len, &fb.o, &fb.scr,
				                               &queue_handler, &fb);
			else
				lines_b +=
				    parse_packet(copy, len, &fb.o, &fb.scr, &queue_handler, &fb);
			/* commits at the end of the packet as intake does at the end of
			 * a batch; the buffer is then rewritten */
			shard_commit(fb.sh);
			memset(copy, '#', sizeof(copy));
		}
		CU_ASSERT_EQUAL(lines_a, lines_b);
		CU_ASSERT_TRUE(same_shards(fa.sh, fb.sh));
		CU_ASSERT_EQUAL(fa.bad, fb.bad);
		CU_ASSERT_EQUAL(fa.events, fb.events);
		CU_ASSERT_TRUE(fa.bad > 0 && fa.events > 0);
		CU_ASSERT_TRUE(fb.fallbacks > 0);
		if (cases[c].max_series < cases[c].names)
			CU_ASSERT_TRUE(shard_stats(fa.sh)->series_dropped > 0);
		shard_free(fa.sh);
		shard_free(fb.sh);
	}
}

/* An unchecked name that is the key of a series that is not plain (tags)
 * is not that series: "t;env=prod:1|c" (a name with ';', sanitising keeps
 * it) after "t:5|c|#env:prod" (the tagged series t;env=prod) is what the
 * general path makes of it, not 1 more on the tagged series. And a name to
 * sanitise queued before and after its series exists. */
static void test_parser_queue_tagged_key(void)
{
	static struct feed_ctx fa, fb;
	char pkt[] = "t:5|c|#env:prod\nt;env=prod:1|c\na b:1|c\na_b:2|c\na b:4|c\n";
	size_t len = sizeof(pkt) - 1;
	const struct parse_handler queue_handler = feed_pair(&fa, &fb, 100);
	fa.pkt = fb.pkt = pkt;
	fa.pkt_len = fb.pkt_len = len;
	parse_packet(pkt, len, &fa.o, &fa.scr, &record_handler, &fa);
	parse_packet(pkt, len, &fb.o, &fb.scr, &queue_handler, &fb);
	shard_commit(fb.sh);
	CU_ASSERT_TRUE(same_shards(fa.sh, fb.sh));
	CU_ASSERT_EQUAL(fb.fallbacks, 3); /* t;env=prod and both "a b" */
	size_t pos = 0;
	struct shard_entry *e;
	double a_b = 0;
	while ((e = shard_next(fb.sh, SHARD_COUNTERS, &pos)) != NULL)
		if (e->key_len == 3 && memcmp(e->key, "a_b", 3) == 0)
			a_b = e->value;
	CU_ASSERT_DOUBLE_EQUAL(a_b, 7, 0);
	shard_free(fa.sh);
	shard_free(fb.sh);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("shard+registry", NULL, NULL);
	CU_add_test(s, "counters and sample weights", test_counters_and_weights);
	CU_add_test(s, "gauges and deltas", test_gauges);
	CU_add_test(s, "sets and timers across shards", test_sets_and_timers);
	CU_add_test(s, "series limits", test_limits);
	CU_add_test(s, "delete_idle", test_delete_idle);
	CU_add_test(s, "delete_idle keeps windows sliding", test_delete_idle_keeps_windows);
	CU_add_test(s, "events and checks are bounded and handed over", test_events_and_checks);
	CU_add_test(s, "internal counters, admin views, deletes", test_internal_and_views);
	CU_add_test(s, "queued and committed = recorded one by one", test_queue_equals_record);
	CU_add_test(s, "one series whatever the key length and the way in",
	            test_queue_hash_lengths);
	CU_add_test(s, "the parser's queue = its callbacks", test_parser_queue);
	CU_add_test(s, "an unchecked name is not a tagged series", test_parser_queue_tagged_key);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
