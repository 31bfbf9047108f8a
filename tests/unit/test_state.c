/* test_state: the state file. Windows of every type (counter, gauge, set in
 * exact and dense form, timer/histogram/distribution) survive window_encode
 * / window_decode and a whole registry survives state_encode / state_decode
 * with identical window_stats, before and after further identical pushes;
 * mismatched configurations, every truncation and random byte flips are
 * refused without crashing; state_save is atomic and state_load moves a bad
 * file aside. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly.h"
#include "buf.h"
#include "config.h"
#include "hll.h"
#include "htab.h"
#include "registry.h"
#include "state.h"
#include "window.h"

#define T0 1700000000 /* the state's creation time in these tests */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double uniform(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* ---- pushing data ---- */

struct wcase {
	const char *name;
	enum metric_type type;
	size_t set_members; /* members per interval (sets): > 1000 makes it dense */
};

static const struct wcase wcases[] = {
    {"counter", METRIC_COUNTER, 0},
    {"gauge", METRIC_GAUGE, 0},
    {"set (exact)", METRIC_SET, 5},
    {"set (dense)", METRIC_SET, 1500},
    {"timer", METRIC_TIMER, 0},
    {"histogram", METRIC_HISTOGRAM, 0},
    {"distribution", METRIC_DISTRIBUTION, 0},
};

/* One push of step t into every window in ws (the same data into each);
 * every fifth step is idle. */
static void push_step(struct window **ws, size_t nw, const struct wcase *c, size_t t)
{
	bool idle = t % 5 == 4;
	double vals[40];
	size_t n = idle ? 0 : 1 + (size_t)(uniform() * 39);
	for (size_t i = 0; i < n; i++)
		vals[i] = uniform() < 0.1 ? -uniform() * 10 : exp(uniform() * 8);
	double x = uniform() * 100 - 20;
	struct hll *h = NULL;
	if (c->type == METRIC_SET && !idle) {
		h = hll_new();
		for (size_t i = 0; i < c->set_members; i++) {
			uint64_t m = rnd() % (c->set_members * 3);
			hll_add_hash(h, htab_hash(&m, sizeof(m)));
		}
	}
	for (size_t k = 0; k < nw; k++) {
		if (!idle)
			window_touch(ws[k]);
		switch (c->type) {
		case METRIC_COUNTER:
			window_push_counter(ws[k], idle ? 0 : x);
			break;
		case METRIC_GAUGE:
			window_push_gauge(ws[k], !idle, x);
			break;
		case METRIC_SET:
			window_push_set(ws[k], h);
			break;
		default:
			window_push_timer(ws[k], vals, n, (double)n * 1.5);
			break;
		}
	}
	hll_free(h);
}

static bool same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

/* window_stats of every window equal, field by field, bit for bit. */
static bool same_stats(const struct window_conf *c, const struct window *a, const struct window *b)
{
	for (size_t i = 0; i < c->n; i++) {
		struct window_stats x, y;
		window_stats(a, i, &x);
		window_stats(b, i, &y);
		const double dx[] = {x.covered_s, x.count, x.rate,   x.sum, x.min,
		                     x.max,       x.mean,  x.stddev, x.last};
		const double dy[] = {y.covered_s, y.count, y.rate,   y.sum, y.min,
		                     y.max,       y.mean,  y.stddev, y.last};
		for (size_t k = 0; k < sizeof(dx) / sizeof(dx[0]); k++)
			if (!same_double(dx[k], dy[k]))
				return false;
		for (size_t q = 0; q < WINDOW_QMAX; q++)
			if (!same_double(x.q[q], y.q[q]))
				return false;
		if (x.unique != y.unique || x.samples != y.samples || x.has_data != y.has_data)
			return false;
	}
	return window_idle_intervals(a) == window_idle_intervals(b);
}

static struct window_conf test_conf(void)
{
	struct window_conf c;
	memset(&c, 0, sizeof(c));
	c.interval_ms = 2000;
	c.n = 4;
	const int64_t lens[] = {10000, 60000, 300000, 3600000};
	memcpy(c.len_ms, lens, sizeof(lens));
	c.nq = 3;
	c.quantiles[0] = 0.5;
	c.quantiles[1] = 0.99;
	c.quantiles[2] = 0.999;
	c.accuracy = 0.01;
	return c;
}

/* Round trip of every window type after 200 pushes (over 6 minutes): equal
 * stats, equal re-encoding, and equal again after 150 more identical pushes. */
static void test_window_round_trip(void)
{
	struct window_conf c = test_conf();
	for (size_t k = 0; k < sizeof(wcases) / sizeof(wcases[0]); k++) {
		const struct wcase *wc = &wcases[k];
		struct window *orig = window_new(&c, wc->type);
		for (size_t t = 0; t < 200; t++)
			push_step(&orig, 1, wc, t);
		struct buf enc = BUF_INIT, enc2 = BUF_INIT;
		window_encode(orig, &enc);
		struct window *copy = window_decode(&c, wc->type, enc.p, enc.len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		if (!same_stats(&c, orig, copy))
			CU_FAIL_FATAL(wc->name);
		window_encode(copy, &enc2);
		CU_ASSERT(enc.len == enc2.len && memcmp(enc.p, enc2.p, enc.len) == 0);
		struct window *both[2] = {orig, copy};
		bool same = true;
		for (size_t t = 200; t < 350; t++) {
			push_step(both, 2, wc, t);
			same = same && same_stats(&c, orig, copy);
		}
		CU_ASSERT(same);
		if (!same)
			fprintf(stderr, "diverged after restore: %s\n", wc->name);
		/* a window of another type refuses the bytes */
		enum metric_type other = wc->type == METRIC_COUNTER ? METRIC_GAUGE : METRIC_COUNTER;
		CU_ASSERT_PTR_NULL(window_decode(&c, other, enc.p, enc.len));
		buf_free(&enc);
		buf_free(&enc2);
		window_free(orig);
		window_free(copy);
	}
}

/* Every prefix and 500 random single-byte flips of each encoding: NULL or a
 * window, never a crash; prefixes always NULL. */
static void test_window_truncated_and_flipped(void)
{
	struct window_conf c = test_conf();
	for (size_t k = 0; k < sizeof(wcases) / sizeof(wcases[0]); k++) {
		const struct wcase *wc = &wcases[k];
		struct window *w = window_new(&c, wc->type);
		for (size_t t = 0; t < 40; t++)
			push_step(&w, 1, wc, t);
		struct buf enc = BUF_INIT;
		window_encode(w, &enc);
		size_t accepted = 0;
		for (size_t n = 0; n < enc.len; n++) {
			struct window *d = window_decode(&c, wc->type, enc.p, n);
			accepted += d != NULL;
			window_free(d);
		}
		CU_ASSERT_EQUAL(accepted, 0);
		char *copy = malloc(enc.len);
		for (int i = 0; i < 500; i++) {
			memcpy(copy, enc.p, enc.len);
			copy[rnd() % enc.len] ^= (char)(1 + rnd() % 255);
			struct window *d = window_decode(&c, wc->type, copy, enc.len);
			if (d) { /* a flipped value may still be well-formed: it must work */
				struct window_stats s;
				window_stats(d, c.n - 1, &s);
				push_step(&d, 1, wc, 40);
			}
			window_free(d);
		}
		free(copy);
		buf_free(&enc);
		window_free(w);
	}
}

/* ---- registries ---- */

static struct config *make_cfg(const char *const *over)
{
	struct config *cfg = config_new();
	char err[256];
	const char *base[] = {"server.flush_interval=2s", "windows.list=10s,1m,5m,1h", NULL};
	for (size_t i = 0; base[i]; i++)
		CU_ASSERT_EQUAL(config_override(cfg, base[i], err, sizeof(err)), 0);
	for (size_t i = 0; over && over[i]; i++)
		CU_ASSERT_EQUAL(config_override(cfg, over[i], err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(config_validate(cfg, err, sizeof(err)), 0);
	return cfg;
}

struct rseries {
	enum registry_kind kind;
	const char *key;
	size_t name_len;
	size_t wcase;
};

static const struct rseries rseries[] = {
    {REG_COUNTERS, "hits;env=prod", 4, 0},
    {REG_COUNTERS, "statsd.packets_received", 23, 0},
    {REG_GAUGES, "temp", 4, 1},
    {REG_SETS, "users", 5, 2},
    {REG_SETS, "visitors", 8, 3},
    {REG_TIMERS, "lat", 3, 4},
    {REG_TIMERS, "size", 4, 5},
    {REG_TIMERS, "dist;az=b", 4, 6},
};
#define NRSERIES (sizeof(rseries) / sizeof(rseries[0]))

/* A registry whose series have windows after `pushes` pushes. */
static struct registry *make_reg(const struct config *cfg, size_t pushes)
{
	struct registry *r = registry_new(cfg);
	for (size_t i = 0; i < NRSERIES; i++) {
		const struct wcase *wc = &wcases[rseries[i].wcase];
		struct window *w = window_new(registry_window_conf(r), wc->type);
		for (size_t t = 0; t < pushes; t++)
			push_step(&w, 1, wc, t);
		CU_ASSERT_EQUAL(registry_restore_window(r, rseries[i].kind, rseries[i].key,
		                                        strlen(rseries[i].key), rseries[i].name_len,
		                                        wc->type, w),
		                0);
	}
	return r;
}

static struct reg_series *find(const struct registry *r, enum registry_kind k, const char *key)
{
	size_t pos = 0;
	struct reg_series *s;
	while ((s = registry_next(r, k, &pos)) != NULL)
		if (s->key_len == strlen(key) && memcmp(s->key, key, s->key_len) == 0)
			return s;
	return NULL;
}

static void test_registry_round_trip(void)
{
	struct config *cfg = make_cfg(NULL);
	struct registry *a = make_reg(cfg, 120), *b = registry_new(cfg);
	struct buf enc = BUF_INIT;
	char err[256] = "";
	state_encode(a, T0, &enc);
	CU_ASSERT_EQUAL(state_decode(b, enc.p, enc.len, T0, err, sizeof(err)), (long)NRSERIES);
	CU_ASSERT_EQUAL(registry_total(a), registry_total(b));
	const struct window_conf *c = registry_window_conf(b);
	for (size_t i = 0; i < NRSERIES; i++) {
		struct reg_series *x = find(a, rseries[i].kind, rseries[i].key);
		struct reg_series *y = find(b, rseries[i].kind, rseries[i].key);
		CU_ASSERT_PTR_NOT_NULL_FATAL(y);
		CU_ASSERT_EQUAL(y->name_len, rseries[i].name_len);
		CU_ASSERT_EQUAL(y->type, x->type);
		CU_ASSERT_FALSE(y->updated);
		CU_ASSERT_EQUAL(y->dormant, !y->internal);
		CU_ASSERT(same_stats(c, x->win, y->win));
	}
	/* The internal counter kept its place and gained the window. */
	CU_ASSERT(find(b, REG_COUNTERS, "statsd.packets_received")->internal);
	/* Both slide on identically. */
	for (int t = 0; t < 40; t++) {
		registry_push_windows(a);
		registry_push_windows(b);
		registry_end_interval(a);
		registry_end_interval(b);
	}
	for (size_t i = 0; i < NRSERIES; i++)
		CU_ASSERT(same_stats(c, find(a, rseries[i].kind, rseries[i].key)->win,
		                     find(b, rseries[i].kind, rseries[i].key)->win));
	/* A gauge restored keeps its last value. */
	CU_ASSERT_EQUAL(find(b, REG_GAUGES, "temp")->value, find(a, REG_GAUGES, "temp")->value);
	buf_free(&enc);
	registry_free(a);
	registry_free(b);
	config_free(cfg);
}

/* Time the server was down passes as idle intervals (2 s each here): the
 * restored windows equal the saved ones pushed that many idle intervals;
 * past the 1h window nothing is restored. */
static void test_downtime(void)
{
	static const struct {
		int64_t now;   /* seconds after the file's creation */
		uint64_t idle; /* idle pushes expected */
		long restored; /* series restored */
	} cases[] = {
	    {0, 0, (long)NRSERIES},       {-30, 0, (long)NRSERIES}, {1, 0, (long)NRSERIES},
	    {20, 10, (long)NRSERIES},     {61, 30, (long)NRSERIES}, {1000, 500, (long)NRSERIES},
	    {3590, 1795, (long)NRSERIES}, {3600, 1800, 0},          {7200, 3600, 0},
	};
	struct config *cfg = make_cfg(NULL);
	struct registry *a = make_reg(cfg, 120);
	const struct window_conf *c = registry_window_conf(a);
	struct buf enc = BUF_INIT;
	state_encode(a, T0, &enc);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct registry *b = registry_new(cfg);
		char err[256] = "";
		CU_ASSERT_EQUAL(
		    state_decode(b, enc.p, enc.len, T0 + cases[k].now, err, sizeof(err)),
		    cases[k].restored);
		for (size_t i = 0; i < NRSERIES; i++) {
			struct reg_series *x = find(a, rseries[i].kind, rseries[i].key);
			struct reg_series *y = find(b, rseries[i].kind, rseries[i].key);
			if (cases[k].restored == 0) {
				CU_ASSERT(y == NULL || y->win == NULL);
				continue;
			}
			struct buf one = BUF_INIT;
			window_encode(x->win, &one);
			struct window *want = window_decode(c, x->type, one.p, one.len);
			for (uint64_t t = 0; t < cases[k].idle; t++)
				window_push_idle_one(want);
			CU_ASSERT_FATAL(y != NULL && y->win != NULL);
			CU_ASSERT(same_stats(c, want, y->win));
			window_free(want);
			buf_free(&one);
		}
		registry_free(b);
	}
	buf_free(&enc);
	registry_free(a);
	config_free(cfg);
}

/* Rewrites the trailer of data[0..len) (count, hash) in place. */
static void reseal(char *data, size_t len, uint64_t count)
{
	for (int i = 0; i < 8; i++)
		data[len - 16 + i] = (char)(count >> (8 * i));
	uint64_t h = htab_hash(data, len - 8);
	for (int i = 0; i < 8; i++)
		data[len - 8 + i] = (char)(h >> (8 * i));
}

static void test_mismatch(void)
{
	static const struct {
		const char *over;
		const char *reason;
	} cases[] = {
	    {"server.flush_interval=1s", "flush_interval differs"},
	    {"windows.list=10s,1m,5m", "windows.list differs"},
	    {"windows.list=10s,1m,15m,1h", "windows.list differs"},
	    {"windows.quantiles=50,99", "windows.quantiles differs"},
	    {"windows.relative_accuracy=0.02", "windows.relative_accuracy differs"},
	};
	struct config *cfg = make_cfg(NULL);
	struct registry *a = make_reg(cfg, 30);
	struct buf enc = BUF_INIT;
	state_encode(a, T0, &enc);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *over[] = {cases[i].over, NULL};
		struct config *c2 = make_cfg(over);
		struct registry *b = registry_new(c2);
		size_t before = registry_total(b);
		char err[256] = "";
		CU_ASSERT_EQUAL(state_decode(b, enc.p, enc.len, T0, err, sizeof(err)), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].reason));
		CU_ASSERT_EQUAL(registry_total(b), before);
		registry_free(b);
		config_free(c2);
	}
	/* another format version, correctly sealed */
	struct registry *b = registry_new(cfg);
	char err[256] = "";
	enc.p[9] = STATE_VERSION + 1;
	reseal(enc.p, enc.len, NRSERIES);
	CU_ASSERT_EQUAL(state_decode(b, enc.p, enc.len, T0, err, sizeof(err)), -1);
	char want[64];
	snprintf(want, sizeof(want), "format version %d", STATE_VERSION + 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	/* not a state file */
	CU_ASSERT_EQUAL(state_decode(b, "hello world, this is not state", 30, T0, err, sizeof(err)),
	                -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "magic"));
	registry_free(b);
	buf_free(&enc);
	registry_free(a);
	config_free(cfg);
}

