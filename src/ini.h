/* ini: a strict INI file reader and the value syntax (quotes) that config
 * files and -o share. The reader knows no keys: it calls a handler per
 * section header and per key line, and turns a handler's reason into
 * "FILE:LINE: [section] key: reason". Domain layer: reads files only. */
#ifndef TALLYD_INI_H
#define TALLYD_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Longest piece of a bad name or value quoted back in a message; use as
 * printf("%.*s%s", INI_SHOW(s, len)), which appends "..." when cut. */
#define INI_SHOW_MAX 64
#define INI_SHOW(s, len)                                                                           \
	(int)((len) > INI_SHOW_MAX ? INI_SHOW_MAX : (len)), (s), ((len) > INI_SHOW_MAX ? "..." : "")

/* One "key = value" line, borrowed until the handler returns. */
struct ini_item {
	const char *file;    /* the path given to ini_read_file */
	unsigned long line;  /* 1-based */
	const char *section; /* NUL-terminated; NULL before the first header */
	const char *key;     /* trimmed, not NUL-terminated */
	size_t keylen;       /* never 0 */
	const char *value;   /* as written: trimmed, still quoted (see ini_unquote) */
	size_t vallen;
};

struct ini_handler {
	/* A "[name]" header (name trimmed, not NUL-terminated, never empty).
	 * Returns whether the caller knows the section. The reader reports an
	 * unknown one at its first key ("[name] key: unknown section (header
	 * on line N)"), or at its header when no key follows. */
	bool (*section)(void *ctx, const char *name, size_t len, unsigned long line);
	/* A key line in a known section, or before any header (section NULL).
	 * Returns 0, or -1 with the reason in why: reading stops there. */
	int (*key)(void *ctx, const struct ini_item *it, char *why, size_t whylen);
};

/* Reads the file at path line by line (any length), calling h with ctx.
 * Syntax: "[section]" headers, "key = value" lines, whole-line comments
 * starting with '#' or ';', blank lines; a UTF-8 BOM and CRLF ends are
 * accepted, a NUL byte is not. Stops at the first error: returns -1 with
 * "FILE:LINE: [section] key: reason" (parts that do not apply left out),
 * or "FILE: reason" when the file cannot be opened or read. */
int ini_read_file(const char *path, const struct ini_handler *h, void *ctx, char *err,
                  size_t errlen);

/* The value syntax, after trimming s:
 *   key = "  two spaces kept \" and \\ escaped  "
 *         ^ a leading quote starts a quoted value that must end the text
 * Anything else is taken as it stands ('#' and ';' included); control
 * characters other than tab are refused. Replaces out's contents with the
 * value, NUL-terminated. On error returns false with the reason in why. */
bool ini_unquote(const char *s, size_t len, struct buf *out, char *why, size_t whylen);

/* Appends v so that ini_unquote() reads it back unchanged: quoted only
 * when it starts or ends with a space or starts with a quote. */
void ini_quote(struct buf *b, const char *v, size_t len);

/* The whitespace of the syntax (space, \t, \r, \n, \v, \f). */
bool ini_is_space(char c);

/* Narrows [*s, *s + *len) to drop whitespace at both ends. */
void ini_trim(const char **s, size_t *len);

#endif
