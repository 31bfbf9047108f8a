/* selfstats: tallyd's own counters and gauges, declared once in an X-macro
 * list that drives the struct, the admin `stats` view, `/metrics` and the
 * Graphite self-metrics. Domain layer.
 *
 * Threads: intake workers count into the selfstats carried by their interval
 * shard (no sharing); the main thread adds those into the global totals at
 * each flush and counts its own events (sinks, flush) there directly. */
#ifndef TALLYD_SELFSTATS_H
#define TALLYD_SELFSTATS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* X(kind, field, help). kind: C = counter (monotonic total), G = gauge.
 * packets_received, metrics_received and bad_lines_seen are the reference
 * statsd's internal counters (sent as <prefix_stats>.<name>); the
 * graphite_last_*, graphite_flush_* and last_msg_seen gauges feed its
 * graphiteStats lines and admin `stats`; gfmt sends the rest as tallyd.<name>. */
#define SELFSTATS_FIELDS(X)                                                                        \
	X(C, packets_received, "datagrams and stream frames received")                             \
	X(C, metrics_received, "non-empty lines received")                                         \
	X(C, bad_lines_seen, "lines dropped as malformed")                                         \
	X(C, invalid_sample_rate, "samples whose rate was not a positive finite number")           \
	X(C, kernel_drops, "datagrams the kernel dropped (SO_RXQ_OVFL)")                           \
	X(C, truncated_datagrams, "datagrams longer than server.max_datagram (never parsed)")      \
	X(C, series_dropped, "samples dropped because server.max_series was reached")              \
	X(C, events_received, "DogStatsD events received")                                         \
	X(C, checks_received, "DogStatsD service checks received")                                 \
	X(C, events_dropped, "events and checks over the per-interval limit (1000 a worker)")      \
	X(C, tcp_connections, "TCP and Unix stream connections accepted")                          \
	X(C, stream_errors, "stream connections closed for a bad frame or line")                   \
	X(C, flushes, "flushes completed")                                                         \
	X(C, graphite_lines_sent, "lines written to the Graphite socket")                          \
	X(C, graphite_bytes_sent, "bytes written to the Graphite socket")                          \
	X(C, graphite_errors, "Graphite connection failures and disconnects")                      \
	X(C, graphite_reconnects, "Graphite connections established")                              \
	X(C, graphite_dropped_bytes, "bytes dropped because graphite.buffer_max was full")         \
	X(G, graphite_queue_bytes, "bytes waiting to be written to Graphite")                      \
	X(G, graphite_last_flush, "unix time of the last flush handed to a connected Graphite")    \
	X(G, graphite_last_exception, "unix time of the last Graphite error")                      \
	X(G, graphite_flush_length, "bytes in the last Graphite flush")                            \
	X(G, graphite_flush_time_ms, "ms to format and queue the last Graphite flush")             \
	X(C, redis_flushes, "flushes written completely to Redis")                                 \
	X(C, redis_flush_skipped, "Redis flushes skipped: the previous one was in flight")         \
	X(C, redis_flush_dropped, "Redis flushes dropped: not connected, disconnect or timeout")   \
	X(C, redis_errors, "Redis error replies, failed connects, disconnects, timeouts")          \
	X(C, redis_reconnects, "Redis connections made ready (AUTH, SELECT, PING answered)")       \
	X(C, redis_commands, "commands of flushes handed to the Redis connection")                 \
	X(G, redis_connected, "1 while the Redis connection is ready, else 0")                     \
	X(G, redis_flush_ms, "duration of the last completed Redis flush, ms")                     \
	X(G, redis_pending_replies, "replies awaited from Redis for the flush in flight")          \
	X(C, anomalies, "series stats flagged by the anomaly scorer")                              \
	X(C, alerts_fired, "alert instances that started firing")                                  \
	X(C, alerts_resolved, "alert instances that resolved")                                     \
	X(C, alerts_dropped, "alert instances not created: 100,000 already existed")               \
	X(C, webhook_sent, "webhook notifications delivered (2xx)")                                \
	X(C, webhook_retries, "webhook attempts retried (transport error, timeout, 429, 5xx)")     \
	X(C, webhook_failed, "webhook notifications given up after the last retry or a 4xx")       \
	X(C, webhook_dropped, "webhook notifications dropped: the queue was full")                 \
	X(G, webhook_queue, "webhook notifications queued or in flight")                           \
	X(G, last_msg_seen, "unix time of the last line received")                                 \
	X(G, flush_duration_ms, "duration of the last flush, ms")                                  \
	X(G, series, "live series in the registry")

struct selfstats {
#define SELFSTATS_FIELD(kind, field, help) uint64_t field;
	SELFSTATS_FIELDS(SELFSTATS_FIELD)
#undef SELFSTATS_FIELD
};

/* The main thread's totals (one of the two globals DESIGN allows). */
extern struct selfstats selfstats;

struct selfstats_desc {
	char kind; /* 'C' or 'G' */
	const char *name;
	const char *help;
	size_t offset;
};
extern const struct selfstats_desc selfstats_desc[];
extern const size_t selfstats_count;

static inline uint64_t selfstats_value(const struct selfstats *s, size_t i)
{
	return *(const uint64_t *)((const char *)s + selfstats_desc[i].offset);
}

/* dst.counters += src.counters; gauges are left alone (the main thread owns them). */
void selfstats_add_counters(struct selfstats *dst, const struct selfstats *src);

/* Prometheus text exposition (tallyd_<name>, with HELP and TYPE lines). */
void selfstats_prometheus(const struct selfstats *s, struct buf *out);

#endif
