/* test_redis_sink: the Redis sink against a real redis-server on a free
 * loopback port (started here, always killed by PID): batches land exactly
 * and in order, 100k groups, AUTH and SELECT, skipped and dropped flushes,
 * SIGKILL/restart, SIGSTOP/deadline/SIGCONT, redis absent at start, and
 * error replies inside groups. Exits 77 (skip) when redis-server is not
 * installed. Run by make check; prints the batch and reconnect timings. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "log.h"
#include "redis.h"
#include "selfstats.h"

#define TEST_TIMEOUT_S 600
#define MAX_SERVERS 8

static char redis_bin[4096];
static char tmpdir[256] = "";
static struct event_base *base;

/* --- redis-server children --------------------------------------------- */

struct server {
	pid_t pid;
	int port;
	const char *password;
};

static volatile pid_t children[MAX_SERVERS];

static void kill_children(void)
{
	for (int i = 0; i < MAX_SERVERS; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGCONT);
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
}

static void on_fatal_signal(int sig)
{
	/* async-signal-safe: kill() and _exit() only */
	for (int i = 0; i < MAX_SERVERS; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	_exit(sig == SIGALRM ? 124 : 128 + sig);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	kill_children();
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool find_redis_server(void)
{
	const char *path = getenv("PATH");
	if (!path)
		return false;
	while (*path) {
		size_t n = strcspn(path, ":");
		int w = snprintf(redis_bin, sizeof(redis_bin), "%.*s/redis-server", (int)n, path);
		if (w > 0 && (size_t)w < sizeof(redis_bin) && access(redis_bin, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("free_port");
		exit(99);
	}
	close(fd);
	return ntohs(sa.sin_port);
}

static redisContext *sync_connect(int port, const char *password, int db)
{
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (!c || c->err) {
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	redisReply *r;
	if (password && password[0]) {
		r = redisCommand(c, "AUTH %s", password);
		bool ok = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (!ok) {
			redisFree(c);
			return NULL;
		}
	}
	r = redisCommand(c, "SELECT %d", db);
	bool ok = r && r->type == REDIS_REPLY_STATUS;
	freeReplyObject(r);
	if (!ok) {
		redisFree(c);
		return NULL;
	}
	return c;
}

static bool answers_ping(int port, const char *password)
{
	redisContext *c = sync_connect(port, password, 0);
	if (!c)
		return false;
	redisReply *r = redisCommand(c, "PING");
	bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
	freeReplyObject(r);
	redisFree(c);
	return ok;
}

/* Starts redis-server on srv->port and waits until it answers PING. */
static bool server_start(struct server *srv)
{
	char port[16], log_path[512];
	snprintf(port, sizeof(port), "%d", srv->port);
	snprintf(log_path, sizeof(log_path), "%s/redis-%d.log", tmpdir, srv->port);
	int slot = -1;
	for (int i = 0; i < MAX_SERVERS && slot < 0; i++)
		if (children[i] == 0)
			slot = i;
	if (slot < 0)
		return false;
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		const char *argv[16] = {
		    redis_bin,      "--port", port,    "--bind", "127.0.0.1",   "--save", "",
		    "--appendonly", "no",     "--dir", tmpdir,   "--daemonize", "no"};
		int argc = 13;
		if (srv->password) {
			argv[argc++] = "--requirepass";
			argv[argc++] = srv->password;
		}
		argv[argc] = NULL;
		execv(redis_bin, (char *const *)argv);
		_exit(127);
	}
	children[slot] = pid;
	srv->pid = pid;
	int64_t until = clock_mono_ms() + 10000;
	while (clock_mono_ms() < until) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			children[slot] = 0;
			fprintf(stderr, "redis-server exited early, see %s\n", log_path);
			return false;
		}
		if (answers_ping(srv->port, srv->password))
			return true;
		usleep(20000);
	}
	return false;
}

static void server_kill(struct server *srv)
{
	if (srv->pid <= 0)
		return;
	kill(srv->pid, SIGCONT);
	kill(srv->pid, SIGKILL);
	waitpid(srv->pid, NULL, 0);
	for (int i = 0; i < MAX_SERVERS; i++)
		if (children[i] == srv->pid)
			children[i] = 0;
	srv->pid = 0;
}

/* --- the event loop ----------------------------------------------------- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Runs the loop until pred(s) holds or ms pass; returns pred(s). */
static bool run_until(bool (*pred)(const struct redis_sink *), const struct redis_sink *s,
                      int64_t ms)
{
	int64_t until = clock_mono_ms() + ms;
	struct event *tick = evtimer_new(base, tick_cb, NULL);
	while (!(pred && pred(s)) && clock_mono_ms() < until) {
		struct timeval tv = {.tv_sec = 0, .tv_usec = 10000};
		evtimer_add(tick, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	event_free(tick);
	return pred && pred(s);
}

static bool is_connected(const struct redis_sink *s)
{
	return redis_sink_connected(s);
}

static bool is_disconnected(const struct redis_sink *s)
{
	return !redis_sink_connected(s);
}

static bool is_idle(const struct redis_sink *s)
{
	return !redis_sink_busy(s);
}

/* --- series groups ------------------------------------------------------ */

static const char *const fields[] = {"type", "count", "rate", "sum",    "min",     "max",    "mean",
                                     "p50",  "p90",   "p99",  "zscore", "covered", "updated"};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static void series_key(char *out, size_t n, const char *tag, int i)
{
	snprintf(out, n, "tallyd:{%s.%d;env=test}:1m", tag, i);
}

static void field_value(char *out, size_t n, int i, size_t k)
{
	if (k == 0)
		snprintf(out, n, "timer");
	else
		snprintf(out, n, "%.17g", (double)i * (double)(k + 1) / 7.0);
}

/* One group per series: MULTI, HSET key f1 v1 ..., EXPIRE key 120, EXEC. */
static void add_groups(struct redis_batch *b, const char *tag, int first, int n)
{
	char key[128], vals[NFIELDS][32];
	const char *argv[2 + 2 * NFIELDS];
	for (int i = first; i < first + n; i++) {
		series_key(key, sizeof(key), tag, i);
		argv[0] = "HSET";
		argv[1] = key;
		for (size_t k = 0; k < NFIELDS; k++) {
			field_value(vals[k], sizeof(vals[k]), i, k);
			argv[2 + 2 * k] = fields[k];
			argv[3 + 2 * k] = vals[k];
		}
		redis_batch_begin(b);
		redis_batch_cmd(b, (int)(2 + 2 * NFIELDS), argv, NULL);
		const char *exp[] = {"EXPIRE", key, "120"};
		redis_batch_cmd(b, 3, exp, NULL);
		redis_batch_end(b);
	}
}

static void add_marker(struct redis_batch *b, const char *ts, int series)
{
	char n[16];
	snprintf(n, sizeof(n), "%d", series);
	const char *argv[] = {"HSET", "tallyd:flush", "last_ts", ts, "duration_ms",
	                      "7",    "series",       n};
	redis_batch_cmd(b, 8, argv, NULL);
}

/* Reads every group back (pipelined HGETALL); returns the mismatches. */
static long verify_groups(redisContext *c, const char *tag, int first, int n)
{
	long bad = 0;
	char key[128], want[32];
	for (int base_i = first; base_i < first + n; base_i += 1000) {
		int m = first + n - base_i < 1000 ? first + n - base_i : 1000;
		for (int i = base_i; i < base_i + m; i++) {
			series_key(key, sizeof(key), tag, i);
			redisAppendCommand(c, "HGETALL %s", key);
		}
		for (int i = base_i; i < base_i + m; i++) {
			redisReply *r = NULL;
			if (redisGetReply(c, (void **)&r) != REDIS_OK || !r)
				return bad + n;
			if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 * NFIELDS) {
				bad++;
			} else {
				for (size_t e = 0; e < r->elements; e += 2) {
					size_t k = 0;
					while (k < NFIELDS && strcmp(fields[k], r->element[e]->str))
						k++;
					if (k == NFIELDS) {
						bad++;
						continue;
					}
					field_value(want, sizeof(want), i, k);
					if (strcmp(want, r->element[e + 1]->str) != 0)
						bad++;
				}
			}
			freeReplyObject(r);
		}
	}
	return bad;
}

static bool marker_is(redisContext *c, const char *ts, int series)
{
	char n[16];
	snprintf(n, sizeof(n), "%d", series);
	redisReply *r = redisCommand(c, "HMGET tallyd:flush last_ts duration_ms series");
	bool ok =
	    r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, ts) == 0 &&
	    r->element[1]->type == REDIS_REPLY_STRING && strcmp(r->element[1]->str, "7") == 0 &&
	    r->element[2]->type == REDIS_REPLY_STRING && strcmp(r->element[2]->str, n) == 0;
	freeReplyObject(r);
	return ok;
}

static long long int_reply(redisContext *c, const char *cmd)
{
	redisReply *r = redisCommand(c, cmd);
	long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	return v;
}

static bool key_exists(redisContext *c, const char *key)
{
	redisReply *r = redisCommand(c, "EXISTS %s", key);
	bool ok = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	freeReplyObject(r);
	return ok;
}

/* A server on a free port and a sink connected to it. */
struct fixture {
	struct server srv;
	struct redis_sink *sink;
	redisContext *sync;
};

static bool fixture_up(struct fixture *f, const char *password, int db, int64_t timeout_ms)
{
	char addr[64], err[256];
	memset(f, 0, sizeof(*f));
	f->srv.port = free_port();
	f->srv.password = password;
	if (!server_start(&f->srv))
		return false;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->srv.port);
	f->sink = redis_sink_new(base, addr, password, db, timeout_ms, err, sizeof(err));
	if (!f->sink) {
		fprintf(stderr, "redis_sink_new: %s\n", err);
		return false;
	}
	f->sync = sync_connect(f->srv.port, password, db);
	return f->sync && run_until(is_connected, f->sink, 5000);
}

static void fixture_down(struct fixture *f)
{
	redis_sink_free(f->sink);
	redisFree(f->sync);
	server_kill(&f->srv);
}

/* --- cases -------------------------------------------------------------- */

/* RESP sizes: *<argc>\r\n, then $<len>\r\n<arg>\r\n per argument. */
static void test_batch_format(void)
{
	static const struct {
		int argc;
		const char *argv[4];
		size_t argvlen[4];
		size_t bytes;
	} cases[] = {
	    {1, {"PING"}, {4}, 4 + 10},
	    {3, {"SET", "k", "v"}, {3, 1, 1}, 4 + 9 + 7 + 7},
	    {2, {"GET", "0123456789"}, {3, 10}, 4 + 9 + 17},
	    {3, {"SET", "a\0b\r\n", ""}, {3, 5, 0}, 4 + 9 + 11 + 6},
	};
	struct redis_batch *b = redis_batch_new();
	size_t total = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct redis_batch *one = redis_batch_new();
		redis_batch_cmd(one, cases[i].argc, cases[i].argv, cases[i].argvlen);
		CU_ASSERT_EQUAL(redis_batch_bytes(one), cases[i].bytes);
		CU_ASSERT_EQUAL(redis_batch_commands(one), 1);
		redis_batch_free(one);
		redis_batch_cmd(b, cases[i].argc, cases[i].argv, cases[i].argvlen);
		total += cases[i].bytes;
	}
	CU_ASSERT_EQUAL(redis_batch_bytes(b), total);
	/* an empty group disappears; a group costs MULTI (15) + EXEC (14) */
	redis_batch_begin(b);
	redis_batch_end(b);
	CU_ASSERT_EQUAL(redis_batch_bytes(b), total);
	CU_ASSERT_EQUAL(redis_batch_commands(b), 4);
	redis_batch_begin(b);
	redis_batch_cmd(b, cases[1].argc, cases[1].argv, cases[1].argvlen);
	redis_batch_end(b);
	CU_ASSERT_EQUAL(redis_batch_bytes(b), total + 15 + cases[1].bytes + 14);
	CU_ASSERT_EQUAL(redis_batch_commands(b), 7);
	/* NULL argvlen: C strings */
	const char *cs[] = {"SET", "k", "v"};
	redis_batch_cmd(b, 3, cs, NULL);
	CU_ASSERT_EQUAL(redis_batch_bytes(b), total + 15 + cases[1].bytes + 14 + cases[1].bytes);
	redis_batch_free(b);
	redis_batch_free(NULL);
}

