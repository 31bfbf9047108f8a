/* parse: the StatsD/DogStatsD line parser (grammar in docs/protocol.md).
 * Splits a packet into lines and every line into samples, events or service
 * checks and reports them through the caller's callbacks; series keys are
 * built by tags.c into the caller's scratch. It does no I/O, no allocation
 * and keeps no state between calls: intake.c calls it for every datagram and
 * stream line, the unit tests and the fuzzer call it too. */
#include "parse.h"

#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "num.h"
#include "tags.h"

void parse_opts_default(struct parse_opts *o)
{
	o->gauge_deltas = true;
	o->sanitize = true;
	o->tag_styles = 0;
	o->max_name = 512;
	o->max_tags = 64;
}

/* ---- metric lines ----
 *
 *   api.latency;env=prod:12:15|ms:3|c|@0.5|#role:web,az:1|T1700000000
 *   ^^^^^^^^^^^^^^^^^^^^                                               name: up to the first ':'
 *                        ^^^^^ ^^                                      values | type
 *                                 ^^^                                  next group after ':'
 *                                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^  fields
 */

static bool type_char(int c, enum metric_type *t)
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

/* The type with surrounding whitespace trimmed (the reference trims it). */
static bool parse_type(const char *t, size_t n, enum metric_type *out)
{
	while (n > 0 && tags_is_space(*t)) {
		t++;
		n--;
	}
	while (n > 0 && tags_is_space(t[n - 1]))
		n--;
	if (n == 1)
		return type_char(t[0], out);
	if (n == 2 && t[0] == 'm' && t[1] == 's') {
		*out = METRIC_TIMER;
		return true;
	}
	return false;
}

/* One `values|type` group. */
struct group {
	const char *val;
	size_t val_len;
	enum metric_type type;
	const char *bad; /* why the group is bad, NULL when it is fine */
};

/*   multi:1|c:2:3|ms|@0.5
 *         ^^^ ^^^^^^         groups: values up to '|', then the type up to ':' or '|'
 * Reads the group at *pp. *pp becomes the next group (after a ':' that
 * follows the type) or NULL; *fields is set when a '|' follows the type. */
static void next_group(const char **pp, const char *end, struct group *g, const char **fields)
{
	const char *p = *pp;
	const char *bar = memchr(p, '|', (size_t)(end - p));

	*pp = NULL;
	g->val = p;
	g->bad = NULL;
	if (bar == NULL) {
		g->val_len = (size_t)(end - p);
		g->bad = "missing type";
		return;
	}
	g->val_len = (size_t)(bar - p);
	const char *t = bar + 1, *te = t;
	while (te < end && *te != '|' && *te != ':')
		te++;
	if (!parse_type(t, (size_t)(te - t), &g->type))
		g->bad = "unknown type";
	if (te < end) {
		if (*te == ':')
			*pp = te + 1;
		else
			*fields = te + 1;
	}
}

struct fields {
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
static inline const char *parse_field(const char *p, size_t n, struct fields *f)
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

/* Every field of p[0..end). */
static const char *parse_fields(const char *p, const char *end, struct fields *f)
{
	for (;;) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		const char *fe = bar ? bar : end;
		const char *reason = parse_field(p, (size_t)(fe - p), f);

		if (reason != NULL)
			return reason;
		if (bar == NULL)
			return NULL;
		p = bar + 1;
	}
}

/* One value piece of a numeric type; NULL or why it is bad. */
static const char *value_check(const char *v, size_t n, enum metric_type t, double *out)
{
	if (!num_parse_double(v, n, out))
		return "bad value";
	if (*out < 0 && metric_is_timer(t))
		return "negative timer value";
	return NULL;
}

struct line_ctx {
	const char *line;
	size_t len;
	const struct parse_opts *o;
	struct parse_scratch *scr;
	const struct parse_handler *h;
	void *ctx;
};

static int report_bad(const struct line_ctx *lc, const char *reason)
{
	if (lc->h->bad != NULL)
		lc->h->bad(lc->ctx, lc->line, lc->len, reason);
	return -1;
}

static void emit_value(const struct line_ctx *lc, struct sample *s, const char *v, double value)
{
	s->value = value;
	s->gauge_delta =
	    s->type == METRIC_GAUGE && lc->o->gauge_deltas && (v[0] == '+' || v[0] == '-');
	lc->h->sample(lc->ctx, s);
}

