/* rules: reads the keys of the [alert NAME] and [webhook NAME] config
 * sections into struct alert_rule / struct webhook_conf, checks them across
 * sections (rules_check) and writes them back as INI (rules_dump). It does
 * not read files (config.c and ini.c do and call rules_section/rules_set per
 * line) and does not evaluate rules (alert.c does). */
#include "rules.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "cfgval.h"
#include "ini.h"
#include "num.h"
#include "xalloc.h"

enum { CUR_NONE = 0, CUR_ALERT, CUR_WEBHOOK };

enum alert_key {
	AK_METRIC = 0,
	AK_TAGS,
	AK_WINDOW,
	AK_STAT,
	AK_OP,
	AK_THRESHOLD,
	AK_FOR,
	AK_REPEAT,
	AK_SEVERITY,
	AK_WEBHOOK,
	AK_KIND,
	AK_SUMMARY,
	AK_N
};

static const char *const alert_keys[AK_N] = {
    "metric", "tags",   "window",   "stat",    "op",   "threshold",
    "for",    "repeat", "severity", "webhook", "kind", "summary",
};

enum webhook_key { WK_URL = 0, WK_FORMAT, WK_TIMEOUT, WK_RETRIES, WK_HEADERS, WK_N };

static const char *const webhook_keys[WK_N] = {"url", "format", "timeout", "retries", "headers"};

static const char *const op_names[] = {">", ">=", "<", "<=", "==", "!="};
static const char *const kind_names[] = {"threshold", "anomaly", "absent"};
static const char *const format_names[] = {"alertmanager", "slack", "json"};

/* Stats a rule may read (besides p<digits>), and those the anomaly scorer
 * keeps (istat names). */
static const char *const stat_names[] = {"count",  "rate", "sum",   "min",    "max",     "mean",
                                         "stddev", "last", "value", "unique", "covered", "zscore"};
static const char *const scored_names[] = {"count", "rate", "value", "unique", "sum",
                                           "min",   "max",  "mean",  "stddev", "p50",
                                           "p90",   "p95",  "p99",   "p999"};

#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS 60000
#define RETRIES_MAX 20

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int find_word(const char *const *words, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
			return (int)i;
	return -1;
}

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static bool valid_name(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

static bool has_space(const char *s)
{
	for (; *s; s++)
		if (ini_is_space(*s))
			return true;
	return false;
}

/* ---- construction ------------------------------------------------------ */

struct rules *rules_new(void)
{
	return xcalloc(1, sizeof(struct rules));
}

static void free_tags(struct rule_tag *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].value);
	}
	free(t);
}

static void free_headers(char **h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i]);
	free(h);
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nalerts; i++) {
		struct alert_rule *a = &r->alerts[i];
		free(a->name);
		free(a->metric);
		free_tags(a->tags, a->ntags);
		free(a->stat);
		free(a->severity);
		free(a->webhook);
		free(a->summary);
	}
	free(r->alerts);
	for (size_t i = 0; i < r->nwebhooks; i++) {
		struct webhook_conf *w = &r->webhooks[i];
		free(w->name);
		free(w->url);
		free_headers(w->headers, w->nheaders);
	}
	free(r->webhooks);
	free(r->file);
	free(r);
}

const char *rules_kind_name(enum alert_kind k)
{
	return (unsigned)k < NELEM(kind_names) ? kind_names[k] : "?";
}

const char *rules_op_name(enum alert_op op)
{
	return (unsigned)op < NELEM(op_names) ? op_names[op] : "?";
}

const struct webhook_conf *rules_webhook(const struct rules *r, const char *name)
{
	for (size_t i = 0; i < r->nwebhooks; i++)
		if (strcmp(r->webhooks[i].name, name) == 0)
			return &r->webhooks[i];
	return NULL;
}

static const struct alert_rule *find_alert(const struct rules *r, const char *name, size_t len)
{
	for (size_t i = 0; i < r->nalerts; i++)
		if (strlen(r->alerts[i].name) == len && memcmp(r->alerts[i].name, name, len) == 0)
			return &r->alerts[i];
	return NULL;
}

static const struct webhook_conf *find_webhook(const struct rules *r, const char *name, size_t len)
{
	for (size_t i = 0; i < r->nwebhooks; i++)
		if (strlen(r->webhooks[i].name) == len &&
		    memcmp(r->webhooks[i].name, name, len) == 0)
			return &r->webhooks[i];
	return NULL;
}

/* ---- section headers --------------------------------------------------- */

