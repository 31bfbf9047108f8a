/* test_tags: series keys built straight through tags.h, without the line
 * grammar — the sanitising class of every byte, sanitised names, Graphite
 * ";k=v" tags, DogStatsD tag lists in canonical form (sorted bytewise,
 * duplicates and empty tags dropped), the opt-in tag styles, event tags, the
 * max_tags and key-length limits, and where the key lives (borrowed from
 * the name or written to the scratch). test_parse checks the same through
 * parse_line against both conformance corpora. */
#include <CUnit/Basic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "tags.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static struct parse_scratch scratch;

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

enum {
	O_NOSAN = 1 << 0,
	O_LIBRATO = 1 << 1,
	O_INFLUX = 1 << 2,
	O_SIGNALFX = 1 << 3,
	O_TAGS2 = 1 << 4, /* max_tags 2 */
	O_TAGS0 = 1 << 5, /* max_tags 0 */
};

static struct parse_opts opts_for(unsigned opt)
{
	struct parse_opts o;
	parse_opts_default(&o);
	if (opt & O_NOSAN)
		o.sanitize = false;
	if (opt & O_LIBRATO)
		o.tag_styles |= TAG_STYLE_LIBRATO;
	if (opt & O_INFLUX)
		o.tag_styles |= TAG_STYLE_INFLUXDB;
	if (opt & O_SIGNALFX)
		o.tag_styles |= TAG_STYLE_SIGNALFX;
	if (opt & O_TAGS2)
		o.max_tags = 2;
	if (opt & O_TAGS0)
		o.max_tags = 0;
	return o;
}

static bool in_key_scratch(const char *p, size_t n)
{
	return p >= scratch.key && p + n <= scratch.key + PARSE_KEY_MAX - 1;
}

/* ---- the class of every byte ---- */

static void test_char_class(void)
{
	/* The reference statsd: \s+ -> '_', '/' -> '-', drop [^a-zA-Z_\-0-9\.;=]. */
	static const char *const keep = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                "0123456789_.=-";
	static const struct {
		const char *bytes;
		enum tags_char cls;
	} spec[] = {
	    {" \t\n\v\f\r", TAGS_CH_SPACE},
	    {"/", TAGS_CH_SLASH},
	    {";", TAGS_CH_SEMI},
	};
	size_t counts[5] = {0};

	for (unsigned b = 0; b < 256; b++) {
		char c = (char)b, ctx[32];
		enum tags_char want = TAGS_CH_DROP;
		if (b != 0 && strchr(keep, c) != NULL)
			want = TAGS_CH_KEEP;
		for (size_t i = 0; i < NELEMS(spec); i++)
			if (b != 0 && strchr(spec[i].bytes, c) != NULL)
				want = spec[i].cls;
		snprintf(ctx, sizeof(ctx), "byte 0x%02x", b);
		failed(tags_class(c) == want, ctx, "class %d, want %d", (int)tags_class(c),
		       (int)want);
		failed(tags_is_space(c) == (want == TAGS_CH_SPACE), ctx, "tags_is_space %d",
		       tags_is_space(c));
		if ((unsigned)tags_class(c) < NELEMS(counts))
			counts[tags_class(c)]++;
	}
	failed(counts[TAGS_CH_KEEP] == 66 && counts[TAGS_CH_SPACE] == 6 &&
	           counts[TAGS_CH_SLASH] == 1 && counts[TAGS_CH_SEMI] == 1 &&
	           counts[TAGS_CH_DROP] == 182,
	       "class counts", "keep %zu space %zu slash %zu semi %zu drop %zu",
	       counts[TAGS_CH_KEEP], counts[TAGS_CH_SPACE], counts[TAGS_CH_SLASH],
	       counts[TAGS_CH_SEMI], counts[TAGS_CH_DROP]);
}

/* ---- series keys ---- */

struct kcase {
	const char *name;
	const char *dd; /* DogStatsD list without '#', NULL when absent */
	unsigned opt;
	const char *key;    /* NULL when the line is bad */
	const char *reason; /* when key is NULL */
	bool borrowed;      /* the key is the name, in place */
};

#define OK(n, d, o, k)                                                                             \
	{                                                                                          \
		(n), (d), (o), (k), NULL, false                                                    \
	}
#define SAME(n, d, o)                                                                              \
	{                                                                                          \
		(n), (d), (o), (n), NULL, true                                                     \
	}
#define BADK(n, d, o, r)                                                                           \
	{                                                                                          \
		(n), (d), (o), NULL, (r), false                                                    \
	}

