/* test_pace: the wait between reads of a drained datagram socket. A table
 * of steady reads (datagrams, their cost, time since the previous read) against the
 * wait pace_allow gives and whether it is worth taking: the cap, the byte
 * budget, the datagram budget, the least useful wait and datagram count, the
 * idle and trickle cases; then the cap halving on drops, the time of the
 * previous read carried from one call to the next, the slow start (no wait
 * longer than the rate has been measured over), a lull between bursts
 * (the average, not the last read, bounds the wait) and the decay to "not
 * worth it" once traffic stops; and a worker simulated against arrival
 * patterns (bursts, steady, a step up, idle then busy): the most datagrams
 * one read finds stays well inside the queue while reads stay far fewer
 * than datagrams; the cap doubling back after a minute without drops. Run
 * by make check. */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pace.h"

#define US 1000LL
#define MS 1000000LL

struct allow_case {
	const char *what;
	int64_t cap, rcvbuf, max_dgrams; /* pace_init */
	int64_t dt;                      /* since the previous read */
	size_t dgrams;
	int64_t cost;
	int64_t want; /* the wait, +-1 ns */
	bool worth;
};

/* 30-line datagrams of ~630 bytes cost PACE_COST(630) = 2284. */
static const struct allow_case allow_cases[] = {
    {"a moderate rate: the cap", MS, 425984, 0, MS, 33, 33 * 2284, MS, true},
    {"cap 50 ms, 20k datagrams/s into 512k: the byte budget", 50 * MS, 524288, 0, MS, 20, 20 * 2284,
     131072LL * MS / (20 * 2284), true},
    {"100 us between reads of 100 datagrams: a short wait", MS, 425984, 0, 100 * US, 100,
     100 * 2284, 106496LL * 100 * US / (100 * 2284), true},
    {"so fast that the wait is under 20 us: not worth it", MS, 425984, 0, 10 * US, 1000,
     1000 * 2284, 106496LL * 10 * US / (1000 * 2284), false},
    {"after an idle second, one datagram: the cap, not worth it", MS, 425984, 0, 1000 * MS, 1, 2284,
     MS, false},
    {"a trickle of 3 datagrams per cap: not worth it", MS, 425984, 0, MS, 3, 3 * 2284, MS, false},
    {"4 datagrams per cap: worth it", MS, 425984, 0, MS, 4, 4 * 2284, MS, true},
    {"nothing read: the cap, no opinion", MS, 425984, 0, MS, 0, 0, MS, false},
    {"cap 0: never", 0, 425984, 0, MS, 1000, 1000 * 2284, 0, false},
    {"a Unix socket (queue 512): a quarter of it at the rate seen", 50 * MS, -1, 512, MS, 1000,
     1000 * 1064, 128LL * MS / 1000, true},
    {"no byte limit known and no datagram limit: the cap", MS, 0, 0, 10 * US, 1000, 1000 * 2284, MS,
     true},
    {"the tighter of both budgets", 50 * MS, 1 << 20, 512, MS, 100, 100 * 2284,
     262144LL * MS / (100 * 2284), true},
};

static void test_allow(void)
{
	for (size_t i = 0; i < sizeof(allow_cases) / sizeof(allow_cases[0]); i++) {
		const struct allow_case *c = &allow_cases[i];
		struct pace p;
		int64_t t0 = 5000 * MS;
		pace_init(&p, c->cap, c->rcvbuf, c->max_dgrams, t0);
		/* The same read 100 times: the average is that read's rate, and
		 * it has been measured for longer than the wait it allows. */
		bool worth = false;
		int64_t got = 0;
		for (int k = 0; k < 100; k++) {
			worth = false;
			t0 += c->dt;
			got = pace_allow(&p, t0, c->dgrams, c->cost, &worth);
		}
		t0 -= c->dt;
		bool ok = got >= c->want - 1 && got <= c->want + 1 && worth == c->worth;
		if (!ok)
			printf("\n  %s: wait %lld (want %lld), worth %d (want %d)\n", c->what,
			       (long long)got, (long long)c->want, worth, c->worth);
		CU_ASSERT(ok);
		CU_ASSERT_EQUAL(p.last_ns, t0 + c->dt);
	}
}

/* worth is only ever set, so a worker can OR it over its sockets. */
static void test_worth_accumulates(void)
{
	struct pace a, b;
	pace_init(&a, MS, 425984, 0, 0);
	pace_init(&b, MS, 425984, 0, 0);
	bool worth = false;
	pace_allow(&a, MS, 100, 100 * 2284, &worth);
	CU_ASSERT_TRUE(worth);
	pace_allow(&b, MS, 1, 2284, &worth);
	CU_ASSERT_TRUE(worth);
}

