/* pace: how long an intake worker may wait, once its datagram sockets are
 * drained, before it reads them again (server.read_wait). Waiting lets one
 * wake-up read many datagrams; the wait is kept short enough that, at the
 * arrival rate seen, the datagrams it lets pile up fill at most a quarter
 * of the socket's queue. The rate is the higher of the last read's and an
 * average over about PACE_TAU_NS of reads (reset after an idle spell that
 * long): a read that caught little after a lull must not stretch the wait
 * over the next bursts. Nor is a wait longer than the time the rate was
 * measured over (since that reset). Domain layer: arithmetic on times and
 * counts only; intake.c reads the sockets and sleeps. */
#ifndef TALLYD_PACE_H
#define TALLYD_PACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Receive-queue bytes a datagram of len payload bytes is taken to cost: the
 * kernel charges its buffer and bookkeeping (skb truesize), which for
 * small datagrams is several times the payload; this bound is above what
 * Linux charges on loopback and Ethernet for every size. */
#define PACE_COST(len) (2 * (int64_t)(len) + 1024)
/* A wait shorter than this, or one expected to bring fewer datagrams than
 * PACE_MIN_DGRAMS, is not worth a sleep: the worker goes back to waiting
 * for readiness. */
#define PACE_MIN_NS 20000
#define PACE_MIN_DGRAMS 4
/* The averaging time of the arrival rate. */
#define PACE_TAU_NS 100000000
/* Below this the cap halved after a drop becomes 0 (no waiting). */
#define PACE_CAP_FLOOR_NS 50000
/* After this long without a drop after a wait, a halved cap doubles back
 * (one step each time, up to server.read_wait). */
#define PACE_CALM_NS 60000000000LL

struct pace {
	int64_t cap_ns;        /* the longest wait now; 0: never */
	int64_t max_cap_ns;    /* server.read_wait */
	int halvings;          /* cap_ns = max_cap_ns >> halvings (0 below the floor) */
	int64_t calm_ns;       /* when the cap was last halved or doubled back */
	int64_t budget_bytes;  /* queue bytes a wait may fill: a quarter of SO_RCVBUF */
	int64_t budget_dgrams; /* datagrams a wait may queue; 0: no such limit */
	int64_t last_ns;       /* when the previous read of this socket ended */
	int64_t start_ns;      /* when the averages were last reset */
	double avg_cost;       /* arrivals per ns, averaged: queue bytes */
	double avg_dgrams;     /* and datagrams */
	double weight;         /* of the averages since they were reset */
};

/* rcvbuf: the socket's SO_RCVBUF as getsockopt gives it (bytes; <= 0: no
 * byte limit known, only max_dgrams holds); max_dgrams: the queue's limit in
 * datagrams (a Unix socket's net.unix.max_dgram_qlen; 0 for UDP). */
void pace_init(struct pace *p, int64_t cap_ns, int64_t rcvbuf, int64_t max_dgrams, int64_t now_ns);

/* A read of the socket that ended at now_ns took dgrams datagrams, cost
 * bytes in all (the sum of PACE_COST). After PACE_TAU_NS or more since the
 * previous read (idle) it only starts the averages afresh and returns
 * cap_ns, not worth it. Otherwise returns the longest wait the socket
 * allows before its next read: cap_ns, or less when the arrival rate (the
 * higher of this read's and the average) would fill the budget sooner, and
 * at most the time since the averages were reset. *worth is set when that wait
 * is expected to bring at least PACE_MIN_DGRAMS datagrams at that rate and
 * this read found any (left alone otherwise, so a worker can OR it over
 * its sockets). */
int64_t pace_allow(struct pace *p, int64_t now_ns, size_t dgrams, int64_t cost, bool *worth);

/* The kernel dropped datagrams that arrived while the worker waited (at
 * now_ns): the cap is halved (0 once below PACE_CAP_FLOOR_NS). Returns the
 * new cap. */
int64_t pace_dropped(struct pace *p, int64_t now_ns);

/* Called after each read: when the cap was halved and PACE_CALM_NS have
 * passed since the last halving or doubling, doubles it back one step
 * (to at most server.read_wait) and returns true (the caller logs it). A
 * drop after a transient burst does not cost the waits for good. */
bool pace_calm(struct pace *p, int64_t now_ns);

#endif
