#!/bin/bash
# redis_flush.sh: how long a flush of N live series to a local redis-server
# takes, end to end through the real daemon: N distinct counters are sent
# over UDP (paced, 30 lines a datagram), then the next flush's Redis time is
# read from tallyd's self-stats (tallyd_redis_flush_ms: from submitting the
# batch to the last reply). Prints the figure for each N in $SERIES (default
# "100000"; "100000 1000000" for both). Run by make bench; bounded in time;
# stops what it starts by PID.
set -u
build=${BUILD_DIR:-$(pwd)}
tallyd=$build/src/tallyd
command -v redis-server >/dev/null || { echo "redis-server not installed: skipped"; exit 0; }
T=$(mktemp -d /tmp/tallyd-bench-redis.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for n in ${SERIES:-100000}; do
	rp=$(port)
	redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
	rpid=$!
	pids+=("$rpid")
	for _ in $(seq 50); do [ "$(redis-cli -p "$rp" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
	timeout 600 "$tallyd" -o server.udp=127.0.0.1:0 -o server.tcp= -o server.admin= \
		-o server.http=127.0.0.1:0 -o server.port_file="$T/ports" -o server.flush_interval=10s \
		-o server.rcvbuf=64m -o redis.address=127.0.0.1:"$rp" -o redis.timeout=60s 2>"$T/tallyd.log" &
	tpid=$!
	pids+=("$tpid")
	for _ in $(seq 100); do [ -s "$T/ports" ] && break; sleep 0.1; done
	udp=$(awk '$1=="udp"{n=split($2,a,":"); print a[n]}' "$T/ports")
	http=$(awk '$1=="http"{print $2}' "$T/ports")
	metric() { curl -s "http://$http/metrics" | awk -v k="$1" '$1==k{print $2}'; }
	python3 - "$udp" "$n" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.time()
for i in range(0, n, 30):
    s.sendto("\n".join("bench.series.%d:1|c" % j for j in range(i, min(n, i + 30))).encode(),
             ("127.0.0.1", port))
    if i % 3000 == 0:
        time.sleep(0.001)
PY
	# Wait for a flush that holds every series and whose Redis write completed.
	base=$(metric tallyd_redis_flushes_total)
	ok=0
	for _ in $(seq 1200); do
		s=$(metric tallyd_series)
		f=$(metric tallyd_redis_flushes_total)
		if [ "${s:-0}" -ge "$n" ] && [ "${f:-0}" -ge $((base + 2)) ]; then ok=1; break; fi
		sleep 0.25
	done
	if [ $ok = 1 ]; then
		printf '%8d series: flush to Redis %s ms (Redis commands so far %s, dropped %s, skipped %s), tallyd RSS %s KiB\n' \
			"$n" "$(metric tallyd_redis_flush_ms)" "$(metric tallyd_redis_commands_total)" \
			"$(metric tallyd_series_dropped_total)" "$(metric tallyd_redis_flush_skipped_total)" \
			"$(awk '/VmRSS/{print $2}' /proc/$(pgrep -P "$tpid" | head -n1)/status)"
	else
		echo "$n series: no complete flush within 5 min (series=$(metric tallyd_series), kernel drops=$(metric tallyd_kernel_drops_total))"
	fi
	kill "$tpid"; wait "$tpid" 2>/dev/null
	kill "$rpid"; wait "$rpid" 2>/dev/null
	rm -f "$T/ports"
done