/* N groups, a binary-safe command and the marker land exactly. */
static void test_lands(void)
{
	struct fixture f;
	if (!fixture_up(&f, NULL, 0, 5000)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	static const char bin_key[] = "tallyd:{bin\0ary}:1m", bin_field[] = "f\r\n$3\r\n",
	                  bin_val[] = "\0\x01\xff\r\n*2";
	struct selfstats before = selfstats;
	struct redis_batch *b = redis_batch_new();
	add_groups(b, "lands", 0, 1000);
	const char *bargv[] = {"HSET", bin_key, bin_field, bin_val};
	size_t blen[] = {4, sizeof(bin_key) - 1, sizeof(bin_field) - 1, sizeof(bin_val) - 1};
	redis_batch_begin(b);
	redis_batch_cmd(b, 4, bargv, blen);
	redis_batch_end(b);
	add_marker(b, "1700000010", 1001);
	size_t ncmds = redis_batch_commands(b);
	CU_ASSERT_EQUAL(ncmds, 1000 * 4 + 3 + 1);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	CU_ASSERT(redis_sink_busy(f.sink));
	CU_ASSERT(run_until(is_idle, f.sink, 10000));
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes + 1);
	CU_ASSERT_EQUAL(selfstats.redis_commands, before.redis_commands + ncmds);
	CU_ASSERT_EQUAL(selfstats.redis_errors, before.redis_errors);
	CU_ASSERT_EQUAL(selfstats.redis_flush_dropped, before.redis_flush_dropped);
	CU_ASSERT_EQUAL(selfstats.redis_pending_replies, 0);
	CU_ASSERT_EQUAL(selfstats.redis_connected, 1);
	CU_ASSERT_EQUAL(verify_groups(f.sync, "lands", 0, 1000), 0);
	CU_ASSERT(marker_is(f.sync, "1700000010", 1001));
	CU_ASSERT_EQUAL(int_reply(f.sync, "DBSIZE"), 1000 + 1 + 1);
	long long ttl = int_reply(f.sync, "TTL tallyd:{lands.999;env=test}:1m");
	CU_ASSERT(ttl > 0 && ttl <= 120);
	const char *gargv[] = {"HGET", bin_key, bin_field};
	size_t glen[] = {4, sizeof(bin_key) - 1, sizeof(bin_field) - 1};
	redisReply *r = redisCommandArgv(f.sync, 3, gargv, glen);
	CU_ASSERT(r && r->type == REDIS_REPLY_STRING && r->len == sizeof(bin_val) - 1 &&
	          memcmp(r->str, bin_val, r->len) == 0);
	freeReplyObject(r);
	/* an empty batch is a complete flush */
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, redis_batch_new()), 0);
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes + 2);
	CU_ASSERT_EQUAL(redis_sink_drain(f.sink, 100), 0);
	fixture_down(&f);
	CU_ASSERT_EQUAL(selfstats.redis_connected, 0);
}

