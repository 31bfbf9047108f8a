/* webhook: POSTs webhook bodies with libcurl's multi interface on the main
 * libevent loop (curl tells us which sockets and which timeout to watch; we
 * call curl_multi_socket_action when they fire). A FIFO feeds at most
 * WEBHOOK_MAX_INFLIGHT transfers; failures on transport errors, 429 and 5xx
 * are retried after a jittered exponential backoff or the server's
 * Retry-After. It does not format bodies (alertfmt does). Used by flush. */
#include "webhook.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "selfstats.h"
#include "xalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "dev"
#endif

#define COMPLAIN_EVERY_MS 10000 /* one warning per webhook per 10 s */

struct webhook_sender;

enum job_where { JOB_NOWHERE = 0, JOB_QUEUED, JOB_INFLIGHT, JOB_WAITING };

struct job {
	struct job *prev, *next;
	enum job_where where;
	struct webhook_sender *w;
	char *name, *url, *what;
	char *body;
	size_t len;
	struct curl_slist *headers;
	int64_t timeout_ms;
	int retries; /* attempts after the first */
	int attempt; /* of the transfer in flight or last made */
	CURL *easy;
	struct event *retry_ev;
	bool has_retry_after;
	char retry_after[64];
	char errbuf[CURL_ERROR_SIZE];
};

struct jlist {
	struct job *head, *tail;
	size_t n;
};

/* A socket curl asked us to watch. */
struct sock {
	struct sock *prev, *next;
	struct webhook_sender *w;
	curl_socket_t fd;
	struct event *ev;
};

/* Log rate limiting, per webhook name. */
struct complaint {
	struct complaint *next;
	char *name;
	int64_t last_ms;
	unsigned long suppressed;
};

struct webhook_sender {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	size_t queue_max;
	struct jlist queued, inflight, waiting;
	struct sock *socks;
	struct complaint *complaints;
	void (*fn)(void *ctx, const struct webhook_result *r);
	void *ctx;
	uint64_t rng;
};

/* ---- lists ---------------------------------------------------------------- */

static struct jlist *list_of(struct webhook_sender *w, enum job_where where)
{
	switch (where) {
	case JOB_QUEUED:
		return &w->queued;
	case JOB_INFLIGHT:
		return &w->inflight;
	case JOB_WAITING:
		return &w->waiting;
	case JOB_NOWHERE:
	default:
		return NULL;
	}
}

static void list_unlink(struct webhook_sender *w, struct job *j)
{
	struct jlist *l = list_of(w, j->where);
	if (!l)
		return;
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->prev = j->next = NULL;
	j->where = JOB_NOWHERE;
	l->n--;
}

static void list_push(struct webhook_sender *w, struct job *j, enum job_where where, bool front)
{
	struct jlist *l = list_of(w, where);
	list_unlink(w, j);
	j->where = where;
	if (front) {
		j->next = l->head;
		if (l->head)
			l->head->prev = j;
		else
			l->tail = j;
		l->head = j;
	} else {
		j->prev = l->tail;
		if (l->tail)
			l->tail->next = j;
		else
			l->head = j;
		l->tail = j;
	}
	l->n++;
}

size_t webhook_pending(const struct webhook_sender *w)
{
	return w->queued.n + w->inflight.n + w->waiting.n;
}

static void update_gauge(const struct webhook_sender *w)
{
	selfstats.webhook_queue = webhook_pending(w);
}

/* ---- jobs ----------------------------------------------------------------- */

