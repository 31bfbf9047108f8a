/* registry: the main thread's catalogue of series per kind, with the
 * reference statsd's lifecycle — counters, timers and sets are reported
 * (as zero/empty) every interval until deleted; gauges keep their value;
 * with statsd.delete_idle, every series is removed after each flush (the
 * reference's deleteIdleStats), so only series that receive data in an
 * interval are sent for it. Iteration is in first-seen order, like the reference's
 * JavaScript objects. Merging takes worker shards; formatting lives in gfmt;
 * the admin views (util.inspect style) and deletes live here. */
#include "registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"
#include "hll.h"
#include "htab.h"
#include "istat.h"
#include "num.h"
#include "shard.h"
#include "window.h"
#include "xalloc.h"

struct kind_table {
	struct htab *index;
	struct reg_series **order; /* first-seen order; NULL = deleted slot */
	size_t n, cap, live;
};

struct registry {
	const struct config *cfg;
	struct kind_table kinds[REG_KIND_COUNT];
	struct window_conf wconf;  /* windows borrow it: it lives as long as they do */
	uint64_t expire_after;     /* idle intervals before a window is dropped */
	struct buf events;         /* this interval's event/check records */
	struct anomaly_conf aconf; /* baselines borrow it */
	bool scoring;              /* anomaly.stats is not empty */
};

_Static_assert((int)REG_COUNTERS == (int)ISTAT_COUNTER && (int)REG_TIMERS == (int)ISTAT_TIMER &&
                   (int)REG_GAUGES == (int)ISTAT_GAUGE && (int)REG_SETS == (int)ISTAT_SET,
               "istat kinds follow the registry's");

static const char *const internal_counters[] = {"bad_lines_seen", "packets_received",
                                                "metrics_received"};

static struct reg_series *lookup(const struct kind_table *t, const char *key, size_t len)
{
	return htab_get(t->index, key, len, htab_hash(key, len));
}

static struct reg_series *insert(struct kind_table *t, const char *key, size_t len, size_t name_len)
{
	struct reg_series *s = xcalloc(1, sizeof(*s));
	s->key = xstrndup(key, len);
	s->key_len = len;
	s->name_len = name_len;
	if (t->n == t->cap) {
		/* Compact deleted slots before growing. */
		size_t w = 0;
		for (size_t i = 0; i < t->n; i++)
			if (t->order[i])
				t->order[w++] = t->order[i];
		t->n = w;
		if (t->n * 2 >= t->cap) {
			t->cap = t->cap ? t->cap * 2 : 64;
			t->order = xrealloc(t->order, t->cap * sizeof(*t->order));
		}
	}
	t->order[t->n++] = s;
	t->live++;
	htab_put(t->index, s->key, len, htab_hash(s->key, len), s);
	return s;
}

static void anom_free(struct reg_series *s)
{
	if (!s->anom)
		return;
	for (size_t i = 0; s->anom[i]; i++)
		anomaly_base_free(s->anom[i]);
	free(s->anom);
	s->anom = NULL;
}

static void series_free(struct reg_series *s)
{
	anom_free(s);
	window_free(s->win);
	free(s->key);
	free(s->values);
	htab_free(s->members, free);
	free(s);
}

static void remove_at(struct kind_table *t, size_t i)
{
	struct reg_series *s = t->order[i];
	htab_del(t->index, s->key, s->key_len, htab_hash(s->key, s->key_len));
	t->order[i] = NULL;
	t->live--;
	series_free(s);
}

