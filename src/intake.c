/* intake: worker threads and their listeners. A worker loops on its own
 * event base: UDP/Unix datagrams are read in batches with recvmmsg (MSG_TRUNC
 * marks an oversized datagram, counted and never parsed; SO_RXQ_OVFL gives
 * the kernel's drop count), TCP lines and DogStatsD length-prefixed Unix
 * stream frames come through bufferevents on worker 0. Once its datagram
 * sockets are drained a worker may sleep a little before reading again
 * (server.read_wait, bounded by pace.c), so that under load one wake-up
 * reads many datagrams. Every line goes to
 * parse_packet/parse_line and into the worker's shard, queued (the parser
 * appends common lines to the shard's queue itself, shard_queue takes the
 * rest) and committed at the end of each recvmmsg batch or stream line; a
 * queued line whose name the shard cannot take as it is comes back through
 * on_fallback during the commit. The shard swap is an
 * event the main thread activates; the worker swaps between batches and
 * activates the main loop's "swapped" event. Nothing here formats output. */
#include "intake.h"

#include <errno.h>
#include <inttypes.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "pace.h"
#include "parse.h"
#include "shard.h"
#include "xalloc.h"

#define BATCH 32
/* A worker's read-and-wait loop goes back to its event loop (swaps, stops,
 * stream connections) after this long, plus at most one wait. */
#define READ_SLICE_NS 10000000

struct worker;

struct dgram_source {
	struct worker *w;
	int fd;
	struct event *ev;
	uint32_t last_ovfl;
	struct pace pace;
	int64_t waited_ns; /* when the worker last woke from a wait */
	char addr[128];
};

struct worker {
	struct intake *in;
	int id;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct dgram_source udp, unix_dgram;
	struct evconnlistener *tcp, *unix_stream;
	struct event *swap_ev, *stop_ev;
	struct shard *shard;   /* worker thread only */
	struct shard *spare;   /* given by main, empty */
	struct shard *retired; /* handed to main */
	struct parse_opts popts;
	struct parse_scratch scratch;
	struct parse_handler handler;
	/* For lines the shard gives back while it commits (shard.h): its own
	 * scratch, as a commit may come while a key is in scratch. */
	struct parse_scratch fallback_scratch;
	struct parse_handler fallback_handler;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char cmsg[BATCH][CMSG_SPACE(sizeof(uint32_t))];
	char *bufs;
	size_t bufsize;
	/* bufsize + PARSE_PAD: a datagram is received at the start of each
	 * stride, with room after it for parse_packet_padded */
	size_t stride;
	size_t bufs_len; /* BATCH * stride */
	struct log_limit lim;
};

struct intake {
	const struct config *cfg;
	struct event_base *main_base;
	struct worker *workers;
	size_t n;
	struct event *swapped_ev;
	atomic_size_t swaps_done;
	bool swap_pending;
	bool stopped;
	intake_swapped_fn on_swapped;
	void *ctx;
	struct shard **handed;
	char tcp_addr[128], unix_stream_path[128];
};

/* ---- parse callbacks (worker thread) ---- */

/* A sample whose key is in the receive buffers (a name as received) is
 * queued as it is, as the parser queues common lines itself (the handler's
 * queue is the shard's): the buffers stay as they are until the
 * shard_commit at the end of the batch. A key built in the parser's scratch (tags,
 * sanitising) is rewritten by the next line: the queue keeps a copy. */
static void on_sample(void *ctx, const struct sample *s)
{
	struct worker *w = ctx;
	if ((uintptr_t)s->key - (uintptr_t)w->bufs < w->bufs_len)
		shard_queue(w->shard, s);
	else
		shard_queue_copy(w->shard, s);
}

/* The shard's queue is full (the parser appends common lines to it). */
static void on_queue_full(void *ctx)
{
	struct worker *w = ctx;
	shard_commit(w->shard);
}

/* A queued line whose name is not a series key as it is (one to sanitise,
 * say): the shard gives it back during its commit, in order, and what the
 * general path makes of it is recorded at once. */
static void on_sample_now(void *ctx, const struct sample *s)
{
	struct worker *w = ctx;
	shard_record(w->shard, s);
}

