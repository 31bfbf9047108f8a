/* graphite: keeps one plaintext TCP connection to carbon, queues each flush's
 * lines (bounded by graphite.buffer_max, oldest whole flushes dropped first),
 * reconnects with jittered backoff and counts it all in selfstats. It does not
 * format lines (gfmt does). Called by flush on the main loop. Carbon never
 * writes, so a read event or EOF means it closed; bytes the kernel took on a
 * socket whose peer had already gone are lost: we notice only afterwards. */
#include "graphite.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "clock.h"
#include "log.h"
#include "net.h"
#include "selfstats.h"
#include "xalloc.h"

#define GRAPHITE_BACKOFF_MIN_MS 100
#define GRAPHITE_BACKOFF_MAX_MS 30000
#define GRAPHITE_CONNECT_TIMEOUT_S 10
#define GRAPHITE_WRITE_TIMEOUT_S 60
/* A flush is handed to the socket only while less than this is in flight,
 * so that during a stall new flushes stay unhanded, where they can be
 * dropped whole. */
#define GRAPHITE_INFLIGHT_MAX (1024 * 1024)

enum graphite_state { GRAPHITE_IDLE, GRAPHITE_CONNECTING, GRAPHITE_CONNECTED };

/* One flush: our copy of its bytes, ending with '\n'. While handed, the
 * bufferevent's output refers to data[sent..len) (evbuffer_add_reference,
 * no second copy) and holds a reference; `sent` advances as the kernel
 * takes bytes, so we know exactly which lines went out. */
struct gblock {
	struct gblock *prev, *next;
	size_t len;
	size_t sent;
	bool handed;
	int refs; /* 1 for the queue + 1 while the bufferevent refers to it */
	char data[];
};

/* Blocks queue oldest first; the handed ones form a prefix ending before
 * `next_hand`. On a disconnect every block becomes unhanded again and the
 * unwritten rest is sent on the next connection. */
struct graphite {
	struct event_base *base;
	char *addr;
	struct sockaddr_storage ss;
	socklen_t sslen;
	size_t buffer_max;
	enum graphite_state state;
	struct bufferevent *bev;
	struct evbuffer_cb_entry *out_cb;
	struct gblock *head, *tail, *next_hand;
	size_t queued;   /* unwritten bytes in all blocks */
	size_t inflight; /* unwritten bytes in handed blocks */
	bool line_start; /* the last byte the kernel took ended a line */
	struct event *retry;
	int64_t backoff_ms;
	unsigned failures; /* consecutive, since the last connect */
	uint64_t rng;
	struct log_limit conn_lim;
	struct log_limit drop_lim;
};

static void connect_now(struct graphite *g);

static uint64_t now_s(void)
{
	return (uint64_t)(clock_wall_ms() / 1000);
}

static void update_gauge(const struct graphite *g)
{
	selfstats.graphite_queue_bytes = g->queued;
}

static void block_unref(struct gblock *b)
{
	if (--b->refs == 0)
		free(b);
}

/* Called by libevent when the bufferevent lets go of a handed block. */
static void block_release(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	block_unref(arg);
}

static void block_append(struct graphite *g, struct gblock *b)
{
	b->prev = g->tail;
	b->next = NULL;
	if (g->tail)
		g->tail->next = b;
	else
		g->head = b;
	g->tail = b;
	if (!g->next_hand)
		g->next_hand = b;
	g->queued += b->len - b->sent;
}

/* Unlinks b (handed or not) and drops the queue's reference. */
static void block_remove(struct graphite *g, struct gblock *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		g->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		g->tail = b->prev;
	if (g->next_hand == b)
		g->next_hand = b->next;
	g->queued -= b->len - b->sent;
	if (b->handed)
		g->inflight -= b->len - b->sent;
	block_unref(b);
}

