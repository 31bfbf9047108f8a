/* tags: builds series keys (docs/protocol.md "Series keys"): the reference
 * statsd's sanitising, Graphite "name;k=v" tags, the opt-in Librato,
 * InfluxDB and SignalFx tag styles, DogStatsD "|#" tag lists, and the
 * canonical sorted, duplicate-free ";k=v" form within server.max_tags. It
 * does not read the line grammar (groups, types, values, fields): parse.c
 * finds the name and the tag list and calls it once per line. */
#include "tags.h"

#include "buf.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* Puts the staged tag stage[off..off + len) (not empty) in its place in
 * refs[]: 0 when inserted, 1 when already there, -1 (tb->err set) when it
 * would be one tag more than max_tags. */
static int tag_insert(struct tags_builder *tb, size_t off, size_t len)
{
	size_t lo = 0, hi = tb->ntags;
	const char *t = tb->stage + off;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = tag_cmp(tb->stage + tb->refs[mid].off, tb->refs[mid].len, t, len);
		if (r == 0)
			return 1;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (tb->ntags >= tb->max_tags) {
		tb->err = "too many tags";
		return -1;
	}
	for (size_t i = tb->ntags; i > lo; i--)
		tb->refs[i] = tb->refs[i - 1];
	tb->refs[lo].off = (uint16_t)off;
	tb->refs[lo].len = (uint16_t)len;
	tb->ntags++;
	return 0;
}

/* stage[start..slen) holds one sanitised tag: drop it when empty or already
 * known, else insert it in order. */
static bool tag_commit(struct tags_builder *tb, size_t start)
{
	size_t len = tb->slen - start;

	tb->joined = false;
	if (len == 0)
		return true;
	int r = tag_insert(tb, start, len);
	if (r > 0)
		tb->slen = start;
	return r >= 0;
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

/* Copies n bytes 16 at a time: up to 15 bytes past both ends are read or
 * written, which the caller has room for. */
static inline void copy_over(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i += 16)
		memcpy(dst + i, src + i, 16);
}

/* Appends ";tag" for every staged tag, in order; a joined stage (the tags
 * in order, each after its ';') in one copy. */
static inline bool key_append(struct tags_builder *tb)
{
	char *key = tb->key;
	const char *stage = tb->stage;
	size_t klen = tb->klen, slen = tb->slen, nt = tb->ntags;

	/* Every tag is at most its stage bytes plus a ';': the key fits, and
	 * a copy may run 16 bytes past a tag in both arrays. */
	bool room = klen + slen + nt + 16 <= PARSE_KEY_MAX;
	if (tb->joined) {
		if (klen + slen > PARSE_KEY_MAX - 1) {
			tb->err = "key too long";
			return false;
		}
		if (room)
			copy_over(key + klen, stage, slen);
		else
			buf_copy_short(key + klen, stage, slen);
		tb->klen = klen + slen;
		return true;
	}
	if (room) {
		for (size_t i = 0; i < nt; i++) {
			size_t len = tb->refs[i].len;
			key[klen] = ';';
			copy_over(key + klen + 1, stage + tb->refs[i].off, len);
			klen += 1 + len;
		}
		tb->klen = klen;
		return true;
	}
	for (size_t i = 0; i < nt; i++) {
		size_t len = tb->refs[i].len;
		if (klen + 1 + len > PARSE_KEY_MAX - 1) {
			tb->err = "key too long";
			return false;
		}
		key[klen++] = ';';
		buf_copy_short(key + klen, stage + tb->refs[i].off, len);
		klen += len;
	}
	tb->klen = klen;
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

/* ---- the common DogStatsD list, in one pass ----
 *
 *   env:prod,region:eu,host:web34       every byte kept by sanitising, ','
 *   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^       or ':' (at most one per tag), no
 *  ;env=prod;region=eu;host=web34       empty tag
 *
 * Such a list is its key suffix byte for byte (',' -> ';', ':' -> '='),
 * with or without sanitize, so it is written to the stage 16 bytes at a
 * time; the tags are then found from the ',' and ':' bit masks. Tags that
 * come in order are appended and the stage stays joined (key_append copies
 * it at once); others are put in place by fast_insert. Any other list
 * (anything to sanitise or drop, ';', a second ':', an empty tag) is left
 * to tag_list, which gives the same key from scratch. */

enum fast { FAST_NO, FAST_OK, FAST_ERR };

struct fast_state {
	size_t start; /* list offset of the tag being read */
	bool colon;   /* the tag has had its ':' */
	bool in_order;
};

/* Transforms one block of up to 16 list bytes b[0..16) into out[0..16)
 * (all 16 written) and returns the lanes that are neither kept nor ',' nor
 * ':'; *commas and *colons get the lanes of those two. */
static inline unsigned fast_block(const char *b, char *out, unsigned *commas, unsigned *colons)
{
#ifdef __SSE2__
	/* Kept bytes as parse.c's keep_span finds them: c + (0x80 - lo) wraps
	 * [lo, lo + n) onto [-128, -128 + n); ORing 0x20 folds A-Z onto a-z. */
#define RANGE(c, lo, n)                                                                            \
	_mm_cmplt_epi8(_mm_add_epi8((c), _mm_set1_epi8((char)(0x80 - (lo)))),                      \
	               _mm_set1_epi8((char)(-128 + (n))))
	__m128i c = _mm_loadu_si128((const __m128i *)(const void *)b);
	__m128i letter = RANGE(_mm_or_si128(c, _mm_set1_epi8(0x20)), 'a', 26);
	__m128i digit =
	    _mm_andnot_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('/')), RANGE(c, '-', '9' - '-' + 1));
	__m128i other = _mm_or_si128(_mm_cmpeq_epi8(c, _mm_set1_epi8('=')),
	                             _mm_cmpeq_epi8(c, _mm_set1_epi8('_')));
	__m128i comma = _mm_cmpeq_epi8(c, _mm_set1_epi8(','));
	__m128i colon = _mm_cmpeq_epi8(c, _mm_set1_epi8(':'));
	__m128i ok = _mm_or_si128(_mm_or_si128(letter, digit),
	                          _mm_or_si128(other, _mm_or_si128(comma, colon)));