static bool header_is(const char *line, const char *name)
{
	size_t n = strlen(name);
	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static struct job *job_new(struct webhook_sender *w, const struct webhook_conf *c, const char *body,
                           size_t len, const char *what)
{
	struct job *j = xcalloc(1, sizeof(*j));
	bool has_ctype = false;
	j->w = w;
	j->name = xstrdup(c->name ? c->name : "");
	j->url = xstrdup(c->url ? c->url : "");
	j->what = xstrdup(what ? what : "");
	j->body = xmalloc(len + 1);
	memcpy(j->body, body, len);
	j->body[len] = '\0';
	j->len = len;
	j->timeout_ms = c->timeout_ms;
	j->retries = c->retries > 0 ? c->retries : 0;
	for (size_t i = 0; i < c->nheaders; i++) {
		const char *h = c->headers[i];
		if (strpbrk(h, "\r\n")) {
			log_warn("webhook: name=%s header with a line break skipped", j->name);
			continue;
		}
		has_ctype |= header_is(h, "content-type");
		struct curl_slist *n = curl_slist_append(j->headers, h);
		if (n)
			j->headers = n;
	}
	if (!has_ctype) {
		struct curl_slist *n =
		    curl_slist_append(j->headers, "Content-Type: application/json");
		if (n)
			j->headers = n;
	}
	/* No "Expect: 100-continue" round trip before larger bodies. */
	struct curl_slist *n = curl_slist_append(j->headers, "Expect:");
	if (n)
		j->headers = n;
	return j;
}

static void job_free(struct job *j)
{
	if (j->easy) {
		curl_multi_remove_handle(j->w->multi, j->easy);
		curl_easy_cleanup(j->easy);
	}
	if (j->retry_ev)
		event_free(j->retry_ev);
	curl_slist_free_all(j->headers);
	free(j->name);
	free(j->url);
	free(j->what);
	free(j->body);
	free(j);
}

/* ---- results and logging ---------------------------------------------------- */

/* Whether a warning about webhook name may be logged now; *suppressed is
 * how many were held back since the last one. */
static bool complain_allow(struct webhook_sender *w, const char *name, unsigned long *suppressed)
{
	int64_t now = clock_mono_ms();
	struct complaint *c;
	for (c = w->complaints; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			break;
	if (!c) {
		c = xcalloc(1, sizeof(*c));
		c->name = xstrdup(name);
		c->last_ms = now - COMPLAIN_EVERY_MS;
		c->next = w->complaints;
		w->complaints = c;
	}
	if (now - c->last_ms < COMPLAIN_EVERY_MS) {
		c->suppressed++;
		return false;
	}
	*suppressed = c->suppressed;
	c->suppressed = 0;
	c->last_ms = now;
	return true;
}

static void report(struct webhook_sender *w, const struct job *j, enum webhook_outcome outcome,
                   long status, const char *error, int64_t next_ms)
{
	static const char *const names[] = {"delivered", "retrying", "failed", "dropped"};
	unsigned long suppressed = 0;
	update_gauge(w);
	if (outcome == WEBHOOK_DELIVERED) {
		log_debug("webhook: delivered name=%s what=\"%s\" attempt=%d http_status=%ld",
		          j->name, j->what, j->attempt, status);
	} else if (complain_allow(w, j->name, &suppressed)) {
		log_warn("webhook: %s name=%s what=\"%s\" attempt=%d http_status=%ld error=\"%s\" "
		         "retry_in_ms=%lld pending=%zu suppressed=%lu",
		         names[outcome], j->name, j->what, j->attempt, status, error,
		         (long long)next_ms, webhook_pending(w), suppressed);
	}
	if (w->fn) {
		struct webhook_result r = {.webhook = j->name,
		                           .what = j->what,
		                           .outcome = outcome,
		                           .attempt = j->attempt,
		                           .http_status = status,
		                           .error = error,
		                           .next_retry_ms = next_ms};
		w->fn(w->ctx, &r);
	}
}

/* ---- backoff ------------------------------------------------------------------ */

static uint64_t rng_next(struct webhook_sender *w)
{
	/* xorshift64* */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545F4914F6CDD1DULL;
}

/* Delay before attempt `attempt`+1: 500 ms doubling per attempt, capped
 * at 60 s, then +-20% jitter. */
static int64_t backoff_ms(struct webhook_sender *w, int attempt)
{
	int64_t d = WEBHOOK_BACKOFF_MIN_MS;
	for (int i = 1; i < attempt && d < WEBHOOK_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > WEBHOOK_BACKOFF_MAX_MS)
		d = WEBHOOK_BACKOFF_MAX_MS;
	double u = (double)(rng_next(w) >> 11) / 9007199254740992.0; /* [0, 1) */
	return (int64_t)((double)d * (0.8 + 0.4 * u));
}

bool webhook_parse_retry_after(const char *v, size_t len, int64_t now_s, int64_t *out_ms)
{
	while (len > 0 && isspace((unsigned char)v[0])) {
		v++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)v[len - 1]))
		len--;
	if (len == 0)
		return false;
	size_t digits = 0;
	while (digits < len && isdigit((unsigned char)v[digits]))
		digits++;
	if (digits == len) {
		int64_t secs = 0;
		for (size_t i = 0; i < len && secs <= WEBHOOK_RETRY_AFTER_MAX_MS / 1000; i++)
			secs = secs * 10 + (v[i] - '0');
		int64_t ms = secs * 1000;
		*out_ms = ms > WEBHOOK_RETRY_AFTER_MAX_MS ? WEBHOOK_RETRY_AFTER_MAX_MS : ms;
		return true;
	}
	/* An HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT" and the obsolete
	 * RFC 850 and asctime forms): it must start with a day name. */
	char buf[64];
	if (len >= sizeof(buf) || !isalpha((unsigned char)v[0]))
		return false;
	memcpy(buf, v, len);
	buf[len] = '\0';
	time_t t = curl_getdate(buf, NULL);
	if (t == (time_t)-1)
		return false;
	int64_t delta = (int64_t)t - now_s;
	if (delta < 0)
		delta = 0;
	*out_ms =
	    delta > WEBHOOK_RETRY_AFTER_MAX_MS / 1000 ? WEBHOOK_RETRY_AFTER_MAX_MS : delta * 1000;
	return true;
}

