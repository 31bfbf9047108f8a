/* config: one static table of every key (section, name, type, default,
 * bounds, field, reloadable flag, help) and everything it drives: the INI
 * reader (any line length, via getline), -o overrides, defaults, cross-key
 * checks, the `-t` / admin dump and the reference contrib/tallyd.conf.
 * It never opens sockets or resolves names: addresses are checked by syntax
 * only. Called by main at start-up; admin and http read the result. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "num.h"
#include "parse.h"
#include "xalloc.h"

/* sizeof(sockaddr_un.sun_path) is 108 on Linux and the path needs its NUL,
 * so 107 bytes is the longest usable path. Hard-coded: this layer does not
 * include socket headers. */
#define UNIX_PATH_LEN_MAX 107

/* Longest path accepted by a path key (PATH_MAX less the NUL). */
#define PATH_LEN_MAX 4095

enum opt_type {
	OPT_SECTION,     /* introduces a section; the rows up to the next one are its keys */
	OPT_STRING,      /* free text; min/max bound the length */
	OPT_NAME,        /* part of a metric name: no whitespace; min/max bound the length */
	OPT_ADDRESS,     /* host:port, [v6]:port or empty */
	OPT_PATH,        /* file system path or empty */
	OPT_BOOL,        /* true/false yes/no on/off 1/0 */
	OPT_INT,         /* integer within [min, max]; field is int or int64_t */
	OPT_DURATION,    /* milliseconds within [min, max]; field is int64_t */
	OPT_SIZE,        /* bytes within [min, max]; field is int64_t */
	OPT_LOG_LEVEL,   /* enum log_level; field is int */
	OPT_PERCENTILES, /* double array + size_t count */
	OPT_HISTOGRAM,   /* struct config_histogram array + size_t count */
	OPT_TAG_STYLES,  /* TAG_STYLE_* bits; field is unsigned */
};

struct cfg_opt {
	const char *section;
	const char *key; /* NULL on an OPT_SECTION row */
	enum opt_type type;
	const char *def;     /* default as text, parsed like a value from a file */
	int64_t min, max;    /* numbers: bounds; strings, names, paths: length bounds */
	size_t off;          /* the field in struct config */
	size_t size;         /* sizeof the field */
	size_t count_off;    /* lists: the size_t element count */
	bool reloadable;     /* may change on SIGHUP (nothing yet) */
	const char *help;    /* one line; wrapped in the reference file */
	const char *example; /* optional lines written after the help in the reference */
};

#define FIELD(f) .off = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)
/* clang-format off */
#define SECTION(s, h) {.section = (s), .type = OPT_SECTION, .help = (h)}
#define KEY(s, k, t, d, lo, hi, f, r, h)                                                          \
	{.section = (s), .key = (k), .type = (t), .def = (d), .min = (lo), .max = (hi), FIELD(f), \
	 .reloadable = (r), .help = (h)}
#define LIST(s, k, t, d, f, n, r, h)                                                              \
	{.section = (s), .key = (k), .type = (t), .def = (d), FIELD(f),                           \
	 .count_off = offsetof(struct config, n), .reloadable = (r), .help = (h)}
/* clang-format on */

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)

static const char graphite_example[] =
    "Example: send to carbon-cache on another host with the reference statsd's\n"
    "names (stats.<name>, stats_counts.<name>, stats.timers.<name>.<stat>, ...):\n"
    "\n"
    "  [graphite]\n"
    "  address = graphite.example.com:2003\n"
    "\n"
    "or on the command line: tallyd -o graphite.address=graphite.example.com:2003";

static const char histogram_example[] =
    "Example: the reference statsd's\n"
    "  histogram: [ { metric: 'render', bins: [0.01, 0.1, 1, 10, 'inf'] },\n"
    "               { metric: 'histo', bins: [50, 100, 150, 200] } ]\n"
    "is written\n"
    "  histogram = render:0.01,0.1,1,10,inf; histo:50,100,150,200\n"
    "A timer named api.render.ms then also sends\n"
    "stats.timers.api.render.ms.histogram.bin_0_01, bin_0_1, bin_1, bin_10 and\n"
    "bin_inf: how many values fell below each bound (and at or above the previous).\n"
    "An empty metric (\":50,100,inf\") matches every timer; an entry with no bins\n"
    "(\"debug:\") gives matching timers no histogram.";

/* The table. To add a section, append one block: a SECTION row and its keys.
 * Every default goes through the same parser as a value from a file. */