/* The rate is measured from the end of the previous read, whichever call
 * made it: a busy read after a long idle one is judged on its own gap. */
static void test_previous_read(void)
{
	struct pace p;
	pace_init(&p, MS, 425984, 0, 0);
	bool worth = false;
	CU_ASSERT_EQUAL(pace_allow(&p, 10000 * MS, 1, 2284, &worth), MS);
	CU_ASSERT_FALSE(worth);
	/* 20 datagrams 200 us later: 45,680 bytes per 200 us would allow
	 * 466 us in a 104 KB budget, but the rate is only 200 us old. */
	int64_t w = pace_allow(&p, 10000 * MS + 200 * US, 20, 20 * 2284, &worth);
	CU_ASSERT_EQUAL(w, 200 * US);
	CU_ASSERT_TRUE(worth);
	worth = false;
	/* 200 datagrams in the next 100 us. */
	w = pace_allow(&p, 10000 * MS + 300 * US, 200, 200 * 2284, &worth);
	CU_ASSERT(w >= 23313 && w <= 23314);
	CU_ASSERT_TRUE(worth);
}

/* A second of steady traffic from t = 0: a read of 20 datagrams of cost
 * 1624 every ms. Returns the last wait; *t is the last read's time. */
static int64_t steady_second(struct pace *p, int64_t *t)
{
	bool worth = false;
	int64_t w = 0;
	for (int i = 0; i < 1000; i++) {
		*t += MS;
		w = pace_allow(p, *t, 20, 20 * 1624, &worth);
	}
	return w;
}

/* Reads under 1 us apart count as 1 us: after a second of 20 datagrams per
 * ms, one datagram 10 ns after the previous read is a rate of 2284 bytes
 * per us (not per 10 ns), 46.6 us of a 104 KB budget. */
static void test_clamp(void)
{
	struct pace p;
	pace_init(&p, MS, 425984, 0, 0);
	int64_t t = 0;
	steady_second(&p, &t);
	bool worth = false;
	int64_t w = pace_allow(&p, t + 10, 1, 2284, &worth);
	CU_ASSERT(w >= 106496LL * 1000 / 2284 - 1 && w <= 106496LL * 1000 / 2284 + 1);
	CU_ASSERT_TRUE(worth);
}

/* Regression (readwait.sh lost ~600 datagrams 1 run in 6): after an idle
 * spell, a read that caught the first datagram of a burst 4.37 ms after
 * the one before allowed the 50 ms cap (a rate of 1 per 4.37 ms), and
 * bursts of 100 every 5 ms overflowed a 512k queue in that wait. The wait
 * is bounded by the 4.37 ms measured, not worth it for ~1 datagram; as
 * bursts go on, the wait grows with the span to the byte budget, never
 * above the span. */
static void test_slow_start(void)
{
	struct pace p;
	pace_init(&p, 50 * MS, 524288, 0, 0);
	bool worth = false;
	int64_t t = 10000 * MS;
	CU_ASSERT_EQUAL(pace_allow(&p, t, 1, 1624, &worth), 50 * MS);
	CU_ASSERT_FALSE(worth);
	t += 4370 * US;
	int64_t w = pace_allow(&p, t, 1, 1624, &worth);
	CU_ASSERT_EQUAL(w, 4370 * US);
	CU_ASSERT_FALSE(worth);
	/* Then 100 every 5 ms, read at each burst's end. */
	int64_t start = t - 4370 * US;
	for (int b = 0; b < 40; b++) {
		t += 5 * MS;
		worth = false;
		w = pace_allow(&p, t, 100, 100 * 1624, &worth);
		CU_ASSERT(w <= t - start);
		CU_ASSERT(w <= 4100 * US);
	}
	CU_ASSERT(w >= 3900 * US);
	CU_ASSERT_TRUE(worth);
}

/* Steady traffic, 20 datagrams of cost 1624 per ms for a second, then a
 * read that caught only 4 datagrams in 5 ms (the start of the next burst):
 * the wait stays what the average allows (131072 / 32480 per ms = 4.04 ms),
 * not the 50 ms cap the last read alone would give. */
static void test_lull(void)
{
	struct pace p;
	pace_init(&p, 50 * MS, 524288, 0, 0);
	int64_t t = 0, w = steady_second(&p, &t);
	CU_ASSERT(w >= 4030 * US && w <= 4040 * US);
	bool worth = false;
	t += 5 * MS;
	w = pace_allow(&p, t, 4, 4 * 1624, &worth);
	CU_ASSERT(w > 4000 * US && w < 4300 * US);
	CU_ASSERT_TRUE(worth);
}

