/* bench_window: what sliding windows cost per series — memory of a counter,
 * gauge, set and timer series with the default windows (1m, 5m, 15m, 1h at
 * a 10 s flush) after two simulated hours (timers at 1,000 log-normal samples
 * a minute), the time of one window push (the per-series roll at each flush)
 * and of reading every window's stats, and the state file's share of the
 * work for 100k counters + 10k timers: window_encode (the save, every
 * minute), window_decode, and catching up a gap of just under an hour (the
 * restore). Medians of several runs, printed; not a test. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
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

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp);
	return v[n / 2];
}

/* Bytes the allocator has handed out (chunk sizes, headers included). */
static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

#define RUNS 5
#define PUSHES 720       /* two hours at 10 s */
#define PER_INTERVAL 167 /* ~1,000 samples a minute */
#define RESTORE_RUNS 3
#define N_COUNTERS 100000
#define N_TIMERS 10000

enum gauge_kind { G_STEP, G_NOISY };

/* Two hours of data of one type, as a running server would push it. */
static struct window *fill(const struct window_conf *c, enum metric_type type, enum gauge_kind gk,
                           double *push_ns)
{
	static double vals[PER_INTERVAL];
	struct window *w = window_new(c, type);
	double spent = 0;
	for (int t = 0; t < PUSHES; t++) {
		struct hll *h = NULL;
		if (type == METRIC_TIMER)
			for (int i = 0; i < PER_INTERVAL; i++)
				vals[i] = lognormal();
		if (type == METRIC_SET) {
			h = hll_new();
			for (uint64_t m = 0; m < 50; m++) {
				uint64_t id = m + (uint64_t)t * 7;
				hll_add_hash(h, htab_hash(&id, sizeof(id)));
			}
		}
		double g = gk == G_STEP ? (double)t : 100 * uniform();
		double t0 = now_s();
		window_touch(w);
		switch (type) {
		case METRIC_COUNTER:
			window_push_counter(w, 3);
			break;
		case METRIC_GAUGE:
			window_push_gauge(w, true, g);
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
	if (push_ns)
		*push_ns = spent / PUSHES * 1e9;
	return w;
}

static void bench_memory(const struct window_conf *c)
{
	static const struct {
		enum metric_type type;
		enum gauge_kind gk;
		const char *name;
	} kinds[] = {
	    {METRIC_COUNTER, G_STEP, "counter"},
	    {METRIC_GAUGE, G_STEP, "gauge (integer steps)"},
	    {METRIC_GAUGE, G_NOISY, "gauge (random doubles)"},
	    {METRIC_SET, G_STEP, "set (50 members/interval)"},
	    {METRIC_TIMER, G_STEP, "timer (1,000 samples/min)"},
	};
	printf("%-27s %9s %9s %16s %16s\n", "series type", "bytes", "heap", "push ns (median)",
	       "stats ns, 4 win");
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		double push_ns[RUNS], stats_ns[RUNS];
		size_t mem = 0, heap = 0;
		for (int r = 0; r < RUNS; r++) {
			size_t before = heap_in_use();
			struct window *w = fill(c, kinds[k].type, kinds[k].gk, &push_ns[r]);
			heap = heap_in_use() - before;
			struct window_stats st;
			double t0 = now_s();
			for (int i = 0; i < 100; i++)
				for (size_t wi = 0; wi < c->n; wi++)
					window_stats(w, wi, &st);
			stats_ns[r] = (now_s() - t0) / 100 * 1e9;
			mem = window_memory(w);
			window_free(w);
		}
		printf("%-27s %9zu %9zu %16.0f %16.0f\n", kinds[k].name, mem, heap,
		       median(push_ns, RUNS), median(stats_ns, RUNS));
	}
	printf("(bytes: window_memory; heap: what malloc handed out for the window, chunk\n"
	       " headers included; timer push includes sketching its %d samples)\n",
	       PER_INTERVAL);
}

/* Restore (decode + catch up a gap of just under an hour, the longest that
 * still restores) and save (encode) of 100k counters and 10k timers, each
 * from two hours of data. */
static void bench_state(const struct window_conf *c)
{
	const uint64_t gap = (uint64_t)(c->len_ms[c->n - 1] / c->interval_ms) - 1;
	struct window *src[2] = {fill(c, METRIC_COUNTER, G_STEP, NULL),
	                         fill(c, METRIC_TIMER, G_STEP, NULL)};
	const enum metric_type types[2] = {METRIC_COUNTER, METRIC_TIMER};
	const size_t counts[2] = {N_COUNTERS, N_TIMERS};
	struct buf enc[2] = {BUF_INIT, BUF_INIT};
	struct window **ws[2];
	double dec_ms[RESTORE_RUNS], one_ms[RESTORE_RUNS], fast_ms[RESTORE_RUNS],
	    save_ms[RESTORE_RUNS], enc_ms[RESTORE_RUNS];
	size_t saved = 0;

	for (int k = 0; k < 2; k++) {
		window_encode(src[k], &enc[k]);
		ws[k] = calloc(counts[k], sizeof(struct window *));
	}
	for (int r = 0; r < RESTORE_RUNS; r++) {
		double t0 = now_s();
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < counts[k]; i++)
				ws[k][i] = window_decode(c, types[k], enc[k].p, enc[k].len);
		dec_ms[r] = (now_s() - t0) * 1e3;
		/* the save runs on the restored windows (every minute in the server):
		 * window_encode alone into a reused buffer, then as state_encode
		 * does it, appended to one growing buffer */
		struct buf out = BUF_INIT, one = BUF_INIT;
		t0 = now_s();
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < counts[k]; i++) {
				buf_reset(&one);
				window_encode(ws[k][i], &one);
			}
		enc_ms[r] = (now_s() - t0) * 1e3;
		t0 = now_s();
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < counts[k]; i++) {
				buf_reset(&one);
				window_encode(ws[k][i], &one);
				buf_append(&out, one.p, one.len);
			}
		save_ms[r] = (now_s() - t0) * 1e3;
		saved = out.len;
		buf_free(&out);
		buf_free(&one);
		t0 = now_s();
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < counts[k]; i++)
				for (uint64_t g = 0; g < gap; g++)
					window_push_idle_one(ws[k][i]);
		one_ms[r] = (now_s() - t0) * 1e3;
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < counts[k]; i++) {
				window_free(ws[k][i]);
				ws[k][i] = window_decode(c, types[k], enc[k].p, enc[k].len);
			}
