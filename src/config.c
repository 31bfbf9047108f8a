/* config: one static table of every key (section, name, type, default,
 * bounds, field, reloadable and secret flags, help) and all it drives: INI
 * loading (through ini), -o overrides, defaults, cross-key checks (windows
 * through window_conf_check), the -t / admin dump and contrib/tallyd.conf.
 * Typed values are cfgval's; it never opens sockets or resolves names.
 * Called by main at start-up; admin and http read it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cfgval.h"
#include "ini.h"
#include "istat.h"
#include "log.h"
#include "rules.h"
#include "anomaly.h"
#include "window.h"
#include "xalloc.h"

/* sizeof(sockaddr_un.sun_path) is 108 on Linux and the path needs its NUL,
 * so 107 bytes is the longest usable path. Hard-coded: this layer does not
 * include socket headers. */
#define UNIX_PATH_LEN_MAX 107

/* Longest path accepted by a path key (PATH_MAX less the NUL). */
#define PATH_LEN_MAX 4095

/* config_validate copies the windows into a struct window_conf. */
_Static_assert(CONFIG_WINDOWS_MAX <= WINDOW_MAX, "windows.list holds more than window_conf");

enum opt_type {
	OPT_SECTION,     /* introduces a section; the rows up to the next one are its keys */
	OPT_STRING,      /* free text; min/max bound the length */
	OPT_NAME,        /* part of a metric name: no whitespace; min/max bound the length */
	OPT_ADDRESS,     /* host:port, [v6]:port or empty */
	OPT_PATH,        /* file system path or empty */
	OPT_BOOL,        /* true/false yes/no on/off 1/0 */
	OPT_INT,         /* integer within [min, max]; field is int or int64_t */
	OPT_DOUBLE,      /* finite number within [dmin, dmax]; field is double */
	OPT_DURATION,    /* milliseconds within [min, max]; field is int64_t */
	OPT_SIZE,        /* bytes within [min, max]; field is int64_t */
	OPT_LOG_LEVEL,   /* enum log_level; field is int */
	OPT_PERCENTILES, /* double array + size_t count (min/max unused) */
	OPT_QUANTILES,   /* as percentiles, each in (0, 100); min/max bound the count */
	OPT_DURATIONS,   /* int64_t[] field (fixed size) + size_t count; ascending ms;
	                    min/max bound the count */
	OPT_HISTOGRAM,   /* struct config_histogram array + size_t count */
	OPT_TAG_STYLES,  /* TAG_STYLE_* bits; field is unsigned */
	OPT_ISTATS,      /* kind.stat list: unsigned[ISTAT_KINDS] bit masks (istat.h) */
};

struct cfg_opt {
	const char *section;
	const char *key; /* NULL on an OPT_SECTION row */
	enum opt_type type;
	const char *def;     /* default as text, parsed like a value from a file */
	int64_t min, max;    /* numbers: bounds; strings, names, paths: length bounds;
	                        quantiles, durations: number of entries */
	double dmin, dmax;   /* OPT_DOUBLE: bounds */
	size_t off;          /* the field in struct config */
	size_t size;         /* sizeof the field */
	size_t count_off;    /* lists: the size_t element count */
	bool reloadable;     /* may change on SIGHUP (nothing yet) */
	bool secret;         /* config_dump writes "***" for a non-empty value */
	const char *help;    /* one line; wrapped in the reference file */
	const char *example; /* optional lines written after the help in the reference */
};

#define FIELD(f) .off = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)
/* clang-format off */
#define SECTION(s, h) {.section = (s), .type = OPT_SECTION, .help = (h)}
#define KEY(s, k, t, d, lo, hi, f, r, h)                                                          \
	{.section = (s), .key = (k), .type = (t), .def = (d), .min = (lo), .max = (hi), FIELD(f), \
	 .reloadable = (r), .help = (h)}
#define DKEY(s, k, d, lo, hi, f, r, h)                                                            \
	{.section = (s), .key = (k), .type = OPT_DOUBLE, .def = (d), .dmin = (lo), .dmax = (hi),   \
	 FIELD(f), .reloadable = (r), .help = (h)}
#define LIST(s, k, t, d, lo, hi, f, n, r, h)                                                      \
	{.section = (s), .key = (k), .type = (t), .def = (d), .min = (lo), .max = (hi), FIELD(f), \
	 .count_off = offsetof(struct config, n), .reloadable = (r), .help = (h)}
