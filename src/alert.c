/* alert: the alert engine. Keeps one instance per (rule, matching series),
 * moves it pending → firing → resolved from the values the flush reports at
 * each alert_engine_observe, and hands notifications to a callback at
 * alert_engine_end. It does no I/O, reads no clock, formats no payload and
 * delivers nothing (flush.c, alertfmt and the webhook sender do). */
#include "alert.h"

#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "xalloc.h"

/* The state of an instance kind absent keeps for a series that has data:
 * not listed, not counted. */
#define ST_IDLE 3

/* How a glob is matched: all by its literal prefix and suffix (and the
 * length, for a glob without wildcards), or by fnmatch after them. */
enum gmode { G_EXACT = 0, G_PRESUF, G_FNMATCH };

struct glob {
	const char *pat; /* NUL-terminated, borrowed from the rule copy */
	size_t pre, suf; /* literal prefix and suffix lengths */
	size_t len;
	enum gmode mode;
};

struct ctag {
	const char *key;
	size_t klen;
	struct glob val;
	bool negate;
};

struct inst {
	int st; /* ALERT_PENDING, ALERT_FIRING or ST_IDLE */
	bool cond;
	uint64_t seen; /* generation it was last observed in */
	uint64_t hash;
	double value;
	int64_t since_ms, starts_ms, notified_ms;
	uint64_t fp;
	size_t id_len, name_len;
	char id[];
};

struct erule {
	struct alert_rule r; /* the engine's own copy */
	struct glob metric;
	struct ctag *tags;
	struct htab *inst; /* series id → struct inst */
};

/* A resolved instance, listed for ALERT_RESOLVED_KEEP_MS. */
struct rec {
	struct rec *next;
	const struct erule *rule;
	double value;
	int64_t starts_ms, ends_ms;
	uint64_t fp;
	size_t id_len;
	char id[];
};

struct alert_engine {
	struct erule **rules;
	size_t nrules;
	struct erule **retired; /* removed or changed, firing instances to resolve */
	size_t nretired;
	struct rec *head, *tail; /* resolved, oldest first */
	size_t nrecs;
	size_t ninst; /* live instances, retired rules' included */
	uint64_t dropped;
	uint64_t gen;
	int64_t now;
	bool changed;
	struct inst **del; /* scratch for alert_engine_end */
	size_t ndel, capdel;
};

/* ---- fingerprint ------------------------------------------------------- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t alert_fingerprint(const char *rule, const char *series, size_t series_len)
{
	uint64_t h = fnv1a(FNV_OFFSET, rule, strlen(rule));
	h = fnv1a(h, "", 1);
	return fnv1a(h, series, series_len);
}

/* ---- globs ------------------------------------------------------------- */

static void glob_compile(struct glob *g, const char *pat)
{
	size_t len = strlen(pat);
	size_t first = strcspn(pat, "*?[\\");
	g->pat = pat;
	g->len = len;
	g->pre = first;
	g->suf = 0;
	if (first == len) {
		g->mode = G_EXACT;
		return;
	}
	if (strpbrk(pat, "[\\") != NULL) {
		g->mode = G_FNMATCH;
		return;
	}
	size_t last = len;
	while (last > 0 && pat[last - 1] != '*' && pat[last - 1] != '?')
		last--;
	g->suf = len - last;
	/* "pre*suf" with one '*' and no '?' is decided by prefix and suffix. */
	g->mode = last == first + 1 && pat[first] == '*' ? G_PRESUF : G_FNMATCH;
}

static bool glob_match(const struct glob *g, const char *s, size_t n)
{
	if (n < g->pre + g->suf || memcmp(s, g->pat, g->pre) != 0 ||
	    memcmp(s + n - g->suf, g->pat + g->len - g->suf, g->suf) != 0)
		return false;
	if (g->mode == G_EXACT)
		return n == g->len;
	if (g->mode == G_PRESUF)
		return true;
	char small[512];
	char *z = n < sizeof(small) ? small : xmalloc(n + 1);
	memcpy(z, s, n);
	z[n] = '\0';
	bool ok = fnmatch(g->pat, z, 0) == 0;
	if (z != small)
		free(z);
	return ok;
}