#undef RANGE
	/* ',' + 15 is ';', ':' + 3 is '='. */
	__m128i add = _mm_or_si128(_mm_and_si128(comma, _mm_set1_epi8(';' - ',')),
	                           _mm_and_si128(colon, _mm_set1_epi8('=' - ':')));
	_mm_storeu_si128((__m128i *)(void *)out, _mm_add_epi8(c, add));
	*commas = (unsigned)_mm_movemask_epi8(comma);
	*colons = (unsigned)_mm_movemask_epi8(colon);
	return ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;
#else
	unsigned bad = 0, cm = 0, cl = 0;
	for (unsigned i = 0; i < 16; i++) {
		char c = b[i];
		if (c == ',') {
			cm |= 1u << i;
			c = ';';
		} else if (c == ':') {
			cl |= 1u << i;
			c = '=';
		} else if (tags_char_class[(unsigned char)c] != TAGS_CH_KEEP) {
			bad |= 1u << i;
		}
		out[i] = c;
	}
	*commas = cm;
	*colons = cl;
	return bad;
#endif
}

/* Inserts a tag that is not after the last one (last_cmp: tag_cmp of the
 * last one and it, >= 0): a short list by moving the tags after it up while
 * looking for its place, a long one (or one at max_tags) as tag_commit
 * does. */
static enum fast fast_insert(struct tags_builder *tb, size_t off, size_t len, int last_cmp)
{
	struct tags_ref *refs = tb->refs;
	const char *stage = tb->stage, *t = stage + off;
	size_t nt = tb->ntags, k = nt;
	int r = last_cmp;

	if (r == 0)
		return FAST_OK; /* the last tag again */
	if (nt > 16 || nt >= tb->max_tags)
		return tag_insert(tb, off, len) < 0 ? FAST_ERR : FAST_OK;
	/* refs[nt] is free: nt < max_tags <= TAGS_CAP. */
	do {
		refs[k] = refs[k - 1];
		k--;
	} while (k > 0 && (r = tag_cmp(stage + refs[k - 1].off, refs[k - 1].len, t, len)) > 0);
	if (r == 0) {
		/* Already there: move the others back. */
		for (; k < nt; k++)
			refs[k] = refs[k + 1];
		return FAST_OK;
	}
	refs[k].off = (uint16_t)off;
	refs[k].len = (uint16_t)len;
	tb->ntags = nt + 1;
	return FAST_OK;
}

