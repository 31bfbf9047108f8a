/* test_alert: the alert engine against fake series. Rules come from INI-like
 * text through rules_section / rules_set / rules_check. Table-driven
 * scenarios run one series through flushes and compare the notifications
 * with a transcript; more tables cover the name and tag filters; separate
 * tests cover set_rules, the instance cap, fingerprints, repeated ids and
 * listing. Prints (does not assert) the cost of observe for 1M series x 5
 * non-matching rules. Run by make check. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "buf.h"
#include "rules.h"

static const int64_t windows[] = {60000, 300000, 900000, 3600000};

/* "[alert a]\nkey = value\n..." (no quoting, no comments) into checked rules. */
static struct rules *mkrules(const char *text)
{
	struct rules *r = rules_new();
	char why[256], err[512];
	const char *p = text;
	unsigned long line = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		line++;
		if (len > 0 && p[0] == '[') {
			int rc = rules_section(r, p + 1, len - 2, line, why, sizeof(why));
			CU_ASSERT_EQUAL_FATAL(rc, 1);
		} else if (len > 0) {
			const char *eq = memchr(p, '=', len);
			CU_ASSERT_PTR_NOT_NULL_FATAL(eq);
			size_t kl = (size_t)(eq - p);
			while (kl > 0 && p[kl - 1] == ' ')
				kl--;
			const char *v = eq + 1;
			while (*v == ' ')
				v++;
			char val[256];
			snprintf(val, sizeof(val), "%.*s", (int)(len - (size_t)(v - p)), v);
			int rc = rules_set_at(r, p, kl, val, line, why, sizeof(why));
			if (rc != 0)
				fprintf(stderr, "\nmkrules: %s\n", why);
			CU_ASSERT_EQUAL_FATAL(rc, 0);
		}
		p += len + (nl ? 1 : 0);
	}
	int rc = rules_check(r, windows, 4, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "\nmkrules: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return r;
}

/* ---- a fake series ----------------------------------------------------- */

struct fake {
	const char *id;
	size_t name_len; /* 0: up to the first ';' */
	bool has_data;
	double v;          /* the interval value; window w reads v + 1000 * (w + 1) */
	bool flagged;      /* the anomaly scorer flagged it */
	const char *zstat; /* the stat it flagged */
	double z;
	int calls;
};

static double fake_value(void *ctx, int w, const char *stat)
{
	struct fake *f = ctx;
	f->calls++;
	if (strcmp(stat, "unique") == 0) /* a stat these series do not have */
		return NAN;
	return f->v + 1000.0 * (w + 1);
}

static bool fake_anomalous(void *ctx, const char *stat, double *z)
{
	struct fake *f = ctx;
	f->calls++;
	if (!f->flagged || (stat[0] && strcmp(stat, f->zstat) != 0))
		return false;
	*z = f->z;
	return true;
}

static void observe(struct alert_engine *e, struct fake *f)
{
	size_t id_len = strlen(f->id);
	const char *semi = strchr(f->id, ';');
	struct alert_input in = {.id = f->id,
	                         .id_len = id_len,
	                         .name_len = f->name_len ? f->name_len
	                                     : semi      ? (size_t)(semi - f->id)
	                                                 : id_len,
	                         .has_data = f->has_data,
	                         .value = fake_value,
	                         .anomalous = fake_anomalous,
	                         .ctx = f};
	alert_engine_observe(e, &in);
}

/* Notes as text: "firing a x v=5 s=20;" (repeat: "firing+"; resolved: e=). */
static void on_note(void *ctx, const struct alert_note *n)
{
	struct buf *b = ctx;
	CU_ASSERT_EQUAL(n->fingerprint, alert_fingerprint(n->rule->name, n->series, n->series_len));
	buf_printf(b, "%s%s %s %.*s v=%g s=%lld", n->state == ALERT_FIRING ? "firing" : "resolved",
	           n->repeat ? "+" : "", n->rule->name, (int)n->series_len, n->series, n->value,
	           (long long)(n->starts_ms / 1000));
	if (n->state == ALERT_RESOLVED)
		buf_printf(b, " e=%lld", (long long)(n->ends_ms / 1000));
	else
		CU_ASSERT_EQUAL(n->ends_ms, 0);
	buf_puts(b, ";");
}

/* ---- scenarios: one series through flushes ----------------------------- */

enum { GONE = 0, DATA, NODATA };