static const struct kcase sanitise_cases[] = {
    SAME("plain.name-1_x=y", NULL, 0),
    SAME("Mixed.CASE-dash_under", NULL, 0),
    SAME("dots..double.", NULL, 0),
    SAME("", NULL, 0),
    OK("fo/o", NULL, 0, "fo-o"),
    OK("b ar", NULL, 0, "b_ar"),
    OK("tab\tname", NULL, 0, "tab_name"),
    OK("multiple   spaces", NULL, 0, "multiple_spaces"),
    OK("a \t\n\v\f\r b", NULL, 0, "a_b"),
    OK(" lead.trail ", NULL, 0, "_lead.trail_"),
    OK("a / b", NULL, 0, "a_-_b"),
    OK("a //b", NULL, 0, "a_--b"),
    OK("a \x01 b", NULL, 0, "a__b"),
    OK("foo+bar", NULL, 0, "foobar"),
    OK("odd!@$%^&*()[]{}<>?,'\"`~chars", NULL, 0, "oddchars"),
    OK("caf\xc3\xa9.m\xc3\xa9trique", NULL, 0, "caf.mtrique"),
    OK("bad\xffutf8", NULL, 0, "badutf8"),
    OK("a\xc2\xa0z", NULL, 0, "az"),
    OK("back\\slash", NULL, 0, "backslash"),
    OK("!!!", NULL, 0, ""),
    OK("a:b", NULL, 0, "ab"),
    /* sanitising off: every byte kept */
    SAME("fo/o b!", NULL, O_NOSAN),
    SAME("caf\xc3\xa9", NULL, O_NOSAN),
    SAME("a#b,c[d]", NULL, O_NOSAN),
    SAME(" \t ", NULL, O_NOSAN),
};

static const struct kcase key_cases[] = {
    /* DogStatsD lists: first ':' -> '=', sorted bytewise, dups and empties dropped */
    OK("dd.tagged", "env:prod,role:web", 0, "dd.tagged;env=prod;role=web"),
    OK("dd.tagged", "role:web,env:prod", 0, "dd.tagged;env=prod;role=web"),
    OK("t", "b,a,c:1,a", 0, "t;a;b;c=1"),
    OK("t", "B,a,_,-,0", 0, "t;-;0;B;_;a"),
    OK("t", "a:1,a", 0, "t;a;a=1"),
    OK("t", "ab,a,abc,a", 0, "t;a;ab;abc"),
    OK("t", "flag", 0, "t;flag"),
    OK("t", "url:http://x:80/p", 0, "t;url=http--x80-p"),
    OK("t", "k:v;1", 0, "t;k=v_1"),
    OK("t", "a::b:c", 0, "t;a=bc"),
    OK("t", ":", 0, "t;="),
    OK("t", "\xc3\xa9,,  ,a", 0, "t;_;a"),
    OK("t", "a b,a_b,a\t \tb", 0, "t;a_b"),
    OK("t", " a , b ", 0, "t;_a_;_b_"),
    OK("t", "host:h,dd.internal.entity_id:x", 0, "t;dd.internal.entity_id=x;host=h"),
    OK("t", "tag:\xc3(invalid", 0, "t;tag=invalid"),
    SAME("t", "", 0),
    SAME("t", ",,", 0),
    SAME("t", "\xc3\xa9", 0),
    OK("fo/o", "", 0, "fo-o"),
    /* Graphite tags in the name, merged with the list */
    OK("gtag;env=prod", NULL, 0, "gtag;env=prod"),
    OK("semi;colon=eq", NULL, 0, "semi;colon=eq"),
    OK("t;b=2;a=1", "a:1,c", 0, "t;a=1;b=2;c"),
    OK("t;;a;", NULL, 0, "t;a"),
    OK("a;", NULL, 0, "a"),
    OK("a;;b=1", NULL, 0, "a;b=1"),
    OK(";a=b", NULL, 0, ";a=b"),
    OK("t;b b;a/a", NULL, 0, "t;a-a;b_b"),
    OK("t;a:1", "a:1", 0, "t;a1;a=1"),
    /* sanitising off: bytes kept, tags still split, sorted, de-duplicated */
    OK("n;z=1;a=2", "k:v;x,url:a:b,a=2", O_NOSAN, "n;a=2;k=v_x;url=a:b;z=1"),
    OK("n# x", " b ", O_NOSAN, "n# x; b "),
    OK("n", "b,a,,b", O_NOSAN, "n;a;b"),
    /* tag styles */
    OK("foo#tag1=bar", NULL, 0, "footag1=bar"),
    OK("foo,tag1=bar", NULL, 0, "footag1=bar"),
    OK("foo[tag1=bar]x", NULL, 0, "footag1=barx"),
    OK("foo#tag1=bar,tag2=baz", NULL, O_LIBRATO, "foo;tag1=bar;tag2=baz"),
    OK("foo,tag2=baz,tag1=bar", NULL, O_INFLUX, "foo;tag1=bar;tag2=baz"),
    OK("foo,tag2=baz,tag1=bar", NULL, O_LIBRATO, "footag2=baztag1=bar"),
    OK("foo[tag1=bar,tag2=baz].count", NULL, O_SIGNALFX, "foo.count;tag1=bar;tag2=baz"),
    OK("foo[unclosed", NULL, O_SIGNALFX, "foounclosed"),
    OK("foo[a=1].bar;b=2", NULL, O_SIGNALFX, "foo.bar;a=1;b=2"),
    OK("foo[]", NULL, O_SIGNALFX, "foo"),
    OK("foo#a=1", "b:2,a:1", O_LIBRATO, "foo;a=1;b=2"),
    OK("foo#a=1;b=2", NULL, O_LIBRATO, "foo;a=1_b=2"),
    OK("foo#a b=1", NULL, O_LIBRATO | O_NOSAN, "foo;a b=1"),
    OK("foo#", NULL, O_LIBRATO, "foo"),
    OK("foo[a=1]x", NULL, O_SIGNALFX | O_NOSAN, "foox;a=1"),
    SAME("foo[a=1]x", NULL, O_LIBRATO | O_INFLUX | O_NOSAN),
    SAME("foo#a=1", NULL, O_INFLUX | O_SIGNALFX | O_NOSAN),
    OK("a#b=1,c=2", NULL, O_LIBRATO | O_INFLUX, "a;b=1;c=2"),
    OK("a,b=1#c=2", NULL, O_LIBRATO | O_INFLUX, "a;b=1c=2"),
    OK("a[b,c=1", NULL, O_SIGNALFX | O_INFLUX, "ab;c=1"),
    OK("a[b=1]#c=2", NULL, O_SIGNALFX | O_LIBRATO, "ac=2;b=1"),
    /* max_tags */
    OK("t", "a,b", O_TAGS2, "t;a;b"),
    BADK("t", "a,b,c", O_TAGS2, "too many tags"),
    OK("t", "a,b,a,b,,", O_TAGS2, "t;a;b"),
    BADK("t;a=1", "b,c", O_TAGS2, "too many tags"),
    BADK("t;a;b;c", NULL, O_TAGS2, "too many tags"),
    BADK("t#a,b,c", NULL, O_TAGS2 | O_LIBRATO, "too many tags"),
    SAME("t", NULL, O_TAGS0),
    SAME("t", ",", O_TAGS0),
    BADK("t", "a", O_TAGS0, "too many tags"),
    BADK("t;a", NULL, O_TAGS0, "too many tags"),
};

