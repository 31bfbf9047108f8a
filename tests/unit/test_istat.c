/* test_istat: the stat names anomaly scoring and alert rules use — parsing
 * and printing anomaly.stats lists (every error names the item), the
 * interval values of each kind against hand-computed ones (nearest-rank
 * percentiles, population stddev, NaN for an empty timer), and stat lookup
 * by name in a window_stats, quantile names included. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "htab.h"
#include "istat.h"
#include "registry.h"
#include "window.h"
#include "xalloc.h"

#define B(s) (1u << (s))

struct list_case {
	const char *in;
	bool ok;
	unsigned masks[ISTAT_KINDS];
	const char *printed; /* ok: istat_format_list; else a piece of why */
};

static const struct list_case list_cases[] = {
    {"counter.rate,timer.mean,timer.p99,gauge.value",
     true,
     {B(ISTAT_RATE), B(ISTAT_MEAN) | B(ISTAT_P99), B(ISTAT_VALUE), 0},
     "counter.rate,timer.mean,timer.p99,gauge.value"},
    {"  set.unique  counter.count, ,timer.p999",
     true,
     {B(ISTAT_COUNT), B(ISTAT_P999), 0, B(ISTAT_UNIQUE)},
     "counter.count,timer.p999,set.unique"},
    {"", true, {0, 0, 0, 0}, ""},
    {"counter.rate,counter.rate", true, {B(ISTAT_RATE), 0, 0, 0}, "counter.rate"},
    {"gauge.p99", false, {0}, "gauge.p99: a gauge has no such stat (it has: value)"},
    {"counter.value", false, {0}, "a counter has no such stat (it has: count rate)"},
    {"timers.mean", false, {0}, "timers.mean: expected kind.stat"},
    {"rate", false, {0}, "rate: expected kind.stat"},
    {"timer.", false, {0}, "timer.: a timer has no such stat"},
};

static void test_lists(void)
{
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		const struct list_case *c = &list_cases[i];
		unsigned m[ISTAT_KINDS] = {7, 7, 7, 7};
		char why[256] = "";
		bool ok = istat_parse_list(c->in, strlen(c->in), m, why, sizeof(why));
		CU_ASSERT_EQUAL(ok, c->ok);
		if (ok != c->ok) {
			printf("\n  case %zu (%s): ok=%d why=%s\n", i, c->in, ok, why);
			continue;
		}
		if (!ok) {
			CU_ASSERT_PTR_NOT_NULL(strstr(why, c->printed));
			CU_ASSERT_EQUAL(m[0], 7); /* untouched on error */
			continue;
		}
		CU_ASSERT_EQUAL(memcmp(m, c->masks, sizeof(m)), 0);
		struct buf b = BUF_INIT;
		istat_format_list(&b, m);
		CU_ASSERT_STRING_EQUAL(b.p ? b.p : "", c->printed);
		buf_free(&b);
	}
}

static void test_counter_gauge_set(void)
{
	struct reg_series s = {0};
	s.value = 25;
	CU_ASSERT_DOUBLE_EQUAL(istat_interval(&s, ISTAT_COUNTER, ISTAT_COUNT, 10), 25, 0);
	CU_ASSERT_DOUBLE_EQUAL(istat_interval(&s, ISTAT_COUNTER, ISTAT_RATE, 10), 2.5, 0);
	CU_ASSERT(isnan(istat_interval(&s, ISTAT_COUNTER, ISTAT_MEAN, 10)));
	CU_ASSERT_DOUBLE_EQUAL(istat_by_name(&s, ISTAT_COUNTER, "rate", 5), 5, 0);
	CU_ASSERT(isnan(istat_by_name(&s, ISTAT_COUNTER, "p99", 5)));
	CU_ASSERT(isnan(istat_by_name(&s, ISTAT_COUNTER, "nonsense", 5)));

	CU_ASSERT_DOUBLE_EQUAL(istat_by_name(&s, ISTAT_GAUGE, "value", 10), 25, 0);
	CU_ASSERT_DOUBLE_EQUAL(istat_by_name(&s, ISTAT_GAUGE, "last", 10), 25, 0);

	CU_ASSERT_DOUBLE_EQUAL(istat_by_name(&s, ISTAT_SET, "unique", 10), 0, 0);
	s.members = htab_new(4);
	const char *m[] = {"a", "b", "c"};
	for (size_t i = 0; i < 3; i++)
		htab_put(s.members, m[i], 1, htab_hash(m[i], 1), xstrdup(m[i]));
	CU_ASSERT_DOUBLE_EQUAL(istat_by_name(&s, ISTAT_SET, "unique", 10), 3, 0);
	CU_ASSERT_DOUBLE_EQUAL(istat_by_name(&s, ISTAT_SET, "count", 10), 3, 0);
	htab_free(s.members, free);
}

