/* test_tstats: timer statistics against the reference statsd's own output
 * (tests/data/conformance/statsd/expected_legacy.norm), compared as the
 * strings the reference printed, so arithmetic and formatting must both be
 * exact. Also percentile labels, idle timers and histogram selection. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "num.h"
#include "tstats.h"

struct want {
	const char *stat;
	const char *value; /* as the reference printed it */
};

struct tcase {
	const char *name;
	double values[16];
	size_t n;
	double count;
	double pcts[4];
	size_t npcts;
	double bins[8];
	size_t nbins;
	struct want want[48];
};

static const struct tcase cases[] = {
    {"glork",
     {320, 100, 200},
     3,
     12,
     {90, -10, 99.9},
     3,
     {0},
     0,
     {{"count_90", "3"},
      {"mean_90", "206.66666666666666"},
      {"upper_90", "320"},
      {"sum_90", "620"},
      {"sum_squares_90", "152400"},
      {"count_99_9", "3"},
      {"mean_99_9", "206.66666666666666"},
      {"upper_99_9", "320"},
      {"sum_99_9", "620"},
      {"sum_squares_99_9", "152400"},
      {"std", "89.93825042154694"},
      {"upper", "320"},
      {"lower", "100"},
      {"count", "12"},
      {"count_ps", "6"},
      {"sum", "620"},
      {"sum_squares", "152400"},
      {"mean", "206.66666666666666"},
      {"median", "200"}}},
    {"t10",
     {1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
     10,
     10,
     {90, -10, 99.9},
     3,
     {0},
     0,
     {{"count_90", "9"},
      {"mean_90", "5"},
      {"upper_90", "9"},
      {"sum_90", "45"},
      {"sum_squares_90", "285"},
      {"count_top10", "1"},
      {"mean_top10", "10"},
      {"lower_top10", "10"},
      {"sum_top10", "10"},
      {"sum_squares_top10", "100"},
      {"count_99_9", "10"},
      {"mean_99_9", "5.5"},
      {"upper_99_9", "10"},
      {"sum_99_9", "55"},
      {"sum_squares_99_9", "385"},
      {"std", "2.8722813232690143"},
      {"upper", "10"},
      {"lower", "1"},
      {"count", "10"},
      {"count_ps", "5"},
      {"sum", "55"},
      {"sum_squares", "385"},
      {"mean", "5.5"},
      {"median", "5.5"}}},
    {"render.time",
     {0.005, 0.05, 0.5, 5, 50, 10},
     6,
     6,
     {90, -10, 99.9},
     3,
     {0.01, 0.1, 1, 10, INFINITY},
     5,
     {{"count_90", "5"},
      {"mean_90", "3.1109999999999998"},
      {"upper_90", "10"},
      {"sum_90", "15.555"},
      {"sum_squares_90", "125.25252499999999"},
      {"count_top10", "1"},
      {"mean_top10", "50.00000000000001"},
      {"lower_top10", "50"},
      {"sum_top10", "50.00000000000001"},
      {"sum_squares_top10", "2500"},
      {"count_99_9", "6"},
      {"mean_99_9", "10.925833333333335"},
      {"upper_99_9", "50"},
      {"sum_99_9", "65.555"},
      {"sum_squares_99_9", "2625.252525"},
      {"std", "17.837271469376198"},
      {"upper", "50"},
      {"lower", "0.005"},
      {"count", "6"},
      {"count_ps", "3"},
      {"sum", "65.555"},
      {"sum_squares", "2625.252525"},
      {"mean", "10.925833333333335"},
      {"median", "2.75"},
      {"histogram.bin_0_01", "1"},
      {"histogram.bin_0_1", "1"},
      {"histogram.bin_1", "1"},
      {"histogram.bin_10", "1"},
      {"histogram.bin_inf", "2"}}},
    {"histo.lat",
     {10, 60, 199, 200, 300},
     5,
     5,
     {90},
     1,
     {50, 100, 150, 200},
     4,
     {{"count_90", "5"},
      {"mean_90", "153.8"},
      {"upper_90", "300"},
      {"sum_90", "769"},
      {"sum_squares_90", "173301"},
      {"std", "104.90834094579897"},
      {"upper", "300"},
      {"lower", "10"},
      {"count", "5"},
      {"count_ps", "2.5"},
      {"sum", "769"},
      {"sum_squares", "173301"},
      {"mean", "153.8"},
      {"median", "199"},
      {"histogram.bin_50", "1"},
      {"histogram.bin_100", "1"},
      {"histogram.bin_150", "0"},
      {"histogram.bin_200", "1"}}},
    {"single negative",
     {-5},
     1,
     1,
     {90, -10},
     2,
     {0},
     0,
     {{"count_90", "1"},
      {"mean_90", "-5"},
      {"upper_90", "-5"},
      {"sum_90", "-5"},
      {"sum_squares_90", "25"},
      {"count_top10", "1"},
      {"mean_top10", "-5"},
      {"lower_top10", "-5"},
      {"sum_top10", "-5"},
      {"sum_squares_top10", "25"},
      {"std", "0"},
      {"upper", "-5"},
      {"lower", "-5"},
      {"count", "1"},
      {"count_ps", "0.5"},
      {"sum", "-5"},
      {"sum_squares", "25"},
      {"mean", "-5"},
      {"median", "-5"}}},
    /* Deliberate difference: the reference gives NaN for a negative
     * percentile that covers every value; tallyd gives the real sum. */
    {"top100 covers all",
     {1, 2},
     2,
     2,
     {-100},
     1,
     {0},
     0,
     {{"count_top100", "2"},
      {"mean_top100", "1.5"},
      {"lower_top100", "1"},
      {"sum_top100", "3"},
      {"sum_squares_top100", "5"},
      {"std", "0.5"},
      {"upper", "2"},
      {"lower", "1"},
      {"count", "2"},
      {"count_ps", "1"},
      {"sum", "3"},
      {"sum_squares", "5"},
      {"mean", "1.5"},
      {"median", "1.5"}}},
    {"idle timer", {0}, 0, 0, {90}, 1, {0}, 0, {{"count", "0"}, {"count_ps", "0"}}},
    {"weighted count, sampled",
     {7},
     1,
     10.000000000000002,
     {90},
     1,
     {0},
     0,
     {{"count_90", "1"},
      {"mean_90", "7"},
      {"upper_90", "7"},
      {"sum_90", "7"},
      {"sum_squares_90", "49"},
      {"std", "0"},
      {"upper", "7"},
      {"lower", "7"},
      {"count", "10.000000000000002"},
      {"count_ps", "5.000000000000001"},
      {"sum", "7"},
      {"sum_squares", "49"},
      {"mean", "7"},
      {"median", "7"}}},
};

struct got {
	char stat[64][48];
	char value[64][NUM_FMT_MAX];
	size_t n;
};

static void collect(void *ctx, const char *stat, double v)
{
	struct got *g = ctx;
	if (g->n >= 64)
		return;
	snprintf(g->stat[g->n], sizeof(g->stat[0]), "%s", stat);
	num_format(v, g->value[g->n]);
	g->n++;
}

static void test_reference_values(void)
{
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct tcase *tc = &cases[c];
		double vals[16];
		memcpy(vals, tc->values, sizeof(vals));
		struct config_histogram h = {(char *)"x", (double *)tc->bins, tc->nbins};
		struct got g = {.n = 0};
		tstats_compute(vals, tc->n, tc->count, 2.0, tc->pcts, tc->npcts,
		               tc->nbins ? &h : NULL, collect, &g);
		size_t nwant = 0;
		while (nwant < 48 && tc->want[nwant].stat)
			nwant++;
		if (g.n != nwant)
			fprintf(stderr, "\n  %s: emitted %zu stats, want %zu\n", tc->name, g.n,
			        nwant);
		CU_ASSERT_EQUAL(g.n, nwant);
		for (size_t w = 0; w < nwant; w++) {
			bool found = false;
			for (size_t i = 0; i < g.n; i++) {
				if (strcmp(g.stat[i], tc->want[w].stat) != 0)
					continue;
				found = true;
				if (strcmp(g.value[i], tc->want[w].value) != 0)
					fprintf(stderr, "\n  %s %s: got %s want %s\n", tc->name,
					        tc->want[w].stat, g.value[i], tc->want[w].value);
				CU_ASSERT_STRING_EQUAL(g.value[i], tc->want[w].value);
			}
			if (!found)
				fprintf(stderr, "\n  %s: %s missing\n", tc->name, tc->want[w].stat);
			CU_ASSERT(found);
		}
	}
}

