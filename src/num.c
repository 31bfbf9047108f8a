/* num: strict parsers (double, int64, duration, size) for config and wire
 * input, and a JavaScript-compatible shortest round-trip number formatter.
 * Does not depend on the locale beyond the "C" locale tallyd never changes. */
#include "num.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Fast path for the common wire forms "123", "-4.25", "0.5": at most 15
 * significant digits and no exponent, so the mantissa is an exact double and
 * one division by an exact power of ten gives the correctly rounded result
 * (the same double strtod returns). Anything else returns false and goes to
 * strtod. */
static bool parse_simple_decimal(const char *s, size_t len, double *out)
{
	static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
	                               1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	size_t i = 0, digits = 0, frac = 0;
	bool neg = false, dot = false;
	uint64_t mant = 0;

	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	for (; i < len; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9') {
			if (++digits > 15)
				return false;
			mant = mant * 10 + (uint64_t)(c - '0');
			frac += dot;
		} else if (c == '.' && !dot) {
			dot = true;
		} else {
			return false;
		}
	}
	if (digits == 0)
		return false;
	double v = (double)mant / pow10[frac];
	*out = neg ? -v : v;
	return true;
}

bool num_parse_double(const char *s, size_t len, double *out)
{
	char tmp[128];
	char *end;
	double v;

	while (len > 0 && is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(tmp))
		return false;
	if (parse_simple_decimal(s, len, out))
		return true;
	/* strtod also takes "inf", "infinity" and "nan(...)": all are consumed
	 * whole and then rejected below as non-finite. */
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	v = strtod(tmp, &end);
	if (end != tmp + len)
		return false;
	if (!isfinite(v))
		return false;
	*out = v;
	return true;
}

bool num_parse_int64(const char *s, size_t len, int64_t *out)
{
	char tmp[32];
	char *end;
	long long v;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (is_space(tmp[0]))
		return false;
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno != 0 || end != tmp + len)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool parse_scaled(const char *s, size_t len, const char *const *units, const int64_t *scale,
                         size_t nunits, int64_t bare, int64_t *out)
{
	size_t n = 0;
	int64_t v;

	while (n < len && s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || !num_parse_int64(s, n, &v))
		return false;
	int64_t mul = -1;
	if (n == len) {
		mul = bare;
	} else {
		for (size_t i = 0; i < nunits; i++) {
			if (strlen(units[i]) == len - n && memcmp(units[i], s + n, len - n) == 0) {
				mul = scale[i];
				break;
			}
		}
	}
	if (mul < 0 || (v != 0 && v > INT64_MAX / mul))
		return false;
	*out = v * mul;
	return true;
}

bool num_parse_duration_ms(const char *s, size_t len, int64_t *out)
{
	static const char *const units[] = {"ms", "s", "m", "h", "d"};
	static const int64_t scale[] = {1, 1000, 60000, 3600000, 86400000};
	return parse_scaled(s, len, units, scale, 5, 1000, out);
}

bool num_parse_size(const char *s, size_t len, int64_t *out)
{
	static const char *const units[] = {"k", "K", "m", "M", "g", "G"};
	static const int64_t scale[] = {1024, 1024, 1 << 20, 1 << 20, 1 << 30, 1 << 30};
	return parse_scaled(s, len, units, scale, 6, 1, out);
}

size_t num_format(double v, char *buf)
{
	char tmp[40], digits[20];
	size_t nd = 0, o = 0;
	int exp10, point;

	if (isnan(v))
		return (size_t)snprintf(buf, NUM_FMT_MAX, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, NUM_FMT_MAX, v < 0 ? "-Infinity" : "Infinity");
	if (v == 0) {
		buf[0] = '0';
		buf[1] = '\0';
		return 1;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	/* tmp is "-d.ddde+XX": collect the digits and the exponent. */
	const char *p = tmp;
	if (*p == '-') {
		buf[o++] = '-';
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	exp10 = (int)strtol(p + 1, NULL, 10); /* snprintf wrote a well-formed exponent */
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	point = exp10 + 1; /* position of the decimal point after digit 0 */

	if ((int)nd <= point && point <= 21) {
		memcpy(buf + o, digits, nd);
		o += nd;
		for (int i = (int)nd; i < point; i++)
			buf[o++] = '0';
	} else if (0 < point && point <= 21) {
		memcpy(buf + o, digits, (size_t)point);
		o += (size_t)point;
		buf[o++] = '.';
		memcpy(buf + o, digits + point, nd - (size_t)point);
		o += nd - (size_t)point;
	} else if (-6 < point && point <= 0) {
		buf[o++] = '0';
		buf[o++] = '.';
		for (int i = 0; i < -point; i++)
			buf[o++] = '0';
		memcpy(buf + o, digits, nd);
		o += nd;
	} else {
		buf[o++] = digits[0];
		if (nd > 1) {
			buf[o++] = '.';
			memcpy(buf + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += (size_t)snprintf(buf + o, NUM_FMT_MAX - o, "e%c%d", point - 1 < 0 ? '-' : '+',
		                      abs(point - 1));
	}
	buf[o] = '\0';
	return o;
}