/* MONITOR shows every command of the batch in order, the marker last. */
static void test_marker_last(void)
{
	struct fixture f;
	if (!fixture_up(&f, NULL, 0, 5000)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	redisContext *mon = sync_connect(f.srv.port, NULL, 0);
	CU_ASSERT_FATAL(mon != NULL);
	redisReply *r = redisCommand(mon, "MONITOR");
	CU_ASSERT(r && r->type == REDIS_REPLY_STATUS);
	freeReplyObject(r);
	const int n = 300;
	struct redis_batch *b = redis_batch_new();
	add_groups(b, "order", 0, n);
	add_marker(b, "1700000020", n);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	CU_ASSERT(run_until(is_idle, f.sink, 10000));
	r = redisCommand(f.sync, "ECHO end-of-test");
	freeReplyObject(r);
	/* expected: per group HSET key, EXPIRE key; then HSET tallyd:flush */
	int seen = 0, wrong = 0;
	bool marker = false, after_marker = false, end = false;
	char want[160], key[128];
	while (!end) {
		r = NULL;
		if (redisGetReply(mon, (void **)&r) != REDIS_OK || !r)
			break;
		const char *cmd = r->type == REDIS_REPLY_STATUS ? strstr(r->str, "] \"") : NULL;
		if (cmd) {
			cmd += 2;
			if (strncmp(cmd, "\"ECHO\" \"end-of-test\"", 20) == 0) {
				end = true;
			} else if (strncmp(cmd, "\"MULTI\"", 7) == 0 ||
			           strncmp(cmd, "\"EXEC\"", 6) == 0) {
				/* transaction brackets: not checked here */
			} else if (marker) {
				after_marker = true;
			} else if (seen == 2 * n) {
				marker = strncmp(cmd, "\"HSET\" \"tallyd:flush\"", 21) == 0;
				wrong += !marker;
			} else {
				series_key(key, sizeof(key), "order", seen / 2);
				snprintf(want, sizeof(want), "\"%s\" \"%s\"",
				         seen % 2 ? "EXPIRE" : "HSET", key);
				wrong += strncmp(cmd, want, strlen(want)) != 0;
				seen++;
			}
		}
		freeReplyObject(r);
	}
	CU_ASSERT(end);
	CU_ASSERT_EQUAL(seen, 2 * n);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT(marker);
	CU_ASSERT(!after_marker);
	redisFree(mon);
	fixture_down(&f);
}

/* 100k groups (400k commands) in one batch. */
static void test_large(void)
{
	struct fixture f;
	if (!fixture_up(&f, NULL, 0, 60000)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	const int n = 100000;
	struct selfstats before = selfstats;
	int64_t t0 = clock_mono_ms();
	struct redis_batch *b = redis_batch_new();
	add_groups(b, "large", 0, n);
	add_marker(b, "1700000030", n);
	size_t ncmds = redis_batch_commands(b), bytes = redis_batch_bytes(b);
	int64_t t1 = clock_mono_ms();
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	CU_ASSERT(run_until(is_idle, f.sink, 60000));
	int64_t t2 = clock_mono_ms();
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes + 1);
	CU_ASSERT_EQUAL(selfstats.redis_errors, before.redis_errors);
	CU_ASSERT_EQUAL(selfstats.redis_commands, before.redis_commands + ncmds);
	CU_ASSERT(selfstats.redis_flush_ms <= (uint64_t)(t2 - t1) + 1);
	double secs = (double)(t2 - t1) / 1000.0;
	printf("\n  100k groups: %zu commands, %.1f MiB RESP, built in %lld ms, "
	       "written and answered in %lld ms (%.0f commands/s, %.0f groups/s)\n",
	       ncmds, (double)bytes / 1048576.0, (long long)(t1 - t0), (long long)(t2 - t1),
	       secs > 0 ? (double)ncmds / secs : 0.0, secs > 0 ? n / secs : 0.0);
	CU_ASSERT_EQUAL(int_reply(f.sync, "DBSIZE"), n + 1);
	CU_ASSERT_EQUAL(verify_groups(f.sync, "large", 0, n), 0);
	CU_ASSERT(marker_is(f.sync, "1700000030", n));
	fixture_down(&f);
}

/* requirepass + AUTH, and SELECT: keys land in that db only. */
static void test_auth_db(void)
{
	struct fixture f;
	if (!fixture_up(&f, "s3cret pass", 5, 5000)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	struct redis_batch *b = redis_batch_new();
	add_groups(b, "auth", 0, 50);
	add_marker(b, "1700000040", 50);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	CU_ASSERT(run_until(is_idle, f.sink, 10000));
	CU_ASSERT_EQUAL(verify_groups(f.sync, "auth", 0, 50), 0);
	CU_ASSERT(marker_is(f.sync, "1700000040", 50));
	CU_ASSERT_EQUAL(int_reply(f.sync, "DBSIZE"), 51);
	redisContext *db0 = sync_connect(f.srv.port, "s3cret pass", 0);
	CU_ASSERT_FATAL(db0 != NULL);
	CU_ASSERT_EQUAL(int_reply(db0, "DBSIZE"), 0);
	redisFree(db0);

	/* a wrong password never gets ready; each attempt is an error */
	char addr[64], err[256];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.srv.port);
	struct selfstats before = selfstats;
	struct redis_sink *bad = redis_sink_new(base, addr, "wrong", 5, 2000, err, sizeof(err));
	CU_ASSERT_FATAL(bad != NULL);
	CU_ASSERT(!run_until(is_connected, bad, 600));
	CU_ASSERT(selfstats.redis_errors >= before.redis_errors + 2);
	CU_ASSERT_EQUAL(redis_sink_submit(bad, redis_batch_new()), -1);
	CU_ASSERT_EQUAL(selfstats.redis_flush_dropped, before.redis_flush_dropped + 1);
	redis_sink_free(bad);
	fixture_down(&f);
}

/* A second submit while one is in flight is skipped and counted. */
static void test_skip(void)
{
	struct fixture f;
	if (!fixture_up(&f, NULL, 0, 30000)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	struct selfstats before = selfstats;
	struct redis_batch *a = redis_batch_new(), *b = redis_batch_new();
	add_groups(a, "first", 0, 20000);
	add_marker(a, "1700000050", 20000);
	add_groups(b, "second", 0, 10);
	add_marker(b, "1700000051", 10);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, a), 0);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), -1);
	CU_ASSERT_EQUAL(selfstats.redis_flush_skipped, before.redis_flush_skipped + 1);
	CU_ASSERT_EQUAL(redis_sink_drain(f.sink, 30000), 0);
	CU_ASSERT(!redis_sink_busy(f.sink));
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes + 1);
	CU_ASSERT_EQUAL(verify_groups(f.sync, "first", 0, 20000), 0);
	CU_ASSERT(marker_is(f.sync, "1700000050", 20000));
	CU_ASSERT(!key_exists(f.sync, "tallyd:{second.0;env=test}:1m"));
	fixture_down(&f);
}