/* The series' canonical tags (";k=v;k2", after the name) against the
 * rule's filters. */
static bool tags_match(const struct erule *er, const char *tags, size_t n)
{
	for (size_t f = 0; f < er->r.ntags; f++) {
		const struct ctag *c = &er->tags[f];
		bool found = false;
		size_t p = 0;
		while (p < n && !found) {
			size_t start = ++p; /* past ';' */
			while (p < n && tags[p] != ';')
				p++;
			const char *t = tags + start;
			size_t tl = p - start;
			const char *eq = memchr(t, '=', tl);
			size_t kl = eq ? (size_t)(eq - t) : tl;
			if (kl != c->klen || memcmp(t, c->key, kl) != 0)
				continue;
			const char *v = eq ? eq + 1 : t + tl;
			found = glob_match(&c->val, v, tl - (size_t)(v - t));
		}
		if (found == c->negate)
			return false;
	}
	return true;
}

/* ---- rules ------------------------------------------------------------- */

static void copy_rule(struct alert_rule *d, const struct alert_rule *s)
{
	*d = *s;
	d->name = xstrdup(s->name);
	d->metric = xstrdup(s->metric);
	d->tags = s->ntags ? xcalloc(s->ntags, sizeof(*d->tags)) : NULL;
	for (size_t i = 0; i < s->ntags; i++) {
		d->tags[i].key = xstrdup(s->tags[i].key);
		d->tags[i].value = xstrdup(s->tags[i].value);
		d->tags[i].negate = s->tags[i].negate;
	}
	d->stat = xstrdup(s->stat);
	d->severity = xstrdup(s->severity);
	d->webhook = xstrdup(s->webhook);
	d->summary = xstrdup(s->summary);
}

static bool same_rule(const struct alert_rule *a, const struct alert_rule *b)
{
	if (strcmp(a->name, b->name) != 0 || strcmp(a->metric, b->metric) != 0 ||
	    a->ntags != b->ntags || a->window != b->window || a->window_ms != b->window_ms ||
	    strcmp(a->stat, b->stat) != 0 || a->op != b->op ||
	    !(a->threshold == b->threshold || (isnan(a->threshold) && isnan(b->threshold))) ||
	    a->for_ms != b->for_ms || a->repeat_ms != b->repeat_ms ||
	    strcmp(a->severity, b->severity) != 0 || strcmp(a->webhook, b->webhook) != 0 ||
	    a->kind != b->kind || strcmp(a->summary, b->summary) != 0)
		return false;
	for (size_t i = 0; i < a->ntags; i++)
		if (strcmp(a->tags[i].key, b->tags[i].key) != 0 ||
		    strcmp(a->tags[i].value, b->tags[i].value) != 0 ||
		    a->tags[i].negate != b->tags[i].negate)
			return false;
	return true;
}

static struct erule *erule_new(const struct alert_rule *a)
{
	struct erule *er = xcalloc(1, sizeof(*er));
	copy_rule(&er->r, a);
	glob_compile(&er->metric, er->r.metric);
	er->tags = er->r.ntags ? xcalloc(er->r.ntags, sizeof(*er->tags)) : NULL;
	for (size_t i = 0; i < er->r.ntags; i++) {
		er->tags[i].key = er->r.tags[i].key;
		er->tags[i].klen = strlen(er->r.tags[i].key);
		er->tags[i].negate = er->r.tags[i].negate;
		glob_compile(&er->tags[i].val, er->r.tags[i].value);
	}
	er->inst = htab_new(16);
	return er;
}

static void erule_free(struct alert_engine *e, struct erule *er)
{
	e->ninst -= htab_count(er->inst);
	htab_free(er->inst, free);
	for (size_t i = 0; i < er->r.ntags; i++) {
		free(er->r.tags[i].key);
		free(er->r.tags[i].value);
	}
	free(er->r.tags);
	free(er->tags);
	free(er->r.name);
	free(er->r.metric);
	free(er->r.stat);
	free(er->r.severity);
	free(er->r.webhook);
	free(er->r.summary);
	free(er);
}

/* ---- resolved records -------------------------------------------------- */

