[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# cli.sh: tallyd's command line — -V, -h, -t on good and bad configuration
# files, -o override errors, and exit status 2 when a listener cannot bind.
. "$(dirname "$0")/lib.sh"

# run_cli ARGS...: runs tallyd (bounded), sets RC, OUT (stdout), ERR (stderr).
run_cli() {
	timeout 15 "$TALLYD" "$@" >"$T/cli.out" 2>"$T/cli.err"
	RC=$?
	OUT=$(cat "$T/cli.out")
	ERR=$(cat "$T/cli.err")
}

# ---- -V, -h ----
run_cli -V
check_eq "-V exits 0" 0 "$RC"
check_match "-V prints 'tallyd VERSION'" '^tallyd [0-9]+\.[0-9]+\.[0-9]+' "$OUT"

run_cli -h
check_eq "-h exits 0" 0 "$RC"
check_match "-h prints the usage line" 'usage: tallyd \[-c FILE\] \[-o section\.key=value \.\.\.\] \[-t\] \[-V\] \[-h\]' "$OUT"

run_cli -Z
check_eq "an unknown option exits 1" 1 "$RC"
check_match "an unknown option prints the usage on stderr" 'usage: tallyd' "$ERR"

run_cli -t extra-argument
check_eq "a stray argument exits 1" 1 "$RC"

# ---- -t with the built-in defaults ----
run_cli -t
check_eq "-t with no file exits 0" 0 "$RC"
check_match "-t prints server.udp = 127.0.0.1:8125" '^server\.udp = 127\.0\.0\.1:8125$' "$OUT"
check_match "-t prints server.tcp = 127.0.0.1:8125" '^server\.tcp = 127\.0\.0\.1:8125$' "$OUT"
check_match "-t prints server.admin = 127.0.0.1:8126" '^server\.admin = 127\.0\.0\.1:8126$' "$OUT"
check_match "-t prints server.http = 127.0.0.1:8127" '^server\.http = 127\.0\.0\.1:8127$' "$OUT"
check_match "-t prints an empty graphite.address (no sink by default)" '^graphite\.address =[[:space:]]*$' "$OUT"
check_eq "-t writes nothing to stderr" "" "$ERR"

# ---- -t with a good file, and -o on top of it ----
cat >"$T/good.conf" <<'EOF'
# a comment
; another comment
[server]
udp = 127.0.0.1:9125
flush_interval = 2s
workers = 1

[statsd]
percentiles = 90,-10,99.9
histogram = render:0.01,0.1,1,10,inf;histo:50,100,150,200

[graphite]
address = 127.0.0.1:2003
legacy_namespace = false
suffix = sfx
EOF
run_cli -t -c "$T/good.conf"
check_eq "-t -c good.conf exits 0" 0 "$RC"
check_match "-t shows the file's server.udp" '^server\.udp = 127\.0\.0\.1:9125$' "$OUT"
check_match "-t shows the file's graphite.address" '^graphite\.address = 127\.0\.0\.1:2003$' "$OUT"
check_match "-t shows the file's graphite.suffix" '^graphite\.suffix = sfx$' "$OUT"
check_match "-t shows the file's flush interval" '^server\.flush_interval = (2s|2000ms)$' "$OUT"

run_cli -t -c "$T/good.conf" -o server.udp=127.0.0.1:9999 -o graphite.address=
check_eq "-o after -c exits 0" 0 "$RC"
check_match "-o overrides the file (server.udp)" '^server\.udp = 127\.0\.0\.1:9999$' "$OUT"
check_match "-o with an empty value empties graphite.address" '^graphite\.address =[[:space:]]*$' "$OUT"

if [ -f "$TOP_SRCDIR/contrib/tallyd.conf" ]; then
	run_cli -t -c "$TOP_SRCDIR/contrib/tallyd.conf"
	check_eq "-t accepts contrib/tallyd.conf" 0 "$RC"
else
	not_ok "contrib/tallyd.conf exists (the reference configuration)"
fi

# ---- -t with bad files: file, line and key are named, exit 1 ----
# bad_file DESCRIPTION CONTENT REGEX: REGEX is matched against stderr with
# FILE standing for the file's path.
bad_file() {
	local desc=$1 content=$2 re=$3 f=$T/bad$RANDOM.conf
	printf '%s\n' "$content" >"$f"
	run_cli -t -c "$f"
	check_eq "$desc: exits 1" 1 "$RC"
	local fre
	fre=$(printf '%s' "$f" | sed 's/[.[\*^$()+?{|]/\\&/g')
	check_match "$desc: stderr names file, line and key" "${re//FILE/$fre}" "$ERR"
	check_eq "$desc: nothing on stdout" "" "$OUT"
}

bad_file "bad duration" $'[server]\nudp = 127.0.0.1:0\nflush_interval = banana' \
	'FILE:3: \[server\] flush_interval: .+'
bad_file "unknown key" $'# comment\n[server]\n\nbogus_key = 1' \
	'FILE:4: \[server\] bogus_key: .+'
# An unknown section may be reported at its header or at its first key.
bad_file "unknown section" $'[server]\nworkers = 1\n[nosuch]\nkey = 1' \
	'FILE:(3: \[nosuch\]|4: \[nosuch\] key): .+'
bad_file "key outside any section" $'flush_interval = 2s' \
	'FILE:1: .*flush_interval: .+'
bad_file "bad percentile list" $'[statsd]\npercentiles = 90,abc' \
	'FILE:2: \[statsd\] percentiles: .+'
bad_file "bad histogram spec" $'[statsd]\nhistogram = render:1,x' \
	'FILE:2: \[statsd\] histogram: .+'
bad_file "bad boolean" $'[graphite]\nlegacy_namespace = maybe' \
	'FILE:2: \[graphite\] legacy_namespace: .+'
bad_file "negative worker count" $'[server]\nworkers = -1' \
	'FILE:2: \[server\] workers: .+'
bad_file "line without =" $'[server]\nflush_interval' \
	'FILE:2: .+'

run_cli -t -c "$T/does-not-exist.conf"
check_eq "a missing -c file exits 1" 1 "$RC"
check_match "a missing -c file is named" 'does-not-exist\.conf' "$ERR"

# ---- -o errors ----
# bad_o DESCRIPTION ASSIGNMENT REGEX
bad_o() {
	run_cli -t -o "$2"
	check_eq "-o $1: exits 1" 1 "$RC"
	check_match "-o $1: stderr names the key" "$3" "$ERR"
}
bad_o "unknown key" server.nosuch=1 '-o server\.nosuch: .+'
bad_o "unknown section" nosuch.key=1 '-o nosuch\.key: .+'
bad_o "bad duration" server.flush_interval=soon '-o server\.flush_interval: .+'
bad_o "bad number" server.max_series=many '-o server\.max_series: .+'
bad_o "bad boolean" statsd.delete_idle=perhaps '-o statsd\.delete_idle: .+'
bad_o "bad log level" server.log_level=loud '-o server\.log_level: .+'
bad_o "no '='" server.workers '-o server\.workers'

# ---- a listener that cannot bind: exit 2 with a message ----
# hold_port KIND: a python process that holds a 127.0.0.1 port (no
# SO_REUSEPORT, so tallyd's bind must fail); sets HELD_PORT, HELD_PID.
hold_port() {
	local pf=$T/held.$1.$RANDOM
	"$PYTHON3" - "$1" "$pf" <<'EOF' &
import os, socket, sys, time
kind, pf = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
if kind != "udp":
    s.listen(1)
with open(pf + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(pf + ".tmp", pf)
time.sleep(120)
EOF
	HELD_PID=$!
	track "$HELD_PID"
	WAIT_SECS=10 wait_for test -s "$pf"
	HELD_PORT=$(cat "$pf")
}

# in_use KEY KIND
in_use() {
	hold_port "$2"
	run_cli -o server.udp=127.0.0.1:0 -o server.tcp=127.0.0.1:0 \
		-o server.admin=127.0.0.1:0 -o server.http=127.0.0.1:0 \
		-o "server.$1=127.0.0.1:$HELD_PORT"
	check_eq "server.$1 on a port in use: exit 2" 2 "$RC"
	check_match "server.$1 on a port in use: the message names the address" \
		"127\\.0\\.0\\.1:$HELD_PORT" "$ERR"
	stop_pid "$HELD_PID" TERM 5
}
in_use udp udp
in_use tcp tcp
in_use admin tcp
in_use http tcp

# A Unix socket path in a directory that does not exist cannot bind either.
run_cli -o server.udp=127.0.0.1:0 -o server.tcp=127.0.0.1:0 \
	-o server.admin=127.0.0.1:0 -o server.http=127.0.0.1:0 \
	-o server.unix="$T/no/such/dir/tallyd.sock"
check_eq "server.unix in a missing directory: exit 2" 2 "$RC"
check_match "server.unix in a missing directory: the message names the path" \
	'no/such/dir/tallyd\.sock' "$ERR"

# ---- the daemon itself starts with a file and reports its ports ----
cat >"$T/run.conf" <<'EOF'
[server]
flush_interval = 1s
EOF
if start_tallyd -c "$T/run.conf"; then
	ok "tallyd starts with -c and -o and writes server.port_file"
	for kind in udp tcp admin http; do
		check_match "port file has a '$kind 127.0.0.1:PORT' line" \
			"^$kind 127\\.0\\.0\\.1:[1-9][0-9]*$" "$(cat "$TALLYD_PORTS")"
	done
	check_eq "port file has exactly the four enabled listeners" 4 "$(wc -l <"$TALLYD_PORTS")"
	check "every port in the port file is non-zero" \
		test "$UDP_PORT" -gt 0 -a "$TCP_PORT" -gt 0 -a "$ADMIN_PORT" -gt 0 -a "$HTTP_PORT" -gt 0
	stop_tallyd TERM
	check_eq "SIGTERM with nothing received exits 0" 0 "$TALLYD_RC"
else
	not_ok "tallyd starts with -c and -o and writes server.port_file"
fi