/* Every truncation (as is, and resealed with a valid trailer so the record
 * parser itself must catch it) and random flips (as is: the checksum; and
 * resealed: the parser) leave the registry as it was, or restore it whole. */
static void test_corrupt(void)
{
	struct config *cfg = make_cfg(NULL);
	struct registry *a = make_reg(cfg, 12);
	struct buf enc = BUF_INIT;
	state_encode(a, T0, &enc);
	struct registry *b = registry_new(cfg);
	size_t before = registry_total(b);
	char *copy = malloc(enc.len + 16);
	char err[256];
	size_t accepted = 0, resealed_accepted = 0;
	for (size_t n = 0; n < enc.len; n++) {
		accepted += state_decode(b, enc.p, n, T0, err, sizeof(err)) >= 0;
		if (n + 16 < enc.len && n >= 16) {
			memcpy(copy, enc.p, n);
			memset(copy + n, 0, 16);
			reseal(copy, n + 16, NRSERIES);
			resealed_accepted +=
			    state_decode(b, copy, n + 16, T0, err, sizeof(err)) >= 0;
		}
	}
	CU_ASSERT_EQUAL(accepted, 0);
	CU_ASSERT_EQUAL(resealed_accepted, 0);
	CU_ASSERT_EQUAL(registry_total(b), before);
	size_t flipped_accepted = 0;
	for (int i = 0; i < 3000; i++) {
		memcpy(copy, enc.p, enc.len);
		int nflip = 1 + (int)(rnd() % 3);
		for (int f = 0; f < nflip; f++)
			copy[rnd() % (enc.len - 16)] ^= (char)(1 + rnd() % 255);
		flipped_accepted += state_decode(b, copy, enc.len, T0, err, sizeof(err)) >= 0;
	}
	CU_ASSERT_EQUAL(flipped_accepted, 0);
	CU_ASSERT_EQUAL(registry_total(b), before);
	for (int i = 0; i < 3000; i++) {
		struct registry *c = registry_new(cfg);
		memcpy(copy, enc.p, enc.len);
		copy[rnd() % (enc.len - 16)] ^= (char)(1 + rnd() % 255);
		reseal(copy, enc.len, NRSERIES);
		long n = state_decode(c, copy, enc.len, T0, err, sizeof(err));
		CU_ASSERT(n >= -1 &&
		          n <= (long)NRSERIES); /* a flipped time or idle count may skip some */
		if (n == -1)
			CU_ASSERT_EQUAL(registry_total(c), before);
		registry_push_windows(c); /* whatever was accepted must work */
		registry_free(c);
	}
	free(copy);
	registry_free(b);
	buf_free(&enc);
	registry_free(a);
	config_free(cfg);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *p = NULL;
	size_t n = 0, cap = 0, got;
	char chunk[4096];
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (n + got > cap) {
			cap = (n + got) * 2;
			p = realloc(p, cap);
		}
		memcpy(p + n, chunk, got);
		n += got;
	}
	fclose(f);
	*len = n;
	return p;
}

