/* test_webhook: the webhook sender against real HTTP receivers
 * (tests/integ/receiver.py, started here on loopback port 0 and killed by
 * PID): delivery with body and headers intact, 503 then 200, 429 with
 * Retry-After in seconds and as an HTTP date, 400 not retried, a closed port
 * retried with growing backoff then failed, queue overflow dropped, at most
 * 8 transfers in flight, timeouts retried, and freeing with transfers in
 * flight. Finds receiver.py via $TOP_SRCDIR or argv[1]. Run by make check. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "selfstats.h"
#include "webhook.h"

#define TEST_TIMEOUT_S 120
#define MAX_RECEIVERS 16

static char receiver_py[4096];
static const char *python = "python3";
static char tmpdir[256] = "";
static struct event_base *base;

/* ---- receivers ------------------------------------------------------------ */

struct receiver {
	pid_t pid;
	int port;
	char portfile[512];
	char log[512];
};

static volatile pid_t children[MAX_RECEIVERS];
static int nreceivers;

static void on_fatal_signal(int sig)
{
	for (int i = 0; i < MAX_RECEIVERS; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	_exit(sig == SIGALRM ? 124 : 128 + sig);
}

static void stop_receiver(struct receiver *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid)
			goto done;
		usleep(20000);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
done:
	for (int i = 0; i < MAX_RECEIVERS; i++)
		if (children[i] == r->pid)
			children[i] = 0;
	r->pid = 0;
}

/* Starts receiver.py; retry_after and delay may be NULL. */
static bool start_receiver(struct receiver *r, const char *script, const char *retry_after,
                           const char *delay)
{
	const char *argv[16];
	int n = 0, k = nreceivers++;
	memset(r, 0, sizeof(*r));
	snprintf(r->portfile, sizeof(r->portfile), "%s/r%d.port", tmpdir, k);
	snprintf(r->log, sizeof(r->log), "%s/r%d.jsonl", tmpdir, k);
	argv[n++] = python;
	argv[n++] = receiver_py;
	argv[n++] = "--port-file";
	argv[n++] = r->portfile;
	argv[n++] = "--log";
	argv[n++] = r->log;
	argv[n++] = "--script";
	argv[n++] = script;
	if (retry_after) {
		argv[n++] = "--retry-after";
		argv[n++] = retry_after;
	}
	if (delay) {
		argv[n++] = "--delay";
		argv[n++] = delay;
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(python, (char *const *)argv);
		_exit(127);
	}
	r->pid = pid;
	for (int i = 0; i < MAX_RECEIVERS; i++) {
		if (children[i] == 0) {
			children[i] = pid;
			break;
		}
	}
	int64_t deadline = clock_mono_ms() + 10000;
	while (clock_mono_ms() < deadline) {
		FILE *f = fopen(r->portfile, "r");
		if (f) {
			char line[32] = "";
			bool ok = fgets(line, sizeof(line), f) != NULL;
			fclose(f);
			char *end;
			long port = ok ? strtol(line, &end, 10) : 0;
			if (ok && end != line && port > 0 && port < 65536) {
				r->port = (int)port;
				return true;
			}
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			r->pid = 0;
			return false;
		}
		usleep(20000);
	}
	stop_receiver(r);
	return false;
}

/* Every request the receiver logged, as a JSON array. */
static json_t *requests_of(const struct receiver *r)
{
	json_t *all = json_array();
	FILE *f = fopen(r->log, "r");
	if (!f)
		return all;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		json_t *j = json_loadb(line, (size_t)len, 0, NULL);
		CU_ASSERT_PTR_NOT_NULL(j);
		if (j)
			json_array_append_new(all, j);
	}
	free(line);
	fclose(f);
	return all;
}

