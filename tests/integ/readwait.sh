[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# readwait.sh: server.read_wait end to end. 20,000 datagrams/s of 30-line
# counters, in bursts of 100 every 5 ms, are sent for 2 s to tallyd (one
# worker, read_wait=50ms) over UDP with a 256k receive buffer. A 50 ms wait
# at that rate would let ~1,000 datagrams pile up, more than the queue
# holds: the waits must be cut to the queue at the average rate (pace.c),
# so nothing is lost, while the worker thread ("tallyd-w0") wakes far less
# often than once per datagram. Once the load stops the worker must go back
# to sleeping until readable (a handful of wake-ups in 2 s, not one per
# wait). The same load with read_wait=0 is the control for the wake-up
# count. Then over a Unix datagram socket (blocking sender): nothing lost,
# and when net.unix.max_dgram_qlen leaves room for waits (>= 64), few
# wake-ups there too.
. "$(dirname "$0")/lib.sh"

RATE=20000
SECS=2

# pace_send udp PORT | unix PATH: sends RATE datagrams/s of 30 lines
# (rd.c0 .. rd.c99, value 1) for SECS s, a tick every 5 ms; prints
# "DATAGRAMS LINES EAGAIN".
pace_send() {
	"$PYTHON3" - "$1" "$2" "$RATE" "$SECS" <<'PY'
import socket, sys, time
kind, target, rate, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    addr = ("127.0.0.1", int(target))
else:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    addr = target
s.setblocking(kind != "udp")
dgrams = [("\n".join("rd.c%d:1|c" % ((k * 30 + i) % 100) for i in range(30))).encode()
          for k in range(10)]
tick = 0.005
per_tick = int(rate * tick)
sent = eagain = 0
t0 = time.monotonic()
n_ticks = int(secs / tick)
for t in range(n_ticks):
    for _ in range(per_tick):
        try:
            s.sendto(dgrams[sent % 10], addr)
            sent += 1
        except BlockingIOError:
            eagain += 1
    d = t0 + (t + 1) * tick - time.monotonic()
    if d > 0:
        time.sleep(d)
print(sent, sent * 30, eagain)
PY
}

# worker_switches: voluntary context switches of worker 0 so far.
worker_switches() {
	local t
	for t in /proc/"$TALLYD_PID"/task/*; do
		if [ "$(cat "$t/comm" 2>/dev/null)" = tallyd-w0 ]; then
			awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$t/status"
			return
		fi
	done
	echo -1
}

# counted: the sum of every flushed stats_counts.rd.* so far.
counted() {
	awk '$1 ~ /^stats_counts\.rd\./ { s += $2 } END { printf "%d", s }' "$SINK_DIR/lines.txt" 2>/dev/null
}

# wait_counted N: waits (at most 10 s) for the flushed total to reach N.
wait_counted() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(counted)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# run WAIT KIND: tallyd with read_wait=WAIT, the load over KIND; sets SENT,
# EAGAIN, LOAD_SW (worker wake-ups under load), IDLE_SW (in 2 idle s after).
run() {
	local wait=$1 kind=$2 out s0 s1 target
	start_sink || bail "graphite_sink.py starts"
	start_tallyd -o server.workers=1 -o server.read_wait="$wait" -o server.rcvbuf=256k \
		-o server.flush_interval=1s -o server.unix="$T/dogstatsd.sock" \
		-o graphite.address=127.0.0.1:"$SINK_PORT" ||
		bail "read_wait=$wait: tallyd starts"
	sleep 0.3
	s0=$(worker_switches)
	W0=$s0
	if [ "$kind" = udp ]; then target=$UDP_PORT; else target=$T/dogstatsd.sock; fi
	out=$(pace_send "$kind" "$target")
	s1=$(worker_switches)
	read -r SENT _ EAGAIN <<<"$out"
	LINES=$((SENT * 30))
	LOAD_SW=$((s1 - s0))
	wait_counted "$LINES"
	GOT=$(counted)
	sleep 1
	s0=$(worker_switches)
	sleep 2
	s1=$(worker_switches)
	IDLE_SW=$((s1 - s0))
	grep -i "kernel dropped" "$TALLYD_LOG" | head -n 3 | diag
	stop_tallyd TERM
	stop_sink
}

run 50ms udp
check "udp: the worker thread is named tallyd-w0" test "$W0" -ge 0
check_eq "udp, read_wait=50ms, 256k buffer: every line sent was counted ($SENT datagrams)" \
	"$LINES" "$GOT"
check "udp: the worker woke $LOAD_SW times for $SENT datagrams (< 1 in 10)" \
	test "$LOAD_SW" -lt $((SENT / 10))
check "udp: idle for 2 s, the worker woke $IDLE_SW times (<= 10: no polling)" \
	test "$IDLE_SW" -le 10
paced=$LOAD_SW

run 0 udp
check_eq "udp, read_wait=0: every line sent was counted" "$LINES" "$GOT"
check "udp: read_wait=0 wakes the worker more ($LOAD_SW) than read_wait=50ms ($paced)" \
	test "$LOAD_SW" -gt $((paced * 2))

run 50ms unix
check_eq "unix, read_wait=50ms: every line sent was counted ($SENT datagrams)" "$LINES" "$GOT"
qlen=$(cat /proc/sys/net/unix/max_dgram_qlen 2>/dev/null || echo 10)
if [ "$qlen" -ge 64 ]; then
	check "unix: the worker woke $LOAD_SW times for $SENT datagrams (< 1 in 10)" \
		test "$LOAD_SW" -lt $((SENT / 10))
else
	echo "unix: net.unix.max_dgram_qlen=$qlen leaves no room for waits; the worker woke" \
		"$LOAD_SW times for $SENT datagrams" | diag
fi

