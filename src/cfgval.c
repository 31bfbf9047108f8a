/* cfgval: parses and formats the value types of config keys (address, bool,
 * int, double, duration, size, log level, name, percentiles, quantiles,
 * duration lists, histogram, tag styles), with error reasons that quote the
 * bad text. It knows no keys, defaults or bounds, and resolves no names:
 * addresses are checked by syntax only. Called by config's set_value and
 * format_value (and by whoever names window quantiles). */
#include "cfgval.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "ini.h"
#include "log.h"
#include "num.h"
#include "parse.h"
#include "xalloc.h"

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)

static bool word_eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* ---- list tokenizer ----------------------------------------------------
 * Entries are separated by a comma, whitespace, or both:
 *   90, -10 99.9
 *   ^^  ^^^ ^^^^   three tokens; ",," and a leading or trailing comma are errors */
struct tokens {
	const char *p, *end;
	bool after_comma;
};

/* 1: a token (tok, len); 0: end of list; -1: an empty entry. */
static int next_token(struct tokens *t, const char **tok, size_t *len)
{
	while (t->p < t->end && ini_is_space(*t->p))
		t->p++;
	if (t->p == t->end)
		return t->after_comma ? -1 : 0;
	if (*t->p == ',')
		return -1;
	*tok = t->p;
	while (t->p < t->end && *t->p != ',' && !ini_is_space(*t->p))
		t->p++;
	*len = (size_t)(t->p - *tok);
	while (t->p < t->end && ini_is_space(*t->p))
		t->p++;
	t->after_comma = t->p < t->end && *t->p == ',';
	if (t->after_comma)
		t->p++;
	return 1;
}

/* ---- scalars ----------------------------------------------------------- */

/*   [fe80::1%eth0]:8125   or   graphite.example.com:2003
 *   ^^^^^^^^^^^^^^^ ^^^^       ^^^^^^^^^^^^^^^^^^^^ ^^^^  host, then port */
bool cfgval_address(const char *s, size_t len, char *why, size_t whylen)
{
	const char *port;
	size_t plen;

	if (len == 0)
		return true;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close || close == s + 1) {
			snprintf(why, whylen, "\"%.*s%s\": expected [v6-address]:port",
			         INI_SHOW(s, len));
			return false;
		}
		bool colon = false;
		for (const char *h = s + 1; h < close; h++) {
			if (*h == ':')
				colon = true;
			else if (!isxdigit((unsigned char)*h) && *h != '.' && *h != '%' &&
			         !isalnum((unsigned char)*h)) {
				snprintf(why, whylen,
				         "\"%.*s%s\": bad character '%c' in IPv6 address",
				         INI_SHOW(s, len), *h);
				return false;
			}
		}
		if (!colon || close + 1 == s + len || close[1] != ':') {
			snprintf(why, whylen, "\"%.*s%s\": expected [v6-address]:port",
			         INI_SHOW(s, len));
			return false;
		}
		port = close + 2;
	} else {
		const char *colon = memchr(s, ':', len);
		if (colon && memchr(colon + 1, ':', (size_t)(s + len - colon - 1))) {
			snprintf(why, whylen,
			         "\"%.*s%s\": an IPv6 address needs brackets, e.g. [::1]:8125",
			         INI_SHOW(s, len));
			return false;
		}
		if (!colon || colon == s) {
			snprintf(why, whylen,
			         "\"%.*s%s\": expected host:port, [v6-address]:port or empty",
			         INI_SHOW(s, len));
			return false;
		}
		for (const char *h = s; h < colon; h++) {
			if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-' && *h != '_') {
				snprintf(why, whylen, "\"%.*s%s\": bad character '%c' in host name",
				         INI_SHOW(s, len), *h);
				return false;
			}
		}
		port = colon + 1;
	}
	plen = (size_t)(s + len - port);
	int64_t p = -1;
	bool digits = plen > 0 && plen <= 5;
	for (size_t i = 0; digits && i < plen; i++)
		digits = port[i] >= '0' && port[i] <= '9';
	if (!digits || !num_parse_int64(port, plen, &p) || p > 65535) {
		snprintf(why, whylen, "\"%.*s%s\": port must be a number from 0 to 65535",
		         INI_SHOW(s, len));
		return false;
	}
	return true;
}

int64_t cfgval_address_port(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	int64_t port = -1;
	if (colon)
		num_parse_int64(colon + 1, strlen(colon + 1), &port);
	return port;
}