/* Delivers one group: returns the samples delivered, or -1 (reported). */
static int deliver_group(const struct line_ctx *lc, const struct group *g, struct sample *s)
{
	const char *v = g->val, *end = g->val + g->val_len;
	const char *reason;
	double value;

	if (g->bad != NULL)
		return report_bad(lc, g->bad);
	s->type = g->type;
	if (g->type == METRIC_SET) {
		/* The whole value section is the member; empty is "0" as in the
		 * reference (`fields[0] || '0'`). */
		if (g->val_len > 0) {
			s->member = g->val;
			s->member_len = g->val_len;
		} else {
			lc->scr->text[0] = '0';
			s->member = lc->scr->text;
			s->member_len = 1;
		}
		s->value = 0;
		s->gauge_delta = false;
		lc->h->sample(lc->ctx, s);
		s->member = NULL;
		s->member_len = 0;
		return 1;
	}
	if (memchr(v, ':', g->val_len) == NULL) {
		if (g->val_len == 0)
			return report_bad(lc, "empty value");
		reason = value_check(v, g->val_len, g->type, &value);
		if (reason != NULL)
			return report_bad(lc, reason);
		emit_value(lc, s, v, value);
		return 1;
	}
	/* Packed values `1:2::3`: empty pieces are skipped; one bad piece
	 * spoils the group, so check them all before delivering any. */
	int n = 0;
	for (const char *p = v; p < end;) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *pe = c ? c : end;
		if (pe > p) {
			reason = value_check(p, (size_t)(pe - p), g->type, &value);
			if (reason != NULL)
				return report_bad(lc, reason);
			n++;
		}
		p = pe + 1;
	}
	if (n == 0)
		return report_bad(lc, "empty value");
	for (const char *p = v; p < end;) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *pe = c ? c : end;
		if (pe > p) {
			num_parse_double(p, (size_t)(pe - p), &value);
			emit_value(lc, s, p, value);
		}
		p = pe + 1;
	}
	return n;
}

static int parse_metric(const struct line_ctx *lc)
{
	const char *line = lc->line, *end = lc->line + lc->len;
	const char *colon = memchr(line, ':', lc->len);

	if (colon == NULL)
		return report_bad(lc, "missing ':'");
	size_t nlen = (size_t)(colon - line);
	if (nlen > lc->o->max_name)
		return report_bad(lc, "name too long");

	/* First pass: find the groups' end, where the fields start. */
	struct group g0, g;
	const char *p = colon + 1, *fields = NULL;
	next_group(&p, end, &g0, &fields);
	const char *rest = p;
	while (p != NULL)
		next_group(&p, end, &g, &fields);

	struct fields f = {1, false, 0, NULL, 0};
	if (fields != NULL) {
		const char *reason = parse_fields(fields, end, &f);
		if (reason != NULL)
			return report_bad(lc, reason);
	}

	struct tags_builder tb;
	struct sample s;
	const char *reason =
	    tags_series_key(&tb, lc->scr, lc->o, line, nlen, f.tags, f.tags_len, &s);
	if (reason != NULL)
		return report_bad(lc, reason);
	s.weight = f.weight;
	s.timestamp = f.timestamp;
	s.member = NULL;
	s.member_len = 0;

	/* Second pass: deliver every group. */
	int delivered = 0, nbad = 0;
	int r = deliver_group(lc, &g0, &s);
	if (r < 0)
		nbad++;
	else
		delivered += r;
	for (p = rest; p != NULL;) {
		const char *ignored = NULL;
		next_group(&p, end, &g, &ignored);
		r = deliver_group(lc, &g, &s);
		if (r < 0)
			nbad++;
		else
			delivered += r;
	}
	if (delivered > 0 && f.bad_rate && lc->h->invalid_rate != NULL)
		lc->h->invalid_rate(lc->ctx);
	if (delivered == 0 && nbad > 0)
		return -1;
	return delivered;
}

/* ---- events and service checks ---- */

static bool has_prefix(const char *s, size_t n, const char *pfx, size_t plen)
{
	return n >= plen && memcmp(s, pfx, plen) == 0;
}

/* Event text: the two bytes "\n" become LF (nothing else is unescaped).
 * Without one, the text stays in the packet; else it is written to
 * scr->text at *used. False when it does not fit. */
