/* loadgen: a deterministic StatsD load generator for the intake benchmarks
 * (tests/bench/intake.sh) and tests/integ/workers.sh. It sends datagrams of
 * L lines over N names (counters app.metric.nN, timers app.timer.nN and
 * gauges app.gauge.nN in given percentages, optional DogStatsD tags) to
 * 127.0.0.1:PORT with sendmmsg, at a target rate or flat out, for a duration
 * or a line count, and prints what it sent, including the expected counter
 * total. Not a test and not part of tallyd. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RING_MAX 4096   /* distinct datagrams prepared (reused in order) */
#define SEND_BATCH 64   /* datagrams per sendmmsg */
#define SOCKETS_MAX 64  /* source sockets (spread over SO_REUSEPORT workers) */
#define DGRAM_MAX 65000 /* longest datagram built */

struct opts {
	unsigned port;
	unsigned long names;
	unsigned pct_counter, pct_timer, pct_gauge;
	unsigned tags;
	unsigned lines;
	double rate;              /* lines/s, 0 = flat out */
	double duration;          /* seconds, 0 = until count */
	unsigned long long count; /* lines, 0 = until duration */
	unsigned long long seed;
	int cpu; /* -1 = not pinned */
	unsigned sockets;
	const char *dump; /* print the prepared datagrams to this file and exit */
};

struct ring {
	char *data[RING_MAX];
	size_t len[RING_MAX];
	unsigned lines[RING_MAX];
	uint64_t counter_sum[RING_MAX];   /* sum of counter values in the datagram */
	uint64_t counter_lines[RING_MAX]; /* counter lines in the datagram */
	size_t n;
};

static void usage(void)
{
	fprintf(stderr,
	        "usage: loadgen --port P [--names N] [--mix C/T/G] [--tags 0|3] [--lines L]\n"
	        "               [--rate LINES_PER_S] [--duration S | --count LINES] [--seed S]\n"
	        "               [--cpu N] [--sockets K] [--dump FILE]\n");
	exit(2);
}

static bool parse_ull(const char *s, unsigned long long *out)
{
	char *end;
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool parse_dbl(const char *s, double *out)
{
	char *end;
	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= 0))
		return false;
	*out = v;
	return true;
}

static unsigned ull_arg(const char *flag, const char *s, unsigned long long max)
{
	unsigned long long v;
	if (!parse_ull(s, &v) || v > max) {
		fprintf(stderr, "loadgen: bad %s '%s'\n", flag, s ? s : "");
		exit(2);
	}
	return (unsigned)v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){0, 10000, 100, 0, 0, 0, 30, 0, 0, 0, 1, -1, 1, NULL};
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--port") == 0) {
			o->port = ull_arg(a, v, 65535);
		} else if (strcmp(a, "--names") == 0) {
			o->names = ull_arg(a, v, 100000000);
		} else if (strcmp(a, "--mix") == 0) {
			unsigned c, t, g;
			char tail;
			if (v == NULL || sscanf(v, "%u/%u/%u%c", &c, &t, &g, &tail) != 3 ||
			    c + t + g != 100) {
				fprintf(stderr, "loadgen: --mix wants C/T/G summing to 100\n");
				exit(2);
			}
			o->pct_counter = c;
			o->pct_timer = t;
			o->pct_gauge = g;
		} else if (strcmp(a, "--tags") == 0) {
			o->tags = ull_arg(a, v, 3);
		} else if (strcmp(a, "--lines") == 0) {
			o->lines = ull_arg(a, v, 1000);
		} else if (strcmp(a, "--rate") == 0) {
			if (!parse_dbl(v, &o->rate))
				usage();
		} else if (strcmp(a, "--duration") == 0) {
			if (!parse_dbl(v, &o->duration))
				usage();
		} else if (strcmp(a, "--count") == 0) {
			if (!parse_ull(v, &o->count))
				usage();
		} else if (strcmp(a, "--seed") == 0) {
			if (!parse_ull(v, &o->seed))
				usage();
		} else if (strcmp(a, "--cpu") == 0) {
			o->cpu = (int)ull_arg(a, v, 1023);
		} else if (strcmp(a, "--sockets") == 0) {
			o->sockets = ull_arg(a, v, SOCKETS_MAX);
		} else if (strcmp(a, "--dump") == 0) {
			if (v == NULL)
				usage();
			o->dump = v;
		} else {
			usage();
		}
	}
	if ((o->port == 0 && o->dump == NULL) || o->names == 0 || o->lines == 0 ||
	    o->sockets == 0 || (o->duration == 0 && o->count == 0))
		usage();
}

/* xorshift64*: deterministic for a given --seed. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* One line into b at o (room checked by the caller: a line is < 128 bytes).
 * Counter values are 1..3, timer values 0..999; a gauge's value depends only
 * on its name, so the flushed gauges do not depend on arrival order (several
 * workers may see a name's lines in any order). */
static size_t put_line(char *b, const struct opts *o, uint64_t *csum, uint64_t *clines)
{
	unsigned long name = (unsigned long)(rng_next() % o->names);
	unsigned r = (unsigned)(rng_next() % 100);
	unsigned long val;
	const char *type, *stem;

	/* One stem per type, so that no name carries two types (servers that
	 * key series by name alone, as brubeck does, would mix them up) and a
	 * collector tells counters apart by name. */
	if (r < o->pct_counter) {
		type = "c";
		stem = "metric";
		val = 1 + (unsigned long)(rng_next() % 3);
		*csum += val;
		(*clines)++;
	} else if (r < o->pct_counter + o->pct_timer) {
		type = "ms";
		stem = "timer";
		val = (unsigned long)(rng_next() % 1000);
	} else {
		type = "g";
		stem = "gauge";
		val = (name * 7) % 100;
	}
	int n;
	if (o->tags == 3)
		n = snprintf(b, 128, "app.%s.n%lu:%lu|%s|#env:prod,region:eu,host:web%lu\n", stem,
		             name, val, type, name % 50);
	else if (o->tags == 2)
		n = snprintf(b, 128, "app.%s.n%lu:%lu|%s|#env:prod,host:web%lu\n", stem, name, val,
		             type, name % 50);
	else if (o->tags == 1)
		n = snprintf(b, 128, "app.%s.n%lu:%lu|%s|#host:web%lu\n", stem, name, val, type,
		             name % 50);
	else
		n = snprintf(b, 128, "app.%s.n%lu:%lu|%s\n", stem, name, val, type);
	return (size_t)n;
}

