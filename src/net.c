/* net: turns configured addresses into bound, non-blocking sockets for the
 * listeners (UDP with SO_REUSEPORT and SO_RXQ_OVFL, TCP, Unix) and formats a
 * socket's bound address for the port file and the logs. It does not read,
 * write or watch sockets: intake, admin, http and graphite do. Called at
 * start-up by intake, admin, http and graphite (blocking name resolution). */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "num.h"

#define NET_LISTEN_BACKLOG 1024
#define NET_HOST_MAX 256

/* Picks the first IPv4 answer if there is one (so "localhost" means
 * 127.0.0.1 wherever clients send to it), else the first answer. */
static const struct addrinfo *pick_answer(const struct addrinfo *res)
{
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET)
			return ai;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET6)
			return ai;
	return NULL;
}

static bool resolve_host(const char *host, bool bracketed, struct sockaddr_storage *ss,
                         socklen_t *len, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 && bracketed) {
		snprintf(err, errlen, "'%s' is not an IPv6 address", host);
		return false;
	}
	if (rc == EAI_NONAME) {
		hints.ai_flags = 0;
		rc = getaddrinfo(host, NULL, &hints, &res);
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve host '%s': %s", host,
		         rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return false;
	}
	const struct addrinfo *ai = pick_answer(res);
	if (!ai || ai->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		snprintf(err, errlen, "host '%s' has no IPv4 or IPv6 address", host);
		return false;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

bool net_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, char *err,
                    size_t errlen)
{
	char host[NET_HOST_MAX];
	const char *port;
	size_t hlen;
	bool bracketed = false;

	/* "127.0.0.1:8125"   "[::1]:8125"   "statsd.example:8125"
	 *  ^host     ^port     ^host ^port */
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close) {
			snprintf(err, errlen, "'%s': missing ']' after the IPv6 address", addr);
			return false;
		}
		if (close[1] != ':') {
			snprintf(err, errlen, "'%s': expected ':PORT' after ']'", addr);
			return false;
		}
		hlen = (size_t)(close - addr - 1);
		memcpy(host, addr + 1, hlen < sizeof(host) ? hlen : 0);
		port = close + 2;
		bracketed = true;
	} else {
		const char *colon = strrchr(addr, ':');
		if (!colon) {
			snprintf(err, errlen, "'%s': expected HOST:PORT", addr);
			return false;
		}
		if (memchr(addr, ':', (size_t)(colon - addr))) {
			snprintf(err, errlen,
			         "'%s': write IPv6 addresses in brackets, as [::1]:8125", addr);
			return false;
		}
		hlen = (size_t)(colon - addr);
		memcpy(host, addr, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	if (hlen == 0) {
		snprintf(err, errlen,
		         "'%s': missing host (use 0.0.0.0:PORT or [::]:PORT for every interface)",
		         addr);
		return false;
	}
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "'%s': host longer than %d bytes", addr, NET_HOST_MAX - 1);
		return false;
	}
	host[hlen] = '\0';

	int64_t p;
	size_t plen = strlen(port);
	if (plen == 0 || port[0] < '0' || port[0] > '9' || !num_parse_int64(port, plen, &p) ||
	    p > 65535) {
		snprintf(err, errlen, "'%s': port must be a number from 0 to 65535", addr);
		return false;
	}
	if (!resolve_host(host, bracketed, ss, len, err, errlen))
		return false;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
	return true;
}

/* Asks for rcvbuf bytes: SO_RCVBUFFORCE passes net.core.rmem_max when we
 * have CAP_NET_ADMIN; otherwise SO_RCVBUF is capped by it. Linux doubles
 * the value it stores (for bookkeeping), so getsockopt returns 2x. */
static void set_rcvbuf(int fd, int rcvbuf, const char *what)
{
	if (rcvbuf <= 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0) {
		log_warn("net: cannot set rcvbuf on %s: %s", what, strerror(errno));
		return;
	}
	int got = 0;
	socklen_t glen = sizeof(got);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &glen) < 0)
		return;
	int want = rcvbuf < INT_MAX / 2 ? rcvbuf : INT_MAX / 2; /* the kernel's cap */
	if (got / 2 < want)
		log_warn("net: %s rcvbuf asked=%d granted=%d (raise net.core.rmem_max or run "
		         "with CAP_NET_ADMIN)",
		         what, rcvbuf, got / 2);
}

long net_rcvbuf(int fd)
{
	int got = 0;
	socklen_t glen = sizeof(got);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &glen) < 0)
		return -1;
	return got;
}

long net_unix_dgram_qlen(void)
{
	char line[32];
	int64_t n;
	FILE *f = fopen("/proc/sys/net/unix/max_dgram_qlen", "r");
	if (f == NULL)
		return 10;
	size_t len = fgets(line, sizeof(line), f) ? strcspn(line, "\n") : 0;
	fclose(f);
	return num_parse_int64(line, len, &n) && n >= 1 && n <= INT_MAX ? (long)n : 10;
}

static int set_int_opt(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val));
}

