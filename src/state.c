/* state: saves every series' sliding windows and anomaly baselines to
 * server.state_file and restores them at start. The file is a header
 * (magic, version, the window configuration, creation time, the anomaly
 * configuration), one record per series (kind, wire type, key,
 * window_encode bytes, anomaly_encode bytes of each baseline) and a trailer
 * (record count, htab_hash of all before it). It never touches sockets or the event loop; flush
 * calls state_save every minute and at shutdown, main calls state_load. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "anomaly.h"
#include "htab.h"
#include "istat.h"
#include "log.h"
#include "registry.h"
#include "window.h"
#include "xalloc.h"

#define STATE_MAGIC "TLYDSTATE"
#define MAGIC_LEN 9
#define TRAILER_LEN 16

void state_encode(const struct registry *r, int64_t created, struct buf *out)
{
	const struct window_conf *c = registry_window_conf(r);
	size_t start = out->len;
	uint64_t n = 0;
	struct buf win = BUF_INIT;

	buf_append(out, STATE_MAGIC, MAGIC_LEN);
	buf_put_u32(out, STATE_VERSION);
	buf_put_u64(out, (uint64_t)c->interval_ms);
	buf_put_u32(out, (uint32_t)c->n);
	for (size_t i = 0; i < c->n; i++)
		buf_put_u64(out, (uint64_t)c->len_ms[i]);
	buf_put_u32(out, (uint32_t)c->nq);
	for (size_t i = 0; i < c->nq; i++)
		buf_put_f64(out, c->quantiles[i]);
	buf_put_f64(out, c->accuracy);
	buf_put_u64(out, (uint64_t)created);
	/* the baselines are kept only under the same baseline length and stats */
	const struct anomaly_conf *ac = registry_anomaly_conf(r);
	buf_put_u64(out, ac ? (uint64_t)ac->baseline_ms : 0);
	for (int k = 0; k < REG_KIND_COUNT; k++)
		buf_put_u32(out, registry_anomaly_stats(r, (enum registry_kind)k));
	for (int k = 0; k < REG_KIND_COUNT; k++) {
		size_t pos = 0;
		const struct reg_series *s;
		while ((s = registry_next(r, (enum registry_kind)k, &pos)) != NULL) {
			if (!s->win)
				continue;
			buf_reset(&win);
			window_encode(s->win, &win);
			buf_putc(out, (char)k);
			buf_putc(out, (char)s->type);
			buf_put_u32(out, (uint32_t)s->key_len);
			buf_put_u32(out, (uint32_t)s->name_len);
			buf_append(out, s->key, s->key_len);
			buf_put_u32(out, (uint32_t)win.len);
			buf_append(out, win.p, win.len);
			uint32_t nb = 0;
			while (s->anom && s->anom[nb])
				nb++;
			buf_put_u32(out, nb);
			for (uint32_t j = 0; j < nb; j++) {
				buf_reset(&win);
				anomaly_encode(s->anom[j], &win);
				buf_put_u32(out, (uint32_t)win.len);
				buf_append(out, win.p, win.len);
			}
			n++;
		}
	}
	buf_free(&win);
	buf_put_u64(out, n);
	buf_put_u64(out, htab_hash(out->p + start, out->len - start));
}

/* A bounded reader: a read past the end fails and marks it bad. */
struct rd {
	const unsigned char *p;
	size_t len, pos;
	bool bad;
};

static const unsigned char *get_raw(struct rd *r, size_t n)
{
	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		return NULL;
	}
	r->pos += n;
	return r->p + r->pos - n;
}

static uint64_t get_u64(struct rd *r)
{
	const unsigned char *x = get_raw(r, 8);
	uint64_t v = 0;
	for (int i = 0; x && i < 8; i++)
		v |= (uint64_t)x[i] << (8 * i);
	return v;
}

static uint32_t get_u32(struct rd *r)
{
	const unsigned char *x = get_raw(r, 4);
	uint32_t v = 0;
	for (int i = 0; x && i < 4; i++)
		v |= (uint32_t)x[i] << (8 * i);
	return v;
}

static unsigned get_u8(struct rd *r)
{
	const unsigned char *x = get_raw(r, 1);
	return x ? x[0] : 0;
}