struct registry *registry_new(const struct config *cfg)
{
	struct registry *r = xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	for (int k = 0; k < REG_KIND_COUNT; k++)
		r->kinds[k].index = htab_new(1024);
	r->wconf.interval_ms = cfg->flush_interval_ms;
	r->wconf.n = cfg->nwindows < WINDOW_MAX ? cfg->nwindows : WINDOW_MAX;
	for (size_t i = 0; i < r->wconf.n; i++)
		r->wconf.len_ms[i] = cfg->windows_ms[i];
	r->wconf.nq = cfg->nwindow_quantiles < WINDOW_QMAX ? cfg->nwindow_quantiles : WINDOW_QMAX;
	for (size_t i = 0; i < r->wconf.nq; i++)
		r->wconf.quantiles[i] = cfg->window_quantiles[i] / 100.0;
	r->wconf.accuracy = cfg->window_accuracy;
	r->aconf.interval_ms = cfg->flush_interval_ms;
	r->aconf.baseline_ms = cfg->anomaly_baseline_ms;
	r->aconf.threshold = cfg->anomaly_threshold;
	r->aconf.min_intervals = (uint32_t)cfg->anomaly_min_intervals;
	for (int k = 0; k < REG_KIND_COUNT; k++)
		r->scoring |= cfg->anomaly_stats[k] != 0;
	if (r->wconf.n > 0)
		r->expire_after =
		    (uint64_t)(r->wconf.len_ms[r->wconf.n - 1] / cfg->flush_interval_ms);
	/* The reference creates its internal counters at start-up. */
	for (size_t i = 0; i < 3; i++) {
		char key[256];
		size_t n = (size_t)snprintf(key, sizeof(key), "%s.%s", cfg->prefix_stats,
		                            internal_counters[i]);
		struct reg_series *s = insert(&r->kinds[REG_COUNTERS], key, n, n);
		s->internal = true;
		s->type = METRIC_COUNTER;
	}
	return r;
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	for (int k = 0; k < REG_KIND_COUNT; k++) {
		struct kind_table *t = &r->kinds[k];
		for (size_t i = 0; i < t->n; i++)
			if (t->order[i])
				series_free(t->order[i]);
		free(t->order);
		htab_free(t->index, NULL);
	}
	buf_free(&r->events);
	free(r);
}

const struct buf *registry_events(const struct registry *r)
{
	return &r->events;
}

size_t registry_count(const struct registry *r, enum registry_kind k)
{
	return r->kinds[k].live;
}

size_t registry_total(const struct registry *r)
{
	size_t n = 0;
	for (int k = 0; k < REG_KIND_COUNT; k++)
		n += r->kinds[k].live;
	return n;
}

struct reg_series *registry_next_shown(const struct registry *r, enum registry_kind k, size_t *pos)
{
	struct reg_series *s;
	while ((s = registry_next(r, k, pos)) != NULL)
		if (!s->dormant)
			return s;
	return NULL;
}

struct reg_series *registry_next(const struct registry *r, enum registry_kind k, size_t *pos)
{
	const struct kind_table *t = &r->kinds[k];
	while (*pos < t->n) {
		struct reg_series *s = t->order[(*pos)++];
		if (s)
			return s;
	}
	return NULL;
}

static void merge_entry(struct registry *r, enum registry_kind k, struct shard_entry *e,
                        struct selfstats *st)
{
	struct kind_table *t = &r->kinds[k];
	struct reg_series *s = lookup(t, e->key, e->key_len);
	bool fresh = false;

	if (!s) {
		if ((int64_t)registry_total(r) >= r->cfg->max_series) {
			st->series_dropped++;
			return;
		}
		s = insert(t, e->key, e->key_len, e->name_len);
		fresh = true;
	} else if (s->dormant) {
		/* deleted from the statsd view: it starts again, as the reference */
		s->dormant = false;
		fresh = true;
	}
	s->type = e->type;
	s->updated = true;
	switch (k) {
	case REG_COUNTERS:
		s->value += e->value;
		break;
	case REG_GAUGES:
		/* A delta applies to the existing value; on a new gauge it
		 * starts from 0, as the reference. */
		if (e->gauge_abs || fresh)
			s->value = e->value;
		else
			s->value += e->value;
		break;
	case REG_SETS: {
		if (!e->members)
			break;
		if (!s->members)
			s->members = htab_new(htab_count(e->members));
		size_t pos = 0;
		struct shard_member *m;
		while ((m = htab_next(e->members, &pos)) != NULL) {
			uint64_t h = htab_hash(m->data, m->len);
			if (htab_get(s->members, m->data, m->len, h))
				continue;
			char *copy = xstrndup(m->data, m->len);
			htab_put(s->members, copy, m->len, h, copy);
		}
		break;
	}
	case REG_TIMERS:
		if (s->nvalues + e->nvalues > s->cap) {
			s->cap = s->nvalues + e->nvalues;
			s->values = xrealloc(s->values, s->cap * sizeof(double));
		}
		memcpy(s->values + s->nvalues, e->values, e->nvalues * sizeof(double));
		s->nvalues += e->nvalues;
		s->count += e->count;
		break;
	default:
		break;
	}
}

