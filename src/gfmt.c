/* gfmt: the Graphite side of a flush. Walks the registry per kind and
 * writes `name value ts` lines exactly as the reference statsd's graphite
 * backend names them (format(): namespace . name . stat + suffix + ;tags),
 * using tstats for timers and num_format for values. It also writes
 * numStats and the graphiteStats/processing_time lines, and tallyd's own
 * self-stats (not counted in numStats). It does not send anything. */
#include "gfmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "htab.h"
#include "rfmt.h"
#include "window.h"
#include "tstats.h"

struct ns {
	const char *counter_rate; /* legacy: "stats"; else "<prefix>.counters" */
	const char *counter_count;
	const char *timer, *gauge, *set, *global;
};

struct emitter {
	struct buf *out;
	const struct config *cfg;
	char ts[24];
	size_t tslen;
	size_t lines;
};

static void put_ns(struct buf *b, const char *ns)
{
	if (ns[0]) {
		buf_puts(b, ns);
		buf_putc(b, '.');
	}
}

static void put_suffix(struct emitter *em)
{
	if (em->cfg->graphite_suffix[0]) {
		buf_putc(em->out, '.');
		buf_puts(em->out, em->cfg->graphite_suffix);
	}
}

static void put_value(struct emitter *em, double v)
{
	buf_putc(em->out, ' ');
	buf_num(em->out, v);
	buf_putc(em->out, ' ');
	buf_append(em->out, em->ts, em->tslen);
	buf_putc(em->out, '\n');
	em->lines++;
}

/* namespace . name [. stat] suffix tags  value ts */
static void line(struct emitter *em, const char *ns, const char *key, size_t name_len,
                 size_t key_len, const char *stat, double v)
{
	struct buf *b = em->out;
	put_ns(b, ns);
	buf_append(b, key, name_len);
	if (stat) {
		buf_putc(b, '.');
		buf_puts(b, stat);
	}
	put_suffix(em);
	buf_append(b, key + name_len, key_len - name_len);
	put_value(em, v);
}

struct timer_ctx {
	struct emitter *em;
	const char *ns;
	const struct reg_series *s;
};

static void emit_timer(void *ctx, const char *stat, double v)
{
	struct timer_ctx *t = ctx;
	line(t->em, t->ns, t->s->key, t->s->name_len, t->s->key_len, stat, v);
}

static bool is_reference_stat(const char *name)
{
	static const char *const ref[] = {
	    "packets_received",       "metrics_received",        "bad_lines_seen",
	    "graphite_last_flush",    "graphite_last_exception", "graphite_flush_length",
	    "graphite_flush_time_ms", "last_msg_seen",
	};
	for (size_t i = 0; i < sizeof(ref) / sizeof(ref[0]); i++)
		if (strcmp(name, ref[i]) == 0)
			return true;
	return false;
}

static void self_stats(struct emitter *em, const struct ns *ns, double interval_s,
                       const struct selfstats *delta, const struct selfstats *totals, bool legacy)
{
	char key[128];
	for (size_t i = 0; i < selfstats_count; i++) {
		const struct selfstats_desc *d = &selfstats_desc[i];
		if (is_reference_stat(d->name))
			continue;
		size_t n = (size_t)snprintf(key, sizeof(key), "tallyd.%s", d->name);
		if (d->kind == 'C') {
			double v = (double)selfstats_value(delta, i);
			line(em, ns->counter_rate, key, n, n, legacy ? NULL : "rate",
			     v / interval_s);
			line(em, ns->counter_count, key, n, n, legacy ? NULL : "count", v);
		} else {
			line(em, ns->gauge, key, n, n, NULL, (double)selfstats_value(totals, i));
		}
	}
}

static void window_line(struct emitter *em, const char *ns, const struct reg_series *s,
                        const char *stat, double v)
{
	if (isfinite(v))
		line(em, ns, s->key, s->name_len, s->key_len, stat, v);
}

/* graphite.windows: stats.windows.<window>.<name>.<stat>[;tags] for every
 * series that has windows (the same stats as the Redis hashes). */
static void window_lines(struct emitter *em, struct registry *r, const struct config *cfg)
{
	struct rfmt_names names;
	rfmt_names_init(&names, cfg);
	for (int k = 0; k < REG_KIND_COUNT; k++) {
		size_t pos = 0;
		struct reg_series *s;
		while ((s = registry_next(r, (enum registry_kind)k, &pos)) != NULL) {
			if (!s->win)
				continue;
			for (size_t i = 0; i < cfg->nwindows && i < WINDOW_MAX; i++) {
				char ns[64];
				struct window_stats st;
				snprintf(ns, sizeof(ns), "stats.windows.%s", names.window[i]);
				window_stats(s->win, i, &st);
				switch (s->type) {
				case METRIC_COUNTER:
					window_line(em, ns, s, "count", st.count);
					window_line(em, ns, s, "rate", st.rate);
					break;
				case METRIC_GAUGE:
					window_line(em, ns, s, "last", st.last);
					window_line(em, ns, s, "min", st.min);
					window_line(em, ns, s, "max", st.max);
					window_line(em, ns, s, "mean", st.mean);
					break;
				case METRIC_SET:
					window_line(em, ns, s, "unique", (double)st.unique);
					break;
				default:
					window_line(em, ns, s, "count", st.count);
					window_line(em, ns, s, "rate", st.rate);
					if (!st.has_data)
						break;
					window_line(em, ns, s, "sum", st.sum);
					window_line(em, ns, s, "min", st.min);
					window_line(em, ns, s, "max", st.max);
					window_line(em, ns, s, "mean", st.mean);
					window_line(em, ns, s, "stddev", st.stddev);
					for (size_t q = 0;
					     q < cfg->nwindow_quantiles && q < WINDOW_QMAX; q++)
						window_line(em, ns, s, names.quantile[q], st.q[q]);
					break;
				}
			}
		}
	}
}