static size_t count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	while (d && (e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d)
		closedir(d);
	return n;
}

static void test_save_load_files(void)
{
	char dir[] = "/tmp/test_state.XXXXXX", path[256], tmp[300], bad[300];
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tallyd.state", dir);
	struct config *cfg = make_cfg(NULL);
	struct registry *a = make_reg(cfg, 50);

	/* missing file: nothing restored, nothing created */
	struct registry *b = registry_new(cfg);
	CU_ASSERT_EQUAL(state_load(b, path), 0);
	CU_ASSERT_EQUAL(count_entries(dir, "tallyd.state"), 0);
	registry_free(b);

	/* save then load */
	CU_ASSERT_EQUAL_FATAL(state_save(a, path), 0);
	size_t len1;
	char *v1 = read_all(path, &len1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v1);
	CU_ASSERT_EQUAL(count_entries(dir, "tallyd.state"), 1); /* no temp file left */
	b = registry_new(cfg);
	CU_ASSERT_EQUAL(state_load(b, path), (long)NRSERIES);
	registry_free(b);

	/* a failed write leaves the old file intact: the temp file cannot be
	 * created (a directory is in its place; this fails even for root) */
	registry_push_windows(a);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	CU_ASSERT_EQUAL_FATAL(mkdir(tmp, 0700), 0);
	CU_ASSERT_EQUAL(state_save(a, path), -1);
	rmdir(tmp);
	size_t len2;
	char *v2 = read_all(path, &len2);
	CU_ASSERT(v2 && len1 == len2 && memcmp(v1, v2, len1) == 0);
	free(v2);
	/* and a directory that is not writable (only meaningful when not root) */
	if (geteuid() != 0) {
		chmod(dir, 0500);
		CU_ASSERT_EQUAL(state_save(a, path), -1);
		chmod(dir, 0700);
		v2 = read_all(path, &len2);
		CU_ASSERT(v2 && len1 == len2 && memcmp(v1, v2, len1) == 0);
		free(v2);
	}
	free(v1);

	/* a corrupt file: nothing restored, moved aside to .bad.<time> */
	FILE *f = fopen(path, "r+b");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fseek(f, 40, SEEK_SET);
	fputc('X', f);
	fclose(f);
	b = registry_new(cfg);
	size_t before = registry_total(b);
	CU_ASSERT_EQUAL(state_load(b, path), 0);
	CU_ASSERT_EQUAL(registry_total(b), before);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_EQUAL(count_entries(dir, "tallyd.state.bad."), 1);
	registry_free(b);

	/* a file for another configuration is moved aside as well */
	CU_ASSERT_EQUAL(state_save(a, path), 0);
	const char *over[] = {"windows.list=10s,1m", NULL};
	struct config *c2 = make_cfg(over);
	b = registry_new(c2);
	sleep(1); /* another second: another .bad name */
	CU_ASSERT_EQUAL(state_load(b, path), 0);
	CU_ASSERT_EQUAL(count_entries(dir, "tallyd.state.bad."), 2);
	registry_free(b);
	config_free(c2);

	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(bad, sizeof(bad), "%s/%s", dir, e->d_name);
		unlink(bad);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	registry_free(a);
	config_free(cfg);
}

