/* selfstats: the self-stats table generated from SELFSTATS_FIELDS, the
 * global totals, and the Prometheus rendering. It does not decide where the
 * numbers go to Graphite (gfmt does) nor who increments them. */
#include "selfstats.h"

#include <stddef.h>

struct selfstats selfstats;

const struct selfstats_desc selfstats_desc[] = {
#define SELFSTATS_DESC(kind, field, help)                                                          \
	{#kind[0], #field, help, offsetof(struct selfstats, field)},
    SELFSTATS_FIELDS(SELFSTATS_DESC)
#undef SELFSTATS_DESC
};
const size_t selfstats_count = sizeof(selfstats_desc) / sizeof(selfstats_desc[0]);

void selfstats_add_counters(struct selfstats *dst, const struct selfstats *src)
{
#define SELFSTATS_ADD_C(field) dst->field += src->field;
#define SELFSTATS_ADD_G(field)
#define SELFSTATS_ADD(kind, field, help) SELFSTATS_ADD_##kind(field)
	SELFSTATS_FIELDS(SELFSTATS_ADD)
#undef SELFSTATS_ADD
#undef SELFSTATS_ADD_G
#undef SELFSTATS_ADD_C
}

void selfstats_prometheus(const struct selfstats *s, struct buf *out)
{
	for (size_t i = 0; i < selfstats_count; i++) {
		const struct selfstats_desc *d = &selfstats_desc[i];
		const char *suffix = d->kind == 'C' ? "_total" : "";
		buf_printf(out, "# HELP tallyd_%s%s %s\n", d->name, suffix, d->help);
		buf_printf(out, "# TYPE tallyd_%s%s %s\n", d->name, suffix,
		           d->kind == 'C' ? "counter" : "gauge");
		buf_printf(out, "tallyd_%s%s %llu\n", d->name, suffix,
		           (unsigned long long)selfstats_value(s, i));
	}
}