static void on_fallback(void *ctx, const char *line, size_t len)
{
	struct worker *w = ctx;
	parse_line(line, len, &w->popts, &w->fallback_scratch, &w->fallback_handler, w);
}

/* w->shard is new: the parser queues into it. */
static void use_shard(struct worker *w)
{
	w->handler.queue = shard_sample_queue(w->shard);
	shard_set_fallback(w->shard, on_fallback, w);
}

static void on_event(void *ctx, const struct parse_event *e)
{
	struct worker *w = ctx;
	shard_stats(w->shard)->events_received++;
	shard_add_event(w->shard, e);
}

static void on_check(void *ctx, const struct parse_check *c)
{
	struct worker *w = ctx;
	shard_stats(w->shard)->checks_received++;
	shard_add_check(w->shard, c);
}

static void on_invalid_rate(void *ctx)
{
	struct worker *w = ctx;
	shard_stats(w->shard)->invalid_sample_rate++;
}

static void on_bad(void *ctx, const char *line, size_t len, const char *reason)
{
	struct worker *w = ctx;
	shard_stats(w->shard)->bad_lines_seen++;
	if (log_level < LOG_LVL_WARN || !log_limit_allow(&w->lim, clock_mono_ms()))
		return;
	char esc[256];
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < sizeof(esc); i++) {
		unsigned char c = (unsigned char)line[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			esc[o++] = (char)c;
		} else {
			o += (size_t)snprintf(esc + o, sizeof(esc) - o, "\\x%02x", c);
		}
	}
	esc[o] = '\0';
	log_warn("intake: bad line worker=%d reason=\"%s\" line=\"%s\"%s", w->id, reason, esc,
	         o + 5 >= sizeof(esc) ? "..." : "");
}

/* p: the start of a receive buffer's stride (room after the packet) */
static void take_packet(struct worker *w, char *p, size_t len)
{
	struct selfstats *st = shard_stats(w->shard);
	st->packets_received++;
	st->metrics_received += parse_packet_padded(p, len, &w->popts, &w->scratch, &w->handler, w);
}

/* ---- datagrams ---- */

/* What one read of a datagram socket took. */
struct drained {
	size_t dgrams;
	int64_t cost;   /* the sum of PACE_COST over them */
	uint32_t drops; /* the kernel's drops reported with them */
	bool empty;     /* the socket was left empty */
};

/* Reads src until it is empty (or for 64 batches). */
static struct drained read_dgrams(struct dgram_source *src)
{
	struct worker *w = src->w;
	struct drained d = {0, 0, 0, false};
	for (int round = 0; round < 64; round++) {
		for (int i = 0; i < BATCH; i++) {
			w->iov[i].iov_base = w->bufs + (size_t)i * w->stride;
			w->iov[i].iov_len = w->bufsize;
			memset(&w->msgs[i].msg_hdr, 0, sizeof(w->msgs[i].msg_hdr));
			w->msgs[i].msg_hdr.msg_iov = &w->iov[i];
			w->msgs[i].msg_hdr.msg_iovlen = 1;
			w->msgs[i].msg_hdr.msg_control = w->cmsg[i];
			w->msgs[i].msg_hdr.msg_controllen = sizeof(w->cmsg[i]);
		}
		int n = recvmmsg(src->fd, w->msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("intake: recvmmsg worker=%d err=\"%s\"", w->id,
				         strerror(errno));
			d.empty = true;
			return d;
		}
		struct selfstats *st = shard_stats(w->shard);
		st->last_msg_seen = (uint64_t)time(NULL);
		d.dgrams += (size_t)n;
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &w->msgs[i].msg_hdr;
			d.cost += PACE_COST(w->msgs[i].msg_len);
			for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
					uint32_t drops;
					memcpy(&drops, CMSG_DATA(c), sizeof(drops));
					st->kernel_drops += (uint32_t)(drops - src->last_ovfl);
					d.drops += (uint32_t)(drops - src->last_ovfl);
					src->last_ovfl = drops;
				}
			}
			if (h->msg_flags & MSG_TRUNC) {
				st->packets_received++;
				st->truncated_datagrams++;
				if (log_limit_allow(&w->lim, clock_mono_ms()))
					log_warn(
					    "intake: datagram longer than server.max_datagram=%zu "
					    "dropped worker=%d",
					    w->bufsize, w->id);
				continue;
			}
			take_packet(w, w->iov[i].iov_base, w->msgs[i].msg_len);
		}
		/* The next recvmmsg rewrites the buffers the queued keys are in. */
		shard_commit(w->shard);
		if (n < BATCH) {
			d.empty = true;
			return d;
		}
	}
	return d;
}