static double request_time(json_t *reqs, size_t i)
{
	return json_number_value(json_object_get(json_array_get(reqs, i), "t"));
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

/* ---- results ---------------------------------------------------------------- */

struct rec {
	enum webhook_outcome outcome;
	int attempt;
	long status;
	char error[256];
	char webhook[64];
	char what[64];
	int64_t next_ms;
	int64_t at_ms;
};

static struct rec recs[64];
static size_t nrecs;

static void on_result(void *ctx, const struct webhook_result *r)
{
	(void)ctx;
	if (nrecs == sizeof(recs) / sizeof(recs[0]))
		return;
	struct rec *x = &recs[nrecs++];
	x->outcome = r->outcome;
	x->attempt = r->attempt;
	x->status = r->http_status;
	snprintf(x->error, sizeof(x->error), "%s", r->error ? r->error : "(null)");
	snprintf(x->webhook, sizeof(x->webhook), "%s", r->webhook);
	snprintf(x->what, sizeof(x->what), "%s", r->what);
	x->next_ms = r->next_retry_ms;
	x->at_ms = clock_mono_ms();
}

static void reset_results(void)
{
	nrecs = 0;
	memset(recs, 0, sizeof(recs));
}

static struct webhook_sender *new_sender(size_t queue_max)
{
	char err[256] = "";
	struct webhook_sender *w = webhook_new(base, queue_max, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	webhook_on_result(w, on_result, NULL);
	reset_results();
	return w;
}

static struct webhook_conf conf_for(const char *name, char *url, int64_t timeout_ms, int retries)
{
	struct webhook_conf c;
	memset(&c, 0, sizeof(c));
	c.name = (char *)name;
	c.url = url;
	c.format = WEBHOOK_JSON;
	c.timeout_ms = timeout_ms;
	c.retries = retries;
	return c;
}

static void url_for(char *buf, size_t len, int port, const char *path)
{
	snprintf(buf, len, "http://127.0.0.1:%d%s", port, path);
}

#define EXPECT_REC(i, want_outcome, want_attempt, want_status)                                     \
	do {                                                                                       \
		CU_ASSERT_FATAL(nrecs > (size_t)(i));                                              \
		CU_ASSERT_EQUAL(recs[i].outcome, (want_outcome));                                  \
		CU_ASSERT_EQUAL(recs[i].attempt, (want_attempt));                                  \
		CU_ASSERT_EQUAL(recs[i].status, (want_status));                                    \
		if (recs[i].outcome != (want_outcome) || recs[i].attempt != (want_attempt) ||      \
		    recs[i].status != (want_status))                                               \
			fprintf(stderr, "result %d: outcome=%d attempt=%d status=%ld error=%s\n",  \
			        (int)(i), recs[i].outcome, recs[i].attempt, recs[i].status,        \
			        recs[i].error);                                                    \
	} while (0)

/* ---- tests -------------------------------------------------------------------- */

/* The body and the headers arrive intact; the conf may go right after. */
static void test_delivered(void)
{
	struct receiver r;
	CU_ASSERT_FATAL(start_receiver(&r, "200", NULL, NULL));
	struct webhook_sender *w = new_sender(100);
	struct selfstats before = selfstats;

	char url[128];
	url_for(url, sizeof(url), r.port, "/hook?x=1");
	struct webhook_conf *c = calloc(1, sizeof(*c));
	*c = conf_for("oncall", NULL, 5000, 2);
	c->name = strdup("oncall");
	c->url = strdup(url);
	c->nheaders = 2;
	c->headers = calloc(2, sizeof(char *));
	c->headers[0] = strdup("Authorization: Bearer s3cr\"t");
	c->headers[1] = strdup("X-Tallyd-Test: a b  c");
	const char *body = "{\"alerts\":[{\"rule\":\"r\\\"1\",\"series\":\"caf\xc3\xa9;k=v\"}],"
	                   "\"n\":[1,2.5,null]}";
	/* A large body too: no Expect/100-continue round trip, every byte there. */
	size_t big_len = 300000;
	char *big = malloc(big_len + 1);
	memcpy(big, "{\"pad\":\"", 8);
	for (size_t i = 8; i < big_len - 2; i++)
		big[i] = (char)('a' + i % 26);
	memcpy(big + big_len - 2, "\"}", 3);

	CU_ASSERT_EQUAL(webhook_post(w, c, body, strlen(body), "first"), 0);
	CU_ASSERT_EQUAL(webhook_post(w, c, big, big_len, "big"), 0);
	CU_ASSERT_EQUAL(webhook_pending(w), 2);
	for (size_t i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	free(c->headers);
	free(c->name);
	free(c->url);
	free(c);

	CU_ASSERT_EQUAL(webhook_drain(w, 10000), 0);
	CU_ASSERT_EQUAL(webhook_pending(w), 0);
	CU_ASSERT_EQUAL_FATAL(nrecs, 2);
	for (size_t i = 0; i < 2; i++) {
		EXPECT_REC(i, WEBHOOK_DELIVERED, 1, 200);
		CU_ASSERT_STRING_EQUAL(recs[i].error, "");
		CU_ASSERT_STRING_EQUAL(recs[i].webhook, "oncall");
	}
	CU_ASSERT_EQUAL(selfstats.webhook_sent, before.webhook_sent + 2);
	CU_ASSERT_EQUAL(selfstats.webhook_retries, before.webhook_retries);

	json_t *reqs = requests_of(&r);
	CU_ASSERT_EQUAL_FATAL(json_array_size(reqs), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *q = json_array_get(reqs, i);
		json_t *h = json_object_get(q, "headers");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(q, "method")), "POST");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(q, "path")), "/hook?x=1");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h, "Content-Type")),
		                       "application/json");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h, "Authorization")),
		                       "Bearer s3cr\"t");
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h, "X-Tallyd-Test")),
		                       "a b  c");
		const char *ua = json_string_value(json_object_get(h, "User-Agent"));
		CU_ASSERT(ua && strncmp(ua, "tallyd/", 7) == 0);
		CU_ASSERT_PTR_NULL(json_object_get(h, "Expect"));
		json_t *got = json_object_get(q, "body");
		if (json_object_get(got, "pad")) {
			CU_ASSERT_EQUAL(json_string_length(json_object_get(got, "pad")),
			                big_len - 10);
			json_t *want = json_loadb(big, big_len, 0, NULL);
			CU_ASSERT(json_equal(got, want));
			json_decref(want);
		} else {
			json_t *want = json_loads(body, 0, NULL);
			CU_ASSERT_PTR_NOT_NULL(want);
			CU_ASSERT(json_equal(got, want));
			json_decref(want);
		}
	}
	json_decref(reqs);
	free(big);
	webhook_free(w);
	stop_receiver(&r);
}

