/* config: tallyd's configuration — one table of every key (name, type,
 * default, bounds, help) that drives INI parsing, -o overrides, validation,
 * `-t`, the admin `config` view and contrib/tallyd.conf. Domain layer: pure
 * (reads files, no sockets). Errors name the file, line and key. */
#ifndef TALLYD_CONFIG_H
#define TALLYD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* statsd.histogram entry: timers whose key contains `metric` (first match,
 * as the reference) get bins; bins are ascending, INFINITY for "inf". */
struct config_histogram {
	char *metric;
	double *bins;
	size_t nbins;
};

/* Most windows.list entries (window.h's WINDOW_MAX; config.c checks). */
#define CONFIG_WINDOWS_MAX 8

struct config {
	/* [server] — an empty address disables that listener */
	char *udp;         /* host:port, default 127.0.0.1:8125 */
	char *tcp;         /* host:port, default 127.0.0.1:8125 */
	char *unix_dgram;  /* server.unix: path of a Unix datagram socket, default "" */
	char *unix_stream; /* server.unix_stream: path, DogStatsD length-prefixed, default "" */
	char *admin;       /* default 127.0.0.1:8126 */
	char *http;        /* default 127.0.0.1:8127 */
	char *port_file;   /* server.port_file: write bound addresses here, default "" */
	char *state_file;  /* server.state_file: windows saved and restored here, "" = off */
	int workers;       /* 0 = number of CPUs */
	int64_t flush_interval_ms; /* default 10s */
	int64_t max_series;        /* default 1000000 */
	int log_level;             /* enum log_level, default info */
	int64_t rcvbuf;            /* SO_RCVBUF bytes, default 8m */
	int64_t read_wait_ms;      /* longest wait between reads of drained sockets, 1ms */
	int64_t max_datagram;      /* default 65536 */
	int64_t max_name;          /* default 512 */
	int64_t max_tags;          /* default 64 */

	/* [statsd] */
	double *percentiles; /* default {90} */
	size_t npercentiles;
	struct config_histogram *histograms; /* default none */
	size_t nhistograms;
	bool gauge_deltas;   /* default true */
	unsigned tag_styles; /* TAG_STYLE_* bits, default 0 */
	bool delete_idle;    /* default false */
	char *prefix_stats;  /* default "statsd" */
	bool sanitize;       /* default true */

	/* [graphite] — empty address (the default) disables the sink */
	char *graphite_address;
	bool graphite_legacy;        /* legacy_namespace, default true */
	char *graphite_prefix;       /* default "stats" (non-legacy namespace root) */
	char *graphite_suffix;       /* global suffix, default "" */
	int64_t graphite_buffer_max; /* bytes kept across an outage, default 64m */
	bool graphite_windows;       /* also send stats.windows.<w>.<name>.<stat>, default false */

	/* [windows] — checked against flush_interval_ms by config_validate */
	int64_t windows_ms[CONFIG_WINDOWS_MAX]; /* windows.list, strictly ascending */
	size_t nwindows;                        /* 1..8, default 4: 1m 5m 15m 1h */
	double *window_quantiles;               /* in percent, each in (0, 100) */
	size_t nwindow_quantiles;               /* 1..8, default 5: 50 90 95 99 99.9 */
	double window_accuracy;                 /* relative_accuracy, default 0.01 */

	/* [redis] — empty address disables the sink */
	char *redis_address;      /* default 127.0.0.1:6379 */
	char *redis_password;     /* AUTH, default "" = none; config_dump shows *** */
	int redis_db;             /* SELECT, default 0 */
	char *redis_prefix;       /* first part of every key, default "tallyd" */
	int64_t redis_history_ms; /* history stream retention, default 0 = off */
	int64_t redis_timeout_ms; /* deadline of one flush, default 5s */

	/* [anomaly] — istat bits per istat_kind; all zero turns scoring off */
	unsigned anomaly_stats[4];     /* default counter.rate timer.mean timer.p99 gauge.value */
	int64_t anomaly_baseline_ms;   /* default 1h */
	double anomaly_threshold;      /* |z| flagged from, default 3 */
	int64_t anomaly_min_intervals; /* baseline values needed, default 30 */

	/* [alert NAME] and [webhook NAME] sections (rules.h); reloaded on SIGHUP */
	struct rules *rules;
};

/* A config with every default applied. */
struct config *config_new(void);
void config_free(struct config *c); /* NULL is a no-op */

/* Loads an INI file over the current values. On error returns -1 and writes
 * "FILE:LINE: [section] key: reason" to err. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/* Applies one "section.key=value" override (-o). Returns -1 with err set
 * ("-o section.key: reason") on unknown keys and bad values. */
int config_override(struct config *c, const char *assignment, char *err, size_t errlen);

/* Cross-key checks after loading (e.g. at least one listener, windows that
 * fit server.flush_interval: window_conf_check, the anomaly baseline, the
 * alert rules against windows.list: rules_check, which also resolves each
 * rule's window). -1 with err set. */
int config_validate(struct config *c, char *err, size_t errlen);

/* Exchanges the alert rules and webhooks of c and from (SIGHUP): c gets the
 * new ones, from the old ones, freed with from. */
void config_take_rules(struct config *c, struct config *from);

/* Writes every key as "section.key = value" (the effective config); a
 * secret (redis.password) is written "***" when set. */
void config_dump(const struct config *c, FILE *out);

/* Writes a commented reference config (every key, default, help). */
void config_write_reference(FILE *out);

#endif