void registry_merge(struct registry *r, struct shard *sh, struct selfstats *st)
{
	static const enum registry_kind map[SHARD_KIND_COUNT] = {
	    [SHARD_COUNTERS] = REG_COUNTERS,
	    [SHARD_TIMERS] = REG_TIMERS,
	    [SHARD_GAUGES] = REG_GAUGES,
	    [SHARD_SETS] = REG_SETS,
	};
	for (int k = 0; k < SHARD_KIND_COUNT; k++) {
		size_t pos = 0;
		struct shard_entry *e;
		while ((e = shard_next(sh, (enum shard_kind)k, &pos)) != NULL)
			merge_entry(r, map[k], e, st);
	}
	const struct buf *ev = shard_events(sh);
	if (ev->len)
		buf_append(&r->events, ev->p, ev->len);
	const struct selfstats *ss = shard_stats(sh);
	selfstats_add_counters(st, ss);
	if (ss->last_msg_seen > st->last_msg_seen)
		st->last_msg_seen = ss->last_msg_seen;
	shard_clear(sh);
}

void registry_set_internal(struct registry *r, const struct selfstats *interval, int64_t lag_s,
                           bool have_lag)
{
	const uint64_t vals[3] = {interval->bad_lines_seen, interval->packets_received,
	                          interval->metrics_received};
	struct kind_table *t = &r->kinds[REG_COUNTERS];
	for (size_t i = 0; i < 3; i++) {
		char key[256];
		size_t n = (size_t)snprintf(key, sizeof(key), "%s.%s", r->cfg->prefix_stats,
		                            internal_counters[i]);
		struct reg_series *s = lookup(t, key, n);
		if (!s) { /* deleted through the admin interface: recreate */
			s = insert(t, key, n, n);
			s->internal = true;
			s->type = METRIC_COUNTER;
		}
		s->value += (double)vals[i];
	}
	if (have_lag) {
		char key[256];
		size_t n =
		    (size_t)snprintf(key, sizeof(key), "%s.timestamp_lag", r->cfg->prefix_stats);
		struct kind_table *g = &r->kinds[REG_GAUGES];
		struct reg_series *s = lookup(g, key, n);
		if (!s) {
			s = insert(g, key, n, n);
			s->internal = true;
			s->type = METRIC_GAUGE;
		}
		s->value = (double)lag_s;
		s->updated = true;
	}
}

static void push_one(struct registry *r, enum registry_kind k, struct reg_series *s)
{
	if (!s->win) {
		if (!s->updated)
			return;
		s->win = window_new(&r->wconf, s->type);
	}
	if (s->updated)
		window_touch(s->win);
	switch (k) {
	case REG_COUNTERS:
		window_push_counter(s->win, s->value);
		break;
	case REG_GAUGES:
		window_push_gauge(s->win, true, s->value);
		break;
	case REG_SETS: {
		struct hll *h = NULL;
		if (s->members) {
			h = hll_new();
			size_t pos = 0;
			const char *m;
			while ((m = htab_next(s->members, &pos)) != NULL)
				hll_add_hash(h, htab_hash(m, strlen(m)));
		}
		window_push_set(s->win, h);
		hll_free(h);
		break;
	}
	default:
		window_push_timer(s->win, s->values, s->nvalues, s->count);
		break;
	}
	if (window_idle_intervals(s->win) >= r->expire_after) {
		window_free(s->win);
		s->win = NULL;
		anom_free(s); /* idle as long: its baselines hold nothing recent */
	}
}

void registry_push_windows(struct registry *r)
{
	if (r->wconf.n == 0)
		return;
	for (int k = 0; k < REG_KIND_COUNT; k++) {
		struct kind_table *t = &r->kinds[k];
		for (size_t i = 0; i < t->n; i++) {
			struct reg_series *s = t->order[i];
			if (!s)
				continue;
			push_one(r, (enum registry_kind)k, s);
			if (s->dormant && !s->win)
				remove_at(t, i); /* deleted from the statsd view, windows expired */
		}
	}
}

/* ---- anomaly scoring --------------------------------------------------- */

static size_t popcount(unsigned m)
{
	size_t n = 0;
	for (; m; m &= m - 1)
		n++;
	return n;
}

