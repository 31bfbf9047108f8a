/* test_shard: interval aggregation in a worker shard and its merge into
 * the registry — counter weighting, gauge values and deltas (within one
 * shard and across shards), set members, timer samples, series limits,
 * the end-of-interval lifecycle (with and without delete_idle), and the
 * admin views and deletes. Configs are built by hand: no config file. */
#include <CUnit/Basic.h>
#include <math.h>
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
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
