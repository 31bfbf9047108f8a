/* bench_window: what sliding windows cost per series — memory of a counter,
 * gauge, set and timer series with the default windows (1m, 5m, 15m, 1h at
 * a 10 s flush) after two simulated hours (timers at 1,000 log-normal samples
 * a minute), and the time of one window push (the per-series roll at each
 * flush) and of reading every window's stats. Medians of several runs,
 * printed; not a test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hll.h"
#include "htab.h"
#include "window.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static double lognormal(void)
{
	double u1 = uniform(), u2 = uniform();
	if (u1 < 1e-300)
		u1 = 1e-300;
	return exp(3 + sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define RUNS 5
#define PUSHES 720       /* two hours at 10 s */
#define PER_INTERVAL 167 /* ~1,000 samples a minute */

int main(void)
{
	struct window_conf c = {.interval_ms = 10000,
	                        .n = 4,
	                        .len_ms = {60000, 300000, 900000, 3600000},
	                        .nq = 5,
	                        .quantiles = {0.5, 0.9, 0.95, 0.99, 0.999},
	                        .accuracy = 0.01};
	static double vals[PER_INTERVAL];
	const enum metric_type types[] = {METRIC_COUNTER, METRIC_GAUGE, METRIC_SET, METRIC_TIMER};
	const char *names[] = {"counter", "gauge", "set (50 members/interval)",
	                       "timer (1,000 samples/min)"};

	printf("%-28s %12s %16s %16s\n", "series type", "bytes", "push ns (median)",
	       "stats ns, 4 win");
	for (size_t k = 0; k < 4; k++) {
		double push_ns[RUNS], stats_ns[RUNS];
		size_t mem = 0;
		for (int r = 0; r < RUNS; r++) {
			struct window *w = window_new(&c, types[k]);
			double spent = 0;
			for (int t = 0; t < PUSHES; t++) {
				struct hll *h = NULL;
				if (types[k] == METRIC_TIMER)
					for (int i = 0; i < PER_INTERVAL; i++)
						vals[i] = lognormal();
				if (types[k] == METRIC_SET) {
					h = hll_new();
					for (uint64_t m = 0; m < 50; m++) {
						uint64_t id = m + (uint64_t)t * 7;
						hll_add_hash(h, htab_hash(&id, sizeof(id)));
					}
				}
				double t0 = now_s();
				window_touch(w);
				switch (types[k]) {
				case METRIC_COUNTER:
					window_push_counter(w, 3);
					break;
				case METRIC_GAUGE:
					window_push_gauge(w, true, (double)t);
					break;
				case METRIC_SET:
					window_push_set(w, h);
					break;
				default:
					window_push_timer(w, vals, PER_INTERVAL, PER_INTERVAL);
					break;
				}
				spent += now_s() - t0;
				hll_free(h);
			}
			push_ns[r] = spent / PUSHES * 1e9;
			struct window_stats st;
			double t0 = now_s();
			for (int i = 0; i < 100; i++)
				for (size_t wi = 0; wi < c.n; wi++)
					window_stats(w, wi, &st);
			stats_ns[r] = (now_s() - t0) / 100 * 1e9;
			mem = window_memory(w);
			window_free(w);
		}
		qsort(push_ns, RUNS, sizeof(double), cmp);
		qsort(stats_ns, RUNS, sizeof(double), cmp);
		printf("%-28s %12zu %16.0f %16.0f\n", names[k], mem, push_ns[RUNS / 2],
		       stats_ns[RUNS / 2]);
	}
	printf("(timer push includes building the interval's sketch from its %d samples)\n",
	       PER_INTERVAL);
	return 0;
}