static bool unescape_text(const char *s, size_t n, struct parse_scratch *scr, size_t *used,
                          const char **out, size_t *out_len)
{
	const char *bs = memchr(s, '\\', n);
	while (bs != NULL && !(bs + 1 < s + n && bs[1] == 'n'))
		bs = memchr(bs + 1, '\\', (size_t)(s + n - bs - 1));
	if (bs == NULL) {
		*out = s;
		*out_len = n;
		return true;
	}
	size_t o = *used;
	for (size_t i = 0; i < n; i++) {
		if (o == PARSE_KEY_MAX)
			return false;
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'n') {
			scr->text[o++] = '\n';
			i++;
		} else {
			scr->text[o++] = s[i];
		}
	}
	*out = scr->text + *used;
	*out_len = o - *used;
	*used = o;
	return true;
}

/* Canonical tags of an event or check (";a;k=v") into scr->key. */
static const char *event_tags(const struct line_ctx *lc, const char *tags, size_t n,
                              const char **out, size_t *out_len)
{
	struct tags_builder tb;

	return tags_event(&tb, lc->scr, lc->o, tags, n, out, out_len);
}

#define FIELD_IS(p, n, lit) has_prefix((p), (n), (lit), sizeof(lit) - 1)

/*   _e{5,4}:title|text|d:1700000000|h:host|k:key|p:low|s:src|t:warning|#a:b
 *      ^^^                                  byte lengths of title and text
 *           ^^^^^ ^^^^                      title, text (taken by length)
 *                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ fields
 * As the Datadog agent: the '|' after the title is not checked, the fields
 * start right after the text, a bad d:/p:/t: value is ignored. */
static int parse_event(const struct line_ctx *lc)
{
	const char *line = lc->line, *end = lc->line + lc->len;
	const char *colon = memchr(line, ':', lc->len);
	int64_t tlen, xlen;

	if (colon == NULL || colon - line < 7 || colon[-1] != '}')
		return report_bad(lc, "bad event header");
	const char *lp = line + 3, *le = colon - 1;
	const char *comma = memchr(lp, ',', (size_t)(le - lp));
	if (comma == NULL || !num_parse_int64(lp, (size_t)(comma - lp), &tlen) || tlen < 0)
		return report_bad(lc, "bad event header");
	if (tlen == 0)
		return report_bad(lc, "empty event title");
	if (!num_parse_int64(comma + 1, (size_t)(le - comma - 1), &xlen) || xlen < 0)
		return report_bad(lc, "bad event header");
	const char *body = colon + 1;
	size_t blen = (size_t)(end - body);
	if ((uint64_t)tlen >= blen || (uint64_t)xlen > blen - (size_t)tlen - 1)
		return report_bad(lc, "event lengths exceed line");

	struct parse_event e = {0};
	const char *title = body, *text = body + tlen + 1;
	const char *p = text + xlen;
	const char *tags = NULL;
	size_t tags_len = 0;
	e.priority = "normal";
	e.priority_len = 6;
	e.alert_type = "info";
	e.alert_type_len = 4;
	while (p < end) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		const char *fe = bar ? bar : end;
		size_t n = (size_t)(fe - p);
		int64_t ts;

		if (FIELD_IS(p, n, "d:")) {
			if (num_parse_int64(p + 2, n - 2, &ts))
				e.timestamp = ts;
		} else if (FIELD_IS(p, n, "h:")) {
			e.host = p + 2;
			e.host_len = n - 2;
		} else if (FIELD_IS(p, n, "k:")) {
			e.agg_key = p + 2;
			e.agg_key_len = n - 2;
		} else if (FIELD_IS(p, n, "p:")) {
			if ((n == 5 && memcmp(p + 2, "low", 3) == 0) ||
			    (n == 8 && memcmp(p + 2, "normal", 6) == 0)) {
				e.priority = p + 2;
				e.priority_len = n - 2;
			}
		} else if (FIELD_IS(p, n, "s:")) {
			e.source = p + 2;
			e.source_len = n - 2;
		} else if (FIELD_IS(p, n, "t:")) {
			if ((n == 7 && memcmp(p + 2, "error", 5) == 0) ||
			    (n == 9 && memcmp(p + 2, "warning", 7) == 0) ||
			    (n == 6 && memcmp(p + 2, "info", 4) == 0) ||
			    (n == 9 && memcmp(p + 2, "success", 7) == 0)) {
				e.alert_type = p + 2;
				e.alert_type_len = n - 2;
			}
		} else if (n > 0 && p[0] == '#') {
			tags = p + 1;
			tags_len = n - 1;
		}
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	/* Tags first: they are staged in scr->text, which the text reuses. */
	const char *reason = event_tags(lc, tags, tags_len, &e.tags, &e.tags_len);
	if (reason != NULL)
		return report_bad(lc, reason);
	size_t used = 0;
	if (!unescape_text(text, (size_t)xlen, lc->scr, &used, &e.text, &e.text_len) ||
	    !unescape_text(title, (size_t)tlen, lc->scr, &used, &e.title, &e.title_len))
		return report_bad(lc, "event text too long");
	if (lc->h->event != NULL)
		lc->h->event(lc->ctx, &e);
	return 1;
}