struct step {
	int64_t t;         /* seconds */
	int obs;           /* GONE: not observed this flush */
	double v;          /* value (threshold) or z (anomaly, flagged when not NaN) */
	const char *want;  /* the notes, "" = none */
	const char *state; /* the listed instances "P", "F", "R" in order, NULL = unchecked */
};

struct scenario {
	const char *name;
	const char *rules;
	struct step steps[12];
};

#define END                                                                                        \
	{                                                                                          \
		-1, 0, 0, NULL, NULL                                                               \
	}

static const struct scenario scenarios[] = {
    {"threshold fires once and resolves once",
     "[alert hi]\nstat = rate\nthreshold = 3\n",
     {{10, DATA, 1, "", ""},
      {20, DATA, 5, "firing hi x v=5 s=20;", "F"},
      {30, DATA, 6, "", "F"},
      {40, DATA, 2, "resolved hi x v=2 s=20 e=40;", "R"},
      {50, DATA, 2, "", "R"},
      {60, DATA, 4, "firing hi x v=4 s=60;", "FR"},
      {70, DATA, 1, "resolved hi x v=1 s=60 e=70;", "RR"},
      {3640, DATA, 1, "", "R"}, /* the first resolved one expired (1h) */
      {3670, DATA, 1, "", ""},
      END}},
    {"for holds pending",
     "[alert hi]\nstat = rate\nthreshold = 3\nfor = 30s\n",
     {{10, DATA, 5, "", "P"},
      {20, DATA, 5, "", "P"},
      {30, DATA, 1, "", ""}, /* back to nothing, no note */
      {40, DATA, 5, "", "P"},
      {60, DATA, 5, "", "P"},
      {70, DATA, 7, "firing hi x v=7 s=70;", "F"},
      {80, DATA, 1, "resolved hi x v=1 s=70 e=80;", "R"},
      END}},
    {"repeat re-notifies at the right flush",
     "[alert hi]\nstat = rate\nthreshold = 3\nrepeat = 30s\n",
     {{10, DATA, 5, "firing hi x v=5 s=10;", "F"},
      {20, DATA, 6, "", "F"},
      {30, DATA, 6, "", "F"},
      {40, DATA, 7, "firing+ hi x v=7 s=10;", "F"},
      {50, DATA, 7, "", "F"},
      {60, DATA, 7, "", "F"},
      {70, DATA, 8, "firing+ hi x v=8 s=10;", "F"},
      {80, DATA, 0, "resolved hi x v=0 s=10 e=80;", "R"},
      END}},
    {"repeat 0 never re-notifies",
     "[alert hi]\nstat = rate\nthreshold = 3\nrepeat = 0\n",
     {{10, DATA, 5, "firing hi x v=5 s=10;", "F"},
      {100000, DATA, 5, "", "F"},
      {200000, DATA, 5, "", "F"},
      END}},
    {"NaN is false, for every op",
     "[alert ne]\nstat = rate\nop = !=\nthreshold = 0\n"
     "[alert le]\nstat = rate\nop = <=\nthreshold = 0\n",
     {{10, DATA, NAN, "", ""},
      {20, DATA, -1, "firing ne x v=-1 s=20;firing le x v=-1 s=20;", "FF"},
      {30, DATA, NAN, "resolved ne x v=-1 s=20 e=30;resolved le x v=-1 s=20 e=30;", "RR"},
      END}},
    {"a stat the series does not have never fires",
     "[alert u]\nstat = unique\nop = !=\nthreshold = 1\n",
     {{10, DATA, 5, "", ""}, {20, DATA, 5, "", ""}, END}},
    {"every op",
     "[alert gt]\nstat=rate\nop=>\nthreshold=2\n[alert ge]\nstat=rate\nop=>=\nthreshold=2\n"
     "[alert lt]\nstat=rate\nop=<\nthreshold=2\n[alert le]\nstat=rate\nop=<=\nthreshold=2\n"
     "[alert eq]\nstat=rate\nop===\nthreshold=2\n[alert ne]\nstat=rate\nop=!=\nthreshold=2\n",
     {{10, DATA, 2, "firing ge x v=2 s=10;firing le x v=2 s=10;firing eq x v=2 s=10;", "FFF"},
      {20, DATA, 3,
       "firing gt x v=3 s=20;resolved le x v=3 s=10 e=20;resolved eq x v=3 s=10 e=20;firing ne x "
       "v=3 s=20;",
       NULL},
      END}},
    {"a series not observed resolves a threshold rule",
     "[alert hi]\nstat = rate\nthreshold = 3\n",
     {{10, DATA, 5, "firing hi x v=5 s=10;", "F"},
      {20, GONE, 0, "resolved hi x v=5 s=10 e=20;", "R"},
      {30, GONE, 0, "", "R"},
      END}},
    {"window stat versus interval stat",
     "[alert iv]\nstat = p99\nthreshold = 1500\n"
     "[alert w5]\nstat = p99\nwindow = 5m\nthreshold = 1500\n"
     "[alert w1]\nstat = p99\nwindow = 1m\nthreshold = 1500\n",
     {{10, DATA, 100, "firing w5 x v=2100 s=10;", "F"},
      {20, DATA, 600, "firing w1 x v=1600 s=20;", "FF"},
      {30, DATA, 1600, "firing iv x v=1600 s=30;", "FFF"},
      END}},
    {"anomaly rule, any stat",
     "[alert z]\nkind = anomaly\n",
     {{10, DATA, NAN, "", ""},
      {20, DATA, 4.5, "firing z x v=4.5 s=20;", "F"},
      {30, DATA, -6, "", "F"},
      {40, DATA, NAN, "resolved z x v=-6 s=20 e=40;", "R"},
      END}},
    {"anomaly rule, one stat",
     "[alert z]\nkind = anomaly\nstat = mean\n[alert y]\nkind = anomaly\nstat = p99\n",
     {{10, DATA, 4, "firing y x v=4 s=10;", "F"}, /* the fake flags p99 */
      {20, DATA, NAN, "resolved y x v=4 s=10 e=20;", "R"},
      END}},
    {"absent: stops, data again, vanishes",
     "[alert gone]\nkind = absent\nrepeat = 0\n",
     {{10, DATA, 0, "", ""},
      {20, DATA, 0, "", ""},
      {30, GONE, 0, "firing gone x v=nan s=30;", "F"},
      {40, NODATA, 0, "", "F"},
      {50, DATA, 0, "resolved gone x v=nan s=30 e=50;", "R"},
      {60, NODATA, 0, "firing gone x v=nan s=60;", "FR"},
      {70, GONE, 0, "", "FR"},
      {99970, GONE, 0, "", "F"}, /* vanished: firing until it returns */
      END}},
    {"absent with for",
     "[alert gone]\nkind = absent\nfor = 20s\nrepeat = 0\n",
     {{10, NODATA, 0, "", "P"}, /* first seen without data */
      {20, GONE, 0, "", "P"},
      {30, GONE, 0, "firing gone x v=nan s=30;", "F"},
      END}},
    {"absent never fires for a series never seen",
     "[alert gone]\nkind = absent\n",
     {{10, GONE, 0, "", ""}, {20, GONE, 0, "", ""}, END}},
};

