/* redis_batch: private to redis.c and redis_batch.c — the layout of a
 * batch (records in chunks), shared so that the sink can walk and send the
 * records without copying them. It declares no connection state. Everyone
 * else uses the opaque struct redis_batch of redis.h. */
#ifndef TALLYD_REDIS_BATCH_H
#define TALLYD_REDIS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define REDIS_BUG(...)                                                                             \
	do {                                                                                       \
		log_error(__VA_ARGS__);                                                            \
		abort();                                                                           \
	} while (0)

static const char resp_multi[] = "*1\r\n$5\r\nMULTI\r\n";
static const char resp_exec[] = "*1\r\n$4\r\nEXEC\r\n";
#define RESP_MULTI_LEN (sizeof(resp_multi) - 1)
#define RESP_EXEC_LEN (sizeof(resp_exec) - 1)

/* A chunk holds records: a 4-byte length (native order, unaligned) and
 * that many bytes of one formatted command, so that sending and reading
 * back never re-parse RESP. Records never straddle chunks, nor do the
 * records of one group: its MULTI must still be in memory when its EXEC's
 * reply is read. */
#define REC_HDR 4

struct rchunk {
	struct rchunk *next;
	size_t len;   /* bytes used */
	size_t cap;   /* bytes in data */
	size_t ncmds; /* records in data */
	char data[];
};

struct redis_batch {
	struct rchunk *head, *tail;
	struct rchunk **tail_link; /* the pointer that points at tail */
	size_t ncmds;
	size_t bytes; /* RESP bytes, headers not included */
	bool in_group;
	size_t group_off;  /* offset of the open group's MULTI record in tail */
	size_t group_cmds; /* commands of the open group, MULTI included */
};

/* Length of the command in the record at rec. */
static inline size_t redis_batch_rec_len(const char *rec)
{
	uint32_t n;
	memcpy(&n, rec, sizeof(n));
	return n;
}

static inline bool redis_batch_rec_is(const char *rec, const char *resp, size_t len)
{
	return redis_batch_rec_len(rec) == len && memcmp(rec + REC_HDR, resp, len) == 0;
}

/* Writes v in decimal at p; returns the end. */
char *redis_batch_put_u64(char *p, uint64_t v);

/* Argument i (0 is the command's name) of the record's command (one we
 * formatted: well-formed), clipped for the logs, or false. */
bool redis_batch_arg(const char *rec, size_t i, const char **arg, int *len);

/* Unlinks chunks left empty by removed groups. */
void redis_batch_compact(struct redis_batch *b);

#endif