/* Reads every datagram socket of the worker until they are empty, then
 * sleeps as long as every socket's pace allows when that is expected to
 * bring enough datagrams (pace.h), and reads again; back to the event loop
 * when a wait is not worth it, a socket was not emptied, or the slice is
 * over. Drops reported up to PACE_TAU_NS after a wait (the kernel tells
 * them with the datagrams queued after them) halve that socket's wait. */
static void read_paced(struct worker *w)
{
	struct dgram_source *srcs[2] = {&w->udp, &w->unix_dgram};
	int64_t start = clock_mono_ns();
	for (;;) {
		int64_t wait = INT64_MAX;
		bool worth = false, empty = true;
		for (int i = 0; i < 2; i++) {
			struct dgram_source *src = srcs[i];
			if (src->fd < 0)
				continue;
			struct drained d = read_dgrams(src);
			int64_t now = clock_mono_ns();
			empty = empty && d.empty;
			if (d.drops > 0 && src->pace.cap_ns > 0 &&
			    now - src->waited_ns < PACE_TAU_NS) {
				int64_t cap = pace_dropped(&src->pace, now);
				if (log_limit_allow(&w->lim, clock_mono_ms()))
					log_warn("intake: kernel dropped %" PRIu32
					         " datagrams on %s while worker=%d waited between "
					         "reads; its wait is now at most %" PRId64 " us",
					         d.drops, src->addr, w->id, cap / 1000);
			} else if (pace_calm(&src->pace, now)) {
				log_info("intake: no drops after waits on %s for %d s; worker=%d "
				         "waits again up to %" PRId64 " us",
				         src->addr, (int)(PACE_CALM_NS / 1000000000), w->id,
				         src->pace.cap_ns / 1000);
			}
			int64_t a = pace_allow(&src->pace, now, d.dgrams, d.cost, &worth);
			if (a < wait)
				wait = a;
		}
		if (!empty || !worth || wait < PACE_MIN_NS ||
		    clock_mono_ns() - start >= READ_SLICE_NS)
			return;
		struct timespec ts = {(time_t)(wait / 1000000000), (long)(wait % 1000000000)};
		nanosleep(&ts, NULL);
		int64_t woke = clock_mono_ns();
		w->udp.waited_ns = w->unix_dgram.waited_ns = woke;
	}
}

static void dgram_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dgram_source *src = arg;
	read_paced(src->w);
}

/* ---- streams (worker 0) ---- */

struct conn {
	struct worker *w;
	bool framed; /* Unix stream: 4-byte little-endian length prefix */
};

static void conn_close(struct bufferevent *bev, struct conn *c)
{
	bufferevent_free(bev);
	free(c);
}

static void stream_line(struct worker *w, const char *p, size_t len)
{
	struct selfstats *st = shard_stats(w->shard);
	st->packets_received++;
	st->last_msg_seen = (uint64_t)time(NULL);
	/* parse_line drops one trailing '\r' itself. */
	if (len == 0 || (len == 1 && p[0] == '\r'))
		return;
	st->metrics_received++;
	parse_line(p, len, &w->popts, &w->scratch, &w->handler, w);
	shard_commit(w->shard);
}