static void rec_pop(struct alert_engine *e)
{
	struct rec *r = e->head;
	e->head = r->next;
	if (!e->head)
		e->tail = NULL;
	e->nrecs--;
	free(r);
}

/* A record of in, which resolves now; freed: in is about to be freed (it
 * then makes room for its record). */
static void rec_add(struct alert_engine *e, const struct erule *er, const struct inst *in,
                    bool freed)
{
	if (e->ninst - freed + e->nrecs >= ALERT_MAX_INSTANCES) {
		if (!e->head)
			return; /* all live: the note went out, the listing is skipped */
		rec_pop(e);
	}
	struct rec *r = xmalloc(sizeof(*r) + in->id_len + 1);
	r->next = NULL;
	r->rule = er;
	r->value = in->value;
	r->starts_ms = in->starts_ms;
	r->ends_ms = e->now;
	r->fp = in->fp;
	r->id_len = in->id_len;
	memcpy(r->id, in->id, in->id_len);
	r->id[in->id_len] = '\0';
	if (e->tail)
		e->tail->next = r;
	else
		e->head = r;
	e->tail = r;
	e->nrecs++;
}

/* Drops the resolved records of rule er. */
static void rec_drop_rule(struct alert_engine *e, const struct erule *er)
{
	struct rec **pp = &e->head, *last = NULL;
	while (*pp) {
		struct rec *r = *pp;
		if (r->rule == er) {
			*pp = r->next;
			free(r);
			e->nrecs--;
			e->changed = true;
		} else {
			last = r;
			pp = &r->next;
		}
	}
	e->tail = last;
}

/* ---- engine ------------------------------------------------------------ */

struct alert_engine *alert_engine_new(void)
{
	return xcalloc(1, sizeof(struct alert_engine));
}

void alert_engine_free(struct alert_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nrules; i++)
		erule_free(e, e->rules[i]);
	for (size_t i = 0; i < e->nretired; i++)
		erule_free(e, e->retired[i]);
	while (e->head)
		rec_pop(e);
	free(e->rules);
	free(e->retired);
	free(e->del);
	free(e);
}

static bool has_firing(const struct erule *er)
{
	size_t pos = 0;
	const struct inst *in;
	while ((in = htab_next(er->inst, &pos)) != NULL)
		if (in->st == ALERT_FIRING)
			return true;
	return false;
}

void alert_engine_set_rules(struct alert_engine *e, const struct rules *r)
{
	size_t n = r ? r->nalerts : 0;
	struct erule **next = n ? xcalloc(n, sizeof(*next)) : NULL;

	for (size_t i = 0; i < n; i++) {
		const struct alert_rule *a = &r->alerts[i];
		for (size_t j = 0; j < e->nrules && !next[i]; j++) {
			if (e->rules[j] && same_rule(&e->rules[j]->r, a)) {
				next[i] = e->rules[j];
				e->rules[j] = NULL;
			}
		}
		if (!next[i])
			next[i] = erule_new(a);
	}
	for (size_t j = 0; j < e->nrules; j++) {
		struct erule *er = e->rules[j];
		if (!er)
			continue;
		rec_drop_rule(e, er);
		if (htab_count(er->inst) > 0)
			e->changed = true;
		if (has_firing(er)) {
			e->retired = xrealloc(e->retired, (e->nretired + 1) * sizeof(*e->retired));
			e->retired[e->nretired++] = er;
		} else {
			erule_free(e, er);
		}
	}
	free(e->rules);
	e->rules = next;
	e->nrules = n;
}

void alert_engine_begin(struct alert_engine *e, int64_t now_ms)
{
	e->gen++;
	e->now = now_ms;
}

static bool compare(double v, enum alert_op op, double t)
{
	if (isnan(v))
		return false;
	switch (op) {
	case ALERT_GT:
		return v > t;
	case ALERT_GE:
		return v >= t;
	case ALERT_LT:
		return v < t;
	case ALERT_LE:
		return v <= t;
	case ALERT_EQ:
		return v == t;
	case ALERT_NE:
		return v != t;
	}
	return false;
}

