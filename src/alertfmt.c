/* alertfmt: turns the alert notifications of one flush for one webhook into
 * the webhook's JSON body (Alertmanager v4 payload, Slack text, plain json),
 * with jansson. It copies what it needs from each note, so rules may be
 * reloaded before the batch is finished. It does not send anything (webhook
 * does) nor decide what to notify (alert does). Called by flush. */
#include "alertfmt.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "num.h"
#include "xalloc.h"

#define ZERO_TIME "0001-01-01T00:00:00Z"

/* jansson fails only when out of memory once its input is well-formed
 * (strings are cleaned first, non-finite numbers become null). */
static void oom(void)
{
	log_error("alertfmt: out of memory");
	abort();
}

struct fnote {
	char *rule, *severity, *stat, *summary;
	enum alert_kind kind;
	enum alert_op op;
	double threshold;
	int window;
	char *series;
	size_t series_len, name_len;
	enum alert_state state;
	bool repeat;
	double value;
	int64_t starts_ms, ends_ms;
	uint64_t fingerprint;
};

struct alertfmt_batch {
	char *webhook;
	enum webhook_format format;
	char *external_url; /* without a trailing '/' */
	int64_t *windows;
	size_t nwindows;
	struct fnote *notes;
	size_t n, cap;
};

struct alertfmt_batch *alertfmt_batch_new(const struct webhook_conf *w, const char *external_url)
{
	struct alertfmt_batch *b = xcalloc(1, sizeof(*b));
	b->webhook = xstrdup(w->name ? w->name : "");
	b->format = w->format;
	size_t ulen = external_url ? strlen(external_url) : 0;
	while (ulen > 0 && external_url[ulen - 1] == '/')
		ulen--;
	b->external_url = xstrndup(ulen ? external_url : "", ulen);
	return b;
}

void alertfmt_batch_windows(struct alertfmt_batch *b, const int64_t *windows_ms, size_t n)
{
	free(b->windows);
	b->windows = NULL;
	b->nwindows = 0;
	if (n == 0)
		return;
	b->windows = xmalloc(n * sizeof(*b->windows));
	memcpy(b->windows, windows_ms, n * sizeof(*b->windows));
	b->nwindows = n;
}

void alertfmt_batch_add(struct alertfmt_batch *b, const struct alert_note *n)
{
	const struct alert_rule *r = n->rule;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->notes = xrealloc(b->notes, b->cap * sizeof(*b->notes));
	}
	struct fnote *f = &b->notes[b->n++];
	f->rule = xstrdup(r->name ? r->name : "");
	f->severity = xstrdup(r->severity ? r->severity : "");
	f->stat = xstrdup(r->stat ? r->stat : "");
	f->summary = xstrdup(r->summary ? r->summary : "");
	f->kind = r->kind;
	f->op = r->op;
	f->threshold = r->threshold;
	f->window = r->window;
	f->series = xstrndup(n->series, n->series_len);
	f->series_len = n->series_len;
	f->name_len = n->name_len <= n->series_len ? n->name_len : n->series_len;
	f->state = n->state;
	f->repeat = n->repeat;
	f->value = n->value;
	f->starts_ms = n->starts_ms;
	f->ends_ms = n->ends_ms;
	f->fingerprint = n->fingerprint;
}

size_t alertfmt_batch_count(const struct alertfmt_batch *b)
{
	return b->n;
}

void alertfmt_batch_free(struct alertfmt_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct fnote *f = &b->notes[i];
		free(f->rule);
		free(f->severity);
		free(f->stat);
		free(f->summary);
		free(f->series);
	}
	free(b->notes);
	free(b->windows);
	free(b->external_url);
	free(b->webhook);
	free(b);
}

size_t alertfmt_time(int64_t ms, char *buf)
{
	struct tm tm;
	time_t secs = (time_t)(ms / 1000);
	if (ms <= 0 || !gmtime_r(&secs, &tm)) {
		memcpy(buf, ZERO_TIME, sizeof(ZERO_TIME));
		return sizeof(ZERO_TIME) - 1;
	}
	int w = snprintf(buf, ALERTFMT_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                 tm.tm_sec, (int)(ms % 1000));
	if (w < 0 || w >= ALERTFMT_TIME_MAX) {
		memcpy(buf, ZERO_TIME, sizeof(ZERO_TIME));
		return sizeof(ZERO_TIME) - 1;
	}
	return (size_t)w;
}

/* ---- strings ------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF), 0 if there is none. NUL counts
 * as ill-formed: the labels are C strings too. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 1;
	else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (left < need + 1 || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return need + 1;
}

/* s[0..len) as a NUL-terminated, well-formed UTF-8 copy: every byte that
 * does not start a well-formed sequence becomes U+FFFD. */