/* clang-format off */
static const struct cfg_opt table[] = {
	SECTION("server", "Listeners, threads, flush timing and input limits."),
	KEY("server", "udp", OPT_ADDRESS, "127.0.0.1:8125", 0, 0, udp, false,
	    "UDP listener for StatsD and DogStatsD datagrams."),
	KEY("server", "tcp", OPT_ADDRESS, "127.0.0.1:8125", 0, 0, tcp, false,
	    "TCP listener for newline-separated StatsD lines."),
	KEY("server", "unix", OPT_PATH, "", 0, PATH_LEN_MAX, unix_dgram, false,
	    "Unix datagram socket to create (DogStatsD over UDS), at most 107 bytes."),
	KEY("server", "unix_stream", OPT_PATH, "", 0, PATH_LEN_MAX, unix_stream, false,
	    "Unix stream socket to create, DogStatsD framing (4-byte little-endian length "
	    "before each packet), at most 107 bytes."),
	KEY("server", "admin", OPT_ADDRESS, "127.0.0.1:8126", 0, 0, admin, false,
	    "Admin TCP interface: the reference statsd's management commands (stats, counters, "
	    "timers, gauges, delcounters, health, ...)."),
	KEY("server", "http", OPT_ADDRESS, "127.0.0.1:8127", 0, 0, http, false,
	    "HTTP interface: /health, /metrics (Prometheus text) and the JSON API."),
	KEY("server", "port_file", OPT_PATH, "", 0, PATH_LEN_MAX, port_file, false,
	    "After binding, write the bound address of every listener to this file, one per "
	    "line (useful with port 0); removed at exit."),
	KEY("server", "workers", OPT_INT, "0", 0, 256, workers, false,
	    "Intake threads, each with its own UDP socket (SO_REUSEPORT); 0 = one per CPU."),
	KEY("server", "flush_interval", OPT_DURATION, "10s", 100, 3600 * 1000, flush_interval_ms,
	    false,
	    "Aggregation interval: every interval (aligned to wall-clock multiples) the "
	    "aggregates are computed and sent to the sinks."),
	KEY("server", "max_series", OPT_INT, "1000000", 1, 100000000, max_series, false,
	    "Most live series; samples for new series beyond it are dropped and counted in "
	    "tallyd.series_dropped."),
	KEY("server", "log_level", OPT_LOG_LEVEL, "info", 0, 0, log_level, false,
	    "Least severe message written to stderr."),
	KEY("server", "rcvbuf", OPT_SIZE, "8m", 0, GIB, rcvbuf, false,
	    "SO_RCVBUF asked for on datagram sockets (the kernel caps it at "
	    "net.core.rmem_max); 0 keeps the system default."),
	KEY("server", "max_datagram", OPT_SIZE, "64k", 64, MIB, max_datagram, false,
	    "Largest datagram read; a longer one is counted and dropped, never parsed cut."),
	KEY("server", "max_name", OPT_SIZE, "512", 1, 4096, max_name, false,
	    "Longest metric name, in bytes; longer lines are bad lines."),
	KEY("server", "max_tags", OPT_INT, "64", 0, 256, max_tags, false,
	    "Most tags on one line; lines with more are bad lines."),

	SECTION("statsd", "Aggregation, as the reference statsd does it."),
	LIST("statsd", "percentiles", OPT_PERCENTILES, "90", percentiles, npercentiles, false,
	     "Timer percentiles (statsd's percentThreshold); a negative P gives the lowest |P| "
	     "percent (lower_topP, ...)."),
	KEY("statsd", "exact_samples", OPT_INT, "4096", 16, 1000000, exact_samples, false,
	    "Timer values kept per series and interval for exact statistics; beyond it the "
	    "quantiles come from the sketch."),
	{.section = "statsd", .key = "histogram", .type = OPT_HISTOGRAM, .def = "",
	 FIELD(histograms), .count_off = offsetof(struct config, nhistograms), .reloadable = false,
	 .help = "Histogram bins for timers (statsd's histogram): entries metric:bins separated "
		 "by ';'; a timer uses the first entry whose metric is a substring of its name.",
	 .example = histogram_example},
	KEY("statsd", "gauge_deltas", OPT_BOOL, "true", 0, 0, gauge_deltas, false,
	    "A gauge value with a sign (+N, -N) adds to the gauge, as in the reference statsd; "
	    "false sets it (the Datadog agent's meaning)."),
	KEY("statsd", "tag_styles", OPT_TAG_STYLES, "", 0, 0, tag_styles, false,
	    "Also read tags written in these styles: librato (name#k=v), influxdb (name,k=v), "
	    "signalfx (name[k=v])."),
	KEY("statsd", "delete_idle", OPT_BOOL, "false", 0, 0, delete_idle, false,
	    "Send nothing for series that received nothing in an interval, instead of zeros "
	    "and the last gauge value (statsd's deleteIdleStats)."),
	KEY("statsd", "prefix_stats", OPT_NAME, "statsd", 1, 128, prefix_stats, false,
	    "Prefix of the internal metrics (statsd.packets_received, ...); statsd's "
	    "prefixStats."),
	KEY("statsd", "sanitize", OPT_BOOL, "true", 0, 0, sanitize, false,
	    "Clean names as the reference statsd does (whitespace to _, / to -, drop other "
	    "characters outside [A-Za-z0-9_.;=-]); statsd's keyNameSanitize."),

	SECTION("graphite", "The Graphite (carbon plaintext) sink."),
	{.section = "graphite", .key = "address", .type = OPT_ADDRESS, .def = "",
	 FIELD(graphite_address), .reloadable = false,
	 .help = "carbon-cache or carbon-relay plaintext listener, host:port; empty (the "
		 "default) sends nothing to Graphite.",
	 .example = graphite_example},
	KEY("graphite", "legacy_namespace", OPT_BOOL, "true", 0, 0, graphite_legacy, false,
	    "Use the reference statsd's legacy names (stats.<name>, stats_counts.<name>); false "
	    "gives <prefix>.counters.<name>.rate and .count."),
	KEY("graphite", "prefix", OPT_NAME, "stats", 0, 128, graphite_prefix, false,
	    "Root of every name when legacy_namespace is false (statsd's globalPrefix)."),
	KEY("graphite", "suffix", OPT_NAME, "", 0, 128, graphite_suffix, false,
	    "Appended to every name as .<suffix>, before any tags (statsd's globalSuffix)."),
	KEY("graphite", "buffer_max", OPT_SIZE, "64m", 0, 4 * GIB, graphite_buffer_max, false,
	    "Bytes of output kept while carbon is unreachable; what does not fit is dropped "
	    "and counted."),
};
/* clang-format on */

