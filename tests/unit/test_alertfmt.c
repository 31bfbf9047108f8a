/* test_alertfmt: webhook payloads parsed back with jansson and checked field
 * by field — the Alertmanager v4 payload (labels from tags, generated and
 * custom summaries, firing vs resolved, common labels, group key), Slack
 * text, plain json, RFC 3339 times of known instants, window names, and
 * odd characters (quotes, control bytes, ill-formed UTF-8) in names. */
#include <CUnit/Basic.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alertfmt.h"

static struct alert_rule make_rule(const char *name, enum alert_kind kind, const char *stat,
                                   enum alert_op op, double threshold, int window)
{
	struct alert_rule r;
	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.metric = (char *)"*";
	r.kind = kind;
	r.stat = (char *)stat;
	r.op = op;
	r.threshold = threshold;
	r.window = window;
	r.severity = (char *)"warning";
	r.webhook = (char *)"oncall";
	r.summary = (char *)"";
	return r;
}

static struct alert_note make_note(const struct alert_rule *r, const char *series,
                                   enum alert_state st, double value, int64_t starts, int64_t ends)
{
	struct alert_note n;
	memset(&n, 0, sizeof(n));
	n.rule = r;
	n.series = series;
	n.series_len = strlen(series);
	n.name_len = strcspn(series, ";");
	n.state = st;
	n.value = value;
	n.starts_ms = starts;
	n.ends_ms = ends;
	n.fingerprint = 0xdeadbeefULL;
	return n;
}

static struct webhook_conf make_conf(const char *name, enum webhook_format fmt)
{
	struct webhook_conf c;
	memset(&c, 0, sizeof(c));
	c.name = (char *)name;
	c.url = (char *)"http://127.0.0.1:9/";
	c.format = fmt;
	c.timeout_ms = 5000;
	c.retries = 3;
	return c;
}

static const int64_t windows[] = {60000, 300000, 900000, 3600000};

