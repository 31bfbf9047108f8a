/* test_window: sliding windows against a brute-force model that keeps every
 * interval's raw data: counters, gauges, sets and timers over 1m/5m/15m/1h
 * at a 10 s interval (and a 1m/2m pair at 20 s) for two simulated hours.
 * Counts, sums, min/max and covered seconds must be exact, mean/stddev
 * within 1e-9 relative, quantiles within the sketch's relative accuracy of
 * the exact order statistic, and set counts exact while small. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "hll.h"
#include "htab.h"
#include "window.h"

static uint64_t rng_state = 0x853c49e6748fea9bULL;
static double uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double lognormal(void)
{
	double u1 = uniform(), u2 = uniform();
	if (u1 < 1e-300)
		u1 = 1e-300;
	return exp(3 + sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

static struct window_conf conf(int64_t interval_ms, const int64_t *lens, size_t n)
{
	struct window_conf c;
	memset(&c, 0, sizeof(c));
	c.interval_ms = interval_ms;
	c.n = n;
	memcpy(c.len_ms, lens, n * sizeof(int64_t));
	c.nq = 5;
	double q[] = {0.5, 0.9, 0.95, 0.99, 0.999};
	memcpy(c.quantiles, q, sizeof(q));
	c.accuracy = 0.01;
	return c;
}

/* The model: which pushes (0-based) window i covers after `pushes` pushes. */
static void model_range(const struct window_conf *c, size_t i, size_t pushes, size_t *from,
                        size_t *to)
{
	size_t ipm = (size_t)(60000 / c->interval_ms);
	*to = pushes; /* exclusive */
	if (c->len_ms[i] <= 60000) {
		size_t k = (size_t)(c->len_ms[i] / c->interval_ms);
		*from = pushes > k ? pushes - k : 0;
		return;
	}
	size_t m = (size_t)(c->len_ms[i] / 60000);
	size_t cur_start = pushes - pushes % ipm;
	size_t back = (m - 1) * ipm;
	*from = cur_start > back ? cur_start - back : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void test_conf_check(void)
{
	static const struct {
		int64_t interval;
		int64_t lens[4];
		size_t n;
		bool ok;
	} t[] = {
	    {10000, {60000, 300000, 900000, 3600000}, 4, true},
	    {2000, {10000, 60000}, 2, true},
	    {7000, {60000}, 1, false},          /* interval does not divide a minute */
	    {10000, {25000}, 1, false},         /* not a multiple of the interval */
	    {10000, {90000}, 1, false},         /* over a minute, not whole minutes */
	    {10000, {7200000}, 1, false},       /* over an hour */
	    {10000, {300000, 60000}, 2, false}, /* not ascending */
	    {10000, {0}, 0, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct window_conf c = conf(t[i].interval, t[i].lens, t[i].n);
		char err[256] = "";
		bool ok = window_conf_check(&c, err, sizeof(err));
		CU_ASSERT_EQUAL(ok, t[i].ok);
		if (!ok)
			CU_ASSERT(strncmp(err, "windows.", 8) == 0);
	}
}

static void test_counter_and_gauge(void)
{
	static const int64_t lens[] = {60000, 300000, 900000, 3600000};
	struct window_conf c = conf(10000, lens, 4);
	struct window *wc = window_new(&c, METRIC_COUNTER);
	struct window *wg = window_new(&c, METRIC_GAUGE);
	enum { N = 720 };
	static double cnt[N], gv[N];
	for (size_t t = 0; t < N; t++) {
		cnt[t] = (double)(uniform() < 0.2 ? 0 : (int)(uniform() * 100));
		gv[t] = floor(uniform() * 1000) - 500;
		window_push_counter(wc, cnt[t]);
		window_push_gauge(wg, true, gv[t]);
		if (t % 7 != 3 && t != N - 1)
			continue;
		for (size_t i = 0; i < 4; i++) {
			size_t from, to;
			model_range(&c, i, t + 1, &from, &to);
			double sum = 0, gmin = INFINITY, gmax = -INFINITY, gsum = 0;
			for (size_t k = from; k < to; k++) {
				sum += cnt[k];
				gmin = fmin(gmin, gv[k]);
				gmax = fmax(gmax, gv[k]);
				gsum += gv[k];
			}
			struct window_stats s;
			window_stats(wc, i, &s);
			CU_ASSERT_DOUBLE_EQUAL(s.count, sum, 1e-9);
			CU_ASSERT_DOUBLE_EQUAL(s.covered_s, (double)(to - from) * 10, 1e-9);
			CU_ASSERT_DOUBLE_EQUAL(s.rate, sum / ((double)(to - from) * 10), 1e-9);
			window_stats(wg, i, &s);
			CU_ASSERT_DOUBLE_EQUAL(s.last, gv[t], 0);
			CU_ASSERT_DOUBLE_EQUAL(s.min, gmin, 0);
			CU_ASSERT_DOUBLE_EQUAL(s.max, gmax, 0);
			CU_ASSERT_DOUBLE_EQUAL(s.mean, gsum / (double)(to - from), 1e-9);
		}
	}
	/* the examples of the docs: after 10 pushes of 1 at 10 s */
	struct window *w2 = window_new(&c, METRIC_COUNTER);
	for (int t = 0; t < 10; t++)
		window_push_counter(w2, 1);
	struct window_stats s;
	window_stats(w2, 0, &s);
	CU_ASSERT_DOUBLE_EQUAL(s.count, 6, 0);
	CU_ASSERT_DOUBLE_EQUAL(s.covered_s, 60, 0);
	CU_ASSERT_DOUBLE_EQUAL(s.rate, 0.1, 1e-15);
	window_stats(w2, 1, &s);
	CU_ASSERT_DOUBLE_EQUAL(s.count, 10, 0);
	CU_ASSERT_DOUBLE_EQUAL(s.covered_s, 100, 0);
	CU_ASSERT(window_memory(w2) <= 1024);
	CU_ASSERT(window_memory(wc) <= 1024); /* the targets of DESIGN.md section 9 */
	CU_ASSERT(window_memory(wg) <= 1024); /* integer values: XOR records stay short */
	window_free(w2);
	window_free(wc);
	window_free(wg);
}

static void test_timer(void)
{
	static const int64_t lens[] = {60000, 300000, 900000, 3600000};
	struct window_conf c = conf(10000, lens, 4);
	struct window *w = window_new(&c, METRIC_DISTRIBUTION);
	enum { N = 840, PER = 40 };
	static double vals[N][PER];
	static double all[N * PER];
	unsigned bad_q = 0, checks = 0;

	for (size_t t = 0; t < N; t++) {
		size_t n = (t / 90) % 3 == 1 ? 0 : PER; /* some idle stretches */
		for (size_t k = 0; k < n; k++)
			vals[t][k] = lognormal();
		if (n)
			window_touch(w);
		window_push_timer(w, vals[t], n, (double)n * 2);
		if (t % 13 != 5 && t != N - 1)
			continue;
		for (size_t i = 0; i < 4; i++) {
			size_t from, to, m = 0;
			model_range(&c, i, t + 1, &from, &to);
			double sum = 0, mn = INFINITY, mx = -INFINITY;
			for (size_t k = from; k < to; k++) {
				size_t nk = (k / 90) % 3 == 1 ? 0 : PER;
				for (size_t j = 0; j < nk; j++) {
					all[m++] = vals[k][j];
					sum += vals[k][j];
					mn = fmin(mn, vals[k][j]);
					mx = fmax(mx, vals[k][j]);
				}
			}
			struct window_stats s;
			window_stats(w, i, &s);
			CU_ASSERT_EQUAL(s.samples, m);
			CU_ASSERT_DOUBLE_EQUAL(s.count, (double)m * 2, 1e-9);
			if (m == 0) {
				CU_ASSERT_FALSE(s.has_data);
				CU_ASSERT(isnan(s.q[0]));
				continue;
			}
			double mean = sum / (double)m, ss = 0;
			for (size_t j = 0; j < m; j++)
				ss += (all[j] - mean) * (all[j] - mean);
			CU_ASSERT(fabs(s.sum - sum) <= 1e-9 * sum);
			CU_ASSERT_DOUBLE_EQUAL(s.min, mn, 0);
			CU_ASSERT_DOUBLE_EQUAL(s.max, mx, 0);
			CU_ASSERT(fabs(s.mean - mean) <= 1e-9 * mean);
			CU_ASSERT(fabs(s.stddev - sqrt(ss / (double)m)) <= 1e-9 * s.stddev);
			qsort(all, m, sizeof(double), cmp_double);
			for (size_t q = 0; q < c.nq; q++) {
				double exact = all[(size_t)floor(c.quantiles[q] * (double)(m - 1))];
				checks++;
				if (fabs(s.q[q] - exact) > c.accuracy * exact * (1 + 1e-9)) {
					if (bad_q++ < 5)
						fprintf(
						    stderr,
						    "\n  window %zu t=%zu q=%g: %g vs exact %g\n",
						    i, t, c.quantiles[q], s.q[q], exact);
				}
			}
		}
	}
	CU_ASSERT_EQUAL(bad_q, 0);
	CU_ASSERT(checks > 1000);
	CU_ASSERT_EQUAL(window_idle_intervals(w), 0);
	window_free(w);
}

static void test_sets_and_idle(void)
{
	static const int64_t lens[] = {60000, 120000};
	struct window_conf c = conf(20000, lens, 2); /* 3 intervals a minute */
	struct window *w = window_new(&c, METRIC_SET);
	/* interval t holds members t and t+1: windows see consecutive runs */
	for (uint64_t t = 0; t < 30; t++) {
		struct hll *h = hll_new();
		for (uint64_t m = t; m < t + 2; m++)
			hll_add_hash(h, htab_hash(&m, sizeof(m)));
		window_touch(w);
		window_push_set(w, h);
		hll_free(h);
		for (size_t i = 0; i < 2; i++) {
			size_t from, to;
			model_range(&c, i, (size_t)t + 1, &from, &to);
			struct window_stats s;
			window_stats(w, i, &s);
			CU_ASSERT_EQUAL(s.unique, (uint64_t)(to - from) + 1);
		}
	}
	for (int t = 0; t < 2; t++)
		window_push_set(w, NULL);
	CU_ASSERT_EQUAL(window_idle_intervals(w), 2);
	struct window_stats s;
	window_stats(w, 0, &s); /* pushes 29 (members 29, 30), 30 and 31 idle */
	CU_ASSERT_EQUAL(s.unique, 2);
	window_stats(w, 1, &s); /* current minute (30, 31 idle) + pushes 27..29 */
	CU_ASSERT_EQUAL(s.unique, 4);
	window_free(w);
}

/* A gauge fed random doubles with stretches without a value (it keeps the
 * last one) and none at all at first: last, min and max bit-exact, mean
 * within 1e-12, over 1m/5m/15m/1h and a 1m/2m pair at 20 s. */
static void test_gauge_doubles(void)
{
	static const int64_t l4[] = {60000, 300000, 900000, 3600000}, l2[] = {60000, 120000};
	const struct {
		int64_t interval;
		const int64_t *lens;
		size_t n;
	} cs[] = {{10000, l4, 4}, {20000, l2, 2}};
	for (size_t ci = 0; ci < 2; ci++) {
		struct window_conf c = conf(cs[ci].interval, cs[ci].lens, cs[ci].n);
		struct window *w = window_new(&c, METRIC_GAUGE);
		enum { N = 900 };
		static double v[N];
		static bool has[N];
		double last = NAN;
		for (size_t t = 0; t < N; t++) {
			bool given = t >= 17 && uniform() < 0.7;
			double x = (uniform() - 0.5) * pow(10, (int)(uniform() * 12) - 6);
			window_push_gauge(w, given, x);
			if (given)
				last = x;
			has[t] = !isnan(last);
			v[t] = last;
			for (size_t i = 0; i < c.n; i++) {
				size_t from, to, n = 0;
				double mn = INFINITY, mx = -INFINITY, sum = 0;
				model_range(&c, i, t + 1, &from, &to);
				for (size_t k = from; k < to; k++) {
					if (!has[k])
						continue;
					n++;
					mn = fmin(mn, v[k]);
					mx = fmax(mx, v[k]);
					sum += v[k];
				}
				struct window_stats st;
				window_stats(w, i, &st);
				CU_ASSERT_EQUAL(st.has_data, n > 0);
				if (n == 0)
					continue;
				CU_ASSERT(st.last == last && st.min == mn && st.max == mx);
				double scale = fmax(fabs(mn), fabs(mx));
				CU_ASSERT(fabs(st.mean - sum / (double)n) <= 1e-12 * scale);
			}
		}
		CU_ASSERT(window_memory(w) < 2048);
		window_free(w);
	}
}

/* Two windows hold the same state: every stat of every window bit for bit,
 * the idle count and the state-file encoding. */
static bool same_window(const struct window_conf *c, const struct window *a, const struct window *b)
{
	struct buf ea = BUF_INIT, eb = BUF_INIT;
	bool same = window_idle_intervals(a) == window_idle_intervals(b);
	for (size_t i = 0; i < c->n; i++) {
		struct window_stats sa, sb;
		window_stats(a, i, &sa);
		window_stats(b, i, &sb);
		same = same && memcmp(&sa, &sb, sizeof(sa)) == 0;
	}
	window_encode(a, &ea);
	window_encode(b, &eb);
	same = same && ea.len == eb.len && memcmp(ea.p, eb.p, ea.len) == 0;
	buf_free(&ea);
	buf_free(&eb);
	return same;
}

/* One interval of made-up data of a type, the same for both windows. */
static void push_data(struct window *w, enum metric_type type, uint64_t t, bool touch)
{
	double vals[8];
	struct hll *h = NULL;
	for (size_t k = 0; k < 8; k++)
		vals[k] = exp(3 + (double)((t * 7 + k * 13) % 40) / 10.0);
	if (touch)
		window_touch(w);
	switch (type) {
	case METRIC_COUNTER:
		window_push_counter(w, (double)(t % 11));
		break;
	case METRIC_GAUGE:
		window_push_gauge(w, t % 3 != 0, (double)t * 0.37);
		break;
	case METRIC_SET:
		h = hll_new();
		for (uint64_t m = t; m < t + 3; m++)
			hll_add_hash(h, htab_hash(&m, sizeof(m)));
		window_push_set(w, h);
		hll_free(h);
		break;
	default:
		window_push_timer(w, vals, 1 + t % 8, (double)(1 + t % 8));
		break;
	}
}

/* window_push_idle(w, n) leaves exactly the state of n single idle pushes,
 * for every type, from several starting points (mid-minute, on a minute
 * boundary, before the first hour is full, touched or not), for gaps short
 * and long; and the two keep agreeing when data comes again. */
static void test_push_idle(void)
{
	static const int64_t l4[] = {60000, 300000, 900000, 3600000}, l2[] = {30000, 120000},
	                     l1[] = {60000, 180000};
	static const uint64_t starts[] = {0, 1, 5, 6, 7, 100, 361, 725};
	static const uint64_t gaps[] = {0,  1,   2,   5,   6,   7,   13,   59,  60,
	                                61, 300, 359, 360, 361, 366, 1000, 4321};
	const enum metric_type types[] = {METRIC_COUNTER, METRIC_GAUGE, METRIC_SET, METRIC_TIMER,
	                                  METRIC_HISTOGRAM};
	struct window_conf cs[3];
	cs[0] = conf(10000, l4, 4);
	cs[1] = conf(15000, l2, 2); /* 4 intervals a minute, 1 minute slice */
	cs[2] = conf(60000, l1, 2); /* 1 interval a minute, 2 minute slices */
	unsigned cases = 0, bad = 0;
	for (size_t ci = 0; ci < 3; ci++)
		for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++)
			for (size_t si = 0; si < sizeof(starts) / sizeof(starts[0]); si++)
				for (size_t gi = 0; gi < sizeof(gaps) / sizeof(gaps[0]); gi++) {
					const struct window_conf *c = &cs[ci];
					struct window *a = window_new(c, types[ti]);
					struct window *b = window_new(c, types[ti]);
					uint64_t t = 0;
					for (; t < starts[si]; t++) {
						push_data(a, types[ti], t, t % 5 != 0);
						push_data(b, types[ti], t, t % 5 != 0);
					}
					if (si % 2) {
						window_touch(a);
						window_touch(b);
					}
					for (uint64_t k = 0; k < gaps[gi]; k++)
						window_push_idle_one(a);
					window_push_idle(b, gaps[gi]);
					bool ok = same_window(c, a, b);
					for (uint64_t k = 0; k < 70; k++, t++) {
						push_data(a, types[ti], t, true);
						push_data(b, types[ti], t, true);
					}
					ok = ok && same_window(c, a, b);
					cases++;
					if (!ok && bad++ < 5)
						fprintf(stderr,
						        "\n  push_idle: conf %zu type %d start "
						        "%llu gap %llu differs\n",
						        ci, (int)types[ti],
						        (unsigned long long)starts[si],
						        (unsigned long long)gaps[gi]);
					window_free(a);
					window_free(b);
				}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(cases, 3u * 5 * 8 * 17);
}

/* window_encode / window_decode: the decoded window is the same (stats,
 * idle, encoding) and stays the same as data comes; every truncation and
 * a wrong type, window list or version are refused. */
static void test_codec(void)
{
	static const int64_t l4[] = {60000, 300000, 900000, 3600000},
	                     l3[] = {60000, 300000, 900000};
	struct window_conf c = conf(10000, l4, 4), c3 = conf(10000, l3, 3);
	const enum metric_type types[] = {METRIC_COUNTER, METRIC_GAUGE, METRIC_SET,
	                                  METRIC_DISTRIBUTION};
	static const uint64_t lens[] = {0, 3, 6, 200, 725};
	for (size_t ti = 0; ti < 4; ti++)
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
			struct window *a = window_new(&c, types[ti]);
			for (uint64_t t = 0; t < lens[li]; t++)
				push_data(a, types[ti], t, t % 4 != 0);
			struct buf e = BUF_INIT;
			window_encode(a, &e);
			struct window *b = window_decode(&c, types[ti], e.p, e.len);
			CU_ASSERT_PTR_NOT_NULL_FATAL(b);
			CU_ASSERT(same_window(&c, a, b));
			for (uint64_t t = lens[li]; t < lens[li] + 80; t++) {
				push_data(a, types[ti], t, true);
				push_data(b, types[ti], t, true);
			}
			CU_ASSERT(same_window(&c, a, b));
			window_free(b);
			/* every truncation, a wrong type, another window list */
			size_t refused = 0, step = e.len > 4000 ? 97 : 1;
			for (size_t n = 0; n < e.len; n += step) {
				struct window *x = window_decode(&c, types[ti], e.p, n);
				refused += x == NULL;
				window_free(x);
			}
			CU_ASSERT_EQUAL(refused, (e.len + step - 1) / step);
			CU_ASSERT_PTR_NULL(window_decode(&c, types[(ti + 1) % 4], e.p, e.len));
			CU_ASSERT_PTR_NULL(window_decode(&c3, types[ti], e.p, e.len));
			e.p[0] = 1; /* the version of the old layout */
			CU_ASSERT_PTR_NULL(window_decode(&c, types[ti], e.p, e.len));
			buf_free(&e);
			window_free(a);
		}
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("window", NULL, NULL);
	CU_add_test(s, "conf checks", test_conf_check);
	CU_add_test(s, "counters and gauges against the model", test_counter_and_gauge);
	CU_add_test(s, "timers: moments exact, quantiles within accuracy", test_timer);
	CU_add_test(s, "sets and idle intervals", test_sets_and_idle);
	CU_add_test(s, "gauges of random doubles, exact", test_gauge_doubles);
	CU_add_test(s, "push_idle(n) equals n idle pushes", test_push_idle);
	CU_add_test(s, "encode and decode", test_codec);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