/* 503 then 200: delivered on attempt 2 after one backoff. */
static void test_503_then_200(void)
{
	struct receiver r;
	CU_ASSERT_FATAL(start_receiver(&r, "503,200", NULL, NULL));
	struct webhook_sender *w = new_sender(100);
	struct selfstats before = selfstats;
	char url[128];
	url_for(url, sizeof(url), r.port, "/am");
	struct webhook_conf c = conf_for("flaky", url, 5000, 3);
	CU_ASSERT_EQUAL(webhook_post(w, &c, "{}", 2, "rule|series"), 0);
	CU_ASSERT_EQUAL(webhook_drain(w, 10000), 0);
	CU_ASSERT_EQUAL_FATAL(nrecs, 2);
	EXPECT_REC(0, WEBHOOK_RETRYING, 1, 503);
	CU_ASSERT_STRING_EQUAL(recs[0].error, "HTTP 503");
	CU_ASSERT(recs[0].next_ms >= 400 && recs[0].next_ms <= 600);
	CU_ASSERT_STRING_EQUAL(recs[0].what, "rule|series");
	EXPECT_REC(1, WEBHOOK_DELIVERED, 2, 200);
	/* libevent may use a coarse clock: a few ms of slack. */
	CU_ASSERT(recs[1].at_ms - recs[0].at_ms >= recs[0].next_ms - 20);
	CU_ASSERT_EQUAL(selfstats.webhook_retries, before.webhook_retries + 1);
	CU_ASSERT_EQUAL(selfstats.webhook_sent, before.webhook_sent + 1);
	CU_ASSERT_EQUAL(selfstats.webhook_failed, before.webhook_failed);
	json_t *reqs = requests_of(&r);
	CU_ASSERT_EQUAL(json_array_size(reqs), 2);
	CU_ASSERT(request_time(reqs, 1) - request_time(reqs, 0) >= 0.39);
	json_decref(reqs);
	webhook_free(w);
	stop_receiver(&r);
}

