/* test_parse: the line parser against both conformance corpora and focused
 * tables. The statsd corpus (tests/data/conformance/statsd/corpus.txt) is
 * checked packet by packet and, aggregated, against the reference statsd's
 * own Graphite output; the DogStatsD corpus (dogstatsd/corpus.tsv) row by
 * row against the Datadog agent's verdicts, with tallyd's deliberate
 * differences listed (and checked to still differ) in dsd_devs[]. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"
#include "parse.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

/* ---- helpers ---- */

static char *dupn(const char *s, size_t n)
{
	if (s == NULL)
		return NULL;
	char *d = malloc(n + 1);
	if (d == NULL)
		abort();
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Prints bytes with C escapes, for failure messages. */
static const char *show(const char *s, size_t n)
{
	static char buf[4][512];
	static int slot;
	char *b = buf[slot++ & 3];
	size_t o = 0;

	if (s == NULL)
		return "(null)";
	for (size_t i = 0; i < n && o + 5 < sizeof(buf[0]); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			b[o++] = (char)c;
		else
			o += (size_t)snprintf(b + o, sizeof(buf[0]) - o, "\\x%02x", c);
	}
	b[o] = '\0';
	return b;
}

static bool failed(bool ok, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CUnit assertion with a readable message. */
static bool failed(bool ok, const char *ctx, const char *fmt, ...)
{
	CU_ASSERT(ok);
	if (!ok) {
		va_list ap;
		printf("\n  FAIL [%s]: ", ctx);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	return !ok;
}

static bool near(double a, double b)
{
	if (a == b)
		return true;
	if (!isfinite(a) || !isfinite(b))
		return false;
	return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* The corpus escapes (send_corpus.py, dogstatsd/README.md): \n \r \t \\
 * \xHH; anything else is literal. "<EMPTY>" is a zero-length packet.
 * Returns a malloc'd buffer of exactly *len bytes (ASan sees overreads). */
static char *decode(const char *s, size_t *len)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n + 1);

	if (out == NULL)
		abort();
	if (strcmp(s, "<EMPTY>") == 0) {
		*len = 0;
		return out;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			char d = s[i + 1];
			if (d == 'n' || d == 'r' || d == 't' || d == '\\') {
				out[o++] = d == 'n'   ? '\n'
				           : d == 'r' ? '\r'
				           : d == 't' ? '\t'
				                      : '\\';
				i++;
				continue;
			}
			if (d == 'x' && i + 3 < n) {
				char hex[3] = {s[i + 2], s[i + 3], '\0'};
				char *end;
				long v = strtol(hex, &end, 16);
				if (end == hex + 2 && hex[0] != '-' && hex[0] != '+' &&
				    hex[0] != ' ') {
					out[o++] = (char)v;
					i += 3;
					continue;
				}
			}
		}
		out[o++] = s[i];
	}
	*len = o;
	char *exact = dupn(out, o);
	free(out);
	return exact;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n)
		abort();
	b[n] = '\0';
	fclose(f);
	return b;
}

/* Splits s in place on sep; returns the number of pieces (at most max). */
static size_t split(char *s, char sep, char **out, size_t max)
{
	size_t n = 0;
	for (;;) {
		char *e = strchr(s, sep);
		if (n < max)
			out[n] = s;
		n++;
		if (e == NULL)
			return n;
		*e = '\0';
		s = e + 1;
	}
}

/* ---- recorder: every callback becomes a record ---- */

enum { F_KEY, F_MEMBER };                                                   /* samples */
enum { F_REASON };                                                          /* bad lines */
enum { F_TITLE, F_TEXT, F_HOST, F_AGGKEY, F_PRIO, F_SRC, F_ALERT, F_TAGS }; /* events */
enum { F_NAME, F_CHOST = 1, F_MSG = 2, F_CTAGS = 7 };                       /* checks */
#define NFIELDS 8

struct rec {
	char kind; /* 's' sample, 'b' bad, 'e' event, 'k' check, 'r' invalid rate */
	enum metric_type type;
	char *f[NFIELDS];
	size_t flen[NFIELDS];
	size_t name_len;
	double value, weight;
	bool delta;
	int64_t ts;
	int status;
	bool key_borrowed; /* the key points into the input */
};

#define MAX_RECS 64
struct recorder {
	struct rec r[MAX_RECS];
	size_t n, dropped;
	const char *in;
	size_t in_len;
};

static struct parse_scratch scratch;
static struct parse_scratch tq_scratch; /* the queue's fallback parses (below) */

/* in[0..len) in a heap block with PARSE_PAD bytes after it for
 * parse_packet_padded, filled with what would complete or continue a line
 * ("1|c\n" and names), which the parser must not take for the packet's. */
static char *padded_copy(const char *in, size_t len)
{
	static const char fill[] = "1|c\nz:1|c\n|ms\n";
	char *b = malloc(len + PARSE_PAD);
	if (b == NULL)
		abort();
	memcpy(b, in, len);
	for (size_t i = 0; i < PARSE_PAD; i++)
		b[len + i] = fill[i % (sizeof(fill) - 1)];
	return b;
}

static void rec_reset(struct recorder *rc, const char *in, size_t in_len)
{
	for (size_t i = 0; i < rc->n; i++)
		for (int j = 0; j < NFIELDS; j++)
			free(rc->r[i].f[j]);
	memset(rc, 0, sizeof(*rc));
	rc->in = in;
	rc->in_len = in_len;
}

static struct rec *rec_new(struct recorder *rc, char kind)
{
	if (rc->n == MAX_RECS) {
		rc->dropped++;
		return NULL;
	}
	struct rec *r = &rc->r[rc->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	return r;
}

static bool within(const struct recorder *rc, const char *p, size_t n)
{
	const char *s = scratch.key, *t = scratch.text;
	if (p >= rc->in && p + n <= rc->in + rc->in_len)
		return true;
	if (p >= tq_scratch.key && p + n <= tq_scratch.key + PARSE_KEY_MAX)
		return true;
	if (p >= s && p + n <= s + PARSE_KEY_MAX)
		return true;
	return p >= t && p + n <= t + PARSE_KEY_MAX;
}

/* Invariants every sample must meet. */
static void check_sample(const struct recorder *rc, const struct sample *s)
{
	CU_ASSERT(s->key_len < PARSE_KEY_MAX);
	CU_ASSERT(s->name_len <= s->key_len);
	CU_ASSERT(memchr(s->key, ';', s->name_len) == NULL);
	CU_ASSERT(s->name_len == s->key_len || s->key[s->name_len] == ';');
	CU_ASSERT(isfinite(s->value));
	CU_ASSERT(s->weight > 0 && isfinite(s->weight));
	CU_ASSERT(within(rc, s->key, s->key_len));
	CU_ASSERT((s->type == METRIC_SET) == (s->member != NULL));
	if (s->member != NULL)
		CU_ASSERT(within(rc, s->member, s->member_len));
}

static void record_sample(struct recorder *rc, const struct sample *s);

static void on_sample(void *ctx, const struct sample *s)
{
	check_sample(ctx, s);
	record_sample(ctx, s);
}

static void record_sample(struct recorder *rc, const struct sample *s)
{
	struct rec *r = rec_new(rc, 's');
	if (r == NULL)
		return;
	r->type = s->type;
	r->f[F_KEY] = dupn(s->key, s->key_len);
	r->flen[F_KEY] = s->key_len;
	r->f[F_MEMBER] = dupn(s->member, s->member_len);
	r->flen[F_MEMBER] = s->member_len;
	r->name_len = s->name_len;
	r->value = s->value;
	r->weight = s->weight;
	r->delta = s->gauge_delta;
	r->ts = s->timestamp;
	r->key_borrowed = s->key >= rc->in && s->key < rc->in + rc->in_len;
}

static void set_field(struct rec *r, int i, const char *s, size_t n)
{
	r->f[i] = dupn(s, n);
	r->flen[i] = n;
}

static void on_event(void *ctx, const struct parse_event *e)
{
	struct recorder *rc = ctx;
	struct rec *r = rec_new(rc, 'e');
	if (r == NULL)
		return;
	set_field(r, F_TITLE, e->title, e->title_len);
	set_field(r, F_TEXT, e->text, e->text_len);
	set_field(r, F_HOST, e->host, e->host_len);
	set_field(r, F_AGGKEY, e->agg_key, e->agg_key_len);
	set_field(r, F_PRIO, e->priority, e->priority_len);
	set_field(r, F_SRC, e->source, e->source_len);
	set_field(r, F_ALERT, e->alert_type, e->alert_type_len);
	set_field(r, F_TAGS, e->tags, e->tags_len);
	r->ts = e->timestamp;
}

static void on_check(void *ctx, const struct parse_check *c)
{
	struct recorder *rc = ctx;
	struct rec *r = rec_new(rc, 'k');
	if (r == NULL)
		return;
	set_field(r, F_NAME, c->name, c->name_len);
	set_field(r, F_CHOST, c->host, c->host_len);
	set_field(r, F_MSG, c->message, c->message_len);
	set_field(r, F_CTAGS, c->tags, c->tags_len);
	r->status = c->status;
	r->ts = c->timestamp;
}

static void on_bad(void *ctx, const char *line, size_t len, const char *reason)
{
	struct recorder *rc = ctx;
	CU_ASSERT(within(rc, line, len));
	struct rec *r = rec_new(rc, 'b');
	if (r != NULL)
		set_field(r, F_REASON, reason, strlen(reason));
}

static void on_invalid_rate(void *ctx)
{
	rec_new(ctx, 'r');
}

static const struct parse_handler handler = {.sample = on_sample,
                                             .event = on_event,
                                             .check = on_check,
                                             .bad = on_bad,
                                             .invalid_rate = on_invalid_rate};

/* ---- expectations ---- */

struct want {
	char kind;       /* as struct rec; 0 ends the list */
	const char *key; /* sample: series key; bad: reason; event: title; check: name */
	enum metric_type type;
	double value;
	double weight;
	bool delta;
	const char *member; /* set member */
	int64_t ts;
};

#define SMP(k, t, v, w)                                                                            \
	{                                                                                          \
		.kind = 's', .key = (k), .type = (t), .value = (v), .weight = (w)                  \
	}
#define C(k, v, w) SMP(k, METRIC_COUNTER, v, w)
#define G(k, v) SMP(k, METRIC_GAUGE, v, 1)
#define GD(k, v)                                                                                   \
	{                                                                                          \
		.kind = 's', .key = (k), .type = METRIC_GAUGE, .value = (v), .weight = 1,          \
		.delta = true                                                                      \
	}
#define MS(k, v, w) SMP(k, METRIC_TIMER, v, w)
#define H(k, v) SMP(k, METRIC_HISTOGRAM, v, 1)
#define DI(k, v) SMP(k, METRIC_DISTRIBUTION, v, 1)
#define SET(k, m, w)                                                                               \
	{                                                                                          \
		.kind = 's', .key = (k), .type = METRIC_SET, .weight = (w), .member = (m)          \
	}
#define CTS(k, v, ts_)                                                                             \
	{                                                                                          \
		.kind = 's', .key = (k), .type = METRIC_COUNTER, .value = (v), .weight = 1,        \
		.ts = (ts_)                                                                        \
	}
#define BAD(r)                                                                                     \
	{                                                                                          \
		.kind = 'b', .key = (r)                                                            \
	}
#define RATE                                                                                       \
	{                                                                                          \
		.kind = 'r'                                                                        \
	}
#define EV(t)                                                                                      \
	{                                                                                          \
		.kind = 'e', .key = (t)                                                            \
	}
#define SC(n)                                                                                      \
	{                                                                                          \
		.kind = 'k', .key = (n)                                                            \
	}

#define MAX_WANT 12
struct pcase {
	const char *in; /* packet, with the corpus escapes */
	unsigned opt;   /* OPT_* changes to parse_opts_default */
	struct want w[MAX_WANT];
};

enum {
	OPT_NODELTA = 1 << 0,
	OPT_NOSAN = 1 << 1,
	OPT_LIBRATO = 1 << 2,
	OPT_INFLUX = 1 << 3,
	OPT_SIGNALFX = 1 << 4,
	OPT_NAME8 = 1 << 5, /* max_name 8 */
	OPT_TAGS2 = 1 << 6, /* max_tags 2 */
};

static struct parse_opts opts_for(unsigned opt)
{
	struct parse_opts o;
	parse_opts_default(&o);
	if (opt & OPT_NODELTA)
		o.gauge_deltas = false;
	if (opt & OPT_NOSAN)
		o.sanitize = false;
	if (opt & OPT_LIBRATO)
		o.tag_styles |= TAG_STYLE_LIBRATO;
	if (opt & OPT_INFLUX)
		o.tag_styles |= TAG_STYLE_INFLUXDB;
	if (opt & OPT_SIGNALFX)
		o.tag_styles |= TAG_STYLE_SIGNALFX;
	if (opt & OPT_NAME8)
		o.max_name = 8;
	if (opt & OPT_TAGS2)
		o.max_tags = 2;
	return o;
}

static size_t nwant(const struct want *w)
{
	size_t n = 0;
	while (n < MAX_WANT && w[n].kind != 0)
		n++;
	return n;
}

static bool str_is(const char *got, size_t got_len, const char *want)
{
	return got != NULL && want != NULL && strlen(want) == got_len &&
	       memcmp(got, want, got_len) == 0;
}

static void match_rec(const char *ctx, size_t i, const struct rec *r, const struct want *w)
{
	if (failed(r->kind == w->kind, ctx, "record %zu: kind %c, want %c", i, r->kind, w->kind))
		return;
	switch (w->kind) {
	case 's':
		failed(str_is(r->f[F_KEY], r->flen[F_KEY], w->key), ctx,
		       "record %zu: key \"%s\", want \"%s\"", i, show(r->f[F_KEY], r->flen[F_KEY]),
		       show(w->key, strlen(w->key)));
		failed(r->name_len == strcspn(w->key, ";"), ctx, "record %zu: name_len %zu", i,
		       r->name_len);
		failed(r->type == w->type, ctx, "record %zu: type %s, want %s", i,
		       metric_type_name(r->type), metric_type_name(w->type));
		failed(near(r->weight, w->weight), ctx, "record %zu: weight %.17g, want %.17g", i,
		       r->weight, w->weight);
		failed(r->ts == w->ts, ctx, "record %zu: timestamp %lld, want %lld", i,
		       (long long)r->ts, (long long)w->ts);
		if (w->type == METRIC_SET) {
			failed(str_is(r->f[F_MEMBER], r->flen[F_MEMBER], w->member), ctx,
			       "record %zu: member \"%s\", want \"%s\"", i,
			       show(r->f[F_MEMBER], r->flen[F_MEMBER]), w->member);
		} else {
			failed(near(r->value, w->value), ctx, "record %zu: value %.17g, want %.17g",
			       i, r->value, w->value);
			failed(r->delta == w->delta, ctx, "record %zu: delta %d, want %d", i,
			       r->delta, w->delta);
		}
		break;
	case 'b':
		failed(str_is(r->f[F_REASON], r->flen[F_REASON], w->key), ctx,
		       "record %zu: reason \"%s\", want \"%s\"", i, r->f[F_REASON], w->key);
		break;
	case 'e':
		failed(str_is(r->f[F_TITLE], r->flen[F_TITLE], w->key), ctx,
		       "record %zu: title \"%s\", want \"%s\"", i,
		       show(r->f[F_TITLE], r->flen[F_TITLE]), w->key);
		break;
	case 'k':
		failed(str_is(r->f[F_NAME], r->flen[F_NAME], w->key), ctx,
		       "record %zu: name \"%s\", want \"%s\"", i,
		       show(r->f[F_NAME], r->flen[F_NAME]), w->key);
		break;
	default:
		break;
	}
}

static size_t count_lines(const char *p, size_t len)
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '\n') {
			size_t l = i - start;
			if (l > 0 && p[start + l - 1] == '\r')
				l--;
			n += l > 0;
			start = i + 1;
		}
	}
	return n;
}