static double get_f64(struct rd *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

/* Compares the header with the registry's window configuration. */
static bool check_header(struct rd *rd, const struct registry *r, int64_t *created, bool *anom_ok,
                         char *err, size_t errlen)
{
	const struct window_conf *c = registry_window_conf(r);
	const unsigned char *m = get_raw(rd, MAGIC_LEN);
	if (!m || memcmp(m, STATE_MAGIC, MAGIC_LEN) != 0) {
		snprintf(err, errlen, "not a tallyd state file (bad magic)");
		return false;
	}
	uint32_t version = get_u32(rd);
	if (version != STATE_VERSION) {
		snprintf(err, errlen, "format version %u, expected %d", (unsigned)version,
		         STATE_VERSION);
		return false;
	}
	if ((int64_t)get_u64(rd) != c->interval_ms) {
		snprintf(err, errlen, "server.flush_interval differs (now %lld ms)",
		         (long long)c->interval_ms);
		return false;
	}
	uint32_t n = get_u32(rd);
	bool same = n == c->n;
	for (uint32_t i = 0; same && i < n; i++)
		same = (int64_t)get_u64(rd) == c->len_ms[i];
	if (!same) {
		snprintf(err, errlen, "windows.list differs");
		return false;
	}
	uint32_t nq = get_u32(rd);
	same = nq == c->nq;
	for (uint32_t i = 0; same && i < nq; i++)
		same = get_f64(rd) == c->quantiles[i];
	if (!same) {
		snprintf(err, errlen, "windows.quantiles differs");
		return false;
	}
	if (get_f64(rd) != c->accuracy) {
		snprintf(err, errlen, "windows.relative_accuracy differs");
		return false;
	}
	*created = (int64_t)get_u64(rd);
	/* A different anomaly configuration is no reason to drop the windows:
	 * only the baselines are left out. */
	const struct anomaly_conf *ac = registry_anomaly_conf(r);
	*anom_ok = ac && (int64_t)get_u64(rd) == ac->baseline_ms;
	for (int k = 0; k < REG_KIND_COUNT; k++)
		if (get_u32(rd) != registry_anomaly_stats(r, (enum registry_kind)k))
			*anom_ok = false;
	if (rd->bad) {
		snprintf(err, errlen, "truncated header");
		return false;
	}
	return true;
}

struct rec {
	enum registry_kind kind;
	enum metric_type type;
	const char *key;
	size_t key_len, name_len;
	struct window *win;
	struct anomaly_base **anom; /* NULL-terminated, or NULL */
};

static void anom_free(struct anomaly_base **a)
{
	for (size_t i = 0; a && a[i]; i++)
		anomaly_base_free(a[i]);
	free(a);
}

/* The intervals the server was down for pass as idle pushes, so data
 * older than a window does not come back into it. false when the window
 * has been idle longer than the longest window (nothing left to restore). */
static bool catch_up(struct window *w, const struct window_conf *c, uint64_t gap)
{
	uint64_t expire = (uint64_t)(c->len_ms[c->n - 1] / c->interval_ms);
	if (gap >= expire || window_idle_intervals(w) >= expire - gap)
		return false;     /* idle all along the longest window: expired */
	window_push_idle(w, gap); /* O(slices), whatever the gap */
	return true;
}

long state_decode(struct registry *r, const void *data, size_t len, int64_t now, char *err,
                  size_t errlen)
{
	int64_t created = 0;
	bool anom_ok = false;
	const struct window_conf *c = registry_window_conf(r);
	const struct anomaly_conf *ac = registry_anomaly_conf(r);
	const unsigned char *p = data;
	struct rec *recs = NULL;
	size_t nrecs = 0, cap = 0;
	long restored = 0;

	if (len < MAGIC_LEN + TRAILER_LEN || memcmp(p, STATE_MAGIC, MAGIC_LEN) != 0) {
		snprintf(err, errlen,
		         len < MAGIC_LEN + TRAILER_LEN ? "truncated (%zu bytes)"
		                                       : "not a tallyd state file "
		                                         "(bad magic)",
		         len);
		return -1;
	}
	struct rd tr = {p, len, len - TRAILER_LEN, false};
	uint64_t count = get_u64(&tr), sum = get_u64(&tr);
	if (sum != htab_hash(p, len - 8)) {
		snprintf(err, errlen, "checksum mismatch (truncated or corrupt)");
		return -1;
	}
	struct rd rd = {p, len - TRAILER_LEN, 0, false};
	if (!check_header(&rd, r, &created, &anom_ok, err, errlen))
		return -1;
	while (rd.pos < rd.len) {
		struct rec rc;
		unsigned kind = get_u8(&rd), type = get_u8(&rd);
		uint32_t key_len = get_u32(&rd), name_len = get_u32(&rd);
		const unsigned char *key = get_raw(&rd, key_len);
		uint32_t wlen = get_u32(&rd);
		const unsigned char *wb = get_raw(&rd, wlen);
		uint32_t nb = get_u32(&rd);
		const unsigned char *ab[ISTAT_N];
		uint32_t al[ISTAT_N];
		if (nb > ISTAT_N) {
			snprintf(err, errlen, "bad record %zu", nrecs);
			goto fail;
		}
		for (uint32_t j = 0; j < nb; j++) {
			al[j] = get_u32(&rd);
			ab[j] = get_raw(&rd, al[j]);
		}
		if (rd.bad) {
			snprintf(err, errlen, "truncated record %zu", nrecs);
			goto fail;
		}
		if (kind >= REG_KIND_COUNT || type >= METRIC_TYPE_COUNT || key_len == 0 ||
		    name_len > key_len) {
			snprintf(err, errlen, "bad record %zu", nrecs);
			goto fail;
		}
		rc = (struct rec){(enum registry_kind)kind,
		                  (enum metric_type)type,
		                  (const char *)key,
		                  key_len,
		                  name_len,
		                  NULL,
		                  NULL};
		rc.win = window_decode(c, rc.type, wb, wlen);
		if (!rc.win) {
			snprintf(err, errlen, "bad window in record %zu", nrecs);
			goto fail;
		}
		if (anom_ok && nb > 0) {
			rc.anom = xcalloc(nb + 1, sizeof(*rc.anom));
			for (uint32_t j = 0; j < nb; j++) {
				rc.anom[j] = anomaly_decode(ac, ab[j], al[j]);
				if (!rc.anom[j]) {
					window_free(rc.win);
					anom_free(rc.anom);
					snprintf(err, errlen, "bad anomaly baseline in record %zu",
					         nrecs);
					goto fail;
				}
			}
		}
		if (nrecs == cap) {
			cap = cap ? cap * 2 : 64;
			recs = xrealloc(recs, cap * sizeof(*recs));
		}
		recs[nrecs++] = rc;
	}
	if (count != nrecs) {
		snprintf(err, errlen, "record count %llu, trailer says %llu",
		         (unsigned long long)nrecs, (unsigned long long)count);
		goto fail;
	}
	uint64_t gap = now > created ? (uint64_t)((now - created) * 1000 / c->interval_ms) : 0;
	/* Baselines do not count the time the server was down (catching up
	 * would cost up to baseline/interval pushes each); after a gap as long
	 * as the baseline they are too old and start afresh. */
	bool anom_keep = ac && gap * (uint64_t)c->interval_ms < (uint64_t)ac->baseline_ms;
	for (size_t i = 0; i < nrecs; i++) {
		if (!catch_up(recs[i].win, c, gap)) {
			window_free(recs[i].win);
			anom_free(recs[i].anom);
			continue;
		}
		if (registry_restore_window(r, recs[i].kind, recs[i].key, recs[i].key_len,
		                            recs[i].name_len, recs[i].type, recs[i].win) == 0) {
			restored++;
			if (anom_keep && recs[i].anom &&
			    registry_restore_anomaly(r, recs[i].kind, recs[i].key, recs[i].key_len,
			                             recs[i].anom) == 0)
				recs[i].anom = NULL;
		}
		anom_free(recs[i].anom);
	}
	free(recs);
	return restored;
fail:
	for (size_t i = 0; i < nrecs; i++) {
		window_free(recs[i].win);
		anom_free(recs[i].anom);
	}
	free(recs);
	return -1;
}

/* write(2) until done. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync of the directory holding path, so the rename is durable. */
static int sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int state_save(const struct registry *r, const char *path)
{
	struct buf b = BUF_INIT;
	char tmp[4096];
	int fd = -1;
	const char *what = "open";

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		log_warn("state: cannot save file=%s reason=path too long", path);
		return -1;
	}
	state_encode(r, (int64_t)time(NULL), &b);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	what = "write";
	if (write_all(fd, b.p, b.len) < 0)
		goto fail;
	what = "fsync";
	if (fsync(fd) < 0)
		goto fail;
	what = "close";
	int rc = close(fd);
	fd = -1;
	if (rc < 0)
		goto fail;
	what = "rename";
	if (rename(tmp, path) < 0)
		goto fail;
	if (sync_dir(path) < 0)
		log_warn("state: fsync of the directory failed file=%s error=%s", path,
		         strerror(errno));
	log_debug("state: saved file=%s bytes=%zu", path, b.len);
	buf_free(&b);
	return 0;
fail : {
	int e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	buf_free(&b);
	log_warn("state: cannot save file=%s step=%s error=%s", path, what, strerror(e));
	errno = e;
	return -1;
}
}