static void utf8_clean(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t k = utf8_seq(p + i, len - i);
		if (k == 0) {
			buf_append(out, "\xEF\xBF\xBD", 3);
			i++;
		} else {
			buf_append(out, p + i, k);
			i += k;
		}
	}
	buf_putc(out, '\0');
	out->len--;
}

/* A JSON string of s[0..len) (never NULL: ill-formed UTF-8 is replaced). */
static json_t *jstrn(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	utf8_clean(&b, s, len);
	json_t *j = json_stringn(b.p ? b.p : "", b.len);
	buf_free(&b);
	if (!j)
		oom();
	return j;
}

static json_t *jstr(const char *s)
{
	return jstrn(s, strlen(s));
}

/* obj[key] = value (both copied; key cleaned like a value). */
static void jset(json_t *obj, const char *key, size_t keylen, json_t *value)
{
	struct buf k = BUF_INIT;
	utf8_clean(&k, key, keylen);
	if (json_object_set_new(obj, k.p ? k.p : "", value) != 0)
		oom();
	buf_free(&k);
}

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jtime(int64_t ms)
{
	char t[ALERTFMT_TIME_MAX];
	return json_stringn(t, alertfmt_time(ms, t));
}

static void window_name(const struct alertfmt_batch *b, int w, char *out, size_t outlen)
{
	if (w < 0) {
		snprintf(out, outlen, "interval");
		return;
	}
	if ((size_t)w >= b->nwindows) {
		snprintf(out, outlen, "w%d", w);
		return;
	}
	int64_t ms = b->windows[w];
	if (ms > 0 && ms % 3600000 == 0)
		snprintf(out, outlen, "%" PRId64 "h", ms / 3600000);
	else if (ms > 0 && ms % 60000 == 0)
		snprintf(out, outlen, "%" PRId64 "m", ms / 60000);
	else if (ms > 0 && ms % 1000 == 0)
		snprintf(out, outlen, "%" PRId64 "s", ms / 1000);
	else
		snprintf(out, outlen, "%" PRId64 "ms", ms);
}

/* The sentence that says what happened, e.g. "api.errors rate 12.5 > 10
 * (1m)": the annotation summary when the rule has none, and Slack's text. */
static void describe(const struct alertfmt_batch *b, const struct fnote *f, struct buf *out)
{
	char win[32];
	bool firing = f->state == ALERT_FIRING;
	window_name(b, f->window, win, sizeof(win));
	buf_append(out, f->series, f->series_len);
	switch (f->kind) {
	case ALERT_ANOMALY:
		buf_putc(out, ' ');
		buf_puts(out, f->stat[0] ? f->stat : "any stat");
		buf_puts(out, firing ? " anomalous, z " : " no longer anomalous, z ");
		buf_num(out, f->value);
		buf_printf(out, " (%s)", win);
		break;
	case ALERT_ABSENT:
		buf_puts(out, firing ? " absent: no data" : " reporting again");
		break;
	case ALERT_THRESHOLD:
	default:
		buf_printf(out, " %s ", f->stat);
		buf_num(out, f->value);
		buf_puts(out, firing ? " " : ", no longer ");
		buf_puts(out, rules_op_name(f->op));
		buf_putc(out, ' ');
		buf_num(out, f->threshold);
		buf_printf(out, " (%s)", win);
		break;
	}
}

/* ---- alertmanager ------------------------------------------------------- */

static bool reserved_label(const char *k, size_t len)
{
	static const char *const names[] = {"alertname", "severity", "series", "metric"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(names[i], k, len) == 0)
			return true;
	return false;
}

/* Every ";k=v" tag of the series id as label k (a tag named like one of
 * ours becomes tag_k; a key seen twice gets its values joined by ","). */
static void tag_labels(json_t *labels, const struct fnote *f)
{
	const char *p = f->series + f->name_len, *end = f->series + f->series_len;
	struct buf key = BUF_INIT, val = BUF_INIT;
	while (p < end) {
		if (*p == ';') {
			p++;
			continue;
		}
		const char *t = p;
		while (p < end && *p != ';')
			p++;
		const char *eq = memchr(t, '=', (size_t)(p - t));
		const char *kend = eq ? eq : p;
		if (kend == t)
			continue; /* no key */
		buf_reset(&key);
		if (reserved_label(t, (size_t)(kend - t)))
			buf_puts(&key, "tag_");
		buf_append(&key, t, (size_t)(kend - t));
		buf_reset(&val);
		if (eq)
			buf_append(&val, eq + 1, (size_t)(p - eq - 1));
		struct buf k = BUF_INIT;
		utf8_clean(&k, key.p, key.len);
		json_t *old = json_object_get(labels, k.p);
		if (old) {
			struct buf joined = BUF_INIT;
			buf_append(&joined, json_string_value(old), json_string_length(old));
			buf_putc(&joined, ',');
			buf_append(&joined, val.p ? val.p : "", val.len);
			jset(labels, k.p, k.len, jstrn(joined.p, joined.len));
			buf_free(&joined);
		} else {
			jset(labels, k.p, k.len, jstrn(val.p ? val.p : "", val.len));
		}
		buf_free(&k);
	}
	buf_free(&key);
	buf_free(&val);
}