/* SIGKILL: submits are dropped; after a restart on the same port the sink
 * reconnects by itself and the next batch lands. */
static void test_kill_restart(void)
{
	struct fixture f;
	if (!fixture_up(&f, NULL, 0, 5000)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	redisFree(f.sync);
	f.sync = NULL;
	struct selfstats before = selfstats;
	server_kill(&f.srv);
	/* at once, before the sink has seen the EOF: taken, then lost */
	struct redis_batch *b = redis_batch_new();
	add_groups(b, "lost", 0, 10);
	redis_sink_submit(f.sink, b);
	CU_ASSERT(run_until(is_disconnected, f.sink, 5000));
	CU_ASSERT(!redis_sink_busy(f.sink));
	CU_ASSERT_EQUAL(selfstats.redis_flush_dropped, before.redis_flush_dropped + 1);
	CU_ASSERT_EQUAL(selfstats.redis_connected, 0);
	/* while down: dropped at submit */
	b = redis_batch_new();
	add_groups(b, "lost", 10, 10);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), -1);
	CU_ASSERT_EQUAL(selfstats.redis_flush_dropped, before.redis_flush_dropped + 2);
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes);
	run_until(NULL, f.sink, 1000);
	CU_ASSERT(selfstats.redis_errors >= before.redis_errors + 2);
	CU_ASSERT_FATAL(server_start(&f.srv));
	int64_t t0 = clock_mono_ms();
	CU_ASSERT(run_until(is_connected, f.sink, 20000));
	printf("\n  reconnected %lld ms after redis-server answered PING again\n",
	       (long long)(clock_mono_ms() - t0));
	CU_ASSERT_EQUAL(selfstats.redis_reconnects, before.redis_reconnects + 1);
	CU_ASSERT_EQUAL(selfstats.redis_connected, 1);
	f.sync = sync_connect(f.srv.port, NULL, 0);
	CU_ASSERT_FATAL(f.sync != NULL);
	b = redis_batch_new();
	add_groups(b, "back", 0, 100);
	add_marker(b, "1700000060", 100);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	CU_ASSERT(run_until(is_idle, f.sink, 10000));
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes + 1);
	CU_ASSERT_EQUAL(verify_groups(f.sync, "back", 0, 100), 0);
	CU_ASSERT(marker_is(f.sync, "1700000060", 100));
	fixture_down(&f);
}

