/* istat: names and values of the per-series statistics that anomaly
 * scoring and alert rules read: the interval's own (computed here from the
 * registry's interval state, timer percentiles by the nearest-rank rule)
 * and a window's (looked up by name in window_stats). It stores nothing;
 * the registry and the flush call it. */
#include "istat.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "htab.h"
#include "num.h"
#include "registry.h"
#include "window.h"

static const char *const names[ISTAT_N] = {"count", "rate", "value", "unique", "sum",
                                           "min",   "max",  "mean",  "stddev", "p50",
                                           "p90",   "p95",  "p99",   "p999"};

static const char *const kind_names[ISTAT_KINDS] = {"counter", "timer", "gauge", "set"};

#define B(s) (1u << (s))
static const unsigned kind_masks[ISTAT_KINDS] = {
    [ISTAT_COUNTER] = B(ISTAT_COUNT) | B(ISTAT_RATE),
    [ISTAT_TIMER] = B(ISTAT_COUNT) | B(ISTAT_RATE) | B(ISTAT_SUM) | B(ISTAT_MIN) | B(ISTAT_MAX) |
                    B(ISTAT_MEAN) | B(ISTAT_STDDEV) | B(ISTAT_P50) | B(ISTAT_P90) | B(ISTAT_P95) |
                    B(ISTAT_P99) | B(ISTAT_P999),
    [ISTAT_GAUGE] = B(ISTAT_VALUE),
    [ISTAT_SET] = B(ISTAT_UNIQUE),
};

const char *istat_name(enum istat s)
{
	return (unsigned)s < ISTAT_N ? names[s] : "?";
}

const char *istat_kind_name(enum istat_kind k)
{
	return (unsigned)k < ISTAT_KINDS ? kind_names[k] : "?";
}

unsigned istat_kind_mask(enum istat_kind k)
{
	return (unsigned)k < ISTAT_KINDS ? kind_masks[k] : 0;
}

static int find(const char *const *tab, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(tab[i]) == len && memcmp(tab[i], s, len) == 0)
			return (int)i;
	return -1;
}