/*   _sc|name|status|d:1700000000|h:host|#a:b|m:message
 *       ^^^^ ^^^^^^                                    name, status 0..3
 *                   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ fields, any order */
static int parse_check(const struct line_ctx *lc)
{
	const char *end = lc->line + lc->len;
	const char *name = lc->line + 4;
	const char *bar = memchr(name, '|', (size_t)(end - name));

	if (bar == NULL)
		return report_bad(lc, "bad service check");
	if (bar == name)
		return report_bad(lc, "empty service check name");
	const char *st = bar + 1;
	const char *se = memchr(st, '|', (size_t)(end - st));
	if (se == NULL)
		se = end;
	if (se - st != 1 || *st < '0' || *st > '3')
		return report_bad(lc, "bad service check status");

	struct parse_check c = {0};
	const char *tags = NULL;
	size_t tags_len = 0;
	c.name = name;
	c.name_len = (size_t)(bar - name);
	c.status = *st - '0';
	for (const char *p = se + 1; p < end;) {
		const char *fb = memchr(p, '|', (size_t)(end - p));
		const char *fe = fb ? fb : end;
		size_t n = (size_t)(fe - p);
		int64_t ts;

		if (FIELD_IS(p, n, "d:")) {
			if (num_parse_int64(p + 2, n - 2, &ts))
				c.timestamp = ts;
		} else if (FIELD_IS(p, n, "h:")) {
			c.host = p + 2;
			c.host_len = n - 2;
		} else if (n > 0 && p[0] == '#') {
			tags = p + 1;
			tags_len = n - 1;
		} else if (FIELD_IS(p, n, "m:")) {
			c.message = p + 2;
			c.message_len = n - 2;
		}
		if (fb == NULL)
			break;
		p = fb + 1;
	}
	const char *reason = event_tags(lc, tags, tags_len, &c.tags, &c.tags_len);
	if (reason != NULL)
		return report_bad(lc, reason);
	if (lc->h->check != NULL)
		lc->h->check(lc->ctx, &c);
	return 1;
}

/* ---- lines and packets ---- */

static int parse_stripped(const struct line_ctx *lc)
{
	const char *s = lc->line;
	if (lc->len >= 3 && s[0] == '_') {
		if (s[1] == 'e' && s[2] == '{')
			return parse_event(lc);
		if (lc->len >= 4 && s[1] == 's' && s[2] == 'c' && s[3] == '|')
			return parse_check(lc);
	}
	return parse_metric(lc);
}

int parse_line(const char *line, size_t len, const struct parse_opts *o, struct parse_scratch *scr,
               const struct parse_handler *h, void *ctx)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;
	struct line_ctx lc = {line, len, o, scr, h, ctx};
	return parse_stripped(&lc);
}

/* ---- the common line, in one pass ----
 *
 *   app.metric.n42:17|c          name (bytes sanitising keeps), value
 *   app.metric.n42:0.25|ms       (unsigned decimal, <= 15 digits), type, then
 *   ^^^^^^^^^^^^^^ ^^^^ ^^       '\n', "\r\n", the end of the packet or
 * |fields (|@0.5|#env:prod,host:a) to the end of the line. Such a line has,
 * as in the general path, the same key (the name as received, plus the
 * tags by tags_series_key), the value num_parse_double returns, the same
 * fields. Every other line (signs, spaces, packed values, sets, events, a
 * name to sanitise, a bad field) goes to the general path. No copy: one
 * forward scan, and a memchr for the end of a line with fields. A line
 * without fields that goes to the handler's queue keeps its name unchecked
 * (the scan looks for ':' and '\n' only): the queue's consumer checks a
 * name when it first sees it (parse_name_plain, parse.h). */

