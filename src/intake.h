/* intake: the listeners and the worker threads that read them. Edge layer.
 * Each of server.workers threads has its own event base, its own UDP socket
 * (SO_REUSEPORT on the same address, read with recvmmsg) and its own
 * interval shard; worker 0 also serves TCP and the Unix sockets. At the
 * flush tick the main thread asks every worker to swap its shard for an
 * empty one; the per-line path takes no lock. */
#ifndef TALLYD_INTAKE_H
#define TALLYD_INTAKE_H

#include <stddef.h>
#include <stdio.h>

struct config;
struct event_base;
struct shard;
struct intake;

/* Called on the main loop once every worker has handed over its shard. */
typedef void (*intake_swapped_fn)(void *ctx);

/* Binds every configured listener (the caller is main). cfg is borrowed for
 * life. Returns NULL with err set if a socket cannot be bound. */
struct intake *intake_new(const struct config *cfg, struct event_base *main_base,
                          intake_swapped_fn on_swapped, void *ctx, char *err, size_t errlen);
/* Starts the worker threads. 0 or -1. */
int intake_start(struct intake *in);
void intake_free(struct intake *in); /* stops first if running */

/* Asks every worker to hand over its shard (asynchronous). Returns -1 if a
 * swap is already in progress. */
int intake_request_swap(struct intake *in);

/* Calls fn for every shard handed over by the last swap (from on_swapped),
 * or, after intake_stop, for every shard that may still hold data. fn must
 * leave each shard empty (registry_merge does). */
void intake_each_shard(struct intake *in, void (*fn)(void *ctx, struct shard *sh), void *ctx);

/* Stops intake: reads what the kernel still holds and joins the threads;
 * then intake_each_shard reaches everything received. */
void intake_stop(struct intake *in);

/* Writes "udp HOST:PORT" etc. for each bound listener (server.port_file). */
void intake_write_addresses(const struct intake *in, FILE *out);

size_t intake_workers(const struct intake *in);

#endif