/* Runs one case through parse_packet (and parse_line for a one-line
 * input, which must give the same records and the right return value). */
static void run_case(const struct pcase *c)
{
	struct recorder rc = {0};
	struct parse_opts o = opts_for(c->opt);
	size_t len;
	char *in = decode(c->in, &len);
	const char *ctx = c->in;
	size_t nw = nwant(c->w);

	rec_reset(&rc, in, len);
	size_t lines = parse_packet(in, len, &o, &scratch, &handler, &rc);
	failed(lines == count_lines(in, len), ctx, "parse_packet returned %zu lines", lines);
	failed(rc.n == nw && rc.dropped == 0, ctx, "%zu records, want %zu", rc.n, nw);
	for (size_t i = 0; i < rc.n && i < nw; i++)
		match_rec(ctx, i, &rc.r[i], &c->w[i]);

	/* from a buffer with room after it, as intake parses: the same */
	char *pin = padded_copy(in, len);
	rec_reset(&rc, pin, len);
	lines = parse_packet_padded(pin, len, &o, &scratch, &handler, &rc);
	failed(lines == count_lines(in, len), ctx, "parse_packet_padded returned %zu lines", lines);
	failed(rc.n == nw && rc.dropped == 0, ctx, "padded: %zu records, want %zu", rc.n, nw);
	for (size_t i = 0; i < rc.n && i < nw; i++)
		match_rec(ctx, i, &rc.r[i], &c->w[i]);
	free(pin);

	if (memchr(in, '\n', len) == NULL) {
		int want_ret = 0, nbad = 0;
		for (size_t i = 0; i < nw; i++) {
			want_ret +=
			    c->w[i].kind == 's' || c->w[i].kind == 'e' || c->w[i].kind == 'k';
			nbad += c->w[i].kind == 'b';
		}
		if (want_ret == 0 && nbad > 0)
			want_ret = -1;
		rec_reset(&rc, in, len);
		int ret = parse_line(in, len, &o, &scratch, &handler, &rc);
		failed(ret == want_ret, ctx, "parse_line returned %d, want %d", ret, want_ret);
		failed(rc.n == nw, ctx, "parse_line: %zu records, want %zu", rc.n, nw);
		for (size_t i = 0; i < rc.n && i < nw; i++)
			match_rec(ctx, i, &rc.r[i], &c->w[i]);
	}
	rec_reset(&rc, NULL, 0);
	free(in);
}

/* ---- the statsd corpus, packet by packet, in corpus order ---- */

static const struct pcase statsd_cases[] = {
    /* counters */
    {"gorets:1|c", 0, {C("gorets", 1, 1)}},
    {"gorets:1|c|@0.1", 0, {C("gorets", 1, 10)}},
    {"neg.counter:-3|c", 0, {C("neg.counter", -3, 1)}},
    {"float.counter:1.5|c", 0, {C("float.counter", 1.5, 1)}},
    {"sci.counter:1e3|c", 0, {C("sci.counter", 1000, 1)}},
    {"hex.counter:0x10|c", 0, {C("hex.counter", 16, 1)}},
    {"inf.counter:Infinity|c", 0, {BAD("bad value")}},
    {"rate.gt1:4|c|@2", 0, {C("rate.gt1", 4, 0.5)}},
    {"rate.dotonly:1|c|@.5", 0, {C("rate.dotonly", 1, 2)}},
    {"rate.sci:1|c|@1e-1", 0, {C("rate.sci", 1, 10)}},
    {"rate.zero:1|c|@0", 0, {C("rate.zero", 1, 1), RATE}},
    {"rate.extrafield:1|c|@0.5|whatever", 0, {C("rate.extrafield", 1, 2)}},
    {"multi:1|c:2|c:30|ms", 0, {C("multi", 1, 1), C("multi", 2, 1), MS("multi", 30, 1)}},
    {"unknown.type:5|x", 0, {BAD("unknown type")}},
    {"dd.histogram:5|h", 0, {H("dd.histogram", 5)}},
    {"dd.histogram:7|h", 0, {H("dd.histogram", 7)}},
    {"dd.distribution:7|d", 0, {DI("dd.distribution", 7)}},
    {"emptytype:1|", 0, {BAD("unknown type")}},
    {"upper.type:5|MS", 0, {BAD("unknown type")}},
    {"space.value: 5|c", 0, {C("space.value", 5, 1)}},
    /* gauges */
    {"gaugor:333|g", 0, {G("gaugor", 333)}},
    {"gaugor:-10|g", 0, {GD("gaugor", -10)}},
    {"gaugor:+4|g", 0, {GD("gaugor", 4)}},
    {"new.neg.gauge:-5|g", 0, {GD("new.neg.gauge", -5)}},
    {"new.plus.gauge:+5|g", 0, {GD("new.plus.gauge", 5)}},
    {"gauge.zero:0|g", 0, {G("gauge.zero", 0)}},
    {"gauge.zero:-3|g", 0, {GD("gauge.zero", -3)}},
    {"gauge.float:3.25|g", 0, {G("gauge.float", 3.25)}},
    {"gauge.sampled:10|g|@0.5", 0, {SMP("gauge.sampled", METRIC_GAUGE, 10, 2)}},
    {"gauge.reset:+5|g", 0, {GD("gauge.reset", 5)}},
    {"gauge.reset:7|g", 0, {G("gauge.reset", 7)}},
    {"lsg:10|g", 0, {G("lsg", 10)}},
    {"lsg: -5|g", 0, {G("lsg", -5)}},
    /* sets */
    {"uniques:765|s", 0, {SET("uniques", "765", 1)}},
    {"uniques:765|s", 0, {SET("uniques", "765", 1)}},
    {"uniques:766|s", 0, {SET("uniques", "766", 1)}},
    {"uniques:abc|s", 0, {SET("uniques", "abc", 1)}},
    {"set.empty:|s", 0, {SET("set.empty", "0", 1)}},
    {"set.sampled:1|s|@0.1", 0, {SET("set.sampled", "1", 10)}},
    /* timers */
    {"glork:320|ms", 0, {MS("glork", 320, 1)}},
    {"glork:100|ms|@0.1", 0, {MS("glork", 100, 10)}},
    {"glork:200|ms", 0, {MS("glork", 200, 1)}},
    {"t1:42|ms", 0, {MS("t1", 42, 1)}},
    {"tfloat:0.5|ms", 0, {MS("tfloat", 0.5, 1)}},
    {"t2:10|ms\\nt2:20|ms", 0, {MS("t2", 10, 1), MS("t2", 20, 1)}},
    {"t10:1|ms\\nt10:2|ms\\nt10:3|ms\\nt10:4|ms\\nt10:5|ms\\nt10:6|ms\\nt10:7|ms\\nt10:8|ms\\nt10:"
     "9|ms\\nt10:10|ms",
     0,
     {MS("t10", 1, 1), MS("t10", 2, 1), MS("t10", 3, 1), MS("t10", 4, 1), MS("t10", 5, 1),
      MS("t10", 6, 1), MS("t10", 7, 1), MS("t10", 8, 1), MS("t10", 9, 1), MS("t10", 10, 1)}},
    {"render.time:0.005|ms\\nrender.time:0.05|ms\\nrender.time:0.5|ms\\nrender.time:5|ms\\nrender."
     "time:50|ms\\nrender.time:10|ms",
     0,
     {MS("render.time", 0.005, 1), MS("render.time", 0.05, 1), MS("render.time", 0.5, 1),
      MS("render.time", 5, 1), MS("render.time", 50, 1), MS("render.time", 10, 1)}},
    {"histo.lat:10|ms\\nhisto.lat:60|ms\\nhisto.lat:199|ms\\nhisto.lat:200|ms\\nhisto.lat:300|ms",
     0,
     {MS("histo.lat", 10, 1), MS("histo.lat", 60, 1), MS("histo.lat", 199, 1),
      MS("histo.lat", 200, 1), MS("histo.lat", 300, 1)}},
    {"ws.timer:-5| ms", 0, {BAD("negative timer value")}},
    /* DogStatsD tags, Graphite tags */
    {"dd.tagged:1|c|#env:prod,role:web", 0, {C("dd.tagged;env=prod;role=web", 1, 1)}},
    {"dd.tagged:2|c|#env:prod,role:web", 0, {C("dd.tagged;env=prod;role=web", 2, 1)}},
    {"dd.tagged:1|c|#role:web,env:prod", 0, {C("dd.tagged;env=prod;role=web", 1, 1)}},
    {"dd.tagged.rate:1|c|@0.5|#env:prod", 0, {C("dd.tagged.rate;env=prod", 1, 2)}},
    {"dd.tag.before.rate:1|c|#env:prod|@0.5", 0, {C("dd.tag.before.rate;env=prod", 1, 2)}},
    {"dd.tag.novalue:1|c|#flag", 0, {C("dd.tag.novalue;flag", 1, 1)}},
    {"dd.tag.colons:1|c|#url:http://x:80/p", 0, {C("dd.tag.colons;url=http--x80-p", 1, 1)}},
    {"dd.tag.semicolon:1|c|#k:v;1", 0, {C("dd.tag.semicolon;k=v_1", 1, 1)}},
    {"dd.tag.empty:1|c|#", 0, {C("dd.tag.empty", 1, 1)}},
    {"dd.gauge.tagged:5|g|#a:b", 0, {G("dd.gauge.tagged;a=b", 5)}},
    {"dd.timer.tagged:5|ms|#a:b", 0, {MS("dd.timer.tagged;a=b", 5, 1)}},
    {"dd.set.tagged:x|s|#a:b", 0, {SET("dd.set.tagged;a=b", "x", 1)}},
    {"dd.containerid:1|c|#a:b|c:abc123", 0, {C("dd.containerid;a=b", 1, 1)}},
    {"gtag;env=prod:1|c", 0, {C("gtag;env=prod", 1, 1)}},
    /* key sanitising */
    {"fo/o:1|c", 0, {C("fo-o", 1, 1)}},
    {"b ar:1|c", 0, {C("b_ar", 1, 1)}},
    {"tab\\tname:1|c", 0, {C("tab_name", 1, 1)}},
    {"multiple   spaces:1|c", 0, {C("multiple_spaces", 1, 1)}},
    {" lead.trail :1|c", 0, {C("_lead.trail_", 1, 1)}},
    {"foo+bar:1|c", 0, {C("foobar", 1, 1)}},
    {"odd!@$%^&*()[]{}<>?,'\"`~chars:1|c", 0, {C("oddchars", 1, 1)}},
    {"café.métrique.名前:1|c", 0, {C("caf.mtrique.", 1, 1)}},
    {"bad\\xffutf8:1|c", 0, {C("badutf8", 1, 1)}},
    {"back\\\\slash:1|c", 0, {C("backslash", 1, 1)}},
    {"semi;colon=eq:1|c", 0, {C("semi;colon=eq", 1, 1)}},
    {"Mixed.CASE-dash_under:1|c", 0, {C("Mixed.CASE-dash_under", 1, 1)}},
    {"dots..double.:1|c", 0, {C("dots..double.", 1, 1)}},
    {":1|c", 0, {C("", 1, 1)}},
    /* multi-metric packets, empty lines, CR */
    {"mp.c:1|c\\nmp.ms:320|ms\\nmp.g:333|g\\nmp.s:765|s",
     0,
     {C("mp.c", 1, 1), MS("mp.ms", 320, 1), G("mp.g", 333), SET("mp.s", "765", 1)}},
    {"empty.lines:1|c\\n\\n\\nempty.lines:1|c",
     0,
     {C("empty.lines", 1, 1), C("empty.lines", 1, 1)}},
    {"trailing.nl:1|c\\n", 0, {C("trailing.nl", 1, 1)}},
    {"\\n", 0, {{0}}},
    {"\\n\\n", 0, {{0}}},
    {"<EMPTY>", 0, {{0}}},
    {"crlf.c:1|c\\r\\ncrlf.ms:5|ms\\r\\ncrlf.g:5|g\\r\\ncrlf.s:x|s\\r\\n",
     0,
     {C("crlf.c", 1, 1), MS("crlf.ms", 5, 1), G("crlf.g", 5), SET("crlf.s", "x", 1)}},
    /* bad lines (in the reference) */
    {"novalue", 0, {BAD("missing ':'")}},
    {"notype:1", 0, {BAD("missing type")}},
    {"badval:abc|c", 0, {BAD("bad value")}},
    {"nov:|c", 0, {BAD("empty value")}},
    {"badrate:1|c|0.1", 0, {C("badrate", 1, 1)}},
    {"negrate:1|c|@-0.1", 0, {C("negrate", 1, 1), RATE}},
    {"alpharate:1|c|@abc", 0, {BAD("bad sample rate")}},
    {"neg.timer:-5|ms", 0, {BAD("negative timer value")}},
    {"bad.gauge:abc|g", 0, {BAD("bad value")}},
    {"dd.timestamp:1|c|T1700000000", 0, {CTS("dd.timestamp", 1, 1700000000)}},
    {"_e{5,4}:title|text", 0, {EV("title")}},
    {"_sc|svc.check|0", 0, {SC("svc.check")}},
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_statsd_cases(void)
{
	for (size_t i = 0; i < NELEMS(statsd_cases); i++)
		run_case(&statsd_cases[i]);
}

/* Reads corpus.txt as send_corpus.py does; returns the packet lines
 * (escaped) in order. */
static size_t statsd_corpus(char **lines, size_t max, char **file)
{
	*file = read_file(TEST_DATA_DIR "/conformance/statsd/corpus.txt");
	if (*file == NULL)
		return 0;
	char *all[512];
	size_t n = split(*file, '\n', all, 512), k = 0;
	for (size_t i = 0; i < n && i < 512; i++) {
		char *l = all[i];
		size_t len = strlen(l);
		if (len > 0 && l[len - 1] == '\r')
			l[--len] = '\0';
		if (len == 0 || strcmp(l, "#") == 0 || strncmp(l, "# ", 2) == 0)
			continue;
		if (k < max)
			lines[k] = l;
		k++;
	}
	return k;
}

/* Every packet of the corpus has its case, in order, and nothing else. */
static void test_statsd_corpus_covered(void)
{
	char *lines[256], *file;
	size_t n = statsd_corpus(lines, 256, &file);

	CU_ASSERT_FATAL(file != NULL);
	failed(n == NELEMS(statsd_cases), "corpus.txt", "%zu packets, %zu cases", n,
	       NELEMS(statsd_cases));
	for (size_t i = 0; i < n && i < NELEMS(statsd_cases); i++)
		failed(strcmp(lines[i], statsd_cases[i].in) == 0, "corpus.txt",
		       "packet %zu is \"%s\", case is \"%s\"", i, lines[i], statsd_cases[i].in);
	free(file);
}

/* ---- the statsd corpus, aggregated, against the reference's output ----
 * What the parser delivers for the whole corpus, summed the way the
 * reference statsd sums it (counters: value x weight; gauges: deltas on an
 * existing gauge; sets: distinct members; timers: count and sum), must give
 * the numbers in expected_legacy.norm, except for the series below. */

struct agg {
	char *name[512];
	double v[512];
	size_t n;
};

static double *agg_slot(struct agg *a, const char *name, bool *fresh)
{
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->name[i], name) == 0) {
			*fresh = false;
			return &a->v[i];
		}
	}
	CU_ASSERT_FATAL(a->n < 512);
	a->name[a->n] = dupn(name, strlen(name));
	a->v[a->n] = 0;
	*fresh = true;
	return &a->v[a->n++];
}

