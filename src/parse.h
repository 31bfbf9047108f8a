/* parse: the StatsD/DogStatsD line parser. Domain layer: pure, no I/O, no
 * allocation. It walks a packet, splits it into lines and hands every
 * sample, event and service check to the caller's callbacks (or, for the
 * common lines, appends the sample to the caller's queue: see
 * parse_handler.queue). All pointers it passes are borrowed until the
 * callback returns: they point into the caller's packet or into the
 * caller-owned struct parse_scratch. */
#ifndef TALLYD_PARSE_H
#define TALLYD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metric.h"

/* statsd.tag_styles bits (off by default: such names are kept verbatim). */
enum {
	TAG_STYLE_LIBRATO = 1 << 0,  /* name#k=v,k2=v2 */
	TAG_STYLE_INFLUXDB = 1 << 1, /* name,k=v,k2=v2 */
	TAG_STYLE_SIGNALFX = 1 << 2, /* name[k=v,k2=v2]rest */
};

struct parse_opts {
	bool gauge_deltas; /* +N/-N on a gauge is a delta (statsd.gauge_deltas) */
	bool sanitize;     /* reference statsd key sanitising (statsd.sanitize) */
	unsigned tag_styles;
	size_t max_name; /* longest accepted name, bytes (server.max_name) */
	size_t max_tags; /* most tags on one line (server.max_tags) */
};

/* Defaults: gauge_deltas, sanitize, no extra tag styles, 512, 64. */
void parse_opts_default(struct parse_opts *o);

/* Caller-owned scratch space for canonical keys; one per thread. */
#define PARSE_KEY_MAX 8192
struct parse_scratch {
	char key[PARSE_KEY_MAX];
	char text[PARSE_KEY_MAX]; /* unescaped event text */
};

/* A DogStatsD event `_e{tlen,xlen}:title|text|d:ts|h:host|k:key|p:prio|s:src|t:type|#tags`. */
struct parse_event {
	const char *title;
	size_t title_len;
	const char *text; /* "\\n" unescaped to LF */
	size_t text_len;
	int64_t timestamp; /* 0 when absent */
	const char *host, *agg_key, *priority, *source, *alert_type;
	size_t host_len, agg_key_len, priority_len, source_len, alert_type_len;
	const char *tags; /* canonical ";k=v;k2" form, may be empty */
	size_t tags_len;
};

/* A DogStatsD service check `_sc|name|status|d:ts|h:host|#tags|m:message`. */
struct parse_check {
	const char *name;
	size_t name_len;
	int status; /* 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN */
	int64_t timestamp;
	const char *host, *message;
	size_t host_len, message_len;
	const char *tags;
	size_t tags_len;
};

struct parse_handler {
	void (*sample)(void *ctx, const struct sample *s);
	void (*event)(void *ctx, const struct parse_event *e); /* may be NULL */
	void (*check)(void *ctx, const struct parse_check *c); /* may be NULL */
	/* A bad line (or a bad value group of a multi-group line): the line as
	 * received and a static reason string. */
	void (*bad)(void *ctx, const char *line, size_t len, const char *reason);
	/* A sample whose rate was not a positive finite number (kept at rate 1). */
	void (*invalid_rate)(void *ctx); /* may be NULL */
	/* May be NULL. Else parse_packet appends the samples of common lines
	 * ("name:17|c" without fields) to this queue instead of calling sample:
	 * the caller must append the samples it gets through sample to the same
	 * queue, so that they stay in packet order. Their keys are the names as
	 * received, in the packet, and *unchecked* (qsample.line_len > 0): the
	 * consumer must check a name with parse_name_plain before making a
	 * series of it, and when that fails give the line (key, line_len) to
	 * parse_line instead, in order. commit(ctx) is called when the queue is
	 * full and must empty it. */
	struct sample_queue *queue;
	void (*commit)(void *ctx);
};

/* True when sanitising keeps name[0..len) as it is and it holds nothing
 * that tags or other lines' syntax would read ([-.0-9=A-Z_a-z] only): such a
 * name is its own series key. */
bool parse_name_plain(const char *name, size_t len);

/* Parses one line (no newline inside; a trailing '\r' is ignored).
 * Returns the number of samples/events/checks delivered, or -1 when the line
 * was bad (handler->bad called). Empty lines return 0. */
int parse_line(const char *line, size_t len, const struct parse_opts *o, struct parse_scratch *scr,
               const struct parse_handler *h, void *ctx);

/* Splits a datagram on '\n' (accepting "\r\n") and parses every non-empty
 * line. Returns the number of non-empty lines seen (statsd's
 * metrics_received); bad lines are reported through handler->bad. */
size_t parse_packet(const char *buf, size_t len, const struct parse_opts *o,
                    struct parse_scratch *scr, const struct parse_handler *h, void *ctx);

/* parse_packet, with the same result, for a packet with room after it (as
 * intake's receive buffers have): buf[len .. len + PARSE_PAD) is the
 * caller's, and the parser reads there and may write (a '\n' at buf[len]
 * when the packet does not end with one).
 * Faster: the one-pass path then also takes the packet's last lines. */
#define PARSE_PAD 64
size_t parse_packet_padded(char *buf, size_t len, const struct parse_opts *o,
                           struct parse_scratch *scr, const struct parse_handler *h, void *ctx);

#endif
