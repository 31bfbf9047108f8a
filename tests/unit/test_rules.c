/* test_rules: the [alert NAME] and [webhook NAME] sections. Config text is
 * written to a mkstemp file and read with ini_read_file and a handler that
 * feeds rules_section / rules_set_at as config.c does, then rules_check runs
 * against windows.list 1m,5m,15m,1h. Table-driven: accepted texts with a
 * check of the parsed structs, refused texts with the exact message, and a
 * rules_dump round trip of every accepted text. Run by make check. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ini.h"
#include "rules.h"

static const int64_t windows[] = {60000, 300000, 900000, 3600000};
#define NWINDOWS 4

/* ---- loading like config.c --------------------------------------------- */

struct load {
	struct rules *r;
	bool ours;
	char why[256];
};

static bool on_section(void *ctx, const char *name, size_t len, unsigned long line)
{
	struct load *ld = ctx;
	ld->why[0] = '\0';
	int rc = rules_section(ld->r, name, len, line, ld->why, sizeof(ld->why));
	ld->ours = rc != 0;
	return rc != 0;
}

static int on_key(void *ctx, const struct ini_item *it, char *why, size_t whylen)
{
	struct load *ld = ctx;
	if (!ld->ours) {
		snprintf(why, whylen, "not ours");
		return -1;
	}
	if (ld->why[0]) {
		snprintf(why, whylen, "%s", ld->why);
		return -1;
	}
	struct buf v = BUF_INIT;
	int rc = -1;
	if (ini_unquote(it->value, it->vallen, &v, why, whylen))
		rc = rules_set_at(ld->r, it->key, it->keylen, v.p, it->line, why, whylen);
	buf_free(&v);
	return rc;
}

static const struct ini_handler handler = {on_section, on_key};

/* Reads text into a new struct rules and checks it. Returns the rules (or
 * NULL with the error, path prefix "PATH:" replaced by "F:", in err). */
static struct rules *load(const char *text, char *err, size_t errlen)
{
	char path[256];
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/test_rules.XXXXXX", dir && dir[0] ? dir : "/tmp");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	size_t len = strlen(text);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);

	struct load ld = {.r = rules_new()};
	ld.r->file = strdup(path);
	char raw[1024];
	int rc = ini_read_file(path, &handler, &ld, raw, sizeof(raw));
	if (rc == 0)
		rc = rules_check(ld.r, windows, NWINDOWS, raw, sizeof(raw));
	unlink(path);
	if (rc == 0)
		return ld.r;
	size_t pl = strlen(path);
	if (strncmp(raw, path, pl) == 0)
		snprintf(err, errlen, "F%s", raw + pl);
	else
		snprintf(err, errlen, "%s", raw);
	rules_free(ld.r);
	return NULL;
}

/* ---- accepted texts ---------------------------------------------------- */

