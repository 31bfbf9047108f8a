/* test_config: the configuration table, parser and writers. Defaults; good
 * and bad values of every type through -o (table-driven, exact messages);
 * INI files written to mkstemp files (syntax, comments, quotes, long lines,
 * errors naming file, line and key); validation (windows against the flush
 * interval included); the masked password; the dump round trip; cfgval's
 * formatters directly; and contrib/tallyd.conf against
 * config_write_reference(). Run by make check. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cfgval.h"
#include "config.h"
#include "log.h"
#include "parse.h"
#include "rules.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

#define X10 "xxxxxxxxxx"

static const char default_dump[] = "server.udp = 127.0.0.1:8125\n"
                                   "server.tcp = 127.0.0.1:8125\n"
                                   "server.unix =\n"
                                   "server.unix_stream =\n"
                                   "server.admin = 127.0.0.1:8126\n"
                                   "server.http = 127.0.0.1:8127\n"
                                   "server.port_file =\n"
                                   "server.state_file =\n"
                                   "server.workers = 0\n"
                                   "server.flush_interval = 10s\n"
                                   "server.max_series = 1000000\n"
                                   "server.log_level = info\n"
                                   "server.rcvbuf = 8m\n"
                                   "server.read_wait = 1ms\n"
                                   "server.max_datagram = 64k\n"
                                   "server.max_name = 512\n"
                                   "server.max_tags = 64\n"
                                   "statsd.percentiles = 90\n"
                                   "statsd.histogram =\n"
                                   "statsd.gauge_deltas = true\n"
                                   "statsd.tag_styles =\n"
                                   "statsd.delete_idle = false\n"
                                   "statsd.prefix_stats = statsd\n"
                                   "statsd.sanitize = true\n"
                                   "graphite.address =\n"
                                   "graphite.legacy_namespace = true\n"
                                   "graphite.prefix = stats\n"
                                   "graphite.suffix =\n"
                                   "graphite.buffer_max = 64m\n"
                                   "graphite.windows = false\n"
                                   "windows.list = 1m, 5m, 15m, 1h\n"
                                   "windows.quantiles = 50, 90, 95, 99, 99.9\n"
                                   "windows.relative_accuracy = 0.01\n"
                                   "redis.address = 127.0.0.1:6379\n"
                                   "redis.password =\n"
                                   "redis.db = 0\n"
                                   "redis.prefix = tallyd\n"
                                   "redis.history = 0s\n"
                                   "redis.timeout = 5s\n"
                                   "anomaly.stats = counter.rate,timer.mean,timer.p99,gauge.value\n"
                                   "anomaly.baseline = 1h\n"
                                   "anomaly.threshold = 3\n"
                                   "anomaly.min_intervals = 30\n";

/* ---- helpers ----------------------------------------------------------- */

/* The dump as a malloc'd string. */
static char *dump(const struct config *c)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	config_dump(c, f);
	fclose(f);
	return p;
}

/* The dump line of one key ("section.key = value"), malloc'd, or NULL. */
static char *dump_line(const struct config *c, const char *name)
{
	char *all = dump(c), *res = NULL;
	size_t nl = strlen(name);
	for (char *line = all; line && *line;) {
		char *end = strchr(line, '\n');
		if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
			res = strndup(line, (size_t)(end - line));
			break;
		}
		line = end ? end + 1 : NULL;
	}
	free(all);
	return res;
}

/* Writes len bytes to a new temporary file; its path goes to path. */
static void write_temp(const char *content, size_t len, char *path, size_t pathlen)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, pathlen, "%s/test_config.XXXXXX", dir && dir[0] ? dir : "/tmp");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, content, len) == (ssize_t)len);
	close(fd);
}

/* Loads content as a file into c; returns config_load_file's result. */
static int load_text(struct config *c, const char *content, size_t len, char *path, size_t pathlen,
                     char *err, size_t errlen)
{
	write_temp(content, len, path, pathlen);
	int rc = config_load_file(c, path, err, errlen);
	unlink(path);
	return rc;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *p = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(p, cap);
		}
		r = fread(p + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return p;
}

/* ---- defaults ---------------------------------------------------------- */

static void test_defaults(void)
{
	struct config *c = config_new();

	CU_ASSERT_STRING_EQUAL(c->udp, "127.0.0.1:8125");
	CU_ASSERT_STRING_EQUAL(c->tcp, "127.0.0.1:8125");
	CU_ASSERT_STRING_EQUAL(c->unix_dgram, "");
	CU_ASSERT_STRING_EQUAL(c->unix_stream, "");
	CU_ASSERT_STRING_EQUAL(c->admin, "127.0.0.1:8126");
	CU_ASSERT_STRING_EQUAL(c->http, "127.0.0.1:8127");
	CU_ASSERT_STRING_EQUAL(c->port_file, "");
	CU_ASSERT_EQUAL(c->workers, 0);
	CU_ASSERT_EQUAL(c->flush_interval_ms, 10000);
	CU_ASSERT_EQUAL(c->max_series, 1000000);
	CU_ASSERT_EQUAL(c->log_level, LOG_LVL_INFO);
	CU_ASSERT_EQUAL(c->rcvbuf, 8 << 20);
	CU_ASSERT_EQUAL(c->max_datagram, 65536);
	CU_ASSERT_EQUAL(c->max_name, 512);
	CU_ASSERT_EQUAL(c->max_tags, 64);
	CU_ASSERT_EQUAL_FATAL(c->npercentiles, 1);
	CU_ASSERT_DOUBLE_EQUAL(c->percentiles[0], 90, 0);
	CU_ASSERT_EQUAL(c->nhistograms, 0);
	CU_ASSERT_PTR_NULL(c->histograms);
	CU_ASSERT_TRUE(c->gauge_deltas);
	CU_ASSERT_EQUAL(c->tag_styles, 0);
	CU_ASSERT_FALSE(c->delete_idle);
	CU_ASSERT_STRING_EQUAL(c->prefix_stats, "statsd");
	CU_ASSERT_TRUE(c->sanitize);
	CU_ASSERT_STRING_EQUAL(c->graphite_address, "");
	CU_ASSERT_TRUE(c->graphite_legacy);
	CU_ASSERT_STRING_EQUAL(c->graphite_prefix, "stats");
	CU_ASSERT_STRING_EQUAL(c->graphite_suffix, "");
	CU_ASSERT_EQUAL(c->graphite_buffer_max, 64LL << 20);
	CU_ASSERT_STRING_EQUAL(c->state_file, "");
	CU_ASSERT_EQUAL_FATAL(c->nwindows, 4);
	CU_ASSERT_EQUAL(c->windows_ms[0], 60000);
	CU_ASSERT_EQUAL(c->windows_ms[1], 300000);
	CU_ASSERT_EQUAL(c->windows_ms[2], 900000);
	CU_ASSERT_EQUAL(c->windows_ms[3], 3600000);
	CU_ASSERT_EQUAL(c->windows_ms[4], 0);
	CU_ASSERT_EQUAL_FATAL(c->nwindow_quantiles, 5);
	static const double q[] = {50, 90, 95, 99, 99.9};
	for (size_t i = 0; i < 5; i++)
		CU_ASSERT_DOUBLE_EQUAL(c->window_quantiles[i], q[i], 0);
	CU_ASSERT_DOUBLE_EQUAL(c->window_accuracy, 0.01, 0);
	CU_ASSERT_STRING_EQUAL(c->redis_address, "127.0.0.1:6379");
	CU_ASSERT_STRING_EQUAL(c->redis_password, "");
	CU_ASSERT_EQUAL(c->redis_db, 0);
	CU_ASSERT_STRING_EQUAL(c->redis_prefix, "tallyd");
	CU_ASSERT_EQUAL(c->redis_history_ms, 0);
	CU_ASSERT_EQUAL(c->redis_timeout_ms, 5000);

	char *d = dump(c);
	CU_ASSERT_STRING_EQUAL(d, default_dump);
	free(d);

	char err[256] = "";
	CU_ASSERT_EQUAL(config_validate(c, err, sizeof(err)), 0);
	config_free(c);
	config_free(NULL);
}

/* ---- good values: -o, then the dump shows the canonical form ------------ */

struct good {
	const char *assign; /* -o argument */
	const char *line;   /* expected dump line */
};

