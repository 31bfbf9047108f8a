/* log: leveled stderr logging ("time level message") and a per-thread
 * rate limiter for messages driven by the wire (bad lines, sink errors).
 * Does not open files or syslog: tallyd runs in the foreground and the
 * service manager collects stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int log_level = LOG_LVL_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

bool log_level_parse(const char *s, int *out)
{
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return true;
		}
	}
	return false;
}

const char *log_level_name(int level)
{
	if (level < 0 || level > LOG_LVL_DEBUG)
		return "?";
	return names[level];
}

void log_write(int level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000L,
	                      log_level_name(level));
	va_start(ap, fmt);
	int w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (w < 0)
		w = 0;
	n += (size_t)w;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}

bool log_limit_allow(struct log_limit *lim, int64_t now_ms)
{
	if (now_ms - lim->window_start_ms >= 1000) {
		if (lim->suppressed > 0)
			log_write(LOG_LVL_WARN, "log: suppressed=%lu similar messages",
			          lim->suppressed);
		lim->window_start_ms = now_ms;
		lim->used = 0;
		lim->suppressed = 0;
	}
	if (lim->used < lim->burst) {
		lim->used++;
		return true;
	}
	lim->suppressed++;
	return false;
}
