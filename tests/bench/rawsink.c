/* rawsink: the machine's ceiling for UDP intake in the benchmarks
 * (tests/bench/intake.sh). It binds 127.0.0.1:PORT (0 picks one, written to
 * --port-file), reads datagrams with recvmmsg in batches like a tallyd worker
 * and only counts datagrams, bytes and lines (memchr for '\n'); it parses
 * nothing. On SIGTERM/SIGINT (or after --duration) it prints its counts and
 * the kernel's drop count (SO_RXQ_OVFL). Not a test and not part of tallyd. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define BUFSIZE 65536

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static bool parse_ull(const char *s, unsigned long long *out)
{
	char *end;
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

static void usage(void)
{
	fprintf(stderr, "usage: rawsink [--port P] [--port-file F] [--cpu N] [--rcvbuf BYTES] "
	                "[--duration S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long long port = 0, cpu = (unsigned long long)-1, rcvbuf = 32u << 20, dur = 0;
	const char *port_file = NULL;

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = true;
		if (strcmp(a, "--port") == 0)
			ok = parse_ull(v, &port) && port < 65536;
		else if (strcmp(a, "--cpu") == 0)
			ok = parse_ull(v, &cpu) && cpu < CPU_SETSIZE;
		else if (strcmp(a, "--rcvbuf") == 0)
			ok = parse_ull(v, &rcvbuf) && rcvbuf <= (1u << 30);
		else if (strcmp(a, "--duration") == 0)
			ok = parse_ull(v, &dur);
		else if (strcmp(a, "--port-file") == 0 && v != NULL)
			port_file = v;
		else
			ok = false;
		if (!ok)
			usage();
	}
	if (cpu != (unsigned long long)-1) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			perror("rawsink: sched_setaffinity");
			return 1;
		}
	}

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int on = 1, sz = (int)rcvbuf;
	struct sockaddr_in a = {0};
	socklen_t alen = sizeof(a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)) != 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		perror("rawsink: socket");
		return 1;
	}
	/* As tallyd's server.rcvbuf: SO_RCVBUFFORCE when allowed, else capped. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct timeval tv = {0, 200000}; /* wake up to notice a signal or the end */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (port_file != NULL) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (f == NULL || fprintf(f, "udp 127.0.0.1:%u\n", ntohs(a.sin_port)) < 0 ||
		    fclose(f) != 0 || rename(tmp, port_file) != 0) {
			perror("rawsink: port file");
			return 1;
		}
	}

	static char bufs[BATCH][BUFSIZE];
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	static char cmsg[BATCH][CMSG_SPACE(sizeof(uint32_t))];
	unsigned long long dgrams = 0, bytes = 0, lines = 0;
	uint32_t ovfl = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	while (!stop) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = BUFSIZE;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = cmsg[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(cmsg[i]);
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				perror("rawsink: recvmmsg");
				return 1;
			}
		}
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &msgs[i].msg_hdr;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
					memcpy(&ovfl, CMSG_DATA(c), sizeof(ovfl));
			const char *p = bufs[i], *end = p + msgs[i].msg_len;
			dgrams++;
			bytes += msgs[i].msg_len;
			/* Lines as tallyd counts them: a last line without '\n' too. */
			if (p < end) {
				lines++;
				for (const char *nl;
				     (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1)
					if (nl + 1 < end)
						lines++;
			}
		}
		if (dur > 0) {
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((unsigned long long)(t.tv_sec - t0.tv_sec) >= dur)
				break;
		}
	}
	printf("datagrams %llu bytes %llu lines %llu kernel_drops %u\n", dgrams, bytes, lines,
	       ovfl);
	close(fd);
	return 0;
}