static void agg_free(struct agg *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->name[i]);
	a->n = 0;
}

static const struct {
	const char *name;
	const char *why;
} ref_diffs[] = {
    {"stats_counts.inf.counter", "Infinity is not a finite number: bad line"},
    {"stats_counts.rate.zero", "@0 keeps rate 1 and is counted (the reference counts Infinity)"},
    {"stats_counts.unknown.type", "|x is a bad line (the reference counts unknown types)"},
    {"stats_counts.emptytype", "an empty type is a bad line"},
    {"stats_counts.upper.type", "types are case-sensitive: |MS is a bad line"},
    {"stats_counts.dd.histogram", "|h is a histogram, aggregated like ms"},
    {"stats_counts.dd.distribution", "|d is a distribution, aggregated like ms"},
    {"stats.timers.dd.histogram.count", "|h is a histogram, aggregated like ms"},
    {"stats.timers.dd.histogram.sum", "|h is a histogram, aggregated like ms"},
    {"stats.timers.dd.distribution.count", "|d is a distribution, aggregated like ms"},
    {"stats.timers.dd.distribution.sum", "|d is a distribution, aggregated like ms"},
    {"stats.timers.ws.timer.count", "a negative timer value is a bad line however spaced"},
    {"stats.timers.ws.timer.sum", "a negative timer value is a bad line however spaced"},
    {"stats_counts.dd.tagged;env=prod;role=web", "tags are sorted: both orders are one series"},
    {"stats_counts.dd.tagged;role=web;env=prod", "tags are sorted: both orders are one series"},
    {"stats_counts.dd.tag.before.rate;env=prod0.5", "fields in any order: |@0.5 after |#"},
    {"stats_counts.dd.tag.before.rate;env=prod", "fields in any order: |@0.5 after |#"},
    {"stats_counts.dd.containerid;a=bcabc123", "|c:<container> is a field, not part of a tag"},
    {"stats_counts.dd.containerid;a=b", "|c:<container> is a field, not part of a tag"},
    {"stats_counts.badrate", "an unknown field (0.1) is ignored, not a bad line"},
    {"stats_counts.negrate", "@-0.1 keeps rate 1 and is counted, not a bad line"},
    {"stats_counts.dd.timestamp", "|T<ts> is a field, not a bad line"},
    {"stats_counts.rate.sci", "@1e-1 is 0.1 (the reference reads only the leading [0-9.]: 1)"},
    {"stats.sets.crlf.s.count",
     "CRLF is accepted (the reference keeps the CR and rejects the set line x|s\\r)"},
};

static void aggregate(struct agg *a, struct agg *members, const struct rec *r)
{
	char name[2 * PARSE_KEY_MAX];
	const char *key = r->f[F_KEY], *tags = key + r->name_len;
	int nl = (int)r->name_len;
	bool fresh;
	double *v;

	switch (r->type) {
	case METRIC_COUNTER:
		snprintf(name, sizeof(name), "stats_counts.%s", key);
		*agg_slot(a, name, &fresh) += r->value * r->weight;
		break;
	case METRIC_GAUGE:
		snprintf(name, sizeof(name), "stats.gauges.%s", key);
		v = agg_slot(a, name, &fresh);
		*v = r->delta && !fresh ? *v + r->value : r->value;
		break;
	case METRIC_SET: {
		snprintf(name, sizeof(name), "%s\n%s", key, r->f[F_MEMBER]);
		agg_slot(members, name, &fresh);
		bool new_member = fresh;
		snprintf(name, sizeof(name), "stats.sets.%.*s.count%s", nl, key, tags);
		v = agg_slot(a, name, &fresh);
		if (new_member)
			*v += 1;
		break;
	}
	default:
		snprintf(name, sizeof(name), "stats.timers.%.*s.count%s", nl, key, tags);
		*agg_slot(a, name, &fresh) += r->weight;
		snprintf(name, sizeof(name), "stats.timers.%.*s.sum%s", nl, key, tags);
		*agg_slot(a, name, &fresh) += r->value;
		break;
	}
}

/* The reference lines this test can reproduce from parsed samples. */
static bool ref_comparable(const char *name)
{
	char base[1024];
	size_t bl = strcspn(name, ";");
	if (bl >= sizeof(base))
		return false;
	memcpy(base, name, bl);
	base[bl] = '\0';
	if (strncmp(name, "stats_counts.", 13) == 0)
		return strncmp(name, "stats_counts.statsd.", 20) != 0;
	if (strncmp(name, "stats.gauges.", 13) == 0)
		return strncmp(name, "stats.gauges.statsd.", 20) != 0;
	bool count = bl > 6 && strcmp(base + bl - 6, ".count") == 0;
	bool sum = bl > 4 && strcmp(base + bl - 4, ".sum") == 0;
	if (strncmp(name, "stats.sets.", 11) == 0)
		return count;
	if (strncmp(name, "stats.timers.", 13) == 0)
		return count || sum;
	return false;
}