/* clang-format on */

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
	KEY("server", "state_file", OPT_PATH, "", 0, PATH_LEN_MAX, state_file, false,
	    "Windows and sketches are saved here (atomically) at shutdown and every minute, and "
	    "restored at start, so a restart keeps the windows; a corrupt or mismatched file is "
	    "moved aside to FILE.bad.<time>. Empty saves nothing."),
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
	KEY("server", "read_wait", OPT_DURATION, "1ms", 0, 100, read_wait_ms, false,
	    "Longest a worker sleeps, once its datagram sockets are drained, before reading "
	    "them again, so that under load one wake-up reads many datagrams (much less CPU "
	    "per line). Shortened so that, at the rate just seen, the datagrams waiting fill at "
	    "most a quarter of the socket's queue; not taken when it would bring fewer than 4 "
	    "datagrams; halved each time the kernel drops datagrams after a wait, doubled back "
	    "after a minute without. 0 reads on every wake-up."),
	KEY("server", "max_datagram", OPT_SIZE, "64k", 64, MIB, max_datagram, false,
	    "Largest datagram read; a longer one is counted and dropped, never parsed cut. "
	    "Each intake worker keeps 32 receive buffers of this size (plus 64 bytes each for "
	    "the parser): 2 MiB a worker at 64k."),
	KEY("server", "max_name", OPT_SIZE, "512", 1, 4096, max_name, false,
	    "Longest metric name, in bytes; longer lines are bad lines."),
	KEY("server", "max_tags", OPT_INT, "64", 0, 256, max_tags, false,
	    "Most tags on one line; lines with more are bad lines."),

	SECTION("statsd", "Aggregation, as the reference statsd does it."),
	LIST("statsd", "percentiles", OPT_PERCENTILES, "90", 0, 0, percentiles, npercentiles, false,
	     "Timer percentiles (statsd's percentThreshold); a negative P gives the lowest |P| "
	     "percent (lower_topP, ...)."),
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
	KEY("graphite", "buffer_max", OPT_SIZE, "64m", 64 * 1024, 4 * GIB, graphite_buffer_max, false,
	    "Bytes of output kept while carbon is unreachable; what does not fit is dropped "
	    "and counted."),
	KEY("graphite", "windows", OPT_BOOL, "false", 0, 0, graphite_windows, false,
	    "Also send every series' sliding windows (windows.list) to Graphite as "
	    "stats.windows.<window>.<name>.<stat>, tags last."),

	SECTION("windows", "Sliding windows over every series, written to Redis."),
	LIST("windows", "list", OPT_DURATIONS, "1m,5m,15m,1h", 0, CONFIG_WINDOWS_MAX, windows_ms,
	     nwindows, false,
	     "Window lengths; each window covers the last W of data and slides at every flush. "
	     "The flush interval must divide a minute; windows of a minute or less must be "
	     "multiples of it, longer ones whole minutes, at most 1h. Empty: no windows and no "
	     "Redis output (any flush interval is then allowed)."),
	LIST("windows", "quantiles", OPT_QUANTILES, "50,90,95,99,99.9", 1, WINDOW_QMAX,
	     window_quantiles, nwindow_quantiles, false,
	     "Quantiles of timers, histograms and distributions over each window, in percent; "
	     "each is reported as p and the number without its dot (99.9 as p999)."),
	DKEY("windows", "relative_accuracy", "0.01", 0.0001, 0.5, window_accuracy, false,
	     "Relative accuracy of the quantile sketch: every reported quantile is within this "
	     "fraction of the exact one. Smaller is more exact and takes more memory."),

	SECTION("redis", "The Redis read model (DESIGN.md §6)."),
	KEY("redis", "address", OPT_ADDRESS, "127.0.0.1:6379", 0, 0, redis_address, false,
	    "Redis server, host:port; retried in the background while absent. Empty disables "
	    "the Redis sink."),
	{.section = "redis", .key = "password", .type = OPT_STRING, .def = "", .min = 0,
	 .max = 512, FIELD(redis_password), .reloadable = false, .secret = true,
	 .help = "Password sent with AUTH after connecting; empty sends no AUTH. Shown as *** "
		 "by -t and the admin config command."},
	KEY("redis", "db", OPT_INT, "0", 0, 1000000, redis_db, false,
	    "Database selected (SELECT) after connecting; Redis Cluster has only 0."),
	KEY("redis", "prefix", OPT_NAME, "tallyd", 1, 64, redis_prefix, false,
	    "First part of every key: <prefix>:{<series>}:<window>, <prefix>:index, "
	    "<prefix>:meta, ..."),
	KEY("redis", "history", OPT_DURATION, "0", 0, 24 * 3600 * 1000, redis_history_ms, false,
	    "Retention of the per-series history stream <prefix>:{<series>}:history (one entry "
	    "per series per interval, about 75 bytes each); 0 writes no history."),
	KEY("redis", "timeout", OPT_DURATION, "5s", 100, 60 * 1000, redis_timeout_ms, false,
	    "Deadline of one flush to Redis; a flush not finished by then counts as failed and "
	    "tallyd reconnects."),

	SECTION("anomaly", "Anomaly scoring: every series' interval values against its own "
	        "baseline (docs/alerts.md)."),
	{.section = "anomaly", .key = "stats", .type = OPT_ISTATS,
	 .def = "counter.rate,timer.mean,timer.p99,gauge.value", FIELD(anomaly_stats),
	 .reloadable = false,
	 .help = "The interval stats scored, as kind.stat: counter count/rate, gauge value, set "
		 "unique, timer count/rate/sum/min/max/mean/stddev/p50/p90/p95/p99/p999. "
		 "Empty turns scoring off."},
	KEY("anomaly", "baseline", OPT_DURATION, "1h", 60 * 1000, 24 * 3600 * 1000,
	    anomaly_baseline_ms, false,
	    "How far back the baseline reaches: z = (latest - mean) / stddev of the interval "
	    "values in it, the latest excluded."),
	DKEY("anomaly", "threshold", "3", 0.1, 1000, anomaly_threshold, false,
	     "A stat is flagged when |z| reaches this."),
	KEY("anomaly", "min_intervals", OPT_INT, "30", 2, 100000, anomaly_min_intervals, false,
	    "Values the baseline needs before anything is flagged (warm-up)."),
};
/* clang-format on */