/* ---- anomaly baselines ---- */

/* One interval of the counter and the gauge of make_reg, scored. */
static void score_step(struct registry *r, int t)
{
	struct reg_series *c = find(r, REG_COUNTERS, "hits;env=prod");
	struct reg_series *g = find(r, REG_GAUGES, "temp");
	c->value = 100 + (t * 7919 % 13);
	c->updated = true;
	g->value = 20 + (t * 104729 % 5) * 0.25;
	g->updated = true;
	registry_score(r, NULL, NULL);
	registry_end_interval(r);
}

static bool same_score(const struct reg_series *x, const struct reg_series *y)
{
	for (size_t j = 0; x->anom && x->anom[j]; j++) {
		if (!y->anom || !y->anom[j])
			return false;
		const struct anomaly_score *a = anomaly_last(x->anom[j]);
		const struct anomaly_score *b = anomaly_last(y->anom[j]);
		if (a->n != b->n || a->scored != b->scored || !same_double(a->z, b->z) ||
		    !same_double(a->mean, b->mean))
			return false;
	}
	return true;
}

static void test_anomaly_round_trip(void)
{
	struct config *cfg = make_cfg(NULL);
	struct registry *a = make_reg(cfg, 10), *b = registry_new(cfg);
	for (int t = 0; t < 60; t++)
		score_step(a, t);
	struct reg_series *ac = find(a, REG_COUNTERS, "hits;env=prod");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ac->anom);
	CU_ASSERT(anomaly_last(ac->anom[0])->scored);
	struct buf enc = BUF_INIT;
	char err[256] = "";
	state_encode(a, T0, &enc);
	CU_ASSERT_EQUAL(state_decode(b, enc.p, enc.len, T0 + 30, err, sizeof(err)), (long)NRSERIES);
	const char *keys[] = {"hits;env=prod", "temp"};
	enum registry_kind kinds[] = {REG_COUNTERS, REG_GAUGES};
	for (size_t i = 0; i < 2; i++) {
		struct reg_series *x = find(a, kinds[i], keys[i]), *y = find(b, kinds[i], keys[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(y);
		CU_ASSERT_PTR_NOT_NULL(y->anom);
		CU_ASSERT(same_score(x, y));
	}
	/* both score on identically */
	for (int t = 60; t < 100; t++) {
		score_step(a, t);
		score_step(b, t);
	}
	for (size_t i = 0; i < 2; i++)
		CU_ASSERT(same_score(find(a, kinds[i], keys[i]), find(b, kinds[i], keys[i])));
	registry_free(b);

	/* another baseline length: the windows come back, the baselines do not */
	const char *over[] = {"anomaly.baseline=2h", NULL};
	struct config *c2 = make_cfg(over);
	b = registry_new(c2);
	CU_ASSERT_EQUAL(state_decode(b, enc.p, enc.len, T0, err, sizeof(err)), (long)NRSERIES);
	CU_ASSERT_PTR_NOT_NULL(find(b, REG_COUNTERS, "hits;env=prod")->win);
	CU_ASSERT_PTR_NULL(find(b, REG_COUNTERS, "hits;env=prod")->anom);
	registry_free(b);
	config_free(c2);

	/* down for as long as the baseline: the baselines are too old */
	b = registry_new(cfg);
	CU_ASSERT_EQUAL(state_decode(b, enc.p, enc.len, T0 + 3600, err, sizeof(err)) >= 0, 1);
	struct reg_series *y = find(b, REG_COUNTERS, "hits;env=prod");
	CU_ASSERT(y == NULL || y->anom == NULL);
	registry_free(b);

	buf_free(&enc);
	registry_free(a);
	config_free(cfg);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("state", NULL, NULL);
	CU_add_test(s, "window round trip, every type", test_window_round_trip);
	CU_add_test(s, "window encodings truncated and flipped", test_window_truncated_and_flipped);
	CU_add_test(s, "registry round trip", test_registry_round_trip);
	CU_add_test(s, "downtime passes as idle intervals", test_downtime);
	CU_add_test(s, "mismatched configuration or version refused", test_mismatch);
	CU_add_test(s, "truncated and corrupt files refused", test_corrupt);
	CU_add_test(s, "atomic save, load, bad file moved aside", test_save_load_files);
	CU_add_test(s, "anomaly baselines saved and restored", test_anomaly_round_trip);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
