/* redis: the Redis sink (DESIGN.md §6). Edge layer (hiredis async API and
 * its libevent adapter, on the main loop). A flush builds a struct
 * redis_batch of commands — one MULTI/EXEC group per series, then plain
 * commands such as the tallyd:flush marker — and submits it; the sink
 * pipelines it over one connection, checks every reply, and keeps one flush
 * in flight. Everything is counted in the global selfstats (main thread). */
#ifndef TALLYD_REDIS_H
#define TALLYD_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct redis_batch;
struct redis_sink;

/* A batch holds pre-formatted RESP in a list of large chunks (no allocation
 * per command or argument); commands are sent in the order they were added.
 * Misuse (a group opened twice, closed unopened, or still open at submit)
 * is a programming error: it logs and aborts. */
struct redis_batch *redis_batch_new(void);
void redis_batch_free(struct redis_batch *b); /* NULL is a no-op */

/* Opens a MULTI/EXEC group (one series); redis_batch_end closes it. A group
 * left empty is removed (no MULTI/EXEC is sent for it). */
void redis_batch_begin(struct redis_batch *b);
void redis_batch_end(struct redis_batch *b);

/* Appends one command, inside the open group or outside any. Copies argv
 * (binary-safe); argvlen NULL means every argument is a C string. argc >= 1. */
void redis_batch_cmd(struct redis_batch *b, int argc, const char *const *argv,
                     const size_t *argvlen);

size_t redis_batch_commands(const struct redis_batch *b); /* MULTI and EXEC included */
size_t redis_batch_bytes(const struct redis_batch *b);    /* RESP bytes */

/* address is "host:port" (IPv6 as "[::1]:6379"), resolved once here;
 * password "" sends no AUTH, db 0 sends no SELECT; timeout_ms bounds a
 * connection attempt (connect, AUTH, SELECT, PING) and a flush. Connects in
 * the background and retries with backoff (100 ms doubling to 30 s, +-20%)
 * for as long as it runs. Returns NULL with err set only for a bad
 * argument. Strings are copied. */
struct redis_sink *redis_sink_new(struct event_base *base, const char *address,
                                  const char *password, int db, int64_t timeout_ms, char *err,
                                  size_t errlen);
/* Closes the connection; a flush in flight is dropped and counted. */
void redis_sink_free(struct redis_sink *s);

/* Takes ownership of b and starts writing it. Returns 0 when the flush is
 * under way (complete when every reply is in: redis_flushes), -1 when b was
 * dropped: a previous flush is still in flight (redis_flush_skipped) or the
 * connection is not ready (redis_flush_dropped). A flush cut short by a
 * disconnect or by the timeout also counts in redis_flush_dropped. */
int redis_sink_submit(struct redis_sink *s, struct redis_batch *b);

/* True once connected, authenticated and SELECTed. */
bool redis_sink_connected(const struct redis_sink *s);

/* True while a submitted flush waits for replies. */
bool redis_sink_busy(const struct redis_sink *s);

/* Shutdown: runs the loop until the flush in flight completes, at most
 * timeout_ms. Returns 0 when none is left in flight unfinished, else -1. */
int redis_sink_drain(struct redis_sink *s, int timeout_ms);

#endif
