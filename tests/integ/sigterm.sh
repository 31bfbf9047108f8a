[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# sigterm.sh: SIGTERM and SIGINT stop intake, send a last (partial-interval)
# flush holding everything received to Graphite, and exit 0. The flush
# interval is one hour, so the only flush is the final one.
. "$(dirname "$0")/lib.sh"

# send_load PREFIX: sends, over UDP (10 lines a datagram) and one TCP
# connection, a known set of samples; the UDP part last, right before the
# signal, so it is still in the socket buffer when the signal arrives.
send_tcp_part() {
	"$PYTHON3" - "$TCP_PORT" "$1" <<'EOF'
import socket, sys
port, p = int(sys.argv[1]), sys.argv[2]
lines = []
lines += ["%s.tcp.c:2|c" % p] * 100               # count 200
lines += ["%s.tcp.ms:%d|ms" % (p, v) for v in range(1, 11)]  # 10 values, sum 55
lines += ["%s.tcp.g:7|g" % p]
data = ("\n".join(lines) + "\n").encode()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
# several writes, one of them cutting a line in two
for i in range(0, len(data), 97):
    s.sendall(data[i:i + 97])
s.close()
EOF
}

send_udp_part() {
	"$PYTHON3" - "$UDP_PORT" "$1" <<'EOF'
import socket, sys
port, p = int(sys.argv[1]), sys.argv[2]
lines = []
lines += ["%s.udp.c:1|c" % p] * 300                      # count 300
lines += ["%s.udp.sampled:1|c|@0.5" % p] * 20            # count 40
lines += ["%s.udp.ms:%d|ms" % (p, v) for v in range(1, 101)]   # 1..100
lines += ["%s.udp.g:42|g" % p, "%s.udp.g:+8|g" % p]      # 50
lines += ["%s.udp.s:m%d|s" % (p, v % 30) for v in range(90)]   # 30 members
lines += ["%s.udp.tagged:3|c|#b:2,a:1" % p] * 10         # 30, tags sorted
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
for i in range(0, len(lines), 10):
    s.sendto("\n".join(lines[i:i + 10]).encode(), ("127.0.0.1", port))
    n += 1
print(n)
EOF
}

# run_case SIGNAL PREFIX
run_case() {
	local sig=$1 p=$2 ts flush=$T/final.$sig.txt
	start_sink || bail "graphite_sink.py starts"
	start_tallyd -o server.flush_interval=1h -o windows.list= -o graphite.address=127.0.0.1:"$SINK_PORT" ||
		bail "tallyd starts (flush_interval=1h)"
	ok "$sig: tallyd started with a one-hour flush interval"
	WAIT_SECS=10 wait_for value_ge 1 sink_conns accepted
	check_eq "$sig: tallyd connected to Graphite once at start-up" 1 "$(sink_conns accepted)"

	send_tcp_part "$p"
	sleep 0.5
	send_udp_part "$p" >/dev/null
	stop_tallyd "$sig"
	check_eq "$sig: exit status 0" 0 "$TALLYD_RC"

	ts=$(sink_wait 0 1 10) || true
	check "$sig: a final flush reached Graphite" test -n "$ts"
	check_eq "$sig: exactly one flush (the final one)" "$ts" \
		"$("$PYTHON3" "$SINK_PY" timestamps "$SINK_DIR" | tr '\n' ' ' | sed 's/ $//')"
	check "$sig: the final flush's timestamp is aligned to the flush interval (3600 s)" \
		test -n "$ts" -a "$((${ts:-1} % 3600))" -eq 0
	sink_select "$ts" >"$flush"
	check "$sig: no partial line reached Graphite" \
		test "$(grep -c '^#PARTIAL' "$SINK_DIR/lines.txt")" -eq 0

	local iv=3600
	expect() {
		check_num "$sig: $1 = $2" "$2" "$(flush_value "$flush" "$1")"
	}
	expect "stats_counts.$p.udp.c" 300
	expect "stats.$p.udp.c" "$("$PYTHON3" -c "print(300/$iv)")"
	expect "stats_counts.$p.udp.sampled" 40
	expect "stats_counts.$p.tcp.c" 200
	expect "stats_counts.$p.udp.tagged;a=1;b=2" 30
	expect "stats.timers.$p.udp.ms.count" 100
	expect "stats.timers.$p.udp.ms.sum" 5050
	expect "stats.timers.$p.udp.ms.lower" 1
	expect "stats.timers.$p.udp.ms.upper" 100
	expect "stats.timers.$p.udp.ms.mean" 50.5
	expect "stats.timers.$p.udp.ms.median" 50.5
	expect "stats.timers.$p.udp.ms.upper_90" 90
	expect "stats.timers.$p.udp.ms.count_90" 90
	expect "stats.timers.$p.udp.ms.sum_squares" 338350
	expect "stats.timers.$p.tcp.ms.count" 10
	expect "stats.timers.$p.tcp.ms.sum" 55
	expect "stats.gauges.$p.udp.g" 50
	expect "stats.gauges.$p.tcp.g" 7
	expect "stats.sets.$p.udp.s.count" 30
	expect "stats_counts.statsd.metrics_received" $((300 + 20 + 100 + 2 + 90 + 10 + 111))
	expect "stats_counts.statsd.bad_lines_seen" 0
	check_eq "$sig: still one Graphite connection in all" 1 "$(sink_conns accepted)"
	stop_sink
}

run_case TERM sigterm
run_case INT sigint

# A signal right after a periodic flush: the final flush must not reuse that
# flush's timestamp (Graphite keeps one value per name and timestamp, so the
# final partial flush would overwrite the full one).
start_sink || bail "graphite_sink.py starts"
start_tallyd -o server.flush_interval=2s -o graphite.address=127.0.0.1:"$SINK_PORT" ||
	bail "tallyd starts (flush_interval=2s)"
send_udp "$UDP_PORT" "tick.c:5|c"
t1=$(sink_wait 0 1 10) || bail "a periodic flush arrives"
t2=$(sink_wait "$t1" 1 10) || bail "a second periodic flush arrives"
send_udp "$UDP_PORT" "final.c:7|c"
stop_tallyd TERM
check_eq "TERM after a flush: exit status 0" 0 "$TALLYD_RC"
tf=$(sink_wait "$t2" 1 5 2>/dev/null) || true
check "TERM after a flush: the final flush has a later timestamp than the last periodic one ($t2)" \
	test -n "$tf"
check "TERM after a flush: the final flush's timestamp is aligned to the 2 s interval" \
	test -n "$tf" -a "$((${tf:-1} % 2))" -eq 0
check_eq "TERM after a flush: tick.c counted once, in a periodic flush" 5 \
	"$(awk '$1 == "stats_counts.tick.c" { s += $2 } END { print s + 0 }' "$SINK_DIR/lines.txt")"
check_eq "TERM after a flush: the final flush holds final.c" 7 \
	"$(grep '^stats_counts.final.c ' "$SINK_DIR/lines.txt" | awk '{ s += $2 } END { print s + 0 }')"
check_unique_stamps "TERM after a flush"
stop_sink
