[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# carbon.sh: tallyd against a real carbon-cache (Debian graphite-carbon) on
# 127.0.0.1, values read back from the whisper files with whisper-fetch; then
# carbon-cache is restarted mid-run: tallyd reconnects, what it flushed while
# carbon was down arrives afterwards, and the reconnect is counted.
. "$(dirname "$0")/lib.sh"

if ! command -v carbon-cache >/dev/null || ! command -v whisper-fetch >/dev/null; then
	skip "carbon-cache or whisper-fetch not installed (contrib/deps.sh installs graphite-carbon and python3-whisper)"
	exit 0
fi

C=$T/carbon
WSP=$C/whisper
mkdir -p "$C/conf" "$C/storage" "$WSP" "$C/log"
CARBON_PORT=$(free_port)
cat >"$C/conf/carbon.conf" <<EOF
[cache]
STORAGE_DIR = $C/storage/
LOCAL_DATA_DIR = $WSP/
CONF_DIR = $C/conf/
LOG_DIR = $C/log/
PID_DIR = $C/
DATABASE = whisper
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $CARBON_PORT
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = 0
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = 0
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = True
ENABLE_TAGS = False
CARBON_METRIC_INTERVAL = 0
LOG_LISTENER_CONN_SUCCESS = True
EOF
# One point a second for an hour: the flush interval is 1 s.
cat >"$C/conf/storage-schemas.conf" <<'EOF'
[tallyd_test]
pattern = .*
retentions = 1s:1h
EOF

N_CARBON=0
start_carbon() {
	N_CARBON=$((N_CARBON + 1))
	carbon-cache --config="$C/conf/carbon.conf" --pidfile="$C/carbon.pid" --nodaemon \
		--logdir="$C/log" start >"$T/carbon$N_CARBON.log" 2>&1 &
	CARBON_PID=$!
	track "$CARBON_PID"
	WAIT_SECS=30 wait_for "$PYTHON3" -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$CARBON_PORT" 2>/dev/null
}

# wsp STAT PATH: whisper-fetch PATH (relative to the whisper dir) and print
# "sum", "max", "nonzero" (points that are not 0 or None) or "points".
wsp() {
	local f=$WSP/$2.wsp
	[ -f "$f" ] || {
		echo missing
		return
	}
	whisper-fetch --from="$START" "$f" | awk -v what="$1" '
		$2 != "None" { n++; s += $2; if ($2 != 0) nz++; if (n == 1 || $2 > m) m = $2 }
		END {
			if (what == "sum") printf "%.17g\n", s
			else if (what == "max") printf "%.17g\n", (n ? m : 0)
			else if (what == "nonzero") print nz + 0
			else print n + 0
		}'
}

# wait_wsp STAT PATH VALUE: waits (20 s) until wsp STAT PATH prints VALUE.
wait_wsp() {
	WAIT_SECS=20 wait_for value_is "$3" wsp "$1" "$2"
}

# check_wsp DESCRIPTION STAT PATH VALUE
check_wsp() {
	wait_wsp "$2" "$3" "$4"
	check_eq "$1" "$4" "$(wsp "$2" "$3")"
}

START=$(($(date +%s) - 5))
start_carbon || bail "carbon-cache starts on 127.0.0.1:$CARBON_PORT"
ok "carbon-cache started on 127.0.0.1:$CARBON_PORT"

start_tallyd -o server.flush_interval=1s -o graphite.address=127.0.0.1:"$CARBON_PORT" ||
	bail "tallyd starts with graphite.address pointing at carbon-cache"
ok "tallyd started"

# Send right after a second boundary so everything lands in one flush.
"$PYTHON3" -c 'import time; time.sleep(1.1 - time.time() % 1)'
# (python's sendto, not `nc -u -w0`: that nc sometimes exits before it has
# read its stdin, sending nothing — it lost 2 of 300 datagrams on a busy
# machine, which was this test's old flake)
send_udp "$UDP_PORT" "deploys:1|c" \
	"$(printf 'api.latency:100|ms\napi.latency:200|ms\napi.latency:300|ms')" \
	"temp:21.5|g" "$(printf 'users:alice|s\nusers:bob|s\nusers:alice|s')" "sampled:1|c|@0.1"
printf 'tcp.hits:2|c\n' | nc -N -w2 127.0.0.1 "$TCP_PORT"

check_wsp "whisper stats_counts.deploys: the counter's count (1)" sum stats_counts/deploys 1
check_wsp "whisper stats_counts.deploys: in one flush" nonzero stats_counts/deploys 1
check_wsp "whisper stats.deploys: the rate (1/s)" max stats/deploys 1
check_wsp "whisper stats.timers.api.latency.mean" max stats/timers/api/latency/mean 200
check_wsp "whisper stats.timers.api.latency.upper" max stats/timers/api/latency/upper 300
check_wsp "whisper stats.timers.api.latency.count" sum stats/timers/api/latency/count 3
check_wsp "whisper stats.gauges.temp" max stats/gauges/temp 21.5
check_wsp "whisper stats.sets.users.count" max stats/sets/users/count 2
check_wsp "whisper stats_counts.sampled (rate 0.1 scales 1 to 10)" sum stats_counts/sampled 10
check_wsp "whisper stats_counts.tcp.hits (over TCP)" sum stats_counts/tcp/hits 2
check "whisper has the reference's statsd.numStats" test -f "$WSP/statsd/numStats.wsp"
check "whisper has tallyd's self-stats (stats_counts.tallyd.flushes)" \
	test -f "$WSP/stats_counts/tallyd/flushes.wsp"
# Idle intervals after the data send 0 for the counter, as the reference.
WAIT_SECS=10 wait_for value_ge 3 wsp points stats_counts/deploys
check_eq "whisper stats_counts.deploys: the idle flushes after it send 0" 1 \
	"$(wsp nonzero stats_counts/deploys)"

before=$(prom_value tallyd_graphite_reconnects_total)
check_eq "one Graphite connection so far" 1 "$before"

# ---- restart carbon-cache ----
stop_pid "$CARBON_PID" TERM 30
check "carbon-cache stopped on SIGTERM" test "$STOP_RC" -ne 255
sleep 1.5
# Flushed while carbon is down: kept in tallyd's buffer, sent after reconnect.
send_udp "$UDP_PORT" "deploys:5|c"
sleep 2
start_carbon || bail "carbon-cache restarts on the same port"
ok "carbon-cache restarted"
send_udp "$UDP_PORT" "deploys:10|c"

check_wsp "after the restart: a later flush lands (deploys 1 + 5 + 10)" sum stats_counts/deploys 16
check_eq "after the restart: the value flushed during the outage was kept, not lost" 3 \
	"$(wsp nonzero stats_counts/deploys)"
WAIT_SECS=10 wait_for value_ge 2 prom_value tallyd_graphite_reconnects_total
check_eq "tallyd counted the reconnect (graphite_reconnects)" 2 "$(prom_value tallyd_graphite_reconnects_total)"
check "tallyd counted the lost connection (graphite_errors >= 1)" \
	test "$(prom_value tallyd_graphite_errors_total)" -ge 1
check_eq "nothing dropped from the Graphite buffer" 0 "$(prom_value tallyd_graphite_dropped_bytes_total)"
WAIT_SECS=10 wait_for value_is 0 prom_value tallyd_graphite_queue_bytes
check_eq "the Graphite queue drained after the reconnect" 0 "$(prom_value tallyd_graphite_queue_bytes)"

stop_tallyd TERM
check_eq "tallyd exits 0 on SIGTERM" 0 "$TALLYD_RC"
stop_pid "$CARBON_PID" TERM 30
check "carbon-cache stopped at the end" test "$STOP_RC" -ne 255
