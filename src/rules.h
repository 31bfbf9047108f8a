/* rules: the [alert NAME] and [webhook NAME] sections of the config — their
 * keys parsed and checked into plain structs the alert engine and the
 * webhook sender read. Domain layer: pure (no I/O). config.c hands it every
 * key line of such a section; config_validate calls rules_check. */
#ifndef TALLYD_RULES_H
#define TALLYD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum alert_kind { ALERT_THRESHOLD = 0, ALERT_ANOMALY, ALERT_ABSENT };
enum alert_op { ALERT_GT = 0, ALERT_GE, ALERT_LT, ALERT_LE, ALERT_EQ, ALERT_NE };
enum webhook_format { WEBHOOK_ALERTMANAGER = 0, WEBHOOK_SLACK, WEBHOOK_JSON };

/* How many keys a section may have (the size of the per-key line arrays). */
#define RULES_KEYS_MAX 16

/* A tag filter: the series must carry tag key (exact) whose value matches
 * the glob value ("*" when the filter is just "key"); negate: must not. A
 * tag written without a value (";k") has the value "". */
struct rule_tag {
	char *key;
	char *value; /* glob (fnmatch syntax, no flags) */
	bool negate;
};

struct alert_rule {
	char *name;   /* the NAME of [alert NAME] */
	char *metric; /* glob on the series name (without tags), default "*" */
	struct rule_tag *tags;
	size_t ntags;
	int window;        /* -1 = the interval's own value, else an index into windows.list */
	int64_t window_ms; /* as written: 0 = interval; rules_check resolves window from it */
	char *stat;        /* e.g. "rate", "p99", "value", "zscore"; kind anomaly: "" = any */
	enum alert_op op;
	double threshold;
	int64_t for_ms;    /* default 0 */
	int64_t repeat_ms; /* default 1h; 0 = never re-notify */
	char *severity;    /* default "warning" */
	char *webhook;     /* a [webhook NAME]'s name; "" = no webhook (Redis only) */
	enum alert_kind kind;
	char *summary;      /* annotation, default "" (the payload then builds one) */
	unsigned long line; /* line of the [alert NAME] header */
	/* rules.c's bookkeeping: which keys were set (bit per key) and on which
	 * line (for "set twice" and rules_check's messages). */
	uint32_t keys_set;
	unsigned long key_line[RULES_KEYS_MAX];
};

struct webhook_conf {
	char *name; /* the NAME of [webhook NAME] */
	char *url;  /* http:// or https:// */
	enum webhook_format format;
	int64_t timeout_ms; /* one attempt, default 5s */
	int retries;        /* attempts after the first, default 3 */
	/* "Name: value" lines. In the config they are one value, entries
	 * separated by ';' (a backslash before a ';' makes it part of a value),
	 * e.g. headers = Authorization: Bearer abc; X-Team: ops */
	char **headers;
	size_t nheaders;
	unsigned long line;
	uint32_t keys_set; /* as in alert_rule */
	unsigned long key_line[RULES_KEYS_MAX];
};

struct rules {
	struct alert_rule *alerts;
	size_t nalerts;
	struct webhook_conf *webhooks;
	size_t nwebhooks;
	char *file; /* where they were read, for messages (owned; may be NULL) */
	/* rules.c's: the section keys go to (0 none, 1 alert, 2 webhook), and
	 * the first header refused, reported again by rules_check in case no
	 * key followed it (the INI reader reports it at its first key). */
	int cur;
	unsigned long bad_line;
	char bad_why[200];
};

struct rules *rules_new(void);
void rules_free(struct rules *r); /* NULL is a no-op */

/* A section header "alert NAME" or "webhook NAME" (as written between the
 * brackets, trimmed). Returns 1 when the header is one of ours (the section
 * is opened), 0 when it is not ours, -1 with why when it is ours but bad
 * (empty or invalid NAME, a second section with the same NAME). */
int rules_section(struct rules *r, const char *hdr, size_t len, unsigned long line, char *why,
                  size_t whylen);

/* One "key = value" line (value already unquoted, NUL-terminated) of the
 * section opened last, read on line `line` (0 = unknown: the header's line
 * stands in, in rules_check's messages). -1 with why ("unknown key", "set
 * twice (first on line N)", "\"x\" is not a number", ...). rules_set is
 * rules_set_at with line 0. */
int rules_set_at(struct rules *r, const char *key, size_t keylen, const char *value,
                 unsigned long line, char *why, size_t whylen);
int rules_set(struct rules *r, const char *key, size_t keylen, const char *value, char *why,
              size_t whylen);

/* Cross checks once everything is read: a rule's window is in windows
 * (lengths in ms; "interval" always allowed), its webhook exists, its stat
 * exists for some kind (or is zscore), required keys are present, no key
 * is set that its kind does not use (threshold and op outside kind
 * threshold, window outside threshold, stat for absent), an anomaly stat is
 * one the scorer keeps; a webhook has a url. -1 with err "FILE:LINE:
 * [alert NAME] key: reason" (LINE: the key's, or the header's when the key
 * is missing). Resolves alert_rule.window. */
int rules_check(struct rules *r, const int64_t *windows_ms, size_t nwindows, char *err,
                size_t errlen);

/* "threshold"/"anomaly"/"absent" and ">"/">="/...: the words the config
 * uses, also in payloads and the HTTP API ("?" when out of range). */
const char *rules_kind_name(enum alert_kind k);
const char *rules_op_name(enum alert_op op);

const struct webhook_conf *rules_webhook(const struct rules *r, const char *name);

/* The sections as an INI fragment that reads back to the same rules
 * (for -t / admin config). */
void rules_dump(const struct rules *r, const int64_t *windows_ms, FILE *out);

#endif