/* The length of the run of TAGS_CH_KEEP bytes at p (at most end - p). */
static inline size_t keep_span(const char *p, const char *end)
{
	const char *q = p;
#ifdef __SSE2__
	/* 16 bytes at a time: a byte is kept when it is in [-.0-9=A-Z_a-z].
	 * A range [lo, lo + n) is one add and one signed compare: c + (0x80 -
	 * lo) wraps the range onto [-128, -128 + n). ORing 0x20 folds A-Z onto
	 * a-z exactly (no other byte lands in a-z); '-' '.' and the digits are
	 * [0x2d, 0x39] without '/'. */
#define RANGE(c, lo, n)                                                                            \
	_mm_cmplt_epi8(_mm_add_epi8((c), _mm_set1_epi8((char)(0x80 - (lo)))),                      \
	               _mm_set1_epi8((char)(-128 + (n))))
	while (end - q >= 16) {
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)q);
		__m128i letter = RANGE(_mm_or_si128(c, _mm_set1_epi8(0x20)), 'a', 26);
		__m128i digit = _mm_andnot_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('/')),
		                                 RANGE(c, '-', '9' - '-' + 1));
		__m128i other = _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('=')),
		                             _mm_cmpeq_epi8(c, _mm_set1_epi8('_')));
		__m128i ok = _mm_or_si128(_mm_or_si128(letter, digit), other);
		unsigned bad = ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
		if (bad != 0)
			return (size_t)(q - p) + (size_t)__builtin_ctz(bad);
		q += 16;
	}
#undef RANGE
#endif
	while (q < end && tags_char_class[(unsigned char)*q] == TAGS_CH_KEEP)
		q++;
	return (size_t)(q - p);
}

bool parse_name_plain(const char *name, size_t len)
{
	return keep_span(name, name + len) == len;
}

/* The length of the name at p: the bytes before the first ':' or '\n' (at
 * most end - p). */
static inline size_t name_span(const char *p, const char *end)
{
	const char *q = p;
#ifdef __SSE2__
#define STOPS(c)                                                                                   \
	(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8((c), _mm_set1_epi8(':')),          \
	                                         _mm_cmpeq_epi8((c), _mm_set1_epi8('\n'))))
	/* Most names are shorter than 32 bytes: 32 at once, no loop. */
	if (end - q >= 32) {
		unsigned m = STOPS(_mm_loadu_si128((const __m128i *)(const void *)q)) |
		             STOPS(_mm_loadu_si128((const __m128i *)(const void *)(q + 16))) << 16;
		if (m != 0)
			return (size_t)__builtin_ctz(m);
		q += 32;
	}
	while (end - q >= 16) {
		unsigned m = STOPS(_mm_loadu_si128((const __m128i *)(const void *)q));
		if (m != 0)
			return (size_t)(q - p) + (size_t)__builtin_ctz(m);
		q += 16;
	}
#undef STOPS
#endif
	while (q < end && *q != ':' && *q != '\n')
		q++;
	return (size_t)(q - p);
}

/* The first '|' or '\n' at or after p, or end. */
static inline const char *bar_or_newline(const char *p, const char *end)
{
#ifdef __SSE2__
	while (end - p >= 16) {
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_cmpeq_epi8(c, _mm_set1_epi8('|')), _mm_cmpeq_epi8(c, _mm_set1_epi8('\n'))));
		if (m != 0)
			return p + __builtin_ctz(m);
		p += 16;
	}
#endif
	while (p < end && *p != '|' && *p != '\n')
		p++;
	return p;
}

/* The rest of a common line after its type: '|' at e, then fields (|@rate,
 * |#tags, |T...) read as the general path reads them (parse_field), to the
 * end of the line, found in the same scan as the fields; a bad field or key
 * is left to the general path, to be reported. Not inline: it holds the
 * tags builder, which the plain line does without. */