/* Runs one key case; fields of the sample other than the key are
 * sentinels that must come back untouched. */
static void run_key_case(const struct kcase *c, const char *table, size_t i)
{
	struct parse_opts o = opts_for(c->opt);
	struct tags_builder tb;
	struct sample s = {.type = METRIC_GAUGE, .value = 42, .weight = 3, .timestamp = 7};
	size_t n = strlen(c->name);
	char *name = malloc(n + 1), *dd = NULL, ctx[96];

	/* Exact-size copies: ASan sees any read past the end. */
	memcpy(name, c->name, n + 1);
	if (c->dd != NULL) {
		size_t dn = strlen(c->dd);
		dd = malloc(dn + 1);
		memcpy(dd, c->dd, dn + 1);
	}
	snprintf(ctx, sizeof(ctx), "%s[%zu] %s", table, i, show(c->name, n));
	const char *reason =
	    tags_series_key(&tb, &scratch, &o, name, n, dd, dd ? strlen(dd) : 0, &s);
	if (c->key == NULL) {
		failed(reason != NULL && strcmp(reason, c->reason) == 0, ctx,
		       "reason \"%s\", want \"%s\"", reason ? reason : "(none)", c->reason);
	} else if (!failed(reason == NULL, ctx, "bad: %s", reason ? reason : "")) {
		size_t kl = strlen(c->key);
		failed(s.key_len == kl && memcmp(s.key, c->key, kl) == 0, ctx,
		       "key \"%s\", want \"%s\"", show(s.key, s.key_len), show(c->key, kl));
		failed(s.name_len == strcspn(c->key, ";"), ctx, "name_len %zu", s.name_len);
		if (c->borrowed)
			failed(s.key == name, ctx, "key not borrowed from the name");
		else
			failed(in_key_scratch(s.key, s.key_len), ctx, "key not in scr->key");
	}
	failed(s.type == METRIC_GAUGE && s.value == 42 && s.weight == 3 && s.timestamp == 7 &&
	           s.member == NULL && !s.gauge_delta,
	       ctx, "a field other than the key was written");
	free(name);
	free(dd);
}