/* Finishes b and parses the payload back (NULL on a parse failure). */
static json_t *finish_parse(struct alertfmt_batch *b)
{
	size_t len = 0;
	char *text = alertfmt_batch_finish(b, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	CU_ASSERT_EQUAL(len, strlen(text));
	json_error_t err;
	json_t *j = json_loadb(text, len, 0, &err);
	if (!j)
		fprintf(stderr, "unparsable payload (%s): %s\n", err.text, text);
	free(text);
	CU_ASSERT_PTR_NOT_NULL(j);
	return j;
}

/* The string at obj[key] (NULL when absent or not a string). */
static const char *sget(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

#define CHECK_STR(obj, key, want)                                                                  \
	do {                                                                                       \
		const char *got_ = sget((obj), (key));                                             \
		CU_ASSERT_PTR_NOT_NULL(got_);                                                      \
		if (got_) {                                                                        \
			CU_ASSERT_STRING_EQUAL(got_, (want));                                      \
			if (strcmp(got_, (want)) != 0)                                             \
				fprintf(stderr, "%s: got \"%s\" want \"%s\"\n", (key), got_,       \
				        (want));                                                   \
		}                                                                                  \
	} while (0)

static void test_time(void)
{
	static const struct {
		int64_t ms;
		const char *want;
	} cases[] = {
	    {0, "0001-01-01T00:00:00Z"},
	    {-1500, "0001-01-01T00:00:00Z"},
	    {1, "1970-01-01T00:00:00.001Z"},
	    {1700000000123LL, "2023-11-14T22:13:20.123Z"},
	    {951782400000LL, "2000-02-29T00:00:00.000Z"},
	    {1798761599999LL, "2026-12-31T23:59:59.999Z"},
	    {253402300799999LL, "9999-12-31T23:59:59.999Z"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[ALERTFMT_TIME_MAX];
		size_t n = alertfmt_time(cases[i].ms, buf);
		CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
		CU_ASSERT_EQUAL(n, strlen(cases[i].want));
	}
}

static void test_alertmanager_firing(void)
{
	struct webhook_conf c = make_conf("oncall", WEBHOOK_ALERTMANAGER);
	struct alert_rule r = make_rule("high_errors", ALERT_THRESHOLD, "rate", ALERT_GT, 10, 0);
	r.severity = (char *)"critical";
	struct alert_note n =
	    make_note(&r, "api.errors;env=prod;role=web", ALERT_FIRING, 12.5, 1700000000123LL, 0);
	struct alertfmt_batch *b = alertfmt_batch_new(&c, "http://127.0.0.1:8127/");
	alertfmt_batch_windows(b, windows, 4);
	alertfmt_batch_add(b, &n);
	CU_ASSERT_EQUAL(alertfmt_batch_count(b), 1);
	json_t *j = finish_parse(b);
	if (!j)
		return;
	CHECK_STR(j, "version", "4");
	CHECK_STR(j, "groupKey", "{}:{alertname=\"high_errors\"}");
	CU_ASSERT(json_is_integer(json_object_get(j, "truncatedAlerts")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "truncatedAlerts")), 0);
	CHECK_STR(j, "status", "firing");
	CHECK_STR(j, "receiver", "oncall");
	CHECK_STR(j, "externalURL", "http://127.0.0.1:8127");
	json_t *gl = json_object_get(j, "groupLabels");
	CU_ASSERT_EQUAL(json_object_size(gl), 1);
	CHECK_STR(gl, "alertname", "high_errors");

	json_t *alerts = json_object_get(j, "alerts");
	CU_ASSERT_EQUAL_FATAL(json_array_size(alerts), 1);
	json_t *a = json_array_get(alerts, 0);
	CHECK_STR(a, "status", "firing");
	CHECK_STR(a, "startsAt", "2023-11-14T22:13:20.123Z");
	CHECK_STR(a, "endsAt", "0001-01-01T00:00:00Z");
	CHECK_STR(a, "generatorURL", "http://127.0.0.1:8127/api/v1/alerts");
	CHECK_STR(a, "fingerprint", "00000000deadbeef");
	json_t *labels = json_object_get(a, "labels");
	static const char *const want_labels[][2] = {
	    {"alertname", "high_errors"},
	    {"severity", "critical"},
	    {"series", "api.errors;env=prod;role=web"},
	    {"metric", "api.errors"},
	    {"env", "prod"},
	    {"role", "web"},
	};
	CU_ASSERT_EQUAL(json_object_size(labels), 6);
	for (size_t i = 0; i < 6; i++)
		CHECK_STR(labels, want_labels[i][0], want_labels[i][1]);
	json_t *ann = json_object_get(a, "annotations");
	CHECK_STR(ann, "summary", "api.errors;env=prod;role=web rate 12.5 > 10 (1m)");
	CHECK_STR(ann, "value", "12.5");
	/* One alert: everything is common. */
	CU_ASSERT(json_equal(json_object_get(j, "commonLabels"), labels));
	CU_ASSERT(json_equal(json_object_get(j, "commonAnnotations"), ann));
	json_decref(j);
}

static void test_alertmanager_mixed(void)
{
	struct webhook_conf c = make_conf("am", WEBHOOK_ALERTMANAGER);
	struct alert_rule r1 = make_rule("slow", ALERT_THRESHOLD, "p99", ALERT_GE, 250, 1);
	struct alert_rule r2 = make_rule("quiet", ALERT_THRESHOLD, "rate", ALERT_LT, 1, -1);
	r2.summary = (char *)"traffic dropped";
	struct alert_note n1 =
	    make_note(&r1, "api.latency;env=prod", ALERT_FIRING, 300, 1700000000000LL, 0);
	struct alert_note n2 = make_note(&r2, "api.requests;env=prod", ALERT_RESOLVED, 5,
	                                 1700000000000LL, 1700000060500LL);
	n2.fingerprint = 0x0123456789abcdefULL;
	struct alertfmt_batch *b = alertfmt_batch_new(&c, NULL);
	alertfmt_batch_windows(b, windows, 4);
	alertfmt_batch_add(b, &n1);
	alertfmt_batch_add(b, &n2);
	CU_ASSERT_EQUAL(alertfmt_batch_count(b), 2);
	json_t *j = finish_parse(b);
	if (!j)
		return;
	CHECK_STR(j, "status", "firing");
	CHECK_STR(j, "groupKey", "{}:{}");
	CHECK_STR(j, "externalURL", "");
	CU_ASSERT_EQUAL(json_object_size(json_object_get(j, "groupLabels")), 0);
	json_t *common = json_object_get(j, "commonLabels");
	CU_ASSERT_EQUAL(json_object_size(common), 2);
	CHECK_STR(common, "severity", "warning");
	CHECK_STR(common, "env", "prod");
	CU_ASSERT_EQUAL(json_object_size(json_object_get(j, "commonAnnotations")), 0);

	json_t *a1 = json_array_get(json_object_get(j, "alerts"), 0);
	json_t *a2 = json_array_get(json_object_get(j, "alerts"), 1);
	CHECK_STR(a1, "generatorURL", "");
	CHECK_STR(json_object_get(a1, "annotations"), "summary",
	          "api.latency;env=prod p99 300 >= 250 (5m)");
	CHECK_STR(a2, "status", "resolved");
	CHECK_STR(a2, "startsAt", "2023-11-14T22:13:20.000Z");
	CHECK_STR(a2, "endsAt", "2023-11-14T22:14:20.500Z");
	CHECK_STR(a2, "fingerprint", "0123456789abcdef");
	CHECK_STR(json_object_get(a2, "annotations"), "summary", "traffic dropped");
	CHECK_STR(json_object_get(a2, "annotations"), "value", "5");
	CHECK_STR(json_object_get(a2, "labels"), "metric", "api.requests");
	json_decref(j);
}

static void test_alertmanager_resolved(void)
{
	struct webhook_conf c = make_conf("am", WEBHOOK_ALERTMANAGER);
	struct alert_rule r = make_rule("high_errors", ALERT_THRESHOLD, "rate", ALERT_GT, 10, 3);
	struct alert_note n = make_note(&r, "api.errors", ALERT_RESOLVED, 2.25, 1000, 61000);
	struct alertfmt_batch *b = alertfmt_batch_new(&c, "http://h:1");
	alertfmt_batch_windows(b, windows, 4);
	alertfmt_batch_add(b, &n);
	json_t *j = finish_parse(b);
	if (!j)
		return;
	CHECK_STR(j, "status", "resolved");
	json_t *a = json_array_get(json_object_get(j, "alerts"), 0);
	CHECK_STR(a, "status", "resolved");
	CHECK_STR(a, "endsAt", "1970-01-01T00:01:01.000Z");
	CHECK_STR(json_object_get(a, "annotations"), "summary",
	          "api.errors rate 2.25, no longer > 10 (1h)");
	CU_ASSERT_EQUAL(json_object_size(json_object_get(a, "labels")), 4);
	json_decref(j);
}

/* Series ids and the labels their tags give (besides the four fixed ones). */
static void test_tag_labels(void)
{
	static const struct {
		const char *series;
		size_t nlabels;
		const char *kv[3][2];
	} cases[] = {
	    {"m", 0, {{0}}},
	    {"m;a=1;b=2", 2, {{"a", "1"}, {"b", "2"}}},
	    {"m;severity=low;metric=x", 2, {{"tag_severity", "low"}, {"tag_metric", "x"}}},
	    {"m;flag", 1, {{"flag", ""}}},
	    {"m;k=a;k=b", 1, {{"k", "a,b"}}},
	    {"m;k=v=w;e=", 2, {{"k", "v=w"}, {"e", ""}}},
	    {"m;;=x;z=1", 1, {{"z", "1"}}},
	};
	struct webhook_conf c = make_conf("am", WEBHOOK_ALERTMANAGER);
	struct alert_rule r = make_rule("r", ALERT_THRESHOLD, "value", ALERT_GT, 1, -1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct alert_note n = make_note(&r, cases[i].series, ALERT_FIRING, 2, 1, 0);
		struct alertfmt_batch *b = alertfmt_batch_new(&c, "");
		alertfmt_batch_add(b, &n);
		json_t *j = finish_parse(b);
		if (!j)
			continue;
		json_t *labels =
		    json_object_get(json_array_get(json_object_get(j, "alerts"), 0), "labels");
		CU_ASSERT_EQUAL(json_object_size(labels), 4 + cases[i].nlabels);
		CHECK_STR(labels, "series", cases[i].series);
		CHECK_STR(labels, "metric", "m");
		CHECK_STR(labels, "severity", "warning");
		for (size_t k = 0; k < cases[i].nlabels; k++)
			CHECK_STR(labels, cases[i].kv[k][0], cases[i].kv[k][1]);
		json_decref(j);
	}
}

/* Odd bytes in names survive as the same characters (ill-formed UTF-8 as
 * U+FFFD), and the payload stays valid JSON. */
static void test_escaping(void)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
	    {"quote\"back\\slash", "quote\"back\\slash"},
	    {"tab\tnl\ncr\rctl\x01", "tab\tnl\ncr\rctl\x01"},
	    {"caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"},
	    {"bad\xff\xfe", "bad\xef\xbf\xbd\xef\xbf\xbd"},
	    {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"},
	    {"surrogate\xed\xa0\x80", "surrogate\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"<b>&x", "<b>&x"},
	};
	struct webhook_conf c = make_conf("we\"ird", WEBHOOK_ALERTMANAGER);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct alert_rule r =
		    make_rule(cases[i].in, ALERT_THRESHOLD, "value", ALERT_GT, 1, -1);
		char series[128];
		snprintf(series, sizeof(series), "m.%s;k=%s", cases[i].in, cases[i].in);
		struct alert_note n = make_note(&r, series, ALERT_FIRING, 2, 1, 0);
		struct alertfmt_batch *b = alertfmt_batch_new(&c, "");
		alertfmt_batch_add(b, &n);
		json_t *j = finish_parse(b);
		if (!j)
			continue;
		char want[128];
		CHECK_STR(j, "receiver", "we\"ird");
		json_t *labels =
		    json_object_get(json_array_get(json_object_get(j, "alerts"), 0), "labels");
		CHECK_STR(labels, "alertname", cases[i].want);
		snprintf(want, sizeof(want), "m.%s", cases[i].want);
		CHECK_STR(labels, "metric", want);
		CHECK_STR(labels, "k", cases[i].want);
		json_decref(j);
	}
	/* The group key quotes the rule name Go-style. */
	struct alert_rule r = make_rule("a\"b\\c", ALERT_THRESHOLD, "value", ALERT_GT, 1, -1);
	struct alert_note n = make_note(&r, "m", ALERT_FIRING, 2, 1, 0);
	struct alertfmt_batch *b = alertfmt_batch_new(&c, "");
	alertfmt_batch_add(b, &n);
	json_t *j = finish_parse(b);
	if (j) {
		CHECK_STR(j, "groupKey", "{}:{alertname=\"a\\\"b\\\\c\"}");
		json_decref(j);
	}
}

/* Generated summaries per kind and window names. */
static void test_summaries(void)
{
	static const struct {
		enum alert_kind kind;
		const char *stat;
		enum alert_op op;
		double threshold;
		int window;
		bool set_windows;
		enum alert_state state;
		double value;
		const char *want;
	} cases[] = {
	    {ALERT_THRESHOLD, "rate", ALERT_GT, 10, 0, true, ALERT_FIRING, 12.5,
	     "s rate 12.5 > 10 (1m)"},
	    {ALERT_THRESHOLD, "p99", ALERT_LE, 0.001, 2, true, ALERT_FIRING, 1e-7,
	     "s p99 1e-7 <= 0.001 (15m)"},
	    {ALERT_THRESHOLD, "count", ALERT_EQ, 0, -1, true, ALERT_FIRING, 0,
	     "s count 0 == 0 (interval)"},
	    {ALERT_THRESHOLD, "count", ALERT_NE, 3, 1, false, ALERT_RESOLVED, 3,
	     "s count 3, no longer != 3 (w1)"},
	    {ALERT_THRESHOLD, "mean", ALERT_LT, -2.5, 3, true, ALERT_FIRING, -1e21,
	     "s mean -1e+21 < -2.5 (1h)"},
	    {ALERT_ANOMALY, "p99", ALERT_GE, 3, -1, true, ALERT_FIRING, 5.25,
	     "s p99 anomalous, z 5.25 (interval)"},
	    {ALERT_ANOMALY, "", ALERT_GE, 3, -1, true, ALERT_RESOLVED, 0.5,
	     "s any stat no longer anomalous, z 0.5 (interval)"},
	    {ALERT_ABSENT, "", ALERT_GT, 0, -1, true, ALERT_FIRING, NAN, "s absent: no data"},
	    {ALERT_ABSENT, "", ALERT_GT, 0, -1, true, ALERT_RESOLVED, NAN, "s reporting again"},
	};
	struct webhook_conf c = make_conf("am", WEBHOOK_ALERTMANAGER);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct alert_rule r = make_rule("r", cases[i].kind, cases[i].stat, cases[i].op,
		                                cases[i].threshold, cases[i].window);
		struct alert_note n = make_note(&r, "s", cases[i].state, cases[i].value, 1,
		                                cases[i].state == ALERT_FIRING ? 0 : 2);
		struct alertfmt_batch *b = alertfmt_batch_new(&c, "");
		if (cases[i].set_windows)
			alertfmt_batch_windows(b, windows, 4);
		alertfmt_batch_add(b, &n);
		json_t *j = finish_parse(b);
		if (!j)
			continue;
		json_t *a = json_array_get(json_object_get(j, "alerts"), 0);
		CHECK_STR(json_object_get(a, "annotations"), "summary", cases[i].want);
		json_decref(j);
	}
	/* Odd window lengths. */
	static const int64_t odd[] = {90000, 1500, 7200000};
	static const char *const odd_names[] = {"90s", "1500ms", "2h"};
	for (int w = 0; w < 3; w++) {
		struct alert_rule r = make_rule("r", ALERT_THRESHOLD, "max", ALERT_GT, 1, w);
		struct alert_note n = make_note(&r, "s", ALERT_FIRING, 2, 1, 0);
		struct webhook_conf jc = make_conf("j", WEBHOOK_JSON);
		struct alertfmt_batch *b = alertfmt_batch_new(&jc, "");
		alertfmt_batch_windows(b, odd, 3);
		alertfmt_batch_add(b, &n);
		json_t *j = finish_parse(b);
		if (!j)
			continue;
		CHECK_STR(json_array_get(json_object_get(j, "alerts"), 0), "window", odd_names[w]);
		json_decref(j);
	}
}