static struct inst *inst_new(struct alert_engine *e, struct erule *er, const struct alert_input *in,
                             uint64_t hash)
{
	if (e->ninst + e->nrecs >= ALERT_MAX_INSTANCES) {
		if (!e->head) {
			e->dropped++;
			return NULL;
		}
		rec_pop(e);
		e->changed = true;
	}
	struct inst *s = xmalloc(sizeof(*s) + in->id_len + 1);
	s->st = er->r.kind == ALERT_ABSENT ? ST_IDLE : ALERT_PENDING;
	s->cond = false;
	s->seen = 0;
	s->hash = hash;
	s->value = NAN;
	s->since_ms = e->now;
	s->starts_ms = 0;
	s->notified_ms = 0;
	s->fp = alert_fingerprint(er->r.name, in->id, in->id_len);
	s->id_len = in->id_len;
	s->name_len = in->name_len;
	memcpy(s->id, in->id, in->id_len);
	s->id[in->id_len] = '\0';
	htab_put(er->inst, s->id, s->id_len, hash, s);
	e->ninst++;
	if (s->st == ALERT_PENDING)
		e->changed = true;
	return s;
}

void alert_engine_observe(struct alert_engine *e, const struct alert_input *in)
{
	uint64_t hash = 0;

	for (size_t i = 0; i < e->nrules; i++) {
		struct erule *er = e->rules[i];
		if (!glob_match(&er->metric, in->id, in->name_len))
			continue;
		if (er->r.ntags &&
		    !tags_match(er, in->id + in->name_len, in->id_len - in->name_len))
			continue;
		double v = NAN;
		bool cond;
		if (er->r.kind == ALERT_THRESHOLD) {
			if (in->value)
				v = in->value(in->ctx, er->r.window, er->r.stat);
			cond = compare(v, er->r.op, er->r.threshold);
		} else if (er->r.kind == ALERT_ANOMALY) {
			cond = in->anomalous && in->anomalous(in->ctx, er->r.stat, &v);
		} else {
			cond = !in->has_data;
		}
		/* A threshold or anomaly series with no instance and a false
		 * condition needs nothing: not observed reads as false too. */
		if (er->r.kind != ALERT_ABSENT && !cond && htab_count(er->inst) == 0)
			continue;
		if (hash == 0)
			hash = htab_hash(in->id, in->id_len);
		struct inst *s = htab_get(er->inst, in->id, in->id_len, hash);
		if (!s) {
			if (er->r.kind != ALERT_ABSENT && !cond)
				continue;
			s = inst_new(e, er, in, hash);
			if (!s)
				continue;
		}
		if (s->seen != e->gen) {
			s->seen = e->gen;
			s->cond = cond;
			if (!isnan(v))
				s->value = v;
		} else if (er->r.kind == ALERT_ABSENT) {
			s->cond = s->cond && cond;
		} else if (cond) {
			s->cond = true;
			if (!isnan(v))
				s->value = v;
		}
	}
}

static void note(const struct erule *er, const struct inst *s, enum alert_state st, bool repeat,
                 int64_t ends_ms, void (*emit)(void *, const struct alert_note *), void *ctx)
{
	struct alert_note n = {.rule = &er->r,
	                       .series = s->id,
	                       .series_len = s->id_len,
	                       .name_len = s->name_len,
	                       .state = st,
	                       .repeat = repeat,
	                       .value = s->value,
	                       .starts_ms = s->starts_ms,
	                       .ends_ms = ends_ms,
	                       .fingerprint = s->fp};
	emit(ctx, &n);
}

/* One instance's step at the end of a flush. Returns true when it is to be
 * deleted. */
static bool step(struct alert_engine *e, const struct erule *er, struct inst *s,
                 void (*emit)(void *, const struct alert_note *), void *ctx)
{
	bool observed = s->seen == e->gen;
	bool absent = er->r.kind == ALERT_ABSENT;
	bool cond = absent ? !observed || s->cond : observed && s->cond;

	if (s->st == ST_IDLE) {
		if (!cond)
			return false;
		s->st = ALERT_PENDING;
		s->since_ms = e->now;
		e->changed = true;
	}
	if (s->st == ALERT_PENDING) {
		if (!cond) {
			e->changed = true;
			s->st = ST_IDLE;
			return !absent;
		}
		if (e->now - s->since_ms < er->r.for_ms)
			return false;
		s->st = ALERT_FIRING;
		s->since_ms = s->starts_ms = s->notified_ms = e->now;
		e->changed = true;
		note(er, s, ALERT_FIRING, false, 0, emit, ctx);
		return false;
	}
	/* firing */
	if (!cond) {
		note(er, s, ALERT_RESOLVED, false, e->now, emit, ctx);
		rec_add(e, er, s, !absent);
		e->changed = true;
		s->st = ST_IDLE;
		return !absent;
	}
	if (er->r.repeat_ms > 0 && e->now - s->notified_ms >= er->r.repeat_ms) {
		s->notified_ms = e->now;
		e->changed = true;
		note(er, s, ALERT_FIRING, true, 0, emit, ctx);
	}
	return false;
}