static void test_sanitise(void)
{
	for (size_t i = 0; i < NELEMS(sanitise_cases); i++)
		run_key_case(&sanitise_cases[i], "sanitise_cases", i);
}

static void test_keys(void)
{
	for (size_t i = 0; i < NELEMS(key_cases); i++)
		run_key_case(&key_cases[i], "key_cases", i);
}

/* ---- event and service check tags ---- */

static const struct {
	const char *dd; /* NULL: no '#' field */
	unsigned opt;
	const char *tags; /* NULL when bad */
	const char *reason;
} event_cases[] = {
    {NULL, 0, "", NULL},
    {"", 0, "", NULL},
    {"tag1,tag2:test", 0, ";tag1;tag2=test", NULL},
    {"b:c d/e,a", 0, ";a;b=c_d-e", NULL},
    {"b,a,b", 0, ";a;b", NULL},
    {"k:v;w", 0, ";k=v_w", NULL},
    {"a b", O_NOSAN, ";a b", NULL},
    {"x,y", O_TAGS2, ";x;y", NULL},
    {"x,y,z", O_TAGS2, NULL, "too many tags"},
    {"a#b=1", O_LIBRATO, ";ab=1", NULL},
};

static void test_event_tags(void)
{
	for (size_t i = 0; i < NELEMS(event_cases); i++) {
		struct parse_opts o = opts_for(event_cases[i].opt);
		struct tags_builder tb;
		const char *out = NULL;
		size_t out_len = 99;
		const char *dd = event_cases[i].dd, *want = event_cases[i].tags;
		char ctx[64];

		snprintf(ctx, sizeof(ctx), "event_cases[%zu]", i);
		const char *reason =
		    tags_event(&tb, &scratch, &o, dd, dd ? strlen(dd) : 0, &out, &out_len);
		if (want == NULL) {
			failed(reason != NULL && strcmp(reason, event_cases[i].reason) == 0, ctx,
			       "reason \"%s\"", reason ? reason : "(none)");
		} else if (!failed(reason == NULL, ctx, "bad: %s", reason ? reason : "")) {
			failed(out == scratch.key, ctx, "tags not in scr->key");
			failed(out_len == strlen(want) && memcmp(out, want, out_len) == 0, ctx,
			       "tags \"%s\", want \"%s\"", show(out, out_len), want);
		}
	}
}

/* ---- limits on generated keys ---- */

static const struct {
	size_t name_len; /* 'n' repeated */
	size_t ntags;    /* distinct tags of tag_len digits */
	size_t tag_len;
	bool dup;      /* every tag given twice */
	bool graphite; /* tags in the name (";tag") instead of a DogStatsD list */
	size_t max_tags;
	const char *reason; /* NULL: accepted */
	size_t key_len;     /* expected when accepted */
} limit_cases[] = {
    {10, 64, 4, false, false, 64, NULL, 10 + 64 * 5},
    {10, 65, 4, false, false, 64, "too many tags", 0},
    {10, 64, 4, true, false, 64, NULL, 10 + 64 * 5},
    {10, 64, 4, true, true, 64, NULL, 10 + 64 * 5},
    {10, 65, 4, false, true, 64, "too many tags", 0},
    {10, 1024, 4, false, false, 5000, NULL, 10 + 1024 * 5},
    {10, 1025, 4, false, false, 5000, "too many tags", 0},
    {10, 1025, 4, false, true, 5000, "too many tags", 0},
    {8191, 0, 0, false, false, 64, NULL, 8191},
    {8192, 0, 0, false, false, 64, "key too long", 0},
    {8189, 1, 1, false, false, 64, NULL, 8191},
    {8190, 1, 1, false, false, 64, "key too long", 0},
    {8192, 1, 1, false, false, 64, "key too long", 0},
    {8189, 1, 1, false, true, 64, NULL, 8191},
    {8190, 1, 1, false, true, 64, "key too long", 0},
    {8000, 22, 8, false, false, 64, "key too long", 0},
    {8000, 21, 8, false, false, 20, "too many tags", 0},
    {8191 - 10 * 9, 10, 8, false, false, 64, NULL, 8191},
    {8192 - 10 * 9, 10, 8, false, false, 64, "key too long", 0},
    {8191 - 10 * 9, 10, 8, false, true, 64, NULL, 8191},
    {8192 - 10 * 9, 10, 8, false, true, 64, "key too long", 0},
    {100, 1, 8090, false, false, 64, NULL, 8191},
    {100, 1, 8091, false, false, 64, "key too long", 0},
    {10, 1, 9000, false, false, 64, "key too long", 0},
    {10, 1, 9000, false, true, 64, "key too long", 0},
    {0, 3, 2729, false, false, 64, NULL, 3 * 2730},
    {0, 4, 2047, false, false, 64, "key too long", 0},
    {0, 4, 2046, false, false, 64, NULL, 4 * 2047},
};