static void check_full(const struct rules *r)
{
	CU_ASSERT_EQUAL_FATAL(r->nalerts, 1);
	CU_ASSERT_EQUAL_FATAL(r->nwebhooks, 1);
	const struct alert_rule *a = &r->alerts[0];
	CU_ASSERT_STRING_EQUAL(a->name, "api-latency_1.x");
	CU_ASSERT_STRING_EQUAL(a->metric, "api.*.latency");
	CU_ASSERT_EQUAL_FATAL(a->ntags, 5);
	CU_ASSERT_STRING_EQUAL(a->tags[0].key, "env");
	CU_ASSERT_STRING_EQUAL(a->tags[0].value, "prod");
	CU_ASSERT_FALSE(a->tags[0].negate);
	CU_ASSERT_STRING_EQUAL(a->tags[1].key, "region");
	CU_ASSERT_STRING_EQUAL(a->tags[1].value, "eu-*");
	CU_ASSERT_STRING_EQUAL(a->tags[2].key, "canary");
	CU_ASSERT_STRING_EQUAL(a->tags[2].value, "*");
	CU_ASSERT_TRUE(a->tags[2].negate);
	CU_ASSERT_STRING_EQUAL(a->tags[3].key, "host");
	CU_ASSERT_STRING_EQUAL(a->tags[3].value, "db?");
	CU_ASSERT_TRUE(a->tags[3].negate);
	CU_ASSERT_STRING_EQUAL(a->tags[4].key, "team");
	CU_ASSERT_STRING_EQUAL(a->tags[4].value, "*");
	CU_ASSERT_FALSE(a->tags[4].negate);
	CU_ASSERT_EQUAL(a->window, 1);
	CU_ASSERT_EQUAL(a->window_ms, 300000);
	CU_ASSERT_STRING_EQUAL(a->stat, "p99");
	CU_ASSERT_EQUAL(a->op, ALERT_GE);
	CU_ASSERT_DOUBLE_EQUAL(a->threshold, 0.25, 0);
	CU_ASSERT_EQUAL(a->for_ms, 120000);
	CU_ASSERT_EQUAL(a->repeat_ms, 1800000);
	CU_ASSERT_STRING_EQUAL(a->severity, "critical");
	CU_ASSERT_STRING_EQUAL(a->webhook, "am");
	CU_ASSERT_EQUAL(a->kind, ALERT_THRESHOLD);
	CU_ASSERT_STRING_EQUAL(a->summary, "  p99 latency is high; see runbook #4");
	CU_ASSERT_EQUAL(a->line, 8);
	const struct webhook_conf *w = rules_webhook(r, "am");
	CU_ASSERT_PTR_EQUAL_FATAL(w, &r->webhooks[0]);
	CU_ASSERT_PTR_NULL(rules_webhook(r, "nope"));
	CU_ASSERT_STRING_EQUAL(w->url, "https://am.example:9093/api/v1/alerts?x=1");
	CU_ASSERT_EQUAL(w->format, WEBHOOK_SLACK);
	CU_ASSERT_EQUAL(w->timeout_ms, 2500);
	CU_ASSERT_EQUAL(w->retries, 0);
	CU_ASSERT_EQUAL_FATAL(w->nheaders, 2);
	CU_ASSERT_STRING_EQUAL(w->headers[0], "Authorization: Bearer a;b");
	CU_ASSERT_STRING_EQUAL(w->headers[1], "X-Team: ops");
	CU_ASSERT_EQUAL(w->line, 1);
}

static const char full_text[] = "[webhook am]\n"
                                "url = https://am.example:9093/api/v1/alerts?x=1\n"
                                "format = slack\n"
                                "timeout = 2500ms\n"
                                "retries = 0\n"
                                "headers = Authorization :  Bearer a\\;b ; X-Team:ops;\n"
                                "\n"
                                "[alert   api-latency_1.x]\n"
                                "metric = api.*.latency\n"
                                "tags = env:prod, region=eu-*,!canary, ! host:db?,team\n"
                                "window = 5m\n"
                                "stat = p99\n"
                                "op = >=\n"
                                "threshold = 0.25\n"
                                "for = 2m\n"
                                "repeat = 30m\n"
                                "severity = critical\n"
                                "webhook = am\n"
                                "kind = threshold\n"
                                "summary = \"  p99 latency is high; see runbook #4\"\n";

static void check_defaults(const struct rules *r)
{
	CU_ASSERT_EQUAL_FATAL(r->nalerts, 1);
	const struct alert_rule *a = &r->alerts[0];
	CU_ASSERT_STRING_EQUAL(a->metric, "*");
	CU_ASSERT_EQUAL(a->ntags, 0);
	CU_ASSERT_EQUAL(a->window, -1);
	CU_ASSERT_EQUAL(a->op, ALERT_GT);
	CU_ASSERT_EQUAL(a->for_ms, 0);
	CU_ASSERT_EQUAL(a->repeat_ms, 3600000);
	CU_ASSERT_STRING_EQUAL(a->severity, "warning");
	CU_ASSERT_STRING_EQUAL(a->webhook, "");
	CU_ASSERT_EQUAL(a->kind, ALERT_THRESHOLD);
	CU_ASSERT_STRING_EQUAL(a->summary, "");
	CU_ASSERT_STRING_EQUAL(a->stat, "rate");
	CU_ASSERT_DOUBLE_EQUAL(a->threshold, -1e3, 0);
}