static void list_state(void *ctx, const struct alert_view *v)
{
	struct buf *b = ctx;
	buf_putc(b, "PFR"[v->state]);
	if (v->state == ALERT_PENDING)
		CU_ASSERT_EQUAL(v->starts_ms, 0);
	if (v->state == ALERT_FIRING)
		CU_ASSERT_EQUAL(v->since_ms, v->starts_ms);
	CU_ASSERT_EQUAL(v->fingerprint, alert_fingerprint(v->rule->name, v->series, v->series_len));
}

static void test_scenarios(void)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *sc = &scenarios[i];
		struct rules *r = mkrules(sc->rules);
		struct alert_engine *e = alert_engine_new();
		alert_engine_set_rules(e, r);
		rules_free(r); /* the engine keeps its own copy */
		for (const struct step *st = sc->steps; st->want; st++) {
			struct fake f = {.id = "x",
			                 .has_data = st->obs == DATA,
			                 .v = st->v,
			                 .flagged = !isnan(st->v),
			                 .zstat = "p99",
			                 .z = st->v};
			struct buf notes = BUF_INIT, states = BUF_INIT;
			buf_puts(&notes, "");
			buf_puts(&states, "");
			alert_engine_begin(e, st->t * 1000);
			if (st->obs != GONE)
				observe(e, &f);
			bool changed = alert_engine_end(e, on_note, &notes);
			alert_engine_each(e, list_state, &states);
			bool ok = strcmp(notes.p, st->want) == 0 &&
			          (!st->state || strcmp(states.p, st->state) == 0);
			if (!ok)
				fprintf(stderr, "\n%s, t=%lld:\n got  %s [%s]\n want %s [%s]\n",
				        sc->name, (long long)st->t, notes.p, states.p, st->want,
				        st->state ? st->state : "?");
			CU_ASSERT_TRUE(ok);
			/* a note always means a change */
			if (st->want[0])
				CU_ASSERT_TRUE(changed);
			if (st->state) {
				size_t n[3] = {0, 0, 0};
				for (const char *c = st->state; *c; c++)
					n[strchr("PFR", *c) - "PFR"]++;
				CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_PENDING), n[0]);
				CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_FIRING), n[1]);
				CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_RESOLVED), n[2]);
			}
			buf_free(&notes);
			buf_free(&states);
		}
		alert_engine_free(e);
	}
}