void registry_score(struct registry *r,
                    void (*flagged)(void *ctx, enum registry_kind k, const struct reg_series *s,
                                    int stat, const struct anomaly_score *sc),
                    void *ctx)
{
	if (!r->scoring)
		return;
	double iv = (double)r->cfg->flush_interval_ms / 1000.0;
	for (int k = 0; k < REG_KIND_COUNT; k++) {
		unsigned mask = r->cfg->anomaly_stats[k];
		if (!mask)
			continue;
		struct kind_table *t = &r->kinds[k];
		for (size_t i = 0; i < t->n; i++) {
			struct reg_series *s = t->order[i];
			if (!s || s->internal)
				continue;
			if (!s->anom) {
				if (!s->updated)
					continue; /* nothing to score until it has data */
				size_t n = popcount(mask);
				s->anom = xcalloc(n + 1, sizeof(*s->anom));
				for (size_t j = 0; j < n; j++)
					s->anom[j] = anomaly_base_new(&r->aconf);
			}
			size_t j = 0;
			for (int st = 0; st < ISTAT_N; st++) {
				if (!(mask & (1u << st)))
					continue;
				double x =
				    istat_interval(s, (enum istat_kind)k, (enum istat)st, iv);
				struct anomaly_score sc;
				if (anomaly_push(s->anom[j++], !isnan(x), x, &sc) && flagged)
					flagged(ctx, (enum registry_kind)k, s, st, &sc);
			}
		}
	}
}

double registry_zscore(const struct registry *r, enum registry_kind k, const struct reg_series *s)
{
	double best = NAN;
	for (size_t j = 0; s->anom && s->anom[j]; j++) {
		const struct anomaly_score *sc = anomaly_last(s->anom[j]);
		if (sc->scored && (isnan(best) || fabs(sc->z) > fabs(best)))
			best = sc->z;
	}
	return best;
}

bool registry_anomalous(const struct registry *r, enum registry_kind k, const struct reg_series *s,
                        const char *stat, double *z)
{
	unsigned mask = r->cfg->anomaly_stats[k];
	size_t j = 0;
	bool any = false;
	for (int st = 0; st < ISTAT_N && s->anom; st++) {
		if (!(mask & (1u << st)))
			continue;
		const struct anomaly_score *sc = anomaly_last(s->anom[j++]);
		if (!sc->flagged || (stat[0] && strcmp(stat, istat_name((enum istat)st)) != 0))
			continue;
		if (!any || fabs(sc->z) > fabs(*z))
			*z = sc->z;
		any = true;
	}
	return any;
}

int registry_restore_anomaly(struct registry *r, enum registry_kind k, const char *key,
                             size_t key_len, struct anomaly_base **bases)
{
	if ((int)k < 0 || k >= REG_KIND_COUNT || !r->scoring)
		return -1;
	struct reg_series *s = lookup(&r->kinds[k], key, key_len);
	size_t n = 0;
	while (bases[n])
		n++;
	if (!s || n == 0 || n != popcount(r->cfg->anomaly_stats[k]))
		return -1;
	anom_free(s);
	s->anom = bases;
	return 0;
}

const struct anomaly_conf *registry_anomaly_conf(const struct registry *r)
{
	return r->scoring ? &r->aconf : NULL;
}

unsigned registry_anomaly_stats(const struct registry *r, enum registry_kind k)
{
	return (unsigned)k < REG_KIND_COUNT ? r->cfg->anomaly_stats[k] : 0;
}

void registry_end_interval(struct registry *r)
{
	bool del = r->cfg->delete_idle;
	buf_reset(&r->events);
	for (int k = 0; k < REG_KIND_COUNT; k++) {
		struct kind_table *t = &r->kinds[k];
		for (size_t i = 0; i < t->n; i++) {
			struct reg_series *s = t->order[i];
			if (!s)
				continue;
			if (del && !s->internal) {
				if (!s->win) {
					remove_at(t, i);
					continue;
				}
				s->dormant = true; /* its windows keep sliding */
			}
			s->updated = false;
			if (k == REG_COUNTERS) {
				s->value = 0;
			} else if (k == REG_TIMERS) {
				s->nvalues = 0;
				s->count = 0;
			} else if (k == REG_SETS && s->members) {
				htab_free(s->members, free);
				s->members = NULL;
			}
		}
	}
}

const struct window_conf *registry_window_conf(const struct registry *r)
{
	return &r->wconf;
}