static void check_webhook_defaults(const struct rules *r)
{
	CU_ASSERT_EQUAL_FATAL(r->nwebhooks, 2);
	const struct webhook_conf *w = rules_webhook(r, "w2");
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_STRING_EQUAL(w->url, "http://127.0.0.1:9/x");
	CU_ASSERT_EQUAL(w->format, WEBHOOK_ALERTMANAGER);
	CU_ASSERT_EQUAL(w->timeout_ms, 5000);
	CU_ASSERT_EQUAL(w->retries, 3);
	CU_ASSERT_EQUAL(w->nheaders, 0);
	CU_ASSERT_EQUAL(rules_webhook(r, "w1")->format, WEBHOOK_JSON);
	CU_ASSERT_EQUAL(rules_webhook(r, "w1")->timeout_ms, 60000);
	CU_ASSERT_EQUAL(rules_webhook(r, "w1")->retries, 20);
}

static void check_kinds(const struct rules *r)
{
	CU_ASSERT_EQUAL_FATAL(r->nalerts, 5);
	CU_ASSERT_EQUAL(r->alerts[0].kind, ALERT_ANOMALY);
	CU_ASSERT_STRING_EQUAL(r->alerts[0].stat, "");
	CU_ASSERT_EQUAL(r->alerts[1].kind, ALERT_ANOMALY);
	CU_ASSERT_STRING_EQUAL(r->alerts[1].stat, "p99");
	CU_ASSERT_EQUAL(r->alerts[2].kind, ALERT_ABSENT);
	CU_ASSERT_EQUAL(r->alerts[2].for_ms, 30000);
	CU_ASSERT_EQUAL(r->alerts[2].repeat_ms, 0);
	CU_ASSERT_EQUAL(r->alerts[3].window, -1);
	CU_ASSERT_STRING_EQUAL(r->alerts[3].stat, "zscore");
	CU_ASSERT_EQUAL(r->alerts[3].op, ALERT_NE);
	CU_ASSERT_EQUAL(r->alerts[4].window, 3);
	CU_ASSERT_STRING_EQUAL(r->alerts[4].stat, "covered");
	CU_ASSERT_EQUAL(r->alerts[4].op, ALERT_LE);
}

static void check_ops(const struct rules *r)
{
	static const enum alert_op want[] = {ALERT_GT, ALERT_GE, ALERT_LT,
	                                     ALERT_LE, ALERT_EQ, ALERT_NE};
	CU_ASSERT_EQUAL_FATAL(r->nalerts, 6);
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(r->alerts[i].op, want[i]);
	/* an alert and a webhook may share a NAME */
	CU_ASSERT_PTR_NOT_NULL(rules_webhook(r, "o1"));
}

static void check_empty(const struct rules *r)
{
	CU_ASSERT_EQUAL(r->nalerts, 0);
	CU_ASSERT_EQUAL(r->nwebhooks, 0);
}

struct ok_case {
	const char *text;
	void (*check)(const struct rules *r);
};