static int ref_diff_index(const char *name)
{
	for (size_t i = 0; i < NELEMS(ref_diffs); i++)
		if (strcmp(ref_diffs[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void test_statsd_reference(void)
{
	char *lines[256], *file;
	size_t n = statsd_corpus(lines, 256, &file);
	struct agg ours = {0}, members = {0}, ref = {0};
	struct parse_opts o;
	struct recorder rc = {0};
	double metrics_received = 0, ref_metrics = -1, ref_packets = -1;
	bool fresh;

	CU_ASSERT_FATAL(file != NULL);
	parse_opts_default(&o);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *in = decode(lines[i], &len);
		rec_reset(&rc, in, len);
		metrics_received += (double)parse_packet(in, len, &o, &scratch, &handler, &rc);
		for (size_t j = 0; j < rc.n; j++)
			if (rc.r[j].kind == 's')
				aggregate(&ours, &members, &rc.r[j]);
		rec_reset(&rc, NULL, 0);
		free(in);
	}
	free(file);

	char *norm = read_file(TEST_DATA_DIR "/conformance/statsd/expected_legacy.norm");
	CU_ASSERT_FATAL(norm != NULL);
	char *rl[1024];
	size_t nr = split(norm, '\n', rl, 1024);
	for (size_t i = 0; i < nr && i < 1024; i++) {
		char *sp = strchr(rl[i], ' ');
		if (sp == NULL)
			continue;
		*sp = '\0';
		double v = strtod(sp + 1, NULL);
		if (strcmp(rl[i], "stats_counts.statsd.metrics_received") == 0)
			ref_metrics = v;
		if (strcmp(rl[i], "stats_counts.statsd.packets_received") == 0)
			ref_packets = v;
		if (ref_comparable(rl[i]))
			*agg_slot(&ref, rl[i], &fresh) = v;
	}
	free(norm);

	/* statsd.metrics_received counts non-empty lines, as the reference. */
	failed(metrics_received == ref_metrics, "metrics_received", "%g, reference %g",
	       metrics_received, ref_metrics);
	failed((double)n == ref_packets, "packets_received", "%zu, reference %g", n, ref_packets);

	bool listed_seen[NELEMS(ref_diffs)] = {false};
	for (int side = 0; side < 2; side++) {
		struct agg *a = side == 0 ? &ours : &ref, *b = side == 0 ? &ref : &ours;
		for (size_t i = 0; i < a->n; i++) {
			size_t j;
			for (j = 0; j < b->n && strcmp(b->name[j], a->name[i]) != 0; j++)
				;
			bool same = j < b->n && near(a->v[i], b->v[j]);
			int d = ref_diff_index(a->name[i]);
			if (d >= 0) {
				listed_seen[d] = true;
				failed(!same, a->name[i],
				       "listed in ref_diffs but equal to the reference");
			} else {
				failed(same, a->name[i], "%s %.17g, %s %s",
				       side == 0 ? "tallyd" : "reference", a->v[i],
				       side == 0 ? "reference" : "tallyd",
				       j < b->n ? "differs" : "has no such series");
			}
		}
	}
	for (size_t d = 0; d < NELEMS(ref_diffs); d++)
		failed(listed_seen[d], ref_diffs[d].name,
		       "listed in ref_diffs but produced by neither");
	agg_free(&ours);
	agg_free(&members);
	agg_free(&ref);
}

/* ---- the DogStatsD corpus, row by row, against the Datadog agent ----
 * For every row tallyd must reach the agent's verdict and, when accepted,
 * its name, type, values, sample rate, tags and timestamp, with the series
 * key written as tallyd writes it: name + ";k=v" per tag, tags sorted
 * bytewise (k:v becomes k=v). A row where tallyd deliberately differs is
 * listed here with what tallyd produces instead (NULL = as the agent) and
 * why; a listed field must still differ from the agent's. */

struct dsd_dev {
	const char *line; /* the row's `line` column, escaped as in corpus.tsv */
	const char *verdict, *key, *type, *values, *rate, *ts;
	bool delta;        /* the gauge values are deltas */
	bool rate_counted; /* handler->invalid_rate is called */
	const char *why;
};

#define SANITISED                                                                                  \
	"names and tags are sanitised as by the reference statsd (bytes outside [A-Za-z0-9_.;=-] " \
	"dropped, whitespace runs -> _, / -> -)"
#define TS_ANY_TYPE                                                                                \
	"a valid |T timestamp is accepted on every type and aggregated into the current interval " \
	"(the agent's no-aggregation pipeline drops it)"
#define HOST_TAG                                                                                   \
	"host: and dd.internal.* tags are ordinary tags (the agent moves them to the sample's "    \
	"host/origin)"
#define DELTA                                                                                      \
	"statsd.gauge_deltas (default, as the reference statsd): a signed gauge value is a delta"
#define BAD_RATE                                                                                   \
	"a rate that is not a positive finite number keeps the sample at rate 1 and is counted"
#define STYLES_OFF                                                                                 \
	"tag styles are off by default: '#' and ',' are name bytes, dropped by sanitising"
#define VALUE_WS "whitespace around a value is skipped, as the reference statsd (Number(' 1') is 1)"

static const struct dsd_dev dsd_devs[] = {
    {"♬†øU†øU¥ºuT0♪:666|g|#intitulé:T0µ", NULL, "UUuT0;intitul=T0", NULL, NULL, NULL, NULL, false,
     false, SANITISED},
    {"example.metric:2.39283|d|T1657100540|@1.000000|#environment:dev|c:"
     "2a25f7fc8fbf573d62053d7263dd2d440c07b6ab4d2b107e50b0d4df1f2ee15f|f:wowthisisacoolfeature|f2:"
     "omgthisoneiscooler",
     "accept", NULL, NULL, NULL, NULL, NULL, false, false, TS_ANY_TYPE},
    {"daemon:abc|s|@0.5|#sometag1:somevalue1,sometag2:somevalue2|T1658328888\\n", "accept", NULL,
     NULL, NULL, NULL, NULL, false, false, TS_ANY_TYPE},
    {"daemon:666|g|#protocol:http,host:custom-host,bench", NULL,
     "daemon;bench;host=custom-host;protocol=http", NULL, NULL, NULL, NULL, false, false, HOST_TAG},
    {"daemon:666|g|#sometag1:somevalue1,host:my-hostname,dd.internal.entity_id:foo,sometag2:"
     "somevalue2",
     NULL,
     "daemon;dd.internal.entity_id=foo;host=my-hostname;sometag1=somevalue1;sometag2=somevalue2",
     NULL, NULL, NULL, NULL, false, false, HOST_TAG},
    {"metric.name:123|g|c:metric-container|#dd.internal.card:none", NULL,
     "metric.name;dd.internal.card=none", NULL, NULL, NULL, NULL, false, false, HOST_TAG},
    {"smp,gge$:1|g", NULL, "smpgge", NULL, NULL, NULL, NULL, false, false, SANITISED},
    {"a:1|g|#f,,", NULL, "a;f", NULL, NULL, NULL, NULL, false, false, "empty tags are dropped"},
    {"new.first.empty:1|g||#,|c:xyz", NULL, "new.first.empty", NULL, NULL, NULL, NULL, false, false,
     "empty tags are dropped"},
    {"foo:-10|g", NULL, NULL, NULL, NULL, NULL, NULL, true, false, DELTA},
    {"foo#tag1=bar,tag2=baz:100|c", NULL, "footag1=bartag2=baz", NULL, NULL, NULL, NULL, false,
     false, STYLES_OFF},
    {"foo,tag1=bar,tag2=baz:100|c", NULL, "footag1=bartag2=baz", NULL, NULL, NULL, NULL, false,
     false, STYLES_OFF},
    {"foo#tag1=foo,tag3=bing:100|c|#tag1:bar,#tag2:baz", NULL,
     "footag1=footag3=bing;tag1=bar;tag2=baz", NULL, NULL, NULL, NULL, false, false, STYLES_OFF},
    {"foo:100|c|@0.1|#tag:\\xc3(invalid", NULL, "foo;tag=invalid", NULL, NULL, NULL, NULL, false,
     false, SANITISED},
    {"foo:2|c|@0", NULL, NULL, NULL, NULL, "1", NULL, false, true, BAD_RATE},
    {"invalid\\xc3(utf8:1|c", NULL, "invalidutf8", NULL, NULL, NULL, NULL, false, false, SANITISED},
    {"my_counter:1|c|#host:localhost,environment:prod,endpoint:/:tenant?/oauth/ro", NULL,
     "my_counter;endpoint=-tenant-oauth-ro;environment=prod;host=localhost", NULL, NULL, NULL, NULL,
     false, false, HOST_TAG "; " SANITISED},
    {"lone.plus:+100|g", NULL, NULL, NULL, NULL, NULL, NULL, true, false, DELTA},
    {"v: 1|g", "accept", "v", "g", "1", "1", NULL, false, false, VALUE_WS},
    {"v:1 |g", "accept", "v", "g", "1", "1", NULL, false, false, VALUE_WS},
    {" v:1|g", NULL, "_v", NULL, NULL, NULL, NULL, false, false, SANITISED},
    {"v:0x10|g", "accept", "v", "g", "16", "1", NULL, false, false,
     "hex values are accepted, as the reference statsd (Number('0x10') is 16)"},
    {"v:1|c|@-0.5", NULL, NULL, NULL, NULL, "1", NULL, false, true, BAD_RATE},
    {"v:1|c|#a,a,b", NULL, "v;a;b", NULL, NULL, NULL, NULL, false, false,
     "duplicate tags are removed from the key (the agent de-duplicates when it builds the "
     "context)"},
    {"v:1|c|# a , b ", NULL, "v;_a_;_b_", NULL, NULL, NULL, NULL, false, false, SANITISED},
    {"v:1|h|T1656581400", "accept", NULL, NULL, NULL, NULL, NULL, false, false, TS_ANY_TYPE},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, false, NULL},
};

enum { T_LINE, T_VERDICT, T_NAME, T_TYPE, T_VALUES, T_RATE, T_TAGS, T_TS, T_NCOLS = 12 };

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The agent's tag column (comma-joined) in tallyd's key form: ";k=v" per
 * tag (first ':' -> '='), sorted bytewise; empty and repeated tags kept. */
static void agent_tags(const char *col, char *out, size_t cap)
{
	char buf[1024], *tags[64];
	size_t o = 0;

	out[0] = '\0';
	if (col[0] == '\0')
		return;
	snprintf(buf, sizeof(buf), "%s", col);
	size_t n = split(buf, ',', tags, 64);
	for (size_t i = 0; i < n && i < 64; i++) {
		char *c = strchr(tags[i], ':');
		if (c != NULL)
			*c = '=';
	}
	qsort(tags, n < 64 ? n : 64, sizeof(tags[0]), cmp_str);
	for (size_t i = 0; i < n && i < 64; i++)
		o += (size_t)snprintf(out + o, cap - o, ";%s", tags[i]);
}

/* Column i of a row that may hold several messages joined by ';'. */
static const char *col_part(char *col, size_t msg, size_t nmsg, char *buf, size_t cap)
{
	char *parts[16];
	if (nmsg == 1)
		return col;
	snprintf(buf, cap, "%s", col);
	size_t n = split(buf, ';', parts, 16);
	return msg < n ? parts[msg] : "";
}

static const struct dsd_dev *dsd_dev_for(const char *line, bool *used)
{
	for (size_t i = 0; dsd_devs[i].line != NULL; i++) {
		if (strcmp(dsd_devs[i].line, line) == 0) {
			used[i] = true;
			return &dsd_devs[i];
		}
	}
	return NULL;
}

static char *dsd_decode_col(const char *s)
{
	size_t len;
	return decode(s, &len);
}

/* A listed field must still differ from the agent's column. */
static void dsd_check_listed(const struct dsd_dev *d, char **c)
{
	char key[2048], tags[1024];

	agent_tags(c[T_TAGS], tags, sizeof(tags));
	snprintf(key, sizeof(key), "%s%s", c[T_NAME], tags);
	failed(d->why != NULL && d->why[0] != '\0', d->line, "deviation without a reason");
	if (d->verdict != NULL)
		failed(strcmp(d->verdict, c[T_VERDICT]) != 0, d->line,
		       "listed verdict is the agent's");
	if (d->key != NULL)
		failed(strcmp(d->key, key) != 0, d->line, "listed key is the agent's");
	if (d->type != NULL)
		failed(strcmp(d->type, c[T_TYPE]) != 0, d->line, "listed type is the agent's");
	if (d->values != NULL)
		failed(strcmp(d->values, c[T_VALUES]) != 0, d->line,
		       "listed values are the agent's");
	if (d->rate != NULL)
		failed(strcmp(d->rate, c[T_RATE]) != 0, d->line, "listed rate is the agent's");
	if (d->ts != NULL)
		failed(strcmp(d->ts, c[T_TS]) != 0, d->line, "listed timestamp is the agent's");
	failed(d->verdict || d->key || d->type || d->values || d->rate || d->ts || d->delta,
	       d->line, "listed without any difference");
}

static void dsd_message(const char *ctx, const char *msg, size_t mlen, const struct dsd_dev *d,
                        char **c, size_t m, size_t nmsg)
{
	struct parse_opts o;
	struct recorder rc = {0};
	char b[8][1024], tags[1024], key[2048];
	const char *verdict = col_part(c[T_VERDICT], m, nmsg, b[0], sizeof(b[0]));
	const char *name = col_part(c[T_NAME], m, nmsg, b[1], sizeof(b[1]));
	const char *type = col_part(c[T_TYPE], m, nmsg, b[2], sizeof(b[2]));
	const char *values = col_part(c[T_VALUES], m, nmsg, b[3], sizeof(b[3]));
	const char *rate = col_part(c[T_RATE], m, nmsg, b[4], sizeof(b[4]));
	const char *tagcol = col_part(c[T_TAGS], m, nmsg, b[5], sizeof(b[5]));
	const char *ts = col_part(c[T_TS], m, nmsg, b[6], sizeof(b[6]));

	if (d != NULL) {
		verdict = d->verdict ? d->verdict : verdict;
		type = d->type ? d->type : type;
		values = d->values ? d->values : values;
		rate = d->rate ? d->rate : rate;
		ts = d->ts ? d->ts : ts;
	}
	agent_tags(tagcol, tags, sizeof(tags));
	snprintf(key, sizeof(key), "%s%s", name, tags);
	if (d != NULL && d->key != NULL)
		snprintf(key, sizeof(key), "%s", d->key);

	parse_opts_default(&o);
	rec_reset(&rc, msg, mlen);
	int ret = parse_line(msg, mlen, &o, &scratch, &handler, &rc);
	size_t nbad = 0, nrate = 0, nsmp = 0;
	for (size_t i = 0; i < rc.n; i++) {
		nbad += rc.r[i].kind == 'b';
		nrate += rc.r[i].kind == 'r';
		nsmp += rc.r[i].kind != 'b' && rc.r[i].kind != 'r';
	}
	const char *got = ret > 0 && nbad == 0 ? "accept" : ret == -1 ? "reject" : "partial";
	if (failed(strcmp(got, verdict) == 0, ctx, "message %zu: %s, want %s", m, got, verdict) ||
	    strcmp(verdict, "reject") == 0) {
		rec_reset(&rc, NULL, 0);
		return;
	}
	int64_t want_ts = strtoll(ts, NULL, 10);
	if (strcmp(type, "_e") == 0 || strcmp(type, "_sc") == 0) {
		bool ev = type[1] == 'e';
		const struct rec *r = &rc.r[0];
		if (!failed(rc.n == 1 && r->kind == (ev ? 'e' : 'k'), ctx,
		            "message %zu: not one %s", m, ev ? "event" : "check")) {
			failed(str_is(r->f[0], r->flen[0], name), ctx,
			       "title/name \"%s\", want \"%s\"", show(r->f[0], r->flen[0]), name);
			if (ev)
				failed(str_is(r->f[F_TEXT], r->flen[F_TEXT], values), ctx,
				       "text \"%s\", want \"%s\"",
				       show(r->f[F_TEXT], r->flen[F_TEXT]), values);
			else
				failed(r->status == atoi(values), ctx, "status %d, want %s",
				       r->status, values);
			failed(str_is(r->f[F_TAGS], r->flen[F_TAGS], tags), ctx,
			       "tags \"%s\", want \"%s\"", show(r->f[F_TAGS], r->flen[F_TAGS]),
			       tags);
			failed(r->ts == want_ts, ctx, "timestamp %lld, want %lld", (long long)r->ts,
			       (long long)want_ts);
		}
		rec_reset(&rc, NULL, 0);
		return;
	}

	char vbuf[1024], *vals[32];
	snprintf(vbuf, sizeof(vbuf), "%s", values);
	size_t nv = split(vbuf, ',', vals, 32);
	if (strcmp(type, "s") == 0) {
		nv = 1;
		vals[0] = (char *)values;
	}
	double weight = 1 / strtod(rate, NULL);
	failed(nsmp == nv, ctx, "message %zu: %zu samples, want %zu", m, nsmp, nv);
	failed(nrate == (d != NULL && d->rate_counted), ctx, "invalid_rate called %zu times",
	       nrate);
	for (size_t i = 0, k = 0; i < rc.n && k < nv; i++) {
		const struct rec *r = &rc.r[i];
		if (r->kind != 's')
			continue;
		failed(strcmp(metric_type_name(r->type), type) == 0, ctx, "type %s, want %s",
		       metric_type_name(r->type), type);
		failed(str_is(r->f[F_KEY], r->flen[F_KEY], key), ctx, "key \"%s\", want \"%s\"",
		       show(r->f[F_KEY], r->flen[F_KEY]), show(key, strlen(key)));
		if (r->type == METRIC_SET)
			failed(str_is(r->f[F_MEMBER], r->flen[F_MEMBER], vals[k]), ctx,
			       "member \"%s\", want \"%s\"",
			       show(r->f[F_MEMBER], r->flen[F_MEMBER]), vals[k]);
		else
			failed(near(r->value, strtod(vals[k], NULL)), ctx, "value %.17g, want %s",
			       r->value, vals[k]);
		failed(near(r->weight, weight), ctx, "weight %.17g, want %.17g", r->weight, weight);
		failed(r->delta == (d != NULL && d->delta), ctx, "delta %d", r->delta);
		failed(r->ts == want_ts, ctx, "timestamp %lld, want %lld", (long long)r->ts,
		       (long long)want_ts);
		k++;
	}
	rec_reset(&rc, NULL, 0);
}

static void test_dogstatsd_corpus(void)
{
	char *file = read_file(TEST_DATA_DIR "/conformance/dogstatsd/corpus.tsv");
	char *rows[256];
	bool used[NELEMS(dsd_devs)] = {false};
	size_t checked = 0;

	CU_ASSERT_FATAL(file != NULL);
	size_t nrows = split(file, '\n', rows, 256);
	CU_ASSERT_FATAL(nrows < 256);
	for (size_t i = 1; i < nrows; i++) {
		char *raw[T_NCOLS + 1], *c[T_NCOLS];
		if (rows[i][0] == '\0')
			continue;
		size_t nc = split(rows[i], '\t', raw, T_NCOLS + 1);
		if (failed(nc == T_NCOLS, "corpus.tsv", "row %zu has %zu columns", i, nc))
			continue;
		const char *ctx = raw[T_LINE];
		for (int k = 0; k < T_NCOLS; k++)
			c[k] = k == T_LINE ? NULL : dsd_decode_col(raw[k]);
		const struct dsd_dev *d = dsd_dev_for(raw[T_LINE], used);

		size_t plen;
		char *pkt = decode(raw[T_LINE], &plen);
		char *parts[16];
		char vbuf[64];
		snprintf(vbuf, sizeof(vbuf), "%s", c[T_VERDICT]);
		size_t nmsg = split(vbuf, ';', parts, 16);
		if (d != NULL) {
			failed(nmsg == 1, ctx, "deviations are for one-message rows");
			dsd_check_listed(d, c);
		}

		struct parse_opts o;
		struct recorder rc = {0};
		parse_opts_default(&o);
		rec_reset(&rc, pkt, plen);
		size_t lines = parse_packet(pkt, plen, &o, &scratch, &handler, &rc);
		rec_reset(&rc, NULL, 0);
		failed(lines == nmsg, ctx, "parse_packet: %zu lines, want %zu", lines, nmsg);

		size_t m = 0, start = 0;
		for (size_t k = 0; k <= plen; k++) {
			if (k < plen && pkt[k] != '\n')
				continue;
			size_t l = k - start;
			if (l > 0 && pkt[start + l - 1] == '\r')
				l--;
			if (l > 0 && m < nmsg)
				dsd_message(ctx, pkt + start, l, d, c, m, nmsg);
			m += l > 0;
			start = k + 1;
		}
		failed(m == nmsg, ctx, "%zu messages, want %zu", m, nmsg);
		checked++;
		free(pkt);
		for (int k = 0; k < T_NCOLS; k++)
			free(c[k]);
	}
	failed(checked == 100, "corpus.tsv", "%zu rows checked", checked);
	for (size_t i = 0; dsd_devs[i].line != NULL; i++)
		failed(used[i], dsd_devs[i].line, "listed deviation matches no corpus row");
	free(file);
}

/* ---- focused cases ---- */

static const struct pcase focus_cases[] = {
    /* packed values */
    {"p:1:2:3|d", 0, {DI("p", 1), DI("p", 2), DI("p", 3)}},
    {"p::1::|c", 0, {C("p", 1, 1)}},
    {"p:1:x:2|c", 0, {BAD("bad value")}},
    {"p:::|c", 0, {BAD("empty value")}},
    {"p:1:-2|ms", 0, {BAD("negative timer value")}},
    {"p:1:-2|h", 0, {BAD("negative timer value")}},
    {"p:-0|d", 0, {DI("p", 0)}},
    {"p:+1:-2: 3|g", 0, {GD("p", 1), GD("p", -2), G("p", 3)}},
    {"p:a:b|s", 0, {SET("p", "a:b", 1)}},
    {"p:1:2|c|@0.5|#t", 0, {C("p;t", 1, 2), C("p;t", 2, 2)}},
    /* reference multi-group lines; fields apply to every group */
    {"m:1|c:x|c:3|ms", 0, {C("m", 1, 1), BAD("bad value"), MS("m", 3, 1)}},
    {"m:1|c:2|zz:3|g|@0.5|#a:b",
     0,
     {C("m;a=b", 1, 2), BAD("unknown type"), SMP("m;a=b", METRIC_GAUGE, 3, 2)}},
    {"m:1|c:", 0, {C("m", 1, 1), BAD("missing type")}},
    {"m:x|c:y|g", 0, {BAD("bad value"), BAD("bad value")}},
    {"m:1|c:2:3|ms:u|s", 0, {C("m", 1, 1), MS("m", 2, 1), MS("m", 3, 1), SET("m", "u", 1)}},
    {"m:1|c: 2 | g |T5",
     0,
     {CTS("m", 1, 5),
      {.kind = 's', .key = "m", .type = METRIC_GAUGE, .value = 2, .weight = 1, .ts = 5}}},
    /* sample rates */
    {"r:1|c|@0", 0, {C("r", 1, 1), RATE}},
    {"r:1:2|c|@-1", 0, {C("r", 1, 1), C("r", 2, 1), RATE}},
    {"r:1|c:2|g|@0", 0, {C("r", 1, 1), G("r", 2), RATE}},
    {"r:1|c|@0|@0.5", 0, {C("r", 1, 2)}},
    {"r:1|c|@0.5|@0", 0, {C("r", 1, 1), RATE}},
    {"r:x|c|@0", 0, {BAD("bad value")}},
    {"r:1|c|@", 0, {BAD("bad sample rate")}},
    {"r:1|c|@ 0.25 ", 0, {C("r", 1, 4)}},
    {"r:1|c|@nan", 0, {BAD("bad sample rate")}},
    {"r:1|c|@inf", 0, {BAD("bad sample rate")}},
    {"r:1|c|@1e-320", 0, {C("r", 1, 1), RATE}},
    {"r:1|ms|@4", 0, {MS("r", 1, 0.25)}},
    {"r:1|c|@0.5|@abc", 0, {BAD("bad sample rate")}},
    /* timestamps */
    {"t:1|g|T1",
     0,
     {{.kind = 's', .key = "t", .type = METRIC_GAUGE, .value = 1, .weight = 1, .ts = 1}}},
    {"t:1|c|T+5", 0, {CTS("t", 1, 5)}},
    {"t:1|c|T0", 0, {BAD("bad timestamp")}},
    {"t:1|c|T", 0, {BAD("bad timestamp")}},
    {"t:1|c|T1.5", 0, {BAD("bad timestamp")}},
    {"t:1|c|T 5", 0, {BAD("bad timestamp")}},
    {"t:1|c|T99999999999999999999", 0, {BAD("bad timestamp")}},
    {"t:1|c|T5|T7", 0, {CTS("t", 1, 7)}},
    {"t:a|s|T5",
     0,
     {{.kind = 's', .key = "t", .type = METRIC_SET, .weight = 1, .member = "a", .ts = 5}}},
    /* CR and LF */
    {"a:1|c\\r\\nb:2|c\\r\\n", 0, {C("a", 1, 1), C("b", 2, 1)}},
    {"a:1|c\\r\\r\\n", 0, {C("a", 1, 1)}},
    {"a:1|s\\r\\r\\n", 0, {SET("a", "1", 1)}},
    {"\\r\\n\\r\\n\\r", 0, {{0}}},
    {"a:1|c|#x:y\\r", 0, {C("a;x=y", 1, 1)}},
    {"a:1|c\\nnovalue\\nb:1|c", 0, {C("a", 1, 1), BAD("missing ':'"), C("b", 1, 1)}},
    /* tags: sorted bytewise, duplicates and empty tags dropped, last # wins */
    {"t:1|c|#b,a,c:1,a", 0, {C("t;a;b;c=1", 1, 1)}},
    {"t;b=2;a=1:1|c|#a:1,c", 0, {C("t;a=1;b=2;c", 1, 1)}},
    {"t:1|c|#B,a,_,-,0", 0, {C("t;-;0;B;_;a", 1, 1)}},
    {"t:1|c|#a:1,a", 0, {C("t;a;a=1", 1, 1)}},
    {"t:1|c|#\\xc3\\xa9,,  ,a", 0, {C("t;_;a", 1, 1)}},
    {"t:1|c|#a|#b,c", 0, {C("t;b;c", 1, 1)}},
    {"t:1|c|#a b,a_b,a\\t \\tb", 0, {C("t;a_b", 1, 1)}},
    {"t;;a;:1|c", 0, {C("t;a", 1, 1)}},
    {";a=b:1|c", 0, {C(";a=b", 1, 1)}},
    {"t:1|c|#a::b:c", 0, {C("t;a=bc", 1, 1)}},
    {"t:1|c|#:", 0, {C("t;=", 1, 1)}},
    {"t:1|c|#host:h,dd.internal.entity_id:x", 0, {C("t;dd.internal.entity_id=x;host=h", 1, 1)}},
    {"t:1|c|#a,b|c:cid|e:ext|card:high|x:y", 0, {C("t;a;b", 1, 1)}},
    /* sanitising off: bytes kept, tags still canonical */
    {"fo/o b!:1|c", OPT_NOSAN, {C("fo/o b!", 1, 1)}},
    {"caf\\xc3\\xa9:1|c", OPT_NOSAN, {C("caf\xc3\xa9", 1, 1)}},
    {"n;z=1;a=2:1|c|#k:v;x,url:a:b,a=2", OPT_NOSAN, {C("n;a=2;k=v_x;url=a:b;z=1", 1, 1)}},
    {"n# x:1|c|# b ", OPT_NOSAN, {C("n# x; b ", 1, 1)}},
    /* gauge deltas off */
    {"g:-5|g", OPT_NODELTA, {G("g", -5)}},
    {"g:+5|g", OPT_NODELTA, {G("g", 5)}},
    {"g:-5|c", 0, {C("g", -5, 1)}},
    /* tag styles */
    {"foo#tag1=bar:1|c", 0, {C("footag1=bar", 1, 1)}},
    {"foo#tag1=bar,tag2=baz:100|c", OPT_LIBRATO, {C("foo;tag1=bar;tag2=baz", 100, 1)}},
    {"foo,tag2=baz,tag1=bar:100|c", OPT_INFLUX, {C("foo;tag1=bar;tag2=baz", 100, 1)}},
    {"foo,tag2=baz,tag1=bar:100|c", OPT_LIBRATO, {C("footag2=baztag1=bar", 100, 1)}},
    {"foo[tag1=bar,tag2=baz].count:1|c", OPT_SIGNALFX, {C("foo.count;tag1=bar;tag2=baz", 1, 1)}},
    {"foo[unclosed:1|c", OPT_SIGNALFX, {C("foounclosed", 1, 1)}},
    {"foo[a=1].bar;b=2:1|c", OPT_SIGNALFX, {C("foo.bar;a=1;b=2", 1, 1)}},
    {"foo#a=1:1|c|#b:2,a:1", OPT_LIBRATO, {C("foo;a=1;b=2", 1, 1)}},
    {"foo#a=1;b=2:1|c", OPT_LIBRATO, {C("foo;a=1_b=2", 1, 1)}},
    {"foo#a b=1:1|c", OPT_LIBRATO | OPT_NOSAN, {C("foo;a b=1", 1, 1)}},
    /* limits */
    {"12345678:1|c", OPT_NAME8, {C("12345678", 1, 1)}},
    {"123456789:1|c", OPT_NAME8, {BAD("name too long")}},
    {"abc;d=123:1|c", OPT_NAME8, {BAD("name too long")}},
    {"t:1|c|#a,b", OPT_TAGS2, {C("t;a;b", 1, 1)}},
    {"t:1|c|#a,b,c", OPT_TAGS2, {BAD("too many tags")}},
    {"t:1|c|#a,b,a,b,,", OPT_TAGS2, {C("t;a;b", 1, 1)}},
    {"t;a=1:1|c|#b,c", OPT_TAGS2, {BAD("too many tags")}},
    {"_e{1,1}:a|b|#x,y,z", OPT_TAGS2, {BAD("too many tags")}},
    /* values and types */
    {"v:0x1p-2|g", 0, {G("v", 0.25)}},
    {"v:1e400|c", 0, {BAD("bad value")}},
    {"v:nan|s", 0, {SET("v", "nan", 1)}},
    {"v:-inf|g", 0, {BAD("bad value")}},
    {"v: -5|g", 0, {G("v", -5)}},
    {"v:\\t+5|g", 0, {G("v", 5)}},
    {"v:1|\\tms\\t", 0, {MS("v", 1, 1)}},
    {"v:1|m s", 0, {BAD("unknown type")}},
    {"v:1|cc", 0, {BAD("unknown type")}},
    {"v:1|gauge", 0, {BAD("unknown type")}},
    {"v:1", 0, {BAD("missing type")}},
    {"v", 0, {BAD("missing ':'")}},
    {"a|b:1|c", 0, {C("ab", 1, 1)}},
    {"_scx:1|c", 0, {C("_scx", 1, 1)}},
    {"_e:1|c", 0, {C("_e", 1, 1)}},
    /* documented differences from the reference statsd and the agent */
    {"r:1|c|@0.5x", 0, {BAD("bad sample rate")}},
    {"v:-0x10|c", 0, {C("v", -16, 1)}},
    {"v:0b101|c", 0, {BAD("bad value")}},
    {"v:0o17|c", 0, {BAD("bad value")}},
    {"a\\xc2\\xa0b:1|c", 0, {C("ab", 1, 1)}},
    {"a;:1|c", 0, {C("a", 1, 1)}},
    {"a;;b=1:1|c", 0, {C("a;b=1", 1, 1)}},
    {"_sc_foo:1|c", 0, {C("_sc_foo", 1, 1)}},
    {"_e{1,1x:a|b", 0, {BAD("bad event header")}},
    {"ws.timer:5| ms", 0, {MS("ws.timer", 5, 1)}},
    {"multi:1|c:2|c:30|ms|#b,a",
     0,
     {C("multi;a;b", 1, 1), C("multi;a;b", 2, 1), MS("multi;a;b", 30, 1)}},
    /* events and checks in a packet */
    {"_e{1,1}:a|b\\n_sc|c|2\\nm:1|c", 0, {EV("a"), SC("c"), C("m", 1, 1)}},
    {"_e{1,1}a|b", 0, {BAD("bad event header")}},
    {"_e{1,1:a|b", 0, {BAD("bad event header")}},
    {"_e{1}:a|b", 0, {BAD("bad event header")}},
    {"_e{x,1}:a|b", 0, {BAD("bad event header")}},
    {"_e{1,y}:a|b", 0, {BAD("bad event header")}},
    {"_e{-1,1}:a|b", 0, {BAD("bad event header")}},
    {"_e{0,1}:|b", 0, {BAD("empty event title")}},
    {"_e{1,2}:a|b", 0, {BAD("event lengths exceed line")}},
    {"_e{2,0}:a", 0, {BAD("event lengths exceed line")}},
    {"_e{99999999999999999999,1}:a|b", 0, {BAD("bad event header")}},
    {"_e{9223372036854775807,9223372036854775807}:a|b", 0, {BAD("event lengths exceed line")}},
    {"_sc", 0, {BAD("missing ':'")}},
    {"_sc|", 0, {BAD("bad service check")}},
    {"_sc|x", 0, {BAD("bad service check")}},
    {"_sc||0", 0, {BAD("empty service check name")}},
    {"_sc|x|", 0, {BAD("bad service check status")}},
    {"_sc|x|4", 0, {BAD("bad service check status")}},
    {"_sc|x|00", 0, {BAD("bad service check status")}},
    {"_sc|x|3|", 0, {SC("x")}},
};

static void test_focus_cases(void)
{
	for (size_t i = 0; i < NELEMS(focus_cases); i++)
		run_case(&focus_cases[i]);
}

/* ---- limits on generated lines ---- */

struct lcase {
	size_t name_len; /* 'n' repeated */
	size_t ntags;    /* distinct tags t<i> of tag_len bytes */
	size_t tag_len;
	bool dup; /* every tag sent twice */
	size_t max_name, max_tags;
	const char *reason; /* NULL: accepted */
	size_t key_len;     /* expected when accepted */
};

static const struct lcase limit_cases[] = {
    {512, 0, 0, false, 512, 64, NULL, 512},
    {513, 0, 0, false, 512, 64, "name too long", 0},
    {10, 64, 4, false, 512, 64, NULL, 10 + 64 * 5},
    {10, 65, 4, false, 512, 64, "too many tags", 0},
    {10, 64, 4, true, 512, 64, NULL, 10 + 64 * 5},
    {10, 1024, 4, false, 512, 5000, NULL, 10 + 1024 * 5},
    {10, 1025, 4, false, 512, 5000, "too many tags", 0},
    {8191, 0, 0, false, 10000, 64, NULL, 8191},
    {8192, 0, 0, false, 10000, 64, "key too long", 0},
    {8000, 22, 8, false, 10000, 64, "key too long", 0},
    {8000, 21, 8, false, 10000, 20, "too many tags", 0},
    {8191 - 10 * 9, 10, 8, false, 10000, 64, NULL, 8191},
    {8192 - 10 * 9, 10, 8, false, 10000, 64, "key too long", 0},
    {100, 1, 8090, false, 10000, 64, NULL, 8191},
    {100, 1, 8091, false, 10000, 64, "key too long", 0},
    {10, 1, 9000, false, 10000, 64, "key too long", 0},
    {0, 3, 2729, false, 10000, 64, NULL, 3 * 2730},
    {0, 4, 2047, false, 10000, 64, "key too long", 0},
    {0, 4, 2046, false, 10000, 64, NULL, 4 * 2047},
};

static void test_limits(void)
{
	for (size_t i = 0; i < NELEMS(limit_cases); i++) {
		const struct lcase *c = &limit_cases[i];
		size_t cap = c->name_len + 32 + c->ntags * 2 * (c->tag_len + 1);
		char *line = malloc(cap), ctx[64];
		size_t o = 0;
		struct parse_opts opts;
		struct recorder rc = {0};

		snprintf(ctx, sizeof(ctx), "limit_cases[%zu]", i);
		memset(line, 'n', c->name_len);
		o = c->name_len;
		o += (size_t)snprintf(line + o, cap - o, ":1|c|#");
		for (size_t rep = 0; rep < (c->dup ? 2u : 1u); rep++) {
			for (size_t t = 0; t < c->ntags; t++) {
				int w = snprintf(line + o, cap - o, "%s%0*zu",
				                 o > 0 && line[o - 1] != '#' ? "," : "",
				                 (int)c->tag_len, t);
				o += (size_t)w;
			}
		}
		parse_opts_default(&opts);
		opts.max_name = c->max_name;
		opts.max_tags = c->max_tags;
		rec_reset(&rc, line, o);
		int ret = parse_line(line, o, &opts, &scratch, &handler, &rc);
		if (c->reason != NULL) {
			failed(ret == -1 && rc.n == 1 && rc.r[0].kind == 'b' &&
			           strcmp(rc.r[0].f[F_REASON], c->reason) == 0,
			       ctx, "ret %d, %zu records, first %s", ret, rc.n,
			       rc.n > 0 && rc.r[0].kind == 'b' ? rc.r[0].f[F_REASON] : "-");
		} else if (!failed(ret == 1 && rc.n == 1 && rc.r[0].kind == 's', ctx, "ret %d",
		                   ret)) {
			failed(rc.r[0].flen[F_KEY] == c->key_len, ctx, "key_len %zu, want %zu",
			       rc.r[0].flen[F_KEY], c->key_len);
			failed(rc.r[0].name_len == c->name_len, ctx, "name_len %zu",
			       rc.r[0].name_len);
		}
		rec_reset(&rc, NULL, 0);
		free(line);
	}
}

/* ---- events and service checks, every field ---- */

struct ecase {
	const char *in;
	const char *title, *text, *host, *agg_key, *priority, *source, *alert_type, *tags;
	int64_t ts;
};

static const struct ecase event_cases[] = {
    {"_e{5,4}:title|text", "title", "text", NULL, NULL, "normal", NULL, "info", "", 0},
    {"_e{10,9}:test title|test text|t:warning|d:12345|p:low|h:some.host|k:aggKey|s:source "
     "test|#tag1,tag2:test",
     "test title", "test text", "some.host", "aggKey", "low", "source test", "warning",
     ";tag1;tag2=test", 12345},
    {"_e{1,1}:a|b|d:1|d:2|h:x|h:y|#p|#q", "a", "b", "y", NULL, "normal", NULL, "info", ";q", 2},
    {"_e{1,1}:a|b|d:abc|p:high|t:fatal", "a", "b", NULL, NULL, "normal", NULL, "info", "", 0},
    {"_e{1,1}:a|b|p:low|p:bogus|t:error|t:bogus", "a", "b", NULL, NULL, "low", NULL, "error", "",
     0},
    {"_e{1,1}:a|b|t:success|d:-5", "a", "b", NULL, NULL, "normal", NULL, "success", "", -5},
    {"_e{1,0}:a||h:", "a", "", "", NULL, "normal", NULL, "info", "", 0},
    {"_e{4,8}:a\\\\nb|x\\\\ny\\\\\\\\nz", "a\nb", "x\ny\\\nz", NULL, NULL, "normal", NULL, "info",
     "", 0},
    {"_e{1,3}:a|\\\\n\\\\|#b:c d/e,a", "a", "\n\\", NULL, NULL, "normal", NULL, "info",
     ";a;b=c_d-e", 0},
    {"_e{+1,+1}:a|b", "a", "b", NULL, NULL, "normal", NULL, "info", "", 0},
    {"_e{1,1}:a|b|c:cid|e:ext|card:low|zzz", "a", "b", NULL, NULL, "normal", NULL, "info", "", 0},
};

struct kcase {
	const char *in;
	const char *name;
	int status;
	const char *host, *message, *tags;
	int64_t ts;
};

static const struct kcase check_cases[] = {
    {"_sc|agent.up|0", "agent.up", 0, NULL, NULL, "", 0},
    {"_sc|agent.up|3|d:21|h:localhost|#tag1:test,tag2|m:this is fine", "agent.up", 3, "localhost",
     "this is fine", ";tag1=test;tag2", 21},
    {"_sc|a|1|d:21|h:x|h:y|d:22|m:1|m:2", "a", 1, "y", "2", "", 22},
    {"_sc|check|2|m:line1\\\\nline2 m\\\\: x", "check", 2, NULL, "line1\\nline2 m\\: x", "", 0},
    {"_sc|a b|0|d:x|#b,a,b|c:cid", "a b", 0, NULL, NULL, ";a;b", 0},
};

static bool field_is(const struct rec *r, int i, const char *want)
{
	if (want == NULL)
		return r->f[i] == NULL;
	return str_is(r->f[i], r->flen[i], want);
}

static void test_events(void)
{
	for (size_t i = 0; i < NELEMS(event_cases); i++) {
		const struct ecase *c = &event_cases[i];
		struct parse_opts o;
		struct recorder rc = {0};
		size_t len;
		char *in = decode(c->in, &len);

		parse_opts_default(&o);
		rec_reset(&rc, in, len);
		int ret = parse_line(in, len, &o, &scratch, &handler, &rc);
		if (!failed(ret == 1 && rc.n == 1 && rc.r[0].kind == 'e', c->in, "ret %d", ret)) {
			const struct rec *r = &rc.r[0];
			const char *want[] = {c->title,    c->text,   c->host,       c->agg_key,
			                      c->priority, c->source, c->alert_type, c->tags};
			static const char *const names[] = {"title",      "text",     "host",
			                                    "agg_key",    "priority", "source",
			                                    "alert_type", "tags"};
			for (int f = 0; f < 8; f++)
				failed(field_is(r, f, want[f]), c->in, "%s \"%s\", want \"%s\"",
				       names[f], show(r->f[f], r->flen[f]),
				       want[f] ? want[f] : "(absent)");
			failed(r->ts == c->ts, c->in, "timestamp %lld", (long long)r->ts);
		}
		rec_reset(&rc, NULL, 0);
		free(in);
	}
	for (size_t i = 0; i < NELEMS(check_cases); i++) {
		const struct kcase *c = &check_cases[i];
		struct parse_opts o;
		struct recorder rc = {0};
		size_t len;
		char *in = decode(c->in, &len);

		parse_opts_default(&o);
		rec_reset(&rc, in, len);
		int ret = parse_line(in, len, &o, &scratch, &handler, &rc);
		if (!failed(ret == 1 && rc.n == 1 && rc.r[0].kind == 'k', c->in, "ret %d", ret)) {
			const struct rec *r = &rc.r[0];
			failed(field_is(r, F_NAME, c->name), c->in, "name");
			failed(r->status == c->status, c->in, "status %d", r->status);
			failed(field_is(r, F_CHOST, c->host), c->in, "host \"%s\"",
			       show(r->f[F_CHOST], r->flen[F_CHOST]));
			failed(field_is(r, F_MSG, c->message), c->in, "message \"%s\"",
			       show(r->f[F_MSG], r->flen[F_MSG]));
			failed(field_is(r, F_CTAGS, c->tags), c->in, "tags \"%s\"",
			       show(r->f[F_CTAGS], r->flen[F_CTAGS]));
			failed(r->ts == c->ts, c->in, "timestamp %lld", (long long)r->ts);
		}
		rec_reset(&rc, NULL, 0);
		free(in);
	}
}

/* Event text longer than the scratch once unescaped is a bad line; without
 * an escape it stays in the packet, whatever its length. */
static void test_event_text_size(void)
{
	static const struct {
		size_t text_len;
		bool escape;
		int ret;
	} cases[] = {
	    {PARSE_KEY_MAX * 2, false, 1},
	    {PARSE_KEY_MAX - 8, true, 1},
	    {PARSE_KEY_MAX + 8, true, -1},
	};
	for (size_t i = 0; i < NELEMS(cases); i++) {
		size_t n = cases[i].text_len, cap = n + 32;
		char *line = malloc(cap);
		int o = snprintf(line, cap, "_e{1,%zu}:a|", n);
		struct parse_opts opts;
		struct recorder rc = {0};

		memset(line + o, 'x', n);
		if (cases[i].escape)
			memcpy(line + o, "\\n", 2);
		parse_opts_default(&opts);
		rec_reset(&rc, line, (size_t)o + n);
		int ret = parse_line(line, (size_t)o + n, &opts, &scratch, &handler, &rc);
		failed(ret == cases[i].ret, "event text size", "case %zu: ret %d", i, ret);
		if (ret == 1)
			failed(rc.r[0].flen[F_TEXT] == n - cases[i].escape, "event text size",
			       "case %zu: text_len %zu", i, rc.r[0].flen[F_TEXT]);
		rec_reset(&rc, NULL, 0);
		free(line);
	}
}

/* ---- zero copy and optional callbacks ---- */

static void test_zero_copy(void)
{
	static const struct {
		const char *in;
		bool borrowed;
	} cases[] = {
	    {"plain.name-1_x=y:1|c", true}, {"plain:1|c|#", true}, {"plain:1|c|#,,", true},
	    {"plain:1|c|#a", false},        {"pl ain:1|c", false}, {"pl;a=b:1|c", false},
	    {"caf\xc3\xa9:1|c", false},
	};
	struct parse_opts o;
	parse_opts_default(&o);
	for (size_t i = 0; i < NELEMS(cases); i++) {
		struct recorder rc = {0};
		size_t len = strlen(cases[i].in);
		char *in = dupn(cases[i].in, len);
		rec_reset(&rc, in, len);
		parse_line(in, len, &o, &scratch, &handler, &rc);
		failed(rc.n == 1 && rc.r[0].key_borrowed == cases[i].borrowed, cases[i].in,
		       "key borrowed %d", rc.n == 1 && rc.r[0].key_borrowed);
		rec_reset(&rc, NULL, 0);
		free(in);
	}
}

static int null_samples;
static void count_sample(void *ctx, const struct sample *s)
{
	(void)ctx;
	(void)s;
	null_samples++;
}

/* event, check and invalid_rate may be NULL: lines still count. */
static void test_null_callbacks(void)
{
	static const struct {
		const char *in;
		int ret, samples;
	} cases[] = {
	    {"_e{1,1}:a|b", 1, 0}, {"_sc|a|0", 1, 0},  {"a:1|c|@0", 1, 1},
	    {"_e{0,1}:|b", -1, 0}, {"_sc|a|9", -1, 0}, {"a:1|c:2|g|@0", 2, 2},
	};
	const struct parse_handler h = {.sample = count_sample};
	const char *pkt = "_e{1,1}:a|b\n_sc|a|0\nbad\n\n";
	struct parse_opts o;

	parse_opts_default(&o);
	for (size_t i = 0; i < NELEMS(cases); i++) {
		null_samples = 0;
		int ret = parse_line(cases[i].in, strlen(cases[i].in), &o, &scratch, &h, NULL);
		failed(ret == cases[i].ret && null_samples == cases[i].samples, cases[i].in,
		       "ret %d samples %d", ret, null_samples);
	}
	failed(parse_packet(pkt, strlen(pkt), &o, &scratch, &h, NULL) == 3, "packet",
	       "null callbacks");
}

/* parse_packet reads the common line ("name:17|c") in one pass of its own;
 * every line must give exactly what parse_line (the general path) gives, as
 * the last line of a packet, before '\n' and before "\r\n". */
static bool same_recs(const struct recorder *a, const struct recorder *b)
{
	if (a->n != b->n || a->dropped != b->dropped)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct rec *x = &a->r[i], *y = &b->r[i];
		if (x->kind != y->kind || x->type != y->type || x->name_len != y->name_len ||
		    memcmp(&x->value, &y->value, sizeof(double)) != 0 ||
		    memcmp(&x->weight, &y->weight, sizeof(double)) != 0 || x->delta != y->delta ||
		    x->ts != y->ts)
			return false;
		for (int j = 0; j < NFIELDS; j++)
			if (x->flen[j] != y->flen[j] ||
			    (x->flen[j] > 0 && memcmp(x->f[j], y->f[j], x->flen[j]) != 0))
				return false;
	}
	return true;
}

/* parse_packet with a queue (parse.h), used as intake uses it: samples
 * that come through the callback are queued behind the parser's own (a
 * set is recorded at once, after the queue), and the commit records them
 * in order, a line whose unchecked name is not plain parsed again by
 * parse_line. The timestamp is not queued (the shard does not keep it). */
static struct sample_queue tq;
static char tq_keys[SAMPLE_QUEUE_MAX][PARSE_KEY_MAX];
static const struct parse_opts *tq_opts;

static void tq_commit(void *ctx)
{
	struct recorder *rc = ctx;
	size_t n = tq.n;
	tq.n = 0;
	for (size_t i = 0; i < n; i++) {
		const struct qsample *q = &tq.v[i];
		if (q->line_len != 0) {
			/* an unchecked name: the line's start, in the packet */
			CU_ASSERT(within(rc, q->key, q->line_len));
			CU_ASSERT(q->key_len < q->line_len && q->key[q->key_len] == ':');
			CU_ASSERT(memchr(q->key, '\n', q->line_len) == NULL);
			if (!parse_name_plain(q->key, q->key_len)) {
				parse_line(q->key, q->line_len, tq_opts, &tq_scratch, &handler, rc);
				continue;
			}
		}
		struct sample s = {.type = (enum metric_type)q->type,
		                   .key = q->key,
		                   .key_len = q->key_len,
		                   .name_len = q->line_len != 0 ? q->key_len : q->name_len,
		                   .value = q->value,
		                   .weight = q->weight,
		                   .gauge_delta = q->gauge_delta};
		record_sample(rc, &s);
	}
}

static void tq_sample(void *ctx, const struct sample *s)
{
	if (s->type == METRIC_SET) {
		tq_commit(ctx);
		on_sample(ctx, s);
		return;
	}
	check_sample(ctx, s);
	if (tq.n == SAMPLE_QUEUE_MAX)
		tq_commit(ctx);
	char *key = tq_keys[tq.n];
	memcpy(key, s->key, s->key_len);
	tq.v[tq.n++] = (struct qsample){.key = key,
	                                .key_len = (uint16_t)s->key_len,
	                                .name_len = (uint16_t)s->name_len,
	                                .value = s->value,
	                                .weight = s->weight,
	                                .type = (unsigned char)s->type,
	                                .gauge_delta = s->gauge_delta};
}

static const struct parse_handler queue_handler = {.sample = tq_sample,
                                                   .event = on_event,
                                                   .check = on_check,
                                                   .bad = on_bad,
                                                   .invalid_rate = on_invalid_rate,
                                                   .queue = &tq,
                                                   .commit = tq_commit};

/* With the queue, samples are recorded at the commit but invalid rates
 * counted at once: compare them after the rest, in their own order. */
static void rates_last(struct recorder *rc)
{
	struct rec tmp[MAX_RECS];
	size_t k = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < rc->n; i++)
			if ((rc->r[i].kind == 'r') == (pass == 1))
				tmp[k++] = rc->r[i];
	memcpy(rc->r, tmp, rc->n * sizeof(tmp[0]));
}

