/* bench_parse: the per-line cost of parse + shard insert, in-process (no
 * sockets): 30-line packets over 10,000 names, for plain counters, DogStatsD
 * tagged counters, and a 60/30/10 counter/timer/gauge mix. Prints ns/line and
 * lines/s as the median of several runs. With `-n LINES -w WORKLOAD` it runs
 * one fixed workload twice, the second pass in measured_run (for callgrind).
 * Samples are queued and committed per 32 packets, as intake.c does per
 * recvmmsg batch. Not a test:
 * make bench runs it and prints figures. */
#include <stdint.h>
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
	char *arena; /* every packet, one after the other, PARSE_PAD bytes apart */
	char **data;
	size_t *len;
	size_t n;
	size_t lines;
};

/* The parse callbacks' context: the shard, and where the packets are (a
 * key in there is queued, as intake.c queues keys in its receive
 * buffers; a key in the parser's scratch is queued as a copy). */
struct bench_ctx {
	struct shard *sh;
	const char *lo;
	size_t size;
};

/* intake.c commits the queue after each recvmmsg batch of 32 datagrams. */
#define BATCH 32

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
	p->arena = malloc(npackets * 4096);
	size_t used = 0;
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
		p->data[i] = p->arena + used;
		memcpy(p->data[i], buf, o);
		p->len[i] = o;
		used += o + PARSE_PAD; /* room after it, as intake's buffers have */
	}
}

static void on_sample(void *ctx, const struct sample *s)
{
	const struct bench_ctx *bc = ctx;
	if ((uintptr_t)s->key - (uintptr_t)bc->lo < bc->size)
		shard_queue(bc->sh, s);
	else
		shard_queue_copy(bc->sh, s);
}

static void on_full(void *ctx)
{
	const struct bench_ctx *bc = ctx;
	shard_commit(bc->sh);
}

/* bench lines never need it; here so that the queue path is complete */
static void on_fallback(void *ctx, const char *line, size_t len)
{
	fprintf(stderr, "bench: unexpected fallback: %.*s\n", (int)len, line);
	exit(1);
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
	const struct parse_handler h = {
	    .sample = on_sample, .bad = on_bad, .queue = shard_sample_queue(sh), .commit = on_full};
	struct bench_ctx bc = {sh, p->arena,
	                       (size_t)(p->data[p->n - 1] + p->len[p->n - 1] - p->arena)};
	shard_set_fallback(sh, on_fallback, NULL);
	double t0 = now_s();
	for (size_t i = 0; i < p->n; i++) {
		parse_packet_padded(p->data[i], p->len[i], o, scr, &h, &bc);
		if (i % BATCH == BATCH - 1)
			shard_commit(sh);
	}
	shard_commit(sh);
	return now_s() - t0;
}

/* The steady state of intake's shard from its second interval on: every
 * name in it, in tables sized at the last flush (shard_clear sizes them for
 * the count they held, as intake's are after every flush). */
static void warm(const struct packets *p, struct shard *sh, struct parse_scratch *scr,
                 const struct parse_opts *o)
{
	run(p, sh, scr, o);
	shard_clear(sh);
	run(p, sh, scr, o);
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
		warm(&p, sh, &scr, &o);
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
			warm(&p, sh, &scr, &o);
			t[r] = run(&p, sh, &scr, &o);
			shard_free(sh);
		}
		qsort(t, 7, sizeof(double), cmp);
		double ns = t[3] / (double)p.lines * 1e9;
		printf("%-16s %12.1f %14.2f\n", wl_name[w], ns, 1e3 / ns);
		free(p.arena);
		free(p.data);
		free(p.len);
	}
	return 0;
}