static const struct ok_case ok_cases[] = {
    {full_text, check_full},
    {"[alert d]\nstat = rate\nthreshold = -1e3\n", check_defaults},
    {"[webhook w1]\nurl=HTTP://h\nformat=json\ntimeout=1m\nretries=20\n"
     "[webhook w2]\nurl = http://127.0.0.1:9/x\n",
     check_webhook_defaults},
    {"[alert a1]\nkind = anomaly\n[alert a2]\nkind = anomaly\nstat = p99\nseverity = page\n"
     "[alert a3]\nkind = absent\nmetric = jobs.*\nfor = 30s\nrepeat = 0\n"
     "[alert a4]\nstat = zscore\nop = !=\nthreshold = 0\nwindow = interval\n"
     "[alert a5]\nstat = covered\nop = <=\nthreshold = 10\nwindow = 1h\n",
     check_kinds},
    {"[alert o1]\nstat=count\nop=>\nthreshold=1\n[alert o2]\nstat=count\nop=>=\nthreshold=1\n"
     "[alert o3]\nstat=count\nop=<\nthreshold=1\n[alert o4]\nstat=count\nop=<=\nthreshold=1\n"
     "[alert o5]\nstat=count\nop===\nthreshold=1\n[alert o6]\nstat=count\nop=!=\nthreshold=1\n"
     "[webhook o1]\nurl=http://x\n",
     check_ops},
    {"# nothing\n", check_empty},
};

/* Every field rules_dump promises to keep. */
static void assert_same(const struct rules *a, const struct rules *b)
{
	CU_ASSERT_EQUAL_FATAL(a->nalerts, b->nalerts);
	CU_ASSERT_EQUAL_FATAL(a->nwebhooks, b->nwebhooks);
	for (size_t i = 0; i < a->nalerts; i++) {
		const struct alert_rule *x = &a->alerts[i], *y = &b->alerts[i];
		CU_ASSERT_STRING_EQUAL(x->name, y->name);
		CU_ASSERT_STRING_EQUAL(x->metric, y->metric);
		CU_ASSERT_EQUAL_FATAL(x->ntags, y->ntags);
		for (size_t t = 0; t < x->ntags; t++) {
			CU_ASSERT_STRING_EQUAL(x->tags[t].key, y->tags[t].key);
			CU_ASSERT_STRING_EQUAL(x->tags[t].value, y->tags[t].value);
			CU_ASSERT_EQUAL(x->tags[t].negate, y->tags[t].negate);
		}
		CU_ASSERT_EQUAL(x->window, y->window);
		CU_ASSERT_EQUAL(x->window_ms, y->window_ms);
		CU_ASSERT_STRING_EQUAL(x->stat, y->stat);
		CU_ASSERT_EQUAL(x->op, y->op);
		CU_ASSERT_TRUE(x->threshold == y->threshold ||
		               (isnan(x->threshold) && isnan(y->threshold)));
		CU_ASSERT_EQUAL(x->for_ms, y->for_ms);
		CU_ASSERT_EQUAL(x->repeat_ms, y->repeat_ms);
		CU_ASSERT_STRING_EQUAL(x->severity, y->severity);
		CU_ASSERT_STRING_EQUAL(x->webhook, y->webhook);
		CU_ASSERT_EQUAL(x->kind, y->kind);
		CU_ASSERT_STRING_EQUAL(x->summary, y->summary);
	}
	for (size_t i = 0; i < a->nwebhooks; i++) {
		const struct webhook_conf *x = &a->webhooks[i], *y = &b->webhooks[i];
		CU_ASSERT_STRING_EQUAL(x->name, y->name);
		CU_ASSERT_STRING_EQUAL(x->url, y->url);
		CU_ASSERT_EQUAL(x->format, y->format);
		CU_ASSERT_EQUAL(x->timeout_ms, y->timeout_ms);
		CU_ASSERT_EQUAL(x->retries, y->retries);
		CU_ASSERT_EQUAL_FATAL(x->nheaders, y->nheaders);
		for (size_t h = 0; h < x->nheaders; h++)
			CU_ASSERT_STRING_EQUAL(x->headers[h], y->headers[h]);
	}
}

static char *dump_text(const struct rules *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	rules_dump(r, windows, f);
	fclose(f);
	return text;
}