/* The return of alert_engine_end: true on changes only. */
static void test_changed(void)
{
	struct rules *r = mkrules("[alert hi]\nstat = rate\nthreshold = 3\nrepeat = 20s\n");
	struct alert_engine *e = alert_engine_new();
	alert_engine_set_rules(e, r);
	static const struct {
		int64_t t;
		double v;
		bool changed;
	} steps[] = {{10, 1, false},  {20, 5, true}, {30, 6, false}, {40, 7, true} /* repeat */,
	             {50, 7, false},  {60, 1, true}, {70, 1, false}, {3660, 1, true} /* expiry */,
	             {3670, 1, false}};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct fake f = {.id = "x", .has_data = true, .v = steps[i].v};
		struct buf notes = BUF_INIT;
		alert_engine_begin(e, steps[i].t * 1000);
		observe(e, &f);
		CU_ASSERT_EQUAL(alert_engine_end(e, on_note, &notes), steps[i].changed);
		buf_free(&notes);
	}
	alert_engine_free(e);
	rules_free(r);
}

/* ---- filters ----------------------------------------------------------- */

struct filter_case {
	const char *metric;
	const char *tags; /* "" = no tags key */
	const char *id;
	bool match;
};

static const struct filter_case filter_cases[] = {
    {"api.*", "", "api.latency", true},
    {"api.*", "", "apx.latency", false},
    {"api.*", "", "api", false},
    {"api.*", "", "api.", true},
    {"api.*.p99", "", "api.a.b.p99", true},
    {"api.*.p99", "", "api.a.b.p95", false},
    {"*.latency", "", "x.latency", true},
    {"*.latency", "", "x.latencyy", false},
    {"*.latency", "", ".latency", true},
    {"a?c", "", "abc", true},
    {"a?c", "", "ac", false},
    {"a?c", "", "abbc", false},
    {"a[bc]d", "", "acd", true},
    {"a[bc]d", "", "aed", false},
    {"a[!b]*", "", "ab", false},
    {"a[!b]*", "", "ac.x", true},
    {"a\\*", "", "a*", true},
    {"a\\*", "", "ab", false},
    {"exact", "", "exact", true},
    {"exact", "", "exact2", false},
    {"exact", "", "exac", false},
    {"*", "", "anything.at_all", true},
    {"a*b*c", "", "axxbyyc", true},
    {"a*b*c", "", "axxc", false},
    {"a*b*c", "", "abc", true},
    {"ab*ab", "", "ab", false}, /* prefix and suffix must not overlap */
    {"ab*ab", "", "aab", false},
    {"ab*ab", "", "abab", true},
    /* the glob sees the name only, not the tags */
    {"api*", "", "api;env=prod", true},
    {"*prod", "", "api;env=prod", false},
    {"api", "", "api;env=prod", true},
    /* tags */
    {"*", "env:prod", "api;env=prod", true},
    {"*", "env=prod", "api;env=prod", true},
    {"*", "env:prod", "api;env=dev", false},
    {"*", "env:prod", "api", false},
    {"*", "env:pr*", "api;env=prod;x=1", true},
    {"*", "env:pr*", "api;a=1;env=dev;x=1", false},
    {"*", "env", "api;env=anything", true},
    {"*", "env", "api;env", true},
    {"*", "env", "api;envx=1", false},
    {"*", "env", "api;en=v", false},
    {"*", "!canary", "api;canary", false},
    {"*", "!canary", "api;canary=true", false},
    {"*", "!canary", "api;env=prod", true},
    {"*", "!canary", "api", true},
    {"*", "!env:dev", "api;env=prod", true},
    {"*", "!env:dev", "api;env=dev", false},
    {"*", "!env:d?v", "api;env=dav", false},
    {"*", "env:prod, !canary:true", "api;canary=true;env=prod", false},
    {"*", "env:prod, !canary:true", "api;canary=false;env=prod", true},
    {"*", "env:prod, !canary:true", "api;canary=false;env=dev", false},
    {"*", "a:", "x;a", true},
    {"*", "a:", "x;a=1", false},
    {"*", "k:a=b", "x;k=a=b", true},
    {"*", "env:b", "x;env=a;env=b", true},
    {"*", "!env:b", "x;env=a;env=b", false},
    {"api.*", "env:prod", "db.x;env=prod", false},
    {"api.*", "env:prod", "api.x;env=prod", true},
};