static void packet_vs_line(const char *line, size_t n, const struct parse_opts *o)
{
	/* The last tail puts 32 bytes after the line: the parser's loop for
	 * the commonest lines (queue_lines) reads it. */
	static const char *const tails[] = {"", "\n", "\r\n", "\nz:1|c",
	                                    "\nz:1|c\nz:1|c\nz:1|c\nz:1|c\nz:1|c\nz:1|c\n"};
	static const size_t tail_lines[] = {0, 0, 0, 1, 6};
	static struct recorder want, got;
	char pkt[256];

	if (n + 48 > sizeof(pkt))
		return;
	/* t / NELEMS(tails): 0 parse_packet, 1 with the queue, 2 with the
	 * queue from a buffer with room after the packet (parse_packet_padded) */
	for (size_t t = 0; t < 3 * NELEMS(tails); t++) {
		size_t ti = t % NELEMS(tails);
		bool queued = t >= NELEMS(tails), padded = t >= 2 * NELEMS(tails);
		size_t tl = strlen(tails[ti]);
		memcpy(pkt, line, n);
		memcpy(pkt + n, tails[ti], tl);
		/* The line as parse_line gets it: before "\r\n", with its '\r'
		 * (parse_line drops one, as the packet's split does). */
		size_t wn = n + (ti == 2);
		rec_reset(&want, pkt, wn);
		int r = parse_line(pkt, wn, o, &scratch, &handler, &want);
		char *pin = padded ? padded_copy(pkt, n + tl) : NULL;
		rec_reset(&got, padded ? pin : pkt, n + tl);
		size_t lines;
		if (queued) {
			tq_opts = o;
			lines = padded
			            ? parse_packet_padded(pin, n + tl, o, &scratch, &queue_handler,
			                                  &got)
			            : parse_packet(pkt, n + tl, o, &scratch, &queue_handler, &got);
			tq_commit(&got);
			/* without the queue, the timestamp */
			for (size_t i = 0; i < want.n; i++)
				if (want.r[i].kind == 's')
					want.r[i].ts = 0;
		} else {
			lines = parse_packet(pkt, n + tl, o, &scratch, &handler, &got);
		}
		/* The extra lines of the tails are counters: drop their records
		 * (and free what they hold) before comparing. */
		for (size_t k = 0; k < tail_lines[ti] && got.n > 0; k++) {
			got.n--;
			for (int j = 0; j < NFIELDS; j++)
				free(got.r[got.n].f[j]);
		}
		if (queued) {
			rates_last(&want);
			rates_last(&got);
		}
		size_t nonempty = (n > 0 && !(n == 1 && line[0] == '\r')) ? 1 : 0;
		failed(same_recs(&want, &got) && lines == nonempty + tail_lines[ti], show(line, n),
		       "tail %zu%s: parse_packet %zu recs, parse_line %zu recs (ret %d)", ti,
		       padded   ? " queued padded"
		       : queued ? " queued"
		                : "",
		       got.n, want.n, r);
		free(pin);
	}
	rec_reset(&want, NULL, 0);
	rec_reset(&got, NULL, 0);
}