static __attribute__((noinline)) const char *
common_fields(const char *p, size_t nlen, const char *e, const char *end,
              const struct parse_opts *o, struct parse_scratch *scr, const struct parse_handler *h,
              void *ctx, enum metric_type type, double value)
{
	struct fields f = {1, false, 0, NULL, 0};
	struct sample s;
	const char *q = e + 1, *d;

	if (!parse_name_plain(p, nlen))
		return NULL;
	for (;;) {
		d = bar_or_newline(q, end);
		if (d == end || *d == '\n') {
			/* The last field: a '\r' before the line's end is not in it. */
			const char *fe = d > q && d[-1] == '\r' ? d - 1 : d;
			if (parse_field(q, (size_t)(fe - q), &f) != NULL)
				return NULL;
			break;
		}
		if (parse_field(q, (size_t)(d - q), &f) != NULL)
			return NULL;
		q = d + 1;
	}
	/* Every byte of the name is kept: without tags the key is the name as
	 * received. */
	struct tags_builder tb;
	if (tags_series_key_plain(&tb, scr, o, p, nlen, f.tags, f.tags_len, &s) != NULL)
		return NULL;
	s.type = type;
	s.value = value;
	s.weight = f.weight;
	s.member = NULL;
	s.member_len = 0;
	s.gauge_delta = false;
	s.timestamp = f.timestamp;
	h->sample(ctx, &s);
	if (f.bad_rate && h->invalid_rate != NULL)
		h->invalid_rate(ctx);
	return d == end ? end : d + 1;
}

/* 32- and 64-bit words loaded from the packet, as little-endian. */
static inline uint32_t le32(uint32_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap32(w);
#else
	return w;
#endif
}

static inline uint64_t le64(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(w);
#else
	return w;
#endif
}

/* The line at p (not empty) when it has the common form; returns where the
 * next line starts (end when none), or NULL (nothing delivered) when the
 * line needs the general path. With a queue (the handler's), a line
 * without fields is appended to it, its name unchecked. */
static inline const char *common_line(const char *p, const char *end, size_t max_name,
                                      const struct parse_opts *o, struct parse_scratch *scr,
                                      const struct parse_handler *h, void *ctx,
                                      struct sample_queue *queue)
{
	static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
	                               1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	size_t nlen = name_span(p, end);
	const char *v = p + nlen;

