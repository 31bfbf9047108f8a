/* parse_fast: the one-pass paths for the common line ("name:17|c", with or
 * without fields) and parse_packet, which splits a packet and takes every
 * line it can through them (queued with the handler's queue, or through
 * the callbacks), the rest through the general path of parse.c. Same
 * contract as parse.c: no I/O, no allocation, no state between calls. */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "parse.h"
#include "parse_impl.h"
#include "tags.h"

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

/* parse_name_plain, inline in this file's paths */
static inline bool name_plain(const char *name, size_t len)
{
	return len > 0 && keep_span(name, name + len) == len;
}

bool parse_name_plain(const char *name, size_t len)
{
	return name_plain(name, len);
}

#ifdef __SSE2__
/* The bytes of p[0..16) that may end a name, as a 16-bit mask: ':' and
 * '\n', found with one compare as the bytes b with b | 0x30 == ':' (0x3a),
 * which also takes '*' and 0x1a. No name keeps those two (they are not
 * TAGS_CH_KEEP): a name found to end at one is not followed by ':', and
 * its line goes to the general path, as any name to sanitise does. */
static inline unsigned stops16(const char *p)
{
	__m128i c = _mm_loadu_si128((const __m128i *)(const void *)p);
	return (unsigned)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(_mm_or_si128(c, _mm_set1_epi8(0x30)), _mm_set1_epi8(':')));
}

/* The same for p[0..32): most names are shorter than 32 bytes, so two
 * loads and no loop find their end. */
static inline unsigned stops32(const char *p)
{
	return stops16(p) | stops16(p + 16) << 16;
}
#endif

/* The length of the name at p: the bytes before the first ':' or '\n' (or
 * '*' or 0x1a: stops16) (at most end - p). */
static inline size_t name_span(const char *p, const char *end)
{
	const char *q = p;
#ifdef __SSE2__
	if (end - q >= 32) {
		unsigned m = stops32(q);
		if (m != 0)
			return (size_t)__builtin_ctz(m);
		q += 32;
	}
	while (end - q >= 16) {
		unsigned m = stops16(q);
		if (m != 0)
			return (size_t)(q - p) + (size_t)__builtin_ctz(m);
		q += 16;
	}
#endif
	while (q < end && (*q | 0x30) != ':')
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
	struct parse_fields f = {1, false, 0, NULL, 0};
	struct sample s;
	const char *q = e + 1, *d;

	if (!name_plain(p, nlen))
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

/* The digits at v, 8 bytes read at once (SWAR): x is those bytes ^ '0';
 * returns how many digits lead, 0 to 7 (7 also when more do: the caller
 * finds v[7] is not the '|' it wants). The first byte that is not a digit
 * is the lowest with its top bit set in (x + 0x76) | x (a carry only comes
 * out of a byte that is not a digit, into the bytes after it). */
static inline size_t lead_digits(const char *v, uint64_t *x)
{
	uint64_t w;
	memcpy(&w, v, 8);
	w = le64(w) ^ 0x3030303030303030ULL;
	*x = w;
	uint64_t stop = ((w + 0x7676767676767676ULL) | w) & 0x8080808080808080ULL;
	return (unsigned)__builtin_ctzll(stop | 1ULL << 63) >> 3;
}

/* The value of the first n (1 to 7) digits of x (from lead_digits):
 * shifted so that zeros lead, summed in pairs, fours, eights. */
static inline uint64_t digits_value(uint64_t x, size_t n)
{
	if (n == 1)
		return x & 0xff;
	x <<= 64 - 8 * n;
	x = x * 10 + (x >> 8);
	return ((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32)) +
	        ((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32))) >>
	       32;
}

/* "|c\n" "|g\n" "|h\n" "|d\n" "|ms\n" in the 4 bytes w (little-endian):
 * the bytes they take (3 or 4) and *t, or 0. Counters, then timers, are
 * tested first: most lines are of those. */
static inline size_t type_word(uint32_t w, enum metric_type *t)
{
	if ((w & 0xffffff) == ('|' | 'c' << 8 | '\n' << 16)) {
		*t = METRIC_COUNTER;
		return 3;
	}
	if (w == ('|' | 'm' << 8 | 's' << 16 | (uint32_t)'\n' << 24)) {
		*t = METRIC_TIMER;
		return 4;
	}
	switch (w & 0xffffff) {
	case '|' | 'g' << 8 | '\n' << 16:
		*t = METRIC_GAUGE;
		return 3;
	case '|' | 'h' << 8 | '\n' << 16:
		*t = METRIC_HISTOGRAM;
		return 3;
	case '|' | 'd' << 8 | '\n' << 16:
		*t = METRIC_DISTRIBUTION;
		return 3;
	default:
		return 0;
	}
}