static int refuse(struct rules *r, const char *hdr, size_t len, unsigned long line, const char *why)
{
	r->cur = CUR_NONE;
	if (r->bad_line == 0) {
		r->bad_line = line;
		snprintf(r->bad_why, sizeof(r->bad_why), "[%.*s%s]: %s", INI_SHOW(hdr, len), why);
	}
	return -1;
}

int rules_section(struct rules *r, const char *hdr, size_t len, unsigned long line, char *why,
                  size_t whylen)
{
	/*   alert  api-latency
	 *   ^^^^^ word, then whitespace, then the NAME */
	size_t w = 0;
	while (w < len && !ini_is_space(hdr[w]))
		w++;
	int cur;
	if (w == 5 && memcmp(hdr, "alert", 5) == 0) {
		cur = CUR_ALERT;
	} else if (w == 7 && memcmp(hdr, "webhook", 7) == 0) {
		cur = CUR_WEBHOOK;
	} else {
		r->cur = CUR_NONE;
		return 0;
	}
	const char *what = cur == CUR_ALERT ? "alert" : "webhook";
	size_t p = w;
	while (p < len && ini_is_space(hdr[p]))
		p++;
	const char *name = hdr + p;
	size_t nlen = len - p;
	if (nlen == 0) {
		snprintf(why, whylen, "[%s] needs a NAME: [%s NAME]", what, what);
		return refuse(r, hdr, len, line, why);
	}
	if (!valid_name(name, nlen)) {
		snprintf(why, whylen, "invalid NAME \"%.*s%s\" (letters, digits, '_', '.' and '-')",
		         INI_SHOW(name, nlen));
		return refuse(r, hdr, len, line, why);
	}
	if (cur == CUR_ALERT) {
		const struct alert_rule *old = find_alert(r, name, nlen);
		if (old) {
			snprintf(why, whylen, "a second [alert %s] section (first on line %lu)",
			         old->name, old->line);
			return refuse(r, hdr, len, line, why);
		}
		r->alerts = xrealloc(r->alerts, (r->nalerts + 1) * sizeof(*r->alerts));
		struct alert_rule *a = &r->alerts[r->nalerts++];
		memset(a, 0, sizeof(*a));
		a->name = xstrndup(name, nlen);
		a->metric = xstrdup("*");
		a->window = -1;
		a->stat = xstrdup("");
		a->op = ALERT_GT;
		a->threshold = NAN;
		a->repeat_ms = 3600000;
		a->severity = xstrdup("warning");
		a->webhook = xstrdup("");
		a->kind = ALERT_THRESHOLD;
		a->summary = xstrdup("");
		a->line = line;
	} else {
		const struct webhook_conf *old = find_webhook(r, name, nlen);
		if (old) {
			snprintf(why, whylen, "a second [webhook %s] section (first on line %lu)",
			         old->name, old->line);
			return refuse(r, hdr, len, line, why);
		}
		r->webhooks = xrealloc(r->webhooks, (r->nwebhooks + 1) * sizeof(*r->webhooks));
		struct webhook_conf *wh = &r->webhooks[r->nwebhooks++];
		memset(wh, 0, sizeof(*wh));
		wh->name = xstrndup(name, nlen);
		wh->url = xstrdup("");
		wh->format = WEBHOOK_ALERTMANAGER;
		wh->timeout_ms = 5000;
		wh->retries = 3;
		wh->line = line;
	}
	r->cur = cur;
	return 1;
}

/* ---- alert keys -------------------------------------------------------- */

