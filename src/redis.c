/* redis: writes a flush's batch to Redis over one hiredis async connection
 * on the main loop: a bounded window of commands in flight, every reply
 * checked (error replies and EXEC aborts counted and logged), a deadline per
 * flush, and reconnects with jittered backoff (AUTH and SELECT first). It
 * does not format commands (redis_batch.c does) nor decide keys or values:
 * flush builds the batches. Called by flush on the main thread. */
#include "redis.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "log.h"
#include "net.h"
#include "redis_batch.h"
#include "selfstats.h"
#include "xalloc.h"

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 30000
/* At most this many commands (and about this many bytes) are handed to
 * hiredis ahead of their replies: hiredis copies each command into one
 * output buffer and moves the unwritten rest after every partial write, so
 * a whole 1M-series flush there would cost memory twice and quadratic
 * copying. More is handed when half the window has been answered. */
#define REDIS_WINDOW_CMDS 65536
#define REDIS_WINDOW_BYTES (8 * 1024 * 1024)

enum sink_state { SINK_IDLE, SINK_CONNECTING, SINK_HANDSHAKE, SINK_READY };

struct redis_sink {
	struct event_base *base;
	char *addr; /* as configured, for the logs */
	char host[NI_MAXHOST];
	int port;
	char *password;
	int db;
	int64_t timeout_ms;

	enum sink_state state;
	redisAsyncContext *ac;
	struct event *retry;    /* next connection attempt */
	struct event *deadline; /* connection attempt or flush took too long */
	struct event *defer;    /* work that must not run inside hiredis callbacks */
	bool handshake_sent;
	unsigned handshake_left;
	const char *reset_reason; /* non-NULL: defer must close the connection */
	int64_t backoff_ms;
	unsigned failures; /* consecutive, since the last ready connection */
	uint64_t rng;

	/* The flush in flight: replies arrive in order, so the commands
	 * between the reply cursor and the send cursor are the ones handed to
	 * hiredis and unanswered. Answered chunks are freed as we go. */
	struct redis_batch *flight;
	struct rchunk *send_chunk; /* NULL once everything is handed */
	size_t send_off;
	uint64_t send_pos;   /* batch offset after the last handed record */
	uint64_t reply_pos;  /* batch offset of the last answered record */
	uint64_t reply_base; /* batch offset of flight->head */
	size_t reply_idx;    /* answered commands of flight->head */
	const char *multi;   /* MULTI of the group being answered */
	size_t pending;
	int64_t flush_start_ms;
	uint64_t completed;

	struct log_limit conn_lim;
	struct log_limit reply_lim;
	struct log_limit flush_lim;
};

/* --- the flush in flight ------------------------------------------------- */

static void update_gauges(const struct redis_sink *s)
{
	selfstats.redis_connected = s->state == SINK_READY;
	selfstats.redis_pending_replies = s->pending;
}

static void end_flight(struct redis_sink *s)
{
	redis_batch_free(s->flight);
	s->flight = NULL;
	s->send_chunk = NULL;
	s->multi = NULL;
	s->pending = 0;
	evtimer_del(s->deadline);
	update_gauges(s);
}

static void flush_done(struct redis_sink *s)
{
	int64_t ms = clock_mono_ms() - s->flush_start_ms;
	size_t ncmds = s->flight->ncmds;

	selfstats.redis_flushes++;
	selfstats.redis_flush_ms = (uint64_t)(ms > 0 ? ms : 0);
	s->completed++;
	end_flight(s);
	log_debug("redis: flush complete addr=%s commands=%zu duration_ms=%lld", s->addr, ncmds,
	          (long long)ms);
}

/* The flush in flight will not complete (disconnect, timeout, shutdown). */
static void abort_flight(struct redis_sink *s, const char *reason)
{
	if (!s->flight)
		return;
	selfstats.redis_flush_dropped++;
	if (log_limit_allow(&s->flush_lim, clock_mono_ms()))
		log_warn("redis: flush dropped addr=%s reason=%s unanswered=%zu commands=%zu",
		         s->addr, reason, s->pending, s->flight->ncmds);
	end_flight(s);
}

