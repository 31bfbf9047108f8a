/* log: leveled logging to stderr with printf checking, and a rate limiter.
 * Foundation layer (libc only). The level is the one mutable global the
 * project allows; it is checked before any formatting happens. */
#ifndef TALLYD_LOG_H
#define TALLYD_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern int log_level;

/* Parses "error", "warn", "info", "debug"; false if unknown. */
bool log_level_parse(const char *s, int *out);
const char *log_level_name(int level);

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                                                                           \
	do {                                                                                       \
		if ((lvl) <= log_level)                                                            \
			log_write((lvl), __VA_ARGS__);                                             \
	} while (0)
#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)

/* Rate limiter: at most `burst` messages per second per limiter. Not
 * thread-safe: give each thread its own. */
struct log_limit {
	int64_t window_start_ms;
	unsigned burst;
	unsigned used;
	unsigned long suppressed;
};

#define LOG_LIMIT_INIT(b)                                                                          \
	{                                                                                          \
		.window_start_ms = 0, .burst = (b), .used = 0, .suppressed = 0                     \
	}

/* True if a message may be logged now. When a new second starts and some
 * were suppressed, logs how many were. */
bool log_limit_allow(struct log_limit *lim, int64_t now_ms);

#endif
