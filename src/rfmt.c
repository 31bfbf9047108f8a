/* rfmt: builds the Redis commands of a flush from the registry's series and
 * their windows. Numbers are formatted by num_format (shortest round-trip),
 * never %f; a stat with no data is written as an empty string so one HSET
 * overwrites every field of the hash. It knows nothing of hiredis. */
#include "rfmt.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertfmt.h"
#include "anomaly.h"
#include "buf.h"
#include "cfgval.h"
#include "htab.h"
#include "istat.h"
#include "num.h"
#include "xalloc.h"

#define MAX_ARGS 64
#define ARG_BYTES 4096

/* An argument vector with its own storage for formatted numbers. */
struct args {
	int n;
	const char *v[MAX_ARGS];
	size_t len[MAX_ARGS];
	char store[ARG_BYTES];
	size_t used;
};

static void arg(struct args *a, const char *s, size_t len)
{
	a->v[a->n] = s;
	a->len[a->n++] = len;
}

static void arg_str(struct args *a, const char *s)
{
	arg(a, s, strlen(s));
}

static void arg_num(struct args *a, double v)
{
	char *p = a->store + a->used;
	size_t n = isfinite(v) ? num_format(v, p) : 0; /* no data: "" */
	a->used += n + 1;
	arg(a, p, n);
}

static void arg_int(struct args *a, int64_t v)
{
	char *p = a->store + a->used;
	int n = snprintf(p, 24, "%lld", (long long)v);
	a->used += (size_t)n + 1;
	arg(a, p, (size_t)n);
}

static void arg_field(struct args *a, const char *name, double v)
{
	arg_str(a, name);
	arg_num(a, v);
}

/* "XADD key MAXLEN ~ maxlen *": the head of every stream entry. */
static void arg_xadd(struct args *a, const char *key, size_t kl, int64_t maxlen)
{
	arg_str(a, "XADD");
	arg(a, key, kl);
	arg_str(a, "MAXLEN");
	arg_str(a, "~");
	arg_int(a, maxlen);
	arg_str(a, "*");
}

/* Streams that are not per series keep about this many entries. */
#define STREAM_MAXLEN 10000

void rfmt_names_init(struct rfmt_names *n, const struct config *cfg)
{
	memset(n, 0, sizeof(*n));
	for (size_t i = 0; i < cfg->nwindows && i < WINDOW_MAX; i++) {
		struct buf b = BUF_INIT;
		cfgval_format_duration(&b, cfg->windows_ms[i]);
		snprintf(n->window[i], sizeof(n->window[i]), "%s", b.p);
		buf_free(&b);
	}
	for (size_t i = 0; i < cfg->nwindow_quantiles && i < WINDOW_QMAX; i++)
		istat_quantile_name(cfg->window_quantiles[i], n->quantile[i]);
}

const char *rfmt_type_name(enum metric_type t)
{
	static const char *const names[METRIC_TYPE_COUNT] = {
	    "counter", "gauge", "set", "timer", "histogram", "distribution"};
	return (unsigned)t < METRIC_TYPE_COUNT ? names[t] : "unknown";
}