	if (nlen - 1 >= max_name || end - v < 4 || *v != ':')
		return NULL;
	/* The value, as parse_simple_decimal in num.c reads it: digits, then
	 * maybe a '.' and more digits. */
	uint64_t mant = 0;
	size_t digits, frac = 0;
	const char *d0 = ++v;
	unsigned d;
	double value;
	/* 1 to 7 digits then '|' (most values), 8 bytes at once: the first
	 * byte that is not a digit is the lowest with its top bit set in
	 * (x + 0x76) | x, where x is a byte ^ '0' (a carry only comes out of a
	 * byte that is not a digit, into the bytes after it); the digits,
	 * shifted so that zeros lead, are summed in pairs, fours, eights. */
	if (end - v >= 8) {
		uint64_t x;
		memcpy(&x, v, 8);
		x = le64(x) ^ 0x3030303030303030ULL;
		uint64_t stop = ((x + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
		size_t n = stop != 0 ? (size_t)__builtin_ctzll(stop) >> 3 : 0;
		if (n != 0 && v[n] == '|' && (size_t)(end - v) >= n + 2) {
			x <<= 64 - 8 * n;
			x = x * 10 + (x >> 8);
			x = ((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32)) +
			     ((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32))) >>
			    32;
			v += n;
			value = (double)(int64_t)x;
			goto type;
		}
	}
	while (v < end && (d = (unsigned)(unsigned char)*v - '0') < 10) {
		mant = mant * 10 + d;
		v++;
	}
	digits = (size_t)(v - d0);
	if (v < end && *v == '.') {
		const char *f0 = ++v;
		while (v < end && (d = (unsigned)(unsigned char)*v - '0') < 10) {
			mant = mant * 10 + d;
			v++;
		}
		frac = (size_t)(v - f0);
		digits += frac;
	}
	if (digits - 1 >= 15 || end - v < 2 || *v != '|')
		return NULL;
	/* Below 10^15: exact as a signed integer, which converts in one step. */
	value = (double)(int64_t)mant / pow10[frac];
type:;
	struct sample s;
	const char *next, *lend; /* the next line, the end of this one */
	/* "|c\n" "|g\n" "|ms\n" "|h\n" "|d\n": one load and a compare or two. */
	if (end - v >= 4) {
		uint32_t w;
		memcpy(&w, v, 4);
		next = v + 3;
		switch (le32(w) & 0xffffff) {
		case '|' | 'c' << 8 | '\n' << 16:
			s.type = METRIC_COUNTER;
			goto plain;
		case '|' | 'g' << 8 | '\n' << 16:
			s.type = METRIC_GAUGE;
			goto plain;
		case '|' | 'h' << 8 | '\n' << 16:
			s.type = METRIC_HISTOGRAM;
			goto plain;
		case '|' | 'd' << 8 | '\n' << 16:
			s.type = METRIC_DISTRIBUTION;
			goto plain;
		case '|' | 'm' << 8 | 's' << 16:
			if (le32(w) >> 24 == '\n') {
				s.type = METRIC_TIMER;
				next = v + 4;
				goto plain;
			}
			break;
		default:
			break;
		}
	}
	const char *t = v + 1, *e = t + 1;
	switch (*t) {
	case 'c':
		s.type = METRIC_COUNTER;
		break;
	case 'g':
		s.type = METRIC_GAUGE;
		break;
	case 'h':
		s.type = METRIC_HISTOGRAM;
		break;
	case 'd':
		s.type = METRIC_DISTRIBUTION;
		break;
	case 'm':
		if (e == end || *e != 's')
			return NULL;
		s.type = METRIC_TIMER;
		e++;
		break;
	default:
		return NULL;
	}
	if (e < end && *e == '|')
		return common_fields(p, nlen, e, end, o, scr, h, ctx, s.type, value);
	lend = e;
	if (e == end) {
		next = end;
	} else if (*e == '\n') {
		next = e + 1;
	} else if (*e == '\r' && (e + 1 == end || e[1] == '\n')) {
		next = e + 1 == end ? end : e + 2;
	} else {
		return NULL;
	}
	goto deliver;
plain:
	lend = next - 1;
deliver:
	if (queue != NULL) {
		if (__builtin_expect(queue->n == SAMPLE_QUEUE_MAX, 0))
			h->commit(ctx);
		struct qsample *r = &queue->v[queue->n++];
		r->key = p;
		r->key_len = (uint32_t)nlen;
		r->value = value;
		r->weight = 1;
		r->type = (unsigned char)s.type;
		r->gauge_delta = false;
		r->line_len = (uint16_t)(lend - p);
		return next;
	}
	if (!parse_name_plain(p, nlen))
		return NULL;
	s.key = p;
	s.key_len = s.name_len = nlen;
	s.value = value;
	s.weight = 1;
	s.member = NULL;
	s.member_len = 0;
	s.gauge_delta = false;
	s.timestamp = 0;
	h->sample(ctx, &s);
	return next;
}

#ifdef __SSE2__
/*   app.metric.n42:1|c\n        name (< 32 bytes), 1 to 7 digits, type, '\n'
 *   app.metric.n42:250|ms\n      and at least 32 bytes to the packet's end
 * The commonest lines, with a queue: from *pp, appends every line of this
 * form to the queue (as common_line would) and stops at the first line of
 * another form; *pp becomes where it stopped. Returns the lines taken. Its
 * own function, so that what it keeps (the queue's count among them) stays
 * in registers. The caller takes it only when server.max_name is at least
 * 31 (it checks no name length). */
static __attribute__((noinline)) size_t
queue_lines(const char **pp, const char *end, const struct parse_opts *o, struct parse_scratch *scr,
            struct sample_queue *q, const struct parse_handler *h, void *ctx)
{
	const char *p = *pp;
	size_t n = q->n, lines = 0;