#define NOPTS (sizeof(table) / sizeof(table[0]))

/* ---- small helpers ---------------------------------------------------- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_ws(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_ws((*s)[*len - 1]))
		(*len)--;
}

static void *field_of(struct config *c, const struct cfg_opt *o)
{
	return (char *)c + o->off;
}

static const void *cfield_of(const struct config *c, const struct cfg_opt *o)
{
	return (const char *)c + o->off;
}

static size_t *count_of(struct config *c, const struct cfg_opt *o)
{
	return (size_t *)(void *)((char *)c + o->count_off);
}

static size_t ccount_of(const struct config *c, const struct cfg_opt *o)
{
	return *(const size_t *)(const void *)((const char *)c + o->count_off);
}

static void why_set(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Longest piece of a bad value quoted back in a message. */
#define SHOW_MAX 64
#define SHOW(s, len)                                                                               \
	(int)((len) > SHOW_MAX ? SHOW_MAX : (len)), (s), ((len) > SHOW_MAX ? "..." : "")

static const struct cfg_opt *find_section(const char *name, size_t len)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (table[i].type == OPT_SECTION && strlen(table[i].section) == len &&
		    memcmp(table[i].section, name, len) == 0)
			return &table[i];
	return NULL;
}

static const struct cfg_opt *find_key(const struct cfg_opt *sec, const char *key, size_t len)
{
	for (const struct cfg_opt *o = sec + 1; o < table + NOPTS && o->type != OPT_SECTION; o++)
		if (strlen(o->key) == len && memcmp(o->key, key, len) == 0)
			return o;
	return NULL;
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
	while (t->p < t->end && is_ws(*t->p))
		t->p++;
	if (t->p == t->end)
		return t->after_comma ? -1 : 0;
	if (*t->p == ',')
		return -1;
	*tok = t->p;
	while (t->p < t->end && *t->p != ',' && !is_ws(*t->p))
		t->p++;
	*len = (size_t)(t->p - *tok);
	while (t->p < t->end && is_ws(*t->p))
		t->p++;
	t->after_comma = t->p < t->end && *t->p == ',';
	if (t->after_comma)
		t->p++;
	return 1;
}

static bool word_eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* ---- value parsers (one per type) -------------------------------------- */

static bool parse_address(const char *s, size_t len, char *why, size_t whylen)
{
	const char *port;
	size_t plen;

	if (len == 0)
		return true;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close || close == s + 1) {
			why_set(why, whylen, "\"%.*s%s\": expected [v6-address]:port",
			        SHOW(s, len));
			return false;
		}
		bool colon = false;
		for (const char *h = s + 1; h < close; h++) {
			if (*h == ':')
				colon = true;
			else if (!isxdigit((unsigned char)*h) && *h != '.' && *h != '%' &&
			         !isalnum((unsigned char)*h)) {
				why_set(why, whylen,
				        "\"%.*s%s\": bad character '%c' in IPv6 address",
				        SHOW(s, len), *h);
				return false;
			}
		}
		if (!colon || close + 1 == s + len || close[1] != ':') {
			why_set(why, whylen, "\"%.*s%s\": expected [v6-address]:port",
			        SHOW(s, len));
			return false;
		}
		port = close + 2;
	} else {
		const char *colon = memchr(s, ':', len);
		if (colon && memchr(colon + 1, ':', (size_t)(s + len - colon - 1))) {
			why_set(why, whylen,
			        "\"%.*s%s\": an IPv6 address needs brackets, e.g. [::1]:8125",
			        SHOW(s, len));
			return false;
		}
		if (!colon || colon == s) {
			why_set(why, whylen,
			        "\"%.*s%s\": expected host:port, [v6-address]:port or empty",
			        SHOW(s, len));
			return false;
		}
		for (const char *h = s; h < colon; h++) {
			if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-' && *h != '_') {
				why_set(why, whylen, "\"%.*s%s\": bad character '%c' in host name",
				        SHOW(s, len), *h);
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
		why_set(why, whylen, "\"%.*s%s\": port must be a number from 0 to 65535",
		        SHOW(s, len));
		return false;
	}
	return true;
}

static bool parse_bool(const char *s, size_t len, bool *out)
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
	return false;
}

