/* tags: builds series keys (docs/protocol.md "Series keys"): the reference
 * statsd's sanitising, Graphite "name;k=v" tags, the opt-in Librato,
 * InfluxDB and SignalFx tag styles, DogStatsD "|#" tag lists, and the
 * canonical sorted, duplicate-free ";k=v" form within server.max_tags. It
 * does not read the line grammar (groups, types, values, fields): parse.c
 * finds the name and the tag list and calls it once per line. */
#include "tags.h"

#include <string.h>

/* ---- sanitising ----
 * As the reference statsd: a run of whitespace becomes one '_', '/' becomes
 * '-', every byte outside [A-Za-z0-9_.;=-] is dropped. */

#define K TAGS_CH_KEEP
#define W TAGS_CH_SPACE
#define S TAGS_CH_SLASH
#define D TAGS_CH_DROP
#define P TAGS_CH_SEMI
const unsigned char tags_char_class[256] = {
    /* 0x00 */ D, D, D, D, D, D, D, D, D, W, W, W, W, W, D, D,
    /* 0x10 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    /* 0x20 */ W, D, D, D, D, D, D, D, D, D, D, D, D, K, K, S,
    /* 0x30 */ K, K, K, K, K, K, K, K, K, K, D, P, D, K, D, D,
    /* 0x40 */ D, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K,
    /* 0x50 */ K, K, K, K, K, K, K, K, K, K, K, D, D, D, D, K,
    /* 0x60 */ D, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K,
    /* 0x70 */ K, K, K, K, K, K, K, K, K, K, K, D, D, D, D, D,
    /* 0x80 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    /* 0x90 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    /* 0xa0 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    /* 0xb0 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    /* 0xc0 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    /* 0xd0 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    /* 0xe0 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
    /* 0xf0 */ D, D, D, D, D, D, D, D, D, D, D, D, D, D, D, D,
};
#undef K
#undef W
#undef S
#undef D
#undef P

/* put_clean flags: DogStatsD tags turn their first ':' into '=' (k:v is
 * written k=v); tags that did not come from a Graphite name turn ';' into
 * '_' so it can never be read back as a tag separator. */
#define PUT_COLON_EQ 1u
#define PUT_SEMI_US 2u

/* The output byte for a byte that is not TAGS_CH_KEEP (or any byte without
 * sanitize), or -1 to drop it; *flags and *in_space carry the state. */
static inline int clean_byte(unsigned char c, unsigned *flags, bool *in_space, bool sanitize)
{
	if (c == ':' && (*flags & PUT_COLON_EQ)) {
		c = '=';
		*flags &= ~PUT_COLON_EQ;
	} else if (c == ';' && (*flags & PUT_SEMI_US)) {
		c = '_';
	}
	if (sanitize) {
		switch (tags_char_class[c]) {
		case TAGS_CH_SPACE:
			if (*in_space)
				return -1;
			*in_space = true;
			return '_';
		case TAGS_CH_SLASH:
			*in_space = false;
			return '-';
		case TAGS_CH_DROP:
			*in_space = false;
			return -1;
		default:
			break;
		}
	}
	*in_space = false;
	return c;
}

/* Appends s[0..n), transformed and (with sanitize) sanitised, to buf at
 * *len without going past cap. False when it does not fit. */
static bool put_clean(char *buf, size_t *len, size_t cap, const char *s, size_t n, unsigned flags,
                      bool sanitize)
{
	size_t o = *len;
	bool in_space = false;

	/* Every byte gives at most one: when n bytes fit, no room check, and
	 * with sanitize, runs of kept bytes (most bytes; ':' and ';' are not
	 * TAGS_CH_KEEP, so no flag applies to them) are copied in a tight loop. */
	if (cap - o >= n) {
		const unsigned char *p = (const unsigned char *)s, *e = p + n;
		char *w = buf + o;
		while (p < e) {
			if (sanitize && tags_char_class[*p] == TAGS_CH_KEEP) {
				do
					*w++ = (char)*p++;
				while (p < e && tags_char_class[*p] == TAGS_CH_KEEP);
				in_space = false;
				continue;
			}
			int r = clean_byte(*p++, &flags, &in_space, sanitize);
			if (r >= 0)
				*w++ = (char)r;
		}
		*len = (size_t)(w - buf);
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int r;
		if (sanitize && tags_char_class[c] == TAGS_CH_KEEP) {
			in_space = false;
			r = c;
		} else {
			r = clean_byte(c, &flags, &in_space, sanitize);
			if (r < 0)
				continue;
		}
		if (o == cap)
			return false;
		buf[o++] = (char)r;
	}
	*len = o;
	return true;
}

/* ---- the sorted tag list ---- */

/* Bytewise, as memcmp (tags are short and mostly differ early). */
static int tag_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t m = alen < blen ? alen : blen;
	for (size_t i = 0; i < m; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	return alen < blen ? -1 : alen > blen;
}

/* stage[start..slen) holds one sanitised tag: drop it when empty or already
 * known, else insert it in order. */
static bool tag_commit(struct tags_builder *tb, size_t start)
{
	size_t len = tb->slen - start;
	size_t lo = 0, hi = tb->ntags;
	const char *t = tb->stage + start;

	if (len == 0)
		return true;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = tag_cmp(tb->stage + tb->refs[mid].off, tb->refs[mid].len, t, len);
		if (r == 0) {
			tb->slen = start;
			return true;
		}
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (tb->ntags >= tb->max_tags) {
		tb->err = "too many tags";
		return false;
	}
	for (size_t i = tb->ntags; i > lo; i--)
		tb->refs[i] = tb->refs[i - 1];
	tb->refs[lo].off = (uint16_t)start;
	tb->refs[lo].len = (uint16_t)len;
	tb->ntags++;
	return true;
}