static void stream_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t max = w->bufsize;

	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (c->framed) {
			unsigned char hdr[4];
			if (avail < 4)
				return;
			evbuffer_copyout(in, hdr, 4);
			size_t flen = (size_t)hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 |
			              (size_t)hdr[3] << 24;
			if (flen > max) {
				shard_stats(w->shard)->stream_errors++;
				shard_stats(w->shard)->truncated_datagrams++;
				log_warn(
				    "intake: unix stream frame of %zu bytes > server.max_datagram, "
				    "closing",
				    flen);
				conn_close(bev, c);
				return;
			}
			if (avail < 4 + flen)
				return;
			evbuffer_drain(in, 4);
			evbuffer_remove(in, w->bufs, flen);
			take_packet(w, w->bufs, flen);
			shard_commit(w->shard);
			shard_stats(w->shard)->last_msg_seen = (uint64_t)time(NULL);
		} else {
			struct evbuffer_ptr eol =
			    evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
			if (eol.pos < 0) {
				if (avail > max) {
					shard_stats(w->shard)->stream_errors++;
					log_warn(
					    "intake: tcp line longer than server.max_datagram, "
					    "closing");
					conn_close(bev, c);
				}
				return;
			}
			size_t len = (size_t)eol.pos;
			if (len > max) {
				shard_stats(w->shard)->stream_errors++;
				conn_close(bev, c);
				return;
			}
			evbuffer_remove(in, w->bufs, len + 1);
			stream_line(w, w->bufs, len);
		}
	}
}

static void stream_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* A last line without a newline still counts (echo -n). */
		struct evbuffer *in = bufferevent_get_input(bev);
		size_t len = evbuffer_get_length(in);
		if (!c->framed && len > 0 && len <= c->w->bufsize) {
			evbuffer_remove(in, c->w->bufs, len);
			stream_line(c->w, c->w->bufs, len);
		}
		conn_close(bev, c);
	}
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct worker *w = arg;
	struct bufferevent *bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		return;
	}
	struct conn *c = xcalloc(1, sizeof(*c));
	c->w = w;
	c->framed = (l == w->unix_stream);
	shard_stats(w->shard)->tcp_connections++;
	bufferevent_setcb(bev, stream_read, NULL, stream_event, c);
	bufferevent_enable(bev, EV_READ);
}

/* ---- swap / stop ---- */

static void swap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct intake *in = w->in;
	shard_commit(w->shard); /* empty already: every read commits */
	w->retired = w->shard;
	w->shard = w->spare;
	w->spare = NULL;
	use_shard(w);
	atomic_fetch_add(&in->swaps_done, 1);
	event_active(in->swapped_ev, EV_READ, 1);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	/* Read what the kernel still holds before leaving. */
	if (w->udp.fd >= 0)
		read_dgrams(&w->udp);
	if (w->unix_dgram.fd >= 0)
		read_dgrams(&w->unix_dgram);
	event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	/* "tallyd-w0", ...: per-thread views (top -H, /proc/PID/task) tell
	 * workers apart; tests/integ/readwait.sh finds worker 0 by it. */
	snprintf(name, sizeof(name), "tallyd-w%d", w->id);
	pthread_setname_np(pthread_self(), name);
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void swapped_cb(evutil_socket_t fd, short what, void *arg)
{
	struct intake *in = arg;
	if (!in->swap_pending || atomic_load(&in->swaps_done) < in->n)
		return;
	in->swap_pending = false;
	for (size_t i = 0; i < in->n; i++) {
		in->handed[i] = in->workers[i].retired;
		in->workers[i].retired = NULL;
	}
	in->on_swapped(in->ctx);
}

/* ---- set-up ---- */

/* max_dgrams: the socket's queue limit in datagrams (0: bytes only). */
static int add_dgram(struct worker *w, struct dgram_source *src, int fd, long max_dgrams)
{
	src->w = w;
	src->fd = fd;
	src->waited_ns = INT64_MIN / 2;
	pace_init(&src->pace, w->in->cfg->read_wait_ms * 1000000, net_rcvbuf(fd), max_dgrams,
	          clock_mono_ns());
	src->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, dgram_cb, src);
	if (!src->ev)
		return -1;
	return event_add(src->ev, NULL);
}

static struct evconnlistener *add_listener(struct worker *w, int fd)
{
	return evconnlistener_new(w->base, accept_cb, w, LEV_OPT_CLOSE_ON_FREE, -1, fd);
}