/* Closes fd on an error path, keeping errno for the caller. */
static int close_fail(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int net_bind_udp(const char *addr, bool reuseport, int rcvbuf, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char what[300];

	if (!net_parse_addr(addr, &ss, &len, err, errlen))
		return -1;
	snprintf(what, sizeof(what), "udp %s", addr);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "udp %s: socket: %s", addr, strerror(errno));
		return -1;
	}
	/* No SO_REUSEADDR: on UDP it lets a second socket bind a busy port
	 * without error (UDP has no TIME_WAIT for it to help with). Workers
	 * share the port through SO_REUSEPORT (same user only). */
	if (reuseport && set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0) {
		snprintf(err, errlen, "udp %s: SO_REUSEPORT: %s", addr, strerror(errno));
		goto fail;
	}
	set_rcvbuf(fd, rcvbuf, what);
	if (set_int_opt(fd, SOL_SOCKET, SO_RXQ_OVFL, 1) < 0)
		log_warn("net: %s: SO_RXQ_OVFL unavailable, kernel drops will not be counted: %s",
		         what, strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		snprintf(err, errlen, "udp %s: bind: %s", addr, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	return close_fail(fd);
}

int net_listen_tcp(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (!net_parse_addr(addr, &ss, &len, err, errlen))
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "tcp %s: socket: %s", addr, strerror(errno));
		return -1;
	}
	if (set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0) {
		snprintf(err, errlen, "tcp %s: SO_REUSEADDR: %s", addr, strerror(errno));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		snprintf(err, errlen, "tcp %s: bind: %s", addr, strerror(errno));
		goto fail;
	}
	if (listen(fd, NET_LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "tcp %s: listen: %s", addr, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	return close_fail(fd);
}

/* A socket file left by a previous run is removed; one that a live process
 * still serves (a connect succeeds), or a path that is not a socket, is an
 * error rather than something to delete. */
static int clear_stale_socket(const struct sockaddr_un *sun, int type, char *err, size_t errlen)
{
	struct stat st;
	const char *path = sun->sun_path;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "unix %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "unix %s: exists and is not a socket", path);
		return -1;
	}
	int probe = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0) {
		snprintf(err, errlen, "unix %s: socket: %s", path, strerror(errno));
		return -1;
	}
	int rc = connect(probe, (const struct sockaddr *)sun, sizeof(*sun));
	int cerr = errno;
	close(probe);
	if (rc == 0 || cerr == EAGAIN || cerr == EINPROGRESS) {
		snprintf(err, errlen, "unix %s: in use by another process", path);
		return -1;
	}
	if (cerr != ECONNREFUSED && cerr != ENOENT) {
		snprintf(err, errlen, "unix %s: %s", path, strerror(cerr));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "unix %s: cannot remove stale socket: %s", path,
		         strerror(errno));
		return -1;
	}
	return 0;
}

int net_bind_unix(const char *path, int type, int rcvbuf, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	size_t plen = strlen(path);
	char what[sizeof(sun.sun_path) + 16];

	if (type != SOCK_DGRAM && type != SOCK_STREAM) {
		snprintf(err, errlen, "unix %s: type must be SOCK_DGRAM or SOCK_STREAM", path);
		return -1;
	}
	if (plen == 0 || plen >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unix '%s': path must be 1 to %zu bytes", path,
		         sizeof(sun.sun_path) - 1);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen + 1);
	if (clear_stale_socket(&sun, type, err, errlen) < 0)
		return -1;

	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "unix %s: socket: %s", path, strerror(errno));
		return -1;
	}
	snprintf(what, sizeof(what), "unix %s", path);
	if (type == SOCK_DGRAM)
		set_rcvbuf(fd, rcvbuf, what);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "unix %s: bind: %s", path, strerror(errno));
		goto fail;
	}
	/* Any local client may write, as the Datadog agent's socket. */
	if (chmod(path, 0666) < 0) {
		snprintf(err, errlen, "unix %s: chmod: %s", path, strerror(errno));
		goto fail_unlink;
	}
	if (type == SOCK_STREAM && listen(fd, NET_LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "unix %s: listen: %s", path, strerror(errno));
		goto fail_unlink;
	}
	return fd;
fail_unlink : {
	int saved = errno;
	unlink(path);
	errno = saved;
}
fail:
	return close_fail(fd);
}

void net_local_addr(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
		size_t n = len > offsetof(struct sockaddr_un, sun_path)
		               ? len - offsetof(struct sockaddr_un, sun_path)
		               : 0;
		if (n > 0 && sun->sun_path[0] == '\0') /* abstract: shown as "@name" */
			snprintf(out, outlen, "@%.*s", (int)(n - 1), sun->sun_path + 1);
		else
			snprintf(out, outlen, "%.*s", (int)strnlen(sun->sun_path, n),
			         sun->sun_path);
		return;
	}
	if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
		return;
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	if (ss.ss_family == AF_INET6)
		snprintf(out, outlen, "[%s]:%s", host, serv);
	else
		snprintf(out, outlen, "%s:%s", host, serv);
}