static void count_dropped(struct graphite *g, size_t n, const char *why)
{
	if (n == 0)
		return;
	selfstats.graphite_dropped_bytes += n;
	if (log_limit_allow(&g->drop_lim, clock_mono_ms()))
		log_warn("graphite: dropped bytes=%zu reason=%s addr=%s buffer_max=%zu", n, why,
		         g->addr, g->buffer_max);
}

static void count_error(void)
{
	selfstats.graphite_errors++;
	selfstats.graphite_last_exception = now_s();
}

/* Hands whole flushes to the connected socket. */
static void pump(struct graphite *g)
{
	if (g->state != GRAPHITE_CONNECTED)
		return;
	struct evbuffer *out = bufferevent_get_output(g->bev);
	bool handed = false;
	while (g->next_hand && g->inflight < GRAPHITE_INFLIGHT_MAX) {
		struct gblock *b = g->next_hand;
		size_t left = b->len - b->sent;
		if (evbuffer_add_reference(out, b->data + b->sent, left, block_release, b) < 0) {
			log_error("graphite: out of memory handing %zu bytes to the socket", left);
			abort();
		}
		b->refs++;
		b->handed = true;
		g->inflight += left;
		g->next_hand = b->next;
		handed = true;
	}
	if (handed)
		selfstats.graphite_last_flush = now_s();
}

/* The kernel took n more bytes of the socket's output: they are the next
 * unwritten bytes of the handed blocks, in order. */
static void account_written(struct graphite *g, size_t n)
{
	size_t lines = 0;

	selfstats.graphite_bytes_sent += n;
	while (n > 0 && g->head && g->head->handed) {
		struct gblock *b = g->head;
		size_t m = b->len - b->sent < n ? b->len - b->sent : n;
		const char *s = b->data + b->sent, *end = s + m;
		while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
			lines++;
			s++;
		}
		g->line_start = b->data[b->sent + m - 1] == '\n';
		b->sent += m;
		g->queued -= m;
		g->inflight -= m;
		n -= m;
		if (b->sent == b->len)
			block_remove(g, b);
	}
	selfstats.graphite_lines_sent += lines;
}

static void out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct graphite *g = arg;
	(void)buf;
	if (info->n_deleted > 0) {
		account_written(g, info->n_deleted);
		update_gauge(g);
	}
}

/* Returns the delay chosen: backoff +-20%, then the backoff doubles. */
static int64_t schedule_retry(struct graphite *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	int64_t delay = g->backoff_ms * (80 + (int64_t)(g->rng % 41)) / 100;
	struct timeval tv = {.tv_sec = delay / 1000, .tv_usec = (delay % 1000) * 1000};
	evtimer_add(g->retry, &tv);
	g->backoff_ms *= 2;
	if (g->backoff_ms > GRAPHITE_BACKOFF_MAX_MS)
		g->backoff_ms = GRAPHITE_BACKOFF_MAX_MS;
	g->state = GRAPHITE_IDLE;
	return delay;
}

/* Closes the connection (or the attempt); the unwritten rest of every
 * block will go out on the next connection. Schedules a reconnect. */
static void disconnect(struct graphite *g, const char *reason)
{
	bool was_connected = g->state == GRAPHITE_CONNECTED;
	size_t back = g->inflight;

	count_error();
	if (g->bev) {
		/* Its output lets go of the handed blocks (now or when libevent
		 * finishes the callback that called us). */
		evbuffer_remove_cb_entry(bufferevent_get_output(g->bev), g->out_cb);
		bufferevent_free(g->bev);
		g->bev = NULL;
		g->out_cb = NULL;
	}
	for (struct gblock *b = g->head; b && b->handed; b = b->next)
		b->handed = false;
	g->next_hand = g->head;
	g->inflight = 0;
	if (!g->line_start && g->head) {
		/* The kernel took part of a line: its rest alone would be garbage.
		 * Every block ends with '\n', so the line ends in this block. */
		struct gblock *b = g->head;
		const char *nl = memchr(b->data + b->sent, '\n', b->len - b->sent);
		size_t cut = (size_t)(nl - (b->data + b->sent)) + 1;
		b->sent += cut;
		g->queued -= cut;
		back -= cut;
		count_dropped(g, cut, "partial_line");
		if (b->sent == b->len)
			block_remove(g, b);
	}
	g->line_start = true;
	g->failures++;
	int64_t delay = schedule_retry(g);
	if (log_limit_allow(&g->conn_lim, clock_mono_ms())) {
		if (was_connected)
			log_warn("graphite: connection lost addr=%s reason=%s requeued_bytes=%zu "
			         "retry_ms=%lld",
			         g->addr, reason, back, (long long)delay);
		else
			log_warn("graphite: connect failed addr=%s reason=%s failures=%u "
			         "retry_ms=%lld",
			         g->addr, reason, g->failures, (long long)delay);
	}
	update_gauge(g);
}