static void test_slack(void)
{
	struct webhook_conf c = make_conf("slack", WEBHOOK_SLACK);
	struct alert_rule r1 = make_rule("high_errors", ALERT_THRESHOLD, "rate", ALERT_GT, 10, 0);
	struct alert_rule r2 = make_rule("lat", ALERT_THRESHOLD, "p99", ALERT_LT, 5, -1);
	r2.summary = (char *)"see <runbook> & fix";
	struct alert_note n1 = make_note(&r1, "api.errors;env=prod", ALERT_FIRING, 12.5, 1, 0);
	struct alert_note n2 = make_note(&r2, "api.lat", ALERT_RESOLVED, 7, 1, 2);
	struct alert_note n3 = make_note(&r1, "api.errors;env=dev", ALERT_FIRING, 11, 1, 0);
	n3.repeat = true;
	struct alertfmt_batch *b = alertfmt_batch_new(&c, "http://x");
	alertfmt_batch_windows(b, windows, 4);
	alertfmt_batch_add(b, &n1);
	alertfmt_batch_add(b, &n2);
	alertfmt_batch_add(b, &n3);
	json_t *j = finish_parse(b);
	if (!j)
		return;
	CU_ASSERT_EQUAL(json_object_size(j), 1);
	CHECK_STR(j, "text",
	          "[FIRING] high_errors api.errors;env=prod rate 12.5 &gt; 10 (1m)\n"
	          "[RESOLVED] lat api.lat p99 7, no longer &lt; 5 (interval): see &lt;runbook&gt; "
	          "&amp; fix\n"
	          "[FIRING] high_errors api.errors;env=dev rate 11 &gt; 10 (1m), still firing");
	json_decref(j);
}

