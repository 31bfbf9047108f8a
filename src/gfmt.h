/* gfmt: formats one flush of the registry as Graphite plaintext lines with
 * the reference statsd's names and values (legacy or non-legacy namespace,
 * global suffix, tags last), plus the reference's internal statsd.* lines
 * and tallyd's own self-stats. Domain layer: pure (no sockets). */
#ifndef TALLYD_GFMT_H
#define TALLYD_GFMT_H

#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "registry.h"
#include "selfstats.h"

/* Appends every line of the flush at unix time ts to out. delta holds this
 * interval's self-stats counter increments; totals the global self-stats
 * (gauges such as graphite_last_flush are read from it). Timer sample arrays
 * in the registry are sorted in place. Returns the number of lines. */
size_t gfmt_flush(struct registry *r, const struct config *cfg, int64_t ts,
                  const struct selfstats *delta, const struct selfstats *totals, struct buf *out);

#endif