/* Before handing a flush to the socket: has carbon's FIN (or RST) already
 * arrived while the loop has not run the read callback yet? One peek per
 * flush saves that flush from being written into a dead connection. */
static bool peer_closed(struct graphite *g)
{
	char c;
	ssize_t r = recv(bufferevent_getfd(g->bev), &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct graphite *g = arg;
	/* Carbon never writes: data here means something else answers. */
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
	disconnect(g, "unexpected_data_from_peer");
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pump(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct graphite *g = arg;
	char reason[128];

	if (what & BEV_EVENT_CONNECTED) {
		struct timeval wt = {.tv_sec = GRAPHITE_WRITE_TIMEOUT_S, .tv_usec = 0};
		g->state = GRAPHITE_CONNECTED;
		g->backoff_ms = GRAPHITE_BACKOFF_MIN_MS;
		selfstats.graphite_reconnects++;
		if (log_limit_allow(&g->conn_lim, clock_mono_ms()))
			log_info("graphite: connected addr=%s after_failures=%u queued_bytes=%zu",
			         g->addr, g->failures, g->queued);
		g->failures = 0;
		g->line_start = true;
		bufferevent_set_timeouts(bev, NULL, &wt);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		pump(g);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(reason, sizeof(reason), "closed_by_peer");
	else if (what & BEV_EVENT_TIMEOUT)
		snprintf(reason, sizeof(reason), "%s_timeout",
		         g->state == GRAPHITE_CONNECTING ? "connect" : "write");
	else
		snprintf(reason, sizeof(reason), "\"%s\"",
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	disconnect(g, reason);
}

static void connect_now(struct graphite *g)
{
	struct timeval ct = {.tv_sec = GRAPHITE_CONNECT_TIMEOUT_S, .tv_usec = 0};
	char reason[128];

	g->state = GRAPHITE_CONNECTING;
	int fd = socket(g->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(reason, sizeof(reason), "\"socket: %s\"", strerror(errno));
		disconnect(g, reason);
		return;
	}
	g->bev = bufferevent_socket_new(g->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!g->bev) {
		close(fd);
		disconnect(g, "bufferevent_socket_new_failed");
		return;
	}
	g->out_cb = evbuffer_add_cb(bufferevent_get_output(g->bev), out_cb, g);
	bufferevent_setcb(g->bev, read_cb, write_cb, event_cb, g);
	bufferevent_set_timeouts(g->bev, NULL, &ct);
	if (bufferevent_socket_connect(g->bev, (struct sockaddr *)&g->ss, (int)g->sslen) < 0) {
		snprintf(reason, sizeof(reason), "\"connect: %s\"", strerror(errno));
		disconnect(g, reason);
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

struct graphite *graphite_new(struct event_base *base, const char *addr, int64_t buffer_max,
                              char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char why[256];

	if (!net_parse_addr(addr, &ss, &sslen, why, sizeof(why))) {
		snprintf(err, errlen, "graphite.address: %s", why);
		return NULL;
	}
	struct graphite *g = xcalloc(1, sizeof(*g));
	g->base = base;
	g->addr = xstrdup(addr);
	g->ss = ss;
	g->sslen = sslen;
	g->buffer_max = buffer_max > 0 ? (size_t)buffer_max : 0;
	g->retry = evtimer_new(base, retry_cb, g);
	if (!g->retry) {
		snprintf(err, errlen, "graphite: cannot allocate libevent objects");
		graphite_free(g);
		return NULL;
	}
	g->line_start = true;
	g->backoff_ms = GRAPHITE_BACKOFF_MIN_MS;
	g->rng = (uint64_t)clock_mono_ms() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)g ^
	         (uint64_t)getpid();
	if (g->rng == 0)
		g->rng = 1;
	g->conn_lim = (struct log_limit)LOG_LIMIT_INIT(5);
	g->drop_lim = (struct log_limit)LOG_LIMIT_INIT(5);
	connect_now(g);
	return g;
}

void graphite_free(struct graphite *g)
{
	if (!g)
		return;
	if (g->bev) {
		evbuffer_remove_cb_entry(bufferevent_get_output(g->bev), g->out_cb);
		bufferevent_free(g->bev);
	}
	while (g->head)
		block_remove(g, g->head);
	if (g->retry)
		event_free(g->retry);
	free(g->addr);
	free(g);
}

void graphite_send(struct graphite *g, const char *data, size_t len)
{
	if (len == 0)
		return;
	/* A flush is whole lines: a missing final newline would glue its last
	 * line to the next flush's first. */
	bool add_nl = data[len - 1] != '\n';
	size_t need = len + add_nl;
	size_t dropped = 0;

	selfstats.graphite_flush_length = len;
	/* The oldest whole flushes not yet handed to the socket go first. */
	while (g->queued + need > g->buffer_max && g->next_hand) {
		dropped += g->next_hand->len - g->next_hand->sent;
		block_remove(g, g->next_hand);
	}
	/* Still too big (bytes in flight, or a flush larger than the buffer):
	 * keep the newest whole lines of this flush that fit. */
	size_t cut = 0;
	if (g->queued + need > g->buffer_max) {
		size_t room = g->buffer_max > g->queued ? g->buffer_max - g->queued : 0;
		size_t skip = need - room; /* >= 1 */
		const char *nl =
		    skip <= len ? memchr(data + skip - 1, '\n', len - (skip - 1)) : NULL;
		cut = nl ? (size_t)(nl - data) + 1 : len;
	}
	if (cut == len) {
		dropped += need;
	} else {
		struct gblock *b = xmalloc(sizeof(*b) + need - cut);
		b->len = need - cut;
		b->sent = 0;
		b->handed = false;
		b->refs = 1;
		memcpy(b->data, data + cut, len - cut);
		if (add_nl)
			b->data[b->len - 1] = '\n';
		block_append(g, b);
		dropped += cut;
	}
	count_dropped(g, dropped, "buffer_full");
	if (g->state == GRAPHITE_CONNECTED && peer_closed(g))
		disconnect(g, "closed_by_peer");
	pump(g);
	update_gauge(g);
}

size_t graphite_pending(const struct graphite *g)
{
	return g->queued;
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

int graphite_drain(struct graphite *g, int timeout_ms)
{
	int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct event *wake = evtimer_new(g->base, wake_cb, NULL);

	/* Shutdown does not wait out a long backoff: try now, then quickly. */
	g->backoff_ms = GRAPHITE_BACKOFF_MIN_MS;
	if (g->state == GRAPHITE_IDLE && g->queued > 0) {
		evtimer_del(g->retry);
		connect_now(g);
	}
	while (g->queued > 0 && wake) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			break;
		struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
		evtimer_add(wake, &tv);
		if (event_base_loop(g->base, EVLOOP_ONCE) < 0)
			break;
	}
	if (wake)
		event_free(wake);
	update_gauge(g);
	return g->queued == 0 ? 0 : -1;
}
