/* tags: series keys for the line parser. Domain layer: pure, no I/O, no
 * allocation. A key is the sanitised name followed by its tags in canonical
 * form (";k=v", sorted bytewise, duplicates and empty tags dropped). The
 * parser owns a struct tags_builder on its stack for one line; everything the
 * builder writes goes into the caller's struct parse_scratch and is borrowed
 * until the parser's callback returns. */
#ifndef TALLYD_TAGS_H
#define TALLYD_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "metric.h"
#include "parse.h"

/* Most distinct tags one line may carry, whatever server.max_tags says: the
 * sorted tag list lives in the builder, on the parser's stack. */
#define TAGS_CAP 1024

/* How the reference statsd's sanitising treats a byte: kept, a whitespace
 * byte (a run becomes one '_'), '/' (becomes '-'), dropped, or ';' (the
 * Graphite tag separator, kept). Every byte outside [A-Za-z0-9_.;=-] and
 * ASCII whitespace is TAGS_CH_DROP. */
enum tags_char {
	TAGS_CH_KEEP = 0,
	TAGS_CH_SPACE,
	TAGS_CH_SLASH,
	TAGS_CH_DROP,
	TAGS_CH_SEMI,
};

/* One enum tags_char per byte value (read through tags_class). */
extern const unsigned char tags_char_class[256];

static inline enum tags_char tags_class(char c)
{
	return (enum tags_char)tags_char_class[(unsigned char)c];
}

/* ASCII whitespace as sanitising sees it: space, \t, \n, \v, \f, \r. */
static inline bool tags_is_space(char c)
{
	return tags_class(c) == TAGS_CH_SPACE;
}

/* A staged tag: bytes [off, off + len) of the builder's stage. */
struct tags_ref {
	uint16_t off, len;
};

/* The key being built for one line: the caller only provides the storage
 * (it is large: keep it on the stack of the function that parses the line);
 * tags_series_key and tags_event set it up and use it. The name goes
 * straight into scr->key; tags are sanitised one after the other into
 * scr->text (the stage), indexed by refs[] in sorted order, and appended to
 * the key as ";tag" at the end. */
struct tags_builder {
	char *key;   /* scr->key */
	size_t klen; /* bytes written to key */
	char *stage; /* scr->text */
	size_t slen;
	size_t ntags, max_tags;
	bool sanitize;
	bool joined; /* stage[0..slen) is ";tag" per tag, in order: one copy */
	unsigned styles;
	const char *err;
	struct tags_ref refs[TAGS_CAP];
};

/* Starts an empty key in scr with o's sanitize, tag_styles and max_tags
 * (capped at TAGS_CAP). scr is borrowed for as long as tb is used. Called
 * by tags_series_key and tags_event. */
static inline void tags_init(struct tags_builder *tb, struct parse_scratch *scr,
                             const struct parse_opts *o)
{
	tb->key = scr->key;
	tb->klen = 0;
	tb->stage = scr->text;
	tb->slen = 0;
	tb->ntags = 0;
	tb->max_tags = o->max_tags < TAGS_CAP ? o->max_tags : TAGS_CAP;
	tb->sanitize = o->sanitize;
	tb->joined = false;
	tb->styles = o->tag_styles;
	tb->err = NULL;
}

/* True when name[0..n) goes into the key exactly as received under o:
 * nothing to sanitise, no Graphite tag, no enabled tag style. */
static inline bool tags_name_plain(const struct parse_opts *o, const char *name, size_t n)
{
	if (o->sanitize) {
		/* ';' and every tag-style delimiter are outside TAGS_CH_KEEP. */
		for (size_t i = 0; i < n; i++)
			if (tags_class(name[i]) != TAGS_CH_KEEP)
				return false;
		return true;
	}
	if (memchr(name, ';', n) != NULL)
		return false;
	if ((o->tag_styles & TAG_STYLE_LIBRATO) && memchr(name, '#', n) != NULL)
		return false;
	if ((o->tag_styles & TAG_STYLE_INFLUXDB) && memchr(name, ',', n) != NULL)
		return false;
	if ((o->tag_styles & TAG_STYLE_SIGNALFX) && memchr(name, '[', n) != NULL)
		return false;
	return true;
}