static bool parse_percentiles(const char *s, size_t len, double **out, size_t *nout, char *why,
                              size_t whylen)
{
	struct tokens t = {s, s + len, false};
	double *v = NULL;
	size_t n = 0;
	const char *tok;
	size_t tl;
	int r;

	while ((r = next_token(&t, &tok, &tl)) == 1) {
		double d;
		if (!num_parse_double(tok, tl, &d)) {
			why_set(why, whylen, "\"%.*s%s\" is not a number", SHOW(tok, tl));
			goto fail;
		}
		if (d == 0 || d < -100 || d > 100) {
			why_set(why, whylen, "percentile %.*s%s must be from -100 to 100 and not 0",
			        SHOW(tok, tl));
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			if (v[i] == d) {
				why_set(why, whylen, "percentile %.*s%s is listed twice",
				        SHOW(tok, tl));
				goto fail;
			}
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = d;
	}
	if (r < 0) {
		why_set(why, whylen, "empty entry in the list (stray comma)");
		goto fail;
	}
	if (n == 0) {
		why_set(why, whylen, "at least one percentile is needed");
		goto fail;
	}
	*out = v;
	*nout = n;
	return true;
fail:
	free(v);
	return false;
}

static void free_histograms(struct config_histogram *h, size_t n)
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
		why_set(why, whylen, "entry \"%.*s%s\" has no ':' (expected metric:bin,bin,...)",
		        SHOW(s, len));
		return false;
	}
	const char *m = s;
	size_t ml = (size_t)(colon - s);
	trim(&m, &ml);
	h->metric = xstrndup(m, ml);

	struct tokens t = {colon + 1, s + len, false};
	const char *tok;
	size_t tl;
	int r;
	while ((r = next_token(&t, &tok, &tl)) == 1) {
		double d;
		if (h->nbins > 0 && isinf(h->bins[h->nbins - 1])) {
			why_set(why, whylen, "histogram \"%s\": inf must be the last bin",
			        h->metric);
			return false;
		}
		if (word_eq(tok, tl, "inf")) {
			d = INFINITY;
		} else if (!num_parse_double(tok, tl, &d)) {
			why_set(why, whylen, "histogram \"%s\": bin \"%.*s%s\" is not a number",
			        h->metric, SHOW(tok, tl));
			return false;
		}
		if (h->nbins > 0 && !(d > h->bins[h->nbins - 1])) {
			why_set(why, whylen,
			        "histogram \"%s\": bins must be strictly ascending (%.*s%s)",
			        h->metric, SHOW(tok, tl));
			return false;
		}
		h->bins = xrealloc(h->bins, (h->nbins + 1) * sizeof(double));
		h->bins[h->nbins++] = d;
	}
	if (r < 0) {
		why_set(why, whylen, "histogram \"%s\": empty bin (stray comma)", h->metric);
		return false;
	}
	return true;
}

