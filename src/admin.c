/* admin: the reference statsd's management TCP interface on the main loop:
 * one bufferevent per client, one command per line, replies as the
 * reference writes them. It reads the registry and the self-stats and may
 * delete series; it computes nothing itself. main creates it; http asks it
 * whether an operator set `health down`. */
#include "admin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "registry.h"
#include "selfstats.h"
#include "xalloc.h"

#define ADMIN_LINE_MAX (64 * 1024)
/* Commands wait (reading stops) while this much of a client's replies is
 * unsent, so a client that pipelines `counters` without reading cannot
 * make us buffer without bound. */
#define ADMIN_OUTPUT_HIGH (4 * 1024 * 1024)
#define ADMIN_ACCEPT_PAUSE_MS 1000

struct admin_client {
	struct admin *admin;
	struct bufferevent *bev;
	struct admin_client *prev, *next;
	bool paused;  /* reading stopped until the output drains */
	bool eof;     /* the client half-closed: run what is left, then close */
	bool closing; /* close once the output is written */
};

struct admin {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *resume; /* re-enables accepting after EMFILE and the like */
	struct registry *reg;
	const struct config *cfg;
	int64_t start_time_s;
	int healthy;
	char address[256];
	struct admin_client *clients;
	struct log_limit lim;
};

enum admin_next { ADMIN_CONTINUE, ADMIN_QUIT };