	while (end - p >= 32) {
		/* The name: up to the first ':' (a '\n' first: not this form). */
		unsigned m =
		    (unsigned)_mm_movemask_epi8(_mm_or_si128(
		        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p),
		                       _mm_set1_epi8(':')),
		        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p),
		                       _mm_set1_epi8('\n')))) |
		    (unsigned)_mm_movemask_epi8(_mm_or_si128(
		        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)),
		                       _mm_set1_epi8(':')),
		        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)),
		                       _mm_set1_epi8('\n'))))
		        << 16;
		if (m == 0)
			break;
		size_t nlen = (size_t)__builtin_ctz(m);
		const char *v = p + nlen + 1;
		if (v[-1] != ':' || nlen == 0 || end - v < 12)
			break;
		/* The digits, as common_line reads them (8 bytes at once). */
		uint64_t x;
		memcpy(&x, v, 8);
		x = le64(x) ^ 0x3030303030303030ULL;
		uint64_t stop = ((x + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
		size_t nd = stop != 0 ? (size_t)__builtin_ctzll(stop) >> 3 : 0;
		if (nd == 0)
			break;
		/* "|c\n" "|g\n" "|h\n" "|d\n" "|ms\n" */
		const char *t = v + nd;
		uint32_t w;
		memcpy(&w, t, 4);
		w = le32(w);
		enum metric_type type;
		size_t adv = 3;
		bool fields = false;
		switch (w & 0xffffff) {
		case '|' | 'c' << 8 | '\n' << 16:
			type = METRIC_COUNTER;
			break;
		case '|' | 'g' << 8 | '\n' << 16:
			type = METRIC_GAUGE;
			break;
		case '|' | 'h' << 8 | '\n' << 16:
			type = METRIC_HISTOGRAM;
			break;
		case '|' | 'd' << 8 | '\n' << 16:
			type = METRIC_DISTRIBUTION;
			break;
		case '|' | 'm' << 8 | 's' << 16:
			if (w >> 24 != '\n' && w >> 24 != '|')
				goto out;
			type = METRIC_TIMER;
			adv = 4;
			fields = w >> 24 == '|';
			break;
		default:
			/* The same types with fields ("|c|#env:prod"): common_fields. */
			if ((w & 0xff00ff) != ('|' | '|' << 16) ||
			    !type_char((int)(w >> 8 & 0xff), &type) || type == METRIC_SET)
				goto out;
			fields = true;
		}
		if (nd > 1) {
			x <<= 64 - 8 * nd;
			x = x * 10 + (x >> 8);
			x = ((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32)) +
			     ((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32))) >>
			    32;
		} else {
			x &= 0xff;
		}
		if (fields) {
			/* Its samples come through h->sample, into the same queue. */
			q->n = n;
			const char *next =
			    common_fields(p, nlen, t + adv - 2, end, o, scr, h, ctx,
			                  (enum metric_type)type, (double)(int64_t)x);
			n = q->n;
			if (next == NULL)
				break;
			p = next;
			lines++;
			continue;
		}
		if (__builtin_expect(n == SAMPLE_QUEUE_MAX, 0)) {
			q->n = n;
			h->commit(ctx);
			n = q->n;
		}
		struct qsample *r = &q->v[n++];
		r->key = p;
		r->key_len = (uint32_t)nlen;
		r->value = (double)(int64_t)x;
		r->weight = 1;
		r->type = (unsigned char)type;
		r->gauge_delta = false;
		r->line_len = (uint16_t)(t + adv - 1 - p);
		p = t + adv;
		lines++;
	}
out:
	q->n = n;
	*pp = p;
	return lines;
}
#endif

size_t parse_packet(const char *buf, size_t len, const struct parse_opts *o,
                    struct parse_scratch *scr, const struct parse_handler *h, void *ctx)
{
	const char *p = buf, *end = buf + len;
	size_t lines = 0;
	/* The longest name the one-pass path takes (it builds no key). */
	size_t max_name = o->max_name < PARSE_KEY_MAX - 1 ? o->max_name : PARSE_KEY_MAX - 1;
	bool common = o->sanitize;
	struct sample_queue *queue = h->queue;

	while (p < end) {
#ifdef __SSE2__
		/* queue_lines takes names of up to 31 bytes without a length check */
		if (common && queue != NULL && max_name >= 31) {
			lines += queue_lines(&p, end, o, scr, queue, h, ctx);
			if (p == end)
				break;
		}
#endif
		if (common && *p != '\n') {
			const char *next = common_line(p, end, max_name, o, scr, h, ctx, queue);
			if (next != NULL) {
				lines++;
				p = next;
				continue;
			}
		}
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t n = (size_t)(le - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0) {
			struct line_ctx lc = {p, n, o, scr, h, ctx};
			lines++;
			parse_stripped(&lc);
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return lines;
}