/* Moves a bad state file aside to <path>.bad.<unix time>. */
static void move_aside(const char *path, const char *reason)
{
	char bad[4096];
	snprintf(bad, sizeof(bad), "%s.bad.%lld", path, (long long)time(NULL));
	if (rename(path, bad) == 0)
		log_warn("state: ignoring file=%s reason=\"%s\", moved to %s; starting fresh", path,
		         reason, bad);
	else
		log_warn("state: ignoring file=%s reason=\"%s\" (cannot move it aside: %s); "
		         "starting fresh",
		         path, reason, strerror(errno));
}

long state_load(struct registry *r, const char *path)
{
	char err[256] = "";
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			log_info("state: no file=%s, starting fresh", path);
		else
			log_warn("state: cannot open file=%s error=%s; starting fresh", path,
			         strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warn("state: file=%s is not a regular file; starting fresh", path);
		close(fd);
		return 0;
	}
	size_t len = (size_t)st.st_size, got = 0;
	char *data = xmalloc(len ? len : 1);
	while (got < len) {
		ssize_t n = read(fd, data + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	long n = state_decode(r, data, got, (int64_t)time(NULL), err, sizeof(err));
	free(data);
	if (n < 0) {
		move_aside(path, err);
		return 0;
	}
	log_info("state: restored file=%s series=%ld", path, n);
	return n;
}