static void test_filters(void)
{
	for (size_t i = 0; i < sizeof(filter_cases) / sizeof(filter_cases[0]); i++) {
		const struct filter_case *c = &filter_cases[i];
		char text[512];
		snprintf(text, sizeof(text),
		         "[alert f]\nmetric = %s\n%s%s%sstat = rate\nthreshold = 0\n", c->metric,
		         c->tags[0] ? "tags = " : "", c->tags, c->tags[0] ? "\n" : "");
		struct rules *r = mkrules(text);
		struct alert_engine *e = alert_engine_new();
		alert_engine_set_rules(e, r);
		struct fake f = {.id = c->id, .has_data = true, .v = 1};
		struct buf notes = BUF_INIT;
		buf_puts(&notes, "");
		alert_engine_begin(e, 10000);
		observe(e, &f);
		alert_engine_end(e, on_note, &notes);
		bool matched = notes.len > 0;
		if (matched != c->match)
			fprintf(stderr, "\nfilter %zu: metric=%s tags=%s id=%s: matched=%d\n", i,
			        c->metric, c->tags, c->id, matched);
		CU_ASSERT_EQUAL(matched, c->match);
		/* a rule that does not match asks nothing of the series */
		if (!c->match)
			CU_ASSERT_EQUAL(f.calls, 0);
		buf_free(&notes);
		alert_engine_free(e);
		rules_free(r);
	}

	/* a name longer than the matcher's stack copy */
	struct rules *r = mkrules("[alert f]\nmetric = a?*z\nstat = rate\nthreshold = 0\n");
	struct alert_engine *e = alert_engine_new();
	alert_engine_set_rules(e, r);
	char *id = malloc(3001);
	memset(id, 'a', 3000);
	id[2999] = 'z';
	id[3000] = '\0';
	struct fake f = {.id = id, .has_data = true, .v = 1};
	struct buf notes = BUF_INIT;
	alert_engine_begin(e, 10000);
	observe(e, &f);
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_FIRING), 1);
	buf_free(&notes);
	free(id);
	alert_engine_free(e);
	rules_free(r);
}

/* One id observed twice in a flush (a counter and a gauge of one name). */
static void test_same_id_twice(void)
{
	struct rules *r = mkrules("[alert hi]\nstat = rate\nthreshold = 3\n"
	                          "[alert gone]\nkind = absent\n");
	struct alert_engine *e = alert_engine_new();
	alert_engine_set_rules(e, r);
	struct fake lo = {.id = "x", .has_data = false, .v = 1};
	struct fake hi = {.id = "x", .has_data = true, .v = 9};
	struct buf notes = BUF_INIT;
	buf_puts(&notes, "");
	alert_engine_begin(e, 10000);
	observe(e, &hi);
	observe(e, &lo);
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_STRING_EQUAL(notes.p, "firing hi x v=9 s=10;");
	buf_reset(&notes);
	buf_puts(&notes, "");
	alert_engine_begin(e, 20000);
	observe(e, &lo);
	observe(e, &lo);
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_STRING_EQUAL(notes.p, "resolved hi x v=1 s=10 e=20;firing gone x v=nan s=20;");
	buf_free(&notes);
	alert_engine_free(e);
	rules_free(r);
}

/* ---- set_rules --------------------------------------------------------- */

static void flush_xy(struct alert_engine *e, int64_t t, double v, struct buf *notes)
{
	struct fake x = {.id = "x", .has_data = true, .v = v};
	struct fake y = {.id = "y", .has_data = true, .v = v};
	buf_reset(notes);
	buf_puts(notes, "");
	alert_engine_begin(e, t * 1000);
	observe(e, &x);
	observe(e, &y);
	alert_engine_end(e, on_note, notes);
}