/* SIGSTOP: the flush deadline fires, the error is counted, the flush is
 * dropped; after SIGCONT the sink recovers and the next batch lands. */
static void test_stop_deadline(void)
{
	struct fixture f;
	if (!fixture_up(&f, NULL, 0, 300)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	struct selfstats before = selfstats;
	kill(f.srv.pid, SIGSTOP);
	struct redis_batch *b = redis_batch_new();
	add_groups(b, "stopped", 0, 1000);
	int64_t t0 = clock_mono_ms();
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	CU_ASSERT(run_until(is_idle, f.sink, 5000));
	int64_t waited = clock_mono_ms() - t0;
	CU_ASSERT(waited >= 290 && waited < 2000);
	CU_ASSERT_EQUAL(selfstats.redis_flush_dropped, before.redis_flush_dropped + 1);
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes);
	CU_ASSERT(selfstats.redis_errors >= before.redis_errors + 1);
	CU_ASSERT(!redis_sink_connected(f.sink));
	/* still stopped: connection attempts time out in the handshake */
	CU_ASSERT(!run_until(is_connected, f.sink, 1000));
	kill(f.srv.pid, SIGCONT);
	CU_ASSERT(run_until(is_connected, f.sink, 10000));
	b = redis_batch_new();
	add_groups(b, "resumed", 0, 100);
	add_marker(b, "1700000070", 100);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	CU_ASSERT(run_until(is_idle, f.sink, 5000));
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes + 1);
	CU_ASSERT_EQUAL(verify_groups(f.sync, "resumed", 0, 100), 0);
	CU_ASSERT(marker_is(f.sync, "1700000070", 100));
	fixture_down(&f);
}

