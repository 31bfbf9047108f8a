/* test_ini: the INI reader and the value syntax. Files written to mkstemp
 * files are read with a handler that knows sections "a" and "b", refuses
 * the key "bad" and records every call; each case checks that transcript
 * and the exact error (table-driven). Also long lines, unreadable files,
 * ini_unquote / ini_quote cases and their round trip. Run by make check. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ini.h"

/* ---- a recording handler ----------------------------------------------- */

struct rec {
	struct buf t; /* "S name\n" per header, "LINE SECTION KEY=VALUE\n" per key */
};

static bool rec_section(void *ctx, const char *name, size_t len, unsigned long line)
{
	struct rec *r = ctx;
	buf_printf(&r->t, "S %.*s\n", (int)len, name);
	return (len == 1 && (name[0] == 'a' || name[0] == 'b'));
}

static int rec_key(void *ctx, const struct ini_item *it, char *why, size_t whylen)
{
	struct rec *r = ctx;
	buf_printf(&r->t, "%lu %s %.*s=%.*s\n", it->line, it->section ? it->section : "-",
	           (int)it->keylen, it->key, (int)it->vallen, it->value);
	if (it->keylen == 3 && memcmp(it->key, "bad", 3) == 0) {
		snprintf(why, whylen, "refused (%.*s)", (int)it->vallen, it->value);
		return -1;
	}
	return 0;
}

static const struct ini_handler rec_handler = {rec_section, rec_key};

/* Writes len bytes to a temporary file, reads it with the recording
 * handler, removes it. The transcript is left in r->t (NUL-terminated). */
static int read_text(const char *text, size_t len, struct rec *r, char *path, size_t pathlen,
                     char *err, size_t errlen)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, pathlen, "%s/test_ini.XXXXXX", dir && dir[0] ? dir : "/tmp");
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);
	buf_reset(&r->t);
	buf_puts(&r->t, "");
	int rc = ini_read_file(path, &rec_handler, r, err, errlen);
	unlink(path);
	return rc;
}

/* ---- files ------------------------------------------------------------- */

struct file_case {
	const char *text;
	size_t len;        /* 0: strlen(text) */
	const char *trans; /* expected transcript */
	const char *err;   /* NULL: success; else the error after "PATH:" */
};

#define EXPECT_SYNTAX(got) "expected \"key = value\", \"[section]\" or a comment, got \"" got "\""

static const struct file_case file_cases[] = {
    /* comments, blank lines, BOM, CRLF, spaces, a last line without newline */
    {"\xef\xbb\xbf# c\r\n; c\r\n   # indented\n\t; tab\n\n  \n[a]\r\nk = v  \r\n  k2=\n"
     "[ b ]\nx\t=\t\"q  \"\n[a]\nlast = 1",
     0, "S a\n8 a k=v\n9 a k2=\nS b\n11 b x=\"q  \"\nS a\n13 a last=1\n", NULL},
    {"", 0, "", NULL},
    {"\n\n# only comments\n", 0, "", NULL},
    {"[a]\n", 0, "S a\n", NULL},
    /* the value is everything after the first '=', trimmed; no end-of-line comments */
    {"[a]\nk = x;y#z=w # not a comment\n", 0, "S a\n2 a k=x;y#z=w # not a comment\n", NULL},
    {"[a]\n  two words  =  a  b  \n", 0, "S a\n2 a two words=a  b\n", NULL},
    {"[a]\nk=\"unclosed\n", 0, "S a\n2 a k=\"unclosed\n", NULL}, /* quotes are the caller's */
    /* keys before any header reach the handler without a section */
    {"k = v\n[a]\n", 0, "1 - k=v\nS a\n", NULL},
    /* a byte order mark is skipped on the first line only */
    {"[a]\n\xef\xbb\xbfk = v\n", 0, "S a\n2 a \xef\xbb\xbfk=v\n", NULL},
    /* the handler's error, with the key; reading stops there */
    {"[a]\nbad = 1\nk = 2\n", 0, "S a\n2 a bad=1\n", "2: [a] bad: refused (1)"},
    {"bad = x\n", 0, "1 - bad=x\n", "1: bad: refused (x)"},
    /* unknown sections: at the first key, or at the header when it has none */
    {"[a]\n[zz]\n# c\nk = v\n", 0, "S a\nS zz\n", "4: [zz] k: unknown section (header on line 2)"},
    {"[zz]\n\n[a]\nk = v\n", 0, "S zz\n", "1: [zz]: unknown section"},
    {"[zz]\n[b\n", 0, "S zz\n", "1: [zz]: unknown section"},
    {"[a]\nk = 1\n[zz]\n", 0, "S a\n2 a k=1\nS zz\n", "3: [zz]: unknown section"},
    {"[zz]\nnoeq\n", 0, "S zz\n", "2: " EXPECT_SYNTAX("noeq")},
    {"[zz]\nk = a\0b\n", 13, "S zz\n", "2: NUL byte in line"},
    /* line syntax */
    {"[a]\nnoeq\n", 0, "S a\n", "2: [a]: " EXPECT_SYNTAX("noeq")},
    {"[a]\n = v\n", 0, "S a\n", "2: [a]: " EXPECT_SYNTAX("= v")},
    {"garbage\n", 0, "", "1: " EXPECT_SYNTAX("garbage")},
    {"[a\n", 0, "", "1: section header has no closing ']'"},
    {"[a]\n[b\n", 0, "S a\n", "2: section header has no closing ']'"},
    {"[ ]\n", 0, "", "1: empty section name"},
    {"[]\n", 0, "", "1: empty section name"},
    {"[a] # c\n", 0, "", "1: text after the section header \"[a] # c\""},
    {"[a]]\n", 0, "", "1: text after the section header \"[a]]\""},
    {"[a]\nk = a\0b\n", 12, "S a\n", "2: [a]: NUL byte in line"},
    {"# a\0b\n", 6, "", "1: NUL byte in line"},
    {"[a]\nk = a\rb\r\n", 0, "S a\n2 a k=a\rb\n", NULL}, /* a lone CR is the caller's */
};