/* The tag list[st->start..end) is complete (its bytes are at stage offset
 * st->start + 1): append it, or insert it when out of order. */
static inline enum fast fast_tag(struct tags_builder *tb, struct fast_state *st, size_t end)
{
	size_t off = st->start + 1, len = end - st->start;

	if (len == 0)
		return FAST_NO;
	if (tb->ntags > 0) {
		const struct tags_ref *last = &tb->refs[tb->ntags - 1];
		int r = tag_cmp(tb->stage + last->off, last->len, tb->stage + off, len);
		if (r >= 0) {
			st->in_order = false;
			return fast_insert(tb, off, len, r);
		}
	}
	if (tb->ntags >= tb->max_tags) {
		tb->err = "too many tags";
		return FAST_ERR;
	}
	tb->refs[tb->ntags].off = (uint16_t)off;
	tb->refs[tb->ntags].len = (uint16_t)len;
	tb->ntags++;
	return FAST_OK;
}

/* The ',' and ':' of one block, lanes `valid` only, at list offset base. */
static inline enum fast fast_events(struct tags_builder *tb, struct fast_state *st, size_t base,
                                    unsigned commas, unsigned colons, unsigned valid)
{
	unsigned ev = (commas | colons) & valid;

	while (ev != 0) {
		unsigned j = (unsigned)__builtin_ctz(ev);
		if (commas >> j & 1u) {
			enum fast r = fast_tag(tb, st, base + j);
			if (r != FAST_OK)
				return r;
			st->start = base + j + 1;
			st->colon = false;
		} else {
			if (st->colon)
				return FAST_NO;
			st->colon = true;
		}
		ev &= ev - 1;
	}
	return FAST_OK;
}

/* list[0..n) onto an empty stage; 0 < n <= PARSE_KEY_MAX - 17. */
static enum fast fast_list(struct tags_builder *tb, const char *list, size_t n)
{
	struct fast_state st = {0, false, true};
	char *out = tb->stage + 1;
	unsigned commas, colons, bad;
	enum fast r;

	tb->stage[0] = ';';
	if (n < 16) {
		char b[16] = {0};
		unsigned valid = (1u << n) - 1;
		buf_copy_short(b, list, n);
		bad = fast_block(b, out, &commas, &colons);
		if ((bad & valid) != 0)
			return FAST_NO;
		r = fast_events(tb, &st, 0, commas, colons, valid);
		if (r != FAST_OK)
			return r;
	} else {
		size_t i = 0;
		for (; i + 16 <= n; i += 16) {
			bad = fast_block(list + i, out + i, &commas, &colons);
			if (bad != 0)
				return FAST_NO;
			r = fast_events(tb, &st, i, commas, colons, 0xffffu);
			if (r != FAST_OK)
				return r;
		}
		if (i < n) {
			/* The last 16 bytes again; only the lanes past i are new. */
			size_t base = n - 16;
			unsigned valid = 0xffffu & (0xffffu << (i - base));
			bad = fast_block(list + base, out + base, &commas, &colons);
			if ((bad & valid) != 0)
				return FAST_NO;
			r = fast_events(tb, &st, base, commas, colons, valid);
			if (r != FAST_OK)
				return r;
		}
	}
	r = fast_tag(tb, &st, n);
	if (r != FAST_OK)
		return r;
	tb->slen = n + 1;
	tb->joined = st.in_order;
	return FAST_OK;
}

bool tags_add_list(struct tags_builder *tb, const char *list, size_t n)
{
	/* One pass only onto an empty stage, with room for its last block. */
	if (tb->slen == 0 && n > 0 && n <= PARSE_KEY_MAX - 17) {
		enum fast r = fast_list(tb, list, n);
		if (r != FAST_NO)
			return r == FAST_OK;
		tb->ntags = 0; /* start again */
	}
	return tag_list(tb, list, n, PUT_COLON_EQ | PUT_SEMI_US);
}

bool tags_add_list_general(struct tags_builder *tb, const char *list, size_t n)
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
		buf_copy_short(tb->key, name, n);
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