static void log_error_reply(struct redis_sink *s, const char *rec, const redisReply *r,
                            const char *where)
{
	const char *name = "?", *key = "";
	int nlen = 1, klen = 0;

	if (!log_limit_allow(&s->reply_lim, clock_mono_ms()))
		return;
	redis_batch_arg(rec, 0, &name, &nlen);
	redis_batch_arg(rec, 1, &key, &klen);
	log_warn("redis: error reply addr=%s cmd=%.*s key=\"%.*s\"%s error=\"%.*s\"", s->addr, nlen,
	         name, klen, key, where, r->len > 500 ? 500 : (int)r->len, r->str);
}

/* Counts and logs the error replies in r, the reply to the command of rec.
 * An EXEC reply carries one reply per queued command: element i answers the
 * i-th command after the group's MULTI. */
static void check_reply(struct redis_sink *s, const char *rec, const redisReply *r)
{
	/* Only MULTI answers "OK" in our batches: QUEUED is the common case. */
	if (r->type == REDIS_REPLY_STATUS && r->len == 2 &&
	    redis_batch_rec_is(rec, resp_multi, RESP_MULTI_LEN)) {
		s->multi = rec;
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		selfstats.redis_errors++;
		log_error_reply(s, rec, r, "");
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || !s->multi ||
	    !redis_batch_rec_is(rec, resp_exec, RESP_EXEC_LEN))
		return;
	for (size_t i = 0; i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_ERROR)
			continue;
		selfstats.redis_errors++;
		/* Rare: only now walk the group (cold memory) to name the command.
		 * The group is whole in one chunk, and has r->elements commands. */
		const char *q = s->multi + REC_HDR + RESP_MULTI_LEN;
		for (size_t k = 0; k < i; k++)
			q += REC_HDR + redis_batch_rec_len(q);
		log_error_reply(s, q, r->element[i], " in=EXEC");
	}
}

static bool window_open(const struct redis_sink *s)
{
	return s->pending == 0 ||
	       (s->pending < REDIS_WINDOW_CMDS && s->send_pos - s->reply_pos < REDIS_WINDOW_BYTES);
}

static void flush_reply_cb(redisAsyncContext *ac, void *r, void *privdata);

/* Hands commands of the flight to hiredis while the window has room. */
static void pump(struct redis_sink *s)
{
	while (s->send_chunk && window_open(s)) {
		struct rchunk *c = s->send_chunk;
		char *rec = c->data + s->send_off;
		size_t n = redis_batch_rec_len(rec);
		if (redisAsyncFormattedCommand(s->ac, flush_reply_cb, rec, rec + REC_HDR, n) !=
		    REDIS_OK)
			break; /* the context is closing: its disconnect follows */
		s->pending++;
		s->send_off += REC_HDR + n;
		s->send_pos += REC_HDR + n;
		selfstats.redis_commands++;
		if (s->send_off == c->len) {
			s->send_chunk = c->next;
			s->send_off = 0;
		}
	}
	selfstats.redis_pending_replies = s->pending;
}

static void flush_reply_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_sink *s = ac->data;
	const char *rec = privdata;

	/* NULL: the context is going away; whoever closes it ends the flush. */
	if (!r || s->ac != ac || !s->flight)
		return;
	check_reply(s, rec, r);
	s->pending--;
	struct rchunk *c = s->flight->head;
	/* The start of rec, not its end: no need to touch its (cold) bytes. */
	s->reply_pos = s->reply_base + (uint64_t)(rec - c->data);
	if (++s->reply_idx == c->ncmds) {
		s->reply_base += c->len;
		s->reply_idx = 0;
		s->flight->head = c->next;
		free(c);
	}
	if (s->pending == 0 && !s->send_chunk) {
		flush_done(s);
		return;
	}
	if (s->pending == 0 || (s->pending <= REDIS_WINDOW_CMDS / 2 &&
	                        s->send_pos - s->reply_pos <= REDIS_WINDOW_BYTES / 2))
		pump(s);
	else
		selfstats.redis_pending_replies = s->pending;
}

/* --- connection ---------------------------------------------------------- */