static void test_pct_labels(void)
{
	static const struct {
		double pct;
		const char *label;
	} t[] = {{90, "90"}, {99.9, "99_9"},   {-10, "top10"}, {-99.9, "top99_9"},
	         {50, "50"}, {99.99, "99_99"}, {0.5, "0_5"}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[40];
		tstats_pct_label(t[i].pct, out);
		CU_ASSERT_STRING_EQUAL(out, t[i].label);
	}
}

static void test_histogram_for(void)
{
	double b1[] = {1}, b2[] = {2};
	struct config_histogram hs[] = {{(char *)"render", b1, 1}, {(char *)"", b2, 1}};
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.histograms = hs;
	cfg.nhistograms = 2;
	/* First entry whose metric is a substring, as the reference. */
	CU_ASSERT_PTR_EQUAL(tstats_histogram_for(&cfg, "page.render.time", 16), &hs[0]);
	CU_ASSERT_PTR_EQUAL(tstats_histogram_for(&cfg, "api.latency", 11), &hs[1]);
	cfg.nhistograms = 1;
	CU_ASSERT_PTR_NULL(tstats_histogram_for(&cfg, "api.latency", 11));
	CU_ASSERT_PTR_NULL(tstats_histogram_for(&cfg, "rend", 4));
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("tstats", NULL, NULL);
	CU_add_test(s, "reference values", test_reference_values);
	CU_add_test(s, "percentile labels", test_pct_labels);
	CU_add_test(s, "histogram selection", test_histogram_for);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