/* The steps of tags_series_key, exported so that it can be inline. Each
 * returns false with the reason in tb->err.
 * tags_add_name: a name that tags_name_plain refused, sanitised into the
 * key, its Graphite tags and (enabled) tag-style tags staged.
 * tags_add_list: a DogStatsD tag list ("a:b,c", no '#') staged. The common
 * list (nothing staged before it; only kept bytes, ',' and one ':' per tag;
 * no empty tag) is read in one pass; any other goes the general way.
 * tags_add_list_general: the same result, always the general way. For tests
 * (test_tags compares the two); the server never calls it.
 * tags_write_key: ends a key that has a tag or a name that is not plain
 * (a plain name is copied in), then ";tag" per staged tag, in order; sets
 * s->key, s->key_len and s->name_len. */
bool tags_add_name(struct tags_builder *tb, const char *name, size_t n);
bool tags_add_list(struct tags_builder *tb, const char *list, size_t n);
bool tags_add_list_general(struct tags_builder *tb, const char *list, size_t n);
bool tags_write_key(struct tags_builder *tb, const char *name, size_t n, bool plain,
                    struct sample *s);

/* The series key of a metric line under o into s->key, s->key_len and
 * s->name_len (nothing else in s is touched). name[0..n) may carry Graphite
 * ";k=v" tags and, when enabled, a tag style; dd is the DogStatsD tag list
 * without its '#' ("a:b,c"), NULL when the line has none. When nothing
 * needs changing the key is the name itself, borrowed from the packet;
 * else it is in scr->key. tb is set up on scr only when there is a tag list
 * or a name to rewrite. Returns NULL, or the reason the line is bad: "key
 * too long" or "too many tags" (static strings). Inline: it runs once per
 * line, and most lines need no builder at all. tags_series_key_general is
 * the same with tags_add_list_general, for tests. tags_key_build is their
 * common body, with the name's plainness given. */
static inline const char *tags_key_build(struct tags_builder *tb, struct parse_scratch *scr,
                                         const struct parse_opts *o, const char *name, size_t n,
                                         bool plain, const char *dd, size_t dd_len,
                                         struct sample *s, bool general)
{
	if (!plain || dd != NULL) {
		tags_init(tb, scr, o);
		if (!plain && !tags_add_name(tb, name, n))
			return tb->err;
		if (dd != NULL && !(general ? tags_add_list_general(tb, dd, dd_len)
		                            : tags_add_list(tb, dd, dd_len)))
			return tb->err;
		if (!plain || tb->ntags > 0)
			return tags_write_key(tb, name, n, plain, s) ? NULL : tb->err;
	}
	if (n > PARSE_KEY_MAX - 1)
		return "key too long";
	s->key = name;
	s->key_len = s->name_len = n;
	return NULL;
}

static inline const char *tags_series_key(struct tags_builder *tb, struct parse_scratch *scr,
                                          const struct parse_opts *o, const char *name, size_t n,
                                          const char *dd, size_t dd_len, struct sample *s)
{
	return tags_key_build(tb, scr, o, name, n, tags_name_plain(o, name, n), dd, dd_len, s,
	                      false);
}

/* tags_series_key for a name the caller already knows tags_name_plain
 * accepts (the parser's one-pass path checked every byte of it). */
static inline const char *tags_series_key_plain(struct tags_builder *tb, struct parse_scratch *scr,
                                                const struct parse_opts *o, const char *name,
                                                size_t n, const char *dd, size_t dd_len,
                                                struct sample *s)
{
	return tags_key_build(tb, scr, o, name, n, true, dd, dd_len, s, false);
}

static inline const char *tags_series_key_general(struct tags_builder *tb,
                                                  struct parse_scratch *scr,
                                                  const struct parse_opts *o, const char *name,
                                                  size_t n, const char *dd, size_t dd_len,
                                                  struct sample *s)
{
	return tags_key_build(tb, scr, o, name, n, tags_name_plain(o, name, n), dd, dd_len, s,
	                      true);
}

/* The canonical tags of an event or service check (";a;k=v", empty when
 * dd is NULL) from the DogStatsD list dd[0..n) into scr->key, with o's
 * sanitize and max_tags. Returns NULL with *out and *out_len set, or the
 * reason as for tags_series_key. */
const char *tags_event(struct tags_builder *tb, struct parse_scratch *scr,
                       const struct parse_opts *o, const char *dd, size_t n, const char **out,
                       size_t *out_len);

#endif