static void test_limits(void)
{
	for (size_t i = 0; i < NELEMS(limit_cases); i++) {
		size_t nl = limit_cases[i].name_len, nt = limit_cases[i].ntags;
		size_t tl = limit_cases[i].tag_len, reps = limit_cases[i].dup ? 2 : 1;
		bool gr = limit_cases[i].graphite;
		size_t cap = nl + 16 + reps * nt * (tl + 1);
		char *name = malloc(cap), *dd = malloc(cap), ctx[64];
		size_t n = nl, d = 0;
		struct parse_opts o;
		struct tags_builder tb;
		struct sample s = {0};

		snprintf(ctx, sizeof(ctx), "limit_cases[%zu]", i);
		memset(name, 'n', nl);
		for (size_t r = 0; r < reps; r++) {
			for (size_t t = 0; t < nt; t++) {
				if (gr)
					n += (size_t)snprintf(name + n, cap - n, ";%0*zu", (int)tl,
					                      t);
				else
					d += (size_t)snprintf(dd + d, cap - d, "%s%0*zu",
					                      d > 0 ? "," : "", (int)tl, t);
			}
		}
		parse_opts_default(&o);
		o.max_tags = limit_cases[i].max_tags;
		const char *reason =
		    tags_series_key(&tb, &scratch, &o, name, n, gr || nt == 0 ? NULL : dd, d, &s);
		if (limit_cases[i].reason != NULL) {
			failed(reason != NULL && strcmp(reason, limit_cases[i].reason) == 0, ctx,
			       "reason \"%s\", want \"%s\"", reason ? reason : "(none)",
			       limit_cases[i].reason);
		} else if (!failed(reason == NULL, ctx, "bad: %s", reason ? reason : "")) {
			failed(s.key_len == limit_cases[i].key_len, ctx, "key_len %zu, want %zu",
			       s.key_len, limit_cases[i].key_len);
			failed(s.name_len == nl, ctx, "name_len %zu, want %zu", s.name_len, nl);
		}
		free(name);
		free(dd);
	}
}

/* One builder per line: a line after a bad one starts clean, and the
 * scratch left by a longer key does not leak into a shorter one. */
static void test_reuse(void)
{
	static const struct {
		const char *name, *dd;
		unsigned opt;
		const char *key; /* NULL: bad */
	} seq[] = {
	    {"long.name.here;zz=1", "b:2,a:1", 0, "long.name.here;a=1;b=2;zz=1"},
	    {"t", "a,b,c", O_TAGS2, NULL},
	    {"s", "c", O_TAGS2, "s;c"},
	    {"x;y", NULL, 0, "x;y"},
	    {"plain", NULL, 0, "plain"},
	    {"q", "a", 0, "q;a"},
	};
	for (size_t i = 0; i < NELEMS(seq); i++) {
		struct parse_opts o = opts_for(seq[i].opt);
		struct tags_builder tb;
		struct sample s = {0};
		const char *dd = seq[i].dd;

		const char *reason =
		    tags_series_key(&tb, &scratch, &o, seq[i].name, strlen(seq[i].name), dd,
		                    dd ? strlen(dd) : 0, &s);
		if (seq[i].key == NULL)
			failed(reason != NULL, seq[i].name, "accepted");
		else if (!failed(reason == NULL, seq[i].name, "bad: %s", reason ? reason : ""))
			failed(s.key_len == strlen(seq[i].key) &&
			           memcmp(s.key, seq[i].key, s.key_len) == 0,
			       seq[i].name, "key \"%s\", want \"%s\"", show(s.key, s.key_len),
			       seq[i].key);
	}
}

/* ---- the one-pass DogStatsD list against the general path ----
 * Generated lines (seeded): tags_series_key (which takes the one-pass path
 * when the list allows it) must give what tags_series_key_general gives:
 * the same reason, key bytes, key_len, name_len, and the key in the same
 * place. The generator is checked to reach every kind of list. */

#define DIFF_CASES 60000
#define DIFF_BUF (PARSE_KEY_MAX + 512)

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t pick(size_t n)
{
	return (size_t)(rng() % n);
}

static bool chance(unsigned percent)
{
	return pick(100) < percent;
}

/* Appends one random byte of a tag: mostly kept bytes from a small set (so
 * that tags collide and share prefixes), sometimes one to sanitise. */