/* No redis at start: the sink is created, retries with backoff, and
 * connects once redis appears. */
static void test_absent_at_start(void)
{
	struct server srv = {.port = free_port()};
	char addr[64], err[256];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", srv.port);
	struct selfstats before = selfstats;
	struct redis_sink *s = redis_sink_new(base, addr, "", 0, 1000, err, sizeof(err));
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT(!redis_sink_connected(s));
	/* attempts at about 0, 100, 300 and 700 ms (+-20%), the next at 1500 */
	run_until(NULL, s, 1000);
	uint64_t attempts = selfstats.redis_errors - before.redis_errors;
	CU_ASSERT(attempts >= 3 && attempts <= 5);
	CU_ASSERT(!redis_sink_connected(s));
	CU_ASSERT_EQUAL(redis_sink_submit(s, redis_batch_new()), -1);
	CU_ASSERT_EQUAL(selfstats.redis_flush_dropped, before.redis_flush_dropped + 1);
	CU_ASSERT_FATAL(server_start(&srv));
	CU_ASSERT(run_until(is_connected, s, 10000));
	redisContext *c = sync_connect(srv.port, NULL, 0);
	CU_ASSERT_FATAL(c != NULL);
	struct redis_batch *b = redis_batch_new();
	add_groups(b, "late", 0, 10);
	add_marker(b, "1700000080", 10);
	CU_ASSERT_EQUAL(redis_sink_submit(s, b), 0);
	CU_ASSERT(run_until(is_idle, s, 5000));
	CU_ASSERT_EQUAL(verify_groups(c, "late", 0, 10), 0);
	CU_ASSERT(marker_is(c, "1700000080", 10));
	redisFree(c);
	redis_sink_free(s);
	server_kill(&srv);
}