bool cfgval_bool(const char *s, size_t len, bool *out, char *why, size_t whylen)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (word_eq(s, len, yes[i])) {
			*out = true;
			return true;
		}
		if (word_eq(s, len, no[i])) {
			*out = false;
			return true;
		}
	}
	snprintf(why, whylen, "\"%.*s%s\": expected true, false, yes, no, on, off, 1 or 0",
	         INI_SHOW(s, len));
	return false;
}

bool cfgval_int(const char *s, size_t len, int64_t *out, char *why, size_t whylen)
{
	if (num_parse_int64(s, len, out))
		return true;
	snprintf(why, whylen, "\"%.*s%s\" is not an integer", INI_SHOW(s, len));
	return false;
}

bool cfgval_double(const char *s, size_t len, double *out, char *why, size_t whylen)
{
	if (num_parse_double(s, len, out))
		return true;
	snprintf(why, whylen, "\"%.*s%s\" is not a number", INI_SHOW(s, len));
	return false;
}

bool cfgval_duration(const char *s, size_t len, int64_t *out, char *why, size_t whylen)
{
	if (num_parse_duration_ms(s, len, out))
		return true;
	snprintf(why, whylen,
	         "\"%.*s%s\" is not a duration (an integer with unit ms, s, m, h or d; a bare "
	         "number is seconds)",
	         INI_SHOW(s, len));
	return false;
}

bool cfgval_size(const char *s, size_t len, int64_t *out, char *why, size_t whylen)
{
	if (num_parse_size(s, len, out))
		return true;
	snprintf(why, whylen,
	         "\"%.*s%s\" is not a size (an integer of bytes, optionally with k, m or g)",
	         INI_SHOW(s, len));
	return false;
}

bool cfgval_log_level(const char *s, size_t len, int *out, char *why, size_t whylen)
{
	if (log_level_parse(s, out))
		return true;
	snprintf(why, whylen, "\"%.*s%s\": expected error, warn, info or debug", INI_SHOW(s, len));
	return false;
}

bool cfgval_name(const char *s, size_t len, char *why, size_t whylen)
{
	for (size_t i = 0; i < len; i++) {
		if (ini_is_space(s[i])) {
			snprintf(why, whylen, "\"%.*s%s\": whitespace is not allowed in a name",
			         INI_SHOW(s, len));
			return false;
		}
	}
	return true;
}

/* ---- lists ------------------------------------------------------------- */

/* A list of percentiles: statsd's (each in [-100, 100], not 0) or window
 * quantiles (each in (0, 100), reported names distinct). */
static bool parse_percent_list(const char *s, size_t len, bool quantile, double **out, size_t *nout,
                               char *why, size_t whylen)
{
	struct tokens t = {s, s + len, false};
	struct buf name = BUF_INIT, other = BUF_INIT;
	double *v = NULL;
	size_t n = 0;
	const char *tok;
	size_t tl;
	int r;

	while ((r = next_token(&t, &tok, &tl)) == 1) {
		double d;
		if (!num_parse_double(tok, tl, &d)) {
			snprintf(why, whylen, "\"%.*s%s\" is not a number", INI_SHOW(tok, tl));
			goto fail;
		}
		if (quantile && !(d > 0 && d < 100)) {
			snprintf(why, whylen,
			         "quantile %.*s%s must be more than 0 and less than 100",
			         INI_SHOW(tok, tl));
			goto fail;
		}
		if (!quantile && (d == 0 || d < -100 || d > 100)) {
			snprintf(why, whylen,
			         "percentile %.*s%s must be from -100 to 100 and not 0",
			         INI_SHOW(tok, tl));
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			if (v[i] == d) {
				snprintf(why, whylen, "%s %.*s%s is listed twice",
				         quantile ? "quantile" : "percentile", INI_SHOW(tok, tl));
				goto fail;
			}
		}
		if (quantile) {
			buf_reset(&name);
			cfgval_format_quantile_name(&name, d);
			for (size_t i = 0; i < n; i++) {
				buf_reset(&other);
				cfgval_format_quantile_name(&other, v[i]);
				if (strcmp(name.p, other.p) == 0) {
					buf_reset(&other);
					buf_num(&other, v[i]);
					snprintf(
					    why, whylen,
					    "quantiles %s and %.*s%s would both be reported as %s",
					    other.p, INI_SHOW(tok, tl), name.p);
					goto fail;
				}
			}
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = d;
	}
	if (r < 0) {
		snprintf(why, whylen, "empty entry in the list (stray comma)");
		goto fail;
	}
	if (n == 0) {
		snprintf(why, whylen, "at least one %s is needed",
		         quantile ? "quantile" : "percentile");
		goto fail;
	}
	buf_free(&name);
	buf_free(&other);
	*out = v;
	*nout = n;
	return true;
fail:
	buf_free(&name);
	buf_free(&other);
	free(v);
	return false;
}

bool cfgval_percentiles(const char *s, size_t len, double **out, size_t *nout, char *why,
                        size_t whylen)
{
	return parse_percent_list(s, len, false, out, nout, why, whylen);
}

bool cfgval_quantiles(const char *s, size_t len, double **out, size_t *nout, char *why,
                      size_t whylen)
{
	return parse_percent_list(s, len, true, out, nout, why, whylen);
}

bool cfgval_durations(const char *s, size_t len, int64_t **out, size_t *nout, char *why,
                      size_t whylen)
{
	struct tokens t = {s, s + len, false};
	int64_t *v = NULL;
	size_t n = 0;
	const char *tok;
	size_t tl;
	int r;

	while ((r = next_token(&t, &tok, &tl)) == 1) {
		int64_t d;
		if (!cfgval_duration(tok, tl, &d, why, whylen))
			goto fail;
		if (d == 0) {
			snprintf(why, whylen, "duration %.*s%s must be more than 0",
			         INI_SHOW(tok, tl));
			goto fail;
		}
		if (n > 0 && d <= v[n - 1]) {
			struct buf prev = BUF_INIT;
			cfgval_format_duration(&prev, v[n - 1]);
			snprintf(why, whylen,
			         "durations must be strictly ascending (%.*s%s after %s)",
			         INI_SHOW(tok, tl), prev.p);
			buf_free(&prev);
			goto fail;
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = d;
	}
	if (r < 0) {
		snprintf(why, whylen, "empty entry in the list (stray comma)");
		goto fail;
	}
	*out = v; /* may be empty (NULL, 0): the row's bounds decide */
	*nout = n;
	return true;
fail:
	free(v);
	return false;
}

void cfgval_free_histograms(struct config_histogram *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].metric);
		free(h[i].bins);
	}
	free(h);
}

