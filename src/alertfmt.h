/* alertfmt: the JSON bodies of webhook notifications — one payload per flush
 * and per [webhook NAME], in the webhook's format: the Alertmanager webhook
 * payload (version "4", the default), a Slack incoming-webhook body, or
 * tallyd's plain json. Domain layer: pure, no I/O (jansson for the JSON).
 * flush adds every notification of a flush, then queues the payload. */
#ifndef TALLYD_ALERTFMT_H
#define TALLYD_ALERTFMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "rules.h"

struct alertfmt_batch; /* the notes of one flush for one webhook */

/* w: its name and format are copied. external_url ("http://host:port",
 * NULL or "" = none) is copied: it becomes externalURL and, with
 * "/api/v1/alerts" appended, each alert's generatorURL. */
struct alertfmt_batch *alertfmt_batch_new(const struct webhook_conf *w, const char *external_url);

/* The lengths of windows.list (ms, copied), so that rule windows print by
 * name ("1m", "1h"). Without it a window prints as "w<index>"; the
 * interval is "interval" either way. */
void alertfmt_batch_windows(struct alertfmt_batch *b, const int64_t *windows_ms, size_t n);

void alertfmt_batch_add(struct alertfmt_batch *b, const struct alert_note *n); /* copies */
size_t alertfmt_batch_count(const struct alertfmt_batch *b);

/* The payload (malloc'd, NUL-terminated JSON, *len set; free() it); frees
 * the batch. An empty batch gives a payload with no alerts. */
char *alertfmt_batch_finish(struct alertfmt_batch *b, size_t *len);

/* Discards a batch without formatting it (NULL is a no-op). */
void alertfmt_batch_free(struct alertfmt_batch *b);

/* RFC 3339 UTC with milliseconds ("2026-11-22T08:08:47.123Z"); ms <= 0
 * gives Alertmanager's zero time "0001-01-01T00:00:00Z". buf needs
 * ALERTFMT_TIME_MAX bytes; returns the length. */
#define ALERTFMT_TIME_MAX 32
size_t alertfmt_time(int64_t ms, char *buf);

/* A fingerprint as 16 lowercase hex digits (with the NUL: ALERTFMT_FP_LEN). */
#define ALERTFMT_FP_LEN 17
void alertfmt_fingerprint(uint64_t fp, char out[ALERTFMT_FP_LEN]);

/* "pending", "firing" or "resolved". */
const char *alertfmt_state_name(enum alert_state s);

/* One alert instance as GET /api/v1/alerts and the <prefix>:alerts hash
 * show it: rule, series, state, severity, kind, since, starts (once it
 * fired), value (null when none), last_notified (0 = never), fingerprint;
 * times in unix seconds. A new reference. */
json_t *alertfmt_view_json(const struct alert_view *v);

#endif
