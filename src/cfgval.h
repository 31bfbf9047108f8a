/* cfgval: the typed values of the configuration — strict parsers from text
 * and formatters back to the text they read — for addresses, booleans,
 * integers, numbers, durations, sizes, log levels, names, percentiles,
 * window quantiles, duration lists, histograms and tag styles. Domain layer:
 * pure. Bounds from the config table (ranges, lengths, list sizes) are
 * checked by config, not here. */
#ifndef TALLYD_CFGVAL_H
#define TALLYD_CFGVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct config_histogram; /* config.h */

/* Every parser reads the whole of s (len bytes, not necessarily
 * NUL-terminated), returns false on anything else and then writes a
 * reason naming the bad text to why and leaves *out alone. */

/* host:port, [v6-address]:port or empty; checks the syntax only. */
bool cfgval_address(const char *s, size_t len, char *why, size_t whylen);

/* The port of an address that cfgval_address accepted, or -1 if empty. */
int64_t cfgval_address_port(const char *addr);

/* true/false, yes/no, on/off, 1/0 in any letter case. */
bool cfgval_bool(const char *s, size_t len, bool *out, char *why, size_t whylen);

/* Decimal integer with optional sign (num_parse_int64). */
bool cfgval_int(const char *s, size_t len, int64_t *out, char *why, size_t whylen);

/* A finite number (num_parse_double: decimal, exponent or hex). */
bool cfgval_double(const char *s, size_t len, double *out, char *why, size_t whylen);

/* Milliseconds: an integer with unit ms, s, m, h or d (bare = seconds). */
bool cfgval_duration(const char *s, size_t len, int64_t *out, char *why, size_t whylen);

/* Bytes: an integer with optional k, m or g (powers of 1024). */
bool cfgval_size(const char *s, size_t len, int64_t *out, char *why, size_t whylen);

/* error, warn, info or debug (s is NUL-terminated at s[len]). */
bool cfgval_log_level(const char *s, size_t len, int *out, char *why, size_t whylen);

/* A part of a metric name: refuses whitespace (length is the caller's). */
bool cfgval_name(const char *s, size_t len, char *why, size_t whylen);

/* "90, -10 99.9": at least one, each in [-100, 100] and not 0, no
 * duplicates. *out is a new array the caller frees. */
bool cfgval_percentiles(const char *s, size_t len, double **out, size_t *nout, char *why,
                        size_t whylen);

/* Window quantiles in percent: percentiles as above, each greater than 0 and
 * less than 100, no two with the same reported name (9.99 and 99.9 are both
 * p999). *out is a new array the caller frees. */
bool cfgval_quantiles(const char *s, size_t len, double **out, size_t *nout, char *why,
                      size_t whylen);

/* "1m, 5m 15m": at least one duration, each more than 0, strictly
 * ascending. *out is a new array the caller frees. */
bool cfgval_durations(const char *s, size_t len, int64_t **out, size_t *nout, char *why,
                      size_t whylen);

/* "render:0.01,0.1,inf; :50,100; debug:" — entries metric:bins, bins
 * strictly ascending, inf only last; empty = none (*out NULL). *out is a
 * new array the caller frees with cfgval_free_histograms. */
bool cfgval_histograms(const char *s, size_t len, struct config_histogram **out, size_t *nout,
                       char *why, size_t whylen);
void cfgval_free_histograms(struct config_histogram *h, size_t n); /* NULL, 0 is a no-op */

/* "librato, influxdb signalfx" to TAG_STYLE_* bits; empty = 0. */
bool cfgval_tag_styles(const char *s, size_t len, unsigned *out, char *why, size_t whylen);

/* Formatters append the value in the syntax its parser reads: durations
 * and sizes in the largest unit that divides them ("2m", "64k", "1000"),
 * lists comma-separated, bins with "inf". */
void cfgval_format_duration(struct buf *b, int64_t ms);
void cfgval_format_size(struct buf *b, int64_t bytes);
void cfgval_format_percentiles(struct buf *b, const double *v, size_t n);
void cfgval_format_durations(struct buf *b, const int64_t *ms, size_t n);
void cfgval_format_histograms(struct buf *b, const struct config_histogram *h, size_t n);
void cfgval_format_tag_styles(struct buf *b, unsigned bits);

/* The name a window quantile is reported under: "p" and the percentile as
 * written by cfgval_format_percentiles without its '.' (50 -> p50,
 * 99.9 -> p999, 0.5 -> p05). */
void cfgval_format_quantile_name(struct buf *b, double pct);

#endif