/* Error replies: WRONGTYPE inside EXEC (1 error, the rest of that group
 * still runs), an unknown command (queue error + EXECABORT: 2 errors, the
 * group does not run); the other groups and the marker land. */
static void test_error_replies(void)
{
	struct fixture f;
	if (!fixture_up(&f, NULL, 0, 5000)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	redisReply *r = redisCommand(f.sync, "SET tallyd:{bad}:1m a-string");
	freeReplyObject(r);
	struct selfstats before = selfstats;
	struct redis_batch *b = redis_batch_new();
	add_groups(b, "ok", 0, 5);
	const char *wrong[] = {"HSET", "tallyd:{bad}:1m", "count", "1"};
	const char *fine[] = {"HSET", "tallyd:{bad}:5m", "count", "2"};
	const char *unknown[] = {"NOSUCHCOMMAND", "tallyd:{bad}:15m"};
	const char *lost[] = {"HSET", "tallyd:{bad}:1h", "count", "3"};
	redis_batch_begin(b);
	redis_batch_cmd(b, 4, wrong, NULL);
	redis_batch_cmd(b, 4, fine, NULL);
	redis_batch_end(b);
	redis_batch_begin(b);
	redis_batch_cmd(b, 4, lost, NULL);
	redis_batch_cmd(b, 2, unknown, NULL);
	redis_batch_end(b);
	add_groups(b, "ok", 5, 5);
	add_marker(b, "1700000090", 10);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	CU_ASSERT(run_until(is_idle, f.sink, 5000));
	CU_ASSERT_EQUAL(selfstats.redis_errors, before.redis_errors + 3);
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes + 1);
	CU_ASSERT(redis_sink_connected(f.sink));
	CU_ASSERT_EQUAL(verify_groups(f.sync, "ok", 0, 10), 0);
	CU_ASSERT(marker_is(f.sync, "1700000090", 10));
	CU_ASSERT(key_exists(f.sync, "tallyd:{bad}:5m"));
	CU_ASSERT(!key_exists(f.sync, "tallyd:{bad}:1h"));
	fixture_down(&f);
}

/* 20000 groups with an error each (groups cross chunk boundaries, which
 * ASan checks): every error counted, the log rate-limited. */