/* ---- transfers ---------------------------------------------------------------- */

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

/* Keeps the Retry-After of the last response (a 1xx response's headers come
 * first and are forgotten when the final status line arrives). */
static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
	struct job *j = arg;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		j->has_retry_after = false;
	} else if (n > sizeof(name) - 1 && strncasecmp(line, name, sizeof(name) - 1) == 0) {
		size_t vlen = n - (sizeof(name) - 1);
		if (vlen >= sizeof(j->retry_after))
			vlen = sizeof(j->retry_after) - 1;
		memcpy(j->retry_after, line + sizeof(name) - 1, vlen);
		j->retry_after[vlen] = '\0';
		j->has_retry_after = true;
	}
	return n;
}

static void finish(struct webhook_sender *w, struct job *j, CURLcode rc);
static void pump(struct webhook_sender *w);

/* Starts j's next attempt; on a setup failure it fails at once. */
static void start(struct webhook_sender *w, struct job *j)
{
	CURLcode rc = CURLE_OK;
	j->attempt++;
	j->has_retry_after = false;
	j->errbuf[0] = '\0';
	j->easy = curl_easy_init();
	if (!j->easy) {
		finish(w, j, CURLE_FAILED_INIT);
		return;
	}
#define SETOPT(opt, val)                                                                           \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(j->easy, opt, val);                                  \
	} while (0)
	SETOPT(CURLOPT_ERRORBUFFER, j->errbuf);
	SETOPT(CURLOPT_PRIVATE, (void *)j);
	SETOPT(CURLOPT_URL, j->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)(j->timeout_ms > 0 ? j->timeout_ms : 0));
	SETOPT(CURLOPT_USERAGENT, "tallyd/" PACKAGE_VERSION);
	SETOPT(CURLOPT_HTTPHEADER, j->headers);
	SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->len);
	SETOPT(CURLOPT_POSTFIELDS, j->body);
	SETOPT(CURLOPT_WRITEFUNCTION, discard_body);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, (void *)j);
#undef SETOPT
	if (rc != CURLE_OK) {
		finish(w, j, rc);
		return;
	}
	list_push(w, j, JOB_INFLIGHT, false);
	if (curl_multi_add_handle(w->multi, j->easy) != CURLM_OK) {
		list_unlink(w, j);
		finish(w, j, CURLE_FAILED_INIT);
	}
}