static void test_json(void)
{
	struct webhook_conf c = make_conf("plain", WEBHOOK_JSON);
	struct alert_rule r = make_rule("high_errors", ALERT_THRESHOLD, "rate", ALERT_GE, 10, 1);
	r.severity = (char *)"page";
	struct alert_note n1 =
	    make_note(&r, "api.errors;env=prod", ALERT_FIRING, 12.5, 1700000000123LL, 0);
	n1.repeat = true;
	struct alert_note n2 = make_note(&r, "api.errors;env=dev", ALERT_RESOLVED, NAN,
	                                 1700000000123LL, 1700000001000LL);
	struct alertfmt_batch *b = alertfmt_batch_new(&c, "http://x");
	alertfmt_batch_windows(b, windows, 4);
	alertfmt_batch_add(b, &n1);
	alertfmt_batch_add(b, &n2);
	json_t *j = finish_parse(b);
	if (!j)
		return;
	CU_ASSERT_EQUAL(json_object_size(j), 1);
	json_t *alerts = json_object_get(j, "alerts");
	CU_ASSERT_EQUAL_FATAL(json_array_size(alerts), 2);
	json_t *a = json_array_get(alerts, 0);
	CHECK_STR(a, "rule", "high_errors");
	CHECK_STR(a, "kind", "threshold");
	CHECK_STR(a, "series", "api.errors;env=prod");
	CHECK_STR(a, "status", "firing");
	CU_ASSERT(json_is_real(json_object_get(a, "value")));
	CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(a, "value")), 12.5, 0);
	CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(a, "threshold")), 10, 0);
	CHECK_STR(a, "op", ">=");
	CHECK_STR(a, "stat", "rate");
	CHECK_STR(a, "window", "5m");
	CHECK_STR(a, "severity", "page");
	CHECK_STR(a, "startsAt", "2023-11-14T22:13:20.123Z");
	CU_ASSERT(json_is_null(json_object_get(a, "endsAt")));
	CHECK_STR(a, "fingerprint", "00000000deadbeef");
	CU_ASSERT(json_is_true(json_object_get(a, "repeat")));
	CU_ASSERT_PTR_NULL(json_object_get(a, "summary"));
	a = json_array_get(alerts, 1);
	CHECK_STR(a, "status", "resolved");
	CU_ASSERT(json_is_null(json_object_get(a, "value")));
	CHECK_STR(a, "endsAt", "2023-11-14T22:13:21.000Z");
	CU_ASSERT(json_is_false(json_object_get(a, "repeat")));
	json_decref(j);
}