/* Once traffic stops, the first read that finds nothing ends the waits,
 * however high the average still is. */
static void test_stop(void)
{
	struct pace p;
	pace_init(&p, MS, 425984, 0, 0);
	bool worth = false;
	int64_t t = 0;
	steady_second(&p, &t);
	int64_t stop = t;
	for (;;) {
		worth = false;
		int64_t w = pace_allow(&p, t, 0, 0, &worth);
		if (!worth)
			break;
		CU_ASSERT(w >= PACE_MIN_NS && w <= MS);
		t += w;
		if (t - stop > 10000 * MS)
			break;
	}
	CU_ASSERT_EQUAL(t, stop);
}

/* A worker against simulated arrivals (times of single datagrams, sorted):
 * it reads everything that arrived since its previous read, then waits as
 * pace allows, or, when that is not worth it, sleeps until the next
 * arrival (woken 10 us after it). Returns the most datagrams one read
 * found, the queue's high-water mark; *reads counts the reads. */
static size_t simulate(const int64_t *arrive, size_t n, int64_t cap, size_t *reads)
{
	struct pace p;
	pace_init(&p, cap, 524288, 0, 0);
	size_t next = 0, most = 0;
	int64_t t = arrive[0] + 10 * US;
	*reads = 0;
	while (next < n) {
		size_t got = 0;
		while (next < n && arrive[next] <= t) {
			next++;
			got++;
		}
		if (got > most)
			most = got;
		(*reads)++;
		bool worth = false;
		int64_t w = pace_allow(&p, t, got, (int64_t)got * PACE_COST(300), &worth);
		if (worth)
			t += w;
		else if (next < n)
			t = (arrive[next] > t ? arrive[next] : t) + 10 * US;
	}
	return most;
}

#define SIM_MAX 200000
static int64_t sim_arrive[SIM_MAX];

/* Arrival patterns of 2 s or so; the queue of the integration test
 * (SO_RCVBUF 512k) holds 409 datagrams of 300 bytes (truesize 1280), a
 * quarter of it at PACE_COST is 80: no read may find more than 300 (a burst
 * of 250 arrives within 1 ms: a read may find all of it). */
static void test_simulated(void)
{
	static const char *const names[] = {"bursts of 100 every 5 ms", "steady 20k/s",
	                                    "20k/s then 40k/s", "200 ms at 20k/s after 300 ms idle",
	                                    "bursts of 250 every 100 ms"};
	for (int k = 0; k < 5; k++) {
		size_t n = 0;
		switch (k) {
		case 0:
			for (int b = 0; b < 400; b++)
				for (int i = 0; i < 100; i++)
					sim_arrive[n++] = b * 5 * MS + i * 2 * US;
			break;
		case 1:
			for (int i = 0; i < 40000; i++)
				sim_arrive[n++] = i * 50 * US;
			break;
		case 2:
			for (int i = 0; i < 20000; i++)
				sim_arrive[n++] = i * 50 * US;
			for (int i = 0; i < 40000; i++)
				sim_arrive[n++] = 1000 * MS + i * 25 * US;
			break;
		case 3:
			for (int r = 0; r < 4; r++)
				for (int i = 0; i < 4000; i++)
					sim_arrive[n++] = r * 500 * MS + 300 * MS + i * 50 * US;
			break;
		default:
			for (int b = 0; b < 20; b++)
				for (int i = 0; i < 250; i++)
					sim_arrive[n++] = b * 100 * MS + i * 4 * US;
			break;
		}
		size_t reads, most = simulate(sim_arrive, n, 50 * MS, &reads);
		printf("\n  %s: %zu datagrams, %zu reads, at most %zu in one", names[k], n, reads,
		       most);
		CU_ASSERT(most <= 300);
		/* Waits are taken: far fewer reads than datagrams, except for
		 * bursts far apart (each is one read or a few). */
		CU_ASSERT(reads * 10 < n);
	}
	/* Without waits, the same steady source is a read per datagram. */
	size_t n = 0, reads;
	for (int i = 0; i < 40000; i++)
		sim_arrive[n++] = i * 50 * US;
	simulate(sim_arrive, n, 0, &reads);
	CU_ASSERT_EQUAL(reads, n);
}