static void put_tag_byte(char *b, size_t *n, unsigned odd_percent)
{
	static const char kept[] = "abcdeAZ019_.-=";
	static const char odd[] = ":; /\t!\xc3\xa9,#[]\x01\x7f\xff";
	if (chance(odd_percent))
		b[(*n)++] = odd[pick(sizeof(odd) - 1)];
	else
		b[(*n)++] = kept[pick(sizeof(kept) - 1)];
}

/* A clean tag ("k" or "k:v", kept bytes only) of about len bytes. */
static size_t clean_tag(char *b, size_t len)
{
	static const char kept[] = "abcdeAZ019_.-=";
	size_t n = 0;
	if (len == 0)
		len = 1;
	for (size_t i = 0; i < len; i++)
		b[n++] = kept[pick(sizeof(kept) - 1)];
	if (len > 1 && chance(70))
		b[pick(len)] = ':';
	return n;
}

struct gen_tag {
	char b[256];
	size_t n;
	char canon[256]; /* first ':' as '=' */
};

static int gen_tag_cmp(const void *x, const void *y)
{
	const struct gen_tag *a = x, *b = y;
	size_t m = a->n < b->n ? a->n : b->n;
	int r = memcmp(a->canon, b->canon, m);
	return r != 0 ? r : (a->n > b->n) - (a->n < b->n);
}

/* A list of clean tags, strictly increasing in canonical form. */
static size_t sorted_list(char *out, size_t cap, size_t count, size_t tag_len)
{
	static struct gen_tag tags[1100];
	size_t n = 0, k = 0;
	if (count > NELEMS(tags))
		count = NELEMS(tags);
	for (size_t i = 0; i < count; i++) {
		struct gen_tag *t = &tags[i];
		t->n = clean_tag(t->b, 1 + pick(tag_len));
		memcpy(t->canon, t->b, t->n);
		char *c = memchr(t->canon, ':', t->n);
		if (c != NULL)
			*c = '=';
	}
	qsort(tags, count, sizeof(tags[0]), gen_tag_cmp);
	for (size_t i = 0; i < count; i++) {
		if (i > 0 && gen_tag_cmp(&tags[i - 1], &tags[i]) == 0)
			continue;
		if (n + tags[i].n + 1 > cap)
			break;
		if (k++ > 0)
			out[n++] = ',';
		memcpy(out + n, tags[i].b, tags[i].n);
		n += tags[i].n;
	}
	return n;
}

/* A list of random tags (any order, duplicates, empty tags, bytes to
 * sanitise as odd_percent says). */
static size_t random_list(char *out, size_t cap, size_t count, size_t tag_len, unsigned odd_percent)
{
	size_t n = 0;
	for (size_t i = 0; i < count && n + tag_len + 2 < cap; i++) {
		if (i > 0)
			out[n++] = ',';
		if (chance(5))
			continue; /* empty tag */
		if (i > 0 && chance(10)) {
			/* repeat an earlier tag (or a prefix of the list) */
			size_t from = pick(n), len = 1 + pick(n - from);
			if (len > tag_len)
				len = tag_len;
			memmove(out + n, out + from, len);
			n += len;
			continue;
		}
		size_t len = 1 + pick(tag_len);
		if (odd_percent == 0) {
			n += clean_tag(out + n, len);
		} else {
			for (size_t j = 0; j < len; j++)
				put_tag_byte(out, &n, odd_percent);
		}
	}
	return n;
}

/* One small change to a list: a swap of two tags' worth of bytes, an odd
 * byte, a second ':', an empty tag at either end or in the middle. */
static void mutate(char *b, size_t *n, size_t cap)
{
	static const char odd[] = ":;, /\xc3";
	if (*n + 1 >= cap)
		return;
	switch (pick(5)) {
	case 0:
		if (*n > 0)
			b[pick(*n)] = odd[pick(sizeof(odd) - 1)];
		break;
	case 1:
		b[(*n)++] = ',';
		break;
	case 2:
		memmove(b + 1, b, *n);
		b[0] = ',';
		(*n)++;
		break;
	case 3:
		if (*n > 0) {
			size_t at = pick(*n);
			memmove(b + at + 1, b + at, *n - at);
			b[at] = pick(2) ? ',' : ':';
			(*n)++;
		}
		break;
	default: {
		/* move the first tag to the end */
		char *c = memchr(b, ',', *n);
		if (c != NULL && *n + 1 < cap) {
			size_t first = (size_t)(c - b);
			char tmp[DIFF_BUF];
			memcpy(tmp, b, first);
			memmove(b, c + 1, *n - first - 1);
			b[*n - first - 1] = ',';
			memcpy(b + *n - first, tmp, first);
		}
		break;
	}
	}
}

/* What the one-pass path takes, as the test understands it: kept bytes,
 * ',' and at most one ':' per tag, no empty tag, nothing staged before. */