static void test_timer(void)
{
	/* 1..100 shuffled: nearest rank p50 = 50, p90 = 90, p99 = 99, p999 = 100 */
	double v[100];
	for (int i = 0; i < 100; i++)
		v[i] = (double)((i * 37) % 100 + 1);
	struct reg_series s = {0};
	s.values = v;
	s.nvalues = 100;
	s.count = 200; /* sampled at 0.5 */
	struct {
		enum istat st;
		double want;
	} cases[] = {{ISTAT_COUNT, 200}, {ISTAT_RATE, 20},  {ISTAT_SUM, 5050},
	             {ISTAT_MEAN, 50.5}, {ISTAT_MIN, 1},    {ISTAT_MAX, 100},
	             {ISTAT_P50, 50},    {ISTAT_P90, 90},   {ISTAT_P95, 95},
	             {ISTAT_P99, 99},    {ISTAT_P999, 100}, {ISTAT_STDDEV, 28.86607004772212}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = istat_interval(&s, ISTAT_TIMER, cases[i].st, 10);
		CU_ASSERT_DOUBLE_EQUAL(got, cases[i].want, 1e-9);
		if (fabs(got - cases[i].want) > 1e-9)
			printf("\n  %s: got %.17g want %.17g\n", istat_name(cases[i].st), got,
			       cases[i].want);
	}
	/* one sample: every percentile is it */
	double one = 7;
	s.values = &one;
	s.nvalues = 1;
	CU_ASSERT_DOUBLE_EQUAL(istat_interval(&s, ISTAT_TIMER, ISTAT_P50, 10), 7, 0);
	CU_ASSERT_DOUBLE_EQUAL(istat_interval(&s, ISTAT_TIMER, ISTAT_P999, 10), 7, 0);
	CU_ASSERT_DOUBLE_EQUAL(istat_interval(&s, ISTAT_TIMER, ISTAT_STDDEV, 10), 0, 0);
	/* no samples: no mean, but a count (0) and a rate */
	s.nvalues = 0;
	s.count = 0;
	CU_ASSERT(isnan(istat_interval(&s, ISTAT_TIMER, ISTAT_MEAN, 10)));
	CU_ASSERT(isnan(istat_interval(&s, ISTAT_TIMER, ISTAT_P99, 10)));
	CU_ASSERT_DOUBLE_EQUAL(istat_interval(&s, ISTAT_TIMER, ISTAT_COUNT, 10), 0, 0);
}

static void test_window_names(void)
{
	double pcts[] = {50, 99, 99.9};
	struct window_stats ws = {.covered_s = 60,
	                          .count = 10,
	                          .rate = 0.5,
	                          .sum = 30,
	                          .min = 1,
	                          .max = 5,
	                          .mean = 3,
	                          .stddev = 1.5,
	                          .last = 4,
	                          .unique = 9,
	                          .q = {2, 4.5, 5},
	                          .has_data = true};
	struct {
		enum istat_kind k;
		const char *name;
		double want; /* NaN: absent */
	} cases[] = {
	    {ISTAT_TIMER, "count", 10},   {ISTAT_TIMER, "rate", 0.5},
	    {ISTAT_TIMER, "sum", 30},     {ISTAT_TIMER, "min", 1},
	    {ISTAT_TIMER, "max", 5},      {ISTAT_TIMER, "mean", 3},
	    {ISTAT_TIMER, "stddev", 1.5}, {ISTAT_TIMER, "p50", 2},
	    {ISTAT_TIMER, "p99", 4.5},    {ISTAT_TIMER, "p999", 5},
	    {ISTAT_TIMER, "p90", NAN},    {ISTAT_TIMER, "last", NAN},
	    {ISTAT_TIMER, "covered", 60}, {ISTAT_COUNTER, "count", 10},
	    {ISTAT_COUNTER, "rate", 0.5}, {ISTAT_COUNTER, "mean", NAN},
	    {ISTAT_GAUGE, "last", 4},     {ISTAT_GAUGE, "value", 4},
	    {ISTAT_GAUGE, "min", 1},      {ISTAT_GAUGE, "max", 5},
	    {ISTAT_GAUGE, "mean", 3},     {ISTAT_GAUGE, "count", NAN},
	    {ISTAT_SET, "unique", 9},     {ISTAT_SET, "count", 9},
	    {ISTAT_SET, "covered", 60},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = istat_window_by_name(&ws, cases[i].k, pcts, 3, cases[i].name);
		if (isnan(cases[i].want)) {
			CU_ASSERT(isnan(got));
		} else {
			CU_ASSERT_DOUBLE_EQUAL(got, cases[i].want, 0);
		}
	}
	/* an empty window: a timer's sum/min/... are absent, its count is 0 */
	ws.has_data = false;
	ws.count = 0;
	CU_ASSERT(isnan(istat_window_by_name(&ws, ISTAT_TIMER, pcts, 3, "mean")));
	CU_ASSERT_DOUBLE_EQUAL(istat_window_by_name(&ws, ISTAT_TIMER, pcts, 3, "count"), 0, 0);
	CU_ASSERT(isnan(istat_window_by_name(&ws, ISTAT_GAUGE, pcts, 3, "last")));
}

static void test_quantile_names(void)
{
	struct {
		double pct;
		const char *want;
	} cases[] = {{50, "p50"}, {99.9, "p999"}, {99.99, "p9999"}, {5, "p5"}, {0.5, "p05"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[ISTAT_QNAME_MAX];
		istat_quantile_name(cases[i].pct, out);
		CU_ASSERT_STRING_EQUAL(out, cases[i].want);
	}
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("istat", NULL, NULL);
	CU_add_test(s, "anomaly.stats lists", test_lists);
	CU_add_test(s, "counter, gauge and set interval values", test_counter_gauge_set);
	CU_add_test(s, "timer interval values", test_timer);
	CU_add_test(s, "window stats by name", test_window_names);
	CU_add_test(s, "quantile names", test_quantile_names);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
