/* buf: a growable byte buffer (output formatting). Foundation layer. */
#ifndef TALLYD_BUF_H
#define TALLYD_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t n);
void buf_putc(struct buf *b, char c);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_num(struct buf *b, double v); /* num_format */
/* Fixed-width little-endian binary (state file); a double as its IEEE-754 bits. */
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_f64(struct buf *b, double d);
void buf_consume(struct buf *b, size_t n); /* drop n bytes from the front */
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

/* Copies n bytes, exactly, reading nothing past src + n: short runs (series
 * keys, tags) as overlapping fixed-size moves the compiler inlines, where a
 * call to memcpy cost more than the copy; runs over 64 bytes with memcpy. */
static inline void buf_copy_short(char *dst, const char *src, size_t n)
{
	if (n >= 16) {
		if (n > 64) {
			memcpy(dst, src, n);
			return;
		}
		for (size_t i = 0; i + 16 < n; i += 16)
			memcpy(dst + i, src + i, 16);
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else if (n > 0) {
		dst[0] = src[0];
		dst[n / 2] = src[n / 2];
		dst[n - 1] = src[n - 1];
	}
}

#endif