/* An empty batch still gives a valid payload; a discarded one frees. */
static void test_empty(void)
{
	static const enum webhook_format fmts[] = {WEBHOOK_ALERTMANAGER, WEBHOOK_SLACK,
	                                           WEBHOOK_JSON};
	for (size_t i = 0; i < 3; i++) {
		struct webhook_conf c = make_conf("e", fmts[i]);
		struct alertfmt_batch *b = alertfmt_batch_new(&c, "");
		CU_ASSERT_EQUAL(alertfmt_batch_count(b), 0);
		json_t *j = finish_parse(b);
		if (!j)
			continue;
		if (fmts[i] == WEBHOOK_SLACK)
			CHECK_STR(j, "text", "");
		else
			CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "alerts")), 0);
		if (fmts[i] == WEBHOOK_ALERTMANAGER)
			CHECK_STR(j, "status", "resolved");
		json_decref(j);
	}
	struct webhook_conf c = make_conf("e", WEBHOOK_JSON);
	struct alert_rule r = make_rule("r", ALERT_THRESHOLD, "value", ALERT_GT, 1, -1);
	struct alert_note n = make_note(&r, "m;a=b", ALERT_FIRING, 2, 1, 0);
	struct alertfmt_batch *b = alertfmt_batch_new(&c, "");
	alertfmt_batch_add(b, &n);
	alertfmt_batch_free(b);
	alertfmt_batch_free(NULL);
}

