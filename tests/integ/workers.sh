[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# workers.sh: the Graphite output does not depend on server.workers. The same
# deterministic input (seeded: counters with sample rates and DogStatsD tags,
# timers, gauges, sets; 30-line datagrams from 8 source sockets, so that
# SO_REUSEPORT spreads them over the workers) is sent to tallyd with
# workers=1 and workers=4, right after a flush; the next flush of each, sorted,
# without timestamps and tallyd's own statistics, must be identical, and the
# counter totals must be what was sent.
. "$(dirname "$0")/lib.sh"

# send_input PORT: sends the input; prints the expected sum of the flushed
# counters (stats_counts.*: value / rate per line).
send_input() {
	"$PYTHON3" - "$1" <<'EOF'
import random, socket, sys
port = int(sys.argv[1])
rnd = random.Random(20261122)
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
lines, total = [], 0.0
for i in range(24000):
    n = rnd.randrange(500)
    r = rnd.randrange(100)
    if r < 50:
        v = rnd.randrange(1, 4)
        if n % 5 == 0:
            lines.append("w.c%d:%d|c|@0.5" % (n, v))
            total += v * 2
        else:
            lines.append("w.c%d:%d|c" % (n, v))
            total += v
    elif r < 60:
        v = rnd.randrange(1, 4)
        lines.append("w.t%d:%d|c|#env:prod,host:h%d" % (n % 50, v, n % 3))
        total += v
    elif r < 85:
        lines.append("w.ms%d:%d|ms" % (n % 100, rnd.randrange(1000)))
    elif r < 95:
        lines.append("w.g%d:%d|g" % (n % 50, (n % 50) * 7 % 100))
    else:
        lines.append("w.s%d:u%d|s" % (n % 20, rnd.randrange(200)))
for k in range(0, len(lines), 30):
    socks[(k // 30) % len(socks)].sendto("\n".join(lines[k:k + 30]).encode(),
                                          ("127.0.0.1", port))
print("%d" % total)
EOF
}

# run_with WORKERS: the normalised flush that holds the input in $T/wWORKERS.txt;
# sets SENT to the expected counter total.
run_with() {
	local w=$1 t0 t1 flushes t2
	start_sink || bail "workers=$w: graphite_sink.py starts"
	start_tallyd -o server.workers="$w" -o server.flush_interval=2s -o server.rcvbuf=16m \
		-o graphite.address=127.0.0.1:"$SINK_PORT" ||
		bail "workers=$w: tallyd starts"
	t0=$(sink_last_ts)
	t1=$(sink_wait "${t0:-0}" 1 15) || bail "workers=$w: a flush arrives within 15 s"
	SENT=$(send_input "$UDP_PORT")
	flushes=$(sink_wait "$t1" 2 20) || bail "workers=$w: two more flushes arrive"
	t2=$(sed -n 1p <<<"$flushes")
	# tallyd's own statistics (a statsd.* or tallyd.* name under any
	# namespace: stats.statsd.*, stats.gauges.tallyd.*...) count packets and
	# timings that may differ; the input's series are all w.*.
	sink_select "$t2" | awk '{ print $1, $2 }' |
		grep -Ev '(^|\.)(statsd|tallyd)\.' |
		LC_ALL=C sort >"$T/w$w.txt"
	stop_tallyd TERM
	check_eq "workers=$w: SIGTERM exits 0" 0 "$TALLYD_RC"
	stop_sink
}

run_with 1
sent1=$SENT
run_with 4
check_eq "the input is the same both times" "$sent1" "$SENT"

n1=$(wc -l <"$T/w1.txt")
check "workers=1: the input's flush has every kind of series (got $n1 lines)" \
	grep -q '^stats\.timers\.w\.ms' "$T/w1.txt"
check "workers=1: gauges, sets and tagged counters are in it" bash -c \
	"grep -q '^stats\.gauges\.w\.g' '$T/w1.txt' && grep -q '^stats\.sets\.w\.s' '$T/w1.txt' &&
	 grep -q '^stats_counts\.w\.t[0-9]*;env=prod;host=h' '$T/w1.txt'"
for w in 1 4; do
	got=$(awk '$1 ~ /^stats_counts\.w\./ { s += $2 } END { printf "%d", s }' "$T/w$w.txt")
	check_eq "workers=$w: the flushed counter totals are what was sent" "$sent1" "$got"
done
if diff "$T/w1.txt" "$T/w4.txt" >"$T/diff.txt"; then
	ok "workers=1 and workers=4 flush identical Graphite lines ($n1 lines)"
else
	not_ok "workers=1 and workers=4 flush identical Graphite lines"
	head -n 30 "$T/diff.txt" | diag
fi