static int setup_worker(struct intake *in, struct worker *w, int id, char *err, size_t errlen)
{
	const struct config *cfg = in->cfg;
	w->in = in;
	w->id = id;
	w->udp.fd = w->unix_dgram.fd = -1;
	w->lim = (struct log_limit)LOG_LIMIT_INIT(5);
	w->base = event_base_new();
	if (!w->base) {
		snprintf(err, errlen, "intake: cannot create event base");
		return -1;
	}
	w->bufsize = (size_t)cfg->max_datagram;
	w->stride = w->bufsize + PARSE_PAD;
	w->bufs_len = (size_t)BATCH * w->stride;
	w->bufs = xmalloc(w->bufs_len);
	w->shard = shard_new((size_t)cfg->max_series);
	parse_opts_default(&w->popts);
	w->popts.gauge_deltas = cfg->gauge_deltas;
	w->popts.sanitize = cfg->sanitize;
	w->popts.tag_styles = cfg->tag_styles;
	w->popts.max_name = (size_t)cfg->max_name;
	w->popts.max_tags = (size_t)cfg->max_tags;
	w->handler = (struct parse_handler){on_sample,       on_event, on_check,     on_bad,
	                                    on_invalid_rate, NULL,     on_queue_full};
	w->fallback_handler = (struct parse_handler){on_sample_now,   on_event, on_check, on_bad,
	                                             on_invalid_rate, NULL,     NULL};
	use_shard(w);
	w->swap_ev = event_new(w->base, -1, 0, swap_cb, w);
	w->stop_ev = event_new(w->base, -1, 0, stop_cb, w);
	if (!w->swap_ev || !w->stop_ev) {
		snprintf(err, errlen, "intake: cannot create events");
		return -1;
	}

	if (cfg->udp[0]) {
		/* Worker 0 binds the configured address (port 0 picks one); the
		 * others bind the address worker 0 got, sharing it by REUSEPORT. */
		const char *addr = id == 0 ? cfg->udp : in->workers[0].udp.addr;
		int fd = net_bind_udp(addr, true, (int)cfg->rcvbuf, err, errlen);
		if (fd < 0)
			return -1;
		net_local_addr(fd, w->udp.addr, sizeof(w->udp.addr));
		if (add_dgram(w, &w->udp, fd, 0) < 0) {
			snprintf(err, errlen, "intake: cannot watch udp socket");
			return -1;
		}
	}
	if (id != 0)
		return 0;
	if (cfg->unix_dgram[0]) {
		int fd = net_bind_unix(cfg->unix_dgram, SOCK_DGRAM, (int)cfg->rcvbuf, err, errlen);
		if (fd < 0)
			return -1;
		snprintf(w->unix_dgram.addr, sizeof(w->unix_dgram.addr), "%s", cfg->unix_dgram);
		int on = 1;
		setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
		if (add_dgram(w, &w->unix_dgram, fd, net_unix_dgram_qlen()) < 0) {
			snprintf(err, errlen, "intake: cannot watch unix socket");
			return -1;
		}
	}
	if (cfg->tcp[0]) {
		int fd = net_listen_tcp(cfg->tcp, err, errlen);
		if (fd < 0)
			return -1;
		net_local_addr(fd, in->tcp_addr, sizeof(in->tcp_addr));
		w->tcp = add_listener(w, fd);
		if (!w->tcp) {
			close(fd);
			snprintf(err, errlen, "intake: cannot listen on tcp %s", cfg->tcp);
			return -1;
		}
	}
	if (cfg->unix_stream[0]) {
		int fd = net_bind_unix(cfg->unix_stream, SOCK_STREAM, 0, err, errlen);
		if (fd < 0)
			return -1;
		snprintf(in->unix_stream_path, sizeof(in->unix_stream_path), "%s",
		         cfg->unix_stream);
		w->unix_stream = add_listener(w, fd);
		if (!w->unix_stream) {
			close(fd);
			snprintf(err, errlen, "intake: cannot listen on unix %s", cfg->unix_stream);
			return -1;
		}
	}
	return 0;
}

static size_t default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

struct intake *intake_new(const struct config *cfg, struct event_base *main_base,
                          intake_swapped_fn on_swapped, void *ctx, char *err, size_t errlen)
{
	struct intake *in = xcalloc(1, sizeof(*in));
	in->cfg = cfg;
	in->main_base = main_base;
	in->on_swapped = on_swapped;
	in->ctx = ctx;
	in->n = cfg->workers > 0 ? (size_t)cfg->workers : default_workers();
	in->workers = xcalloc(in->n, sizeof(struct worker));
	in->handed = xcalloc(in->n, sizeof(struct shard *));
	in->swapped_ev = event_new(main_base, -1, 0, swapped_cb, in);
	for (size_t i = 0; i < in->n; i++) {
		if (setup_worker(in, &in->workers[i], (int)i, err, errlen) < 0) {
			in->n = i + 1;
			intake_free(in);
			return NULL;
		}
	}
	return in;
}

