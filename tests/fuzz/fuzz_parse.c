/* fuzz_parse: libFuzzer harness for the line parser. Feeds every input to
 * parse_packet under three option sets, with and without a queue, and
 * parse_packet_padded with a queue (from a buffer with room after it), and aborts
 * as soon as a callback sees a broken invariant (key and name lengths, finite
 * values and weights, pointers that stay inside the input or the scratch) or
 * the queue changes the count of samples or bad lines. It checks nothing
 * else about meaning: tests/unit/test_parse does. Built by tests/fuzz/run.sh or
 * ./configure CC=clang --enable-fuzzers; never part of make check. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct parse_scratch scratch;

struct run {
	const char *in;
	size_t len;
	size_t delivered, bad;
	const struct parse_opts *o;
};

static void must(bool ok)
{
	if (!ok)
		abort();
}

static bool in_span(const char *p, size_t n, const char *base, size_t cap)
{
	return p >= base && n <= cap && p <= base + cap - n;
}

static bool in_input(const struct run *r, const char *p, size_t n)
{
	return in_span(p, n, r->in, r->len);
}

/* An optional string field: absent (NULL, 0) or inside the input. */
static bool opt_input(const struct run *r, const char *p, size_t n)
{
	return p == NULL ? n == 0 : in_input(r, p, n);
}

static void on_sample(void *ctx, const struct sample *s)
{
	struct run *r = ctx;

	must(s->type >= METRIC_COUNTER && s->type < METRIC_TYPE_COUNT);
	must(s->key != NULL);
	must(s->key_len < PARSE_KEY_MAX);
	must(s->name_len <= s->key_len);
	must(memchr(s->key, ';', s->name_len) == NULL);
	must(s->name_len == s->key_len || s->key[s->name_len] == ';');
	must(in_input(r, s->key, s->key_len) ||
	     in_span(s->key, s->key_len, scratch.key, PARSE_KEY_MAX));
	must(isfinite(s->value));
	must(s->weight > 0 && isfinite(s->weight));
	must(s->timestamp >= 0);
	if (s->type == METRIC_SET) {
		must(s->member != NULL && s->member_len > 0);
		must(in_input(r, s->member, s->member_len) ||
		     in_span(s->member, s->member_len, scratch.text, PARSE_KEY_MAX));
		must(!s->gauge_delta);
	} else {
		must(s->member == NULL);
		must(!s->gauge_delta || s->type == METRIC_GAUGE);
		must(!metric_is_timer(s->type) || s->value >= 0);
	}
	r->delivered++;
}

static bool in_text(const char *p, size_t n)
{
	return in_span(p, n, scratch.text, PARSE_KEY_MAX);
}

static void on_event(void *ctx, const struct parse_event *e)
{
	struct run *r = ctx;

	must(e->title != NULL && e->title_len > 0);
	must(in_input(r, e->title, e->title_len) || in_text(e->title, e->title_len));
	must(e->text != NULL);
	must(in_input(r, e->text, e->text_len) || in_text(e->text, e->text_len));
	must(opt_input(r, e->host, e->host_len));
	must(opt_input(r, e->agg_key, e->agg_key_len));
	must(opt_input(r, e->source, e->source_len));
	must(in_input(r, e->priority, e->priority_len) ||
	     (e->priority_len == 6 && memcmp(e->priority, "normal", 6) == 0));
	must(in_input(r, e->alert_type, e->alert_type_len) ||
	     (e->alert_type_len == 4 && memcmp(e->alert_type, "info", 4) == 0));
	must(in_span(e->tags, e->tags_len, scratch.key, PARSE_KEY_MAX - 1));
	r->delivered++;
}

static void on_check(void *ctx, const struct parse_check *c)
{
	struct run *r = ctx;

	must(c->name != NULL && c->name_len > 0 && in_input(r, c->name, c->name_len));
	must(c->status >= 0 && c->status <= 3);
	must(opt_input(r, c->host, c->host_len));
	must(opt_input(r, c->message, c->message_len));
	must(in_span(c->tags, c->tags_len, scratch.key, PARSE_KEY_MAX - 1));
	r->delivered++;
}

static void on_bad(void *ctx, const char *line, size_t len, const char *reason)
{
	struct run *r = ctx;

	must(reason != NULL && reason[0] != '\0');
	must(len > 0 && in_input(r, line, len));
	must(memchr(line, '\n', len) == NULL);
	r->bad++;
}