/* A packet that ends inside a line's type: the parser must not read past
 * its end (found by fuzz_parse: "mp.s:7657633|" at the end of a packet
 * made the 8-byte digit reader look at the byte after it). Each line is
 * parsed from a heap block of exactly its size (ASan sees a read past it)
 * and from a buffer where the next byte would complete the line ('c', "s\n"):
 * both must give what parse_line gives for the line as it is. */
static void test_packet_end(void)
{
	static const char *const lines[] = {
	    "mp.s:7657633|",
	    "a:1|",
	    "a:1234567|",
	    "a:12345678|",
	    "a:1|m",
	    "a:123|m",
	    "a:1.5|",
	    "a:7|",
	    "app.metric.n1234:1|",
	    "app.metric.n1234:1234567|",
	    "app.metric.n1234:12|m",
	};
	static struct recorder want, got;
	for (size_t i = 0; i < NELEMS(lines); i++) {
		size_t n = strlen(lines[i]);
		/* how % 3: 0 an exact block, 1 's' after, 2 'c' after;
		 * how >= 3: with a queue; how 6: with a queue, padded (what
		 * would complete the line after it: padded_copy) */
		for (int how = 0; how < 7; how++) {
			char *exact;
			if (how == 6) {
				exact = padded_copy(lines[i], n);
			} else {
				char *buf = malloc(n + 2);
				memcpy(buf, lines[i], n);
				buf[n] = how % 3 == 1 ? 's' : 'c';
				buf[n + 1] = '\n';
				exact = how % 3 == 0 ? realloc(buf, n) : buf;
			}
			struct parse_opts o;
			parse_opts_default(&o);
			rec_reset(&want, exact, n);
			parse_line(exact, n, &o, &scratch, &handler, &want);
			rec_reset(&got, exact, n);
			if (how == 6) {
				tq_opts = &o;
				parse_packet_padded(exact, n, &o, &scratch, &queue_handler, &got);
				tq_commit(&got);
			} else if (how >= 3) {
				tq_opts = &o;
				parse_packet(exact, n, &o, &scratch, &queue_handler, &got);
				tq_commit(&got);
			} else {
				parse_packet(exact, n, &o, &scratch, &handler, &got);
			}
			failed(same_recs(&want, &got), lines[i], "way %d: %zu recs, want %zu", how,
			       got.n, want.n);
			free(exact);
		}
	}
	rec_reset(&want, NULL, 0);
	rec_reset(&got, NULL, 0);
}

