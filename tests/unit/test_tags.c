/* test_tags: series keys built straight through tags.h, without the line
 * grammar — the sanitising class of every byte, sanitised names, Graphite
 * ";k=v" tags, DogStatsD tag lists in canonical form (sorted bytewise,
 * duplicates and empty tags dropped), the opt-in tag styles, event tags, the
 * max_tags and key-length limits, and where the key lives (borrowed from
 * the name or written to the scratch). test_parse checks the same through
 * parse_line against both conformance corpora. */
#include <CUnit/Basic.h>
#include <stdarg.h>
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

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"byte classes", test_char_class}, {"sanitised names", test_sanitise},
	    {"series keys", test_keys},        {"event tags", test_event_tags},
	    {"limits", test_limits},           {"builder reuse", test_reuse},
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
