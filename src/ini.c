/* ini: reads an INI file with getline (no line-length limit), tracks the
 * section and line number, and hands each header and key line to the
 * caller's handler; also the quoted-value syntax shared with -o. It knows
 * no section or key names and parses no typed values (config and cfgval
 * do). Called by config_load_file, config_override and config_dump. */
#include "ini.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

bool ini_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

void ini_trim(const char **s, size_t *len)
{
	while (*len > 0 && ini_is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ini_is_space((*s)[*len - 1]))
		(*len)--;
}

/* ---- the value syntax -------------------------------------------------- */

bool ini_unquote(const char *s, size_t len, struct buf *out, char *why, size_t whylen)
{
	ini_trim(&s, &len);
	buf_reset(out);
	buf_reserve(out, len);
	out->p[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			snprintf(why, whylen, "control character 0x%02x in value", ch);
			return false;
		}
	}
	if (len == 0 || s[0] != '"') {
		buf_append(out, s, len);
		return true;
	}
	size_t i = 1;
	for (; i < len && s[i] != '"'; i++) {
		if (s[i] == '\\') {
			if (i + 1 == len || (s[i + 1] != '"' && s[i + 1] != '\\')) {
				snprintf(why, whylen,
				         "unknown escape in quoted value (only \\\" and \\\\ are "
				         "allowed)");
				return false;
			}
			i++;
		}
		buf_putc(out, s[i]);
	}
	if (i == len) {
		snprintf(why, whylen, "quoted value has no closing '\"'");
		return false;
	}
	if (i + 1 != len) {
		snprintf(why, whylen, "text after the closing '\"' of a quoted value");
		return false;
	}
	return true;
}

void ini_quote(struct buf *b, const char *v, size_t len)
{
	bool need = len > 0 && (ini_is_space(v[0]) || ini_is_space(v[len - 1]) || v[0] == '"');
	if (!need) {
		buf_append(b, v, len);
		return;
	}
	buf_putc(b, '"');
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '"' || v[i] == '\\')
			buf_putc(b, '\\');
		buf_putc(b, v[i]);
	}
	buf_putc(b, '"');
}

/* ---- the reader -------------------------------------------------------- */

struct reader {
	const struct ini_handler *h;
	void *ctx;
	const char *path;
	unsigned long line;
	char *section; /* the current known section, or NULL */
	/* An unknown section is reported at its first key, which names the key,
	 * or at its header when it has no keys. */
	char *unknown;              /* its name, or NULL */
	unsigned long unknown_line; /* line of its header */
	char *err;
	size_t errlen;
};

static int fail(struct reader *r, unsigned long line, const char *sec, const char *key,
                size_t keylen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* "FILE:LINE: [section] key: reason", leaving out what is not known. */
static int fail(struct reader *r, unsigned long line, const char *sec, const char *key,
                size_t keylen, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	buf_printf(&b, "%s:%lu: ", r->path, line);
	if (sec)
		buf_printf(&b, "[%.*s%s]%s", INI_SHOW(sec, strlen(sec)), key ? " " : "");
	if (key)
		buf_printf(&b, "%.*s%s", INI_SHOW(key, keylen));
	buf_printf(&b, "%s%s", sec || key ? ": " : "", reason);
	snprintf(r->err, r->errlen, "%s", b.p);
	buf_free(&b);
	return -1;
}

/* An error in the current known section (or none) at the current line. */
#define FAIL_HERE(r, key, keylen, ...)                                                             \
	fail((r), (r)->line, (r)->section, (key), (keylen), __VA_ARGS__)

/* Called at a new header and at the end of the file. */
static int check_unknown_section(struct reader *r)
{
	if (!r->unknown)
		return 0;
	return fail(r, r->unknown_line, r->unknown, NULL, 0, "unknown section");
}

/*   [ server ]   a section header (may repeat; spaces inside are dropped)
 *   ^         ^  s[0] and the closing bracket, which must end the line */
static int read_header(struct reader *r, const char *s, size_t len)
{
	if (check_unknown_section(r) < 0)
		return -1;
	free(r->section);
	r->section = NULL;
	const char *close = memchr(s, ']', len);
	if (!close)
		return FAIL_HERE(r, NULL, 0, "section header has no closing ']'");
	if (close + 1 != s + len)
		return FAIL_HERE(r, NULL, 0, "text after the section header \"%.*s%s\"",
		                 INI_SHOW(s, len));
	const char *name = s + 1;
	size_t nl = (size_t)(close - name);
	ini_trim(&name, &nl);
	if (nl == 0)
		return FAIL_HERE(r, NULL, 0, "empty section name");
	if (r->h->section(r->ctx, name, nl, r->line)) {
		r->section = xstrndup(name, nl);
	} else {
		r->unknown = xstrndup(name, nl);
		r->unknown_line = r->line;
	}
	return 0;
}

/* One line without its newline:
 *   udp = 0.0.0.0:8125     key = value (the value may be empty)
 *   [server]               a section header
 *   # comment / ; comment / blank */
static int read_line(struct reader *r, const char *s, size_t len)
{
	ini_trim(&s, &len);
	if (len == 0 || s[0] == '#' || s[0] == ';')
		return 0;
	if (s[0] == '[')
		return read_header(r, s, len);

	const char *eq = memchr(s, '=', len);
	const char *key = s;
	size_t kl = eq ? (size_t)(eq - s) : 0;
	ini_trim(&key, &kl);
	if (!eq || kl == 0)
		return FAIL_HERE(
		    r, NULL, 0,
		    "expected \"key = value\", \"[section]\" or a comment, got \"%.*s%s\"",
		    INI_SHOW(s, len));
	if (r->unknown)
		return fail(r, r->line, r->unknown, key, kl, "unknown section (header on line %lu)",
		            r->unknown_line);

	struct ini_item it = {.file = r->path,
	                      .line = r->line,
	                      .section = r->section,
	                      .key = key,
	                      .keylen = kl,
	                      .value = eq + 1,
	                      .vallen = (size_t)(s + len - eq - 1)};
	ini_trim(&it.value, &it.vallen);
	char why[512];
	if (r->h->key(r->ctx, &it, why, sizeof(why)) < 0)
		return FAIL_HERE(r, key, kl, "%s", why);
	return 0;
}

int ini_read_file(const char *path, const struct ini_handler *h, void *ctx, char *err,
                  size_t errlen)
{
	struct reader r = {.h = h, .ctx = ctx, .path = path, .err = err, .errlen = errlen};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	errno = 0;
	while ((n = getline(&line, &cap, f)) != -1) {
		const char *s = line;
		size_t len = (size_t)n;
		r.line++;
		if (r.line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3; /* UTF-8 byte order mark */
			len -= 3;
		}
		if (memchr(s, '\0', len)) {
			rc = FAIL_HERE(&r, NULL, 0, "NUL byte in line");
			break;
		}
		if (read_line(&r, s, len) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno ? errno : EIO));
		rc = -1;
	}
	if (rc == 0)
		rc = check_unknown_section(&r);
	free(line);
	free(r.section);
	free(r.unknown);
	fclose(f);
	return rc;
}