/* "<prefix>:{<series>}:<suffix>" into out. */
static size_t series_key(char *out, size_t cap, const struct config *cfg,
                         const struct reg_series *s, const char *suffix)
{
	int n =
	    snprintf(out, cap, "%s:{%.*s}:%s", cfg->redis_prefix, (int)s->key_len, s->key, suffix);
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

static void window_hash(const struct config *cfg, const struct rfmt_names *names,
                        const struct reg_series *s, size_t i, int64_t ts, double zscore,
                        bool expire, const struct rfmt_out *out)
{
	struct window_stats st;
	struct args a = {0};
	char key[8192];
	size_t kl = series_key(key, sizeof(key), cfg, s, names->window[i]);

	window_stats(s->win, i, &st);
	arg_str(&a, "HSET");
	arg(&a, key, kl);
	arg_str(&a, "type");
	arg_str(&a, rfmt_type_name(s->type));
	switch (s->type) {
	case METRIC_COUNTER:
		arg_field(&a, "count", st.count);
		arg_field(&a, "rate", st.rate);
		break;
	case METRIC_GAUGE:
		arg_field(&a, "last", st.last);
		arg_field(&a, "min", st.min);
		arg_field(&a, "max", st.max);
		arg_field(&a, "mean", st.mean);
		break;
	case METRIC_SET:
		arg_field(&a, "unique", (double)st.unique);
		break;
	default:
		arg_field(&a, "count", st.count);
		arg_field(&a, "rate", st.rate);
		arg_field(&a, "sum", st.has_data ? st.sum : NAN);
		arg_field(&a, "min", st.min);
		arg_field(&a, "max", st.max);
		arg_field(&a, "mean", st.mean);
		arg_field(&a, "stddev", st.stddev);
		for (size_t q = 0; q < cfg->nwindow_quantiles && q < WINDOW_QMAX; q++)
			arg_field(&a, names->quantile[q], st.q[q]);
		break;
	}
	arg_field(&a, "zscore", zscore);
	arg_field(&a, "covered", st.covered_s);
	arg_str(&a, "updated");
	arg_int(&a, ts);
	out->cmd(out->ctx, a.n, a.v, a.len);
	if (!expire)
		return;

	struct args e = {0};
	arg_str(&e, "EXPIRE");
	arg(&e, key, kl);
	arg_int(&e, 2 * cfg->windows_ms[i] / 1000);
	out->cmd(out->ctx, e.n, e.v, e.len);
}

/* This interval's own stats, for the history stream. */
static void history_entry(const struct config *cfg, const struct reg_series *s, int64_t ts,
                          const struct rfmt_out *out)
{
	struct args a = {0};
	char key[8192];
	size_t kl = series_key(key, sizeof(key), cfg, s, "history");
	int64_t keep = cfg->redis_history_ms / cfg->flush_interval_ms;

	arg_xadd(&a, key, kl, keep > 0 ? keep : 1);
	arg_str(&a, "ts");
	arg_int(&a, ts);
	switch (s->type) {
	case METRIC_COUNTER:
		arg_field(&a, "count", s->value);
		break;
	case METRIC_GAUGE:
		arg_field(&a, "value", s->value);
		break;
	case METRIC_SET:
		arg_field(&a, "unique", s->members ? (double)htab_count(s->members) : 0);
		break;
	default: {
		double sum = 0, mn = INFINITY, mx = -INFINITY;
		for (size_t k = 0; k < s->nvalues; k++) {
			sum += s->values[k];
			mn = fmin(mn, s->values[k]);
			mx = fmax(mx, s->values[k]);
		}
		bool any = s->nvalues > 0;
		arg_field(&a, "count", s->count);
		arg_field(&a, "sum", any ? sum : NAN);
		arg_field(&a, "min", any ? mn : NAN);
		arg_field(&a, "max", any ? mx : NAN);
		arg_field(&a, "mean", any ? sum / (double)s->nvalues : NAN);
		break;
	}
	}
	out->cmd(out->ctx, a.n, a.v, a.len);
}

/* Whether window i's EXPIRE is refreshed at ts: once every half window,
 * staggered by series so the refreshes spread over the flushes. */
static bool expire_due(const struct config *cfg, size_t i, int64_t ts, uint64_t h)
{
	int64_t k = cfg->windows_ms[i] / 2 / cfg->flush_interval_ms;
	if (k <= 1)
		return true;
	uint64_t tick = (uint64_t)(ts * 1000 / cfg->flush_interval_ms);
	return (tick + h) % (uint64_t)k == 0;
}

void rfmt_series(const struct config *cfg, const struct rfmt_names *names,
                 const struct reg_series *s, int64_t ts, double zscore, bool first,
                 const struct rfmt_out *out)
{
	uint64_t h = htab_hash(s->key, s->key_len);
	out->group_begin(out->ctx);
	for (size_t i = 0; i < cfg->nwindows && i < WINDOW_MAX; i++)
		window_hash(cfg, names, s, i, ts, zscore, first || expire_due(cfg, i, ts, h), out);
	if (cfg->redis_history_ms > 0)
		history_entry(cfg, s, ts, out);
	out->group_end(out->ctx);
}

void rfmt_index(const struct config *cfg, int64_t ts, const struct reg_series *const *ss, size_t n,
                const struct rfmt_out *out)
{
	if (n == 0)
		return;
	char key[256], t[24];
	int kl = snprintf(key, sizeof(key), "%s:index", cfg->redis_prefix);
	int tl = snprintf(t, sizeof(t), "%lld", (long long)ts);
	size_t argc = 2 + 2 * n;
	const char **argv = xcalloc(argc, sizeof(*argv));
	size_t *len = xcalloc(argc, sizeof(*len));
	argv[0] = "ZADD";
	len[0] = 4;
	argv[1] = key;
	len[1] = (size_t)kl;
	for (size_t i = 0; i < n; i++) {
		argv[2 + 2 * i] = t;
		len[2 + 2 * i] = (size_t)tl;
		argv[3 + 2 * i] = ss[i]->key;
		len[3 + 2 * i] = ss[i]->key_len;
	}
	out->cmd(out->ctx, (int)argc, argv, len);
	free(argv);
	free(len);
}

/* Reads the next [u32 length][bytes] field of a record buffer. */
static bool next_field(const struct buf *b, size_t *pos, const char **p, size_t *len)
{
	uint32_t n;
	if (*pos + sizeof(n) > b->len)
		return false;
	memcpy(&n, b->p + *pos, sizeof(n));
	if (*pos + sizeof(n) + n > b->len)
		return false;
	*p = b->p + *pos + sizeof(n);
	*len = n;
	*pos += sizeof(n) + n;
	return true;
}

void rfmt_events(const struct config *cfg, const struct buf *records, const struct rfmt_out *out)
{
	static const char *const event_fields[] = {
	    "title",    "text",        "ts",         "host", "aggregation_key",
	    "priority", "source_type", "alert_type", "tags"};
	char ekey[256], ckey[256];
	int el = snprintf(ekey, sizeof(ekey), "%s:events", cfg->redis_prefix);
	int cl = snprintf(ckey, sizeof(ckey), "%s:checks", cfg->redis_prefix);
	size_t pos = 0;
	const char *f;
	size_t fl;
	char field[8192]; /* a check's name;tags: must outlive the argument vector */

	while (next_field(records, &pos, &f, &fl)) {
		struct args a = {0};
		if (fl == 1 && f[0] == 'e') {
			arg_xadd(&a, ekey, (size_t)el, STREAM_MAXLEN);
			for (size_t i = 0; i < 9 && next_field(records, &pos, &f, &fl); i++) {
				arg_str(&a, event_fields[i]);
				arg(&a, f, fl);
			}
		} else if (fl == 1 && f[0] == 'c') {
			const char *name, *status, *tags;
			size_t nl, sl, tl;
			if (!next_field(records, &pos, &name, &nl) ||
			    !next_field(records, &pos, &status, &sl))
				return;
			for (int skip = 0; skip < 3; skip++) /* ts, host, message */
				if (!next_field(records, &pos, &f, &fl))
					return;
			if (!next_field(records, &pos, &tags, &tl))
				return;
			int n = snprintf(field, sizeof(field), "%.*s%.*s", (int)nl, name, (int)tl,
			                 tags);
			arg_str(&a, "HSET");
			arg(&a, ckey, (size_t)cl);
			arg(&a, field, (size_t)n < sizeof(field) ? (size_t)n : sizeof(field) - 1);
			arg(&a, status, sl);
		} else {
			return; /* not a record start: stop rather than misread */
		}
		out->cmd(out->ctx, a.n, a.v, a.len);
	}
}

void rfmt_anomaly(const struct config *cfg, const struct reg_series *s, const char *stat,
                  const struct anomaly_score *sc, int64_t ts, const struct rfmt_out *out)
{
	char key[256];
	struct args a = {0};
	int kl = snprintf(key, sizeof(key), "%s:anomalies", cfg->redis_prefix);
	arg_xadd(&a, key, (size_t)kl, STREAM_MAXLEN);
	arg_str(&a, "series");
	arg(&a, s->key, s->key_len);
	arg_str(&a, "stat");
	arg_str(&a, stat);
	arg_field(&a, "value", sc->value);
	arg_field(&a, "mean", sc->mean);
	arg_field(&a, "stddev", sc->stddev);
	arg_field(&a, "zscore", sc->z);
	arg_str(&a, "ts");
	arg_int(&a, ts);
	out->cmd(out->ctx, a.n, a.v, a.len);
}

/* "<rule>|<series>": the field of an instance in <prefix>:alerts. */
static size_t instance_field(char *out, size_t cap, const char *rule, const char *series,
                             size_t series_len)
{
	int n = snprintf(out, cap, "%s|%.*s", rule, (int)series_len, series);
	return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

struct alerts_ctx {
	const struct rfmt_out *out;
	const char *key;
	size_t kl;
};

static void alert_state_cmd(void *ctx, const struct alert_view *v)
{
	struct alerts_ctx *c = ctx;
	char field[8192];
	size_t fl = instance_field(field, sizeof(field), v->rule->name, v->series, v->series_len);
	json_t *j = alertfmt_view_json(v);
	char *txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!txt)
		return;
	struct args a = {0};
	arg_str(&a, "HSET");
	arg(&a, c->key, c->kl);
	arg(&a, field, fl);
	arg_str(&a, txt);
	c->out->cmd(c->out->ctx, a.n, a.v, a.len);
	free(txt);
}

void rfmt_alerts(const struct config *cfg, const struct alert_engine *e, const struct rfmt_out *out)
{
	char key[256];
	int kl = snprintf(key, sizeof(key), "%s:alerts", cfg->redis_prefix);
	struct alerts_ctx c = {out, key, (size_t)kl};
	out->group_begin(out->ctx);
	struct args d = {0};
	arg_str(&d, "DEL");
	arg(&d, key, (size_t)kl);
	out->cmd(out->ctx, d.n, d.v, d.len);
	alert_engine_each(e, alert_state_cmd, &c);
	out->group_end(out->ctx);
}

void rfmt_alert_log(const struct config *cfg, const char *const *fields, size_t nfields,
                    const struct rfmt_out *out)
{
	char key[256];
	struct args a = {0};
	int kl = snprintf(key, sizeof(key), "%s:alerts:log", cfg->redis_prefix);
	arg_xadd(&a, key, (size_t)kl, STREAM_MAXLEN);
	for (size_t i = 0; i + 1 < nfields && a.n + 2 <= MAX_ARGS; i += 2) {
		arg_str(&a, fields[i]);
		arg_str(&a, fields[i + 1]);
	}
	out->cmd(out->ctx, a.n, a.v, a.len);
}

void rfmt_finish(const struct config *cfg, const struct rfmt_names *names, int64_t ts,
                 int64_t duration_ms, size_t series, const struct rfmt_out *out)
{
	char key[256], wins[256] = "", qs[256] = "";
	size_t wo = 0, qo = 0;
	for (size_t i = 0; i < cfg->nwindows && i < WINDOW_MAX; i++)
		wo += (size_t)snprintf(wins + wo, sizeof(wins) - wo, "%s%s", i ? "," : "",
		                       names->window[i]);
	for (size_t i = 0; i < cfg->nwindow_quantiles && i < WINDOW_QMAX; i++)
		qo += (size_t)snprintf(qs + qo, sizeof(qs) - qo, "%s%s", i ? "," : "",
		                       names->quantile[i]);

	struct args m = {0};
	int kl = snprintf(key, sizeof(key), "%s:meta", cfg->redis_prefix);
	arg_str(&m, "HSET");
	arg(&m, key, (size_t)kl);
	arg_str(&m, "version");
	arg_str(&m, "1");
	arg_str(&m, "flush_interval");
	arg_num(&m, (double)cfg->flush_interval_ms / 1000.0);
	arg_str(&m, "windows");
	arg_str(&m, wins);
	arg_str(&m, "quantiles");
	arg_str(&m, qs);
	out->cmd(out->ctx, m.n, m.v, m.len);

	/* Series idle longer than the longest window leave the index. */
	int64_t longest = cfg->nwindows ? cfg->windows_ms[cfg->nwindows - 1] / 1000 : 0;
	struct args p = {0};
	kl = snprintf(key, sizeof(key), "%s:index", cfg->redis_prefix);
	arg_str(&p, "ZREMRANGEBYSCORE");
	arg(&p, key, (size_t)kl);
	arg_str(&p, "-inf");
	char lim[32];
	int ll = snprintf(lim, sizeof(lim), "(%lld", (long long)(ts - longest));
	arg(&p, lim, (size_t)ll);
	out->cmd(out->ctx, p.n, p.v, p.len);

	struct args f = {0};
	kl = snprintf(key, sizeof(key), "%s:flush", cfg->redis_prefix);
	arg_str(&f, "HSET");
	arg(&f, key, (size_t)kl);
	arg_str(&f, "last_ts");
	arg_int(&f, ts);
	arg_str(&f, "duration_ms");
	arg_int(&f, duration_ms);
	arg_str(&f, "series");
	arg_int(&f, (int64_t)series);
	out->cmd(out->ctx, f.n, f.v, f.len);
}