static void test_common_line_path(void)
{
	static const char *const lines[] = {
	    "a:1|c",
	    "app.metric.n1234:1|c",
	    "app.metric.n12345:1|c",
	    "app.metric.n123:1|c",
	    "abcdefghijklmnopqrstuvwxyz.ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789_=:1|c",
	    "a:0|c",
	    "a:007|ms",
	    "a:1.|g",
	    "a:.5|g",
	    "a:1.2.3|c",
	    "a:.|c",
	    "a:|c",
	    ":1|c",
	    "a:123456789012345|c",
	    "a:1234567890123456|c",
	    "a:0.000000000000001|c",
	    "a:1|c\r",
	    "a:1|c\r\r",
	    "a:1|c ",
	    "a: 1|c",
	    "a:1 |c",
	    "a:+1|g",
	    "a:-1|g",
	    "a:1|ms",
	    "a:1|m",
	    "a:1|msx",
	    "a:1|h",
	    "a:1|d",
	    "a:1|s",
	    "a:x|s",
	    "a:1|x",
	    "a:1|c|@0.5",
	    "a:1|c|#t:v",
	    "a:1|c:2|g",
	    "a:1:2|c",
	    "a:1e3|c",
	    "a:0x10|c",
	    "a/b:1|c",
	    "a b:1|c",
	    "a;k=v:1|c",
	    "a#k=v:1|c",
	    "a,k=v:1|c",
	    "a[k=v]:1|c",
	    "a\x7f:1|c",
	    "a\x0d:1|c",
	    "a\x80:1|c",
	    "a\xff:1|c",
	    "a`:1|c",
	    "a@:1|c",
	    "a^:1|c",
	    "a{:1|c",
	    "a~:1|c",
	    "_e{1,1}:a|b",
	    "_sc|a|0",
	    "_:1|c",
	    "a",
	    "0123456789abcdef:1|c",
	    "0123456789abcdef0123456789abcdef:1|c",
	    "0123456789abcdef0123456789abcde/:1|c",
	    "0123456789abcde\x01:1|c",
	};
	struct parse_opts o[3];
	for (int k = 0; k < 3; k++)
		parse_opts_default(&o[k]);
	o[1].sanitize = false;
	o[2].max_name = 16;
	o[2].tag_styles = TAG_STYLE_LIBRATO | TAG_STYLE_INFLUXDB | TAG_STYLE_SIGNALFX;
	for (size_t i = 0; i < NELEMS(lines); i++) {
		size_t n;
		char *l = decode(lines[i], &n);
		for (int k = 0; k < 3; k++)
			packet_vs_line(l, n, &o[k]);
		free(l);
	}
	/* Random lines near the common form, from a fixed seed. */
	static const char name_ch[] = "ab09._-=Z/ ;:#,[]|\x7f\x80\x0d\x01";
	static const char val_ch[] = "0123456789.+- e|:";
	static const char *const types[] = {"c",      "g",     "ms",  "m",     "s",
	                                    "h",      "d",     "x",   "c ",    "c|@0.5",
	                                    "c|#a:b", "c:2|g", "c\r", "ms\r\r"};
	uint64_t x = 0x243f6a8885a308d3ULL;
	for (int it = 0; it < 50000; it++) {
		char l[128];
		size_t n = 0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t nl = x % 20, vl = (x >> 8) % 18;
		for (size_t i = 0; i < nl; i++, x = x * 6364136223846793005ULL + 1)
			l[n++] = (x >> 60) < 12 ? "abcdefghij.-"[(x >> 60)]
			                        : name_ch[(x >> 33) % (sizeof(name_ch) - 1)];
		l[n++] = ':';
		for (size_t i = 0; i < vl; i++, x = x * 6364136223846793005ULL + 1)
			l[n++] = (x >> 61) < 6 ? (char)('0' + (x >> 40) % 10)
			                       : val_ch[(x >> 33) % (sizeof(val_ch) - 1)];
		const char *t = types[(x >> 20) % NELEMS(types)];
		l[n++] = '|';
		memcpy(l + n, t, strlen(t));
		n += strlen(t);
		packet_vs_line(l, n, &o[(x >> 50) % 3]);
	}
	/* Common lines with random fields: DogStatsD tag lists (sorted or
	 * not, duplicates, empty tags, bytes to sanitise, over max_tags),
	 * rates, timestamps, unknown and empty fields, a trailing '\r'. */
	static const char *const tags[] = {"a:b", "env:prod", "b",   "a:b", "",    "x y:z", "k:v:w",
	                                   "z:1", ";s",       "t/u", "A:B", "a:c", "a:b:"};
	static const char *const fields[] = {"@0.5", "@0",   "@x", "T1700000000", "T0", "c:abc",
	                                     "e:1",  "card", "",   "#",           "@1"};
	o[2].max_tags = 2;
	for (int it = 0; it < 50000; it++) {
		char l[256];
		size_t n = 0;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		n += (size_t)snprintf(l, sizeof(l), "app.n%u:%u|%s", (unsigned)(x % 50),
		                      (unsigned)((x >> 8) % 100), (x >> 16) % 2 ? "c" : "ms");
		for (size_t f = (x >> 20) % 4; f > 0; f--) {
			x = x * 6364136223846793005ULL + 1;
			if ((x >> 60) < 10) {
				l[n++] = '|';
				l[n++] = '#';
				for (size_t k = (x >> 40) % 6; k > 0; k--) {
					x = x * 6364136223846793005ULL + 1;
					const char *tg = tags[(x >> 33) % NELEMS(tags)];
					n += (size_t)snprintf(l + n, sizeof(l) - n, "%s%s", tg,
					                      k > 1 ? "," : "");
				}
			} else {
				n += (size_t)snprintf(l + n, sizeof(l) - n, "|%s",
				                      fields[(x >> 33) % NELEMS(fields)]);
			}
		}
		if ((x >> 58) == 0)
			l[n++] = '\r';
		packet_vs_line(l, n, &o[(x >> 50) % 3]);
	}
}

static void test_defaults(void)
{
	struct parse_opts o;
	memset(&o, 0xff, sizeof(o));
	parse_opts_default(&o);
	CU_ASSERT(o.gauge_deltas);
	CU_ASSERT(o.sanitize);
	CU_ASSERT(o.tag_styles == 0);
	CU_ASSERT(o.max_name == 512);
	CU_ASSERT(o.max_tags == 64);
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"statsd corpus cases", test_statsd_cases},
	    {"statsd corpus covered", test_statsd_corpus_covered},
	    {"statsd corpus vs reference output", test_statsd_reference},
	    {"dogstatsd corpus vs agent", test_dogstatsd_corpus},
	    {"focused cases", test_focus_cases},
	    {"limits", test_limits},
	    {"events and checks", test_events},
	    {"event text size", test_event_text_size},
	    {"zero copy", test_zero_copy},
	    {"null callbacks", test_null_callbacks},
	    {"one-pass common lines = general path", test_common_line_path},
	    {"a packet that ends inside a line", test_packet_end},
	    {"defaults", test_defaults},
	};

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("parse", NULL, NULL);
	if (s == NULL)
		return 1;
	for (size_t i = 0; i < NELEMS(tests); i++)
		if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
			return 1;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
}