static void test_files(void)
{
	struct rec r = {BUF_INIT};
	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
		const struct file_case *fc = &file_cases[i];
		char path[256], err[512] = "", want[768] = "";
		size_t len = fc->len ? fc->len : strlen(fc->text);
		int rc = read_text(fc->text, len, &r, path, sizeof(path), err, sizeof(err));
		if (fc->err)
			snprintf(want, sizeof(want), "%s:%s", path, fc->err);
		CU_ASSERT_EQUAL(rc, fc->err ? -1 : 0);
		CU_ASSERT_STRING_EQUAL(r.t.p, fc->trans);
		if (fc->err)
			CU_ASSERT_STRING_EQUAL(err, want);
		if (rc != (fc->err ? -1 : 0) || strcmp(r.t.p, fc->trans) != 0 ||
		    (fc->err && strcmp(err, want) != 0))
			fprintf(stderr, "\nfile case %zu: rc=%d\n  transcript '%s'\n  err '%s'\n",
			        i, rc, r.t.p, err);
	}
	buf_free(&r.t);
}

/* Long names are quoted back cut at INI_SHOW_MAX bytes. */
static void test_long_names(void)
{
	struct rec r = {BUF_INIT};
	char text[512], path[256], err[512], want[768];
	char k100[101], k64[65];
	memset(k100, 'k', 100);
	k100[100] = '\0';
	memset(k64, 'k', 64);
	k64[64] = '\0';

	snprintf(text, sizeof(text), "[a]\n%s\n", k100);
	CU_ASSERT_EQUAL(read_text(text, strlen(text), &r, path, sizeof(path), err, sizeof(err)),
	                -1);
	snprintf(want, sizeof(want), "%s:2: [a]: " EXPECT_SYNTAX("%s..."), path, k64);
	CU_ASSERT_STRING_EQUAL(err, want);

	snprintf(text, sizeof(text), "[%s]\n", k100);
	CU_ASSERT_EQUAL(read_text(text, strlen(text), &r, path, sizeof(path), err, sizeof(err)),
	                -1);
	snprintf(want, sizeof(want), "%s:1: [%s...]: unknown section", path, k64);
	CU_ASSERT_STRING_EQUAL(err, want);

	snprintf(text, sizeof(text), "[%s]\n%s = 1\n", k100, k100);
	CU_ASSERT_EQUAL(read_text(text, strlen(text), &r, path, sizeof(path), err, sizeof(err)),
	                -1);
	snprintf(want, sizeof(want), "%s:2: [%s...] %s...: unknown section (header on line 1)",
	         path, k64, k64);
	CU_ASSERT_STRING_EQUAL(err, want);

	/* A tiny err buffer is cut, still NUL-terminated. */
	char small[6];
	CU_ASSERT_EQUAL(read_text("x\n", 2, &r, path, sizeof(path), small, sizeof(small)), -1);
	CU_ASSERT_EQUAL(strlen(small), 5);
	CU_ASSERT_EQUAL(strncmp(small, path, 5), 0);
	buf_free(&r.t);
}