#define NOPTS (sizeof(table) / sizeof(table[0]))

/* ---- table access ------------------------------------------------------ */

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

/* ---- formatting -------------------------------------------------------- */

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
	case OPT_DOUBLE:
		buf_num(b, *(const double *)f);
		break;
	case OPT_DURATION:
		cfgval_format_duration(b, *(const int64_t *)f);
		break;
	case OPT_SIZE:
		cfgval_format_size(b, *(const int64_t *)f);
		break;
	case OPT_LOG_LEVEL:
		buf_puts(b, log_level_name(*(const int *)f));
		break;
	case OPT_PERCENTILES:
	case OPT_QUANTILES:
		cfgval_format_percentiles(b, *(double *const *)f, ccount_of(c, o));
		break;
	case OPT_DURATIONS:
		cfgval_format_durations(b, (const int64_t *)f, ccount_of(c, o));
		break;
	case OPT_HISTOGRAM:
		cfgval_format_histograms(b, *(struct config_histogram *const *)f, ccount_of(c, o));
		break;
	case OPT_TAG_STYLES:
		cfgval_format_tag_styles(b, *(const unsigned *)f);
		break;
	case OPT_ISTATS:
		istat_format_list(b, (const unsigned *)f);
		break;
	case OPT_SECTION:
		break;
	}
}

static void format_bound(struct buf *b, const struct cfg_opt *o, int64_t v)
{
	if (o->type == OPT_DURATION)
		cfgval_format_duration(b, v);
	else if (o->type == OPT_SIZE)
		cfgval_format_size(b, v);
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
	case OPT_QUANTILES:
		free(*(double **)f);
		*(double **)f = NULL;
		*count_of(c, o) = 0;
		break;
	case OPT_DURATIONS:
		memset(f, 0, o->size);
		*count_of(c, o) = 0;
		break;
	case OPT_HISTOGRAM:
		cfgval_free_histograms(*(struct config_histogram **)f, *count_of(c, o));
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
	snprintf(why, whylen, "%s", b.p);
	buf_free(&b);
	return false;
}