static void build_ring(struct ring *rg, const struct opts *o)
{
	unsigned long long need = RING_MAX;
	if (o->count > 0 && o->duration == 0)
		need = (o->count + o->lines - 1) / o->lines;
	rg->n = need < RING_MAX ? (size_t)need : RING_MAX;
	for (size_t i = 0; i < rg->n; i++) {
		char *b = malloc((size_t)o->lines * 128);
		size_t len = 0;
		if (b == NULL) {
			fprintf(stderr, "loadgen: out of memory\n");
			exit(1);
		}
		rg->counter_sum[i] = rg->counter_lines[i] = 0;
		for (unsigned l = 0; l < o->lines; l++)
			len += put_line(b + len, o, &rg->counter_sum[i], &rg->counter_lines[i]);
		if (len > DGRAM_MAX) {
			fprintf(stderr, "loadgen: datagram of %zu bytes: fewer --lines\n", len);
			exit(2);
		}
		rg->data[i] = b;
		rg->len[i] = len - 1; /* no newline after the last line */
		rg->lines[i] = o->lines;
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "loadgen: cannot pin to cpu %d: %s\n", cpu, strerror(errno));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	static struct ring rg;

	parse_args(argc, argv, &o);
	rng_state = o.seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	if (rng_state == 0)
		rng_state = 1;
	build_ring(&rg, &o);
	if (o.dump != NULL) {
		FILE *f = fopen(o.dump, "w");
		if (f == NULL) {
			perror("loadgen: --dump");
			return 1;
		}
		for (size_t i = 0; i < rg.n; i++)
			fprintf(f, "%.*s\n", (int)rg.len[i], rg.data[i]);
		fclose(f);
		return 0;
	}
	if (o.cpu >= 0)
		pin(o.cpu);

	int fds[SOCKETS_MAX];
	struct sockaddr_in to = {0};
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)o.port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (unsigned k = 0; k < o.sockets; k++) {
		fds[k] = socket(AF_INET, SOCK_DGRAM, 0);
		int sz = 4 << 20;
		if (fds[k] < 0 || setsockopt(fds[k], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) != 0 ||
		    connect(fds[k], (struct sockaddr *)&to, sizeof(to)) != 0) {
			perror("loadgen: socket");
			return 1;
		}
	}

	static struct mmsghdr msgs[SEND_BATCH];
	static struct iovec iov[SEND_BATCH];
	unsigned long long lines = 0, packets = 0, errors = 0, counter_lines = 0;
	unsigned long long counter_total = 0;
	size_t next = 0;
	unsigned sock = 0;
	double t0 = now_s(), t = t0;
	double end = o.duration > 0 ? t0 + o.duration : 0;

	for (;;) {
		if (o.count > 0 && lines >= o.count)
			break;
		if (end > 0 && t >= end)
			break;
		/* Token bucket: the lines allowed so far, in datagrams. */
		unsigned long long room = SEND_BATCH;
		if (o.rate > 0) {
			double allowed = (t - t0) * o.rate + (double)o.lines * SEND_BATCH / 8;
			if (allowed < (double)lines + o.lines) {
				double wait = ((double)lines + o.lines - allowed) / o.rate;
				struct timespec ts = {0, (long)(wait * 1e9)};
				if (wait > 1e-4)
					nanosleep(&ts, NULL);
				t = now_s();
				continue;
			}
			room = (unsigned long long)((allowed - (double)lines) / o.lines);
			if (room > SEND_BATCH)
				room = SEND_BATCH;
		}
		if (o.count > 0) {
			unsigned long long left = (o.count - lines + o.lines - 1) / o.lines;
			if (room > left)
				room = left;
		}
		unsigned n = (unsigned)room;
		for (unsigned i = 0; i < n; i++) {
			size_t r = (next + i) % rg.n;
			iov[i].iov_base = rg.data[r];
			iov[i].iov_len = rg.len[r];
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int sent = sendmmsg(fds[sock], msgs, n, 0);
		if (sent < 0) {
			if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR &&
			    errno != ECONNREFUSED) {
				perror("loadgen: sendmmsg");
				return 1;
			}
			errors++;
			sent = 0;
		}
		for (int i = 0; i < sent; i++) {
			size_t r = (next + (size_t)i) % rg.n;
			lines += rg.lines[r];
			counter_total += rg.counter_sum[r];
			counter_lines += rg.counter_lines[r];
		}
		packets += (unsigned long long)sent;
		next = (next + (size_t)sent) % rg.n;
		sock = (sock + 1) % o.sockets;
		t = now_s();
	}
	double el = now_s() - t0;
	printf("lines %llu packets %llu counter_lines %llu counter_total %llu seconds %.3f "
	       "lines_per_s %.0f send_errors %llu\n",
	       lines, packets, counter_lines, counter_total, el, el > 0 ? (double)lines / el : 0.0,
	       errors);
	for (unsigned k = 0; k < o.sockets; k++)
		close(fds[k]);
	for (size_t i = 0; i < rg.n; i++)
		free(rg.data[i]);
	return 0;
}
