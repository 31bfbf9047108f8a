/* num: strict number parsing and number formatting. Foundation layer.
 * Parsers return false (and leave *out alone) unless the whole input is a
 * valid number; the formatter prints the shortest string that reads back
 * as the same double, laid out as JavaScript's Number#toString does, so
 * Graphite values are byte-identical to the reference statsd's. */
#ifndef TALLYD_NUM_H
#define TALLYD_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Surrounding ASCII whitespace is skipped. Accepts decimal, exponent and hex
 * (0x10, 0x1p-2) forms; rejects empty input, trailing junk, NaN and +-Inf
 * (including overflow such as 1e400). */
bool num_parse_double(const char *s, size_t len, double *out);

/* Decimal integer with optional sign, no whitespace, no overflow. */
bool num_parse_int64(const char *s, size_t len, int64_t *out);

/* Duration: integer with unit ms, s, m, h, d (bare integer = seconds). */
bool num_parse_duration_ms(const char *s, size_t len, int64_t *out);

/* Byte size: integer with optional k, m, g suffix (powers of 1024). */
bool num_parse_size(const char *s, size_t len, int64_t *out);

/* Formats v like JavaScript's String(v): "5", "0.5", "1e+21", "1e-7",
 * "Infinity", "NaN". buf needs NUM_FMT_MAX bytes; returns the length. */
#define NUM_FMT_MAX 32
size_t num_format(double v, char *buf);

#endif