static bool parse_histograms(const char *s, size_t len, struct config_histogram **out, size_t *nout,
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
		trim(&entry, &elen);
		if (elen == 0) {
			why_set(why, whylen, "empty histogram entry (stray ';')");
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
				why_set(why, whylen, "histogram \"%s\" is listed twice",
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
	free_histograms(hs, n);
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

static bool parse_tag_styles(const char *s, size_t len, unsigned *out, char *why, size_t whylen)
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
			why_set(
			    why, whylen,
			    "unknown tag style \"%.*s%s\" (expected librato, influxdb or signalfx)",
			    SHOW(tok, tl));
			return false;
		}
		bits |= tag_style_names[i].bit;
	}
	if (r < 0) {
		why_set(why, whylen, "empty entry in the list (stray comma)");
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

static void format_duration(struct buf *b, int64_t ms)
{
	static const char *const units[] = {"d", "h", "m", "s", "ms"};
	static const int64_t scale[] = {86400000, 3600000, 60000, 1000, 1};
	format_scaled(b, ms, units, scale, 5, "0s");
}

static void format_size(struct buf *b, int64_t bytes)
{
	static const char *const units[] = {"g", "m", "k"};
	static const int64_t scale[] = {GIB, MIB, KIB};
	format_scaled(b, bytes, units, scale, 3, "0");
}

static int64_t get_int(const void *field, size_t size)
{
	if (size == sizeof(int)) {
		int v;
		memcpy(&v, field, sizeof(v));
		return v;
	}
	int64_t v;
	memcpy(&v, field, sizeof(v));
	return v;
}

/* Appends the value of o in c, unquoted, in the syntax its parser reads. */
static void format_value(struct buf *b, const struct config *c, const struct cfg_opt *o)
{
	const void *f = cfield_of(c, o);

	switch (o->type) {
	case OPT_STRING:
	case OPT_NAME:
	case OPT_ADDRESS:
	case OPT_PATH:
		buf_puts(b, *(char *const *)f);
		break;
	case OPT_BOOL:
		buf_puts(b, *(const bool *)f ? "true" : "false");
		break;
	case OPT_INT:
		buf_printf(b, "%lld", (long long)get_int(f, o->size));
		break;
	case OPT_DURATION:
		format_duration(b, *(const int64_t *)f);
		break;
	case OPT_SIZE:
		format_size(b, *(const int64_t *)f);
		break;
	case OPT_LOG_LEVEL:
		buf_puts(b, log_level_name(*(const int *)f));
		break;
	case OPT_PERCENTILES: {
		const double *v = *(double *const *)f;
		for (size_t i = 0; i < ccount_of(c, o); i++) {
			if (i)
				buf_puts(b, ", ");
			buf_num(b, v[i]);
		}
		break;
	}
	case OPT_HISTOGRAM: {
		const struct config_histogram *h = *(struct config_histogram *const *)f;
		for (size_t i = 0; i < ccount_of(c, o); i++) {
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
		break;
	}
	case OPT_TAG_STYLES: {
		unsigned bits = *(const unsigned *)f;
		bool first = true;
		for (size_t i = 0; i < NTAG_STYLES; i++) {
			if (bits & tag_style_names[i].bit) {
				if (!first)
					buf_puts(b, ", ");
				buf_puts(b, tag_style_names[i].name);
				first = false;
			}
		}
		break;
	}
	case OPT_SECTION:
		break;
	}
}

static void format_bound(struct buf *b, const struct cfg_opt *o, int64_t v)
{
	if (o->type == OPT_DURATION)
		format_duration(b, v);
	else if (o->type == OPT_SIZE)
		format_size(b, v);
	else
		buf_printf(b, "%lld", (long long)v);
}

/* ---- setting a value --------------------------------------------------- */

static void release_value(struct config *c, const struct cfg_opt *o)
{
	void *f = field_of(c, o);

	switch (o->type) {
	case OPT_STRING:
	case OPT_NAME:
	case OPT_ADDRESS:
	case OPT_PATH:
		free(*(char **)f);
		*(char **)f = NULL;
		break;
	case OPT_PERCENTILES:
		free(*(double **)f);
		*(double **)f = NULL;
		*count_of(c, o) = 0;
		break;
	case OPT_HISTOGRAM:
		free_histograms(*(struct config_histogram **)f, *count_of(c, o));
		*(struct config_histogram **)f = NULL;
		*count_of(c, o) = 0;
		break;
	default:
		break;
	}
}

static bool check_range(const struct cfg_opt *o, int64_t v, char *why, size_t whylen)
{
	if (v >= o->min && v <= o->max)
		return true;
	struct buf b = BUF_INIT;
	format_bound(&b, o, v);
	buf_puts(&b, " is out of range ");
	format_bound(&b, o, o->min);
	buf_puts(&b, "..");
	format_bound(&b, o, o->max);
	why_set(why, whylen, "%s", b.p);
	buf_free(&b);
	return false;
}

static bool check_text(const struct cfg_opt *o, const char *s, size_t len, char *why, size_t whylen)
{
	if (o->type == OPT_NAME) {
		for (size_t i = 0; i < len; i++) {
			if (is_ws(s[i])) {
				why_set(why, whylen,
				        "\"%.*s%s\": whitespace is not allowed in a name",
				        SHOW(s, len));
				return false;
			}
		}
	}
	if ((int64_t)len < o->min) {
		if (o->min == 1)
			why_set(why, whylen, "must not be empty");
		else
			why_set(why, whylen, "must be at least %lld bytes long", (long long)o->min);
		return false;
	}
	if ((int64_t)len > o->max) {
		why_set(why, whylen, "%zu bytes long, at most %lld allowed", len,
		        (long long)o->max);
		return false;
	}
	return true;
}

/* Parses s (the value, unquoted, NUL-terminated at s[len]) for o and stores it
 * in c, replacing the old value. On error c is unchanged and why says why. */
static bool set_value(struct config *c, const struct cfg_opt *o, const char *s, size_t len,
                      char *why, size_t whylen)
{
	void *f = field_of(c, o);
	int64_t v;

	switch (o->type) {
	case OPT_ADDRESS:
	case OPT_STRING:
	case OPT_NAME:
	case OPT_PATH:
		if (o->type == OPT_ADDRESS ? !parse_address(s, len, why, whylen)
		                           : !check_text(o, s, len, why, whylen))
			return false;
		release_value(c, o);
		*(char **)f = xstrndup(s, len);
		return true;
	case OPT_BOOL: {
		bool b;
		if (!parse_bool(s, len, &b)) {
			why_set(why, whylen,
			        "\"%.*s%s\": expected true, false, yes, no, on, off, 1 or 0",
			        SHOW(s, len));
			return false;
		}
		*(bool *)f = b;
		return true;
	}
	case OPT_INT:
		if (!num_parse_int64(s, len, &v)) {
			why_set(why, whylen, "\"%.*s%s\" is not an integer", SHOW(s, len));
			return false;
		}
		if (!check_range(o, v, why, whylen))
			return false;
		if (o->size == sizeof(int)) {
			int i = (int)v;
			memcpy(f, &i, sizeof(i));
		} else {
			memcpy(f, &v, sizeof(v));
		}
		return true;
	case OPT_DURATION:
		if (!num_parse_duration_ms(s, len, &v)) {
			why_set(
			    why, whylen,
			    "\"%.*s%s\" is not a duration (an integer with unit ms, s, m, h or d; "
			    "a bare number is seconds)",
			    SHOW(s, len));
			return false;
		}
		if (!check_range(o, v, why, whylen))
			return false;
		*(int64_t *)f = v;
		return true;
	case OPT_SIZE:
		if (!num_parse_size(s, len, &v)) {
			why_set(why, whylen,
			        "\"%.*s%s\" is not a size (an integer of bytes, optionally with k, "
			        "m or g)",
			        SHOW(s, len));
			return false;
		}
		if (!check_range(o, v, why, whylen))
			return false;
		*(int64_t *)f = v;
		return true;
	case OPT_LOG_LEVEL: {
		int lvl;
		if (!log_level_parse(s, &lvl)) {
			why_set(why, whylen, "\"%.*s%s\": expected error, warn, info or debug",
			        SHOW(s, len));
			return false;
		}
		*(int *)f = lvl;
		return true;
	}
	case OPT_PERCENTILES: {
		double *p;
		size_t n;
		if (!parse_percentiles(s, len, &p, &n, why, whylen))
			return false;
		release_value(c, o);
		*(double **)f = p;
		*count_of(c, o) = n;
		return true;
	}
	case OPT_HISTOGRAM: {
		struct config_histogram *h;
		size_t n;
		if (!parse_histograms(s, len, &h, &n, why, whylen))
			return false;
		release_value(c, o);
		*(struct config_histogram **)f = h;
		*count_of(c, o) = n;
		return true;
	}
	case OPT_TAG_STYLES: {
		unsigned bits;
		if (!parse_tag_styles(s, len, &bits, why, whylen))
			return false;
		*(unsigned *)f = bits;
		return true;
	}
	case OPT_SECTION:
		break;
	}
	why_set(why, whylen, "not a key");
	return false;
}

/* The value syntax shared by files and -o, after trimming:
 *   key = "  two spaces kept \" and \\ escaped  "
 *         ^ a leading quote starts a quoted value that must end the line
 * Anything else is taken as it stands (';' and '#' included). Writes the
 * value to out, NUL-terminated. */
static bool unquote(const char *s, size_t len, struct buf *out, char *why, size_t whylen)
{
	buf_reset(out);
	buf_reserve(out, len);
	out->p[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			why_set(why, whylen, "control character 0x%02x in value", ch);
			return false;
		}
	}
	if (len == 0 || s[0] != '"') {
		buf_append(out, s, len);
		return true;
	}
	size_t i = 1;
	for (; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\') {
			if (i + 1 == len || (s[i + 1] != '"' && s[i + 1] != '\\')) {
				why_set(why, whylen,
				        "unknown escape in quoted value (only \\\" and \\\\ are "
				        "allowed)");
				return false;
			}
			i++;
		}
		buf_putc(out, s[i]);
	}
	if (i == len) {
		why_set(why, whylen, "quoted value has no closing '\"'");
		return false;
	}
	if (i + 1 != len) {
		why_set(why, whylen, "text after the closing '\"' of a quoted value");
		return false;
	}
	return true;
}

/* Appends v as a value that unquote() reads back unchanged. */
static void quote_value(struct buf *b, const char *v, size_t len)
{
	bool need = len > 0 && (is_ws(v[0]) || is_ws(v[len - 1]) || v[0] == '"');
	if (!need) {
		buf_append(b, v, len);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '"' || v[i] == '\\')
			buf_putc(b, '\\');
		buf_putc(b, v[i]);
	}
	buf_putc(b, '"');
}

