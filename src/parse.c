/* parse: the StatsD/DogStatsD line parser (grammar in docs/protocol.md),
 * its general path: every line into samples, events or service checks,
 * reported through the caller's callbacks; series keys are built by tags.c
 * into the caller's scratch. Splitting packets and the one-pass paths for
 * the common line are in parse_fast.c. It does no I/O, no allocation and
 * keeps no state between calls: intake.c calls it for every datagram and
 * stream line, the unit tests and the fuzzer call it too. */
#include "parse.h"

#include <math.h>
#include <string.h>

#include "num.h"
#include "parse_impl.h"
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
		return parse_type_char(t[0], out);
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

/* Every field of p[0..end). */
static const char *parse_fields(const char *p, const char *end, struct parse_fields *f)
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

	struct parse_fields f = {1, false, 0, NULL, 0};
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

int parse_line_as_is(const char *line, size_t len, const struct parse_opts *o,
                     struct parse_scratch *scr, const struct parse_handler *h, void *ctx)
{
	struct line_ctx lc = {line, len, o, scr, h, ctx};
	return parse_stripped(&lc);
}

int parse_line(const char *line, size_t len, const struct parse_opts *o, struct parse_scratch *scr,
               const struct parse_handler *h, void *ctx)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len == 0 ? 0 : parse_line_as_is(line, len, o, scr, h, ctx);
}