static void on_invalid_rate(void *ctx)
{
	(void)ctx;
}

static const struct parse_handler handler = {.sample = on_sample,
                                             .event = on_event,
                                             .check = on_check,
                                             .bad = on_bad,
                                             .invalid_rate = on_invalid_rate};

/* parse_packet with a queue (parse.h): the common lines are queued, their
 * names unchecked; at the commit every queued sample is checked and
 * counted, and a line whose name is not plain is parsed again with
 * parse_line, as intake's fallback does. Samples that come through the
 * callback are counted at once (order does not matter to a count). */
static struct sample_queue queue;

static void queue_commit(void *ctx)
{
	struct run *r = ctx;
	size_t n = queue.n;

	queue.n = 0;
	for (size_t i = 0; i < n; i++) {
		const struct qsample *q = &queue.v[i];
		must(q->type < METRIC_TYPE_COUNT && q->type != METRIC_SET);
		must(isfinite(q->value) && q->weight > 0 && isfinite(q->weight));
		/* an empty name only unchecked (the consumer gives its line back) */
		must((q->key_len > 0 || q->line_len > 0) && q->key_len < PARSE_KEY_MAX &&
		     in_input(r, q->key, q->key_len));
		if (q->line_len > 0) {
			must(in_input(r, q->key, q->line_len));
			must(q->key_len < q->line_len && q->key[q->key_len] == ':');
			must(memchr(q->key, '\n', q->line_len) == NULL);
			if (!parse_name_plain(q->key, q->key_len)) {
				parse_line(q->key, q->line_len, r->o, &scratch, &handler, r);
				continue;
			}
		}
		r->delivered++;
	}
}

static const struct parse_handler queue_handler = {.sample = on_sample,
                                                   .event = on_event,
                                                   .check = on_check,
                                                   .bad = on_bad,
                                                   .invalid_rate = on_invalid_rate,
                                                   .queue = &queue,
                                                   .commit = queue_commit};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_opts opts[3];
	const char *in = (const char *)data;
	size_t newlines = 0;

	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';

	parse_opts_default(&opts[0]);
	parse_opts_default(&opts[1]);
	opts[1].tag_styles = TAG_STYLE_LIBRATO | TAG_STYLE_INFLUXDB | TAG_STYLE_SIGNALFX;
	opts[1].max_name = 64;
	opts[1].max_tags = 4;
	parse_opts_default(&opts[2]);
	opts[2].sanitize = false;
	opts[2].gauge_deltas = false;
	opts[2].tag_styles = opts[1].tag_styles;
	opts[2].max_name = 100000;
	opts[2].max_tags = 100000;

	for (int k = 0; k < 3; k++) {
		struct run r = {in, size, 0, 0, &opts[k]};
		size_t lines = parse_packet(in, size, &opts[k], &scratch, &handler, &r);
		must(lines <= newlines + 1);
		/* a non-empty line delivers something or is reported bad */
		must(r.delivered + r.bad >= lines);
		/* with a queue: the same lines, samples and bad lines */
		struct run rq = {in, size, 0, 0, &opts[k]};
		must(parse_packet(in, size, &opts[k], &scratch, &queue_handler, &rq) == lines);
		queue_commit(&rq);
		must(rq.delivered == r.delivered && rq.bad == r.bad);
		/* from a buffer with room after it, as intake parses: the same;
		 * nothing read from the room (keys stay inside the packet) */
		char *pin = malloc(size + PARSE_PAD);
		must(pin != NULL);
		if (size > 0)
			memcpy(pin, in, size);
		for (size_t i = 0; i < PARSE_PAD; i++)
			pin[size + i] = "1|c\nz:"[i % 6];
		struct run rp = {pin, size, 0, 0, &opts[k]};
		must(parse_packet_padded(pin, size, &opts[k], &scratch, &queue_handler, &rp) ==
		     lines);
		queue_commit(&rp);
		must(rp.delivered == r.delivered && rp.bad == r.bad);
		free(pin);
		if (newlines == 0) {
			struct run r1 = {in, size, 0, 0, &opts[k]};
			int ret = parse_line(in, size, &opts[k], &scratch, &handler, &r1);
			must(r1.delivered == r.delivered && r1.bad == r.bad);
			must(ret == (r1.delivered > 0 ? (int)r1.delivered : r1.bad > 0 ? -1 : 0));
		}
	}
	return 0;
}