static void pump(struct webhook_sender *w)
{
	while (w->inflight.n < WEBHOOK_MAX_INFLIGHT && w->queued.head) {
		struct job *j = w->queued.head;
		list_unlink(w, j);
		start(w, j);
	}
	update_gauge(w);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct webhook_sender *w = j->w;
	(void)fd;
	(void)what;
	event_free(j->retry_ev);
	j->retry_ev = NULL;
	list_push(w, j, JOB_QUEUED, true); /* it already waited its turn */
	pump(w);
}

/* Errors that another attempt cannot fix. */
static bool permanent(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_PEER_FAILED_VERIFICATION:
		return true;
	default:
		return false;
	}
}

/* An attempt is over (j is in no list): delivered, retry later, or failed. */
static void finish(struct webhook_sender *w, struct job *j, CURLcode rc)
{
	long status = 0;
	char error[CURL_ERROR_SIZE + 32];
	bool retry;

	if (j->easy) {
		curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(w->multi, j->easy);
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	if (rc == CURLE_OK && status >= 200 && status < 300) {
		selfstats.webhook_sent++;
		report(w, j, WEBHOOK_DELIVERED, status, "", 0);
		job_free(j);
		return;
	}
	if (rc != CURLE_OK) {
		snprintf(error, sizeof(error), "%s",
		         j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
		retry = !permanent(rc);
		status = 0;
	} else {
		snprintf(error, sizeof(error), "HTTP %ld", status);
		retry = status == 429 || (status >= 500 && status < 600);
	}
	if (retry && j->attempt <= j->retries) {
		int64_t delay;
		if (!(rc == CURLE_OK && j->has_retry_after &&
		      webhook_parse_retry_after(j->retry_after, strlen(j->retry_after),
		                                clock_wall_ms() / 1000, &delay)))
			delay = backoff_ms(w, j->attempt);
		struct timeval tv = {.tv_sec = delay / 1000, .tv_usec = (delay % 1000) * 1000};
		j->retry_ev = evtimer_new(w->base, retry_cb, j);
		if (j->retry_ev && evtimer_add(j->retry_ev, &tv) == 0) {
			list_push(w, j, JOB_WAITING, false);
			selfstats.webhook_retries++;
			report(w, j, WEBHOOK_RETRYING, status, error, delay);
			return;
		}
		snprintf(error + strlen(error), sizeof(error) - strlen(error),
		         " (cannot schedule a retry)");
	}
	selfstats.webhook_failed++;
	report(w, j, WEBHOOK_FAILED, status, error, 0);
	job_free(j);
}

/* Collects the transfers curl has completed. */
static void check_done(struct webhook_sender *w)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result;
		char *priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		struct job *j = (struct job *)(void *)priv;
		list_unlink(w, j);
		finish(w, j, rc);
	}
	pump(w);
}

/* ---- curl <-> libevent ------------------------------------------------------ */

static void sock_free(struct webhook_sender *w, struct sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		w->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->ev)
		event_free(s->ev);
	free(s);
}

static void sock_event_cb(evutil_socket_t fd, short events, void *arg)
{
	struct sock *s = arg;
	struct webhook_sender *w = s->w; /* s may be freed by the call below */
	int flags = 0, running;
	if (events & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(w->multi, fd, flags, &running);
	check_done(w);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct webhook_sender *w = userp;
	struct sock *s = socketp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_free(w, s);
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->w = w;
		s->fd = fd;
		s->next = w->socks;
		if (w->socks)
			w->socks->prev = s;
		w->socks = s;
		curl_multi_assign(w->multi, fd, s);
	}
	if (s->ev)
		event_free(s->ev);
	short ev = EV_PERSIST;
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	s->ev = event_new(w->base, fd, ev, sock_event_cb, s);
	if (!s->ev || event_add(s->ev, NULL) < 0)
		return -1; /* curl fails the transfers on this socket */
	return 0;
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct webhook_sender *w = arg;
	int running;
	(void)fd;
	(void)what;
	curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(w);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct webhook_sender *w = userp;
	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(w->timer);
		return 0;
	}
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	return evtimer_add(w->timer, &tv) == 0 ? 0 : -1;
}

