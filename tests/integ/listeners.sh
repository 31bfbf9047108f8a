[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# listeners.sh: every intake listener delivers counters that reach Graphite
# (UDP; TCP with several lines per write, a line split across writes and CRLF;
# Unix datagram; Unix stream with the DogStatsD 4-byte little-endian length
# prefix), the HTTP interface (/health, /metrics) and the admin commands.
. "$(dirname "$0")/lib.sh"

start_sink || bail "graphite_sink.py starts"
start_tallyd -o server.flush_interval=1s \
	-o server.unix="$T/tallyd.sock" -o server.unix_stream="$T/tallyd.stream.sock" \
	-o graphite.address=127.0.0.1:"$SINK_PORT" || bail "tallyd starts with every listener"
ok "tallyd started with UDP, TCP, Unix datagram, Unix stream, admin and HTTP"
check_eq "port file: unix path" "$T/tallyd.sock" "$UNIX_PATH"
check_eq "port file: unix_stream path" "$T/tallyd.stream.sock" "$UNIX_STREAM_PATH"
check "the Unix datagram socket exists" test -S "$UNIX_PATH"
check "the Unix stream socket exists" test -S "$UNIX_STREAM_PATH"

# total NAME: the sum of NAME's values over every flush received so far.
total() {
	awk -v n="$1" '$1 == n { s += $2; f = 1 } END { if (f) printf "%.17g\n", s; else print "absent" }' \
		"$SINK_DIR/lines.txt"
}

# ---- UDP ----
send_udp "$UDP_PORT" "l.udp:1|c" "l.udp:1|c" "l.udp:1|c" $'l.udp:1|c\nl.udp:3|c' \
	$'l.udp:1|c\r\nl.gauge:5|g\nl.timer:3|ms\nl.set:a|s\n'

# ---- TCP: several lines per write, a line split across writes, CRLF, a bad
# line in the middle of the stream, two connections ----
send_tcp "$TCP_PORT" $'l.tcp:1|c\nl.tcp:1|c\nl.tc' $'p:1|c\n' $'l.tcp:1|c\r\nnot a metric\nl.tcp:1|c\n'
send_tcp "$TCP_PORT" $'l.tcp:10|c\n' $'l.tcp.tagged:1|c|#env:prod\n'

# ---- Unix datagram ----
"$PYTHON3" - "$UNIX_PATH" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for d in [b"l.unix:1|c", b"l.unix:1|c", b"l.unix:2|c\nl.unix:3|c"]:
    s.sendto(d, sys.argv[1])
s.close()
EOF
check_eq "Unix datagram client sent its datagrams" 0 "$?"

# ---- Unix stream, DogStatsD framing: <uint32 little-endian length><payload> ----
"$PYTHON3" - "$UNIX_STREAM_PATH" <<'EOF'
import socket, struct, sys, time
def frame(p):
    return struct.pack("<I", len(p)) + p
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(frame(b"l.ustream:1|c"))
s.sendall(frame(b"l.ustream:1|c\nl.ustream:2|c") + frame(b"l.ustream.tagged:1|c|#env:prod"))
f = frame(b"l.ustream:4|c")
for part in (f[:2], f[2:4], f[4:9], f[9:]):   # a frame cut inside its header and payload
    s.sendall(part)
    time.sleep(0.05)
s.close()
EOF
check_eq "Unix stream client sent its frames" 0 "$?"

sent=$(date +%s)
flushes=$(sink_wait "$sent" 2 20) || true
check "two flushes arrived after everything was sent" test "$(printf '%s\n' "$flushes" | grep -c .)" -eq 2

check_eq "UDP counter delivered (one and several lines a datagram, CRLF)" 8 "$(total stats_counts.l.udp)"
check_eq "UDP gauge delivered" 5 "$(awk '$1 == "stats.gauges.l.gauge" { v = $2 } END { print v }' "$SINK_DIR/lines.txt")"
check_eq "UDP timer delivered" 1 "$(total stats.timers.l.timer.count)"
check_eq "UDP set delivered" 1 "$(total stats.sets.l.set.count)"
check_eq "TCP counter delivered (split line, CRLF, after a bad line, two connections)" 15 "$(total stats_counts.l.tcp)"
check_eq "TCP tagged counter delivered" 1 "$(total 'stats_counts.l.tcp.tagged;env=prod')"
check_eq "Unix datagram counter delivered" 7 "$(total stats_counts.l.unix)"
check_eq "Unix stream counter delivered (frames split anywhere)" 8 "$(total stats_counts.l.ustream)"
check_eq "Unix stream tagged counter delivered" 1 "$(total 'stats_counts.l.ustream.tagged;env=prod')"
check_eq "the bad TCP line was counted" 1 "$(total stats_counts.statsd.bad_lines_seen)"
check_eq "one persistent Graphite connection" 1 "$(sink_conns accepted)"
check_eq "no partial line reached Graphite" 0 "$(grep -c '^#PARTIAL' "$SINK_DIR/lines.txt")"

# Every flush's lines share one timestamp aligned to the 1 s interval, and
# timestamps only grow.
check "flush timestamps strictly increase" \
	"$PYTHON3" -c 'import sys; t = [int(x) for x in sys.stdin.read().split()]; sys.exit(0 if t == sorted(set(t)) and len(t) >= 2 else 1)' \
	< <("$PYTHON3" "$SINK_PY" timestamps "$SINK_DIR")

# ---- HTTP ----
http_get /health
body=$HTTP_BODY
check_eq "GET /health: 200" 200 "$HTTP_STATUS"
check "GET /health: body is {\"status\":\"up\"}" \
	"$PYTHON3" -c 'import json, sys; sys.exit(0 if json.loads(sys.argv[1]) == {"status": "up"} else 1)' "$body"
http_get /metrics
metrics=$HTTP_BODY
check_eq "GET /metrics: 200" 200 "$HTTP_STATUS"
check_match "/metrics declares tallyd_packets_received_total as a counter" \
	'^# TYPE tallyd_packets_received_total counter$' "$metrics"
check_match "/metrics declares tallyd_graphite_queue_bytes as a gauge" \
	'^# TYPE tallyd_graphite_queue_bytes gauge$' "$metrics"
for name in packets_received_total metrics_received_total bad_lines_seen_total \
	invalid_sample_rate_total kernel_drops_total truncated_datagrams_total series_dropped_total \
	events_received_total checks_received_total tcp_connections_total stream_errors_total \
	flushes_total graphite_lines_sent_total graphite_bytes_sent_total graphite_errors_total \
	graphite_reconnects_total graphite_dropped_bytes_total graphite_queue_bytes; do
	check_match "/metrics has tallyd_$name" "^tallyd_$name [0-9]+$" "$metrics"
done
prom() { printf '%s\n' "$metrics" | awk -v n="tallyd_$1" '$1 == n { print $2 }'; }
check_eq "/metrics: 2 TCP + 1 Unix stream connections" 3 "$(prom tcp_connections_total)"
check_eq "/metrics: 1 bad line" 1 "$(prom bad_lines_seen_total)"
check_eq "/metrics: one Graphite connection established" 1 "$(prom graphite_reconnects_total)"
check_eq "/metrics: no Graphite errors" 0 "$(prom graphite_errors_total)"
check "/metrics: flushes counted" test "$(prom flushes_total)" -ge 2
check "/metrics: Graphite lines and bytes counted" \
	test "$(prom graphite_lines_sent_total)" -gt 0 -a "$(prom graphite_bytes_sent_total)" -gt "$(prom graphite_lines_sent_total)"
http_get /no-such-path
check_eq "GET /no-such-path: 404" 404 "$HTTP_STATUS"

# ---- admin ----
reply=$(admin_cmd help)
for c in stats counters timers gauges delcounters deltimers delgauges quit; do
	check_match "admin help lists $c" "$c" "$reply"
done
check_eq "admin health" "health: up" "$(admin_cmd health)"
check_eq "admin unknown command" "ERROR" "$(admin_cmd no-such-command)"
reply=$(admin_cmd stats)
check_match "admin stats: uptime" '^uptime: [0-9]+$' "$reply"
check_match "admin stats: messages.bad_lines_seen" '^messages\.bad_lines_seen: 1$' "$reply"
check_match "admin stats: ends with END" '^END$' "$reply"
reply=$(admin_cmd counters)
check_match "admin counters: l.udp reset to 0 after the flush" "^  'l\\.udp': 0,?$" "$reply"
check_match "admin counters: ends with END" '^END$' "$reply"
check_match "admin gauges: l.gauge 5" "^  'l\\.gauge': 5,?$" "$(admin_cmd gauges)"
check_match "admin timers: l.timer emptied after the flush" "^  'l\\.timer': \\[\\],?$" "$(admin_cmd timers)"
check_match "admin config: shows the flush interval" 'flush_interval' "$(admin_cmd config)"

reply=$(admin_cmd "delcounters l.udp l.unix" "delgauges l.gauge" "deltimers l.timer")
check_match "admin delcounters: deleted: l.udp" '^deleted: l\.udp$' "$reply"
check_match "admin delcounters: deleted: l.unix" '^deleted: l\.unix$' "$reply"
check_match "admin delgauges: deleted: l.gauge" '^deleted: l\.gauge$' "$reply"
check_match "admin deltimers: deleted: l.timer" '^deleted: l\.timer$' "$reply"
reply=$(admin_cmd counters)
check "admin counters: l.udp is gone after delcounters" test -z "$(printf '%s\n' "$reply" | grep "'l\\.udp'")"
check_match "admin counters: l.tcp is still there" "^  'l\\.tcp': 0,?$" "$reply"
deleted_at=$(date +%s)
last=$(sink_wait "$deleted_at" 1 10) || true
check "a flush arrived after the deletes" test -n "$last"
sink_select "$last" >"$T/after-del.txt"
check_eq "deleted counter no longer flushed" "" "$(flush_value "$T/after-del.txt" stats_counts.l.udp)"
check_eq "deleted gauge no longer flushed" "" "$(flush_value "$T/after-del.txt" stats.gauges.l.gauge)"
check_eq "deleted timer no longer flushed" "" "$(flush_value "$T/after-del.txt" stats.timers.l.timer.count)"
check_eq "kept counter still flushed (as 0)" 0 "$(flush_value "$T/after-del.txt" stats_counts.l.tcp)"

admin_cmd "health down" >"$T/health.txt"
check_eq "admin health down" "health: down" "$(cat "$T/health.txt")"
http_get /health
check_eq "GET /health after 'health down': 503" 503 "$HTTP_STATUS"
check_eq "admin health up" "health: up" "$(admin_cmd "health up")"
http_get /health
check_eq "GET /health after 'health up': 200" 200 "$HTTP_STATUS"

# quit closes the connection; other commands keep it open.
check "admin quit closes the connection" "$PYTHON3" - "$ADMIN_PORT" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(b"health\n")
got = b""
while not got.endswith(b"\n"):
    got += s.recv(100)
assert got == b"health: up\n", got
s.sendall(b"quit\n")
assert s.recv(100) == b"", "connection still open after quit"
EOF

check_unique_stamps
stop_tallyd TERM
check_eq "exit status 0 after SIGTERM" 0 "$TALLYD_RC"