static const struct good good_cases[] = {
    /* address */
    {"server.udp=0.0.0.0:8125", "server.udp = 0.0.0.0:8125"},
    {"server.udp=[::1]:8125", "server.udp = [::1]:8125"},
    {"server.udp=[::]:0", "server.udp = [::]:0"},
    {"server.udp=[fe80::1%eth0]:8125", "server.udp = [fe80::1%eth0]:8125"},
    {"server.udp=[::ffff:127.0.0.1]:1", "server.udp = [::ffff:127.0.0.1]:1"},
    {"server.udp=localhost:65535", "server.udp = localhost:65535"},
    {"server.udp=my-host_1.example.com:1", "server.udp = my-host_1.example.com:1"},
    {"server.udp=", "server.udp ="},
    {"server.udp=\"\"", "server.udp ="},
    {" server.udp = 127.0.0.1:9125 ", "server.udp = 127.0.0.1:9125"},
    {"server.tcp=127.0.0.1:0", "server.tcp = 127.0.0.1:0"},
    {"server.admin=", "server.admin ="},
    {"server.http=[::1]:8127", "server.http = [::1]:8127"},
    {"graphite.address=graphite.example.com:2003", "graphite.address = graphite.example.com:2003"},
    /* path (quoted when it needs to be) */
    {"server.unix=/run/tallyd/statsd.sock", "server.unix = /run/tallyd/statsd.sock"},
    {"server.unix_stream=/tmp/s", "server.unix_stream = /tmp/s"},
    {"server.port_file=\"  /tmp/with spaces  \"", "server.port_file = \"  /tmp/with spaces  \""},
    {"server.port_file=/tmp/a \"b\" c", "server.port_file = /tmp/a \"b\" c"},
    {"server.port_file=\"\\\"x\\\\y\"", "server.port_file = \"\\\"x\\\\y\""},
    {"server.port_file=a\\b", "server.port_file = a\\b"},
    {"server.port_file=/tmp/x;y#z", "server.port_file = /tmp/x;y#z"},
    {"server.port_file=a\tb", "server.port_file = a\tb"},
    /* int */
    {"server.workers=0", "server.workers = 0"},
    {"server.workers=256", "server.workers = 256"},
    {"server.workers=+7", "server.workers = 7"},
    {"server.workers=007", "server.workers = 7"},
    {"server.max_series=1", "server.max_series = 1"},
    {"server.max_series=100000000", "server.max_series = 100000000"},
    {"server.max_tags=0", "server.max_tags = 0"},
    {"server.max_tags=256", "server.max_tags = 256"},
    /* duration */
    {"server.flush_interval=100ms", "server.flush_interval = 100ms"},
    {"server.flush_interval=1h", "server.flush_interval = 1h"},
    {"server.flush_interval=2", "server.flush_interval = 2s"},
    {"server.flush_interval=1500ms", "server.flush_interval = 1500ms"},
    {"server.flush_interval=90s", "server.flush_interval = 90s"},
    {"server.flush_interval=60000ms", "server.flush_interval = 1m"},
    {"server.flush_interval=3600", "server.flush_interval = 1h"},
    /* size */
    {"server.rcvbuf=0", "server.rcvbuf = 0"},
    {"server.read_wait=0", "server.read_wait = 0s"},
    {"server.read_wait=100ms", "server.read_wait = 100ms"},
    {"server.rcvbuf=1g", "server.rcvbuf = 1g"},
    {"server.rcvbuf=1G", "server.rcvbuf = 1g"},
    {"server.rcvbuf=1048576", "server.rcvbuf = 1m"},
    {"server.rcvbuf=2048k", "server.rcvbuf = 2m"},
    {"server.rcvbuf=1000", "server.rcvbuf = 1000"},
    {"server.max_datagram=64", "server.max_datagram = 64"},
    {"server.max_datagram=1m", "server.max_datagram = 1m"},
    {"server.max_name=1", "server.max_name = 1"},
    {"server.max_name=4k", "server.max_name = 4k"},
    {"graphite.windows=true", "graphite.windows = true"},
    {"graphite.windows=off", "graphite.windows = false"},
    {"graphite.buffer_max=64k", "graphite.buffer_max = 64k"},
    {"graphite.buffer_max=4g", "graphite.buffer_max = 4g"},
    /* log level */
    {"server.log_level=debug", "server.log_level = debug"},
    {"server.log_level=error", "server.log_level = error"},
    {"server.log_level=warn", "server.log_level = warn"},
    /* bool */
    {"statsd.delete_idle=true", "statsd.delete_idle = true"},
    {"statsd.delete_idle=yes", "statsd.delete_idle = true"},
    {"statsd.delete_idle=On", "statsd.delete_idle = true"},
    {"statsd.delete_idle=1", "statsd.delete_idle = true"},
    {"statsd.delete_idle=TRUE", "statsd.delete_idle = true"},
    {"statsd.gauge_deltas=false", "statsd.gauge_deltas = false"},
    {"statsd.gauge_deltas=no", "statsd.gauge_deltas = false"},
    {"statsd.gauge_deltas=OFF", "statsd.gauge_deltas = false"},
    {"statsd.gauge_deltas=0", "statsd.gauge_deltas = false"},
    {"statsd.sanitize=False", "statsd.sanitize = false"},
    {"graphite.legacy_namespace=false", "graphite.legacy_namespace = false"},
    /* percentiles */
    {"statsd.percentiles=90, -10, 99.9", "statsd.percentiles = 90, -10, 99.9"},
    {"statsd.percentiles=50 75 90", "statsd.percentiles = 50, 75, 90"},
    {"statsd.percentiles= 95 , 99 ", "statsd.percentiles = 95, 99"},
    {"statsd.percentiles=95,99", "statsd.percentiles = 95, 99"},
    {"statsd.percentiles=100", "statsd.percentiles = 100"},
    {"statsd.percentiles=-100", "statsd.percentiles = -100"},
    {"statsd.percentiles=99.99", "statsd.percentiles = 99.99"},
    {"statsd.percentiles=0.001", "statsd.percentiles = 0.001"},
    {"statsd.percentiles=0x10", "statsd.percentiles = 16"},
    {"statsd.percentiles=1e1", "statsd.percentiles = 10"},
    /* histogram */
    {"statsd.histogram=render:0.01,0.1,1,10,inf; histo:50,100,150,200",
     "statsd.histogram = render:0.01,0.1,1,10,inf; histo:50,100,150,200"},
    {"statsd.histogram= a : 1 , 2 ;b:3", "statsd.histogram = a:1,2; b:3"},
    {"statsd.histogram=:50,100,inf", "statsd.histogram = :50,100,inf"},
    {"statsd.histogram=debug:; :1", "statsd.histogram = debug:; :1"},
    {"statsd.histogram=x:inf", "statsd.histogram = x:inf"},
    {"statsd.histogram=x:INF", "statsd.histogram = x:inf"},
    {"statsd.histogram=x:-5,0,5", "statsd.histogram = x:-5,0,5"},
    {"statsd.histogram=x:1, 2 3", "statsd.histogram = x:1,2,3"},
    {"statsd.histogram=x:1e3", "statsd.histogram = x:1000"},
    {"statsd.histogram=a.b-c:1;a.b:2", "statsd.histogram = a.b-c:1; a.b:2"},
    {"statsd.histogram=", "statsd.histogram ="},
    {"statsd.histogram=  ", "statsd.histogram ="},
    /* tag styles */
    {"statsd.tag_styles=librato", "statsd.tag_styles = librato"},
    {"statsd.tag_styles=signalfx, librato", "statsd.tag_styles = librato, signalfx"},
    {"statsd.tag_styles=influxdb influxdb", "statsd.tag_styles = influxdb"},
    {"statsd.tag_styles=LIBRATO,influxdb,signalfx",
     "statsd.tag_styles = librato, influxdb, signalfx"},
    {"statsd.tag_styles=", "statsd.tag_styles ="},
    /* names */
    {"statsd.prefix_stats=my.app", "statsd.prefix_stats = my.app"},
    {"statsd.prefix_stats=a;b#c", "statsd.prefix_stats = a;b#c"},
    {"graphite.prefix=", "graphite.prefix ="},
    {"graphite.prefix=\"\"", "graphite.prefix ="},
    {"graphite.suffix=sfx", "graphite.suffix = sfx"},
    {"graphite.suffix=\"sfx\"", "graphite.suffix = sfx"},
    {"redis.prefix=my-app.metrics", "redis.prefix = my-app.metrics"},
    {"redis.prefix={x}", "redis.prefix = {x}"},
    {"redis.prefix=" X10 X10 X10 X10 X10 X10 "1234", /* 64 bytes */
     "redis.prefix = " X10 X10 X10 X10 X10 X10 "1234"},
    /* server.state_file (path) */
    {"server.state_file=/var/lib/tallyd/state", "server.state_file = /var/lib/tallyd/state"},
    {"server.state_file=", "server.state_file ="},
    /* duration lists */
    {"windows.list=1m,5m,15m,1h", "windows.list = 1m, 5m, 15m, 1h"},
    {"windows.list=10s 30s 1m", "windows.list = 10s, 30s, 1m"},
    {"windows.list= 60 , 300 ", "windows.list = 1m, 5m"},
    {"windows.list=60000ms", "windows.list = 1m"},
    {"windows.list=1h", "windows.list = 1h"},
    {"windows.list=", "windows.list ="},                      /* no windows, no Redis output */
    {"windows.list=1500ms, 2d", "windows.list = 1500ms, 2d"}, /* parses; validate refuses */
    {"windows.list=1s 2s 3s 4s 5s 6s 7s 8s", "windows.list = 1s, 2s, 3s, 4s, 5s, 6s, 7s, 8s"},
    {"windows.list=\"1m, 1h\"", "windows.list = 1m, 1h"},
    /* quantiles */
    {"windows.quantiles=50,90,95,99,99.9", "windows.quantiles = 50, 90, 95, 99, 99.9"},
    {"windows.quantiles=99.99", "windows.quantiles = 99.99"},
    {"windows.quantiles=0.1 99.9", "windows.quantiles = 0.1, 99.9"},
    {"windows.quantiles=5 50", "windows.quantiles = 5, 50"},             /* p5, p50 */
    {"windows.quantiles=9.99 99.99", "windows.quantiles = 9.99, 99.99"}, /* p999, p9999 */
    {"windows.quantiles=99.9 50", "windows.quantiles = 99.9, 50"},       /* order kept */
    {"windows.quantiles=1,2,3,4,5,6,7,8", "windows.quantiles = 1, 2, 3, 4, 5, 6, 7, 8"},
    {"windows.quantiles=0x32", "windows.quantiles = 50"},
    {"windows.quantiles=99.999999", "windows.quantiles = 99.999999"},
    /* double */
    {"windows.relative_accuracy=0.0001", "windows.relative_accuracy = 0.0001"},
    {"windows.relative_accuracy=0.5", "windows.relative_accuracy = 0.5"},
    {"windows.relative_accuracy=1e-3", "windows.relative_accuracy = 0.001"},
    {"windows.relative_accuracy=0.020", "windows.relative_accuracy = 0.02"},
    {"windows.relative_accuracy=0x1p-4", "windows.relative_accuracy = 0.0625"},
    {"windows.relative_accuracy=\"0.05\"", "windows.relative_accuracy = 0.05"},
    /* redis */
    {"redis.address=", "redis.address ="},
    {"redis.address=[::1]:6380", "redis.address = [::1]:6380"},
    {"redis.address=redis.internal:6379", "redis.address = redis.internal:6379"},
    {"redis.password=s3cr#t;x", "redis.password = ***"},
    {"redis.password=\"  spaced  \"", "redis.password = ***"},
    {"redis.password=***", "redis.password = ***"},
    {"redis.password=", "redis.password ="},
    {"redis.db=0", "redis.db = 0"},
    {"redis.db=15", "redis.db = 15"},
    {"redis.db=1000000", "redis.db = 1000000"},
    {"redis.history=0", "redis.history = 0s"},
    {"redis.history=1ms", "redis.history = 1ms"},
    {"redis.history=1h", "redis.history = 1h"},
    {"redis.history=90m", "redis.history = 90m"},
    {"redis.history=24h", "redis.history = 1d"},
    {"redis.timeout=100ms", "redis.timeout = 100ms"},
    {"redis.timeout=1500ms", "redis.timeout = 1500ms"},
    {"redis.timeout=60s", "redis.timeout = 1m"},
};

