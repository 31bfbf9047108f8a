/* xalloc: allocation that cannot fail (aborts with a message on OOM).
 * Foundation layer. Sizes from the wire must be bounded by the caller. */
#ifndef TALLYD_XALLOC_H
#define TALLYD_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n); /* copies n bytes, NUL-terminates */

#endif
