/* pace: the wait between reads of a drained datagram socket (pace.h). It
 * estimates the arrival rate from what each read took since the previous
 * one (the socket was empty then), averaged over the reads since traffic
 * began (the higher of that and the last read's), and bounds the wait by
 * the socket's queue and by the time since traffic began; it does not
 * read, sleep or know about sockets (intake.c does). Bursts within the
 * average are what the other three quarters of the queue are for; a drop
 * after a wait halves the cap, a minute without one doubles it back. */
#include "pace.h"

void pace_init(struct pace *p, int64_t cap_ns, int64_t rcvbuf, int64_t max_dgrams, int64_t now_ns)
{
	p->cap_ns = p->max_cap_ns = cap_ns > 0 ? cap_ns : 0;
	p->halvings = 0;
	p->calm_ns = now_ns;
	p->budget_bytes = rcvbuf > 0 ? rcvbuf / 4 : 0;
	p->budget_dgrams = max_dgrams > 0 ? max_dgrams / 4 : 0;
	p->last_ns = p->start_ns = now_ns;
	p->avg_cost = p->avg_dgrams = p->weight = 0;
}

int64_t pace_allow(struct pace *p, int64_t now_ns, size_t dgrams, int64_t cost, bool *worth)
{
	/* What arrived between the two reads' ends: the socket was empty
	 * after the previous one. */
	double dt = (double)(now_ns - p->last_ns);
	p->last_ns = now_ns;
	if (p->cap_ns <= 0)
		return 0;
	if (dt >= PACE_TAU_NS) {
		/* After an idle spell this read tells no rate: start afresh. */
		p->avg_cost = p->avg_dgrams = p->weight = 0;
		p->start_ns = now_ns;
		return p->cap_ns;
	}
	if (dt < 1000)
		dt = 1000;
	/* Exponential averages over irregular steps (a step of dt weighs
	 * dt / tau), divided by the weight gathered since the fresh start:
	 * the time average of the rate over what was seen, not pulled to 0
	 * by the time before it. */
	double rc = (double)cost / dt, rd = (double)dgrams / dt, a = dt / PACE_TAU_NS;
	p->avg_cost += a * (rc - p->avg_cost);
	p->avg_dgrams += a * (rd - p->avg_dgrams);
	p->weight += a * (1 - p->weight);
	if (rc < p->avg_cost / p->weight)
		rc = p->avg_cost / p->weight;
	if (rd < p->avg_dgrams / p->weight)
		rd = p->avg_dgrams / p->weight;
	/* rc bytes per ns may fill budget_bytes in the wait; likewise
	 * datagrams. */
	double wait = (double)p->cap_ns;
	if (p->budget_bytes > 0 && rc * wait > (double)p->budget_bytes)
		wait = (double)p->budget_bytes / rc;
	if (p->budget_dgrams > 0 && rd * wait > (double)p->budget_dgrams)
		wait = (double)p->budget_dgrams / rd;
	/* Nor longer than the rate has been measured over: the first reads
	 * after a fresh start may have caught one datagram between two bursts,
	 * and a rate from them alone would let the next bursts overflow the
	 * queue. Each wait at most doubles the span, so the waits grow as the
	 * measure does. */
	if (wait > (double)(now_ns - p->start_ns))
		wait = (double)(now_ns - p->start_ns);
	/* A read that found nothing ends the waits: traffic may have stopped,
	 * and a wait stretched by the decaying average would be the longest
	 * just when it restarts. */
	if (dgrams > 0 && wait >= PACE_MIN_NS && rd * wait >= PACE_MIN_DGRAMS)
		*worth = true;
	return (int64_t)wait;
}

/* max_cap_ns >> halvings, 0 below the floor. */
static int64_t cap_of(const struct pace *p)
{
	int64_t cap = p->halvings >= 63 ? 0 : p->max_cap_ns >> p->halvings;
	return cap < PACE_CAP_FLOOR_NS ? 0 : cap;
}

int64_t pace_dropped(struct pace *p, int64_t now_ns)
{
	if (p->cap_ns > 0)
		p->halvings++;
	p->cap_ns = cap_of(p);
	p->calm_ns = now_ns;
	return p->cap_ns;
}

bool pace_calm(struct pace *p, int64_t now_ns)
{
	if (p->halvings == 0 || now_ns - p->calm_ns < PACE_CALM_NS)
		return false;
	p->halvings--;
	p->cap_ns = cap_of(p);
	p->calm_ns = now_ns;
	return true;
}