static bool fast_shape(const char *l, size_t n)
{
	bool colon = false;
	size_t tag = 0;
	if (n == 0 || n > PARSE_KEY_MAX - 17)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (l[i] == ',') {
			if (tag == 0)
				return false;
			tag = 0;
			colon = false;
			continue;
		}
		if (l[i] == ':') {
			if (colon)
				return false;
			colon = true;
		} else if (tags_class(l[i]) != TAGS_CH_KEEP) {
			return false;
		}
		tag++;
	}
	return tag > 0;
}

/* True when the key's tags are the list as given (',' as ';', the first
 * ':' of each tag as '='): the list came in order, without duplicates. */
static bool in_order(const char *tags, size_t tn, const char *l, size_t n)
{
	bool colon = false;
	if (tn != n + 1 || tags[0] != ';')
		return false;
	for (size_t i = 0; i < n; i++) {
		char want = l[i];
		if (want == ',') {
			want = ';';
			colon = false;
		} else if (want == ':' && !colon) {
			want = '=';
			colon = true;
		}
		if (tags[i + 1] != want)
			return false;
	}
	return true;
}

/* The line's name: plain, to sanitise, with Graphite tags, with a tag
 * style, or long enough to reach the key limit with the list. */
static size_t gen_name(char *b, size_t list_len)
{
	static const char *const names[] = {
	    "app.requests.n1234",
	    "t",
	    "fo/o",
	    "a b",
	    "n;b=1;a=2",
	    "n;",
	    "x;a:1",
	    "foo#a=1,b=2",
	    "foo,z=1",
	    "foo[a=1].bar",
	    "caf\xc3\xa9",
	    "gtag;env=prod;host=a",
	};
	switch (pick(5)) {
	case 0: {
		/* around the key limit */
		size_t want = PARSE_KEY_MAX - 1 - list_len - 1;
		size_t n = want + 24 - pick(48);
		if (n > PARSE_KEY_MAX + 100 || want > PARSE_KEY_MAX)
			n = 1 + pick(40);
		memset(b, 'n', n);
		if (n > 3 && chance(30))
			b[n / 2] = chance(50) ? ';' : '/';
		return n;
	}
	case 1: {
		size_t n = 1 + pick(64);
		for (size_t i = 0; i < n; i++)
			b[i] = "abz.09_-"[pick(8)];
		return n;
	}
	default: {
		const char *nm = names[pick(NELEMS(names))];
		size_t n = strlen(nm);
		memcpy(b, nm, n);
		return n;
	}
	}
}

enum diff_kind {
	D_FAST_SORTED,
	D_FAST_UNSORTED,
	D_FAST_TOO_MANY,
	D_FAST_TOO_LONG,
	D_GENERAL,
	D_GENERAL_ERR,
	D_KINDS,
};