/* One entry of the histogram spec:
 *   render:0.01,0.1,1,10,inf; histo:50,100
 *   ^^^^^^ ^^^^^^^^^^^^^^^^^  metric substring, then ascending bins, inf last */
static bool parse_histogram_entry(const char *s, size_t len, struct config_histogram *h, char *why,
                                  size_t whylen)
{
	const char *colon = memchr(s, ':', len);
	if (!colon) { /* h stays empty */
		snprintf(why, whylen, "entry \"%.*s%s\" has no ':' (expected metric:bin,bin,...)",
		         INI_SHOW(s, len));
		return false;
	}
	const char *m = s;
	size_t ml = (size_t)(colon - s);
	ini_trim(&m, &ml);
	h->metric = xstrndup(m, ml);

	struct tokens t = {colon + 1, s + len, false};
	const char *tok;
	size_t tl;
	int r;
	while ((r = next_token(&t, &tok, &tl)) == 1) {
		double d;
		if (h->nbins > 0 && isinf(h->bins[h->nbins - 1])) {
			snprintf(why, whylen, "histogram \"%s\": inf must be the last bin",
			         h->metric);
			return false;
		}
		if (word_eq(tok, tl, "inf")) {
			d = INFINITY;
		} else if (!num_parse_double(tok, tl, &d)) {
			snprintf(why, whylen, "histogram \"%s\": bin \"%.*s%s\" is not a number",
			         h->metric, INI_SHOW(tok, tl));
			return false;
		}
		if (h->nbins > 0 && !(d > h->bins[h->nbins - 1])) {
			snprintf(why, whylen,
			         "histogram \"%s\": bins must be strictly ascending (%.*s%s)",
			         h->metric, INI_SHOW(tok, tl));
			return false;
		}
		h->bins = xrealloc(h->bins, (h->nbins + 1) * sizeof(double));
		h->bins[h->nbins++] = d;
	}
	if (r < 0) {
		snprintf(why, whylen, "histogram \"%s\": empty bin (stray comma)", h->metric);
		return false;
	}
	return true;
}