/* Parses the raw (still quoted, untrimmed) value text and applies it. */
static bool apply_raw(struct config *c, const struct cfg_opt *o, const char *raw, size_t len,
                      char *why, size_t whylen)
{
	struct buf val = BUF_INIT;
	trim(&raw, &len);
	bool ok =
	    unquote(raw, len, &val, why, whylen) && set_value(c, o, val.p, val.len, why, whylen);
	buf_free(&val);
	return ok;
}

/* ---- public API -------------------------------------------------------- */

struct config *config_new(void)
{
	struct config *c = xcalloc(1, sizeof(*c));
	char why[256];

	for (size_t i = 0; i < NOPTS; i++) {
		const struct cfg_opt *o = &table[i];
		if (o->type == OPT_SECTION)
			continue;
		if (!apply_raw(c, o, o->def, strlen(o->def), why, sizeof(why))) {
			log_error("config: built-in default of %s.%s is invalid: %s", o->section,
			          o->key, why);
			abort();
		}
	}
	return c;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NOPTS; i++)
		release_value(c, &table[i]);
	free(c);
}

struct load {
	struct config *c;
	const char *path;
	unsigned long line;
	const struct cfg_opt *sec; /* current section row, NULL before the first */
	/* An unknown section is reported at its first key, which names the key
	 * ("FILE:LINE: [section] key: reason"), or at its header when it has
	 * no keys. */
	char *unknown;              /* its name, or NULL */
	unsigned long unknown_line; /* line of its header */
	unsigned long *seen;        /* line where each table row was set, 0 = not yet */
	char *err;
	size_t errlen;
};

static int load_fail(struct load *ld, unsigned long line, const char *sec, const char *key,
                     size_t keylen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* "FILE:LINE: [section] key: reason", leaving out what is not known. */
static int load_fail(struct load *ld, unsigned long line, const char *sec, const char *key,
                     size_t keylen, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	buf_printf(&b, "%s:%lu: ", ld->path, line);
	if (sec)
		buf_printf(&b, "[%.*s%s]%s", SHOW(sec, strlen(sec)), key ? " " : "");
	if (key)
		buf_printf(&b, "%.*s%s", SHOW(key, keylen));
	buf_printf(&b, "%s%s", sec || key ? ": " : "", reason);
	snprintf(ld->err, ld->errlen, "%s", b.p);
	buf_free(&b);
	return -1;
}

/* An error in the current section (or before any) at the current line. */
#define FAIL_HERE(ld, key, keylen, ...)                                                            \
	load_fail((ld), (ld)->line, (ld)->sec ? (ld)->sec->section : NULL, (key), (keylen),        \
	          __VA_ARGS__)

/* Called at a new header and at the end of the file. */
static int check_unknown_section(struct load *ld)
{
	if (!ld->unknown)
		return 0;
	return load_fail(ld, ld->unknown_line, ld->unknown, NULL, 0, "unknown section");
}

/* One line of an INI file, without its newline:
 *   [server]            a section header (may repeat)
 *   udp = 0.0.0.0:8125  key = value
 *   # comment / ; comment / blank */
static int load_line(struct load *ld, const char *s, size_t len)
{
	trim(&s, &len);
	if (len == 0 || s[0] == '#' || s[0] == ';')
		return 0;
	if (s[0] == '[') {
		if (check_unknown_section(ld) < 0)
			return -1;
		ld->sec = NULL;
		const char *close = memchr(s, ']', len);
		if (!close)
			return FAIL_HERE(ld, NULL, 0, "section header has no closing ']'");
		if (close + 1 != s + len)
			return FAIL_HERE(ld, NULL, 0, "text after the section header \"%.*s%s\"",
			                 SHOW(s, len));
		const char *name = s + 1;
		size_t nl = (size_t)(close - name);
		trim(&name, &nl);
		if (nl == 0)
			return FAIL_HERE(ld, NULL, 0, "empty section name");
		ld->sec = find_section(name, nl);
		if (!ld->sec) {
			ld->unknown = xstrndup(name, nl);
			ld->unknown_line = ld->line;
		}
		return 0;
	}

	const char *eq = memchr(s, '=', len);
	const char *key = s;
	size_t kl = eq ? (size_t)(eq - s) : 0;
	trim(&key, &kl);
	if (!eq || kl == 0)
		return FAIL_HERE(
		    ld, NULL, 0,
		    "expected \"key = value\", \"[section]\" or a comment, got \"%.*s%s\"",
		    SHOW(s, len));
	if (ld->unknown)
		return load_fail(ld, ld->line, ld->unknown, key, kl,
		                 "unknown section (header on line %lu)", ld->unknown_line);
	if (!ld->sec)
		return FAIL_HERE(ld, key, kl, "key before any [section] header");
	const struct cfg_opt *o = find_key(ld->sec, key, kl);
	if (!o)
		return FAIL_HERE(ld, key, kl, "unknown key");
	size_t idx = (size_t)(o - table);
	if (ld->seen[idx])
		return FAIL_HERE(ld, key, kl, "set twice (first on line %lu)", ld->seen[idx]);

	char why[512];
	if (!apply_raw(ld->c, o, eq + 1, (size_t)(s + len - eq - 1), why, sizeof(why)))
		return FAIL_HERE(ld, key, kl, "%s", why);
	ld->seen[idx] = ld->line;
	return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	struct load ld = {.c = c, .path = path, .err = err, .errlen = errlen};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ld.seen = xcalloc(NOPTS, sizeof(*ld.seen));
	errno = 0;
	while ((n = getline(&line, &cap, f)) != -1) {
		const char *s = line;
		size_t len = (size_t)n;
		ld.line++;
		if (ld.line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3; /* UTF-8 byte order mark */
			len -= 3;
		}
		if (memchr(s, '\0', len)) {
			rc = FAIL_HERE(&ld, NULL, 0, "NUL byte in line");
			break;
		}
		if (load_line(&ld, s, len) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno ? errno : EIO));
		rc = -1;
	}
	if (rc == 0)
		rc = check_unknown_section(&ld);
	free(line);
	free(ld.seen);
	free(ld.unknown);
	fclose(f);
	return rc;
}