/* Lines of any length: a 100 KB comment and a 100 KB value. */
static void test_long_lines(void)
{
	const size_t big = 100000;
	size_t cap = 2 * big + 64, n = 0;
	char *text = malloc(cap);
	text[n++] = '#';
	memset(text + n, 'c', big);
	n += big;
	n += (size_t)snprintf(text + n, cap - n, "\n[b]\nlong = ");
	memset(text + n, 'v', big);
	n += big;
	n += (size_t)snprintf(text + n, cap - n, "\nafter = 1\n");

	struct rec r = {BUF_INIT};
	char path[256], err[512] = "";
	CU_ASSERT_EQUAL(read_text(text, n, &r, path, sizeof(path), err, sizeof(err)), 0);
	char *want = malloc(big + 64);
	int w = snprintf(want, big + 64, "S b\n3 b long=");
	memset(want + w, 'v', big);
	snprintf(want + w + big, 64, "\n4 b after=1\n");
	CU_ASSERT_STRING_EQUAL(r.t.p, want);
	free(want);
	free(text);
	buf_free(&r.t);
}

static void test_unreadable(void)
{
	struct rec r = {BUF_INIT};
	char err[256];
	CU_ASSERT_EQUAL(ini_read_file("/nonexistent/x.conf", &rec_handler, &r, err, sizeof(err)),
	                -1);
	CU_ASSERT_STRING_EQUAL(err, "/nonexistent/x.conf: No such file or directory");
	CU_ASSERT_EQUAL(ini_read_file("/", &rec_handler, &r, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "/: read error: Is a directory");
	CU_ASSERT_EQUAL(r.t.len, 0);
	buf_free(&r.t);
}

/* ---- the value syntax -------------------------------------------------- */

struct unq {
	const char *in;
	const char *out; /* NULL: an error */
	const char *why; /* the error */
};

static const struct unq unq_cases[] = {
    {"", "", NULL},
    {"plain", "plain", NULL},
    {"  \t spaced \t ", "spaced", NULL},
    {"a  b", "a  b", NULL},
    {"\"\"", "", NULL},
    {" \"  a  \" ", "  a  ", NULL},
    {"\"a\\\"b\\\\c\"", "a\"b\\c", NULL},
    {"\"#;=\"", "#;=", NULL},
    {"a\"b", "a\"b", NULL},
    {"a\\b", "a\\b", NULL},
    {"x;y#z", "x;y#z", NULL},
    {"a\tb", "a\tb", NULL},
    {"\"abc", NULL, "quoted value has no closing '\"'"},
    {"\"abc\\\"", NULL, "quoted value has no closing '\"'"},
    {"\"", NULL, "quoted value has no closing '\"'"},
    {"\"abc\"x", NULL, "text after the closing '\"' of a quoted value"},
    {"\"a\" \"b\"", NULL, "text after the closing '\"' of a quoted value"},
    {"\"a\\nb\"", NULL, "unknown escape in quoted value (only \\\" and \\\\ are allowed)"},
    {"\"a\\", NULL, "unknown escape in quoted value (only \\\" and \\\\ are allowed)"},
    {"a\001b", NULL, "control character 0x01 in value"},
    {"a\rb", NULL, "control character 0x0d in value"},
    {"a\nb", NULL, "control character 0x0a in value"},
    {"a\177b", NULL, "control character 0x7f in value"},
    {"\"a\001\"", NULL, "control character 0x01 in value"},
};

static void test_unquote(void)
{
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < sizeof(unq_cases) / sizeof(unq_cases[0]); i++) {
		const struct unq *u = &unq_cases[i];
		char why[256] = "(unset)";
		bool ok = ini_unquote(u->in, strlen(u->in), &out, why, sizeof(why));
		CU_ASSERT_EQUAL(ok, u->out != NULL);
		if (u->out) {
			CU_ASSERT_EQUAL(out.len, strlen(u->out));
			CU_ASSERT_STRING_EQUAL(out.p, u->out);
		} else {
			CU_ASSERT_STRING_EQUAL(why, u->why);
		}
		if (ok != (u->out != NULL) || (ok && strcmp(out.p, u->out) != 0) ||
		    (!ok && strcmp(why, u->why) != 0))
			fprintf(stderr, "\nunquote case %zu: ok=%d out='%s' why='%s'\n", i, ok,
			        ok ? out.p : "", why);
	}
	/* Only len bytes are read; s need not be NUL-terminated. */
	CU_ASSERT_TRUE(ini_unquote("\"ab\"cd", 4, &out, NULL, 0));
	CU_ASSERT_STRING_EQUAL(out.p, "ab");
	buf_free(&out);
}