static void test_accepted(void)
{
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		char err[1024] = "";
		struct rules *r = load(ok_cases[i].text, err, sizeof(err));
		if (!r)
			fprintf(stderr, "\ncase %zu: %s\n", i, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		ok_cases[i].check(r);

		/* rules_dump reads back to the same rules, and dumps the same */
		char *d1 = dump_text(r);
		struct rules *r2 = load(d1, err, sizeof(err));
		if (!r2)
			fprintf(stderr, "\ncase %zu dump: %s\n%s", i, err, d1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
		assert_same(r, r2);
		char *d2 = dump_text(r2);
		CU_ASSERT_STRING_EQUAL(d1, d2);
		free(d1);
		free(d2);
		rules_free(r);
		rules_free(r2);
	}
}

/* ---- refused texts ----------------------------------------------------- */

struct bad_case {
	const char *text;
	const char *err; /* "F" stands for the file's path */
};

#define THR "stat = rate\nthreshold = 1\n"

static const struct bad_case bad_cases[] = {
    /* key level (reported through the INI reader: file, line, section, key) */
    {"[alert a]\n" THR "bogus = 1\n", "F:4: [alert a] bogus: unknown key"},
    {"[webhook w]\nurl = http://x\nmetric = a\n", "F:3: [webhook w] metric: unknown key"},
    {"[alert a]\nstat = rate\nthreshold = 1\nstat = count\n",
     "F:4: [alert a] stat: set twice (first on line 2)"},
    {"[webhook w]\nurl = http://x\nurl = http://y\n",
     "F:3: [webhook w] url: set twice (first on line 2)"},
    {"[alert a]\nmetric =\n",
     "F:2: [alert a] metric: \"\" is not a name glob (empty or has spaces)"},
    {"[alert a]\nmetric = a b\n",
     "F:2: [alert a] metric: \"a b\" is not a name glob (empty or has spaces)"},
    {"[alert a]\ntags = env:prod,,x\n", "F:2: [alert a] tags: empty filter in \"env:prod,,x\""},
    {"[alert a]\ntags = :prod\n",
     "F:2: [alert a] tags: bad filter \":prod\" (expected key, key:glob or key=glob, each "
     "optionally after '!')"},
    {"[alert a]\ntags = en v:1\n",
     "F:2: [alert a] tags: bad filter \"en v:1\" (expected key, key:glob or key=glob, each "
     "optionally after '!')"},
    {"[alert a]\ntags = !\n",
     "F:2: [alert a] tags: bad filter \"!\" (expected key, key:glob or key=glob, each "
     "optionally after '!')"},
    {"[alert a]\nwindow = 0\n",
     "F:2: [alert a] window: \"0\": a window is \"interval\" or a duration of windows.list"},
    {"[alert a]\nwindow = soon\n",
     "F:2: [alert a] window: \"soon\" is not a duration (an integer with unit ms, s, m, h or d; "
     "a bare number is seconds)"},
    {"[alert a]\nstat = p\n",
     "F:2: [alert a] stat: unknown stat \"p\" (count, rate, sum, min, max, mean, stddev, last, "
     "value, unique, covered, p<digits> or zscore)"},
    {"[alert a]\nstat = p9x\n",
     "F:2: [alert a] stat: unknown stat \"p9x\" (count, rate, sum, min, max, mean, stddev, last, "
     "value, unique, covered, p<digits> or zscore)"},
    {"[alert a]\nop = =>\n", "F:2: [alert a] op: \"=>\": expected >, >=, <, <=, == or !="},
    {"[alert a]\nthreshold = high\n", "F:2: [alert a] threshold: \"high\" is not a number"},
    {"[alert a]\nfor = -1s\n",
     "F:2: [alert a] for: \"-1s\" is not a duration (an integer with unit ms, s, m, h or d; a "
     "bare number is seconds)"},
    {"[alert a]\nrepeat = 1w\n",
     "F:2: [alert a] repeat: \"1w\" is not a duration (an integer with unit ms, s, m, h or d; a "
     "bare number is seconds)"},
    {"[alert a]\nseverity = very high\n",
     "F:2: [alert a] severity: \"very high\" is not a word (empty or has spaces)"},
    {"[alert a]\nwebhook = a/b\n",
     "F:2: [alert a] webhook: \"a/b\" is not a webhook NAME (letters, digits, '_', '.' and '-')"},
    {"[alert a]\nkind = rising\n",
     "F:2: [alert a] kind: \"rising\": expected threshold, anomaly or absent"},
    {"[webhook w]\nurl = ftp://x\n",
     "F:2: [webhook w] url: \"ftp://x\" is not an http:// or https:// URL"},
    {"[webhook w]\nurl = http://\n",
     "F:2: [webhook w] url: \"http://\" is not an http:// or https:// URL"},
    {"[webhook w]\nurl = http://a b\n",
     "F:2: [webhook w] url: \"http://a b\" is not an http:// or https:// URL"},
    {"[webhook w]\nformat = xml\n",
     "F:2: [webhook w] format: \"xml\": expected alertmanager, slack or json"},
    {"[webhook w]\ntimeout = 99ms\n",
     "F:2: [webhook w] timeout: 99ms is out of range (100ms to 60s)"},
    {"[webhook w]\ntimeout = 61s\n",
     "F:2: [webhook w] timeout: 61s is out of range (100ms to 60s)"},
    {"[webhook w]\nretries = 21\n", "F:2: [webhook w] retries: 21 is out of range (0 to 20)"},
    {"[webhook w]\nretries = -1\n", "F:2: [webhook w] retries: -1 is out of range (0 to 20)"},
    {"[webhook w]\nheaders = X-A: 1; nocolon\n",
     "F:2: [webhook w] headers: bad header \"nocolon\" (expected Name: value)"},
    {"[webhook w]\nheaders = Bad Name: 1\n",
     "F:2: [webhook w] headers: bad header \"Bad Name: 1\" (expected Name: value)"},
    {"[webhook w]\nheaders = : 1\n",
     "F:2: [webhook w] headers: bad header \": 1\" (expected Name: value)"},
    /* headers (reported at the first key, as config.c does) */
    {"[alert a b]\nstat = rate\n",
     "F:2: [alert a b] stat: invalid NAME \"a b\" (letters, digits, '_', '.' and '-')"},
    {"[alert]\nstat = rate\n", "F:2: [alert] stat: [alert] needs a NAME: [alert NAME]"},
    {"[webhook a/b]\nurl = http://x\n",
     "F:2: [webhook a/b] url: invalid NAME \"a/b\" (letters, digits, '_', '.' and '-')"},
    {"[alert a]\n" THR "[alert a]\n" THR,
     "F:5: [alert a] stat: a second [alert a] section (first on line 1)"},
    {"[webhook w]\nurl=http://x\n\n[webhook w]\nurl=http://x\n",
     "F:5: [webhook w] url: a second [webhook w] section (first on line 1)"},
    /* ... and by rules_check when no key follows */
    {"[alert a]\n" THR "[alert a]\n",
     "F:4: [alert a]: a second [alert a] section (first on line 1)"},
    {"[alert x y]\n", "F:1: [alert x y]: invalid NAME \"x y\" (letters, digits, '_', '.' and '-')"},
    /* cross checks (rules_check: the key's line, or the header's) */
    {"[alert a]\nstat = rate\n", "F:1: [alert a] threshold: required for kind threshold"},
    {"[alert a]\nthreshold = 3\n", "F:1: [alert a] stat: required for kind threshold"},
    {"[alert a]\n" THR "\nwindow = 2m\n",
     "F:5: [alert a] window: 2m is not in windows.list (1m, 5m, 15m, 1h) nor \"interval\""},
    {"[alert a]\n" THR "webhook = pager\n", "F:4: [alert a] webhook: no [webhook pager] section"},
    {"[webhook w]\nformat = json\n", "F:1: [webhook w] url: required"},
    {"[alert a]\nkind = anomaly\nthreshold = 3\n",
     "F:3: [alert a] threshold: not used by kind anomaly"},
    {"[alert a]\nop = <\nkind = anomaly\n", "F:2: [alert a] op: not used by kind anomaly"},
    {"[alert a]\nkind = anomaly\nwindow = 5m\n", "F:3: [alert a] window: not used by kind anomaly"},
    {"[alert a]\nkind = absent\nstat = rate\n", "F:3: [alert a] stat: not used by kind absent"},
    {"[alert a]\nkind = absent\nthreshold = 1\n",
     "F:3: [alert a] threshold: not used by kind absent"},
    {"[alert a]\nkind = anomaly\nstat = zscore\n",
     "F:3: [alert a] stat: \"zscore\" is not a stat the anomaly scorer keeps (count, rate, "
     "value, unique, sum, min, max, mean, stddev, p50, p90, p95, p99 or p999)"},
    {"[alert a]\nkind = anomaly\nstat = p42\n",
     "F:3: [alert a] stat: \"p42\" is not a stat the anomaly scorer keeps (count, rate, "
     "value, unique, sum, min, max, mean, stddev, p50, p90, p95, p99 or p999)"},
};

static void test_refused(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		char err[1024] = "";
		struct rules *r = load(bad_cases[i].text, err, sizeof(err));
		CU_ASSERT_PTR_NULL(r);
		if (r || strcmp(err, bad_cases[i].err) != 0)
			fprintf(stderr, "\ncase %zu:\n got  %s\n want %s\n", i, err,
			        bad_cases[i].err);
		CU_ASSERT_STRING_EQUAL(err, bad_cases[i].err);
		rules_free(r);
	}
}