static void list_all(void *ctx, const struct alert_view *v)
{
	struct buf *b = ctx;
	buf_printf(b, "%s/%.*s=%c;", v->rule->name, (int)v->series_len, v->series, "PFR"[v->state]);
}

static char *listing(const struct alert_engine *e, struct buf *b)
{
	buf_reset(b);
	buf_puts(b, "");
	alert_engine_each(e, list_all, b);
	return b->p;
}

static bool has(const char *s, const char *part)
{
	return strstr(s, part) != NULL;
}

static void test_set_rules(void)
{
	struct buf notes = BUF_INIT, l = BUF_INIT;
	struct alert_engine *e = alert_engine_new();
	struct rules *r1 = mkrules("[alert keep]\nmetric = x\nstat = rate\nthreshold = 3\n"
	                           "[alert change]\nmetric = x\nstat = rate\nthreshold = 3\n"
	                           "[alert remove]\nmetric = x\nstat = rate\nthreshold = 3\n"
	                           "[alert pend]\nmetric = x\nstat = rate\nthreshold = 3\n"
	                           "for = 1h\n"
	                           "[alert res]\nmetric = y\nstat = rate\nthreshold = 3\n");
	alert_engine_set_rules(e, r1);
	rules_free(r1);
	flush_xy(e, 10, 5, &notes);
	CU_ASSERT_STRING_EQUAL(notes.p, "firing keep x v=5 s=10;firing change x v=5 s=10;"
	                                "firing remove x v=5 s=10;firing res y v=5 s=10;");
	/* y resolves: "res" keeps a resolved instance */
	struct fake x = {.id = "x", .has_data = true, .v = 5};
	buf_reset(&notes);
	alert_engine_begin(e, 20000);
	observe(e, &x);
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_TRUE(has(listing(e, &l), "res/y=R;"));
	CU_ASSERT_TRUE(has(l.p, "pend/x=P;"));

	/* keep: the same definition (other lines, other order); change: a new
	 * threshold; remove and pend: gone; res: severity changed; new: added. */
	struct rules *r2 = mkrules("[alert new]\nmetric = x\nstat = rate\nthreshold = 3\n"
	                           "[alert change]\nmetric = x\nstat = rate\nthreshold = 4\n"
	                           "[alert res]\nmetric = y\nstat = rate\nthreshold = 3\n"
	                           "severity = page\n"
	                           "\n\n[alert keep]\nthreshold = 3\nstat = rate\nmetric = x\n");
	alert_engine_set_rules(e, r2);
	rules_free(r2);
	/* dropped at once: the pending one and the resolved one; the firing
	 * ones of changed and removed rules wait for their RESOLVED note */
	listing(e, &l);
	CU_ASSERT_STRING_EQUAL(l.p, "keep/x=F;");
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_RESOLVED), 0);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_PENDING), 0);

	buf_reset(&notes);
	alert_engine_begin(e, 30000);
	observe(e, &x);
	CU_ASSERT_TRUE(alert_engine_end(e, on_note, &notes));
	/* the old definitions resolve first; keep goes on firing (no new note);
	 * change fires again under its new definition (5 > 4) */
	CU_ASSERT_STRING_EQUAL(notes.p, "resolved change x v=5 s=10 e=30;"
	                                "resolved remove x v=5 s=10 e=30;"
	                                "firing new x v=5 s=30;firing change x v=5 s=30;");
	listing(e, &l);
	CU_ASSERT_TRUE(has(l.p, "keep/x=F;"));
	CU_ASSERT_TRUE(has(l.p, "new/x=F;"));
	CU_ASSERT_TRUE(has(l.p, "change/x=F;"));
	CU_ASSERT_FALSE(has(l.p, "remove/"));

	/* keep kept its state: its repeat counts from t=10 */
	buf_reset(&notes);
	alert_engine_begin(e, 3610000);
	observe(e, &x);
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_STRING_EQUAL(notes.p, "firing+ keep x v=5 s=10;");

	/* no rules at all: everything firing resolves once, then nothing */
	alert_engine_set_rules(e, NULL);
	buf_reset(&notes);
	alert_engine_begin(e, 3620000);
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_TRUE(has(notes.p, "resolved keep x v=5 s=10 e=3620;"));
	CU_ASSERT_TRUE(has(notes.p, "resolved new x v=5 s=30 e=3620;"));
	CU_ASSERT_TRUE(has(notes.p, "resolved change x v=5 s=30 e=3620;"));
	buf_reset(&notes);
	alert_engine_begin(e, 3630000);
	CU_ASSERT_FALSE(alert_engine_end(e, on_note, &notes));
	CU_ASSERT_EQUAL(notes.len, 0);
	CU_ASSERT_STRING_EQUAL(listing(e, &l), "");

	/* set twice before an end: both removals resolve */
	struct rules *r3 = mkrules("[alert a]\nmetric = x\nstat = rate\nthreshold = 3\n");
	alert_engine_set_rules(e, r3);
	flush_xy(e, 3640, 5, &notes);
	CU_ASSERT_STRING_EQUAL(notes.p, "firing a x v=5 s=3640;");
	struct rules *r4 = mkrules("[alert a]\nmetric = x\nstat = rate\nthreshold = 2\n");
	alert_engine_set_rules(e, r4);
	alert_engine_set_rules(e, r3);
	flush_xy(e, 3650, 5, &notes);
	CU_ASSERT_STRING_EQUAL(notes.p, "resolved a x v=5 s=3640 e=3650;firing a x v=5 s=3650;");
	rules_free(r3);
	rules_free(r4);

	alert_engine_free(e); /* with instances and retired rules pending */
	alert_engine_free(NULL);
	buf_free(&notes);
	buf_free(&l);
}