static bool kind_has_type(enum registry_kind k, enum metric_type type)
{
	switch (k) {
	case REG_COUNTERS:
		return type == METRIC_COUNTER;
	case REG_GAUGES:
		return type == METRIC_GAUGE;
	case REG_SETS:
		return type == METRIC_SET;
	case REG_TIMERS:
		return metric_is_timer(type);
	default:
		return false;
	}
}

int registry_restore_window(struct registry *r, enum registry_kind k, const char *key,
                            size_t key_len, size_t name_len, enum metric_type type,
                            struct window *w)
{
	if (r->wconf.n == 0 || (int)k < 0 || k >= REG_KIND_COUNT || !kind_has_type(k, type) ||
	    name_len > key_len) {
		window_free(w);
		return -1;
	}
	struct kind_table *t = &r->kinds[k];
	struct reg_series *s = lookup(t, key, key_len);
	if (!s) {
		if ((int64_t)registry_total(r) >= r->cfg->max_series) {
			window_free(w);
			return -1;
		}
		s = insert(t, key, key_len, name_len);
		s->type = type;
		s->dormant = true;
	}
	s->updated = false;
	window_free(s->win);
	s->win = w;
	if (k == REG_GAUGES) {
		/* A gauge keeps its value across intervals: the windows go on
		 * from the last one they saw. */
		struct window_stats st;
		window_stats(w, r->wconf.n - 1, &st);
		if (st.has_data && s->dormant)
			s->value = st.last;
	}
	return 0;
}

/* util.inspect quotes keys that are not identifiers with single quotes. */
static void inspect_key(struct buf *out, const char *k, size_t len)
{
	bool ident = len > 0 && !(k[0] >= '0' && k[0] <= '9');
	for (size_t i = 0; i < len && ident; i++) {
		char c = k[i];
		ident = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '_' || c == '$';
	}
	if (ident) {
		buf_append(out, k, len);
		return;
	}
	buf_putc(out, '\'');
	for (size_t i = 0; i < len; i++) {
		if (k[i] == '\'' || k[i] == '\\')
			buf_putc(out, '\\');
		buf_putc(out, k[i]);
	}
	buf_putc(out, '\'');
}

void registry_inspect(const struct registry *r, enum registry_kind k, struct buf *out)
{
	const struct kind_table *t = &r->kinds[k];
	size_t shown = 0, seen = 0;
	for (size_t i = 0; i < t->n; i++)
		shown += t->order[i] && !t->order[i]->dormant;
	if (shown == 0) {
		buf_puts(out, "{}\n");
		return;
	}
	buf_puts(out, "{\n");
	for (size_t i = 0; i < t->n; i++) {
		const struct reg_series *s = t->order[i];
		if (!s || s->dormant)
			continue;
		buf_puts(out, "  ");
		inspect_key(out, s->key, s->key_len);
		buf_puts(out, ": ");
		if (k == REG_TIMERS) {
			buf_putc(out, '[');
			for (size_t j = 0; j < s->nvalues; j++) {
				buf_puts(out, j ? ", " : " ");
				buf_num(out, s->values[j]);
			}
			buf_puts(out, s->nvalues ? " ]" : "]");
		} else if (k == REG_SETS) {
			buf_printf(out, "%zu", s->members ? htab_count(s->members) : (size_t)0);
		} else {
			buf_num(out, s->value);
		}
		buf_puts(out, ++seen < shown ? ",\n" : "\n");
	}
	buf_puts(out, "}\n");
}

void registry_delete(struct registry *r, enum registry_kind k, const char *bucket, struct buf *out)
{
	struct kind_table *t = &r->kinds[k];
	size_t blen = strlen(bucket);
	bool folder = blen >= 2 && bucket[blen - 1] == '*' && bucket[blen - 2] == '.';
	size_t flen = folder ? blen - 1 : 0; /* "a.b." */
	size_t found = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct reg_series *s = t->order[i];
		if (!s || s->dormant)
			continue;
		bool match = (s->key_len == blen && memcmp(s->key, bucket, blen) == 0) ||
		             (folder && s->key_len >= flen && memcmp(s->key, bucket, flen) == 0);
		if (!match)
			continue;
		buf_puts(out, "deleted: ");
		buf_append(out, s->key, s->key_len);
		buf_putc(out, '\n');
		remove_at(t, i);
		found++;
	}
	if (found == 0)
		buf_printf(out, "metric %s not found\n", bucket);
}
