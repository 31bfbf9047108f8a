/* graphite: the Graphite plaintext (carbon) sink. Edge layer (libevent).
 * One persistent TCP connection with reading enabled (carbon never writes,
 * so a read event or EOF means the peer closed), reconnect with exponential
 * backoff, and a bounded output buffer kept across outages
 * (graphite.buffer_max); bytes that do not fit are dropped and counted.
 * Counts everything in the global selfstats (main thread only). */
#ifndef TALLYD_GRAPHITE_H
#define TALLYD_GRAPHITE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct graphite;

/* addr is "host:port" (IPv6 as "[::1]:2003"); copied. Connects in the
 * background; returns NULL only for an unparsable address (err set). */
struct graphite *graphite_new(struct event_base *base, const char *addr, int64_t buffer_max,
                              char *err, size_t errlen);
void graphite_free(struct graphite *g);

/* Queues one flush's lines (copied). Never blocks. */
void graphite_send(struct graphite *g, const char *data, size_t len);

/* Bytes queued and not yet handed to the kernel. */
size_t graphite_pending(const struct graphite *g);

/* Shutdown: tries to write everything queued, waiting at most timeout_ms
 * while running the event loop; returns 0 if all was written. */
int graphite_drain(struct graphite *g, int timeout_ms);

#endif