static void test_good_values(void)
{
	for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good *g = &good_cases[i];
		struct config *c = config_new();
		char err[512] = "";
		int rc = config_override(c, g->assign, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, 0);
		const char *dot = strchr(g->line, ' ');
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)(dot - g->line), g->line);
		char *line = dump_line(c, name);
		CU_ASSERT_PTR_NOT_NULL(line);
		if (rc != 0 || !line || strcmp(line, g->line) != 0) {
			CU_FAIL("good value");
			fprintf(stderr, "\ncase %zu '%s': rc=%d err='%s' dump='%s' want='%s'\n", i,
			        g->assign, rc, err, line ? line : "(none)", g->line);
		}
		free(line);
		config_free(c);
	}
}

/* The values behind a few dump lines, in the struct. */
static void test_good_fields(void)
{
	struct config *c = config_new();
	char err[512] = "";
	static const char *const sets[] = {
	    "statsd.percentiles=90, -10, 99.9",
	    "statsd.histogram=render:0.01,0.1,1,10,inf; :50,100; debug:",
	    "statsd.tag_styles=librato, signalfx",
	    "server.workers=12",
	    "server.log_level=debug",
	    "server.flush_interval=2s",
	    "server.port_file=\"  a \\\"b\\\" \\\\ c  \"",
	    "windows.list=10s 30s 2m",
	    "windows.quantiles=99.9, 25",
	    "windows.relative_accuracy=0.005",
	    "redis.address=[::1]:6380",
	    "redis.password=\" pass word \"",
	    "redis.db=3",
	    "redis.prefix=app",
	    "redis.history=2h",
	    "redis.timeout=250ms",
	    "server.state_file=/var/lib/tallyd/state",
	};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		CU_ASSERT_EQUAL(config_override(c, sets[i], err, sizeof(err)), 0);

	CU_ASSERT_EQUAL_FATAL(c->npercentiles, 3);
	CU_ASSERT_DOUBLE_EQUAL(c->percentiles[0], 90, 0);
	CU_ASSERT_DOUBLE_EQUAL(c->percentiles[1], -10, 0);
	CU_ASSERT_DOUBLE_EQUAL(c->percentiles[2], 99.9, 0);

	CU_ASSERT_EQUAL_FATAL(c->nhistograms, 3);
	CU_ASSERT_STRING_EQUAL(c->histograms[0].metric, "render");
	CU_ASSERT_EQUAL_FATAL(c->histograms[0].nbins, 5);
	CU_ASSERT_DOUBLE_EQUAL(c->histograms[0].bins[0], 0.01, 0);
	CU_ASSERT_DOUBLE_EQUAL(c->histograms[0].bins[3], 10, 0);
	CU_ASSERT_TRUE(isinf(c->histograms[0].bins[4]) && c->histograms[0].bins[4] > 0);
	CU_ASSERT_STRING_EQUAL(c->histograms[1].metric, "");
	CU_ASSERT_EQUAL(c->histograms[1].nbins, 2);
	CU_ASSERT_STRING_EQUAL(c->histograms[2].metric, "debug");
	CU_ASSERT_EQUAL(c->histograms[2].nbins, 0);

	CU_ASSERT_EQUAL(c->tag_styles, TAG_STYLE_LIBRATO | TAG_STYLE_SIGNALFX);
	CU_ASSERT_EQUAL(c->workers, 12);
	CU_ASSERT_EQUAL(c->log_level, LOG_LVL_DEBUG);
	CU_ASSERT_EQUAL(c->flush_interval_ms, 2000);
	CU_ASSERT_STRING_EQUAL(c->port_file, "  a \"b\" \\ c  ");
	CU_ASSERT_EQUAL_FATAL(c->nwindows, 3);
	CU_ASSERT_EQUAL(c->windows_ms[0], 10000);
	CU_ASSERT_EQUAL(c->windows_ms[1], 30000);
	CU_ASSERT_EQUAL(c->windows_ms[2], 120000);
	CU_ASSERT_EQUAL(c->windows_ms[3], 0); /* the default's 4th entry is gone */
	CU_ASSERT_EQUAL_FATAL(c->nwindow_quantiles, 2);
	CU_ASSERT_DOUBLE_EQUAL(c->window_quantiles[0], 99.9, 0);
	CU_ASSERT_DOUBLE_EQUAL(c->window_quantiles[1], 25, 0);
	CU_ASSERT_DOUBLE_EQUAL(c->window_accuracy, 0.005, 0);
	CU_ASSERT_STRING_EQUAL(c->redis_address, "[::1]:6380");
	CU_ASSERT_STRING_EQUAL(c->redis_password, " pass word ");
	CU_ASSERT_EQUAL(c->redis_db, 3);
	CU_ASSERT_STRING_EQUAL(c->redis_prefix, "app");
	CU_ASSERT_EQUAL(c->redis_history_ms, 2 * 3600 * 1000);
	CU_ASSERT_EQUAL(c->redis_timeout_ms, 250);
	CU_ASSERT_STRING_EQUAL(c->state_file, "/var/lib/tallyd/state");

	/* A later value replaces an earlier one (lists included). */
	CU_ASSERT_EQUAL(config_override(c, "statsd.percentiles=50", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c->npercentiles, 1);
	CU_ASSERT_EQUAL(config_override(c, "statsd.histogram=", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c->nhistograms, 0);
	CU_ASSERT_EQUAL(config_override(c, "windows.list=1m", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c->nwindows, 1);
	CU_ASSERT_EQUAL(c->windows_ms[0], 60000);
	CU_ASSERT_EQUAL(c->windows_ms[1], 0);
	CU_ASSERT_EQUAL(config_override(c, "windows.quantiles=50", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c->nwindow_quantiles, 1);
	config_free(c);
}

/* ---- bad values: the exact -o error, and the config is left unchanged -- */

struct bad {
	const char *assign;
	const char *err;
};

static const struct bad bad_cases[] = {
    /* address */
    {"server.udp=127.0.0.1",
     "-o server.udp: \"127.0.0.1\": expected host:port, [v6-address]:port or empty"},
    {"server.udp=:8125",
     "-o server.udp: \":8125\": expected host:port, [v6-address]:port or empty"},
    {"server.udp=host:", "-o server.udp: \"host:\": port must be a number from 0 to 65535"},
    {"server.udp=host:65536",
     "-o server.udp: \"host:65536\": port must be a number from 0 to 65535"},
    {"server.udp=host:123456",
     "-o server.udp: \"host:123456\": port must be a number from 0 to 65535"},
    {"server.udp=host:-1", "-o server.udp: \"host:-1\": port must be a number from 0 to 65535"},
    {"server.udp=host:+1", "-o server.udp: \"host:+1\": port must be a number from 0 to 65535"},
    {"server.udp=host:http", "-o server.udp: \"host:http\": port must be a number from 0 to 65535"},
    {"server.udp=::1:8125",
     "-o server.udp: \"::1:8125\": an IPv6 address needs brackets, e.g. [::1]:8125"},
    {"server.udp=[::1]", "-o server.udp: \"[::1]\": expected [v6-address]:port"},
    {"server.udp=[::1]8125", "-o server.udp: \"[::1]8125\": expected [v6-address]:port"},
    {"server.udp=[]:1", "-o server.udp: \"[]:1\": expected [v6-address]:port"},
    {"server.udp=[::1:1", "-o server.udp: \"[::1:1\": expected [v6-address]:port"},
    {"server.udp=[1.2.3.4]:1", "-o server.udp: \"[1.2.3.4]:1\": expected [v6-address]:port"},
    {"server.udp=[::1]:80x", "-o server.udp: \"[::1]:80x\": port must be a number from 0 to 65535"},
    {"server.udp=[:/:]:1", "-o server.udp: \"[:/:]:1\": bad character '/' in IPv6 address"},
    {"server.udp=host name:1", "-o server.udp: \"host name:1\": bad character ' ' in host name"},
    {"server.udp=ho/st:1", "-o server.udp: \"ho/st:1\": bad character '/' in host name"},
    {"graphite.address=graphite", "-o graphite.address: \"graphite\": expected host:port, "
                                  "[v6-address]:port or empty"},
    /* int */
    {"server.workers=257", "-o server.workers: 257 is out of range 0..256"},
    {"server.workers=-1", "-o server.workers: -1 is out of range 0..256"},
    {"server.workers=99999999999999999999",
     "-o server.workers: \"99999999999999999999\" is not an integer"},
    {"server.workers=1.5", "-o server.workers: \"1.5\" is not an integer"},
    {"server.workers=", "-o server.workers: \"\" is not an integer"},
    {"server.workers=four", "-o server.workers: \"four\" is not an integer"},
    {"server.max_series=0", "-o server.max_series: 0 is out of range 1..100000000"},
    {"server.max_series=100000001", "-o server.max_series: 100000001 is out of range 1..100000000"},
    {"server.max_tags=257", "-o server.max_tags: 257 is out of range 0..256"},
    /* duration */
    {"server.flush_interval=50ms", "-o server.flush_interval: 50ms is out of range 100ms..1h"},
    {"server.flush_interval=2h", "-o server.flush_interval: 2h is out of range 100ms..1h"},
    {"server.flush_interval=0", "-o server.flush_interval: 0s is out of range 100ms..1h"},
    {"server.flush_interval=10x",
     "-o server.flush_interval: \"10x\" is not a duration (an integer with unit ms, s, m, h "
     "or d; a bare number is seconds)"},
    {"server.flush_interval=1.5s",
     "-o server.flush_interval: \"1.5s\" is not a duration (an integer with unit ms, s, m, h "
     "or d; a bare number is seconds)"},
    {"server.flush_interval=-1s",
     "-o server.flush_interval: \"-1s\" is not a duration (an integer with unit ms, s, m, h "
     "or d; a bare number is seconds)"},
    {"server.flush_interval=",
     "-o server.flush_interval: \"\" is not a duration (an integer with unit ms, s, m, h or "
     "d; a bare number is seconds)"},
    /* size */
    {"server.rcvbuf=2g", "-o server.rcvbuf: 2g is out of range 0..1g"},
    {"server.read_wait=101ms", "-o server.read_wait: 101ms is out of range 0s..100ms"},
    {"server.rcvbuf=1t",
     "-o server.rcvbuf: \"1t\" is not a size (an integer of bytes, optionally with k, m or g)"},
    {"server.rcvbuf=-1",
     "-o server.rcvbuf: \"-1\" is not a size (an integer of bytes, optionally with k, m or g)"},
    {"server.max_datagram=63", "-o server.max_datagram: 63 is out of range 64..1m"},
    {"server.max_datagram=1025k", "-o server.max_datagram: 1025k is out of range 64..1m"},
    {"server.max_name=0", "-o server.max_name: 0 is out of range 1..4k"},
    {"server.max_name=4097", "-o server.max_name: 4097 is out of range 1..4k"},
    {"graphite.buffer_max=5g", "-o graphite.buffer_max: 5g is out of range 64k..4g"},
    {"graphite.buffer_max=0", "-o graphite.buffer_max: 0 is out of range 64k..4g"},
    /* log level */
    {"server.log_level=verbose",
     "-o server.log_level: \"verbose\": expected error, warn, info or debug"},
    {"server.log_level=INFO", "-o server.log_level: \"INFO\": expected error, warn, info or debug"},
    {"server.log_level=", "-o server.log_level: \"\": expected error, warn, info or debug"},
    /* bool */
    {"statsd.sanitize=maybe",
     "-o statsd.sanitize: \"maybe\": expected true, false, yes, no, on, off, 1 or 0"},
    {"statsd.sanitize=",
     "-o statsd.sanitize: \"\": expected true, false, yes, no, on, off, 1 or 0"},
    {"statsd.sanitize=2",
     "-o statsd.sanitize: \"2\": expected true, false, yes, no, on, off, 1 or 0"},
    {"statsd.sanitize=truee",
     "-o statsd.sanitize: \"truee\": expected true, false, yes, no, on, off, 1 or 0"},
    /* percentiles */
    {"statsd.percentiles=", "-o statsd.percentiles: at least one percentile is needed"},
    {"statsd.percentiles=0",
     "-o statsd.percentiles: percentile 0 must be from -100 to 100 and not 0"},
    {"statsd.percentiles=101",
     "-o statsd.percentiles: percentile 101 must be from -100 to 100 and not 0"},
    {"statsd.percentiles=-100.5",
     "-o statsd.percentiles: percentile -100.5 must be from -100 to 100 and not 0"},
    {"statsd.percentiles=90 abc", "-o statsd.percentiles: \"abc\" is not a number"},
    {"statsd.percentiles=NaN", "-o statsd.percentiles: \"NaN\" is not a number"},
    {"statsd.percentiles=inf", "-o statsd.percentiles: \"inf\" is not a number"},
    {"statsd.percentiles=1e400", "-o statsd.percentiles: \"1e400\" is not a number"},
    {"statsd.percentiles=90,,99", "-o statsd.percentiles: empty entry in the list (stray comma)"},
    {"statsd.percentiles=,90", "-o statsd.percentiles: empty entry in the list (stray comma)"},
    {"statsd.percentiles=90,", "-o statsd.percentiles: empty entry in the list (stray comma)"},
    {"statsd.percentiles=90 90.0", "-o statsd.percentiles: percentile 90.0 is listed twice"},
    /* histogram */
    {"statsd.histogram=render",
     "-o statsd.histogram: entry \"render\" has no ':' (expected metric:bin,bin,...)"},
    {"statsd.histogram=a:1;;b:2", "-o statsd.histogram: empty histogram entry (stray ';')"},
    {"statsd.histogram=a:1;", "-o statsd.histogram: empty histogram entry (stray ';')"},
    {"statsd.histogram=;a:1", "-o statsd.histogram: empty histogram entry (stray ';')"},
    {"statsd.histogram=a:2,1",
     "-o statsd.histogram: histogram \"a\": bins must be strictly ascending (1)"},
    {"statsd.histogram=a:1,1",
     "-o statsd.histogram: histogram \"a\": bins must be strictly ascending (1)"},
    {"statsd.histogram=a:inf,1", "-o statsd.histogram: histogram \"a\": inf must be the last bin"},
    {"statsd.histogram=a:inf,inf",
     "-o statsd.histogram: histogram \"a\": inf must be the last bin"},
    {"statsd.histogram=a:x", "-o statsd.histogram: histogram \"a\": bin \"x\" is not a number"},
    {"statsd.histogram=a:nan", "-o statsd.histogram: histogram \"a\": bin \"nan\" is not a number"},
    {"statsd.histogram=a:1e400",
     "-o statsd.histogram: histogram \"a\": bin \"1e400\" is not a number"},
    {"statsd.histogram=a:1,,2", "-o statsd.histogram: histogram \"a\": empty bin (stray comma)"},
    {"statsd.histogram=a:1; a :2", "-o statsd.histogram: histogram \"a\" is listed twice"},
    {"statsd.histogram=a:1; b:2:3",
     "-o statsd.histogram: histogram \"b\": bin \"2:3\" is not a number"},
    /* tag styles */
    {"statsd.tag_styles=dogstatsd",
     "-o statsd.tag_styles: unknown tag style \"dogstatsd\" (expected librato, influxdb or "
     "signalfx)"},
    {"statsd.tag_styles=librato,,influxdb",
     "-o statsd.tag_styles: empty entry in the list (stray comma)"},
    {"statsd.tag_styles=librato,", "-o statsd.tag_styles: empty entry in the list (stray comma)"},
    /* names and paths */
    {"statsd.prefix_stats=", "-o statsd.prefix_stats: must not be empty"},
    {"statsd.prefix_stats=\"\"", "-o statsd.prefix_stats: must not be empty"},
    {"statsd.prefix_stats=a b",
     "-o statsd.prefix_stats: \"a b\": whitespace is not allowed in a name"},
    {"graphite.prefix=\" stats\"",
     "-o graphite.prefix: \" stats\": whitespace is not allowed in a name"},
    {"graphite.suffix=a\tb", "-o graphite.suffix: \"a\tb\": whitespace is not allowed in a name"},
    {"graphite.suffix=" X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 "xxxxxxxxx", /* 129 */
     "-o graphite.suffix: 129 bytes long, at most 128 allowed"},
    /* value syntax */
    {"server.port_file=\"abc", "-o server.port_file: quoted value has no closing '\"'"},
    {"server.port_file=\"abc\\\"", "-o server.port_file: quoted value has no closing '\"'"},
    {"server.port_file=\"abc\"x",
     "-o server.port_file: text after the closing '\"' of a quoted value"},
    {"server.port_file=\"abc\" \"d\"",
     "-o server.port_file: text after the closing '\"' of a quoted value"},
    {"server.port_file=\"a\\nb\"",
     "-o server.port_file: unknown escape in quoted value (only \\\" and \\\\ are allowed)"},
    {"server.port_file=a\001b", "-o server.port_file: control character 0x01 in value"},
    {"server.port_file=a\nb", "-o server.port_file: control character 0x0a in value"},
    {"server.port_file=a\177b", "-o server.port_file: control character 0x7f in value"},
    /* -o syntax, unknown names */
    {"server.udp", "-o server.udp: expected section.key=value"},
    {"udp=1.2.3.4:1", "-o udp=1.2.3.4:1: expected section.key=value"},
    {".udp=1.2.3.4:1", "-o .udp=1.2.3.4:1: expected section.key=value"},
    {"server.=1", "-o server.=1: expected section.key=value"},
    {"=1", "-o =1: expected section.key=value"},
    {"", "-o : expected section.key=value"},
    {"bogus.key=1", "-o bogus.key: unknown section"},
    {"Server.udp=1.2.3.4:1", "-o Server.udp: unknown section"},
    {"server.bogus=1", "-o server.bogus: unknown key"},
    {"server.UDP=1.2.3.4:1", "-o server.UDP: unknown key"},
    {"statsd.udp=1.2.3.4:1", "-o statsd.udp: unknown key"},
    {"server.udp.x=1", "-o server.udp.x: unknown key"},
    /* duration lists */
    {"windows.list=0", "-o windows.list: duration 0 must be more than 0"},
    {"windows.list=0s,1m", "-o windows.list: duration 0s must be more than 0"},
    {"windows.list=5m,1m", "-o windows.list: durations must be strictly ascending (1m after 5m)"},
    {"windows.list=1m 60s", "-o windows.list: durations must be strictly ascending (60s after 1m)"},
    {"windows.list=1m,1m", "-o windows.list: durations must be strictly ascending (1m after 1m)"},
    {"windows.list=1m,,5m", "-o windows.list: empty entry in the list (stray comma)"},
    {"windows.list=1m,", "-o windows.list: empty entry in the list (stray comma)"},
    {"windows.list=,1m", "-o windows.list: empty entry in the list (stray comma)"},
    {"windows.list=1x",
     "-o windows.list: \"1x\" is not a duration (an integer with unit ms, s, m, h or d; a "
     "bare number is seconds)"},
    {"windows.list=1m -5m",
     "-o windows.list: \"-5m\" is not a duration (an integer with unit ms, s, m, h or d; a "
     "bare number is seconds)"},
    {"windows.list=1.5m",
     "-o windows.list: \"1.5m\" is not a duration (an integer with unit ms, s, m, h or d; a "
     "bare number is seconds)"},
    {"windows.list=1m;5m",
     "-o windows.list: \"1m;5m\" is not a duration (an integer with unit ms, s, m, h or d; a "
     "bare number is seconds)"},
    {"windows.list=1s 2s 3s 4s 5s 6s 7s 8s 9s", "-o windows.list: 9 entries, at most 8 allowed"},
    /* quantiles */
    {"windows.quantiles=", "-o windows.quantiles: at least one quantile is needed"},
    {"windows.quantiles=0",
     "-o windows.quantiles: quantile 0 must be more than 0 and less than 100"},
    {"windows.quantiles=100",
     "-o windows.quantiles: quantile 100 must be more than 0 and less than 100"},
    {"windows.quantiles=50 -10",
     "-o windows.quantiles: quantile -10 must be more than 0 and less than 100"},
    {"windows.quantiles=100.0",
     "-o windows.quantiles: quantile 100.0 must be more than 0 and less than 100"},
    {"windows.quantiles=abc", "-o windows.quantiles: \"abc\" is not a number"},
    {"windows.quantiles=NaN", "-o windows.quantiles: \"NaN\" is not a number"},
    {"windows.quantiles=50 50.0", "-o windows.quantiles: quantile 50.0 is listed twice"},
    {"windows.quantiles=9.99,99.9",
     "-o windows.quantiles: quantiles 9.99 and 99.9 would both be reported as p999"},
    {"windows.quantiles=99.9 9.99 50",
     "-o windows.quantiles: quantiles 99.9 and 9.99 would both be reported as p999"},
    {"windows.quantiles=50,,99", "-o windows.quantiles: empty entry in the list (stray comma)"},
    {"windows.quantiles=1,2,3,4,5,6,7,8,9", "-o windows.quantiles: 9 entries, at most 8 allowed"},
    /* double */
    {"windows.relative_accuracy=0", "-o windows.relative_accuracy: 0 is out of range 0.0001..0.5"},
    {"windows.relative_accuracy=0.00009",
     "-o windows.relative_accuracy: 0.00009 is out of range 0.0001..0.5"},
    {"windows.relative_accuracy=0.6",
     "-o windows.relative_accuracy: 0.6 is out of range 0.0001..0.5"},
    {"windows.relative_accuracy=-0.01",
     "-o windows.relative_accuracy: -0.01 is out of range 0.0001..0.5"},
    {"windows.relative_accuracy=1e-9",
     "-o windows.relative_accuracy: 1e-9 is out of range 0.0001..0.5"},
    {"windows.relative_accuracy=1%", "-o windows.relative_accuracy: \"1%\" is not a number"},
    {"windows.relative_accuracy=", "-o windows.relative_accuracy: \"\" is not a number"},
    {"windows.relative_accuracy=inf", "-o windows.relative_accuracy: \"inf\" is not a number"},
    {"windows.relative_accuracy=nan", "-o windows.relative_accuracy: \"nan\" is not a number"},
    {"windows.relative_accuracy=0.01 0.02",
     "-o windows.relative_accuracy: \"0.01 0.02\" is not a number"},
    /* redis */
    {"redis.address=redis",
     "-o redis.address: \"redis\": expected host:port, [v6-address]:port or empty"},
    {"redis.address=localhost:99999",
     "-o redis.address: \"localhost:99999\": port must be a number from 0 to 65535"},
    {"redis.password=" X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
         X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
             X10 X10 X10 X10 X10 X10 X10 X10 X10 "xx"
     "y", /* 513 bytes */
     "-o redis.password: 513 bytes long, at most 512 allowed"},
    {"redis.password=a\001b", "-o redis.password: control character 0x01 in value"},
    {"redis.password=\"abc", "-o redis.password: quoted value has no closing '\"'"},
    {"redis.db=-1", "-o redis.db: -1 is out of range 0..1000000"},
    {"redis.db=1000001", "-o redis.db: 1000001 is out of range 0..1000000"},
    {"redis.db=one", "-o redis.db: \"one\" is not an integer"},
    {"redis.prefix=", "-o redis.prefix: must not be empty"},
    {"redis.prefix=a b", "-o redis.prefix: \"a b\": whitespace is not allowed in a name"},
    {"redis.prefix=" X10 X10 X10 X10 X10 X10 "12345", /* 65 bytes */
     "-o redis.prefix: 65 bytes long, at most 64 allowed"},
    {"redis.history=25h", "-o redis.history: 25h is out of range 0s..1d"},
    {"redis.history=2d", "-o redis.history: 2d is out of range 0s..1d"},
    {"redis.history=-1h",
     "-o redis.history: \"-1h\" is not a duration (an integer with unit ms, s, m, h or d; a "
     "bare number is seconds)"},
    {"redis.timeout=99ms", "-o redis.timeout: 99ms is out of range 100ms..1m"},
    {"redis.timeout=61s", "-o redis.timeout: 61s is out of range 100ms..1m"},
    {"redis.timeout=0", "-o redis.timeout: 0s is out of range 100ms..1m"},
    {"server.state_file=a\001b", "-o server.state_file: control character 0x01 in value"},
    {"windows.bogus=1", "-o windows.bogus: unknown key"},
    {"redis.bogus=1", "-o redis.bogus: unknown key"},
    {"windows.address=127.0.0.1:1", "-o windows.address: unknown key"},
    /* removed with the quantile sketch deferred: timers keep every sample */
    {"statsd.exact_samples=4096", "-o statsd.exact_samples: unknown key"},
};

static void test_bad_values(void)
{
	char *before;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];
		struct config *c = config_new();
		/* non-default lists first, so "unchanged" covers them */
		char err[512] = "";
		CU_ASSERT_EQUAL(config_override(c, "statsd.histogram=h:1,2,inf", err, sizeof(err)),
		                0);
		CU_ASSERT_EQUAL(config_override(c, "statsd.percentiles=50,99", err, sizeof(err)),
		                0);
		CU_ASSERT_EQUAL(config_override(c, "server.port_file=/tmp/pf", err, sizeof(err)),
		                0);
		CU_ASSERT_EQUAL(config_override(c, "windows.list=30s,2m", err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(config_override(c, "windows.quantiles=75", err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(
		    config_override(c, "windows.relative_accuracy=0.02", err, sizeof(err)), 0);
		before = dump(c);
		snprintf(err, sizeof(err), "(unset)");
		int rc = config_override(c, b->assign, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_STRING_EQUAL(err, b->err);
		if (rc != -1 || strcmp(err, b->err) != 0)
			fprintf(stderr, "\ncase %zu '%s': rc=%d\n   got '%s'\n  want '%s'\n", i,
			        b->assign, rc, err, b->err);
		char *after = dump(c);
		CU_ASSERT_STRING_EQUAL(after, before);
		free(after);
		free(before);
		config_free(c);
	}
}

/* A long bad value is quoted back cut short, and the message fits err. */
static void test_long_bad_value(void)
{
	size_t n = 10000;
	char *a = malloc(n + 32);
	int p = snprintf(a, n + 32, "server.workers=");
	memset(a + p, '7', n);
	a[p + (int)n] = 'x';
	a[p + (int)n + 1] = '\0';
	struct config *c = config_new();
	char err[256];
	CU_ASSERT_EQUAL(config_override(c, a, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "-o server.workers: \"7777"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "...\" is not an integer"));
	CU_ASSERT_TRUE(strlen(err) < 200);
	/* A tiny err buffer is cut, still NUL-terminated. */
	char small[8];
	CU_ASSERT_EQUAL(config_override(c, a, small, sizeof(small)), -1);
	CU_ASSERT_STRING_EQUAL(small, "-o serv");
	free(a);
	config_free(c);
}

/* ---- files ------------------------------------------------------------- */

static void test_file_syntax(void)
{
	static const char text[] = "\xef\xbb\xbf# byte order mark, then a comment\r\n"
	                           "; a semicolon comment\r\n"
	                           "   # an indented comment\n"
	                           "\t; another\n"
	                           "\n"
	                           "   \n"
	                           "[server]\r\n"
	                           "udp = 0.0.0.0:9125   \r\n"
	                           "  tcp=\n"
	                           "flush_interval\t=\t2s\n"
	                           "[ statsd ]\n"
	                           "histogram = render:0.01,0.1,1,10,inf; histo:50,100,150,200\n"
	                           "prefix_stats = my#stats;x\n"
	                           "percentiles = 90 -10 99.9\n"
	                           "[graphite]\n"
	                           "suffix = \"sfx\"\n"
	                           "prefix =\n"
	                           "[windows]\n"
	                           "list = 10s, 1m  5m\n"
	                           "relative_accuracy = 0.02\n"
	                           "[redis]\n"
	                           "address =\n"
	                           "password = pw;#1\n"
	                           "[server]\n"
	                           "port_file = \"  /tmp/spaced \\\"file\\\"  \"\n"
	                           "workers = 4"; /* last line without a newline */
	struct config *c = config_new();
	char path[256], err[512] = "";
	int rc = load_text(c, text, sizeof(text) - 1, path, sizeof(path), err, sizeof(err));
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0)
		fprintf(stderr, "\nload: %s\n", err);
	CU_ASSERT_STRING_EQUAL(c->udp, "0.0.0.0:9125");
	CU_ASSERT_STRING_EQUAL(c->tcp, "");
	CU_ASSERT_EQUAL(c->flush_interval_ms, 2000);
	CU_ASSERT_EQUAL_FATAL(c->nhistograms, 2);
	CU_ASSERT_STRING_EQUAL(c->histograms[1].metric, "histo");
	CU_ASSERT_EQUAL(c->histograms[1].nbins, 4);
	CU_ASSERT_STRING_EQUAL(c->prefix_stats, "my#stats;x");
	CU_ASSERT_EQUAL(c->npercentiles, 3);
	CU_ASSERT_STRING_EQUAL(c->graphite_suffix, "sfx");
	CU_ASSERT_STRING_EQUAL(c->graphite_prefix, "");
	CU_ASSERT_STRING_EQUAL(c->port_file, "  /tmp/spaced \"file\"  ");
	CU_ASSERT_EQUAL(c->workers, 4);
	CU_ASSERT_EQUAL(c->nwindows, 3);
	CU_ASSERT_EQUAL(c->windows_ms[0], 10000);
	CU_ASSERT_DOUBLE_EQUAL(c->window_accuracy, 0.02, 0);
	CU_ASSERT_STRING_EQUAL(c->redis_address, "");
	CU_ASSERT_STRING_EQUAL(c->redis_password, "pw;#1");
	/* untouched keys keep their defaults */
	CU_ASSERT_STRING_EQUAL(c->admin, "127.0.0.1:8126");
	CU_ASSERT_EQUAL(c->nwindow_quantiles, 5);
	CU_ASSERT_STRING_EQUAL(c->redis_prefix, "tallyd");
	config_free(c);

	/* An empty file and a file of comments change nothing. */
	static const char *const empty[] = {"", "\n\n", "# only\n; comments\n", "[server]\n"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		c = config_new();
		CU_ASSERT_EQUAL(
		    load_text(c, empty[i], strlen(empty[i]), path, sizeof(path), err, sizeof(err)),
		    0);
		char *d = dump(c);
		CU_ASSERT_STRING_EQUAL(d, default_dump);
		free(d);
		config_free(c);
	}
}

struct file_err {
	const char *text;
	const char *err; /* after "PATH:" */
};

static const struct file_err file_errs[] = {
    {"[server]\nbogus = 1\n", "2: [server] bogus: unknown key"},
    /* an unknown section is reported at its first key, or at its header if it has none */
    {"[server]\nudp = 1.2.3.4:1\n[nope]\n# c\nudp = x\n",
     "5: [nope] udp: unknown section (header on line 3)"},
    {"[nope]\nbogus\n", "2: expected \"key = value\", \"[section]\" or a comment, got \"bogus\""},
    {"[alerts cpu]\n", "1: [alerts cpu]: unknown section"},
    {"[alert cpu]\nstat = rate\nbogus = 1\n", "3: [alert cpu] bogus: unknown key"},
    {"[webhook w]\nurl = http://127.0.0.1:1/\nurl = http://127.0.0.1:2/\n",
     "3: [webhook w] url: set twice (first on line 2)"},
    {"[anomaly]\nstats = gauge.p99\n",
     "2: [anomaly] stats: gauge.p99: a gauge has no such stat (it has: value)"},
    {"[anomaly]\nbaseline = 30s\n", "2: [anomaly] baseline: 30s is out of range 1m..1d"},
    {"[Server]\n\n[server]\n", "1: [Server]: unknown section"},
    {"udp = 1.2.3.4:5\n", "1: udp: key before any [section] header"},
    {"# c\n\n[server]\nudp 127.0.0.1:8125\n",
     "4: [server]: expected \"key = value\", \"[section]\" or a comment, got \"udp "
     "127.0.0.1:8125\""},
    {"[server]\n= value\n",
     "2: [server]: expected \"key = value\", \"[section]\" or a comment, got \"= value\""},
    {"garbage\n", "1: expected \"key = value\", \"[section]\" or a comment, got \"garbage\""},
    {"[server\n", "1: section header has no closing ']'"},
    {"[]\n", "1: empty section name"},
    {"[server] # comment\n", "1: text after the section header \"[server] # comment\""},
    {"[server]\nworkers = 300\n", "2: [server] workers: 300 is out of range 0..256"},
    {"[server]\nworkers = 300\nbogus = 1\n", "2: [server] workers: 300 is out of range 0..256"},
    {"[server]\nudp = a:1\nudp = b:2\n", "3: [server] udp: set twice (first on line 2)"},
    {"[server]\nudp = a:1\n[statsd]\n[server]\nudp = b:2\n",
     "5: [server] udp: set twice (first on line 2)"},
    {"[server]\n\n# c\n  flush_interval = 10x  \n",
     "4: [server] flush_interval: \"10x\" is not a duration (an integer with unit ms, s, m, h "
     "or d; a bare number is seconds)"},
    {"[server]\nudp = 1.2.3.4:5 # not a comment\n",
     "2: [server] udp: \"1.2.3.4:5 # not a comment\": port must be a number from 0 to 65535"},
    {"[statsd]\nhistogram = a:2,1\n",
     "2: [statsd] histogram: histogram \"a\": bins must be strictly ascending (1)"},
    {"[statsd]\nudp = a:1\n", "2: [statsd] udp: unknown key"},
    {"[windows]\nlist = 1m, 5m\nlist = 1h\n", "3: [windows] list: set twice (first on line 2)"},
    {"[windows]\n# c\nquantiles = 50 100\n",
     "3: [windows] quantiles: quantile 100 must be more than 0 and less than 100"},
    {"[redis]\ndb = 1e3\n", "2: [redis] db: \"1e3\" is not an integer"},
    {"[redis]\nhistory = 1h\nflush_interval = 1s\n", "3: [redis] flush_interval: unknown key"},
    {"[server]\nport_file = \"abc\n", "2: [server] port_file: quoted value has no closing '\"'"},
    {"[server]\r\nport_file = a\rb\r\n", "2: [server] port_file: control character 0x0d in value"},
};

static void test_file_errors(void)
{
	for (size_t i = 0; i < sizeof(file_errs) / sizeof(file_errs[0]); i++) {
		const struct file_err *fe = &file_errs[i];
		struct config *c = config_new();
		char path[256], err[512] = "", want[768];
		int rc =
		    load_text(c, fe->text, strlen(fe->text), path, sizeof(path), err, sizeof(err));
		snprintf(want, sizeof(want), "%s:%s", path, fe->err);
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_STRING_EQUAL(err, want);
		if (rc != -1 || strcmp(err, want) != 0)
			fprintf(stderr, "\nfile case %zu: rc=%d\n   got '%s'\n  want '%s'\n", i, rc,
			        err, want);
		config_free(c);
	}

	/* A NUL byte inside a line. */
	struct config *c = config_new();
	char path[256], err[512], want[512];
	static const char nul[] = "[server]\nudp = a\0b:1\n";
	CU_ASSERT_EQUAL(load_text(c, nul, sizeof(nul) - 1, path, sizeof(path), err, sizeof(err)),
	                -1);
	snprintf(want, sizeof(want), "%s:2: [server]: NUL byte in line", path);
	CU_ASSERT_STRING_EQUAL(err, want);

	/* Files that cannot be read. */
	CU_ASSERT_EQUAL(config_load_file(c, "/nonexistent/tallyd.conf", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/tallyd.conf: No such file or directory");
	CU_ASSERT_EQUAL(config_load_file(c, "/", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "/: read error: Is a directory");
	config_free(c);
}

/* Lines far longer than libinih's 200 bytes. */
static void test_long_lines(void)
{
	const size_t nbins = 2500;
	size_t cap = 64 + nbins * 8 + 20000;
	char *text = malloc(cap);
	size_t n = 0;

	n += (size_t)snprintf(text + n, cap - n, "# ");
	memset(text + n, 'c', 10000); /* a 10 KB comment */
	n += 10000;
	n += (size_t)snprintf(text + n, cap - n, "\n[statsd]\nhistogram = long:");
	for (size_t i = 1; i <= nbins; i++)
		n += (size_t)snprintf(text + n, cap - n, "%s%zu", i > 1 ? "," : "", i);
	n += (size_t)snprintf(text + n, cap - n, ",inf\n[server]\nport_file = /");
	memset(text + n, 'p', 4000);
	n += 4000;
	text[n++] = '\n';
	CU_ASSERT_TRUE(n > 10000 + 10000);

	struct config *c = config_new();
	char path[256], err[512] = "";
	int rc = load_text(c, text, n, path, sizeof(path), err, sizeof(err));
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0)
		fprintf(stderr, "\nlong lines: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(c->nhistograms, 1);
	CU_ASSERT_EQUAL_FATAL(c->histograms[0].nbins, nbins + 1);
	CU_ASSERT_DOUBLE_EQUAL(c->histograms[0].bins[nbins - 1], (double)nbins, 0);
	CU_ASSERT_TRUE(isinf(c->histograms[0].bins[nbins]));
	CU_ASSERT_EQUAL(strlen(c->port_file), 4001);
	config_free(c);

	/* The same 10 KB histogram line with one bad bin at the end. */
	n = (size_t)snprintf(text, cap, "[statsd]\nhistogram = long:");
	for (size_t i = 1; i <= nbins; i++)
		n += (size_t)snprintf(text + n, cap - n, "%zu,", i);
	n += (size_t)snprintf(text + n, cap - n, "1\n");
	c = config_new();
	CU_ASSERT_EQUAL(load_text(c, text, n, path, sizeof(path), err, sizeof(err)), -1);
	char want[512];
	snprintf(
	    want, sizeof(want),
	    "%s:2: [statsd] histogram: histogram \"long\": bins must be strictly ascending (1)",
	    path);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(c->nhistograms, 0);
	config_free(c);
	free(text);
}

/* ---- cfgval's formatters and address port, called directly ------------- */

struct fmt_case {
	int64_t v;
	const char *duration; /* cfgval_format_duration(v) */
	const char *size;     /* cfgval_format_size(v) */
};

static const struct fmt_case fmt_cases[] = {
    {0, "0s", "0"},
    {1, "1ms", "1"},
    {999, "999ms", "999"},
    {1000, "1s", "1000"},
    {1024, "1024ms", "1k"},
    {1536, "1536ms", "1536"},
    {60000, "1m", "60000"},
    {90000, "90s", "90000"},
    {3600000, "1h", "3600000"},
    {86400000, "1d", "84375k"},
    {1048576, "1048576ms", "1m"},
    {3221225472, "3221225472ms", "3g"},
    {5368709120, "5368709120ms", "5g"},
};

static void test_cfgval_format(void)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		buf_reset(&b);
		cfgval_format_duration(&b, fmt_cases[i].v);
		CU_ASSERT_STRING_EQUAL(b.p, fmt_cases[i].duration);
		buf_reset(&b);
		cfgval_format_size(&b, fmt_cases[i].v);
		CU_ASSERT_STRING_EQUAL(b.p, fmt_cases[i].size);
	}
	static const double pcts[] = {90, -10, 99.9, 1e-7};
	buf_reset(&b);
	cfgval_format_percentiles(&b, pcts, 4);
	CU_ASSERT_STRING_EQUAL(b.p, "90, -10, 99.9, 1e-7");
	buf_reset(&b);
	buf_puts(&b, "");
	cfgval_format_tag_styles(&b, TAG_STYLE_SIGNALFX | TAG_STYLE_LIBRATO);
	CU_ASSERT_STRING_EQUAL(b.p, "librato, signalfx");
	static const int64_t wins[] = {1500, 60000, 5400000, 86400000};
	buf_reset(&b);
	cfgval_format_durations(&b, wins, 4);
	CU_ASSERT_STRING_EQUAL(b.p, "1500ms, 1m, 90m, 1d");
	buf_reset(&b);
	buf_puts(&b, "");
	cfgval_format_durations(&b, wins, 0);
	CU_ASSERT_STRING_EQUAL(b.p, "");

	/* The names window quantiles are reported under. */
	static const struct {
		double pct;
		const char *name;
	} qnames[] = {{50, "p50"},  {90, "p90"},    {99.9, "p999"},     {99.99, "p9999"}, {5, "p5"},
	              {0.5, "p05"}, {9.99, "p999"}, {25.125, "p25125"}, {1e-7, "p1e-7"}};
	for (size_t i = 0; i < sizeof(qnames) / sizeof(qnames[0]); i++) {
		buf_reset(&b);
		cfgval_format_quantile_name(&b, qnames[i].pct);
		CU_ASSERT_STRING_EQUAL(b.p, qnames[i].name);
	}
	buf_free(&b);

	static const struct {
		const char *addr;
		int64_t port;
	} ports[] = {
	    {"127.0.0.1:8125", 8125}, {"[::1]:0", 0}, {"[fe80::1%eth0]:65535", 65535}, {"", -1}};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		CU_ASSERT_EQUAL(cfgval_address_port(ports[i].addr), ports[i].port);
}

/* ---- validation -------------------------------------------------------- */

struct vcase {
	const char *sets[4]; /* -o assignments, NULL-terminated */
	const char *err;     /* NULL: valid */
};

#define P100 "/tmp/xxxxx" X10 X10 X10 X10 X10 X10 X10 X10 X10 /* 100 bytes */

static const struct vcase vcases[] = {
    {{NULL}, NULL},
    {{"server.udp=", "server.tcp=", NULL},
     "server: no listener: set at least one of server.udp, server.tcp, server.unix, "
     "server.unix_stream"},
    {{"server.udp=", "server.tcp=", "server.unix=/tmp/s", NULL}, NULL},
    {{"server.udp=", "server.tcp=", "server.unix_stream=/tmp/s", NULL}, NULL},
    {{"server.tcp=", NULL}, NULL},
    {{"server.udp=", NULL}, NULL},
    {{"server.unix=" P100 "1234567", NULL}, NULL}, /* 107 bytes */
    {{"server.unix=" P100 "12345678", NULL},
     "server.unix: path is 108 bytes, longer than the 107 a Unix socket address holds"},
    {{"server.unix_stream=" P100 "12345678", NULL},
     "server.unix_stream: path is 108 bytes, longer than the 107 a Unix socket address "
     "holds"},
    {{"server.unix=/tmp/a", "server.unix_stream=/tmp/a", NULL},
     "server.unix_stream: same path as server.unix (/tmp/a)"},
    {{"server.admin=127.0.0.1:8125", NULL},
     "server.admin: same TCP address as server.tcp (127.0.0.1:8125)"},
    {{"server.http=127.0.0.1:8126", NULL},
     "server.http: same TCP address as server.admin (127.0.0.1:8126)"},
    {{"server.tcp=127.0.0.1:0", "server.admin=127.0.0.1:0", "server.http=127.0.0.1:0", NULL}, NULL},
    {{"server.tcp=", "server.admin=", "server.http=", NULL}, NULL},
    {{"server.udp=127.0.0.1:8126", NULL}, NULL}, /* UDP and TCP may share a port */
    /* the state file is no other file */
    {{"server.state_file=/tmp/st", NULL}, NULL},
    {{"server.state_file=/tmp/x", "server.port_file=/tmp/x", NULL},
     "server.state_file: same path as server.port_file (/tmp/x)"},
    {{"server.state_file=/tmp/x", "server.unix=/tmp/x", NULL},
     "server.state_file: same path as server.unix (/tmp/x)"},
    {{"server.state_file=/tmp/x", "server.unix_stream=/tmp/x", NULL},
     "server.state_file: same path as server.unix_stream (/tmp/x)"},
    {{"server.unix=/tmp/x", "server.port_file=/tmp/y", "server.state_file=/tmp/z", NULL}, NULL},
    /* windows against the flush interval (window_conf_check) */
    {{"server.flush_interval=7s", NULL},
     "windows.list: server.flush_interval must divide a minute for windows (got 7000 ms)"},
    {{"server.flush_interval=90s", NULL},
     "windows.list: server.flush_interval must divide a minute for windows (got 90000 ms)"},
    {{"server.flush_interval=1h", NULL},
     "windows.list: server.flush_interval must divide a minute for windows (got 3600000 ms)"},
    {{"server.flush_interval=1m", NULL}, NULL},
    {{"server.flush_interval=1500ms", NULL}, NULL},
    {{"server.flush_interval=100ms", "windows.list=100ms,1s,1m,1h", NULL}, NULL},
    {{"windows.list=10s,20s,30s,1m,5m,15m,30m,1h", NULL}, NULL},
    {{"server.flush_interval=20s", "windows.list=10s,1m", NULL},
     "windows.list: a window of a minute or less must be a multiple of server.flush_interval "
     "(10000 ms)"},
    {{"server.flush_interval=20s", "windows.list=40s,1m", NULL}, NULL},
    {{"windows.list=1m,90s", NULL},
     "windows.list: a window over a minute must be whole minutes, at most 1h (90000 ms)"},
    {{"windows.list=1m,2h", NULL},
     "windows.list: a window over a minute must be whole minutes, at most 1h (7200000 ms)"},
    {{"windows.list=1500ms,2d", NULL},
     "windows.list: a window of a minute or less must be a multiple of server.flush_interval "
     "(1500 ms)"},
    {{"server.flush_interval=1500ms", "windows.list=1500ms,45s", NULL}, NULL},
    {{"windows.quantiles=0.001 99.999", "windows.relative_accuracy=0.5", NULL}, NULL},
    /* the listener checks come first */
    {{"server.udp=", "server.tcp=", "server.flush_interval=7s", NULL},
     "server: no listener: set at least one of server.udp, server.tcp, server.unix, "
     "server.unix_stream"},
};

static void test_validate(void)
{
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		struct config *c = config_new();
		char err[512] = "";
		for (size_t j = 0; vcases[i].sets[j]; j++)
			CU_ASSERT_EQUAL(config_override(c, vcases[i].sets[j], err, sizeof(err)), 0);
		int rc = config_validate(c, err, sizeof(err));
		if (vcases[i].err) {
			CU_ASSERT_EQUAL(rc, -1);
			CU_ASSERT_STRING_EQUAL(err, vcases[i].err);
		} else {
			CU_ASSERT_EQUAL(rc, 0);
		}
		if ((rc == 0) != (vcases[i].err == NULL) ||
		    (vcases[i].err && strcmp(err, vcases[i].err) != 0))
			fprintf(stderr, "\nvalidate case %zu: rc=%d err='%s'\n", i, rc, err);
		config_free(c);
	}
}

/* ---- the Redis password is never printed -------------------------------- */

static void test_secret(void)
{
	struct config *c = config_new();
	char err[512] = "";
	CU_ASSERT_EQUAL(config_override(c, "redis.password=hunter2", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c->redis_password, "hunter2");
	char *d = dump(c);
	CU_ASSERT_PTR_NULL(strstr(d, "hunter2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(d, "\nredis.password = ***\n"));
	free(d);
	/* everything else is dumped as before */
	CU_ASSERT_EQUAL(config_override(c, "redis.password=", err, sizeof(err)), 0);
	d = dump(c);
	CU_ASSERT_STRING_EQUAL(d, default_dump);
	free(d);

	/* From a file, with spaces kept by quotes. */
	char path[256];
	static const char text[] = "[redis]\npassword = \"  p w  \"\n";
	CU_ASSERT_EQUAL(load_text(c, text, sizeof(text) - 1, path, sizeof(path), err, sizeof(err)),
	                0);
	CU_ASSERT_STRING_EQUAL(c->redis_password, "  p w  ");
	char *line = dump_line(c, "redis.password");
	CU_ASSERT_STRING_EQUAL(line, "redis.password = ***");
	free(line);

	/* A bad value is not quoted back. */
	CU_ASSERT_EQUAL(config_override(c, "redis.password=\"hunter3", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NULL(strstr(err, "hunter3"));
	CU_ASSERT_STRING_EQUAL(c->redis_password, "  p w  ");

	/* The reference file shows the (empty) default only. */
	char *ref = NULL;
	size_t rlen = 0;
	FILE *f = open_memstream(&ref, &rlen);
	config_write_reference(f);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(ref, "\n#password =\n"));
	free(ref);
	config_free(c);
}

/* ---- dump round trip --------------------------------------------------- */

/* Applies every line of the dump d as -o to a fresh config. */
static struct config *replay(const char *d)
{
	struct config *c = config_new();
	for (const char *line = d; *line;) {
		size_t ll = strcspn(line, "\n");
		char *one = strndup(line, ll), err[512] = "";
		int rc = config_override(c, one, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, 0);
		if (rc != 0)
			fprintf(stderr, "\nreplay '%s': %s\n", one, err);
		free(one);
		line += ll + (line[ll] == '\n');
	}
	return c;
}

static void test_dump_roundtrip(void)
{
	static const char *const sets[] = {
	    "server.udp=[::1]:9125",
	    "server.tcp=",
	    "server.unix=/run/tallyd/d.sock",
	    "server.port_file=\"  spaced \\\"path\\\" \\\\  \"",
	    "server.workers=3",
	    "server.flush_interval=1500ms",
	    "server.log_level=warn",
	    "server.rcvbuf=1000",
	    "server.read_wait=5ms",
	    "server.max_datagram=1m",
	    "statsd.percentiles=90 -10 99.9 0.5",
	    "statsd.histogram=render:0.01,0.1,1,10,inf; :5; debug:; x:-1e-7,1e21",
	    "statsd.tag_styles=signalfx influxdb",
	    "statsd.delete_idle=yes",
	    "statsd.gauge_deltas=off",
	    "statsd.prefix_stats=\"#not;a-comment\"",
	    "graphite.address=graphite.example.com:2003",
	    "graphite.legacy_namespace=0",
	    "graphite.prefix=",
	    "graphite.suffix=\"\\\"q\"",
	    "graphite.buffer_max=123456",
	    "server.state_file=/var/lib/tallyd/state",
	    "windows.list=3s 30s 1m 2m",
	    "windows.quantiles=99.99 1 0.5",
	    "windows.relative_accuracy=0.0025",
	    "redis.address=[::1]:6380",
	    "redis.db=7",
	    "redis.prefix=\"#p;x\"",
	    "redis.history=90m",
	    "redis.timeout=1500ms",
	};
	struct config *c = config_new();
	char err[512] = "";
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		int rc = config_override(c, sets[i], err, sizeof(err));
		CU_ASSERT_EQUAL(rc, 0);
		if (rc != 0)
			fprintf(stderr, "\nset '%s': %s\n", sets[i], err);
	}
	char *d1 = dump(c);
	CU_ASSERT_STRING_NOT_EQUAL(d1, default_dump);
	struct config *c2 = replay(d1);
	char *d2 = dump(c2);
	CU_ASSERT_STRING_EQUAL(d1, d2);
	if (strcmp(d1, d2) != 0)
		fprintf(stderr, "\nfirst dump:\n%s\nsecond dump:\n%s\n", d1, d2);
	CU_ASSERT_STRING_EQUAL(c2->port_file, "  spaced \"path\" \\  ");
	CU_ASSERT_STRING_EQUAL(c2->graphite_suffix, "\"q");
	CU_ASSERT_STRING_EQUAL(c2->prefix_stats, "#not;a-comment");
	CU_ASSERT_EQUAL(c2->nhistograms, 4);
	CU_ASSERT_EQUAL(c2->graphite_buffer_max, 123456);
	CU_ASSERT_EQUAL(c2->nwindows, 4);
	CU_ASSERT_EQUAL(c2->windows_ms[3], 120000);
	CU_ASSERT_EQUAL(c2->nwindow_quantiles, 3);
	CU_ASSERT_DOUBLE_EQUAL(c2->window_accuracy, 0.0025, 0);
	CU_ASSERT_STRING_EQUAL(c2->redis_prefix, "#p;x");
	CU_ASSERT_EQUAL(config_validate(c2, err, sizeof(err)), 0);

	/* The defaults round-trip too. */
	struct config *c3 = replay(default_dump);
	char *d3 = dump(c3);
	CU_ASSERT_STRING_EQUAL(d3, default_dump);

	free(d1);
	free(d2);
	free(d3);
	config_free(c);
	config_free(c2);
	config_free(c3);
}

/* ---- the reference file ------------------------------------------------ */

static char *reference_text(size_t *len)
{
	char *p = NULL;
	FILE *f = open_memstream(&p, len);
	config_write_reference(f);
	fclose(f);
	return p;
}

static void test_reference_file(void)
{
	const char *path = TEST_DATA_DIR "/../../contrib/tallyd.conf";
	size_t glen, flen = 0;
	char *gen = reference_text(&glen);
	char *file = read_file(path, &flen);

	CU_ASSERT_PTR_NOT_NULL(file);
	bool same = file && flen == glen && memcmp(file, gen, glen) == 0;
	CU_ASSERT_TRUE(same);
	if (!same) {
		FILE *out = fopen("tallyd.conf.new", "w");
		if (out) {
			fwrite(gen, 1, glen, out);
			fclose(out);
		}
		fprintf(stderr,
		        "\n%s differs from config_write_reference(); the generated text is in "
		        "./tallyd.conf.new: review it and copy it over contrib/tallyd.conf\n",
		        path);
	}

	/* Loading the reference changes nothing. */
	struct config *c = config_new();
	char err[512] = "";
	CU_ASSERT_EQUAL(config_load_file(c, path, err, sizeof(err)), 0);
	char *d = dump(c);
	CU_ASSERT_STRING_EQUAL(d, default_dump);
	free(d);
	config_free(c);

	/* Uncommenting every "#key = default" line gives the defaults too, and
	 * every key of the dump appears once in the reference. */
	char *un = malloc(glen + 1);
	size_t n = 0, keys = 0;
	for (const char *line = gen; line < gen + glen;) {
		const char *end = memchr(line, '\n', (size_t)(gen + glen - line));
		size_t ll = (size_t)(end - line) + 1;
		if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' && memchr(line, '=', ll)) {
			line++;
			ll--;
			keys++;
		}
		memcpy(un + n, line, ll);
		n += ll;
		line = end + 1;
	}
	size_t dump_keys = 0;
	for (const char *p = default_dump; *p; p++)
		dump_keys += *p == '\n';
	CU_ASSERT_EQUAL(keys, dump_keys);
	c = config_new();
	char tmp[256];
	int rc = load_text(c, un, n, tmp, sizeof(tmp), err, sizeof(err));
	CU_ASSERT_EQUAL(rc, 0);
	if (rc != 0)
		fprintf(stderr, "\nuncommented reference: %s\n", err);
	d = dump(c);
	CU_ASSERT_STRING_EQUAL(d, default_dump);
	free(d);
	config_free(c);

	/* Every line is a comment, blank, or a section header, and fits 80 columns. */
	for (const char *line = gen; line < gen + glen;) {
		const char *end = memchr(line, '\n', (size_t)(gen + glen - line));
		size_t ll = (size_t)(end - line);
		CU_ASSERT_TRUE(ll <= 80);
		CU_ASSERT_TRUE(ll == 0 || line[0] == '#' || line[0] == '[');
		line = end + 1;
	}
	free(un);
	free(gen);
	free(file);
}

/* The commented [alert]/[webhook] examples at the end of contrib/tallyd.conf,
 * uncommented, load and check: the reference file shows only valid rules. */
static void test_rules_examples(void)
{
	const char *path = TEST_DATA_DIR "/../../contrib/tallyd.conf";
	size_t flen = 0;
	char *file = read_file(path, &flen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(file);
	const char *start = strstr(file, "# [alert NAME] and [webhook NAME]");
	CU_ASSERT_PTR_NOT_NULL_FATAL(start);
	struct buf ini = BUF_INIT;
	size_t sections = 0;
	for (const char *p = start; p < file + flen;) {
		const char *e = memchr(p, '\n', (size_t)(file + flen - p));
		size_t n = e ? (size_t)(e - p) : (size_t)(file + flen - p);
		/* "# [section]" and "# key = value" lines; prose has no " = " */
		if (n > 2 && p[0] == '#' && p[1] == ' ' &&
		    ((p[2] == '[' && p[n - 1] == ']') || memmem(p, n, " = ", 3))) {
			buf_append(&ini, p + 2, n - 2);
			buf_putc(&ini, '\n');
			sections += p[2] == '[';
		}
		p += n + 1;
	}
	CU_ASSERT_EQUAL(sections, 7);
	struct config *c = config_new();
	char tmp[256], err[512] = "";
	CU_ASSERT_EQUAL(load_text(c, ini.p, ini.len, tmp, sizeof(tmp), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(config_validate(c, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "\nexamples: %s\n%s", err, ini.p);
	CU_ASSERT_EQUAL(c->rules->nalerts, 4);
	CU_ASSERT_EQUAL(c->rules->nwebhooks, 3);
	config_free(c);
	buf_free(&ini);
	free(file);
}

/* Rules are checked by config_validate (against windows.list and the
 * webhooks) with file and line; config_take_rules swaps them (SIGHUP). */
static void test_rules_validate(void)
{
	static const struct {
		const char *text;
		const char *err; /* a piece of the message after "PATH:" */
	} cases[] = {
	    {"[alert a]\nstat = rate\nthreshold = 1\nwebhook = nope\n", "4: [alert a] webhook"},
	    {"[alert a]\nstat = rate\nthreshold = 1\nwindow = 2m\n", "4: [alert a] window"},
	    {"[webhook w]\nurl = http://127.0.0.1:1/\n[alert a]\nstat = p99\nthreshold = 1\n"
	     "window = 5m\nwebhook = w\n",
	     NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = config_new();
		char tmp[256], err[512] = "", want[512];
		CU_ASSERT_EQUAL(load_text(c, cases[i].text, strlen(cases[i].text), tmp, sizeof(tmp),
		                          err, sizeof(err)),
		                0);
		int rc = config_validate(c, err, sizeof(err));
		if (!cases[i].err) {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(c->rules->nalerts, 1);
			CU_ASSERT_EQUAL(c->rules->alerts[0].window, 1); /* 5m in 1m,5m,15m,1h */
		} else {
			snprintf(want, sizeof(want), "%s:%s", tmp, cases[i].err);
			CU_ASSERT_EQUAL(rc, -1);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
			if (!strstr(err, want))
				fprintf(stderr, "\nrules case %zu: got '%s' want '%s'\n", i, err,
				        want);
		}
		config_free(c);
	}
	/* the swap of a reload */
	struct config *run = config_new(), *next = config_new();
	char tmp[256], err[512];
	const char *t = "[alert b]\nstat = rate\nthreshold = 2\n";
	CU_ASSERT_EQUAL(load_text(next, t, strlen(t), tmp, sizeof(tmp), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(config_validate(next, err, sizeof(err)), 0);
	config_take_rules(run, next);
	CU_ASSERT_EQUAL(run->rules->nalerts, 1);
	CU_ASSERT_STRING_EQUAL(run->rules->alerts[0].name, "b");
	CU_ASSERT_EQUAL(next->rules->nalerts, 0);
	config_free(next);
	CU_ASSERT_DOUBLE_EQUAL(run->rules->alerts[0].threshold, 2, 0);
	config_free(run);
}

/* [anomaly] against server.flush_interval: the defaults turn scoring off
 * where they do not fit (a 1h interval gives 1 value an hour, fewer than
 * 30); keys the user set are errors instead. */
static void test_anomaly_validate(void)
{
	static const struct {
		const char *o[4];
		int rc;
		bool scoring;
		const char *err;
	} cases[] = {
	    {{"server.flush_interval=10s"}, 0, true, NULL},
	    {{"server.flush_interval=1h", "windows.list="}, 0, false, NULL},
	    {{"server.flush_interval=1h", "windows.list=", "anomaly.min_intervals=30"},
	     0,
	     false,
	     NULL},
	    {{"server.flush_interval=1h", "windows.list=", "anomaly.min_intervals=29"},
	     -1,
	     false,
	     "anomaly.baseline"},
	    {{"server.flush_interval=1h", "windows.list=", "anomaly.baseline=24h",
	      "anomaly.min_intervals=24"},
	     0,
	     true,
	     NULL},
	    {{"server.flush_interval=1h", "windows.list=", "anomaly.stats="}, 0, false, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = config_new();
		char err[512] = "";
		for (size_t j = 0; j < 4 && cases[i].o[j]; j++)
			CU_ASSERT_EQUAL(config_override(c, cases[i].o[j], err, sizeof(err)), 0);
		int rc = config_validate(c, err, sizeof(err));
		CU_ASSERT_EQUAL(rc, cases[i].rc);
		bool scoring = false;
		for (size_t k = 0; k < 4; k++)
			scoring |= c->anomaly_stats[k] != 0;
		if (rc == 0) {
			CU_ASSERT_EQUAL(scoring, cases[i].scoring);
		}
		if (cases[i].err) {
			CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].err));
		}
		if (rc != cases[i].rc || (rc == 0 && scoring != cases[i].scoring))
			fprintf(stderr, "\nanomaly case %zu: rc=%d scoring=%d err=%s\n", i, rc,
			        scoring, err);
		config_free(c);
	}
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("config", NULL, NULL);
	if (!s || !CU_add_test(s, "defaults", test_defaults) ||
	    !CU_add_test(s, "good_values", test_good_values) ||
	    !CU_add_test(s, "good_fields", test_good_fields) ||
	    !CU_add_test(s, "bad_values", test_bad_values) ||
	    !CU_add_test(s, "long_bad_value", test_long_bad_value) ||
	    !CU_add_test(s, "file_syntax", test_file_syntax) ||
	    !CU_add_test(s, "file_errors", test_file_errors) ||
	    !CU_add_test(s, "long_lines", test_long_lines) ||
	    !CU_add_test(s, "cfgval_format", test_cfgval_format) ||
	    !CU_add_test(s, "validate", test_validate) || !CU_add_test(s, "secret", test_secret) ||
	    !CU_add_test(s, "dump_roundtrip", test_dump_roundtrip) ||
	    !CU_add_test(s, "reference_file", test_reference_file) ||
	    !CU_add_test(s, "rules_examples", test_rules_examples) ||
	    !CU_add_test(s, "rules_validate", test_rules_validate) ||
	    !CU_add_test(s, "anomaly_validate", test_anomaly_validate)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
}