size_t gfmt_flush(struct registry *r, const struct config *cfg, int64_t ts,
                  const struct selfstats *delta, const struct selfstats *totals, struct buf *out)
{
	int64_t t0 = clock_mono_ms();
	bool legacy = cfg->graphite_legacy;
	double interval_s = (double)cfg->flush_interval_ms / 1000.0;
	struct emitter em = {.out = out, .cfg = cfg};
	char nsbuf[6][256];
	struct ns ns;
	size_t pos;
	struct reg_series *s;
	double num_stats = 0;

	em.tslen = (size_t)snprintf(em.ts, sizeof(em.ts), "%lld", (long long)ts);
	if (legacy) {
		ns = (struct ns){"stats",        "stats_counts", "stats.timers",
		                 "stats.gauges", "stats.sets",   "stats"};
	} else {
		const char *p = cfg->graphite_prefix;
		const char *dot = p[0] ? "." : "";
		snprintf(nsbuf[0], sizeof(nsbuf[0]), "%s%scounters", p, dot);
		snprintf(nsbuf[2], sizeof(nsbuf[2]), "%s%stimers", p, dot);
		snprintf(nsbuf[3], sizeof(nsbuf[3]), "%s%sgauges", p, dot);
		snprintf(nsbuf[4], sizeof(nsbuf[4]), "%s%ssets", p, dot);
		ns = (struct ns){nsbuf[0], nsbuf[0], nsbuf[2], nsbuf[3], nsbuf[4], p};
	}

	for (pos = 0; (s = registry_next_shown(r, REG_COUNTERS, &pos)) != NULL; num_stats++) {
		line(&em, ns.counter_rate, s->key, s->name_len, s->key_len, legacy ? NULL : "rate",
		     s->value / interval_s);
		line(&em, ns.counter_count, s->key, s->name_len, s->key_len,
		     legacy ? NULL : "count", s->value);
	}
	int64_t t_proc = clock_mono_ms();
	for (pos = 0; (s = registry_next_shown(r, REG_TIMERS, &pos)) != NULL; num_stats++) {
		struct timer_ctx tc = {&em, ns.timer, s};
		tstats_compute(s->values, s->nvalues, s->count, interval_s, cfg->percentiles,
		               cfg->npercentiles, tstats_histogram_for(cfg, s->key, s->key_len),
		               emit_timer, &tc);
	}
	int64_t processing_ms = clock_mono_ms() - t_proc;
	for (pos = 0; (s = registry_next_shown(r, REG_GAUGES, &pos)) != NULL; num_stats++)
		line(&em, ns.gauge, s->key, s->name_len, s->key_len, NULL, s->value);
	for (pos = 0; (s = registry_next_shown(r, REG_SETS, &pos)) != NULL; num_stats++)
		line(&em, ns.set, s->key, s->name_len, s->key_len, "count",
		     s->members ? (double)htab_count(s->members) : 0);

	/* The reference's own lines. */
	char base[300];
	size_t bl;
	const char *ps = cfg->prefix_stats;
	if (legacy) {
		bl = (size_t)snprintf(base, sizeof(base), "%s", ps);
		line(&em, "", base, bl, bl, "numStats", num_stats);
		bl = (size_t)snprintf(base, sizeof(base), "stats.%s", ps);
	} else {
		bl = (size_t)snprintf(base, sizeof(base), "%s%s%s", ns.global,
		                      ns.global[0] ? "." : "", ps);
		line(&em, "", base, bl, bl, "numStats", num_stats);
	}
	line(&em, "", base, bl, bl, "graphiteStats.calculationtime",
	     (double)(clock_mono_ms() - t0));
	line(&em, "", base, bl, bl, "processing_time", (double)processing_ms);
	line(&em, "", base, bl, bl, "graphiteStats.last_exception",
	     (double)totals->graphite_last_exception);
	line(&em, "", base, bl, bl, "graphiteStats.last_flush",
	     (double)totals->graphite_last_flush);
	line(&em, "", base, bl, bl, "graphiteStats.flush_time",
	     (double)totals->graphite_flush_time_ms);
	line(&em, "", base, bl, bl, "graphiteStats.flush_length",
	     (double)totals->graphite_flush_length);

	self_stats(&em, &ns, interval_s, delta, totals, legacy);
	if (cfg->graphite_windows)
		window_lines(&em, r, cfg);
	return em.lines;
}
