/* test_gfmt: Graphite lines for one flush — legacy and non-legacy names,
 * global suffix before the tags, counters/timers/gauges/sets, numStats,
 * the reference's graphiteStats lines, tallyd's self-stats, and the idle
 * flush that follows. Expected lines are the reference statsd's (from
 * the expected_*.norm conformance files) for the same input. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "gfmt.h"
#include "registry.h"
#include "shard.h"

static struct config cfg;
static double pcts[] = {90};

static void reset_cfg(bool legacy, const char *suffix)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.prefix_stats = (char *)"statsd";
	cfg.max_series = 1000;
	cfg.flush_interval_ms = 2000;
	cfg.percentiles = pcts;
	cfg.npercentiles = 1;
	cfg.graphite_legacy = legacy;
	cfg.graphite_prefix = (char *)"stats";
	cfg.graphite_suffix = (char *)suffix;
}

static void add(struct shard *sh, enum metric_type t, const char *key, double v, const char *m)
{
	struct sample s = {.type = t,
	                   .key = key,
	                   .key_len = strlen(key),
	                   .name_len = strcspn(key, ";"),
	                   .value = v,
	                   .weight = 1,
	                   .member = m,
	                   .member_len = m ? strlen(m) : 0};
	shard_record(sh, &s);
}

static struct registry *populate(void)
{
	struct registry *r = registry_new(&cfg);
	struct shard *sh = shard_new(100);
	struct selfstats st = {0}, delta = {0};
	add(sh, METRIC_COUNTER, "gorets", 11, NULL);
	add(sh, METRIC_COUNTER, "dd.tagged;env=prod;role=web", 3, NULL);
	add(sh, METRIC_TIMER, "t1;a=b", 42, NULL);
	add(sh, METRIC_GAUGE, "gaugor", 327, NULL);
	add(sh, METRIC_SET, "uniques", 0, "765");
	add(sh, METRIC_SET, "uniques", 0, "766");
	registry_merge(r, sh, &st);
	delta.packets_received = 4;
	delta.metrics_received = 6;
	registry_set_internal(r, &delta, 0, true);
	shard_free(sh);
	return r;
}

/* True if line (without the " ts\n") is in out with timestamp 1700000000. */
static bool has(const struct buf *out, const char *line)
{
	char want[512];
	snprintf(want, sizeof(want), "%s 1700000000\n", line);
	size_t wl = strlen(want);
	for (const char *p = out->p; p && *p;) {
		const char *nl = strchr(p, '\n');
		if ((size_t)(nl - p + 1) == wl && memcmp(p, want, wl) == 0)
			return true;
		p = nl + 1;
	}
	fprintf(stderr, "\n  missing line: %s", want);
	return false;
}

static size_t count_prefix(const struct buf *out, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);
	for (const char *p = out->p; p && *p;) {
		if (strncmp(p, prefix, pl) == 0)
			n++;
		p = strchr(p, '\n') + 1;
	}
	return n;
}

static void test_legacy(void)
{
	static const char *const want[] = {
	    "stats.gorets 5.5",
	    "stats_counts.gorets 11",
	    "stats.dd.tagged;env=prod;role=web 1.5",
	    "stats_counts.dd.tagged;env=prod;role=web 3",
	    "stats.statsd.packets_received 2",
	    "stats_counts.statsd.packets_received 4",
	    "stats_counts.statsd.metrics_received 6",
	    "stats_counts.statsd.bad_lines_seen 0",
	    "stats.timers.t1.count_90;a=b 1",
	    "stats.timers.t1.upper_90;a=b 42",
	    "stats.timers.t1.sum_squares_90;a=b 1764",
	    "stats.timers.t1.std;a=b 0",
	    "stats.timers.t1.count_ps;a=b 0.5",
	    "stats.timers.t1.median;a=b 42",
	    "stats.gauges.gaugor 327",
	    "stats.gauges.statsd.timestamp_lag 0",
	    "stats.sets.uniques.count 2",
	    "statsd.numStats 9",
	    "stats.statsd.graphiteStats.last_exception 0",
	    "stats.tallyd.kernel_drops 0",
	    "stats_counts.tallyd.kernel_drops 0",
	    "stats.gauges.tallyd.series 0",
	};
	reset_cfg(true, "");
	struct registry *r = populate();
	struct buf out = BUF_INIT;
	struct selfstats delta = {0}, totals = {0};
	size_t lines = gfmt_flush(r, &cfg, 1700000000, &delta, &totals, &out);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CU_ASSERT(has(&out, want[i]));
	CU_ASSERT_EQUAL(count_prefix(&out, "stats.timers.t1."), 14);
	CU_ASSERT_EQUAL(count_prefix(&out, "stats.statsd.graphiteStats."), 5);
	CU_ASSERT_EQUAL(count_prefix(&out, "stats.statsd.processing_time "), 1);
	/* every line is "name value ts" */
	size_t n = 0;
	for (const char *p = out.p; *p; p = strchr(p, '\n') + 1, n++) {
		const char *nl = strchr(p, '\n');
		size_t spaces = 0;
		for (const char *q = p; q < nl; q++)
			spaces += *q == ' ';
		CU_ASSERT_EQUAL(spaces, 2);
	}
	CU_ASSERT_EQUAL(n, lines);

	/* idle flush: counters 0, timers count/count_ps only, gauges kept */
	registry_end_interval(r);
	buf_reset(&out);
	gfmt_flush(r, &cfg, 1700000000, &delta, &totals, &out);
	CU_ASSERT(has(&out, "stats_counts.gorets 0"));
	CU_ASSERT(has(&out, "stats.timers.t1.count;a=b 0"));
	CU_ASSERT(has(&out, "stats.timers.t1.count_ps;a=b 0"));
	CU_ASSERT_EQUAL(count_prefix(&out, "stats.timers.t1."), 2);
	CU_ASSERT(has(&out, "stats.gauges.gaugor 327"));
	CU_ASSERT(has(&out, "stats.sets.uniques.count 0"));
	buf_free(&out);
	registry_free(r);
}

