/* state: the sliding windows (and anomaly baselines) of every series saved to server.state_file
 * (atomically: temp file, fsync, rename, fsync of the directory) and
 * restored at start, so a restart keeps the windows up to the 1h one.
 * Domain layer: plain file I/O only, no sockets. */
#ifndef TALLYD_STATE_H
#define TALLYD_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct registry;

#define STATE_VERSION 3 /* 2: anomaly baselines; 3: compact window encoding */

/* The state of every series that has windows, appended to out; created is
 * the unix time written in the header. */
void state_encode(const struct registry *r, int64_t created, struct buf *out);

/* Restores the windows in data (borrowed until return) into r, all or
 * nothing: -1 with err set ("checksum mismatch", "windows.list differs",
 * ...) when the bytes are corrupt, truncated or made for another
 * configuration; else the number of series restored. The intervals between
 * the file's creation and now (unix s) pass as idle intervals; windows
 * idle longer than the longest window, and series beyond
 * server.max_series, are skipped. */
long state_decode(struct registry *r, const void *data, size_t len, int64_t now, char *err,
                  size_t errlen);

/* Writes path atomically; on failure logs, leaves any old file intact and
 * returns -1. */
int state_save(const struct registry *r, const char *path);

/* Restores from path at start. A missing file is not an error (0); a bad
 * one is logged (log_warn naming the file and the reason), renamed to
 * "<path>.bad.<unix time>" and 0 is returned, so the server starts fresh.
 * Returns the number of series restored. */
long state_load(struct registry *r, const char *path);

#endif