/* ---- the cap ----------------------------------------------------------- */

static void test_cap(void)
{
	struct rules *r = mkrules("[alert all]\nstat = rate\nthreshold = 3\nrepeat = 0\n");
	struct alert_engine *e = alert_engine_new();
	alert_engine_set_rules(e, r);
	size_t n = ALERT_MAX_INSTANCES + 5;
	char *ids = malloc(n * 16);
	for (size_t i = 0; i < n; i++)
		snprintf(ids + i * 16, 16, "s%zu", i);
	struct buf notes = BUF_INIT;

	alert_engine_begin(e, 10000);
	for (size_t i = 0; i < n; i++) {
		struct fake f = {.id = ids + i * 16, .has_data = true, .v = 5};
		observe(e, &f);
	}
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_FIRING), ALERT_MAX_INSTANCES);
	CU_ASSERT_EQUAL(alert_engine_dropped(e), 5);

	/* ten resolve: their resolved instances fill the room; the next new
	 * ones push out the oldest resolved ones, not the live ones */
	alert_engine_begin(e, 20000);
	for (size_t i = 0; i < ALERT_MAX_INSTANCES; i++) {
		struct fake f = {.id = ids + i * 16, .has_data = true, .v = i < 10 ? 1 : 5};
		observe(e, &f);
	}
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_FIRING), ALERT_MAX_INSTANCES - 10);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_RESOLVED), 10);
	alert_engine_begin(e, 30000);
	for (size_t i = 10; i < n; i++) {
		struct fake f = {.id = ids + i * 16, .has_data = true, .v = 5};
		observe(e, &f);
	}
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_FIRING), ALERT_MAX_INSTANCES - 5);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_RESOLVED), 5);
	CU_ASSERT_EQUAL(alert_engine_dropped(e), 5);
	/* at the cap with no resolved one left: refused and counted again */
	alert_engine_begin(e, 40000);
	struct fake f1 = {.id = "one-more", .has_data = true, .v = 5};
	for (size_t i = 0; i < 6; i++) {
		char id[16];
		snprintf(id, sizeof(id), "new%zu", i);
		f1.id = id;
		observe(e, &f1);
	}
	for (size_t i = 10; i < n; i++) {
		struct fake f = {.id = ids + i * 16, .has_data = true, .v = 5};
		observe(e, &f);
	}
	alert_engine_end(e, on_note, &notes);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_FIRING), ALERT_MAX_INSTANCES);
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_RESOLVED), 0);
	CU_ASSERT_EQUAL(alert_engine_dropped(e), 6);

	buf_free(&notes);
	free(ids);
	alert_engine_free(e);
	rules_free(r);
}

/* ---- fingerprints ------------------------------------------------------ */