bool alert_engine_end(struct alert_engine *e, void (*emit)(void *ctx, const struct alert_note *n),
                      void *ctx)
{
	for (size_t i = 0; i < e->nretired; i++) {
		struct erule *er = e->retired[i];
		size_t pos = 0;
		const struct inst *s;
		while ((s = htab_next(er->inst, &pos)) != NULL)
			if (s->st == ALERT_FIRING)
				note(er, s, ALERT_RESOLVED, false, e->now, emit, ctx);
		erule_free(e, er);
		e->changed = true;
	}
	e->nretired = 0;

	for (size_t i = 0; i < e->nrules; i++) {
		struct erule *er = e->rules[i];
		size_t pos = 0;
		struct inst *s;
		e->ndel = 0;
		while ((s = htab_next(er->inst, &pos)) != NULL) {
			if (!step(e, er, s, emit, ctx))
				continue;
			e->ninst--; /* counted out now: it makes room at once */
			if (e->ndel == e->capdel) {
				e->capdel = e->capdel ? e->capdel * 2 : 64;
				e->del = xrealloc(e->del, e->capdel * sizeof(*e->del));
			}
			e->del[e->ndel++] = s;
		}
		for (size_t j = 0; j < e->ndel; j++) {
			s = e->del[j];
			htab_del(er->inst, s->id, s->id_len, s->hash);
			free(s);
		}
	}

	while (e->head && e->now - e->head->ends_ms >= ALERT_RESOLVED_KEEP_MS) {
		rec_pop(e);
		e->changed = true;
	}
	bool changed = e->changed;
	e->changed = false;
	return changed;
}

void alert_engine_each(const struct alert_engine *e,
                       void (*fn)(void *ctx, const struct alert_view *v), void *ctx)
{
	for (size_t i = 0; i < e->nrules; i++) {
		const struct erule *er = e->rules[i];
		size_t pos = 0;
		const struct inst *s;
		while ((s = htab_next(er->inst, &pos)) != NULL) {
			if (s->st == ST_IDLE)
				continue;
			struct alert_view v = {.rule = &er->r,
			                       .series = s->id,
			                       .series_len = s->id_len,
			                       .state = (enum alert_state)s->st,
			                       .value = s->value,
			                       .since_ms = s->since_ms,
			                       .starts_ms = s->starts_ms,
			                       .last_notified_ms = s->notified_ms,
			                       .fingerprint = s->fp};
			fn(ctx, &v);
		}
	}
	for (const struct rec *r = e->head; r; r = r->next) {
		struct alert_view v = {.rule = &r->rule->r,
		                       .series = r->id,
		                       .series_len = r->id_len,
		                       .state = ALERT_RESOLVED,
		                       .value = r->value,
		                       .since_ms = r->ends_ms,
		                       .starts_ms = r->starts_ms,
		                       .last_notified_ms = r->ends_ms,
		                       .fingerprint = r->fp};
		fn(ctx, &v);
	}
}

size_t alert_engine_count(const struct alert_engine *e, enum alert_state st)
{
	if (st == ALERT_RESOLVED)
		return e->nrecs;
	size_t n = 0;
	for (size_t i = 0; i < e->nrules; i++) {
		size_t pos = 0;
		const struct inst *s;
		while ((s = htab_next(e->rules[i]->inst, &pos)) != NULL)
			n += s->st == (int)st;
	}
	return n;
}

uint64_t alert_engine_dropped(const struct alert_engine *e)
{
	return e->dropped;
}