static void client_free(struct admin_client *c)
{
	struct admin *a = c->admin;
	if (c->prev)
		c->prev->next = c->next;
	else
		a->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

/* Closes after the pending replies are written. May free c. */
static void client_close(struct admin_client *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_free(c);
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

/* Splits on runs of spaces: returns the next token (NUL-terminated in
 * place) or NULL at the end. */
static char *next_token(char **cur)
{
	char *s = *cur;
	while (*s == ' ')
		s++;
	if (*s == '\0') {
		*cur = s;
		return NULL;
	}
	char *tok = s;
	while (*s != '\0' && *s != ' ')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*cur = s;
	return tok;
}

static bool equals_nocase(const char *s, const char *lower)
{
	for (; *s && *lower; s++, lower++) {
		char ch = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
		if (ch != *lower)
			return false;
	}
	return *s == '\0' && *lower == '\0';
}

static void cmd_stats(const struct admin *a, struct buf *out)
{
	/* As the reference: last_* values print as seconds ago; the ones it
	 * starts at its start-up time do so here too when never set. */
	int64_t now = (clock_wall_ms() + 500) / 1000;
	int64_t last_msg =
	    selfstats.last_msg_seen ? (int64_t)selfstats.last_msg_seen : a->start_time_s;
	int64_t last_flush = selfstats.graphite_last_flush ? (int64_t)selfstats.graphite_last_flush
	                                                   : a->start_time_s;

	buf_printf(out, "uptime: %lld\n", (long long)(now - a->start_time_s));
	buf_printf(out, "messages.last_msg_seen: %lld\n", (long long)(now - last_msg));
	buf_printf(out, "messages.bad_lines_seen: %llu\n",
	           (unsigned long long)selfstats.bad_lines_seen);
	buf_printf(out, "graphite.last_flush: %lld\n", (long long)(now - last_flush));
	buf_printf(out, "graphite.last_exception: %lld\n",
	           (long long)(now - (int64_t)selfstats.graphite_last_exception));
	buf_printf(out, "graphite.flush_time: %llu\n",
	           (unsigned long long)selfstats.graphite_flush_time_ms);
	buf_printf(out, "graphite.flush_length: %llu\n",
	           (unsigned long long)selfstats.graphite_flush_length);
	buf_puts(out, "END\n\n");
}

static void cmd_config(const struct admin *a, struct buf *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		buf_printf(out, "ERROR %s\n", strerror(errno));
		return;
	}
	if (a->cfg)
		config_dump(a->cfg, f);
	if (fclose(f) == 0)
		buf_append(out, text, len);
	free(text);
	buf_puts(out, "END\n\n");
}

/* Runs one trimmed command line; the reply goes to out. */
static enum admin_next run_command(struct admin *a, char *line, struct buf *out)
{
	char *cur = line;
	char *cmd = next_token(&cur);
	char *arg;

	if (!cmd)
		return ADMIN_CONTINUE;
	if (strcmp(cmd, "help") == 0) {
		buf_puts(out, "Commands: stats, counters, timers, gauges, delcounters, deltimers, "
		              "delgauges, health, config, quit\n\n");
	} else if (strcmp(cmd, "stats") == 0) {
		cmd_stats(a, out);
	} else if (strcmp(cmd, "counters") == 0 || strcmp(cmd, "timers") == 0 ||
	           strcmp(cmd, "gauges") == 0) {
		enum registry_kind k = cmd[0] == 'c'   ? REG_COUNTERS
		                       : cmd[0] == 't' ? REG_TIMERS
		                                       : REG_GAUGES;
		registry_inspect(a->reg, k, out);
		buf_puts(out, "END\n\n");
	} else if (strcmp(cmd, "delcounters") == 0 || strcmp(cmd, "deltimers") == 0 ||
	           strcmp(cmd, "delgauges") == 0) {
		enum registry_kind k = cmd[3] == 'c'   ? REG_COUNTERS
		                       : cmd[3] == 't' ? REG_TIMERS
		                                       : REG_GAUGES;
		while ((arg = next_token(&cur)) != NULL)
			registry_delete(a->reg, k, arg, out);
		buf_puts(out, "END\n\n");
	} else if (strcmp(cmd, "health") == 0) {
		if ((arg = next_token(&cur)) != NULL) {
			if (equals_nocase(arg, "up"))
				a->healthy = 1;
			else if (equals_nocase(arg, "down"))
				a->healthy = 0;
		}
		buf_printf(out, "health: %s\n", a->healthy ? "up" : "down");
	} else if (strcmp(cmd, "config") == 0) {
		cmd_config(a, out);
	} else if (strcmp(cmd, "quit") == 0) {
		return ADMIN_QUIT;
	} else {
		buf_puts(out, "ERROR\n");
	}
	return ADMIN_CONTINUE;
}

static void free_reply(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	free(arg);
}

/* Trims the line; blank lines are ignored. Returns ADMIN_QUIT for `quit`. */
static enum admin_next run_line(struct admin_client *c, char *line, size_t len)
{
	struct buf out = BUF_INIT;

	while (len > 0 && is_space(line[len - 1]))
		len--;
	line[len] = '\0';
	while (is_space(*line))
		line++;
	if (*line == '\0')
		return ADMIN_CONTINUE;
	enum admin_next next = run_command(c->admin, line, &out);
	if (out.len > 0) {
		/* The evbuffer takes the reply's memory: no copy of big views. */
		if (evbuffer_add_reference(bufferevent_get_output(c->bev), out.p, out.len,
		                           free_reply, out.p) < 0)
			buf_free(&out);
	} else {
		buf_free(&out);
	}
	return next;
}

static void drop_client(struct admin_client *c, const char *why)
{
	struct admin *a = c->admin;
	if (log_limit_allow(&a->lim, clock_mono_ms()))
		log_warn("admin: closing client reason=%s", why);
	client_free(c);
}

/* Runs every complete line in the input. May free c. */
static void process_input(struct admin_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	for (;;) {
		if (evbuffer_get_length(out) >= ADMIN_OUTPUT_HIGH) {
			c->paused = true;
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		size_t eol_len = 0;
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		size_t avail = evbuffer_get_length(in);
		size_t len;
		if (eol.pos >= 0) {
			len = (size_t)eol.pos;
		} else if (c->eof && avail > 0) {
			len = avail; /* the last command may lack its newline */
		} else {
			if (avail > ADMIN_LINE_MAX) {
				drop_client(c, "line_too_long");
				return;
			}
			if (c->eof)
				client_close(c);
			return;
		}
		if (len > ADMIN_LINE_MAX) {
			drop_client(c, "line_too_long");
			return;
		}
		char *line = xmalloc(len + 1);
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		enum admin_next next = run_line(c, line, len);
		free(line);
		if (next == ADMIN_QUIT) {
			client_close(c);
			return;
		}
	}
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process_input(arg);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct admin_client *c = arg;
	if (c->closing) {
		client_free(c);
		return;
	}
	if (c->paused) {
		c->paused = false;
		if (!c->eof)
			bufferevent_enable(bev, EV_READ);
		process_input(c);
	}
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct admin_client *c = arg;
	(void)bev;
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		if (!c->paused && !c->closing)
			process_input(c);
		return;
	}
	client_free(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct admin *a = arg;
	(void)l;
	(void)sa;
	(void)salen;
	struct bufferevent *bev = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	struct admin_client *c = xcalloc(1, sizeof(*c));
	c->admin = a;
	c->bev = bev;
	c->next = a->clients;
	if (a->clients)
		a->clients->prev = c;
	a->clients = c;
	bufferevent_setcb(bev, client_read_cb, client_write_cb, client_event_cb, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct admin *a = arg;
	struct timeval tv = {.tv_sec = ADMIN_ACCEPT_PAUSE_MS / 1000,
	                     .tv_usec = (ADMIN_ACCEPT_PAUSE_MS % 1000) * 1000};
	int e = EVUTIL_SOCKET_ERROR();
	if (log_limit_allow(&a->lim, clock_mono_ms()))
		log_warn("admin: accept failed addr=%s error=\"%s\" pause_ms=%d", a->address,
		         evutil_socket_error_to_string(e), ADMIN_ACCEPT_PAUSE_MS);
	evconnlistener_disable(l);
	evtimer_add(a->resume, &tv);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin *a = arg;
	(void)fd;
	(void)what;
	evconnlistener_enable(a->listener);
}

struct admin *admin_new(struct event_base *base, const char *addr, struct registry *reg,
                        const struct config *cfg, int64_t start_time_s, char *err, size_t errlen)
{
	char why[256];
	int fd = net_listen_tcp(addr, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, errlen, "server.admin: %s", why);
		return NULL;
	}
	struct admin *a = xcalloc(1, sizeof(*a));
	a->base = base;
	a->reg = reg;
	a->cfg = cfg;
	a->start_time_s = start_time_s;
	a->healthy = 1;
	a->lim = (struct log_limit)LOG_LIMIT_INIT(5);
	net_local_addr(fd, a->address, sizeof(a->address));
	a->resume = evtimer_new(base, resume_cb, a);
	/* backlog 0: net_listen_tcp already listens. */
	a->listener = evconnlistener_new(base, accept_cb, a,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!a->resume || !a->listener) {
		snprintf(err, errlen, "server.admin: %s: cannot create the libevent listener",
		         addr);
		if (!a->listener)
			close(fd);
		admin_free(a);
		return NULL;
	}
	evconnlistener_set_error_cb(a->listener, accept_error_cb);
	log_info("admin: listening addr=%s", a->address);
	return a;
}

void admin_free(struct admin *a)
{
	if (!a)
		return;
	while (a->clients)
		client_free(a->clients);
	if (a->listener)
		evconnlistener_free(a->listener);
	if (a->resume)
		event_free(a->resume);
	free(a);
}

const char *admin_address(const struct admin *a)
{
	return a->address;
}

int admin_healthy(const struct admin *a)
{
	return a ? a->healthy : 1;
}
