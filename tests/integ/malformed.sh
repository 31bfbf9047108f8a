[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# malformed.sh: a bounded burst (20,000 datagrams in a few seconds) of bad
# lines, random bytes and datagrams longer than server.max_datagram, with
# valid lines mixed in. The server stays up, counts every bad line and every
# oversized datagram exactly, never parses an oversized datagram, and flushes
# every valid line. Also over-long TCP lines and Unix stream frames.
. "$(dirname "$0")/lib.sh"

start_sink || bail "graphite_sink.py starts"
start_tallyd -o server.flush_interval=1s -o server.max_datagram=1024 \
	-o server.unix_stream="$T/stream.sock" -o server.log_level=warn \
	-o graphite.address=127.0.0.1:"$SINK_PORT" || bail "tallyd starts with max_datagram=1024"
ok "tallyd started with server.max_datagram=1024"

# The generator prints the expected totals as "key value" lines.
"$PYTHON3" - "$UDP_PORT" >"$T/expected.txt" <<'EOF'
import random, socket, sys, time
port = int(sys.argv[1])
rnd = random.Random(20240611)
# Each of these is exactly one bad line (DESIGN §4).
BAD = [b"novalue", b"notype:1", b"badval:abc|c", b"nov:|c", b"alpharate:1|c|@abc",
       b"norate:1|c|@", b"neg.timer:-5|ms", b"bad.gauge:abc|g", b"nan:NaN|c",
       b"inf:Inf|ms", b"inf2:Infinity|g", b"ninf:-Infinity|c", b"upper:1|C",
       b"unknown:1|x", b"emptytype:1|", b":", b"|", b"a:|", b"hexrate:1|c|@0xzz"]
# Random junk: one line per datagram, no ':' '\n' '\r', starting with a letter,
# so it can be neither a metric nor an event/service check nor empty.
JUNK = bytes(b for b in range(256) if b not in b":\n\r")

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = {"dgrams": 0, "bad": 0, "valid": 0, "over": 0, "edge": 0, "edge2": 0, "timer": 0}
edge = b"m.edge:1|c\n" * 93 + b"\n"          # exactly 1024 bytes: still parsed
assert len(edge) == 1024
over = b"m.over:1|c\n" * 182                  # 2002 bytes: never parsed
# exactly 1024 bytes, the last line without a newline: the parser writes a
# '\n' after the datagram (in the room after each receive buffer) and takes
# the last line with the rest
edge2 = b"m.edge2:1|c\n" * 84 + b"m.edge2:123456|c"
assert len(edge2) == 1024
for i in range(20000):
    k = i % 10
    if k == 0:
        d = over; n["over"] += 1
    elif k == 1:
        d = b"R" + bytes(rnd.choice(JUNK) for _ in range(rnd.randint(0, 900))); n["bad"] += 1
    elif k == 2:
        d = rnd.choice(BAD); n["bad"] += 1
    elif k == 3:   # bad lines between valid ones: the rest of the packet is kept
        d = b"m.valid:1|c\n" + rnd.choice(BAD) + b"\nm.valid:2|c\n" + rnd.choice(BAD)
        n["valid"] += 3; n["bad"] += 2
    elif k == 4 and i % 1000 == 4:
        d = edge; n["edge"] += 93
    elif k == 4 and i % 1000 == 14:
        d = edge2; n["edge2"] += 84 + 123456
    elif k == 5:
        d = b"m.timer:%d|ms\nm.valid:1|c" % (i % 97); n["timer"] += 1; n["valid"] += 1
    elif k == 6:   # a long datagram just under the limit, mostly bad
        d = b"\n".join([rnd.choice(BAD) for _ in range(40)])[:1000]
        lines = [l for l in d.split(b"\n") if l]
        d = b"\n".join(lines[:-1])           # drop the possibly cut last line
        n["bad"] += len(lines) - 1
    else:
        d = b"m.valid:1|c"; n["valid"] += 1
    s.sendto(d, ("127.0.0.1", port))
    n["dgrams"] += 1
    if i % 200 == 199:
        time.sleep(0.01)   # pace the burst: the test counts exactly, no kernel drops
for k, v in sorted(n.items()):
    print(k, v)
EOF
check_eq "the burst generator ran" 0 "$?"
exp() { awk -v k="$1" '$1 == k { print $2 }' "$T/expected.txt"; }
sed 's/^/# sent: /' "$T/expected.txt"

sent=$(date +%s)
sink_wait "$sent" 2 30 >/dev/null
check_eq "tallyd kept flushing after the burst" 0 "$?"

# ---- the server is still up ----
check "the tallyd process is alive" kill -0 "$TALLYD_PID"
http_get /health
check_eq "GET /health: 200 after the burst" 200 "$HTTP_STATUS"
check_eq "admin health: up after the burst" "health: up" "$(admin_cmd health)"

# ---- every bad line and oversized datagram counted, exactly ----
prom() { printf '%s\n' "$metrics" | awk -v n="tallyd_$1" '$1 == n { print $2 }'; }
total() {
	awk -v n="$1" '$1 == n { s += $2; f = 1 } END { if (f) printf "%.17g\n", s; else print "absent" }' \
		"$SINK_DIR/lines.txt"
}
http_get /metrics
metrics=$HTTP_BODY
check_eq "no kernel drops during the paced burst (else the counts below cannot be exact)" 0 "$(prom kernel_drops_total)"
check_eq "/metrics packets_received: every datagram" "$(exp dgrams)" "$(prom packets_received_total)"
check_eq "/metrics bad_lines_seen: every bad line" "$(exp bad)" "$(prom bad_lines_seen_total)"
check_eq "/metrics truncated_datagrams: every datagram > 1024 bytes" "$(exp over)" "$(prom truncated_datagrams_total)"
check_eq "Graphite statsd.bad_lines_seen over all flushes" "$(exp bad)" "$(total stats_counts.statsd.bad_lines_seen)"
check_eq "Graphite statsd.packets_received over all flushes" "$(exp dgrams)" "$(total stats_counts.statsd.packets_received)"

# ---- the valid lines all arrived; the oversized datagrams were never parsed ----
check_eq "every valid counter line flushed" "$(exp valid)" "$(total stats_counts.m.valid)"
check_eq "every valid timer line flushed" "$(exp timer)" "$(total stats.timers.m.timer.count)"
check_eq "a datagram of exactly max_datagram bytes is parsed" "$(exp edge)" "$(total stats_counts.m.edge)"
check_eq "... and one whose last line has no newline" "$(exp edge2)" "$(total stats_counts.m.edge2)"
check_eq "no line of an oversized datagram was parsed" absent "$(total stats_counts.m.over)"
check_eq "no partial line reached Graphite" 0 "$(grep -c '^#PARTIAL' "$SINK_DIR/lines.txt")"

# ---- streams: an over-long TCP line and an oversized Unix stream frame ----
"$PYTHON3" - "$TCP_PORT" "$UNIX_STREAM_PATH" <<'EOF'
import socket, struct, sys, time
tcp, path = int(sys.argv[1]), sys.argv[2]
# 1: junk lines (two bad lines) and a valid one on one connection.
s = socket.create_connection(("127.0.0.1", tcp), timeout=5)
s.sendall(b"garbage\x01\x02\nm.stream:1|c\nmore junk\n")
s.close()
# 2: 5000 bytes without a newline: longer than max_datagram; the server closes.
s = socket.create_connection(("127.0.0.1", tcp), timeout=5)
try:
    s.sendall(b"x" * 5000)
    s.settimeout(5)
    while s.recv(4096):
        pass
except OSError:
    pass
s.close()
# 3: a frame announcing 4096 bytes (> max_datagram): closed, counted.
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
u.connect(path)
try:
    u.sendall(struct.pack("<I", 4096) + b"y" * 100)
    u.settimeout(5)
    while u.recv(4096):
        pass
except OSError:
    pass
u.close()
# 4: a good frame on a new connection still works.
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
u.connect(path)
p = b"m.stream:1|c"
u.sendall(struct.pack("<I", len(p)) + p)
u.close()
EOF
check_eq "the stream clients ran" 0 "$?"

t=$(date +%s)
sink_wait "$t" 2 10 >/dev/null
check_eq "tallyd kept flushing after the stream errors" 0 "$?"
check "the tallyd process is alive after the stream errors" kill -0 "$TALLYD_PID"
http_get /metrics
metrics=$HTTP_BODY
check_eq "/metrics stream_errors: the over-long TCP line and the oversized frame" 2 "$(prom stream_errors_total)"
check_eq "/metrics bad_lines_seen: plus the two junk TCP lines" "$(($(exp bad) + 2))" "$(prom bad_lines_seen_total)"
# docs/protocol.md: a stream message longer than max_datagram is counted too.
check_eq "/metrics truncated_datagrams: plus the oversized Unix stream frame" "$(($(exp over) + 1))" "$(prom truncated_datagrams_total)"
check_eq "stream lines around the bad ones flushed" 2 "$(total stats_counts.m.stream)"

# ---- and it still takes new data ----
send_udp "$UDP_PORT" "m.after:1|c"
t=$(date +%s)
sink_wait "$t" 2 10 >/dev/null
check_eq "a line sent after the burst is flushed" 1 "$(total stats_counts.m.after)"

check_unique_stamps
stop_tallyd TERM
check_eq "SIGTERM exits 0 after the burst" 0 "$TALLYD_RC"