static void test_differential(void)
{
	static const size_t max_tags[] = {0, 1, 2, 3, 5, 16, 17, 18, 64, 1024, 5000};
	static struct parse_scratch fast_scr, gen_scr;
	static char listbuf[DIFF_BUF], namebuf[DIFF_BUF];
	size_t kinds[D_KINDS] = {0}, mismatches = 0;

	rng_state = 0x7a11d5eedULL;
	for (size_t i = 0; i < DIFF_CASES; i++) {
		size_t ln = 0, count, tag_len;
		unsigned shape = (unsigned)pick(10);

		switch (shape) {
		case 0: /* long lists, near the one-pass and key limits */
			count = 300 + pick(1100);
			tag_len = 2 + pick(12);
			ln = chance(50)
			         ? sorted_list(listbuf, PARSE_KEY_MAX + 64, count, tag_len)
			         : random_list(listbuf, PARSE_KEY_MAX + 64, count, tag_len, 0);
			break;
		case 1: /* long tags */
			count = 1 + pick(4);
			tag_len = 40 + pick(200);
			ln = sorted_list(listbuf, DIFF_BUF, count, tag_len);
			break;
		case 2:
		case 3: /* sorted short lists */
			ln = sorted_list(listbuf, DIFF_BUF, 1 + pick(20), 1 + pick(12));
			break;
		case 4: /* sorted, then one change */
			ln = sorted_list(listbuf, DIFF_BUF, 1 + pick(20), 1 + pick(12));
			mutate(listbuf, &ln, DIFF_BUF);
			break;
		case 5:
		case 6: /* clean bytes, any order, duplicates, empty tags */
			ln = random_list(listbuf, DIFF_BUF, 1 + pick(24), 1 + pick(10), 0);
			break;
		case 7: /* bytes to sanitise */
			ln = random_list(listbuf, DIFF_BUF, 1 + pick(12), 1 + pick(10),
			                 (unsigned)(1 + pick(30)));
			break;
		case 8: /* the shape of the benchmark's line */
			ln = (size_t)snprintf(listbuf, DIFF_BUF, "env:prod,region:eu,host:web%zu",
			                      pick(100000));
			if (chance(30))
				mutate(listbuf, &ln, DIFF_BUF);
			break;
		default: /* short lists of every length, around 16 bytes */
			ln = random_list(listbuf, 48, 1 + pick(6), 1 + pick(6), chance(20) ? 5 : 0);
			break;
		}

		struct parse_opts o;
		parse_opts_default(&o);
		o.sanitize = !chance(25);
		if (chance(20))
			o.tag_styles = (unsigned)pick(8) & (TAG_STYLE_LIBRATO | TAG_STYLE_INFLUXDB |
			                                    TAG_STYLE_SIGNALFX);
		o.max_tags =
		    shape == 0 && chance(50) ? 300 + pick(1100) : max_tags[pick(NELEMS(max_tags))];
		size_t nn = gen_name(namebuf, ln);
		bool no_list = chance(2);

		/* Exact-size copies: ASan sees any read past either end. */
		char *name = malloc(nn + 1), *list = malloc(ln + 1);
		memcpy(name, namebuf, nn);
		memcpy(list, listbuf, ln);
		struct tags_builder tb;
		struct sample fs = {0}, gs = {0};
		const char *fr =
		    tags_series_key(&tb, &fast_scr, &o, name, nn, no_list ? NULL : list, ln, &fs);
		const char *gr = tags_series_key_general(&tb, &gen_scr, &o, name, nn,
		                                         no_list ? NULL : list, ln, &gs);

		bool same = (fr == NULL) == (gr == NULL) && (fr == NULL || strcmp(fr, gr) == 0);
		if (same && fr == NULL) {
			bool fb = fs.key == name, gb = gs.key == name;
			same = fs.key_len == gs.key_len && fs.name_len == gs.name_len && fb == gb &&
			       memcmp(fs.key, gs.key, fs.key_len) == 0 &&
			       (fb || fs.key == fast_scr.key) && (gb || gs.key == gen_scr.key);
		}
		if (!same && mismatches++ < 10) {
			char ctx[64];
			snprintf(ctx, sizeof(ctx), "differential case %zu", i);
			failed(false, ctx,
			       "name \"%s\" list \"%s\" sanitize %d styles %u max_tags %zu:\n"
			       "    one-pass %s \"%s\" (%zu/%zu), general %s \"%s\" (%zu/%zu)",
			       show(name, nn), show(list, ln), o.sanitize, o.tag_styles, o.max_tags,
			       fr ? fr : "ok", fr ? "" : show(fs.key, fs.key_len), fs.key_len,
			       fs.name_len, gr ? gr : "ok", gr ? "" : show(gs.key, gs.key_len),
			       gs.key_len, gs.name_len);
		}

		/* Which path the list took, to check the generator's reach. */
		bool staged = !no_list && !tags_name_plain(&o, name, nn) &&
		              (memchr(name, ';', nn) != NULL || o.tag_styles != 0);
		if (no_list || staged || !fast_shape(list, ln))
			kinds[gr ? D_GENERAL_ERR : D_GENERAL]++;
		else if (gr != NULL)
			kinds[strcmp(gr, "too many tags") == 0 ? D_FAST_TOO_MANY
			                                       : D_FAST_TOO_LONG]++;
		else if (in_order(gs.key + gs.name_len, gs.key_len - gs.name_len, list, ln))
			kinds[D_FAST_SORTED]++;
		else
			kinds[D_FAST_UNSORTED]++;
		free(name);
		free(list);
	}
	CU_ASSERT(mismatches == 0);
	printf("\n  %d cases: one-pass sorted %zu, unsorted or duplicated %zu, too many tags "
	       "%zu, key too long %zu; general %zu, general with an error %zu ",
	       DIFF_CASES, kinds[D_FAST_SORTED], kinds[D_FAST_UNSORTED], kinds[D_FAST_TOO_MANY],
	       kinds[D_FAST_TOO_LONG], kinds[D_GENERAL], kinds[D_GENERAL_ERR]);
	for (size_t k = 0; k < D_KINDS; k++) {
		char ctx[32];
		snprintf(ctx, sizeof(ctx), "differential kind %zu", k);
		failed(kinds[k] >= 200, ctx, "only %zu cases", kinds[k]);
	}
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"byte classes", test_char_class},
	    {"sanitised names", test_sanitise},
	    {"series keys", test_keys},
	    {"event tags", test_event_tags},
	    {"limits", test_limits},
	    {"builder reuse", test_reuse},
	    {"one-pass list = general path", test_differential},
	};

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("tags", NULL, NULL);
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