static void test_dropped(void)
{
	static const int64_t caps[] = {500 * US, 250 * US, 125 * US, 62500, 0, 0};
	struct pace p;
	pace_init(&p, MS, 425984, 0, 0);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		CU_ASSERT_EQUAL(pace_dropped(&p, (int64_t)i * MS), caps[i]);
	bool worth = false;
	CU_ASSERT_EQUAL(pace_allow(&p, MS, 1000, 1000 * 2284, &worth), 0);
	CU_ASSERT_FALSE(worth);
}

/* A minute without a drop doubles a halved cap back, one step a minute, up
 * to the configured cap; a drop restarts the minute. From 0 (five drops of
 * 1 ms) it comes back through 62.5, 125, 250, 500 us to 1 ms. */
static void test_calm(void)
{
	static const int64_t back[] = {62500, 125 * US, 250 * US, 500 * US, MS};
	struct pace p;
	pace_init(&p, MS, 425984, 0, 0);
	CU_ASSERT_FALSE(pace_calm(&p, 1000 * PACE_CALM_NS));
	CU_ASSERT_EQUAL(pace_dropped(&p, 0), 500 * US);
	CU_ASSERT_FALSE(pace_calm(&p, PACE_CALM_NS - 1));
	CU_ASSERT_TRUE(pace_calm(&p, PACE_CALM_NS));
	CU_ASSERT_EQUAL(p.cap_ns, MS);
	CU_ASSERT_FALSE(pace_calm(&p, 10 * PACE_CALM_NS));
	CU_ASSERT_EQUAL(p.cap_ns, MS);

	int64_t t = 20 * PACE_CALM_NS;
	for (int i = 0; i < 6; i++)
		pace_dropped(&p, t);
	CU_ASSERT_EQUAL(p.cap_ns, 0);
	bool worth = false;
	CU_ASSERT_EQUAL(pace_allow(&p, t + MS, 1000, 1000 * 2284, &worth), 0);
	for (size_t i = 0; i < sizeof(back) / sizeof(back[0]); i++) {
		CU_ASSERT_FALSE(pace_calm(&p, t + PACE_CALM_NS / 2));
		t += PACE_CALM_NS;
		CU_ASSERT_TRUE(pace_calm(&p, t));
		CU_ASSERT_EQUAL(p.cap_ns, back[i]);
	}
	CU_ASSERT_FALSE(pace_calm(&p, t + 5 * PACE_CALM_NS));
	CU_ASSERT_EQUAL(p.cap_ns, MS);

	/* A drop within the minute starts it again. */
	pace_dropped(&p, t);
	pace_dropped(&p, t + PACE_CALM_NS / 2);
	CU_ASSERT_EQUAL(p.cap_ns, 250 * US);
	CU_ASSERT_FALSE(pace_calm(&p, t + PACE_CALM_NS));
	CU_ASSERT_TRUE(pace_calm(&p, t + PACE_CALM_NS / 2 + PACE_CALM_NS));
	CU_ASSERT_EQUAL(p.cap_ns, 500 * US);

	/* read_wait=0 never waits, and nothing doubles back. */
	pace_init(&p, 0, 425984, 0, 0);
	CU_ASSERT_EQUAL(pace_dropped(&p, 0), 0);
	CU_ASSERT_FALSE(pace_calm(&p, 100 * PACE_CALM_NS));
	CU_ASSERT_EQUAL(p.cap_ns, 0);
}

static void test_init(void)
{
	struct pace p;
	pace_init(&p, -5, -1, -1, 7);
	CU_ASSERT_EQUAL(p.cap_ns, 0);
	CU_ASSERT_EQUAL(p.budget_bytes, 0);
	CU_ASSERT_EQUAL(p.budget_dgrams, 0);
	CU_ASSERT_EQUAL(p.last_ns, 7);
	pace_init(&p, MS, 425984, 512, 0);
	CU_ASSERT_EQUAL(p.budget_bytes, 106496);
	CU_ASSERT_EQUAL(p.budget_dgrams, 128);
	CU_ASSERT_EQUAL(PACE_COST(630), 2284);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("pace", NULL, NULL);
	if (!s || !CU_add_test(s, "allow_table", test_allow) ||
	    !CU_add_test(s, "worth_accumulates", test_worth_accumulates) ||
	    !CU_add_test(s, "previous_read", test_previous_read) ||
	    !CU_add_test(s, "clamp", test_clamp) ||
	    !CU_add_test(s, "slow_start", test_slow_start) || !CU_add_test(s, "lull", test_lull) ||
	    !CU_add_test(s, "stop", test_stop) || !CU_add_test(s, "simulated", test_simulated) ||
	    !CU_add_test(s, "dropped", test_dropped) || !CU_add_test(s, "calm", test_calm) ||
	    !CU_add_test(s, "init", test_init)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
}