/* ---- public ------------------------------------------------------------------- */

struct webhook_sender *webhook_new(struct event_base *base, size_t queue_max, char *err,
                                   size_t errlen)
{
	static bool curl_ready;
	struct webhook_sender *w;

	if (!curl_ready) {
		CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (rc != CURLE_OK) {
			snprintf(err, errlen, "webhook: curl_global_init: %s",
			         curl_easy_strerror(rc));
			return NULL;
		}
		curl_ready = true;
	}
	w = xcalloc(1, sizeof(*w));
	w->base = base;
	w->queue_max = queue_max;
	w->rng = (uint64_t)clock_mono_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid() ^
	         (uint64_t)(uintptr_t)w;
	if (w->rng == 0)
		w->rng = 1;
	w->multi = curl_multi_init();
	w->timer = evtimer_new(base, timer_event_cb, w);
	if (!w->multi || !w->timer) {
		snprintf(err, errlen, "webhook: cannot create the curl multi handle or its timer");
		goto fail;
	}
	if (curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, (void *)w) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, (void *)w) != CURLM_OK) {
		snprintf(err, errlen, "webhook: cannot set the curl multi callbacks");
		goto fail;
	}
	update_gauge(w);
	return w;
fail:
	if (w->multi)
		curl_multi_cleanup(w->multi);
	if (w->timer)
		event_free(w->timer);
	free(w);
	return NULL;
}

static void free_list(struct webhook_sender *w, struct jlist *l)
{
	while (l->head) {
		struct job *j = l->head;
		list_unlink(w, j);
		job_free(j);
	}
}

void webhook_free(struct webhook_sender *w)
{
	if (!w)
		return;
	size_t pending = webhook_pending(w);
	if (pending > 0)
		log_warn("webhook: abandoning pending=%zu notifications (in_flight=%zu queued=%zu "
		         "waiting_retry=%zu)",
		         pending, w->inflight.n, w->queued.n, w->waiting.n);
	free_list(w, &w->inflight);
	free_list(w, &w->waiting);
	free_list(w, &w->queued);
	/* Closing cached connections may still call on_socket / on_timer. */
	curl_multi_cleanup(w->multi);
	while (w->socks)
		sock_free(w, w->socks);
	event_free(w->timer);
	while (w->complaints) {
		struct complaint *c = w->complaints;
		w->complaints = c->next;
		free(c->name);
		free(c);
	}
	free(w);
	selfstats.webhook_queue = 0;
}

void webhook_on_result(struct webhook_sender *w,
                       void (*fn)(void *ctx, const struct webhook_result *r), void *ctx)
{
	w->fn = fn;
	w->ctx = ctx;
}

int webhook_post(struct webhook_sender *w, const struct webhook_conf *c, const char *body,
                 size_t len, const char *what)
{
	if (w->queued.n + w->waiting.n >= w->queue_max &&
	    !(w->queued.n == 0 && w->inflight.n < WEBHOOK_MAX_INFLIGHT)) {
		struct job dropped = {.name = (char *)(c->name ? c->name : ""),
		                      .what = (char *)(what ? what : "")};
		selfstats.webhook_dropped++;
		report(w, &dropped, WEBHOOK_DROPPED, 0, "queue full", 0);
		return -1;
	}
	struct job *j = job_new(w, c, body, len, what);
	list_push(w, j, JOB_QUEUED, false);
	pump(w);
	return 0;
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int webhook_drain(struct webhook_sender *w, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct event *wake = evtimer_new(w->base, wake_cb, NULL);
	while (webhook_pending(w) > 0 && wake) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			break;
		struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
		evtimer_add(wake, &tv);
		if (event_base_loop(w->base, EVLOOP_ONCE) < 0)
			break;
	}
	if (wake)
		event_free(wake);
	update_gauge(w);
	return webhook_pending(w) == 0 ? 0 : -1;
}