static bool tag_add(struct tags_builder *tb, const char *s, size_t n, unsigned flags)
{
	size_t start = tb->slen;
	if (!put_clean(tb->stage, &tb->slen, PARSE_KEY_MAX - 1, s, n, flags, tb->sanitize)) {
		tb->err = "key too long";
		return false;
	}
	return tag_commit(tb, start);
}

/* A comma-separated tag list: DogStatsD `#a:b,c` or a tag style's `a=b,c`. */
static bool tag_list(struct tags_builder *tb, const char *s, size_t n, unsigned flags)
{
	const char *end = s + n;
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *te = comma ? comma : end;
		if (!tag_add(tb, s, (size_t)(te - s), flags))
			return false;
		if (!comma)
			return true;
		s = comma + 1;
	}
}

/* Appends ";tag" for every staged tag, in order. */
static inline bool key_append(struct tags_builder *tb)
{
	for (size_t i = 0; i < tb->ntags; i++) {
		size_t len = tb->refs[i].len;
		if (tb->klen + 1 + len > PARSE_KEY_MAX - 1) {
			tb->err = "key too long";
			return false;
		}
		tb->key[tb->klen++] = ';';
		memcpy(tb->key + tb->klen, tb->stage + tb->refs[i].off, len);
		tb->klen += len;
	}
	return true;
}

/* ---- names ----
 * Name pieces: bytes before the first ';' are the name, each ';' starts a
 * Graphite-style tag. The state runs across pieces (a SignalFx name comes in
 * two: before the '[' and after the ']'). */
struct name_state {
	bool in_tag;
	size_t tag_start; /* stage offset of the Graphite tag being written */
};

static bool name_piece(struct tags_builder *tb, const char *s, size_t n, struct name_state *st)
{
	const char *end = s + n;
	for (;;) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		const char *pe = semi ? semi : end;
		bool ok = st->in_tag ? put_clean(tb->stage, &tb->slen, PARSE_KEY_MAX - 1, s,
		                                 (size_t)(pe - s), 0, tb->sanitize)
		                     : put_clean(tb->key, &tb->klen, PARSE_KEY_MAX - 1, s,
		                                 (size_t)(pe - s), 0, tb->sanitize);
		if (!ok) {
			tb->err = "key too long";
			return false;
		}
		if (!semi)
			return true;
		if (st->in_tag && !tag_commit(tb, st->tag_start))
			return false;
		st->in_tag = true;
		st->tag_start = tb->slen;
		s = semi + 1;
	}
}

/* Optional tag styles inside the name (statsd.tag_styles):
 *   foo#k=v,k2=v2      foo,k=v,k2=v2      foo[k=v,k2=v2].rest
 *      ^ LIBRATO          ^ INFLUXDB         ^ SIGNALFX (name = foo.rest)
 * The first enabled delimiter wins. */
struct style_split {
	size_t head;             /* name bytes before the delimiter */
	const char *tags, *tail; /* tag list; SignalFx: name bytes after ']' */
	size_t tags_len, tail_len;
};

static void style_find(const char *s, size_t n, unsigned styles, struct style_split *ss)
{
	ss->head = n;
	ss->tags = ss->tail = NULL;
	ss->tags_len = ss->tail_len = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c == '#' && (styles & TAG_STYLE_LIBRATO)) ||
		    (c == ',' && (styles & TAG_STYLE_INFLUXDB))) {
			ss->head = i;
			ss->tags = s + i + 1;
			ss->tags_len = n - i - 1;
			return;
		}
		if (c == '[' && (styles & TAG_STYLE_SIGNALFX)) {
			const char *rb = memchr(s + i + 1, ']', n - i - 1);
			if (rb == NULL)
				continue;
			ss->head = i;
			ss->tags = s + i + 1;
			ss->tags_len = (size_t)(rb - ss->tags);
			ss->tail = rb + 1;
			ss->tail_len = (size_t)(s + n - ss->tail);
			return;
		}
	}
}

bool tags_add_name(struct tags_builder *tb, const char *name, size_t n)
{
	struct style_split ss;
	struct name_state st = {false, 0};

	style_find(name, n, tb->styles, &ss);
	if (!name_piece(tb, name, ss.head, &st))
		return false;
	if (ss.tail_len > 0 && !name_piece(tb, ss.tail, ss.tail_len, &st))
		return false;
	if (st.in_tag && !tag_commit(tb, st.tag_start))
		return false;
	if (ss.tags != NULL && !tag_list(tb, ss.tags, ss.tags_len, PUT_SEMI_US))
		return false;
	return true;
}

/* ---- keys ---- */

bool tags_add_list(struct tags_builder *tb, const char *list, size_t n)
{
	return tag_list(tb, list, n, PUT_COLON_EQ | PUT_SEMI_US);
}

bool tags_write_key(struct tags_builder *tb, const char *name, size_t n, bool plain,
                    struct sample *s)
{
	if (plain) {
		if (n > PARSE_KEY_MAX - 1) {
			tb->err = "key too long";
			return false;
		}
		memcpy(tb->key, name, n);
		tb->klen = n;
	}
	s->name_len = tb->klen;
	if (!key_append(tb))
		return false;
	s->key = tb->key;
	s->key_len = tb->klen;
	return true;
}

const char *tags_event(struct tags_builder *tb, struct parse_scratch *scr,
                       const struct parse_opts *o, const char *dd, size_t n, const char **out,
                       size_t *out_len)
{
	tags_init(tb, scr, o);
	if (dd != NULL && (!tag_list(tb, dd, n, PUT_COLON_EQ | PUT_SEMI_US) || !key_append(tb)))
		return tb->err;
	*out = tb->key;
	*out_len = tb->klen;
	return NULL;
}
