/* redis_batch: a flush's Redis commands, formatted once into RESP records
 * in large chunks (no allocation per command), grouped into MULTI/EXEC per
 * series, and read back (argument lookup for logs) by the sink. It does not
 * send anything: redis.c owns the connection. Called by flush to build a
 * batch and by redis.c to walk it. */
#include "redis_batch.h"

#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "xalloc.h"

#define REDIS_CHUNK_BYTES (1024 * 1024)
#define REDIS_LOG_ARG_MAX 200

/* --- RESP formatting and reading back our own commands ------------------ */

char *redis_batch_put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* Reads the decimal after the '*' or '$' at *pp and the "\r\n" after it. */
static size_t read_num(const char **pp)
{
	const char *p = *pp + 1;
	size_t v = 0;
	while (*p != '\r')
		v = v * 10 + (size_t)(*p++ - '0');
	*pp = p + 2;
	return v;
}

static void rec_set_len(char *rec, size_t n)
{
	if (n > UINT32_MAX)
		REDIS_BUG("redis: a command of %zu bytes", n);
	uint32_t v = (uint32_t)n;
	memcpy(rec, &v, sizeof(v));
}

/* Argument i (0 is the command's name) of the record's command (one we
 * formatted: well-formed), or false. */
bool redis_batch_arg(const char *rec, size_t i, const char **arg, int *len)
{
	const char *p = rec + REC_HDR;
	size_t argc = read_num(&p);
	if (i >= argc)
		return false;
	for (size_t k = 0;; k++) {
		size_t n = read_num(&p);
		if (k == i) {
			*arg = p;
			*len = n > REDIS_LOG_ARG_MAX ? REDIS_LOG_ARG_MAX : (int)n;
			return true;
		}
		p += n + 2;
	}
}

/* --- batches ------------------------------------------------------------- */

struct redis_batch *redis_batch_new(void)
{
	struct redis_batch *b = xcalloc(1, sizeof(*b));
	b->tail_link = &b->head;
	return b;
}

void redis_batch_free(struct redis_batch *b)
{
	if (!b)
		return;
	while (b->head) {
		struct rchunk *c = b->head;
		b->head = c->next;
		free(c);
	}
	free(b);
}

/* Makes room for need bytes at the end of tail. A new chunk takes the open
 * group along, so that a group never straddles chunks. */
static void reserve(struct redis_batch *b, size_t need)
{
	struct rchunk *t = b->tail;
	if (t && t->cap - t->len >= need)
		return;
	size_t keep = t && b->in_group ? t->len - b->group_off : 0;
	size_t cap = keep + need > REDIS_CHUNK_BYTES ? keep + need : REDIS_CHUNK_BYTES;
	struct rchunk *c = xmalloc(sizeof(*c) + cap);
	c->next = NULL;
	c->len = keep;
	c->cap = cap;
	c->ncmds = 0;
	if (keep) {
		memcpy(c->data, t->data + b->group_off, keep);
		c->ncmds = b->group_cmds;
		t->len = b->group_off;
		t->ncmds -= b->group_cmds;
	}
	b->group_off = 0;
	if (t && t->len == 0) {
		*b->tail_link = c; /* the group was all of tail: replace it */
		free(t);
	} else {
		if (t)
			b->tail_link = &t->next;
		*b->tail_link = c;
	}
	b->tail = c;
}

static void append_raw(struct redis_batch *b, const char *resp, size_t len)
{
	reserve(b, REC_HDR + len);
	char *rec = b->tail->data + b->tail->len;
	rec_set_len(rec, len);
	memcpy(rec + REC_HDR, resp, len);
	b->tail->len += REC_HDR + len;
	b->tail->ncmds++;
	b->ncmds++;
	b->bytes += len;
	if (b->in_group)
		b->group_cmds++;
}

void redis_batch_begin(struct redis_batch *b)
{
	if (b->in_group)
		REDIS_BUG("redis: redis_batch_begin inside an open group");
	reserve(b, REC_HDR + RESP_MULTI_LEN);
	b->group_off = b->tail->len;
	b->group_cmds = 0;
	b->in_group = true;
	append_raw(b, resp_multi, RESP_MULTI_LEN);
}

void redis_batch_end(struct redis_batch *b)
{
	if (!b->in_group)
		REDIS_BUG("redis: redis_batch_end without redis_batch_begin");
	if (b->group_cmds == 1) {
		b->tail->len -= REC_HDR + RESP_MULTI_LEN;
		b->tail->ncmds--;
		b->ncmds--;
		b->bytes -= RESP_MULTI_LEN;
		b->in_group = false;
		return;
	}
	append_raw(b, resp_exec, RESP_EXEC_LEN);
	b->in_group = false;
}

void redis_batch_cmd(struct redis_batch *b, int argc, const char *const *argv,
                     const size_t *argvlen)
{
	if (argc < 1)
		REDIS_BUG("redis: redis_batch_cmd with argc=%d", argc);
	/* "*argc\r\n", then "$len\r\n<arg>\r\n" per argument; 20 digits max. */
	size_t need = REC_HDR + 1 + 20 + 2;
	for (int i = 0; i < argc; i++)
		need += 1 + 20 + 2 + (argvlen ? argvlen[i] : strlen(argv[i])) + 2;
	reserve(b, need);
	char *rec = b->tail->data + b->tail->len, *start = rec + REC_HDR, *p = start;
	*p++ = '*';
	p = redis_batch_put_u64(p, (uint64_t)argc);
	*p++ = '\r';
	*p++ = '\n';
	for (int i = 0; i < argc; i++) {
		size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
		*p++ = '$';
		p = redis_batch_put_u64(p, n);
		*p++ = '\r';
		*p++ = '\n';
		memcpy(p, argv[i], n);
		p += n;
		*p++ = '\r';
		*p++ = '\n';
	}
	size_t len = (size_t)(p - start);
	rec_set_len(rec, len);
	b->tail->len += REC_HDR + len;
	b->tail->ncmds++;
	b->ncmds++;
	b->bytes += len;
	if (b->in_group)
		b->group_cmds++;
}

size_t redis_batch_commands(const struct redis_batch *b)
{
	return b->ncmds;
}

size_t redis_batch_bytes(const struct redis_batch *b)
{
	return b->bytes;
}

/* Unlinks chunks left empty by removed groups (redis.c, at submit). */
void redis_batch_compact(struct redis_batch *b)
{
	struct rchunk **link = &b->head;
	b->tail = NULL;
	b->tail_link = &b->head;
	while (*link) {
		struct rchunk *c = *link;
		if (c->ncmds == 0) {
			*link = c->next;
			free(c);
			continue;
		}
		if (b->tail)
			b->tail_link = &b->tail->next;
		b->tail = c;
		link = &c->next;
	}
}