static bool check_double_range(const struct cfg_opt *o, double v, char *why, size_t whylen)
{
	if (v >= o->dmin && v <= o->dmax)
		return true;
	struct buf b = BUF_INIT;
	buf_num(&b, v);
	buf_puts(&b, " is out of range ");
	buf_num(&b, o->dmin);
	buf_puts(&b, "..");
	buf_num(&b, o->dmax);
	snprintf(why, whylen, "%s", b.p);
	buf_free(&b);
	return false;
}

/* Number of entries of a bounded list. */
static bool check_count(const struct cfg_opt *o, size_t n, char *why, size_t whylen)
{
	if ((int64_t)n > o->max) {
		snprintf(why, whylen, "%zu entries, at most %lld allowed", n, (long long)o->max);
		return false;
	}
	if ((int64_t)n < o->min) {
		snprintf(why, whylen, "%zu entries, at least %lld needed", n, (long long)o->min);
		return false;
	}
	return true;
}

/* Length bounds of a string, name or path (and no whitespace in a name). */
static bool check_text(const struct cfg_opt *o, const char *s, size_t len, char *why, size_t whylen)
{
	if (o->type == OPT_NAME && !cfgval_name(s, len, why, whylen))
		return false;
	if ((int64_t)len < o->min) {
		if (o->min == 1)
			snprintf(why, whylen, "must not be empty");
		else
			snprintf(why, whylen, "must be at least %lld bytes long",
			         (long long)o->min);
		return false;
	}
	if ((int64_t)len > o->max) {
		snprintf(why, whylen, "%zu bytes long, at most %lld allowed", len,
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
		if (o->type == OPT_ADDRESS ? !cfgval_address(s, len, why, whylen)
		                           : !check_text(o, s, len, why, whylen))
			return false;
		release_value(c, o);
		*(char **)f = xstrndup(s, len);
		return true;
	case OPT_BOOL:
		return cfgval_bool(s, len, (bool *)f, why, whylen);
	case OPT_INT:
		if (!cfgval_int(s, len, &v, why, whylen) || !check_range(o, v, why, whylen))
			return false;
		if (o->size == sizeof(int)) {
			int i = (int)v;
			memcpy(f, &i, sizeof(i));
		} else {
			memcpy(f, &v, sizeof(v));
		}
		return true;
	case OPT_DOUBLE: {
		double d;
		if (!cfgval_double(s, len, &d, why, whylen) ||
		    !check_double_range(o, d, why, whylen))
			return false;
		*(double *)f = d;
		return true;
	}
	case OPT_DURATION:
	case OPT_SIZE:
		if (!(o->type == OPT_DURATION ? cfgval_duration(s, len, &v, why, whylen)
		                              : cfgval_size(s, len, &v, why, whylen)) ||
		    !check_range(o, v, why, whylen))
			return false;
		*(int64_t *)f = v;
		return true;
	case OPT_LOG_LEVEL:
		return cfgval_log_level(s, len, (int *)f, why, whylen);
	case OPT_PERCENTILES:
	case OPT_QUANTILES: {
		double *p;
		size_t n;
		if (o->type == OPT_PERCENTILES ? !cfgval_percentiles(s, len, &p, &n, why, whylen)
		                               : !cfgval_quantiles(s, len, &p, &n, why, whylen))
			return false;
		if (o->type == OPT_QUANTILES && !check_count(o, n, why, whylen)) {
			free(p);
			return false;
		}
		release_value(c, o);
		*(double **)f = p;
		*count_of(c, o) = n;
		return true;
	}
	case OPT_DURATIONS: {
		int64_t *d;
		size_t n;
		if (!cfgval_durations(s, len, &d, &n, why, whylen))
			return false;
		if (!check_count(o, n, why, whylen)) {
			free(d);
			return false;
		}
		release_value(c, o);
		if (n > 0)
			memcpy(f, d,
			       n * sizeof(*d)); /* n <= max, which fits the field (config_new) */
		*count_of(c, o) = n;
		free(d);
		return true;
	}
	case OPT_HISTOGRAM: {
		struct config_histogram *h;
		size_t n;
		if (!cfgval_histograms(s, len, &h, &n, why, whylen))
			return false;
		release_value(c, o);
		*(struct config_histogram **)f = h;
		*count_of(c, o) = n;
		return true;
	}
	case OPT_TAG_STYLES:
		return cfgval_tag_styles(s, len, (unsigned *)f, why, whylen);
	case OPT_ISTATS:
		return istat_parse_list(s, len, (unsigned *)f, why, whylen);
	case OPT_SECTION:
		break;
	}
	snprintf(why, whylen, "not a key");
	return false;
}

/* Parses the raw (still quoted, untrimmed) value text and applies it. */
static bool apply_raw(struct config *c, const struct cfg_opt *o, const char *raw, size_t len,
                      char *why, size_t whylen)
{
	struct buf val = BUF_INIT;
	bool ok = ini_unquote(raw, len, &val, why, whylen) &&
	          set_value(c, o, val.p, val.len, why, whylen);
	buf_free(&val);
	return ok;
}

/* ---- public API -------------------------------------------------------- */

struct config *config_new(void)
{
	struct config *c = xcalloc(1, sizeof(*c));
	char why[256];

	c->rules = rules_new();
	for (size_t i = 0; i < NOPTS; i++) {
		const struct cfg_opt *o = &table[i];
		if (o->type == OPT_SECTION)
			continue;
		if (o->type == OPT_DURATIONS &&
		    (o->max < 0 || (uint64_t)o->max * sizeof(int64_t) > (uint64_t)o->size)) {
			log_error("config: %s.%s allows more entries than its field holds",
			          o->section, o->key);
			abort();
		}
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
	rules_free(c->rules);
	free(c);
}

void config_take_rules(struct config *c, struct config *from)
{
	struct rules *old = c->rules;
	c->rules = from->rules;
	from->rules = old;
}

/* ---- loading a file ---------------------------------------------------- */

struct load {
	struct config *c;
	const struct cfg_opt *sec; /* the current section's row */
	unsigned long *seen;       /* line where each table row was set, 0 = not yet */
	bool in_rules;             /* the current section is an [alert/webhook NAME] */
	char rules_why[256];       /* why its header was refused ("" = it was not) */
};

static bool load_section(void *ctx, const char *name, size_t len, unsigned long line)
{
	struct load *ld = ctx;
	ld->sec = find_section(name, len);
	ld->in_rules = false;
	ld->rules_why[0] = '\0';
	if (ld->sec)
		return true;
	/* [alert NAME] / [webhook NAME]: the reason a header is refused is given
	 * at its first key (the reader's section callback carries no reason). */
	int rc = rules_section(ld->c->rules, name, len, line, ld->rules_why, sizeof(ld->rules_why));
	ld->in_rules = rc != 0;
	return rc != 0;
}

static int rules_key(struct load *ld, const struct ini_item *it, char *why, size_t whylen)
{
	if (ld->rules_why[0]) {
		snprintf(why, whylen, "%s", ld->rules_why);
		return -1;
	}
	struct buf val = BUF_INIT;
	int rc = -1;
	if (ini_unquote(it->value, it->vallen, &val, why, whylen))
		rc = rules_set_at(ld->c->rules, it->key, it->keylen, val.p, it->line, why, whylen);
	buf_free(&val);
	return rc;
}

static int load_key(void *ctx, const struct ini_item *it, char *why, size_t whylen)
{
	struct load *ld = ctx;
	if (!it->section) {
		snprintf(why, whylen, "key before any [section] header");
		return -1;
	}
	if (ld->in_rules)
		return rules_key(ld, it, why, whylen);
	const struct cfg_opt *o = find_key(ld->sec, it->key, it->keylen);
	if (!o) {
		snprintf(why, whylen, "unknown key");
		return -1;
	}
	size_t idx = (size_t)(o - table);
	if (ld->seen[idx]) {
		snprintf(why, whylen, "set twice (first on line %lu)", ld->seen[idx]);
		return -1;
	}
	if (!apply_raw(ld->c, o, it->value, it->vallen, why, whylen))
		return -1;
	ld->seen[idx] = it->line;
	return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	static const struct ini_handler handler = {load_section, load_key};
	struct load ld = {.c = c, .seen = xcalloc(NOPTS, sizeof(*ld.seen))};
	free(c->rules->file);
	c->rules->file = xstrdup(path);
	int rc = ini_read_file(path, &handler, &ld, err, errlen);
	free(ld.seen);
	return rc;
}

/* ---- overrides and checks ---------------------------------------------- */

int config_override(struct config *c, const char *assignment, char *err, size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	const char *name = assignment;
	size_t nl = eq ? (size_t)(eq - assignment) : strlen(assignment);
	ini_trim(&name, &nl);
	const char *dot = memchr(name, '.', nl);
	if (!eq || !dot || dot == name || dot + 1 == name + nl) {
		snprintf(err, errlen, "-o %.*s%s: expected section.key=value",
		         INI_SHOW(assignment, strlen(assignment)));
		return -1;
	}
	size_t sl = (size_t)(dot - name), kl = nl - sl - 1;
	const struct cfg_opt *sec = find_section(name, sl);
	if (!sec) {
		snprintf(err, errlen, "-o %.*s%s: unknown section", INI_SHOW(name, nl));
		return -1;
	}
	const struct cfg_opt *o = find_key(sec, dot + 1, kl);
	if (!o) {
		snprintf(err, errlen, "-o %.*s%s: unknown key", INI_SHOW(name, nl));
		return -1;
	}
	char why[512];
	if (!apply_raw(c, o, eq + 1, strlen(eq + 1), why, sizeof(why))) {
		snprintf(err, errlen, "-o %s.%s: %s", o->section, o->key, why);
		return -1;
	}
	return 0;
}

/* Whether every [anomaly] key still has its built-in default. */
static bool anomaly_at_defaults(const struct config *c)
{
	struct config *d = config_new();
	bool same = memcmp(c->anomaly_stats, d->anomaly_stats, sizeof(d->anomaly_stats)) == 0 &&
	            c->anomaly_baseline_ms == d->anomaly_baseline_ms &&
	            c->anomaly_threshold == d->anomaly_threshold &&
	            c->anomaly_min_intervals == d->anomaly_min_intervals;
	config_free(d);
	return same;
}

int config_validate(struct config *c, char *err, size_t errlen)
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
	/* The state file is replaced whole every minute: it may not be another file. */
	const struct {
		const char *name, *path;
	} others[] = {{"server.unix", c->unix_dgram},
	              {"server.unix_stream", c->unix_stream},
	              {"server.port_file", c->port_file}};
	for (size_t i = 0; c->state_file[0] && i < 3; i++) {
		if (strcmp(c->state_file, others[i].path) == 0) {
			snprintf(err, errlen, "server.state_file: same path as %s (%s)",
			         others[i].name, c->state_file);
			return -1;
		}
	}
	/* TCP listeners may not share an address (port 0 picks a free port each). */
	const struct {
		const char *name, *addr;
	} tcp[] = {{"server.tcp", c->tcp}, {"server.admin", c->admin}, {"server.http", c->http}};
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = i + 1; j < 3; j++) {
			if (tcp[i].addr[0] && strcmp(tcp[i].addr, tcp[j].addr) == 0 &&
			    cfgval_address_port(tcp[i].addr) != 0) {
				snprintf(err, errlen, "%s: same TCP address as %s (%s)",
				         tcp[j].name, tcp[i].name, tcp[i].addr);
				return -1;
			}
		}
	}
	/* The windows as the window module will see them. */
	struct window_conf wc = {.interval_ms = c->flush_interval_ms,
	                         .n = c->nwindows,
	                         .nq = c->nwindow_quantiles,
	                         .accuracy = c->window_accuracy};
	memcpy(wc.len_ms, c->windows_ms, c->nwindows * sizeof(wc.len_ms[0]));
	for (size_t i = 0; i < c->nwindow_quantiles; i++)
		wc.quantiles[i] = c->window_quantiles[i] / 100;
	if (c->nwindows > 0 && !window_conf_check(&wc, err, errlen))
		return -1;
	bool scoring = false;
	for (size_t k = 0; k < 4; k++)
		scoring |= c->anomaly_stats[k] != 0;
	struct anomaly_conf ac = {.interval_ms = c->flush_interval_ms,
	                          .baseline_ms = c->anomaly_baseline_ms,
	                          .threshold = c->anomaly_threshold,
	                          .min_intervals = (uint32_t)c->anomaly_min_intervals};
	if (scoring && !anomaly_conf_check(&ac, err, errlen)) {
		/* The defaults do not fit every flush interval (1h holds fewer
		 * than 30 intervals of 5m): untouched, scoring just turns off. */
		if (!anomaly_at_defaults(c))
			return -1;
		log_warn("config: anomaly scoring off: %s", err);
		memset(c->anomaly_stats, 0, sizeof(c->anomaly_stats));
		err[0] = '\0';
	}
	return rules_check(c->rules, c->windows_ms, c->nwindows, err, errlen);
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
		if (o->secret && v.len) {
			buf_reset(&v);
			buf_puts(&v, "***");
		}
		buf_printf(&line, "%s.%s =", o->section, o->key);
		if (v.len) {
			buf_putc(&line, ' ');
			ini_quote(&line, v.p, v.len);
		}
		buf_putc(&line, '\n');
		fwrite(line.p, 1, line.len, out);
	}
	buf_free(&v);
	buf_free(&line);
	rules_dump(c->rules, c->windows_ms, out);
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
	case OPT_DOUBLE:
		buf_puts(b, "Number, ");
		buf_num(b, o->dmin);
		buf_puts(b, " to ");
		buf_num(b, o->dmax);
		buf_putc(b, '.');
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
	case OPT_QUANTILES:
		buf_printf(b,
		           "List of numbers more than 0 and less than 100, separated by commas or "
		           "spaces; %lld to %lld entries.",
		           (long long)o->min, (long long)o->max);
		break;
	case OPT_DURATIONS:
		buf_printf(b,
		           "List of durations (ms, s, m, h, d; bare = seconds), strictly "
		           "ascending, separated by commas or spaces; %lld to %lld entries.",
		           (long long)o->min, (long long)o->max);
		break;
	case OPT_HISTOGRAM:
		buf_puts(b, "metric:bin,bin,...[,inf] entries separated by ';'; bins strictly "
		            "ascending; empty = none.");
		break;
	case OPT_TAG_STYLES:
		buf_puts(b, "List of librato, influxdb, signalfx; empty = none.");
		break;
	case OPT_ISTATS:
		buf_puts(b, "List of kind.stat separated by commas or spaces; empty = none.");
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