static bool valid_stat(const char *s)
{
	if (find_word(stat_names, NELEM(stat_names), s, strlen(s)) >= 0)
		return true;
	if (s[0] != 'p' || s[1] == '\0')
		return false;
	for (const char *p = s + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static void replace_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* "env:prod, !canary, region=eu-*": filters into *out (a new array). */
static bool parse_tags(const char *v, struct rule_tag **out, size_t *nout, char *why, size_t whylen)
{
	struct rule_tag *t = NULL;
	size_t n = 0;
	const char *p = v;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *s = p;
		ini_trim(&s, &len);
		if (len == 0) {
			snprintf(why, whylen, "empty filter in \"%.*s%s\"", INI_SHOW(v, strlen(v)));
			goto fail;
		}
		const char *entry = s;
		size_t elen = len;
		bool negate = s[0] == '!';
		if (negate) {
			s++;
			len--;
			ini_trim(&s, &len);
		}
		size_t k = 0;
		while (k < len && s[k] != ':' && s[k] != '=')
			k++;
		bool bad = k == 0;
		for (size_t i = 0; i < len && !bad; i++)
			bad = ini_is_space(s[i]) || s[i] == ';' || (i < k && s[i] == '!');
		if (bad) {
			snprintf(why, whylen,
			         "bad filter \"%.*s%s\" (expected key, key:glob or key=glob, each "
			         "optionally after '!')",
			         INI_SHOW(entry, elen));
			goto fail;
		}
		t = xrealloc(t, (n + 1) * sizeof(*t));
		t[n].key = xstrndup(s, k);
		t[n].value = k < len ? xstrndup(s + k + 1, len - k - 1) : xstrdup("*");
		t[n].negate = negate;
		n++;
		if (!end)
			break;
		p = end + 1;
	}
	*out = t;
	*nout = n;
	return true;
fail:
	free_tags(t, n);
	return false;
}

static bool set_alert(struct alert_rule *a, int key, const char *v, char *why, size_t whylen)
{
	size_t len = strlen(v);
	int i;
	int64_t d;

	switch ((enum alert_key)key) {
	case AK_METRIC:
		if (len == 0 || has_space(v)) {
			snprintf(why, whylen, "\"%.*s%s\" is not a name glob (empty or has spaces)",
			         INI_SHOW(v, len));
			return false;
		}
		replace_str(&a->metric, v);
		return true;
	case AK_TAGS: {
		struct rule_tag *t;
		size_t n;
		if (!parse_tags(v, &t, &n, why, whylen))
			return false;
		free_tags(a->tags, a->ntags);
		a->tags = t;
		a->ntags = n;
		return true;
	}
	case AK_WINDOW:
		if (strcmp(v, "interval") == 0) {
			a->window_ms = 0;
			a->window = -1;
			return true;
		}
		if (!cfgval_duration(v, len, &d, why, whylen))
			return false;
		if (d == 0) {
			snprintf(why, whylen,
			         "\"%s\": a window is \"interval\" or a duration of "
			         "windows.list",
			         v);
			return false;
		}
		a->window_ms = d;
		return true;
	case AK_STAT:
		if (!valid_stat(v)) {
			snprintf(
			    why, whylen,
			    "unknown stat \"%.*s%s\" (count, rate, sum, min, max, mean, stddev, "
			    "last, value, unique, covered, p<digits> or zscore)",
			    INI_SHOW(v, len));
			return false;
		}
		replace_str(&a->stat, v);
		return true;
	case AK_OP:
		i = find_word(op_names, NELEM(op_names), v, len);
		if (i < 0) {
			snprintf(why, whylen,
			         "\"%.*s%s\": expected >, >=, <, <=, == or !=", INI_SHOW(v, len));
			return false;
		}
		a->op = (enum alert_op)i;
		return true;
	case AK_THRESHOLD:
		return cfgval_double(v, len, &a->threshold, why, whylen);
	case AK_FOR:
		return cfgval_duration(v, len, &a->for_ms, why, whylen);
	case AK_REPEAT:
		return cfgval_duration(v, len, &a->repeat_ms, why, whylen);
	case AK_SEVERITY:
		if (len == 0 || has_space(v)) {
			snprintf(why, whylen, "\"%.*s%s\" is not a word (empty or has spaces)",
			         INI_SHOW(v, len));
			return false;
		}
		replace_str(&a->severity, v);
		return true;
	case AK_WEBHOOK:
		if (len > 0 && !valid_name(v, len)) {
			snprintf(
			    why, whylen,
			    "\"%.*s%s\" is not a webhook NAME (letters, digits, '_', '.' and '-')",
			    INI_SHOW(v, len));
			return false;
		}
		replace_str(&a->webhook, v);
		return true;
	case AK_KIND:
		i = find_word(kind_names, NELEM(kind_names), v, len);
		if (i < 0) {
			snprintf(why, whylen, "\"%.*s%s\": expected threshold, anomaly or absent",
			         INI_SHOW(v, len));
			return false;
		}
		a->kind = (enum alert_kind)i;
		return true;
	case AK_SUMMARY:
		replace_str(&a->summary, v);
		return true;
	case AK_N:
		break;
	}
	return false;
}

/* ---- webhook keys ------------------------------------------------------ */

static bool token_char(char c)
{
	return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* "A: x; B: y\;z" into *out ("Name: value" each); empty entries skipped. */
static bool parse_headers(const char *v, char ***out, size_t *nout, char *why, size_t whylen)
{
	char **h = NULL;
	size_t n = 0;
	struct buf e = BUF_INIT;
	const char *p = v;

	for (;;) {
		buf_reset(&e);
		while (*p && *p != ';') {
			if (p[0] == '\\' && p[1] == ';')
				p++;
			buf_putc(&e, *p++);
		}
		const char *s = e.p ? e.p : "";
		size_t len = e.len;
		ini_trim(&s, &len);
		if (len > 0) {
			const char *colon = memchr(s, ':', len);
			size_t nl = colon ? (size_t)(colon - s) : 0;
			const char *name = s;
			ini_trim(&name, &nl);
			bool ok = colon && nl > 0;
			for (size_t i = 0; ok && i < nl; i++)
				ok = token_char(name[i]);
			if (!ok) {
				snprintf(why, whylen,
				         "bad header \"%.*s%s\" (expected Name: value)",
				         INI_SHOW(s, len));
				goto fail;
			}
			const char *val = colon + 1;
			size_t vl = len - (size_t)(val - s);
			ini_trim(&val, &vl);
			struct buf line = BUF_INIT;
			buf_append(&line, name, nl);
			buf_puts(&line, ": ");
			buf_append(&line, val, vl);
			h = xrealloc(h, (n + 1) * sizeof(*h));
			h[n++] = xstrndup(line.p, line.len);
			buf_free(&line);
		}
		if (!*p)
			break;
		p++;
	}
	buf_free(&e);
	*out = h;
	*nout = n;
	return true;
fail:
	buf_free(&e);
	free_headers(h, n);
	return false;
}

static bool set_webhook(struct webhook_conf *w, int key, const char *v, char *why, size_t whylen)
{
	size_t len = strlen(v);
	int64_t x;
	int i;

	switch ((enum webhook_key)key) {
	case WK_URL: {
		size_t skip = strncasecmp(v, "http://", 7) == 0    ? 7
		              : strncasecmp(v, "https://", 8) == 0 ? 8
		                                                   : 0;
		if (skip == 0 || v[skip] == '\0' || v[skip] == '/' || has_space(v)) {
			snprintf(why, whylen, "\"%.*s%s\" is not an http:// or https:// URL",
			         INI_SHOW(v, len));
			return false;
		}
		replace_str(&w->url, v);
		return true;
	}
	case WK_FORMAT:
		i = find_word(format_names, NELEM(format_names), v, len);
		if (i < 0) {
			snprintf(why, whylen, "\"%.*s%s\": expected alertmanager, slack or json",
			         INI_SHOW(v, len));
			return false;
		}
		w->format = (enum webhook_format)i;
		return true;
	case WK_TIMEOUT:
		if (!cfgval_duration(v, len, &x, why, whylen))
			return false;
		if (x < TIMEOUT_MIN_MS || x > TIMEOUT_MAX_MS) {
			snprintf(why, whylen, "%.*s%s is out of range (100ms to 60s)",
			         INI_SHOW(v, len));
			return false;
		}
		w->timeout_ms = x;
		return true;
	case WK_RETRIES:
		if (!cfgval_int(v, len, &x, why, whylen))
			return false;
		if (x < 0 || x > RETRIES_MAX) {
			snprintf(why, whylen, "%.*s%s is out of range (0 to %d)", INI_SHOW(v, len),
			         RETRIES_MAX);
			return false;
		}
		w->retries = (int)x;
		return true;
	case WK_HEADERS: {
		char **h;
		size_t n;
		if (!parse_headers(v, &h, &n, why, whylen))
			return false;
		free_headers(w->headers, w->nheaders);
		w->headers = h;
		w->nheaders = n;
		return true;
	}
	case WK_N:
		break;
	}
	return false;
}

int rules_set_at(struct rules *r, const char *key, size_t keylen, const char *value,
                 unsigned long line, char *why, size_t whylen)
{
	uint32_t *set;
	unsigned long *lines, hdr_line;
	int k;

	if (r->cur == CUR_ALERT) {
		struct alert_rule *a = &r->alerts[r->nalerts - 1];
		k = find_word(alert_keys, AK_N, key, keylen);
		set = &a->keys_set;
		lines = a->key_line;
		hdr_line = a->line;
	} else if (r->cur == CUR_WEBHOOK) {
		struct webhook_conf *w = &r->webhooks[r->nwebhooks - 1];
		k = find_word(webhook_keys, WK_N, key, keylen);
		set = &w->keys_set;
		lines = w->key_line;
		hdr_line = w->line;
	} else {
		snprintf(why, whylen, "no [alert NAME] or [webhook NAME] section is open");
		return -1;
	}
	if (k < 0) {
		snprintf(why, whylen, "unknown key");
		return -1;
	}
	if (*set & (1u << k)) {
		snprintf(why, whylen, "set twice (first on line %lu)", lines[k]);
		return -1;
	}
	bool ok = r->cur == CUR_ALERT
	              ? set_alert(&r->alerts[r->nalerts - 1], k, value, why, whylen)
	              : set_webhook(&r->webhooks[r->nwebhooks - 1], k, value, why, whylen);
	if (!ok)
		return -1;
	*set |= 1u << k;
	lines[k] = line ? line : hdr_line;
	return 0;
}

int rules_set(struct rules *r, const char *key, size_t keylen, const char *value, char *why,
              size_t whylen)
{
	return rules_set_at(r, key, keylen, value, 0, why, whylen);
}

/* ---- cross checks ------------------------------------------------------ */

static int check_fail(const struct rules *r, char *err, size_t errlen, unsigned long line,
                      const char *section, const char *name, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static int check_fail(const struct rules *r, char *err, size_t errlen, unsigned long line,
                      const char *section, const char *name, const char *key, const char *fmt, ...)
{
	char reason[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%lu: [%s %s] %s: %s", r->file ? r->file : "(config)", line,
	         section, name, key, reason);
	return -1;
}

static unsigned long key_line(const struct alert_rule *a, int k)
{
	return (a->keys_set & (1u << k)) ? a->key_line[k] : a->line;
}

static void list_windows(struct buf *b, const int64_t *windows_ms, size_t n)
{
	if (n == 0) {
		buf_puts(b, "none");
		return;
	}
	cfgval_format_durations(b, windows_ms, n);
}

static int check_alert(const struct rules *r, struct alert_rule *a, const int64_t *windows_ms,
                       size_t nwindows, char *err, size_t errlen)
{
	const char *kind = kind_names[a->kind];
#define FAIL(k, ...)                                                                               \
	check_fail(r, err, errlen, key_line(a, k), "alert", a->name, alert_keys[k], __VA_ARGS__)
	/* Keys the kind does not read. */
	static const struct {
		int key;
		enum alert_kind kind;
	} unused[] = {{AK_OP, ALERT_ANOMALY},       {AK_THRESHOLD, ALERT_ANOMALY},
	              {AK_WINDOW, ALERT_ANOMALY},   {AK_OP, ALERT_ABSENT},
	              {AK_THRESHOLD, ALERT_ABSENT}, {AK_WINDOW, ALERT_ABSENT},
	              {AK_STAT, ALERT_ABSENT}};
	for (size_t i = 0; i < NELEM(unused); i++)
		if (unused[i].kind == a->kind && (a->keys_set & (1u << unused[i].key)))
			return FAIL(unused[i].key, "not used by kind %s", kind);

	a->window = -1;
	if (a->window_ms > 0) {
		for (size_t i = 0; i < nwindows; i++)
			if (windows_ms[i] == a->window_ms)
				a->window = (int)i;
		if (a->window < 0) {
			struct buf w = BUF_INIT, l = BUF_INIT;
			cfgval_format_duration(&w, a->window_ms);
			list_windows(&l, windows_ms, nwindows);
			int rc = FAIL(AK_WINDOW, "%s is not in windows.list (%s) nor \"interval\"",
			              w.p, l.p);
			buf_free(&w);
			buf_free(&l);
			return rc;
		}
	}
	if (a->kind == ALERT_THRESHOLD) {
		if (!a->stat[0])
			return FAIL(AK_STAT, "required for kind threshold");
		if (!(a->keys_set & (1u << AK_THRESHOLD)))
			return FAIL(AK_THRESHOLD, "required for kind threshold");
	}
	if (a->kind == ALERT_ANOMALY && a->stat[0] &&
	    find_word(scored_names, NELEM(scored_names), a->stat, strlen(a->stat)) < 0)
		return FAIL(AK_STAT,
		            "\"%s\" is not a stat the anomaly scorer keeps (count, rate, value, "
		            "unique, sum, min, max, mean, stddev, p50, p90, p95, p99 or p999)",
		            a->stat);
	if (a->webhook[0] && !rules_webhook(r, a->webhook))
		return FAIL(AK_WEBHOOK, "no [webhook %s] section", a->webhook);
#undef FAIL
	return 0;
}

int rules_check(struct rules *r, const int64_t *windows_ms, size_t nwindows, char *err,
                size_t errlen)
{
	if (r->bad_line) {
		snprintf(err, errlen, "%s:%lu: %s", r->file ? r->file : "(config)", r->bad_line,
		         r->bad_why);
		return -1;
	}
	for (size_t i = 0; i < r->nwebhooks; i++) {
		const struct webhook_conf *w = &r->webhooks[i];
		if (!w->url[0])
			return check_fail(r, err, errlen, w->line, "webhook", w->name, "url",
			                  "required");
	}
	for (size_t i = 0; i < r->nalerts; i++)
		if (check_alert(r, &r->alerts[i], windows_ms, nwindows, err, errlen) < 0)
			return -1;
	return 0;
}

/* ---- dump -------------------------------------------------------------- */

static void put_kv(struct buf *b, const char *key, const char *v, size_t len)
{
	buf_printf(b, "%s = ", key);
	ini_quote(b, v, len);
	buf_putc(b, '\n');
}

static void put_duration(struct buf *b, const char *key, int64_t ms)
{
	buf_printf(b, "%s = ", key);
	cfgval_format_duration(b, ms);
	buf_putc(b, '\n');
}

static void dump_alert(struct buf *b, const struct alert_rule *a)
{
	buf_printf(b, "\n[alert %s]\n", a->name);
	buf_printf(b, "kind = %s\n", kind_names[a->kind]);
	put_kv(b, "metric", a->metric, strlen(a->metric));
	if (a->ntags) {
		struct buf t = BUF_INIT;
		for (size_t i = 0; i < a->ntags; i++) {
			const struct rule_tag *tg = &a->tags[i];
			buf_printf(&t, "%s%s%s", i ? ", " : "", tg->negate ? "!" : "", tg->key);
			if (strcmp(tg->value, "*") != 0)
				buf_printf(&t, ":%s", tg->value);
		}
		put_kv(b, "tags", t.p, t.len);
		buf_free(&t);
	}
	if (a->kind == ALERT_THRESHOLD) {
		if (a->window_ms > 0)
			put_duration(b, "window", a->window_ms);
		else
			buf_puts(b, "window = interval\n");
		buf_printf(b, "op = %s\n", op_names[a->op]);
		if (!isnan(a->threshold)) {
			char num[NUM_FMT_MAX];
			num_format(a->threshold, num);
			buf_printf(b, "threshold = %s\n", num);
		}
	}
	if (a->kind != ALERT_ABSENT && a->stat[0])
		buf_printf(b, "stat = %s\n", a->stat);
	put_duration(b, "for", a->for_ms);
	put_duration(b, "repeat", a->repeat_ms);
	put_kv(b, "severity", a->severity, strlen(a->severity));
	if (a->webhook[0])
		buf_printf(b, "webhook = %s\n", a->webhook);
	if (a->summary[0])
		put_kv(b, "summary", a->summary, strlen(a->summary));
}

static void dump_webhook(struct buf *b, const struct webhook_conf *w)
{
	buf_printf(b, "\n[webhook %s]\n", w->name);
	put_kv(b, "url", w->url, strlen(w->url));
	buf_printf(b, "format = %s\n", format_names[w->format]);
	put_duration(b, "timeout", w->timeout_ms);
	buf_printf(b, "retries = %d\n", w->retries);
	if (w->nheaders) {
		struct buf h = BUF_INIT;
		for (size_t i = 0; i < w->nheaders; i++) {
			if (i)
				buf_puts(&h, "; ");
			for (const char *p = w->headers[i]; *p; p++) {
				if (*p == ';')
					buf_putc(&h, '\\');
				buf_putc(&h, *p);
			}
		}
		put_kv(b, "headers", h.p, h.len);
		buf_free(&h);
	}
}

void rules_dump(const struct rules *r, const int64_t *windows_ms, FILE *out)
{
	struct buf b = BUF_INIT;
	/* A window is written as it was read (alert_rule.window_ms), which is
	 * the length windows_ms[window] once rules_check resolved it. */
	(void)windows_ms;
	for (size_t i = 0; i < r->nwebhooks; i++)
		dump_webhook(&b, &r->webhooks[i]);
	for (size_t i = 0; i < r->nalerts; i++)
		dump_alert(&b, &r->alerts[i]);
	if (b.len)
		fwrite(b.p, 1, b.len, out);
	buf_free(&b);
}