static json_t *am_alert(const struct alertfmt_batch *b, const struct fnote *f)
{
	json_t *a = json_object();
	json_t *labels = json_object();
	json_t *ann = json_object();
	char num[NUM_FMT_MAX], fp[20];
	struct buf s = BUF_INIT;

	json_object_set_new(a, "status", jstr(f->state == ALERT_FIRING ? "firing" : "resolved"));
	json_object_set_new(labels, "alertname", jstr(f->rule));
	json_object_set_new(labels, "severity", jstr(f->severity));
	json_object_set_new(labels, "series", jstrn(f->series, f->series_len));
	json_object_set_new(labels, "metric", jstrn(f->series, f->name_len));
	tag_labels(labels, f);
	json_object_set_new(a, "labels", labels);

	if (f->summary[0])
		buf_puts(&s, f->summary);
	else
		describe(b, f, &s);
	json_object_set_new(ann, "summary", jstrn(s.p ? s.p : "", s.len));
	json_object_set_new(ann, "value", jstrn(num, num_format(f->value, num)));
	json_object_set_new(a, "annotations", ann);
	buf_free(&s);

	json_object_set_new(a, "startsAt", jtime(f->starts_ms));
	json_object_set_new(a, "endsAt", jtime(f->state == ALERT_FIRING ? 0 : f->ends_ms));
	buf_puts(&s, b->external_url);
	if (s.len)
		buf_puts(&s, "/api/v1/alerts");
	json_object_set_new(a, "generatorURL", jstrn(s.p ? s.p : "", s.len));
	buf_free(&s);
	alertfmt_fingerprint(f->fingerprint, fp);
	json_object_set_new(a, "fingerprint", jstr(fp));
	return a;
}

/* common = the key/value pairs of `field` that every alert has alike. */
static json_t *common_of(json_t *alerts, const char *field)
{
	size_t n = json_array_size(alerts);
	if (n == 0)
		return json_object();
	json_t *common = json_deep_copy(json_object_get(json_array_get(alerts, 0), field));
	for (size_t i = 1; i < n; i++) {
		json_t *other = json_object_get(json_array_get(alerts, i), field);
		const char *key;
		json_t *val;
		void *tmp;
		json_object_foreach_safe(common, tmp, key, val)
		{
			if (!json_equal(val, json_object_get(other, key)))
				json_object_del(common, key);
		}
	}
	return common;
}

static json_t *alertmanager_payload(const struct alertfmt_batch *b)
{
	json_t *root = json_object();
	json_t *alerts = json_array();
	bool firing = false, one_rule = b->n > 0;
	struct buf gk = BUF_INIT;

	for (size_t i = 0; i < b->n; i++) {
		json_array_append_new(alerts, am_alert(b, &b->notes[i]));
		firing |= b->notes[i].state == ALERT_FIRING;
		if (i > 0 && strcmp(b->notes[i].rule, b->notes[0].rule) != 0)
			one_rule = false;
	}
	json_t *group = json_object();
	buf_puts(&gk, "{}:{");
	if (one_rule) {
		json_object_set_new(group, "alertname", jstr(b->notes[0].rule));
		buf_puts(&gk, "alertname=\"");
		for (const char *p = b->notes[0].rule; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&gk, '\\');
			buf_putc(&gk, *p);
		}
		buf_putc(&gk, '"');
	}
	buf_putc(&gk, '}');

	json_object_set_new(root, "version", jstr("4"));
	json_object_set_new(root, "groupKey", jstrn(gk.p, gk.len));
	json_object_set_new(root, "truncatedAlerts", json_integer(0));
	json_object_set_new(root, "status", jstr(firing ? "firing" : "resolved"));
	json_object_set_new(root, "receiver", jstr(b->webhook));
	json_object_set_new(root, "groupLabels", group);
	json_object_set_new(root, "commonLabels", common_of(alerts, "labels"));
	json_object_set_new(root, "commonAnnotations", common_of(alerts, "annotations"));
	json_object_set_new(root, "externalURL", jstr(b->external_url));
	json_object_set_new(root, "alerts", alerts);
	buf_free(&gk);
	return root;
}

/* ---- slack and json ------------------------------------------------------ */

/* Slack's mrkdwn needs &, < and > escaped as HTML entities. */
static void slack_escape(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '&':
			buf_puts(out, "&amp;");
			break;
		case '<':
			buf_puts(out, "&lt;");
			break;
		case '>':
			buf_puts(out, "&gt;");
			break;
		default:
			buf_putc(out, s[i]);
		}
	}
}