static const char rules_reference[] =
    "[alert NAME] and [webhook NAME]: alert rules and where they notify\n"
    "(docs/alerts.md). Any number of each; reloaded on SIGHUP without losing\n"
    "state. Not settable with -o. Examples, one per receiver kind:\n"
    "\n"
    "An Alertmanager-compatible receiver (the default format):\n"
    "[webhook oncall]\n"
    "url = http://127.0.0.1:9095/alerts\n"
    "timeout = 5s\n"
    "retries = 3\n"
    "\n"
    "[alert api_errors]\n"
    "metric = api.errors\n"
    "tags = env:prod\n"
    "window = 1m\n"
    "stat = rate\n"
    "op = >\n"
    "threshold = 5\n"
    "for = 2m\n"
    "severity = critical\n"
    "summary = API errors above 5/s for 2 minutes\n"
    "webhook = oncall\n"
    "\n"
    "Slack (an incoming-webhook URL):\n"
    "[webhook slack]\n"
    "url = https://hooks.slack.com/services/T000/B000/XXXX\n"
    "format = slack\n"
    "\n"
    "[alert latency]\n"
    "metric = api.latency\n"
    "window = 5m\n"
    "stat = p99\n"
    "threshold = 250\n"
    "webhook = slack\n"
    "\n"
    "A plain JSON endpoint:\n"
    "[webhook ops]\n"
    "url = https://ops.example.com/hooks/tallyd\n"
    "format = json\n"
    "headers = Authorization: Bearer 0123abcd; X-Source: tallyd\n"
    "\n"
    "[alert heartbeat]\n"
    "kind = absent\n"
    "metric = cron.nightly.heartbeat\n"
    "for = 26h\n"
    "webhook = ops\n"
    "\n"
    "[alert checkout_anomaly]\n"
    "kind = anomaly\n"
    "metric = checkout.*\n"
    "stat = rate\n"
    "webhook = ops\n"
    "\n"
    "alert keys: kind (threshold, anomaly, absent), metric (glob), tags, window\n"
    "(interval or a windows.list entry), stat, op (> >= < <= == !=), threshold,\n"
    "for, repeat (default 1h), severity (default warning), summary, webhook.\n"
    "webhook keys: url, format (alertmanager, slack, json), timeout (default 5s),\n"
    "retries (default 3), headers.";

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
			ini_quote(&q, b.p + head, b.len - head);
			b.len = head;
			buf_putc(&b, ' ');
			buf_append(&b, q.p, q.len);
			buf_free(&q);
		}
		fprintf(out, "%s\n", b.p);
	}
	fputc('\n', out);
	write_verbatim(out, rules_reference);
	buf_free(&b);
	config_free(c);
}