/* Returns the delay chosen: backoff +-20%, then the backoff doubles. */
static int64_t schedule_retry(struct redis_sink *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	int64_t delay = s->backoff_ms * (80 + (int64_t)(s->rng % 41)) / 100;
	struct timeval tv = {.tv_sec = delay / 1000, .tv_usec = (delay % 1000) * 1000};
	evtimer_add(s->retry, &tv);
	s->backoff_ms *= 2;
	if (s->backoff_ms > REDIS_BACKOFF_MAX_MS)
		s->backoff_ms = REDIS_BACKOFF_MAX_MS;
	s->state = SINK_IDLE;
	s->failures++;
	update_gauges(s);
	return delay;
}

static void log_conn(struct redis_sink *s, bool was_ready, const char *reason, int64_t delay)
{
	if (!log_limit_allow(&s->conn_lim, clock_mono_ms()))
		return;
	if (was_ready)
		log_warn("redis: connection lost addr=%s reason=\"%s\" retry_ms=%lld", s->addr,
		         reason, (long long)delay);
	else
		log_warn("redis: connect failed addr=%s reason=\"%s\" failures=%u retry_ms=%lld",
		         s->addr, reason, s->failures, (long long)delay);
}

/* Closes our connection (never from inside a hiredis callback), ends the
 * flush in flight, counts one error and schedules a reconnect. */
static void reset(struct redis_sink *s, const char *reason)
{
	redisAsyncContext *ac = s->ac;
	bool was_ready = s->state == SINK_READY;

	s->ac = NULL; /* its callbacks now see a stale context and return */
	s->reset_reason = NULL;
	if (ac)
		redisAsyncFree(ac);
	abort_flight(s, reason);
	selfstats.redis_errors++;
	evtimer_del(s->deadline);
	log_conn(s, was_ready, reason, schedule_retry(s));
}

/* Asks defer to reset: for use inside hiredis callbacks. */
static void request_reset(struct redis_sink *s, const char *reason)
{
	if (s->reset_reason)
		return;
	s->reset_reason = reason;
	event_active(s->defer, EV_TIMEOUT, 0);
}

static void arm_deadline(struct redis_sink *s)
{
	struct timeval tv = {.tv_sec = s->timeout_ms / 1000,
	                     .tv_usec = (s->timeout_ms % 1000) * 1000};
	evtimer_add(s->deadline, &tv);
}

static void ready(struct redis_sink *s)
{
	s->state = SINK_READY;
	s->backoff_ms = REDIS_BACKOFF_MIN_MS;
	selfstats.redis_reconnects++;
	evtimer_del(s->deadline);
	if (log_limit_allow(&s->conn_lim, clock_mono_ms()))
		log_info("redis: connected addr=%s db=%d after_failures=%u", s->addr, s->db,
		         s->failures);
	s->failures = 0;
	update_gauges(s);
}

static void handshake_cb(redisAsyncContext *ac, void *r, void *privdata)
{
	struct redis_sink *s = ac->data;
	const redisReply *reply = r;

	if (!r || s->ac != ac || s->reset_reason || s->state != SINK_HANDSHAKE)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		/* Counted by the reset. */
		if (log_limit_allow(&s->reply_lim, clock_mono_ms()))
			log_error("redis: %s refused addr=%s error=\"%.*s\"",
			          (const char *)privdata, s->addr,
			          reply->len > 500 ? 500 : (int)reply->len, reply->str);
		request_reset(s, "handshake_refused");
		return;
	}
	if (--s->handshake_left == 0)
		ready(s);
}