/* Direct calls: header classification, keys with no section open, the
 * line fallback of rules_set, rules_check without a file name. */
static void test_direct(void)
{
	static const struct {
		const char *hdr;
		int rc;
	} hdrs[] = {{"alert a", 1},   {"alert\tb", 1}, {"webhook a", 1}, {"alerts a", 0},
	            {"server", 0},    {"Alert a", 0},  {"alert", -1},    {"webhook", -1},
	            {"alert a!", -1}, {"alert a", -1}};
	struct rules *r = rules_new();
	char why[256];
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		why[0] = '\0';
		int rc =
		    rules_section(r, hdrs[i].hdr, strlen(hdrs[i].hdr), i + 1, why, sizeof(why));
		CU_ASSERT_EQUAL(rc, hdrs[i].rc);
		CU_ASSERT_EQUAL(why[0] != '\0', hdrs[i].rc < 0);
	}
	CU_ASSERT_EQUAL(r->nalerts, 2);
	CU_ASSERT_EQUAL(r->nwebhooks, 1);
	/* after a refused header, keys go nowhere */
	CU_ASSERT_EQUAL(rules_set(r, "stat", 4, "rate", why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "no [alert NAME] or [webhook NAME] section is open");
	rules_free(r);

	r = rules_new();
	CU_ASSERT_EQUAL(rules_section(r, "alert q", 7, 7, why, sizeof(why)), 1);
	CU_ASSERT_EQUAL(rules_set(r, "stat", 4, "rate", why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(rules_set(r, "window", 6, "10m", why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(rules_set(r, "threshold", 9, "1", why, sizeof(why)), 0);
	char err[512];
	CU_ASSERT_EQUAL(rules_check(r, windows, NWINDOWS, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "(config):7: [alert q] window: 10m is not in windows.list "
	                            "(1m, 5m, 15m, 1h) nor \"interval\"");
	CU_ASSERT_EQUAL(rules_check(r, windows, 0, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "(config):7: [alert q] window: 10m is not in windows.list "
	                            "(none) nor \"interval\"");
	rules_free(r);
	rules_free(NULL);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("rules", NULL, NULL);
	if (!s || !CU_add_test(s, "accepted texts and dump round trip", test_accepted) ||
	    !CU_add_test(s, "refused texts and their messages", test_refused) ||
	    !CU_add_test(s, "direct calls", test_direct)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0 || CU_get_error() != CUE_SUCCESS;
}