static void test_nonlegacy_suffix(void)
{
	static const char *const want[] = {
	    "stats.counters.gorets.rate.sfx 5.5",
	    "stats.counters.gorets.count.sfx 11",
	    "stats.counters.dd.tagged.count.sfx;env=prod;role=web 3",
	    "stats.counters.statsd.packets_received.count.sfx 4",
	    "stats.timers.t1.count_90.sfx;a=b 1",
	    "stats.gauges.gaugor.sfx 327",
	    "stats.sets.uniques.count.sfx 2",
	    "stats.statsd.numStats.sfx 9",
	    "stats.statsd.graphiteStats.last_exception.sfx 0",
	    "stats.counters.tallyd.kernel_drops.count.sfx 0",
	    "stats.gauges.tallyd.series.sfx 0",
	};
	reset_cfg(false, "sfx");
	struct registry *r = populate();
	struct buf out = BUF_INIT;
	struct selfstats delta = {0}, totals = {0};
	gfmt_flush(r, &cfg, 1700000000, &delta, &totals, &out);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CU_ASSERT(has(&out, want[i]));
	CU_ASSERT_EQUAL(count_prefix(&out, "stats_counts."), 0);
	buf_free(&out);
	registry_free(r);

	/* an empty prefix drops that namespace level, as the reference */
	reset_cfg(false, "");
	cfg.graphite_prefix = (char *)"";
	r = populate();
	gfmt_flush(r, &cfg, 1700000000, &delta, &totals, &out);
	CU_ASSERT(has(&out, "counters.gorets.rate 5.5"));
	CU_ASSERT(has(&out, "statsd.numStats 9"));
	buf_free(&out);
	registry_free(r);
}

static void test_self_stats_values(void)
{
	reset_cfg(true, "");
	struct registry *r = populate();
	struct buf out = BUF_INIT;
	struct selfstats delta = {0}, totals = {0};
	delta.kernel_drops = 8;
	totals.kernel_drops = 100; /* counters report the interval's delta */
	totals.graphite_queue_bytes = 512;
	totals.graphite_last_exception = 1699999999;
	gfmt_flush(r, &cfg, 1700000000, &delta, &totals, &out);
	CU_ASSERT(has(&out, "stats.tallyd.kernel_drops 4"));
	CU_ASSERT(has(&out, "stats_counts.tallyd.kernel_drops 8"));
	CU_ASSERT(has(&out, "stats.gauges.tallyd.graphite_queue_bytes 512"));
	CU_ASSERT(has(&out, "stats.statsd.graphiteStats.last_exception 1699999999"));
	/* the reference's own counters are not repeated under tallyd. */
	CU_ASSERT_EQUAL(count_prefix(&out, "stats_counts.tallyd.packets_received"), 0);
	buf_free(&out);
	registry_free(r);
}

static void test_graphite_windows(void)
{
	static double q[] = {50};
	reset_cfg(true, "");
	cfg.nwindows = 1;
	cfg.windows_ms[0] = 60000;
	cfg.window_quantiles = q;
	cfg.nwindow_quantiles = 1;
	cfg.window_accuracy = 0.01;
	cfg.graphite_windows = true;
	struct registry *r = populate();
	registry_push_windows(r);
	struct buf out = BUF_INIT;
	struct selfstats delta = {0}, totals = {0};
	gfmt_flush(r, &cfg, 1700000000, &delta, &totals, &out);
	CU_ASSERT(has(&out, "stats.windows.1m.gorets.count 11"));
	CU_ASSERT(has(&out, "stats.windows.1m.gorets.rate 5.5")); /* 11 over 2 s covered */
	CU_ASSERT(has(&out, "stats.windows.1m.dd.tagged.count;env=prod;role=web 3"));
	CU_ASSERT(has(&out, "stats.windows.1m.t1.count;a=b 1"));
	CU_ASSERT(has(&out, "stats.windows.1m.t1.max;a=b 42"));
	CU_ASSERT_EQUAL(count_prefix(&out, "stats.windows.1m.t1.p50;a=b "), 1);
	CU_ASSERT(has(&out, "stats.windows.1m.gaugor.last 327"));
	CU_ASSERT(has(&out, "stats.windows.1m.uniques.unique 2"));
	buf_free(&out);
	/* off by default: no window lines */
	cfg.graphite_windows = false;
	gfmt_flush(r, &cfg, 1700000000, &delta, &totals, &out);
	CU_ASSERT_EQUAL(count_prefix(&out, "stats.windows."), 0);
	buf_free(&out);
	registry_free(r);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("gfmt", NULL, NULL);
	CU_add_test(s, "legacy namespace and idle flush", test_legacy);
	CU_add_test(s, "non-legacy namespace with suffix", test_nonlegacy_suffix);
	CU_add_test(s, "self-stats values", test_self_stats_values);
	CU_add_test(s, "graphite.windows lines", test_graphite_windows);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