static void send_handshake(struct redis_sink *s)
{
	char dbs[24];
	const char *argv[2];
	size_t lens[2];

	s->handshake_sent = true;
	s->handshake_left = 0;
	if (s->password[0]) {
		argv[0] = "AUTH";
		argv[1] = s->password;
		lens[0] = 4;
		lens[1] = strlen(s->password);
		if (redisAsyncCommandArgv(s->ac, handshake_cb, "AUTH", 2, argv, lens) == REDIS_OK)
			s->handshake_left++;
	}
	if (s->db != 0) {
		argv[0] = "SELECT";
		argv[1] = dbs;
		lens[0] = 6;
		lens[1] = (size_t)(redis_batch_put_u64(dbs, (uint64_t)s->db) - dbs);
		if (redisAsyncCommandArgv(s->ac, handshake_cb, "SELECT", 2, argv, lens) == REDIS_OK)
			s->handshake_left++;
	}
	/* Always one round trip: a stopped server accepts TCP connections. */
	argv[0] = "PING";
	lens[0] = 4;
	if (redisAsyncCommandArgv(s->ac, handshake_cb, "PING", 1, argv, lens) == REDIS_OK)
		s->handshake_left++;
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_sink *s = arg;
	(void)fd;
	(void)what;
	if (s->reset_reason) {
		reset(s, s->reset_reason);
		return;
	}
	if (s->state == SINK_HANDSHAKE && s->ac && !s->handshake_sent)
		send_handshake(s);
}

static void connect_cb(const redisAsyncContext *ac, int status)
{
	struct redis_sink *s = ac->data;

	if (s->ac != ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context when we return. */
		s->ac = NULL;
		selfstats.redis_errors++;
		evtimer_del(s->deadline);
		char reason[160];
		snprintf(reason, sizeof(reason), "%s", ac->errstr ? ac->errstr : "connect error");
		log_conn(s, false, reason, schedule_retry(s));
		return;
	}
	s->state = SINK_HANDSHAKE;
	s->handshake_sent = false;
	event_active(s->defer, EV_TIMEOUT, 0);
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct redis_sink *s = ac->data;
	bool was_ready = s->state == SINK_READY;
	char reason[160];

	(void)status;
	if (s->ac != ac)
		return; /* we closed it ourselves */
	/* hiredis frees the context when we return; the NULL replies of
	 * every pending command have been delivered already. */
	s->ac = NULL;
	s->reset_reason = NULL; /* a reset asked for earlier is moot now */
	snprintf(reason, sizeof(reason), "%s", ac->errstr ? ac->errstr : "closed");
	abort_flight(s, "disconnected");
	selfstats.redis_errors++;
	evtimer_del(s->deadline);
	log_conn(s, was_ready, reason, schedule_retry(s));
}

static void connect_now(struct redis_sink *s)
{
	redisAsyncContext *ac = redisAsyncConnect(s->host, s->port);

	if (!ac || ac->err) {
		char reason[160];
		snprintf(reason, sizeof(reason), "%s",
		         ac && ac->errstr ? ac->errstr : "cannot allocate a context");
		if (ac)
			redisAsyncFree(ac);
		selfstats.redis_errors++;
		log_conn(s, false, reason, schedule_retry(s));
		return;
	}
	ac->data = s;
	if (redisLibeventAttach(ac, s->base) != REDIS_OK) {
		redisAsyncFree(ac);
		selfstats.redis_errors++;
		log_conn(s, false, "cannot attach to the event loop", schedule_retry(s));
		return;
	}
	redisEnableKeepAlive(&ac->c);
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	s->ac = ac;
	s->state = SINK_CONNECTING;
	arm_deadline(s);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_sink *s = arg;
	(void)fd;
	(void)what;
	switch (s->state) {
	case SINK_CONNECTING:
		reset(s, "connect_timeout");
		break;
	case SINK_HANDSHAKE:
		reset(s, "handshake_timeout");
		break;
	case SINK_READY:
		if (s->flight)
			reset(s, "flush_timeout");
		break;
	case SINK_IDLE:
		break;
	}
}

/* --- public -------------------------------------------------------------- */

