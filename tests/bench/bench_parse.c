/* bench_parse: the per-line cost of parse + shard insert, in-process (no
 * sockets): 30-line packets over 10,000 names, for plain counters, DogStatsD
 * tagged counters, and a 60/30/10 counter/timer/gauge mix. Prints ns/line and
 * lines/s as the median of several runs. With `-n LINES -w WORKLOAD` it runs
 * one fixed workload twice, the second pass in measured_run (for callgrind). Not a test:
 * make bench runs it and prints figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "shard.h"

#define NAMES 10000
#define LINES_PER_PACKET 30

enum workload { W_COUNTER, W_TAGGED, W_MIXED, W_COUNT };
static const char *const wl_name[W_COUNT] = {"counter", "counter+tags", "mixed 60/30/10"};

struct packets {
	char **data;
	size_t *len;
	size_t n;
	size_t lines;
};

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void build(struct packets *p, enum workload w, size_t npackets)
{
	p->data = calloc(npackets, sizeof(char *));
	p->len = calloc(npackets, sizeof(size_t));
	p->n = npackets;
	p->lines = npackets * LINES_PER_PACKET;
	for (size_t i = 0; i < npackets; i++) {
		char buf[4096];
		size_t o = 0;
		for (int l = 0; l < LINES_PER_PACKET; l++) {
			unsigned name = (unsigned)(next_rand() % NAMES);
			unsigned r = (unsigned)(next_rand() % 10);
			const char *type = "c";
			unsigned val = 1;
			if (w == W_MIXED) {
				if (r >= 6 && r < 9) {
					type = "ms";
					val = (unsigned)(next_rand() % 1000);
				} else if (r == 9) {
					type = "g";
					val = (unsigned)(next_rand() % 100);
				}
			}
			if (w == W_TAGGED)
				o += (size_t)snprintf(
				    buf + o, sizeof(buf) - o,
				    "app.requests.n%u:%u|%s|#env:prod,region:eu,host:web%u\n", name,
				    val, type, name % 50);
			else
				o += (size_t)snprintf(buf + o, sizeof(buf) - o,
				                      "app.metric.n%u:%u|%s\n", name, val, type);
		}
		p->data[i] = malloc(o);
		memcpy(p->data[i], buf, o);
		p->len[i] = o;
	}
}

static void on_sample(void *ctx, const struct sample *s)
{
	shard_record(ctx, s);
}

static void on_bad(void *ctx, const char *line, size_t len, const char *reason)
{
	fprintf(stderr, "bench: unexpected bad line: %.*s (%s)\n", (int)len, line, reason);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static double run(const struct packets *p, struct shard *sh,
                                            struct parse_scratch *scr, const struct parse_opts *o)
{
	const struct parse_handler h = {on_sample, NULL, NULL, on_bad, NULL};
	double t0 = now_s();
	for (size_t i = 0; i < p->n; i++)
		parse_packet(p->data[i], p->len[i], o, scr, &h, sh);
	return now_s() - t0;
}

/* The pass callgrind counts (--toggle-collect=measured_run): steady state,
 * every series already in the shard. */
__attribute__((noinline)) static double measured_run(const struct packets *p, struct shard *sh,
                                                     struct parse_scratch *scr,
                                                     const struct parse_opts *o)
{
	return run(p, sh, scr, o);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct parse_opts o;
	static struct parse_scratch scr;
	parse_opts_default(&o);

	if (argc == 5 && strcmp(argv[1], "-n") == 0 && strcmp(argv[3], "-w") == 0) {
		size_t lines = strtoul(argv[2], NULL, 10);
		int w = atoi(argv[4]);
		struct packets p;
		build(&p, (enum workload)w, lines / LINES_PER_PACKET);
		struct shard *sh = shard_new(1000000);
		run(&p, sh, &scr, &o);
		measured_run(&p, sh, &scr, &o);
		printf("ran %zu lines of %s\n", p.lines, wl_name[w]);
		shard_free(sh);
		return 0;
	}

	printf("%-16s %12s %14s\n", "workload", "ns/line", "M lines/s");
	for (int w = 0; w < W_COUNT; w++) {
		struct packets p;
		build(&p, (enum workload)w, 20000); /* 600k lines */
		double t[7];
		for (int r = 0; r < 7; r++) {
			struct shard *sh = shard_new(1000000);
			run(&p, sh, &scr, &o); /* warm the shard: steady state has every name */
			t[r] = run(&p, sh, &scr, &o);
			shard_free(sh);
		}
		qsort(t, 7, sizeof(double), cmp);
		double ns = t[3] / (double)p.lines * 1e9;
		printf("%-16s %12.1f %14.2f\n", wl_name[w], ns, 1e3 / ns);
		for (size_t i = 0; i < p.n; i++)
			free(p.data[i]);
		free(p.data);
		free(p.len);
	}
	return 0;
}