/* Many alerts: the batch grows and keeps their order. */
static void test_many(void)
{
	struct webhook_conf c = make_conf("am", WEBHOOK_ALERTMANAGER);
	struct alert_rule r = make_rule("r", ALERT_THRESHOLD, "value", ALERT_GT, 1, -1);
	struct alertfmt_batch *b = alertfmt_batch_new(&c, "");
	char series[100][32];
	for (int i = 0; i < 100; i++) {
		snprintf(series[i], sizeof(series[i]), "m;i=%d", i);
		struct alert_note n = make_note(&r, series[i], ALERT_FIRING, i, 1, 0);
		alertfmt_batch_add(b, &n);
	}
	CU_ASSERT_EQUAL(alertfmt_batch_count(b), 100);
	json_t *j = finish_parse(b);
	if (!j)
		return;
	json_t *alerts = json_object_get(j, "alerts");
	CU_ASSERT_EQUAL(json_array_size(alerts), 100);
	for (size_t i = 0; i < json_array_size(alerts); i++)
		CHECK_STR(json_object_get(json_array_get(alerts, i), "labels"), "series",
		          series[i]);
	CU_ASSERT_PTR_NULL(json_object_get(json_object_get(j, "commonLabels"), "i"));
	CHECK_STR(json_object_get(j, "commonLabels"), "alertname", "r");
	json_decref(j);
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"rfc3339 times", test_time},
	    {"alertmanager firing", test_alertmanager_firing},
	    {"alertmanager mixed batch", test_alertmanager_mixed},
	    {"alertmanager resolved", test_alertmanager_resolved},
	    {"tags become labels", test_tag_labels},
	    {"odd characters", test_escaping},
	    {"summaries and windows", test_summaries},
	    {"slack", test_slack},
	    {"json", test_json},
	    {"empty and discarded batches", test_empty},
	    {"many alerts", test_many},
	};
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_pSuite s = CU_add_suite("alertfmt", NULL, NULL);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		CU_add_test(s, tests[i].name, tests[i].fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	return fails == 0 ? 0 : 1;
}