/* A common line's sample, queued: the name as received, unchecked
 * (line_len, parse.h), weight 1. */
static inline void queue_put(struct qsample *r, const char *name, size_t nlen, double value,
                             enum metric_type type, size_t line_len)
{
	r->key = name;
	r->key_len = (uint16_t)nlen;
	r->value = value;
	r->weight = 1;
	r->type = (unsigned char)type;
	r->gauge_delta = false;
	r->line_len = (uint16_t)line_len;
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
	/* 1 to 7 digits then '|' (most values): 8 bytes at once. */
	if (end - v >= 8) {
		uint64_t x;
		size_t n = lead_digits(v, &x);
		if (n > 0 && v[n] == '|' && (size_t)(end - v) >= n + 2) {
			value = (double)(int64_t)digits_value(x, n);
			v += n;
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
		size_t adv = type_word(le32(w), &s.type);
		if (adv != 0) {
			next = v + adv;
			goto plain;
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
		queue_put(&queue->v[queue->n++], p, nlen, value, s.type, (size_t)(lend - p));
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

/* Where parse_packet is in a packet, and what it parses with: queue_lines
 * reads and moves it (one pointer: what its loop keeps stays in registers). */
struct span {
	const char *p;    /* the next line */
	const char *stop; /* queue_lines takes the lines that start before it */
	const char *end;  /* the packet's end (past last_newline's '\n' once it is there) */
	/* parse_packet_padded's buffer until last_newline (end is then
	 * room + the packet's length), else NULL */
	char *room;
	const struct parse_opts *o;
	struct parse_scratch *scr;
	const struct parse_handler *h;
	void *ctx;
};

#ifdef __SSE2__
/* The '\n' that ends the packet buf[0..len) with room after it: its own
 * last byte, or one written after it. Changes none of its lines (an empty
 * last line counts for nothing). */
static const char *last_newline(char *buf, size_t len)
{
	if (len > 0 && buf[len - 1] == '\n')
		return buf + len - 1;
	buf[len] = '\n';
	return buf + len;
}

/*   app.metric.n42:1|c\n        name (< 32 bytes), 1 to 7 digits, type, '\n'
 *   app.metric.n42:250|ms\n
 * The commonest lines, with a queue: from sp->p, appends every line of this
 * form that starts before sp->stop to the queue (as common_line would) and
 * stops at the first line of another form; sp->p becomes where it stopped.
 * Returns the lines taken. A line reads at most 44 bytes from where it
 * starts (the name and ':' in 32, the value's 8 bytes and the 4 after its
 * last digit): sp->stop is 43 bytes before the packet's end, or with room
 * after it (sp->room), once there, its last '\n' (last_newline), which no
 * line of this form reads past. Not before: in a buffer that is not in the
 * cache, reading or writing the packet's end first costs a miss that the
 * reads in order do not (bench_parse: 1-2 ns a line, one per packet). Its
 * own function, so that what it keeps (the queue's count among them) stays
 * in registers. The caller takes it only when server.max_name is at least
 * 31 (it checks no name length). */
static __attribute__((noinline)) size_t queue_lines(struct span *sp)
{
	struct sample_queue *q = sp->h->queue;
	const char *p = sp->p, *stop = sp->stop;
	/* r: where the next sample goes; the lines taken are those queued
	 * since r0, plus lines (the count before the last commit or line with
	 * fields, after which the queue starts again at r0) */
	struct qsample *r = &q->v[q->n], *r0 = r, *const full = &q->v[SAMPLE_QUEUE_MAX];
	size_t lines = 0;

again:
	/* tested at the bottom: one compare a line */
	if (p < stop)
		do {
			/* A free slot first (a commit before a line that turns out not
			 * to be of this form does no harm: the queue keeps its order). */
			if (__builtin_expect(r == full, 0)) {
				q->n = SAMPLE_QUEUE_MAX;
				sp->h->commit(sp->ctx);
				lines += (size_t)(r - r0);
				r = r0 = &q->v[q->n];
			}
			/* The name: up to the first ':' (a '\n' first: not this form).
			 * Without a stop in its first 31 bytes, nlen is 31, and p[31] is
			 * not ':' unless the name is 31 bytes long. An empty name is
			 * queued: the shard does not take it (parse_name_plain). */
			size_t nlen = (size_t)__builtin_ctz(stops32(p) | 1u << 31);
			const char *v = p + nlen + 1;
			if (v[-1] != ':')
				goto out;
			uint64_t x;
			size_t nd = lead_digits(v, &x);
			if (nd == 0)
				goto out;
			/* The type, at t; or the same types with fields ("|c|#env:prod",
			 * "|ms|@0.5"): common_fields. */
			const char *t = v + nd;
			uint32_t w;
			memcpy(&w, t, 4);
			w = le32(w);
			double value = (double)(int64_t)digits_value(x, nd);
			/* Counters, most lines, on a path of their own: its type and
			 * lengths are constants. */
			if ((w & 0xffffff) == ('|' | 'c' << 8 | '\n' << 16)) {
				queue_put(r++, p, nlen, value, METRIC_COUNTER, (size_t)(t + 2 - p));
				p = t + 3;
				continue;
			}
			enum metric_type type;
			size_t adv = type_word(w, &type);
			if (__builtin_expect(adv == 0, 0)) {
				if ((w & 0xffffff) == ('|' | 'm' << 8 | 's' << 16) &&
				    w >> 24 == '|') {
					type = METRIC_TIMER;
					adv = 4;
				} else if ((w & 0xff00ff) == ('|' | '|' << 16) &&
				           parse_type_char((int)(w >> 8 & 0xff), &type) &&
				           type != METRIC_SET) {
					adv = 3;
				} else {
					goto out;
				}
				/* Its samples come through h->sample, into the same queue. */
				q->n = (size_t)(r - q->v);
				const char *next =
				    common_fields(p, nlen, t + adv - 1, sp->end, sp->o, sp->scr,
				                  sp->h, sp->ctx, type, value);
				lines += (size_t)(r - r0) + (next != NULL);
				r = r0 = &q->v[q->n];
				if (next == NULL)
					goto out;
				p = next;
				continue;
			}
			queue_put(r++, p, nlen, value, type, (size_t)(t + adv - 1 - p));
			p = t + adv;
		} while (p < stop);
	if (sp->room != NULL && p < sp->end) {
		stop = sp->stop = last_newline(sp->room, (size_t)(sp->end - sp->room));
		sp->end = stop + 1;
		sp->room = NULL;
		goto again;
	}
out:
	q->n = (size_t)(r - q->v);
	sp->p = p;
	return lines + (size_t)(r - r0);
}
#endif

/* parse_packet over buf[0..len); room is NULL, or buf (parse_packet_padded:
 * PARSE_PAD bytes after the packet are the parser's). */
static size_t split(const char *buf, size_t len, char *room, const struct parse_opts *o,
                    struct parse_scratch *scr, const struct parse_handler *h, void *ctx)
{
	struct span sp = {buf, len >= 44 ? buf + len - 43 : buf, buf + len, room, o, scr, h, ctx};
	size_t lines = 0;
	/* The longest name the one-pass path takes (it builds no key). */
	size_t max_name = o->max_name < PARSE_KEY_MAX - 1 ? o->max_name : PARSE_KEY_MAX - 1;
	bool common = o->sanitize;
	struct sample_queue *queue = h->queue;

	while (sp.p < sp.end) {
#ifdef __SSE2__
		/* queue_lines takes names of up to 31 bytes without a length check */
		if (common && queue != NULL && max_name >= 31) {
			lines += queue_lines(&sp);
			if (sp.p >= sp.end)
				break;
		}
#endif
		const char *p = sp.p, *end = sp.end;
		if (common && *p != '\n') {
			const char *next = common_line(p, end, max_name, o, scr, h, ctx, queue);
			if (next != NULL) {
				lines++;
				sp.p = next;
				continue;
			}
		}
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t n = (size_t)(le - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > 0) {
			lines++;
			parse_line_as_is(p, n, o, scr, h, ctx);
		}
		if (nl == NULL)
			break;
		sp.p = nl + 1;
	}
	return lines;
}

size_t parse_packet(const char *buf, size_t len, const struct parse_opts *o,
                    struct parse_scratch *scr, const struct parse_handler *h, void *ctx)
{
	return split(buf, len, NULL, o, scr, h, ctx);
}

/* A line queue_lines takes after last_newline starts before that '\n' and
 * reads at most 43 bytes past it. */
size_t parse_packet_padded(char *buf, size_t len, const struct parse_opts *o,
                           struct parse_scratch *scr, const struct parse_handler *h, void *ctx)
{
	_Static_assert(PARSE_PAD >= 44, "queue_lines reads 43 bytes past a line's start");
	return split(buf, len, buf, o, scr, h, ctx);
}
