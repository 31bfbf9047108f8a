/* webhook: delivers webhook notifications — HTTP POSTs of JSON bodies on
 * the main loop with libcurl's multi interface driven by libevent: at most
 * WEBHOOK_MAX_INFLIGHT transfers at once, a bounded FIFO for the rest,
 * timeouts, retries with jittered exponential backoff (Retry-After
 * honoured). Edge layer. Every outcome is counted in selfstats, logged
 * (rate-limited) and reported to the result callback. Created by flush. */
#ifndef TALLYD_WEBHOOK_H
#define TALLYD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

struct event_base;
struct webhook_sender;

#define WEBHOOK_MAX_INFLIGHT 8
#define WEBHOOK_BACKOFF_MIN_MS 500        /* before the 2nd attempt; doubles */
#define WEBHOOK_BACKOFF_MAX_MS 60000      /* cap of the doubling */
#define WEBHOOK_RETRY_AFTER_MAX_MS 300000 /* cap of a server's Retry-After */

/* Calls curl_global_init once per process (the first call; later calls
 * reuse it; nothing else in tallyd may call it). queue_max bounds the
 * notifications waiting for a slot or a retry (in flight ones are not
 * counted). base borrowed for the sender's life. NULL with err on failure. */
struct webhook_sender *webhook_new(struct event_base *base, size_t queue_max, char *err,
                                   size_t errlen);
/* Aborts transfers in flight and forgets queued ones (logged, with their
 * count; the result callback is not called). NULL is a no-op. Not from
 * inside the result callback. */
void webhook_free(struct webhook_sender *w);

enum webhook_outcome { WEBHOOK_DELIVERED, WEBHOOK_RETRYING, WEBHOOK_FAILED, WEBHOOK_DROPPED };

/* Valid only during the callback. */
struct webhook_result {
	const char *webhook; /* conf name */
	const char *what;    /* caller's label (e.g. "rule|series" or "3 alerts") */
	enum webhook_outcome outcome;
	int attempt;           /* 1-based; 0 for DROPPED (never attempted) */
	long http_status;      /* 0 = no response */
	const char *error;     /* curl error or "HTTP 503", "" when delivered */
	int64_t next_retry_ms; /* RETRYING: delay before the next attempt */
};

/* Called for every outcome (for the tallyd:alerts:log stream); may be NULL.
 * fn may call webhook_post and webhook_pending. */
void webhook_on_result(struct webhook_sender *w,
                       void (*fn)(void *ctx, const struct webhook_result *r), void *ctx);

/* Queues a POST of body (copied) with c's url/headers/timeout/retries
 * (copied: the conf may be freed by a reload while the POST waits); what
 * (copied, NULL = "") labels it in results and logs. Never blocks. -1 when
 * the queue is full (counted as dropped, result reported). */
int webhook_post(struct webhook_sender *w, const struct webhook_conf *c, const char *body,
                 size_t len, const char *what);

/* queued + in flight + waiting for a retry */
size_t webhook_pending(const struct webhook_sender *w);

/* At shutdown: runs the loop until nothing is pending or timeout_ms
 * passed; -1 on timeout. Retries keep their delays. */
int webhook_drain(struct webhook_sender *w, int timeout_ms);

/* Retry-After (RFC 9110: delay-seconds or an HTTP-date) as a delay in ms
 * from now_s (unix seconds), capped at WEBHOOK_RETRY_AFTER_MAX_MS; a date
 * in the past gives 0. False when v is neither form. */
bool webhook_parse_retry_after(const char *v, size_t len, int64_t now_s, int64_t *out_ms);

#endif