struct quo {
	const char *in;
	const char *out;
};

static const struct quo quo_cases[] = {
    {"", ""},
    {"abc", "abc"},
    {"a b", "a b"},
    {"a\"b", "a\"b"},
    {"a\\b", "a\\b"},
    {"#x;y", "#x;y"},
    {" a", "\" a\""},
    {"a ", "\"a \""},
    {"\ta", "\"\ta\""},
    {"\"a", "\"\\\"a\""},
    {" \\ \" ", "\" \\\\ \\\" \""},
};

static void test_quote(void)
{
	struct buf q = BUF_INIT, back = BUF_INIT;
	for (size_t i = 0; i < sizeof(quo_cases) / sizeof(quo_cases[0]); i++) {
		const struct quo *c = &quo_cases[i];
		buf_reset(&q);
		buf_puts(&q, "");
		ini_quote(&q, c->in, strlen(c->in));
		CU_ASSERT_STRING_EQUAL(q.p, c->out);
		/* and it reads back unchanged */
		char why[256] = "";
		CU_ASSERT_TRUE(ini_unquote(q.p, q.len, &back, why, sizeof(why)));
		CU_ASSERT_STRING_EQUAL(back.p, c->in);
		if (strcmp(q.p, c->out) != 0 || strcmp(back.p, c->in) != 0)
			fprintf(stderr, "\nquote case %zu: '%s' -> '%s' -> '%s'\n", i, c->in, q.p,
			        back.p);
	}
	buf_free(&q);
	buf_free(&back);
}

struct trim_case {
	const char *in;
	const char *out;
};

static const struct trim_case trim_cases[] = {
    {"", ""},       {"a", "a"},
    {"  a  ", "a"}, {"\t\r\n\v\fa b\f\v\n\r\t", "a b"},
    {" \t ", ""},   {"\xa0x\xa0", "\xa0x\xa0"}, /* only ASCII whitespace */
};

static void test_trim(void)
{
	for (size_t i = 0; i < sizeof(trim_cases) / sizeof(trim_cases[0]); i++) {
		const char *s = trim_cases[i].in;
		size_t len = strlen(s);
		ini_trim(&s, &len);
		CU_ASSERT_EQUAL(len, strlen(trim_cases[i].out));
		CU_ASSERT_EQUAL(strncmp(s, trim_cases[i].out, len), 0);
	}
	CU_ASSERT_TRUE(ini_is_space(' ') && ini_is_space('\f') && ini_is_space('\v'));
	CU_ASSERT_FALSE(ini_is_space('\0') || ini_is_space('x') || ini_is_space('\x1f'));
}

int main(void)
{
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	CU_pSuite s = CU_add_suite("ini", NULL, NULL);
	if (!s || !CU_add_test(s, "files", test_files) ||
	    !CU_add_test(s, "long_names", test_long_names) ||
	    !CU_add_test(s, "long_lines", test_long_lines) ||
	    !CU_add_test(s, "unreadable", test_unreadable) ||
	    !CU_add_test(s, "unquote", test_unquote) || !CU_add_test(s, "quote", test_quote) ||
	    !CU_add_test(s, "trim", test_trim)) {
		CU_cleanup_registry();
		return 1;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failures = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failures != 0;
}