bool cfgval_histograms(const char *s, size_t len, struct config_histogram **out, size_t *nout,
                       char *why, size_t whylen)
{
	struct config_histogram *hs = NULL;
	size_t n = 0;
	const char *end = s + len;

	if (len == 0) {
		*out = NULL;
		*nout = 0;
		return true;
	}
	for (const char *p = s;;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *e = semi ? semi : end;
		const char *entry = p;
		size_t elen = (size_t)(e - p);
		ini_trim(&entry, &elen);
		if (elen == 0) {
			snprintf(why, whylen, "empty histogram entry (stray ';')");
			goto fail;
		}
		hs = xrealloc(hs, (n + 1) * sizeof(*hs));
		hs[n] = (struct config_histogram){NULL, NULL, 0};
		bool ok = parse_histogram_entry(entry, elen, &hs[n], why, whylen);
		n++;
		if (!ok)
			goto fail;
		for (size_t i = 0; i + 1 < n; i++) {
			if (strcmp(hs[i].metric, hs[n - 1].metric) == 0) {
				snprintf(why, whylen, "histogram \"%s\" is listed twice",
				         hs[i].metric);
				goto fail;
			}
		}
		if (!semi)
			break;
		p = semi + 1;
	}
	*out = hs;
	*nout = n;
	return true;
fail:
	cfgval_free_histograms(hs, n);
	return false;
}

static const struct {
	const char *name;
	unsigned bit;
} tag_style_names[] = {
    {"librato", TAG_STYLE_LIBRATO},
    {"influxdb", TAG_STYLE_INFLUXDB},
    {"signalfx", TAG_STYLE_SIGNALFX},
};

#define NTAG_STYLES (sizeof(tag_style_names) / sizeof(tag_style_names[0]))

bool cfgval_tag_styles(const char *s, size_t len, unsigned *out, char *why, size_t whylen)
{
	struct tokens t = {s, s + len, false};
	unsigned bits = 0;
	const char *tok;
	size_t tl;
	int r;

	while ((r = next_token(&t, &tok, &tl)) == 1) {
		size_t i = 0;
		while (i < NTAG_STYLES && !word_eq(tok, tl, tag_style_names[i].name))
			i++;
		if (i == NTAG_STYLES) {
			snprintf(
			    why, whylen,
			    "unknown tag style \"%.*s%s\" (expected librato, influxdb or signalfx)",
			    INI_SHOW(tok, tl));
			return false;
		}
		bits |= tag_style_names[i].bit;
	}
	if (r < 0) {
		snprintf(why, whylen, "empty entry in the list (stray comma)");
		return false;
	}
	*out = bits;
	return true;
}

/* ---- formatting (the inverse of the parsers) --------------------------- */

static void format_scaled(struct buf *b, int64_t v, const char *const *units, const int64_t *scale,
                          size_t nunits, const char *zero)
{
	if (v == 0) {
		buf_puts(b, zero);
		return;
	}
	for (size_t i = 0; i < nunits; i++) {
		if (v % scale[i] == 0) {
			buf_printf(b, "%lld%s", (long long)(v / scale[i]), units[i]);
			return;
		}
	}
	buf_printf(b, "%lld", (long long)v);
}

void cfgval_format_duration(struct buf *b, int64_t ms)
{
	static const char *const units[] = {"d", "h", "m", "s", "ms"};
	static const int64_t scale[] = {86400000, 3600000, 60000, 1000, 1};
	format_scaled(b, ms, units, scale, 5, "0s");
}

void cfgval_format_size(struct buf *b, int64_t bytes)
{
	static const char *const units[] = {"g", "m", "k"};
	static const int64_t scale[] = {GIB, MIB, KIB};
	format_scaled(b, bytes, units, scale, 3, "0");
}

void cfgval_format_percentiles(struct buf *b, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(b, ", ");
		buf_num(b, v[i]);
	}
}

void cfgval_format_durations(struct buf *b, const int64_t *ms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(b, ", ");
		cfgval_format_duration(b, ms[i]);
	}
}

void cfgval_format_quantile_name(struct buf *b, double pct)
{
	char num[NUM_FMT_MAX];
	size_t n = num_format(pct, num);

	buf_putc(b, 'p');
	for (size_t i = 0; i < n; i++)
		if (num[i] != '.')
			buf_putc(b, num[i]);
}

void cfgval_format_histograms(struct buf *b, const struct config_histogram *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(b, "; ");
		buf_puts(b, h[i].metric);
		buf_putc(b, ':');
		for (size_t j = 0; j < h[i].nbins; j++) {
			if (j)
				buf_putc(b, ',');
			if (isinf(h[i].bins[j]))
				buf_puts(b, "inf");
			else
				buf_num(b, h[i].bins[j]);
		}
	}
}

void cfgval_format_tag_styles(struct buf *b, unsigned bits)
{
	bool first = true;
	for (size_t i = 0; i < NTAG_STYLES; i++) {
		if (bits & tag_style_names[i].bit) {
			if (!first)
				buf_puts(b, ", ");
			buf_puts(b, tag_style_names[i].name);
			first = false;
		}
	}
}