bool istat_parse_list(const char *s, size_t len, unsigned masks[ISTAT_KINDS], char *why,
                      size_t whylen)
{
	unsigned m[ISTAT_KINDS] = {0};
	size_t i = 0;
	while (i < len) {
		while (i < len && (s[i] == ',' || s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t b = i;
		while (i < len && s[i] != ',' && s[i] != ' ' && s[i] != '\t')
			i++;
		if (i == b)
			break;
		const char *item = s + b;
		size_t il = i - b;
		const char *dot = memchr(item, '.', il);
		int k = dot ? find(kind_names, ISTAT_KINDS, item, (size_t)(dot - item)) : -1;
		if (k < 0) {
			snprintf(why, whylen,
			         "%.*s: expected kind.stat, kind one of counter, timer, gauge, set",
			         (int)il, item);
			return false;
		}
		int st = find(names, ISTAT_N, dot + 1, il - (size_t)(dot + 1 - item));
		if (st < 0 || !(kind_masks[k] & B(st))) {
			struct buf b2 = BUF_INIT;
			for (int j = 0; j < ISTAT_N; j++)
				if (kind_masks[k] & B(j))
					buf_printf(&b2, "%s%s", b2.len ? " " : "", names[j]);
			snprintf(why, whylen, "%.*s: a %s has no such stat (it has: %s)", (int)il,
			         item, kind_names[k], b2.p);
			buf_free(&b2);
			return false;
		}
		m[k] |= B(st);
	}
	memcpy(masks, m, sizeof(m));
	return true;
}

void istat_format_list(struct buf *b, const unsigned masks[ISTAT_KINDS])
{
	size_t start = b->len;
	for (int k = 0; k < ISTAT_KINDS; k++)
		for (int st = 0; st < ISTAT_N; st++)
			if (masks[k] & B(st))
				buf_printf(b, "%s%s.%s", b->len > start ? "," : "", kind_names[k],
				           names[st]);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of the samples at or
 * below it. values sorted, n > 0. */
static double nearest_rank(const double *v, size_t n, double p)
{
	double r = ceil(p / 100.0 * (double)n);
	size_t i = r < 1 ? 0 : (size_t)r - 1;
	return v[i < n ? i : n - 1];
}

double istat_interval(struct reg_series *s, enum istat_kind k, enum istat st, double interval_s)
{
	if (!(istat_kind_mask(k) & B(st)))
		return NAN;
	switch (k) {
	case ISTAT_COUNTER:
		return st == ISTAT_COUNT ? s->value : s->value / interval_s;
	case ISTAT_GAUGE:
		return s->value;
	case ISTAT_SET:
		return s->members ? (double)htab_count(s->members) : 0;
	default:
		break;
	}
	if (st == ISTAT_COUNT)
		return s->count;
	if (st == ISTAT_RATE)
		return s->count / interval_s;
	size_t n = s->nvalues;
	if (n == 0)
		return NAN;
	const double *v = s->values;
	double sum = 0, mean, m2 = 0;
	switch (st) {
	case ISTAT_SUM:
	case ISTAT_MEAN:
	case ISTAT_STDDEV:
		for (size_t i = 0; i < n; i++)
			sum += v[i];
		if (st == ISTAT_SUM)
			return sum;
		mean = sum / (double)n;
		if (st == ISTAT_MEAN)
			return mean;
		for (size_t i = 0; i < n; i++)
			m2 += (v[i] - mean) * (v[i] - mean);
		return sqrt(m2 / (double)n); /* population, as the reference's std */
	default:
		break;
	}
	/* min, max and the percentiles read the sorted values. */
	bool sorted = true;
	for (size_t i = 1; i < n && sorted; i++)
		sorted = v[i - 1] <= v[i];
	if (!sorted)
		qsort(s->values, n, sizeof(double), cmp_double);
	switch (st) {
	case ISTAT_MIN:
		return v[0];
	case ISTAT_MAX:
		return v[n - 1];
	case ISTAT_P50:
		return nearest_rank(v, n, 50);
	case ISTAT_P90:
		return nearest_rank(v, n, 90);
	case ISTAT_P95:
		return nearest_rank(v, n, 95);
	case ISTAT_P99:
		return nearest_rank(v, n, 99);
	default:
		return nearest_rank(v, n, 99.9);
	}
}

double istat_by_name(struct reg_series *s, enum istat_kind k, const char *stat, double interval_s)
{
	if (k == ISTAT_GAUGE && strcmp(stat, "last") == 0)
		stat = "value";
	if (k == ISTAT_SET && strcmp(stat, "count") == 0)
		stat = "unique";
	int st = find(names, ISTAT_N, stat, strlen(stat));
	return st < 0 ? NAN : istat_interval(s, k, (enum istat)st, interval_s);
}

void istat_quantile_name(double pct, char out[ISTAT_QNAME_MAX])
{
	char num[NUM_FMT_MAX];
	char *o = out;
	num_format(pct, num);
	*o++ = 'p';
	for (const char *p = num; *p && o < out + ISTAT_QNAME_MAX - 1; p++)
		if (*p != '.')
			*o++ = *p;
	*o = '\0';
}

double istat_window_by_name(const struct window_stats *ws, enum istat_kind k, const double *pcts,
                            size_t nq, const char *stat)
{
	if (strcmp(stat, "covered") == 0)
		return ws->covered_s;
	switch (k) {
	case ISTAT_COUNTER:
		if (strcmp(stat, "count") == 0)
			return ws->count;
		if (strcmp(stat, "rate") == 0)
			return ws->rate;
		return NAN;
	case ISTAT_GAUGE:
		if (!ws->has_data)
			return NAN;
		if (strcmp(stat, "last") == 0 || strcmp(stat, "value") == 0)
			return ws->last;
		if (strcmp(stat, "min") == 0)
			return ws->min;
		if (strcmp(stat, "max") == 0)
			return ws->max;
		if (strcmp(stat, "mean") == 0)
			return ws->mean;
		return NAN;
	case ISTAT_SET:
		return strcmp(stat, "unique") == 0 || strcmp(stat, "count") == 0
		           ? (double)ws->unique
		           : NAN;
	default:
		break;
	}
	static const struct {
		const char *name;
		size_t off;
	} timer[] = {{"count", offsetof(struct window_stats, count)},
	             {"rate", offsetof(struct window_stats, rate)},
	             {"sum", offsetof(struct window_stats, sum)},
	             {"min", offsetof(struct window_stats, min)},
	             {"max", offsetof(struct window_stats, max)},
	             {"mean", offsetof(struct window_stats, mean)},
	             {"stddev", offsetof(struct window_stats, stddev)}};
	for (size_t i = 0; i < sizeof(timer) / sizeof(timer[0]); i++) {
		if (strcmp(stat, timer[i].name) == 0) {
			if (i >= 2 && !ws->has_data)
				return NAN;
			return *(const double *)((const char *)ws + timer[i].off);
		}
	}
	for (size_t q = 0; q < nq && q < WINDOW_QMAX; q++) {
		char qn[ISTAT_QNAME_MAX];
		istat_quantile_name(pcts[q], qn);
		if (strcmp(stat, qn) == 0)
			return ws->q[q];
	}
	return NAN;
}
