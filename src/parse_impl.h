/* parse_impl: what parse.c (the general grammar) and parse_fast.c (the
 * one-pass paths for the common line, and parse_packet) share: the type
 * letter, the fields after the type, and the general path for one line. No
 * other module includes it. Domain layer. */
#ifndef TALLYD_PARSE_IMPL_H
#define TALLYD_PARSE_IMPL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metric.h"
#include "num.h"
#include "parse.h"

static inline bool parse_type_char(int c, enum metric_type *t)
{
	switch (c) {
	case 'c':
		*t = METRIC_COUNTER;
		return true;
	case 'g':
		*t = METRIC_GAUGE;
		return true;
	case 's':
		*t = METRIC_SET;
		return true;
	case 'h':
		*t = METRIC_HISTOGRAM;
		return true;
	case 'd':
		*t = METRIC_DISTRIBUTION;
		return true;
	default:
		return false;
	}
}

struct parse_fields {
	double weight;
	bool bad_rate; /* the rate was not a positive finite number */
	int64_t timestamp;
	const char *tags; /* last `#` field, without the '#' */
	size_t tags_len;
};

/*   name:1|c|@0.5|#k:v|T1700000000|c:cid|e:ext|card:low|anything
 *            ^^^^ ^^^^ ^^^^^^^^^^^ ^^^^^ ^^^^^ ^^^^^^^^ ^^^^^^^^
 * Fields in any order; unknown ones are ignored, repeated ones: last wins.
 * parse_field reads one (p[0..n), no '|'); NULL or the reason the line is
 * bad. */
static inline const char *parse_field(const char *p, size_t n, struct parse_fields *f)
{
	if (n == 0)
		return NULL;
	switch (p[0]) {
	case '@': {
		double r;
		if (!num_parse_double(p + 1, n - 1, &r))
			return "bad sample rate";
		if (r > 0 && isfinite(1 / r)) {
			f->weight = 1 / r;
			f->bad_rate = false;
		} else {
			f->weight = 1;
			f->bad_rate = true;
		}
		break;
	}
	case '#':
		f->tags = p + 1;
		f->tags_len = n - 1;
		break;
	case 'T': {
		int64_t ts;
		if (!num_parse_int64(p + 1, n - 1, &ts) || ts < 1)
			return "bad timestamp";
		f->timestamp = ts;
		break;
	}
	default: /* c: e: card: and anything unknown */
		break;
	}
	return NULL;
}

/* The general path for one line without its newline, as it is (a
 * trailing '\r' already dropped, not empty): parse_line without the
 * stripping. */
int parse_line_as_is(const char *line, size_t len, const struct parse_opts *o,
                     struct parse_scratch *scr, const struct parse_handler *h, void *ctx);

#endif