#ifdef BENCH_NO_PUSH_IDLE
		fast_ms[r] = NAN;
#else
		t0 = now_s();
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < counts[k]; i++)
				window_push_idle(ws[k][i], gap);
		fast_ms[r] = (now_s() - t0) * 1e3;
#endif
		for (int k = 0; k < 2; k++)
			for (size_t i = 0; i < counts[k]; i++)
				window_free(ws[k][i]);
	}
	printf("\nstate file, %d counters + %d timers (2 h of data each), medians of %d:\n",
	       N_COUNTERS, N_TIMERS, RESTORE_RUNS);
	printf("  save: window_encode                %8.1f ms (%zu bytes)\n",
	       median(enc_ms, RESTORE_RUNS), saved);
	printf("  save: encode + append to one buffer %7.1f ms\n", median(save_ms, RESTORE_RUNS));
	printf("  restore: window_decode             %8.1f ms\n", median(dec_ms, RESTORE_RUNS));
	printf("  restore: %3llu idle pushes each     %8.1f ms\n", (unsigned long long)gap,
	       median(one_ms, RESTORE_RUNS));
	printf("  restore: window_push_idle(w, %3llu) %8.1f ms\n", (unsigned long long)gap,
	       median(fast_ms, RESTORE_RUNS));
	for (int k = 0; k < 2; k++) {
		buf_free(&enc[k]);
		free(ws[k]);
		window_free(src[k]);
	}
}

int main(void)
{
	struct window_conf c = {.interval_ms = 10000,
	                        .n = 4,
	                        .len_ms = {60000, 300000, 900000, 3600000},
	                        .nq = 5,
	                        .quantiles = {0.5, 0.9, 0.95, 0.99, 0.999},
	                        .accuracy = 0.01};
	bench_memory(&c);
	bench_state(&c);
	return 0;
}