static json_t *slack_payload(const struct alertfmt_batch *b)
{
	struct buf text = BUF_INIT, line = BUF_INIT;
	for (size_t i = 0; i < b->n; i++) {
		const struct fnote *f = &b->notes[i];
		buf_reset(&line);
		buf_puts(&line, f->state == ALERT_FIRING ? "[FIRING] " : "[RESOLVED] ");
		buf_puts(&line, f->rule);
		buf_putc(&line, ' ');
		describe(b, f, &line);
		if (f->repeat)
			buf_puts(&line, ", still firing");
		if (f->summary[0]) {
			buf_puts(&line, ": ");
			buf_puts(&line, f->summary);
		}
		if (i > 0)
			buf_putc(&text, '\n');
		slack_escape(&text, line.p, line.len);
	}
	json_t *root = json_object();
	json_object_set_new(root, "text", jstrn(text.p ? text.p : "", text.len));
	buf_free(&text);
	buf_free(&line);
	return root;
}

static json_t *json_payload(const struct alertfmt_batch *b)
{
	json_t *root = json_object();
	json_t *alerts = json_array();
	char win[32], fp[20];
	for (size_t i = 0; i < b->n; i++) {
		const struct fnote *f = &b->notes[i];
		json_t *a = json_object();
		window_name(b, f->window, win, sizeof(win));
		alertfmt_fingerprint(f->fingerprint, fp);
		json_object_set_new(a, "rule", jstr(f->rule));
		json_object_set_new(a, "kind", jstr(rules_kind_name(f->kind)));
		json_object_set_new(a, "series", jstrn(f->series, f->series_len));
		json_object_set_new(a, "status",
		                    jstr(f->state == ALERT_FIRING ? "firing" : "resolved"));
		json_object_set_new(a, "value", jnum(f->value));
		json_object_set_new(a, "threshold", jnum(f->threshold));
		json_object_set_new(a, "op", jstr(rules_op_name(f->op)));
		json_object_set_new(a, "stat", jstr(f->stat));
		json_object_set_new(a, "window", jstr(win));
		json_object_set_new(a, "severity", jstr(f->severity));
		json_object_set_new(a, "startsAt", jtime(f->starts_ms));
		json_object_set_new(a, "endsAt",
		                    f->state == ALERT_FIRING ? json_null() : jtime(f->ends_ms));
		json_object_set_new(a, "fingerprint", jstr(fp));
		json_object_set_new(a, "repeat", json_boolean(f->repeat));
		if (f->summary[0])
			json_object_set_new(a, "summary", jstr(f->summary));
		json_array_append_new(alerts, a);
	}
	json_object_set_new(root, "alerts", alerts);
	return root;
}

char *alertfmt_batch_finish(struct alertfmt_batch *b, size_t *len)
{
	json_t *root;
	switch (b->format) {
	case WEBHOOK_SLACK:
		root = slack_payload(b);
		break;
	case WEBHOOK_JSON:
		root = json_payload(b);
		break;
	case WEBHOOK_ALERTMANAGER:
	default:
		root = alertmanager_payload(b);
		break;
	}
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	alertfmt_batch_free(b);
	if (!text)
		oom();
	*len = strlen(text);
	return text;
}

void alertfmt_fingerprint(uint64_t fp, char out[ALERTFMT_FP_LEN])
{
	snprintf(out, ALERTFMT_FP_LEN, "%016" PRIx64, fp);
}

const char *alertfmt_state_name(enum alert_state s)
{
	return s == ALERT_FIRING ? "firing" : s == ALERT_PENDING ? "pending" : "resolved";
}

json_t *alertfmt_view_json(const struct alert_view *v)
{
	char fp[ALERTFMT_FP_LEN];
	json_t *o = json_object();
	json_object_set_new(o, "rule", jstr(v->rule->name));
	json_object_set_new(o, "series", jstrn(v->series, v->series_len));
	json_object_set_new(o, "state", jstr(alertfmt_state_name(v->state)));
	json_object_set_new(o, "severity", jstr(v->rule->severity));
	json_object_set_new(o, "kind", jstr(rules_kind_name(v->rule->kind)));
	json_object_set_new(o, "since", json_integer(v->since_ms / 1000));
	if (v->starts_ms)
		json_object_set_new(o, "starts", json_integer(v->starts_ms / 1000));
	json_object_set_new(o, "value", jnum(v->value));
	json_object_set_new(o, "last_notified", json_integer(v->last_notified_ms / 1000));
	alertfmt_fingerprint(v->fingerprint, fp);
	json_object_set_new(o, "fingerprint", jstr(fp));
	return o;
}
