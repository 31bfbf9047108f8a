/* net: socket helpers shared by the edges: parse "host:port" ("[::1]:8125",
 * port 0 allowed), bind UDP/TCP/Unix sockets, and print a bound address.
 * Edge layer. Errors go to err; functions return a fd or -1. */
#ifndef TALLYD_NET_H
#define TALLYD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Resolves host:port (numeric or name) into ss; false with err on failure. */
bool net_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, char *err,
                    size_t errlen);

/* Non-blocking sockets. reuseport sets SO_REUSEPORT (UDP workers). */
int net_bind_udp(const char *addr, bool reuseport, int rcvbuf, char *err, size_t errlen);
int net_listen_tcp(const char *addr, char *err, size_t errlen);
int net_bind_unix(const char *path, int type, int rcvbuf, char *err, size_t errlen);

/* The receive-queue limit of a datagram socket, in bytes (SO_RCVBUF as the
 * kernel keeps it: twice what was asked), or -1. */
long net_rcvbuf(int fd);

/* A Unix datagram socket's queue limit in datagrams
 * (/proc/sys/net/unix/max_dgram_qlen; 10, the kernel's own default, when
 * it cannot be read). */
long net_unix_dgram_qlen(void);

/* Writes the local address of fd as "host:port" ("[v6]:port"). */
void net_local_addr(int fd, char *out, size_t outlen);

#endif