int config_override(struct config *c, const char *assignment, char *err, size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	const char *name = assignment;
	size_t nl = eq ? (size_t)(eq - assignment) : strlen(assignment);
	trim(&name, &nl);
	const char *dot = memchr(name, '.', nl);
	if (!eq || !dot || dot == name || dot + 1 == name + nl) {
		snprintf(err, errlen, "-o %.*s%s: expected section.key=value",
		         SHOW(assignment, strlen(assignment)));
		return -1;
	}
	size_t sl = (size_t)(dot - name), kl = nl - sl - 1;
	const struct cfg_opt *sec = find_section(name, sl);
	if (!sec) {
		snprintf(err, errlen, "-o %.*s%s: unknown section", SHOW(name, nl));
		return -1;
	}
	const struct cfg_opt *o = find_key(sec, dot + 1, kl);
	if (!o) {
		snprintf(err, errlen, "-o %.*s%s: unknown key", SHOW(name, nl));
		return -1;
	}
	char why[512];
	if (!apply_raw(c, o, eq + 1, strlen(eq + 1), why, sizeof(why))) {
		snprintf(err, errlen, "-o %s.%s: %s", o->section, o->key, why);
		return -1;
	}
	return 0;
}

/* The port of an address that parse_address() accepted. */
static int64_t addr_port(const char *a)
{
	const char *colon = strrchr(a, ':');
	int64_t port = -1;
	if (colon)
		num_parse_int64(colon + 1, strlen(colon + 1), &port);
	return port;
}

int config_validate(const struct config *c, char *err, size_t errlen)
{
	if (!c->udp[0] && !c->tcp[0] && !c->unix_dgram[0] && !c->unix_stream[0]) {
		snprintf(err, errlen,
		         "server: no listener: set at least one of server.udp, server.tcp, "
		         "server.unix, server.unix_stream");
		return -1;
	}
	const struct {
		const char *name, *path;
	} paths[] = {{"server.unix", c->unix_dgram}, {"server.unix_stream", c->unix_stream}};
	for (size_t i = 0; i < 2; i++) {
		size_t len = strlen(paths[i].path);
		if (len > UNIX_PATH_LEN_MAX) {
			snprintf(
			    err, errlen,
			    "%s: path is %zu bytes, longer than the %d a Unix socket address holds",
			    paths[i].name, len, UNIX_PATH_LEN_MAX);
			return -1;
		}
	}
	if (c->unix_dgram[0] && strcmp(c->unix_dgram, c->unix_stream) == 0) {
		snprintf(err, errlen, "server.unix_stream: same path as server.unix (%s)",
		         c->unix_dgram);
		return -1;
	}
	/* TCP listeners may not share an address (port 0 picks a free port each). */
	const struct {
		const char *name, *addr;
	} tcp[] = {{"server.tcp", c->tcp}, {"server.admin", c->admin}, {"server.http", c->http}};
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = i + 1; j < 3; j++) {
			if (tcp[i].addr[0] && strcmp(tcp[i].addr, tcp[j].addr) == 0 &&
			    addr_port(tcp[i].addr) != 0) {
				snprintf(err, errlen, "%s: same TCP address as %s (%s)",
				         tcp[j].name, tcp[i].name, tcp[i].addr);
				return -1;
			}
		}
	}
	return 0;
}