static void test_many_errors(void)
{
	struct fixture f;
	char log_path[512];
	if (!fixture_up(&f, NULL, 0, 30000)) {
		CU_FAIL("fixture");
		fixture_down(&f);
		return;
	}
	redisReply *r = redisCommand(f.sync, "SET tallyd:{bad}:1m a-string");
	freeReplyObject(r);
	const int n = 20000;
	struct selfstats before = selfstats;
	struct redis_batch *b = redis_batch_new();
	char key[128];
	for (int i = 0; i < n; i++) {
		series_key(key, sizeof(key), "many", i);
		const char *wrong[] = {"HSET", "tallyd:{bad}:1m", "count", "1"};
		const char *fine[] = {"HSET", key, "count", "2"};
		redis_batch_begin(b);
		redis_batch_cmd(b, 4, fine, NULL);
		redis_batch_cmd(b, 4, wrong, NULL);
		redis_batch_end(b);
	}
	add_marker(b, "1700000100", n);
	snprintf(log_path, sizeof(log_path), "%s/stderr.log", tmpdir);
	/* a crash here (ASan) leaves its report in that file: say where */
	printf("\n  stderr goes to %s during this case\n", log_path);
	fflush(stdout);
	fflush(stderr);
	int saved = dup(2), fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	close(fd);
	CU_ASSERT_EQUAL(redis_sink_submit(f.sink, b), 0);
	bool idle = run_until(is_idle, f.sink, 30000);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	CU_ASSERT(idle);
	CU_ASSERT_EQUAL(selfstats.redis_errors, before.redis_errors + (uint64_t)n);
	CU_ASSERT_EQUAL(selfstats.redis_flushes, before.redis_flushes + 1);
	CU_ASSERT(marker_is(f.sync, "1700000100", n));
	CU_ASSERT(key_exists(f.sync, "tallyd:{many.19999;env=test}:1m"));
	int lines = 0, named = 0;
	char line[1024];
	FILE *in = fopen(log_path, "r");
	CU_ASSERT_FATAL(in != NULL);
	while (fgets(line, sizeof(line), in)) {
		if (strstr(line, "redis: error reply")) {
			lines++;
			named += strstr(line, "cmd=HSET key=\"tallyd:{bad}:1m\" in=EXEC") != NULL;
		}
	}
	fclose(in);
	printf("\n  %d error replies counted, %d logged\n", n, lines);
	CU_ASSERT(lines >= 1 && lines <= 15);
	CU_ASSERT_EQUAL(named, lines);
	fixture_down(&f);
}

/* Bad arguments are refused at creation. */
static void test_bad_args(void)
{
	static const struct {
		const char *addr;
		int db;
		int64_t timeout_ms;
	} cases[] = {
	    {"no-port", 0, 1000},         {"127.0.0.1:0", 0, 1000}, {"127.0.0.1:99999", 0, 1000},
	    {"127.0.0.1:6379", -1, 1000}, {"127.0.0.1:6379", 0, 0},
	};
	char err[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		struct redis_sink *s = redis_sink_new(base, cases[i].addr, "", cases[i].db,
		                                      cases[i].timeout_ms, err, sizeof(err));
		CU_ASSERT_PTR_NULL(s);
		CU_ASSERT(err[0] != '\0');
		redis_sink_free(s);
	}
}

int main(void)
{
	if (!find_redis_server()) {
		printf("test_redis_sink: SKIP: redis-server is not in PATH\n");
		return 77;
	}
	snprintf(tmpdir, sizeof(tmpdir), "%s/tallyd-redis.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	atexit(cleanup);
	signal(SIGALRM, on_fatal_signal);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGPIPE, SIG_IGN);
	alarm(TEST_TIMEOUT_S);
	log_level = LOG_LVL_WARN;
	base = event_base_new();
	if (!base || CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	CU_pSuite s = CU_add_suite("redis_sink", NULL, NULL);
	CU_add_test(s, "batch RESP sizes", test_batch_format);
	CU_add_test(s, "bad arguments", test_bad_args);
	CU_add_test(s, "groups, binary command and marker land", test_lands);
	CU_add_test(s, "marker written after every group", test_marker_last);
	CU_add_test(s, "100k groups in one batch", test_large);
	CU_add_test(s, "AUTH and SELECT", test_auth_db);
	CU_add_test(s, "second submit in flight is skipped", test_skip);
	CU_add_test(s, "SIGKILL, drop, restart, reconnect", test_kill_restart);
	CU_add_test(s, "SIGSTOP, deadline, SIGCONT", test_stop_deadline);
	CU_add_test(s, "redis absent at start", test_absent_at_start);
	CU_add_test(s, "error replies inside groups", test_error_replies);
	CU_add_test(s, "20000 error replies counted, log rate-limited", test_many_errors);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	event_base_free(base);
	return failed ? 1 : 0;
}