static void test_fingerprint(void)
{
	/* FNV-1a 64 by hand: offset basis 0xcbf29ce484222325, prime
	 * 0x100000001b3; each byte: h ^= byte, h *= prime (mod 2^64).
	 * rule "a", series "": bytes 0x61 0x00.
	 * after 0x61: 0xaf63dc4c8601ec8c (the published FNV-1a 64 of "a");
	 * after 0x00: 0xaf63dc4c8601ec8c * 0x100000001b3 = 0x089be207b544f1e4. */
	CU_ASSERT_EQUAL(alert_fingerprint("a", "", 0), 0x089be207b544f1e4ULL);
	CU_ASSERT_EQUAL(alert_fingerprint("api.errors", "api.errors;env=prod", 19),
	                0x233e243de1e53825ULL);
	/* the series length is honoured, not a NUL */
	CU_ASSERT_EQUAL(alert_fingerprint("api.errors", "api.errors;env=prodXX", 19),
	                0x233e243de1e53825ULL);
	CU_ASSERT_NOT_EQUAL(alert_fingerprint("ab", "c", 1), alert_fingerprint("a", "bc", 2));

	/* the notes and views carry it */
	struct rules *r = mkrules("[alert api.errors]\nstat = rate\nthreshold = 0\n");
	struct alert_engine *e = alert_engine_new();
	alert_engine_set_rules(e, r);
	struct fake f = {.id = "api.errors;env=prod", .has_data = true, .v = 1};
	struct buf notes = BUF_INIT;
	alert_engine_begin(e, 1000);
	observe(e, &f);
	alert_engine_end(e, on_note, &notes); /* on_note checks the note's */
	CU_ASSERT_EQUAL(alert_engine_count(e, ALERT_FIRING), 1);
	buf_free(&notes);
	alert_engine_free(e);
	rules_free(r);
}

/* ---- cost of observe (printed, not asserted) --------------------------- */

static void test_observe_cost(void)
{
	struct rules *r = mkrules("[alert r1]\nmetric = billing.*\nstat = rate\nthreshold = 1\n"
	                          "[alert r2]\nmetric = db.*.latency\nstat = p99\nthreshold = 1\n"
	                          "[alert r3]\nmetric = queue.depth\nkind = absent\n"
	                          "[alert r4]\nmetric = api.*.errors\nkind = anomaly\n"
	                          "[alert r5]\nmetric = cache.hit?ratio\nstat = rate\nop = <\n"
	                          "threshold = 0.5\n");
	struct alert_engine *e = alert_engine_new();
	alert_engine_set_rules(e, r);
	const size_t n = 1000000;
	const size_t w = 48;
	char *ids = malloc(n * w);
	uint16_t *lens = malloc(n * 2 * sizeof(*lens));
	for (size_t i = 0; i < n; i++) {
		int len =
		    snprintf(ids + i * w, w, "app.svc%zu.requests;env=prod;host=h%zu", i, i % 97);
		lens[2 * i] = (uint16_t)len;
		lens[2 * i + 1] = (uint16_t)(strchr(ids + i * w, ';') - (ids + i * w));
	}
	struct buf notes = BUF_INIT;
	struct fake f = {.has_data = true, .v = 5};
	struct alert_input in = {
	    .has_data = true, .value = fake_value, .anomalous = fake_anomalous, .ctx = &f};
	struct timespec a, b;
	alert_engine_begin(e, 10000);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (size_t i = 0; i < n; i++) {
		in.id = ids + i * w;
		in.id_len = lens[2 * i];
		in.name_len = lens[2 * i + 1];
		alert_engine_observe(e, &in);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	alert_engine_end(e, on_note, &notes);
	double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
	printf("\n  observe: 1M series x 5 non-matching rules: %.1f ms, %.2f ns per (series, "
	       "rule)\n",
	       ns / 1e6, ns / (double)n / 5);
	CU_ASSERT_EQUAL(f.calls, 0);
	CU_ASSERT_EQUAL(notes.len, 0);
	buf_free(&notes);
	free(ids);
	free(lens);
	alert_engine_free(e);
	rules_free(r);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("alert", NULL, NULL);
	if (!s || !CU_add_test(s, "scenarios", test_scenarios) ||
	    !CU_add_test(s, "end reports changes", test_changed) ||
	    !CU_add_test(s, "name and tag filters", test_filters) ||
	    !CU_add_test(s, "one id observed twice", test_same_id_twice) ||
	    !CU_add_test(s, "set_rules", test_set_rules) || !CU_add_test(s, "cap", test_cap) ||
	    !CU_add_test(s, "fingerprint", test_fingerprint) ||
	    !CU_add_test(s, "observe cost", test_observe_cost)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0 || CU_get_error() != CUE_SUCCESS;
}