void config_dump(const struct config *c, FILE *out)
{
	struct buf v = BUF_INIT, line = BUF_INIT;

	for (size_t i = 0; i < NOPTS; i++) {
		const struct cfg_opt *o = &table[i];
		if (o->type == OPT_SECTION)
			continue;
		buf_reset(&v);
		buf_reset(&line);
		format_value(&v, c, o);
		buf_printf(&line, "%s.%s =", o->section, o->key);
		if (v.len) {
			buf_putc(&line, ' ');
			quote_value(&line, v.p, v.len);
		}
		buf_putc(&line, '\n');
		fwrite(line.p, 1, line.len, out);
	}
	buf_free(&v);
	buf_free(&line);
}

/* ---- reference file ---------------------------------------------------- */

#define WRAP_COLS 78

/* Writes text as "# " comment lines, wrapped at WRAP_COLS. */
static void write_wrapped(FILE *out, const char *text)
{
	const char *p = text;
	while (*p) {
		size_t avail = WRAP_COLS - 2, len = strlen(p);
		size_t cut = len;
		if (len > avail) {
			cut = avail;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (cut == 0) /* one word longer than a line */
				cut = strcspn(p, " ");
		}
		fprintf(out, "# %.*s\n", (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

/* Writes text line by line as comments, keeping its layout. */
static void write_verbatim(FILE *out, const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (n == 0)
			fputs("#\n", out);
		else
			fprintf(out, "# %.*s\n", (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
}

static void describe_type(struct buf *b, const struct cfg_opt *o)
{
	switch (o->type) {
	case OPT_STRING:
	case OPT_NAME:
		buf_puts(b, o->type == OPT_NAME ? "Name part (no whitespace), " : "Text, ");
		if (o->min > 0)
			buf_printf(b, "%lld to %lld bytes.", (long long)o->min, (long long)o->max);
		else
			buf_printf(b, "up to %lld bytes; may be empty.", (long long)o->max);
		break;
	case OPT_ADDRESS:
		buf_puts(b, "Address: host:port or [v6-address]:port; empty disables it.");
		break;
	case OPT_PATH:
		buf_puts(b, "Path; empty disables it.");
		break;
	case OPT_BOOL:
		buf_puts(b, "Boolean: true/false, yes/no, on/off, 1/0.");
		break;
	case OPT_INT:
	case OPT_DURATION:
	case OPT_SIZE:
		buf_puts(b, o->type == OPT_INT ? "Integer, "
		            : o->type == OPT_DURATION
		                ? "Duration (ms, s, m, h, d; bare = seconds), "
		                : "Size in bytes (k, m, g = 1024^n), ");
		format_bound(b, o, o->min);
		buf_puts(b, " to ");
		format_bound(b, o, o->max);
		buf_putc(b, '.');
		break;
	case OPT_LOG_LEVEL:
		buf_puts(b, "One of error, warn, info, debug.");
		break;
	case OPT_PERCENTILES:
		buf_puts(b, "List of numbers from -100 to 100, not 0, separated by commas or "
		            "spaces; at least one.");
		break;
	case OPT_HISTOGRAM:
		buf_puts(b, "metric:bin,bin,...[,inf] entries separated by ';'; bins strictly "
		            "ascending; empty = none.");
		break;
	case OPT_TAG_STYLES:
		buf_puts(b, "List of librato, influxdb, signalfx; empty = none.");
		break;
	case OPT_SECTION:
		break;
	}
}

static const char reference_header[] =
    "tallyd.conf: reference configuration for tallyd(8).\n"
    "\n"
    "Every key is listed with its built-in default, commented out: remove the '#'\n"
    "and change the value to set it. Any key can also be set on the command line\n"
    "with -o section.key=value, which wins over this file. Check a file with\n"
    "  tallyd -c /etc/tallyd/tallyd.conf -t\n"
    "\n"
    "Syntax: [section] headers, then key = value lines. Lines whose first non-blank\n"
    "character is '#' or ';' are comments; there are no comments after a value, so\n"
    "values may contain '#' and ';'. Spaces around keys and values are dropped;\n"
    "write \"...\" (with \\\" and \\\\ escapes) to keep them. Durations take ms, s, m,\n"
    "h, d (a bare number is seconds); sizes take k, m, g (powers of 1024). An empty\n"
    "address or path disables that listener or sink. Unknown sections and keys are\n"
    "errors. See docs/configuration.md.\n"
    "\n"
    "This file is generated from the table in src/config.c; a unit test keeps the\n"
    "two identical.";

void config_write_reference(FILE *out)
{
	struct config *c = config_new();
	struct buf b = BUF_INIT;

	write_verbatim(out, reference_header);
	for (size_t i = 0; i < NOPTS; i++) {
		const struct cfg_opt *o = &table[i];
		if (o->type == OPT_SECTION) {
			fprintf(out, "\n[%s]\n", o->section);
			write_wrapped(out, o->help);
			continue;
		}
		fputc('\n', out);
		write_wrapped(out, o->help);
		buf_reset(&b);
		describe_type(&b, o);
		if (o->reloadable)
			buf_puts(&b, " Reloaded on SIGHUP.");
		write_wrapped(out, b.p);
		if (o->example) {
			fputs("#\n", out);
			write_verbatim(out, o->example);
			fputs("#\n", out);
		}
		buf_reset(&b);
		buf_printf(&b, "#%s =", o->key);
		size_t head = b.len;
		format_value(&b, c, o);
		if (b.len > head) {
			struct buf q = BUF_INIT;
			quote_value(&q, b.p + head, b.len - head);
			b.len = head;
			buf_putc(&b, ' ');
			buf_append(&b, q.p, q.len);
			buf_free(&q);
		}
		fprintf(out, "%s\n", b.p);
	}
	buf_free(&b);
	config_free(c);
}
