/* test_num: table-driven tests of the strict number parsers (double, int64,
 * duration, size) and of num_format against JavaScript's String(x) (the
 * expected strings were produced with node; the test does not run node).
 * Run by make check. */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

struct dcase {
	const char *in;
	bool ok;
	double want;
};

static void test_parse_double(void)
{
	static const struct dcase cases[] = {
	    {"0", true, 0},           {"5", true, 5},
	    {"-5", true, -5},         {"+5", true, 5},
	    {"3.25", true, 3.25},     {".5", true, 0.5},
	    {"5.", true, 5},          {"-0.125", true, -0.125},
	    {"1e3", true, 1000},      {"1E3", true, 1000},
	    {"1.5e-3", true, 0.0015}, {"2e+2", true, 200},
	    {"0x10", true, 16},       {"0X1f", true, 31},
	    {"0x1p-2", true, 0.25},   {"0x1.8p1", true, 3},
	    {" 42", true, 42},        {"42 ", true, 42},
	    {"\t 42 \n", true, 42},   {"\r\n7\r\n", true, 7},
	    {"1e-400", true, 0}, /* underflows to 0, as JavaScript's Number() */
	    {"5e-324", true, 5e-324}, {"1.7976931348623157e308", true, 1.7976931348623157e308},
	    {"", false, 0},           {" ", false, 0},
	    {"\t\n", false, 0},       {"NaN", false, 0},
	    {"nan", false, 0},        {"nan(123)", false, 0},
	    {"Inf", false, 0},        {"inf", false, 0},
	    {"-inf", false, 0},       {"Infinity", false, 0},
	    {"-Infinity", false, 0},  {"1e400", false, 0},
	    {"-1e400", false, 0},     {"1.8e308", false, 0},
	    {"abc", false, 0},        {"1a", false, 0},
	    {"a1", false, 0},         {"1 2", false, 0},
	    {"1,5", false, 0},        {"1e", false, 0},
	    {"1e+", false, 0},        {".", false, 0},
	    {"-", false, 0},          {"+", false, 0},
	    {"0x", false, 0},         {"--1", false, 0},
	    {"1..2", false, 0},       {"0xg", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *c = &cases[i];
		double out = 12345;
		bool ok = num_parse_double(c->in, strlen(c->in), &out);
		CU_ASSERT_EQUAL(ok, c->ok);
		if (ok != c->ok)
			fprintf(stderr, "num_parse_double case %zu \"%s\": got %d\n", i, c->in, ok);
		/* *out is left alone on failure */
		CU_ASSERT_DOUBLE_EQUAL(out, c->ok ? c->want : 12345, 0);
	}
	/* The span is the input: bytes after len are not read. */
	double out = 0;
	CU_ASSERT_TRUE(num_parse_double("12x", 2, &out));
	CU_ASSERT_DOUBLE_EQUAL(out, 12, 0);
	CU_ASSERT_TRUE(num_parse_double("-0", 2, &out));
	CU_ASSERT_TRUE(out == 0 && signbit(out));
	CU_ASSERT_FALSE(num_parse_double("12\0003", 4, &out)); /* NUL inside the span */
	/* Longer than any number needs: rejected, never cut. */
	char big[300];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_FALSE(num_parse_double(big, strlen(big), &out));
}

struct icase {
	const char *in;
	bool ok;
	int64_t want;
};

/* The decimal fast path must return exactly what strtod returns: random
 * decimal strings of 1..18 digits with and without a point and a sign (the
 * fast path takes up to 15 digits; longer ones fall back to strtod). */
static void test_parse_double_matches_strtod(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	unsigned mismatches = 0;
	for (int i = 0; i < 200000; i++) {
		char buf[40];
		size_t o = 0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (x & 1)
			buf[o++] = (x & 2) ? '-' : '+';
		int ndig = 1 + (int)((x >> 8) % 18);
		int point = (int)((x >> 16) % (uint64_t)(ndig + 2)) - 1; /* -1: none */
		uint64_t y = x;
		for (int d = 0; d < ndig; d++) {
			if (d == point)
				buf[o++] = '.';
			buf[o++] = (char)('0' + (y % 10));
			y = y / 10 ^ (y << 29);
		}
		if (point == ndig)
			buf[o++] = '.';
		buf[o] = '\0';
		double got = 0, want = strtod(buf, NULL);
		bool ok = num_parse_double(buf, o, &got);
		if (!ok || memcmp(&got, &want, sizeof(double)) != 0) {
			if (mismatches++ < 5)
				fprintf(stderr, "\n  %s: got %.17g want %.17g\n", buf, got, want);
		}
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	/* boundaries of the fast path */
	static const char *const edge[] = {"999999999999999",
	                                   "9999999999999999",
	                                   "0.000000000000001",
	                                   "1.",
	                                   ".5",
	                                   "-0",
	                                   "+.5",
	                                   "0.1",
	                                   "123456789012345.6"};
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		double got = 0, want = strtod(edge[i], NULL);
		CU_ASSERT(num_parse_double(edge[i], strlen(edge[i]), &got));
		CU_ASSERT(memcmp(&got, &want, sizeof(double)) == 0);
	}
	double v;
	CU_ASSERT_FALSE(num_parse_double("1.2.3", 5, &v));
	CU_ASSERT_FALSE(num_parse_double("-", 1, &v));
	CU_ASSERT_FALSE(num_parse_double(".", 1, &v));
	CU_ASSERT_FALSE(num_parse_double("+-1", 3, &v));
}

static void test_parse_int64(void)
{
	static const struct icase cases[] = {
	    {"0", true, 0},
	    {"7", true, 7},
	    {"-7", true, -7},
	    {"+7", true, 7},
	    {"007", true, 7},
	    {"9223372036854775807", true, INT64_MAX},
	    {"-9223372036854775808", true, INT64_MIN},
	    {"9223372036854775808", false, 0},
	    {"-9223372036854775809", false, 0},
	    {"99999999999999999999", false, 0},
	    {"", false, 0},
	    {" 7", false, 0},
	    {"7 ", false, 0},
	    {"\t7", false, 0},
	    {"1.0", false, 0},
	    {"1e3", false, 0},
	    {"0x10", false, 0},
	    {"7a", false, 0},
	    {"-", false, 0},
	    {"+", false, 0},
	    {"--7", false, 0},
	    {"abc", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct icase *c = &cases[i];
		int64_t out = 4242;
		bool ok = num_parse_int64(c->in, strlen(c->in), &out);
		CU_ASSERT_EQUAL(ok, c->ok);
		if (ok != c->ok)
			fprintf(stderr, "num_parse_int64 case %zu \"%s\": got %d\n", i, c->in, ok);
		CU_ASSERT_EQUAL(out, c->ok ? c->want : 4242);
	}
	int64_t out = 0;
	CU_ASSERT_TRUE(num_parse_int64("123456", 3, &out));
	CU_ASSERT_EQUAL(out, 123);
}

static void test_parse_duration(void)
{
	static const struct icase cases[] = {
	    {"0", true, 0},
	    {"10", true, 10000}, /* bare = seconds */
	    {"250ms", true, 250},
	    {"10s", true, 10000},
	    {"2m", true, 120000},
	    {"1h", true, 3600000},
	    {"1d", true, 86400000},
	    {"0ms", true, 0},
	    {"3650d", true, 3650LL * 86400000},
	    {"106751991167d", true, 106751991167LL * 86400000},
	    {"106751991168d", false, 0}, /* overflows int64 ms */
	    {"9223372036854775807ms", true, INT64_MAX},
	    {"9223372036854775807s", false, 0},
	    {"", false, 0},
	    {"s", false, 0},
	    {"ms", false, 0},
	    {"-1s", false, 0},
	    {"+1s", false, 0},
	    {"1.5s", false, 0},
	    {"10 s", false, 0},
	    {" 10s", false, 0},
	    {"10s ", false, 0},
	    {"10S", false, 0},
	    {"10sec", false, 0},
	    {"10us", false, 0},
	    {"10w", false, 0},
	    {"1h30m", false, 0},
	    {"0x10s", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct icase *c = &cases[i];
		int64_t out = 4242;
		bool ok = num_parse_duration_ms(c->in, strlen(c->in), &out);
		CU_ASSERT_EQUAL(ok, c->ok);
		if (ok != c->ok)
			fprintf(stderr, "num_parse_duration_ms case %zu \"%s\": got %d\n", i, c->in,
			        ok);
		CU_ASSERT_EQUAL(out, c->ok ? c->want : 4242);
	}
}

static void test_parse_size(void)
{
	static const struct icase cases[] = {
	    {"0", true, 0},
	    {"512", true, 512},
	    {"1k", true, 1024},
	    {"1K", true, 1024},
	    {"64k", true, 65536},
	    {"8m", true, 8 << 20},
	    {"8M", true, 8 << 20},
	    {"1g", true, 1 << 30},
	    {"4G", true, 4LL << 30},
	    {"8589934591g", true, 8589934591LL << 30},
	    {"8589934592g", false, 0}, /* 2^63 overflows */
	    {"", false, 0},
	    {"k", false, 0},
	    {"-1", false, 0},
	    {"-1k", false, 0},
	    {"1.5m", false, 0},
	    {"1kb", false, 0},
	    {"1KiB", false, 0},
	    {"1t", false, 0},
	    {"1 k", false, 0},
	    {" 1k", false, 0},
	    {"1k ", false, 0},
	    {"1e3", false, 0},
	    {"0x400", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct icase *c = &cases[i];
		int64_t out = 4242;
		bool ok = num_parse_size(c->in, strlen(c->in), &out);
		CU_ASSERT_EQUAL(ok, c->ok);
		if (ok != c->ok)
			fprintf(stderr, "num_parse_size case %zu \"%s\": got %d\n", i, c->in, ok);
		CU_ASSERT_EQUAL(out, c->ok ? c->want : 4242);
	}
}

struct fcase {
	double v;
	const char *want; /* node -e 'console.log(String(v))' */
};

static void test_format(void)
{
	static const struct fcase cases[] = {
	    {0.1 + 0.2, "0.30000000000000004"},
	    {620.0 / 3, "206.66666666666666"},
	    {1e21, "1e+21"},
	    {123456789012345680000.0, "123456789012345680000"},
	    {1e20, "100000000000000000000"},
	    {999999999999999900000.0, "999999999999999900000"},
	    {1e-7, "1e-7"},
	    {-1e-7, "-1e-7"},
	    {1.5e-7, "1.5e-7"},
	    {5e-7, "5e-7"},
	    {0.000001, "0.000001"},
	    {-0.000001, "-0.000001"},
	    {0.0000015, "0.0000015"},
	    {0.000001234, "0.000001234"},
	    {2.5e-5, "0.000025"},
	    {1e-5 * 3, "0.000030000000000000004"},
	    {123e-20, "1.23e-18"},
	    {-5, "-5"},
	    {0, "0"},
	    {-0.0, "0"},
	    {0.5, "0.5"},
	    {-0.5, "-0.5"},
	    {0.3, "0.3"},
	    {4.35, "4.35"},
	    {0.1 + 0.7, "0.7999999999999999"},
	    {1.005 * 1000, "1004.9999999999999"},
	    {1.0 / 3, "0.3333333333333333"},
	    {50.00000000000001, "50.00000000000001"},
	    {100, "100"},
	    {255, "255"},
	    {1e6, "1000000"},
	    {123456.789, "123456.789"},
	    {9007199254740992.0, "9007199254740992"},
	    {9007199254740994.0, "9007199254740994"},
	    {9223372036854775808.0, "9223372036854776000"},
	    {12345678901234567890123.0, "1.2345678901234568e+22"},
	    {1e100, "1e+100"},
	    {-1.5e300, "-1.5e+300"},
	    {1.7976931348623157e308, "1.7976931348623157e+308"},
	    {2.2250738585072014e-308, "2.2250738585072014e-308"},
	    {5e-324, "5e-324"},
	    {1.5e-323, "1.5e-323"},
	    {INFINITY, "Infinity"},
	    {-INFINITY, "-Infinity"},
	    {NAN, "NaN"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[NUM_FMT_MAX];
		memset(buf, 'x', sizeof(buf));
		size_t n = num_format(cases[i].v, buf);
		CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
		CU_ASSERT_EQUAL(n, strlen(cases[i].want));
		if (strcmp(buf, cases[i].want) != 0)
			fprintf(stderr, "num_format case %zu: got \"%s\", want \"%s\"\n", i, buf,
			        cases[i].want);
	}
}

/* Every formatted finite value parses back to the same double. */
static void test_format_roundtrip(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t bad = 0;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double v;
		memcpy(&v, &x, sizeof(v));
		if (!isfinite(v))
			continue;
		char buf[NUM_FMT_MAX];
		size_t n = num_format(v, buf);
		double back;
		if (n >= NUM_FMT_MAX || !num_parse_double(buf, n, &back) || back != v) {
			if (bad++ < 5)
				fprintf(stderr, "round trip failed for %a: \"%s\"\n", v, buf);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("num", NULL, NULL);
	if (!s || !CU_add_test(s, "parse_double", test_parse_double) ||
	    !CU_add_test(s, "parse_double_matches_strtod", test_parse_double_matches_strtod) ||
	    !CU_add_test(s, "parse_int64", test_parse_int64) ||
	    !CU_add_test(s, "parse_duration_ms", test_parse_duration) ||
	    !CU_add_test(s, "parse_size", test_parse_size) ||
	    !CU_add_test(s, "format_like_javascript", test_format) ||
	    !CU_add_test(s, "format_roundtrip", test_format_roundtrip)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
}