/* 429 with Retry-After: 1 (seconds) and 503 with an HTTP date 2 s ahead. */
static void test_retry_after(void)
{
	struct receiver r1, r2;
	char date[64];
	time_t at = time(NULL) + 2;
	struct tm tm;
	gmtime_r(&at, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	CU_ASSERT_FATAL(start_receiver(&r1, "429,200", "1", NULL));
	CU_ASSERT_FATAL(start_receiver(&r2, "503,200", date, NULL));
	struct webhook_sender *w = new_sender(100);
	char url1[128], url2[128];
	url_for(url1, sizeof(url1), r1.port, "/");
	url_for(url2, sizeof(url2), r2.port, "/");
	struct webhook_conf c1 = conf_for("busy", url1, 5000, 2);
	struct webhook_conf c2 = conf_for("dated", url2, 5000, 2);
	CU_ASSERT_EQUAL(webhook_post(w, &c1, "{\"a\":1}", 7, "secs"), 0);
	CU_ASSERT_EQUAL(webhook_post(w, &c2, "{\"a\":2}", 7, "date"), 0);
	CU_ASSERT_EQUAL(webhook_drain(w, 10000), 0);
	CU_ASSERT_EQUAL_FATAL(nrecs, 4);
	int seen = 0;
	for (size_t i = 0; i < nrecs; i++) {
		if (recs[i].outcome != WEBHOOK_RETRYING)
			continue;
		if (strcmp(recs[i].what, "secs") == 0) {
			CU_ASSERT_EQUAL(recs[i].status, 429);
			CU_ASSERT_EQUAL(recs[i].next_ms, 1000);
			seen |= 1;
		} else {
			CU_ASSERT_EQUAL(recs[i].status, 503);
			CU_ASSERT(recs[i].next_ms >= 1000 && recs[i].next_ms <= 2000);
			seen |= 2;
		}
	}
	CU_ASSERT_EQUAL(seen, 3);
	struct receiver *rs[2] = {&r1, &r2};
	for (int k = 0; k < 2; k++) {
		json_t *reqs = requests_of(rs[k]);
		CU_ASSERT_EQUAL(json_array_size(reqs), 2);
		double waited = request_time(reqs, 1) - request_time(reqs, 0);
		CU_ASSERT(waited >= 0.99);
		printf("\n    Retry-After %s: waited %.3f s ", k == 0 ? "1" : "<date>", waited);
		json_decref(reqs);
		stop_receiver(rs[k]);
	}
	webhook_free(w);
}

/* 400 (and a redirect, not followed): failed at once, no retry. */
static void test_4xx_not_retried(void)
{
	struct receiver r, r3;
	CU_ASSERT_FATAL(start_receiver(&r, "400", NULL, NULL));
	CU_ASSERT_FATAL(start_receiver(&r3, "301", NULL, NULL));
	struct webhook_sender *w = new_sender(100);
	struct selfstats before = selfstats;
	char url[128], url3[128];
	url_for(url, sizeof(url), r.port, "/");
	url_for(url3, sizeof(url3), r3.port, "/");
	struct webhook_conf c = conf_for("strict", url, 5000, 3);
	CU_ASSERT_EQUAL(webhook_post(w, &c, "{}", 2, "bad"), 0);
	CU_ASSERT_EQUAL(webhook_drain(w, 10000), 0);
	CU_ASSERT_EQUAL_FATAL(nrecs, 1);
	EXPECT_REC(0, WEBHOOK_FAILED, 1, 400);
	CU_ASSERT_STRING_EQUAL(recs[0].error, "HTTP 400");
	c.url = url3;
	CU_ASSERT_EQUAL(webhook_post(w, &c, "{}", 2, "moved"), 0);
	CU_ASSERT_EQUAL(webhook_drain(w, 10000), 0);
	CU_ASSERT_EQUAL_FATAL(nrecs, 2);
	EXPECT_REC(1, WEBHOOK_FAILED, 1, 301);
	CU_ASSERT_EQUAL(selfstats.webhook_failed, before.webhook_failed + 2);
	CU_ASSERT_EQUAL(selfstats.webhook_retries, before.webhook_retries);
	json_t *reqs = requests_of(&r);
	CU_ASSERT_EQUAL(json_array_size(reqs), 1);
	json_decref(reqs);
	reqs = requests_of(&r3);
	CU_ASSERT_EQUAL(json_array_size(reqs), 1);
	json_decref(reqs);
	/* A URL curl cannot use fails at once too. */
	c.url = (char *)"gopher://127.0.0.1:1/";
	CU_ASSERT_EQUAL(webhook_post(w, &c, "{}", 2, "proto"), 0);
	CU_ASSERT_EQUAL(webhook_drain(w, 5000), 0);
	CU_ASSERT_EQUAL_FATAL(nrecs, 3);
	EXPECT_REC(2, WEBHOOK_FAILED, 1, 0);
	CU_ASSERT(recs[2].error[0] != '\0');
	webhook_free(w);
	stop_receiver(&r);
	stop_receiver(&r3);
}

/* Nobody listens: retried with growing backoff, then failed and counted. */
static void test_receiver_down(void)
{
	struct webhook_sender *w = new_sender(100);
	struct selfstats before = selfstats;
	char url[128];
	url_for(url, sizeof(url), free_port(), "/");
	struct webhook_conf c = conf_for("down", url, 2000, 3);
	int64_t t0 = clock_mono_ms();
	CU_ASSERT_EQUAL(webhook_post(w, &c, "{}", 2, "x"), 0);
	CU_ASSERT_EQUAL(webhook_drain(w, 15000), 0);
	int64_t took = clock_mono_ms() - t0;
	CU_ASSERT_EQUAL_FATAL(nrecs, 4);
	static const int64_t base_ms[] = {500, 1000, 2000};
	for (int i = 0; i < 3; i++) {
		EXPECT_REC(i, WEBHOOK_RETRYING, i + 1, 0);
		CU_ASSERT(recs[i].error[0] != '\0');
		CU_ASSERT(recs[i].next_ms >= base_ms[i] * 8 / 10 &&
		          recs[i].next_ms <= base_ms[i] * 12 / 10);
	}
	EXPECT_REC(3, WEBHOOK_FAILED, 4, 0);
	CU_ASSERT(took >= recs[0].next_ms + recs[1].next_ms + recs[2].next_ms);
	CU_ASSERT_EQUAL(selfstats.webhook_retries, before.webhook_retries + 3);
	CU_ASSERT_EQUAL(selfstats.webhook_failed, before.webhook_failed + 1);
	CU_ASSERT_EQUAL(selfstats.webhook_sent, before.webhook_sent);
	printf("\n    receiver down: failed after %lld ms (%s) ", (long long)took, recs[3].error);
	webhook_free(w);
}

/* 8 in flight, queue_max 2 waiting, the rest dropped; all kept ones arrive. */
static void test_overflow(void)
{
	struct receiver r;
	CU_ASSERT_FATAL(start_receiver(&r, "200", NULL, "0.5"));
	struct webhook_sender *w = new_sender(2);
	struct selfstats before = selfstats;
	char url[128];
	url_for(url, sizeof(url), r.port, "/");
	struct webhook_conf c = conf_for("slow", url, 5000, 0);
	for (int i = 0; i < 12; i++) {
		char what[16];
		snprintf(what, sizeof(what), "n%d", i);
		int rc = webhook_post(w, &c, "{}", 2, what);
		CU_ASSERT_EQUAL(rc, i < 10 ? 0 : -1);
	}
	CU_ASSERT_EQUAL(webhook_pending(w), 10);
	CU_ASSERT_EQUAL(selfstats.webhook_queue, 10);
	CU_ASSERT_EQUAL(selfstats.webhook_dropped, before.webhook_dropped + 2);
	CU_ASSERT_EQUAL_FATAL(nrecs, 2);
	EXPECT_REC(0, WEBHOOK_DROPPED, 0, 0);
	CU_ASSERT_STRING_EQUAL(recs[0].what, "n10");
	CU_ASSERT_STRING_EQUAL(recs[1].what, "n11");
	CU_ASSERT_EQUAL(webhook_drain(w, 10000), 0);
	CU_ASSERT_EQUAL(selfstats.webhook_queue, 0);
	CU_ASSERT_EQUAL(nrecs, 12);
	size_t delivered = 0;
	for (size_t i = 2; i < nrecs; i++)
		delivered += recs[i].outcome == WEBHOOK_DELIVERED;
	CU_ASSERT_EQUAL(delivered, 10);
	CU_ASSERT_EQUAL(selfstats.webhook_sent, before.webhook_sent + 10);
	json_t *reqs = requests_of(&r);
	CU_ASSERT_EQUAL_FATAL(json_array_size(reqs), 10);
	/* The first 8 arrive together; the other 2 only once a slot freed. */
	double t[10];
	for (size_t i = 0; i < 10; i++)
		t[i] = request_time(reqs, i);
	for (int i = 1; i < 10; i++)
		for (int k = i; k > 0 && t[k] < t[k - 1]; k--) {
			double tmp = t[k];
			t[k] = t[k - 1];
			t[k - 1] = tmp;
		}
	if (t[7] - t[0] >= 0.4 || t[8] - t[0] < 0.45)
		fprintf(stderr, "arrivals: first %.3f, 8th +%.3f, 9th +%.3f\n", t[0], t[7] - t[0],
		        t[8] - t[0]);
	CU_ASSERT(t[7] - t[0] < 0.4);
	CU_ASSERT(t[8] - t[0] >= 0.45);
	json_decref(reqs);
	webhook_free(w);
	stop_receiver(&r);
}

/* The receiver answers after the conf timeout: retried, then failed. */
static void test_timeout(void)
{
	struct receiver r;
	CU_ASSERT_FATAL(start_receiver(&r, "200", NULL, "1.5"));
	struct webhook_sender *w = new_sender(100);
	char url[128];
	url_for(url, sizeof(url), r.port, "/");
	struct webhook_conf c = conf_for("sleepy", url, 300, 1);
	int64_t t0 = clock_mono_ms();
	CU_ASSERT_EQUAL(webhook_post(w, &c, "{}", 2, "t"), 0);
	CU_ASSERT_EQUAL(webhook_drain(w, 10000), 0);
	CU_ASSERT_EQUAL_FATAL(nrecs, 2);
	EXPECT_REC(0, WEBHOOK_RETRYING, 1, 0);
	CU_ASSERT(strstr(recs[0].error, "imed out") != NULL);
	CU_ASSERT(recs[0].at_ms - t0 >= 300 && recs[0].at_ms - t0 < 1400);
	EXPECT_REC(1, WEBHOOK_FAILED, 2, 0);
	json_t *reqs = requests_of(&r);
	CU_ASSERT_EQUAL(json_array_size(reqs), 2);
	json_decref(reqs);
	webhook_free(w);
	stop_receiver(&r);
}

static void loop_for(int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Freeing with transfers in flight, queued and waiting for a retry. */
static void test_free_in_flight(void)
{
	struct receiver r;
	CU_ASSERT_FATAL(start_receiver(&r, "200", NULL, "2"));
	struct webhook_sender *w = new_sender(100);
	char url[128], down[128];
	url_for(url, sizeof(url), r.port, "/");
	url_for(down, sizeof(down), free_port(), "/");
	struct webhook_conf c = conf_for("slow", url, 5000, 3);
	struct webhook_conf d = conf_for("down", down, 5000, 3);
	CU_ASSERT_EQUAL(webhook_post(w, &d, "{}", 2, "d"), 0);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(webhook_post(w, &c, "{}", 2, "c"), 0);
	loop_for(300);
	CU_ASSERT_EQUAL(webhook_pending(w), 11);
	CU_ASSERT_EQUAL_FATAL(nrecs, 1);
	EXPECT_REC(0, WEBHOOK_RETRYING, 1, 0);
	webhook_free(w);
	CU_ASSERT_EQUAL(nrecs, 1);
	CU_ASSERT_EQUAL(selfstats.webhook_queue, 0);
	webhook_free(NULL);
	/* The loop has nothing of ours left: it returns at once. */
	int64_t t0 = clock_mono_ms();
	CU_ASSERT_EQUAL(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	CU_ASSERT(clock_mono_ms() - t0 < 100);
	stop_receiver(&r);
	json_t *reqs = requests_of(&r);
	CU_ASSERT(json_array_size(reqs) >= 1);
	json_decref(reqs);
}

/* A second sender works alongside (curl_global_init once), and a drain
 * that times out says so. */
static void test_drain_timeout(void)
{
	struct webhook_sender *w = new_sender(10);
	char down[128];
	url_for(down, sizeof(down), free_port(), "/");
	struct webhook_conf d = conf_for("down", down, 1000, 5);
	CU_ASSERT_EQUAL(webhook_post(w, &d, "{}", 2, "d"), 0);
	int64_t t0 = clock_mono_ms();
	CU_ASSERT_EQUAL(webhook_drain(w, 300), -1);
	int64_t took = clock_mono_ms() - t0;
	CU_ASSERT(took >= 290 && took < 1000);
	CU_ASSERT_EQUAL(webhook_pending(w), 1);
	webhook_free(w);
}

static void test_parse_retry_after(void)
{
	static const int64_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	static const struct {
		const char *in;
		bool ok;
		int64_t ms;
	} cases[] = {
	    {"5", true, 5000},
	    {" 120 \r\n", true, 120000},
	    {"0", true, 0},
	    {"300", true, 300000},
	    {"301", true, 300000},
	    {"99999999999999999999999", true, 300000},
	    {"", false, 0},
	    {"  ", false, 0},
	    {"soon", false, 0},
	    {"1.5", false, 0},
	    {"-1", false, 0},
	    {"5s", false, 0},
	    {"Sun, 06 Nov 1994 08:49:47 GMT", true, 10000},
	    {"Sunday, 06-Nov-94 08:49:47 GMT", true, 10000},
	    {"Sun Nov  6 08:49:47 1994", true, 10000},
	    {"Sun, 06 Nov 1994 08:00:00 GMT", true, 0},
	    {"Mon, 07 Nov 1994 08:49:37 GMT", true, 300000},
	    {"Sun, 06 Nov 1994 08:51:37 GMT\r\n", true, 120000},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -7;
		bool ok = webhook_parse_retry_after(cases[i].in, strlen(cases[i].in), now, &ms);
		CU_ASSERT_EQUAL(ok, cases[i].ok);
		if (ok && cases[i].ok)
			CU_ASSERT_EQUAL(ms, cases[i].ms);
		if (ok != cases[i].ok || (ok && ms != cases[i].ms))
			fprintf(stderr, "retry-after \"%s\": ok=%d ms=%lld\n", cases[i].in, ok,
			        (long long)ms);
	}
}

static int rm_tmpdir(void)
{
	char path[600];
	for (int k = 0; k < nreceivers; k++) {
		snprintf(path, sizeof(path), "%s/r%d.port", tmpdir, k);
		unlink(path);
		snprintf(path, sizeof(path), "%s/r%d.jsonl", tmpdir, k);
		unlink(path);
	}
	return rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
	    {"Retry-After parsing", test_parse_retry_after},
	    {"delivered intact", test_delivered},
	    {"503 then 200", test_503_then_200},
	    {"429/503 with Retry-After", test_retry_after},
	    {"4xx and redirects not retried", test_4xx_not_retried},
	    {"receiver down", test_receiver_down},
	    {"queue overflow and in-flight cap", test_overflow},
	    {"timeout retried", test_timeout},
	    {"free with transfers in flight", test_free_in_flight},
	    {"drain timeout", test_drain_timeout},
	};
	const char *top = getenv("TOP_SRCDIR");
	if (argc > 1)
		snprintf(receiver_py, sizeof(receiver_py), "%s", argv[1]);
	else
		snprintf(receiver_py, sizeof(receiver_py), "%s/tests/integ/receiver.py",
		         top ? top : ".");
	if (access(receiver_py, R_OK) != 0) {
		fprintf(stderr, "test_webhook: %s not found (set TOP_SRCDIR or pass its path)\n",
		        receiver_py);
		return 99;
	}
	if (getenv("PYTHON3") && getenv("PYTHON3")[0])
		python = getenv("PYTHON3");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_webhook.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	signal(SIGALRM, on_fatal_signal);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGPIPE, SIG_IGN);
	alarm(TEST_TIMEOUT_S);
	log_level = LOG_LVL_ERROR;
	base = event_base_new();
	if (!base)
		return 99;

	int64_t t0 = clock_mono_ms();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	CU_pSuite s = CU_add_suite("webhook", NULL, NULL);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		CU_add_test(s, tests[i].name, tests[i].fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures();
	CU_cleanup_registry();
	for (int i = 0; i < MAX_RECEIVERS; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
		}
	event_base_free(base);
	rm_tmpdir();
	printf("test_webhook: %.1f s\n", (double)(clock_mono_ms() - t0) / 1000.0);
	return fails == 0 ? 0 : 1;
}