int intake_start(struct intake *in)
{
	for (size_t i = 0; i < in->n; i++) {
		struct worker *w = &in->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			log_error("intake: cannot start worker %zu", i);
			return -1;
		}
		w->started = true;
	}
	log_info("intake: started workers=%zu", in->n);
	return 0;
}

int intake_request_swap(struct intake *in)
{
	if (in->swap_pending || in->stopped)
		return -1;
	in->swap_pending = true;
	atomic_store(&in->swaps_done, 0);
	for (size_t i = 0; i < in->n; i++) {
		struct worker *w = &in->workers[i];
		/* The spare is the shard main merged last time, now empty. */
		w->spare = in->handed[i] ? in->handed[i] : shard_new((size_t)in->cfg->max_series);
		in->handed[i] = NULL;
		event_active(w->swap_ev, EV_READ, 1);
	}
	return 0;
}

void intake_each_shard(struct intake *in, void (*fn)(void *ctx, struct shard *sh), void *ctx)
{
	for (size_t i = 0; i < in->n; i++) {
		struct worker *w = &in->workers[i];
		if (in->handed[i])
			fn(ctx, in->handed[i]);
		if (!in->stopped)
			continue;
		/* Threads are gone: also what a worker still holds, including a
		 * shard retired by a swap that was in flight. */
		if (w->retired)
			fn(ctx, w->retired);
		if (w->shard)
			fn(ctx, w->shard);
	}
}

void intake_stop(struct intake *in)
{
	if (in->stopped)
		return;
	in->stopped = true;
	for (size_t i = 0; i < in->n; i++) {
		struct worker *w = &in->workers[i];
		if (w->started) {
			event_active(w->stop_ev, EV_READ, 1);
			pthread_join(w->thread, NULL);
			w->started = false;
		}
	}
	in->swap_pending = false;
}

void intake_write_addresses(const struct intake *in, FILE *out)
{
	const struct worker *w0 = &in->workers[0];
	if (in->cfg->udp[0])
		fprintf(out, "udp %s\n", w0->udp.addr);
	if (in->cfg->tcp[0])
		fprintf(out, "tcp %s\n", in->tcp_addr);
	if (in->cfg->unix_dgram[0])
		fprintf(out, "unix %s\n", in->cfg->unix_dgram);
	if (in->cfg->unix_stream[0])
		fprintf(out, "unix_stream %s\n", in->unix_stream_path);
}

size_t intake_workers(const struct intake *in)
{
	return in->n;
}

void intake_free(struct intake *in)
{
	if (!in)
		return;
	intake_stop(in);
	for (size_t i = 0; i < in->n; i++) {
		struct worker *w = &in->workers[i];
		if (w->udp.ev)
			event_free(w->udp.ev);
		if (w->udp.fd >= 0)
			close(w->udp.fd);
		if (w->unix_dgram.ev)
			event_free(w->unix_dgram.ev);
		if (w->unix_dgram.fd >= 0)
			close(w->unix_dgram.fd);
		if (w->tcp)
			evconnlistener_free(w->tcp);
		if (w->unix_stream)
			evconnlistener_free(w->unix_stream);
		if (w->swap_ev)
			event_free(w->swap_ev);
		if (w->stop_ev)
			event_free(w->stop_ev);
		shard_free(w->shard);
		shard_free(w->spare);
		shard_free(w->retired);
		shard_free(in->handed[i]);
		if (w->base)
			event_base_free(w->base);
		free(w->bufs);
	}
	if (in->cfg->unix_dgram[0])
		unlink(in->cfg->unix_dgram);
	if (in->cfg->unix_stream[0])
		unlink(in->cfg->unix_stream);
	if (in->swapped_ev)
		event_free(in->swapped_ev);
	free(in->handed);
	free(in->workers);
	free(in);
}