struct redis_sink *redis_sink_new(struct event_base *base, const char *address,
                                  const char *password, int db, int64_t timeout_ms, char *err,
                                  size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char why[256], port[NI_MAXSERV];

	if (!net_parse_addr(address, &ss, &sslen, why, sizeof(why))) {
		snprintf(err, errlen, "redis.address: %s", why);
		return NULL;
	}
	if (db < 0) {
		snprintf(err, errlen, "redis.db: %d is negative", db);
		return NULL;
	}
	if (timeout_ms <= 0) {
		snprintf(err, errlen, "redis: timeout %lld ms is not positive",
		         (long long)timeout_ms);
		return NULL;
	}
	struct redis_sink *s = xcalloc(1, sizeof(*s));
	int rc = getnameinfo((struct sockaddr *)&ss, sslen, s->host, sizeof(s->host), port,
	                     sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	long p = rc == 0 ? strtol(port, NULL, 10) : 0;
	if (rc != 0 || p <= 0 || p > 65535) {
		snprintf(err, errlen, "redis.address: '%s' has no usable port", address);
		free(s);
		return NULL;
	}
	s->port = (int)p;
	s->base = base;
	s->addr = xstrdup(address);
	s->password = xstrdup(password ? password : "");
	s->db = db;
	s->timeout_ms = timeout_ms;
	s->retry = evtimer_new(base, retry_cb, s);
	s->deadline = evtimer_new(base, deadline_cb, s);
	s->defer = evtimer_new(base, defer_cb, s);
	if (!s->retry || !s->deadline || !s->defer) {
		snprintf(err, errlen, "redis: cannot allocate libevent objects");
		redis_sink_free(s);
		return NULL;
	}
	s->backoff_ms = REDIS_BACKOFF_MIN_MS;
	s->rng = (uint64_t)clock_mono_ms() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)s ^
	         (uint64_t)getpid();
	if (s->rng == 0)
		s->rng = 1;
	s->conn_lim = (struct log_limit)LOG_LIMIT_INIT(5);
	s->reply_lim = (struct log_limit)LOG_LIMIT_INIT(5);
	s->flush_lim = (struct log_limit)LOG_LIMIT_INIT(5);
	connect_now(s);
	return s;
}

void redis_sink_free(struct redis_sink *s)
{
	if (!s)
		return;
	redisAsyncContext *ac = s->ac;
	s->ac = NULL;
	if (ac)
		redisAsyncFree(ac);
	if (s->deadline)
		abort_flight(s, "shutdown");
	s->state = SINK_IDLE;
	update_gauges(s);
	if (s->retry)
		event_free(s->retry);
	if (s->deadline)
		event_free(s->deadline);
	if (s->defer)
		event_free(s->defer);
	free(s->addr);
	free(s->password);
	free(s);
}

int redis_sink_submit(struct redis_sink *s, struct redis_batch *b)
{
	if (b->in_group)
		REDIS_BUG("redis: redis_sink_submit with an open group");
	if (s->flight) {
		selfstats.redis_flush_skipped++;
		if (log_limit_allow(&s->flush_lim, clock_mono_ms()))
			log_warn("redis: flush skipped addr=%s reason=previous_in_flight "
			         "unanswered=%zu commands=%zu",
			         s->addr, s->pending, b->ncmds);
		redis_batch_free(b);
		return -1;
	}
	if (s->state != SINK_READY) {
		selfstats.redis_flush_dropped++;
		if (log_limit_allow(&s->flush_lim, clock_mono_ms()))
			log_warn("redis: flush dropped addr=%s reason=not_connected "
			         "commands=%zu",
			         s->addr, b->ncmds);
		redis_batch_free(b);
		return -1;
	}
	redis_batch_compact(b);
	s->flight = b;
	s->flush_start_ms = clock_mono_ms();
	if (b->ncmds == 0) {
		flush_done(s);
		return 0;
	}
	s->send_chunk = b->head;
	s->send_off = 0;
	s->send_pos = 0;
	s->reply_pos = 0;
	s->reply_base = 0;
	s->reply_idx = 0;
	s->multi = NULL;
	s->pending = 0;
	arm_deadline(s);
	pump(s);
	return 0;
}

bool redis_sink_connected(const struct redis_sink *s)
{
	return s->state == SINK_READY;
}

bool redis_sink_busy(const struct redis_sink *s)
{
	return s->flight != NULL;
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int redis_sink_drain(struct redis_sink *s, int timeout_ms)
{
	if (!s->flight)
		return 0;
	uint64_t done = s->completed;
	int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct event *wake = evtimer_new(s->base, wake_cb, NULL);

	while (s->flight && wake) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			break;
		struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
		evtimer_add(wake, &tv);
		if (event_base_loop(s->base, EVLOOP_ONCE) < 0)
			break;
	}
	if (wake)
		event_free(wake);
	return !s->flight && s->completed > done ? 0 : -1;
}
