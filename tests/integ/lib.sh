# lib.sh: helpers sourced by every integration test in tests/integ/. Each
# test script starts with the line that re-runs it under bash (make check runs
# it with /bin/sh), then sources this file, which:
#   - re-runs the script under `timeout` (INTEG_TIMEOUT seconds, default 120):
#     timeout puts the script and every process it starts in one process
#     group and signals that group when time is up;
#   - makes a private temp dir ($T) and removes it at exit;
#   - starts tallyd (every listener on port 0, a port file, a log file),
#     graphite_sink.py and other peers, and stops them BY PID at exit;
#   - prints TAP-like results ("ok - ...", "not ok - ...") and exits non-zero
#     when any check failed.
# Environment (set by make check, defaults for a manual run from the tree):
#   TALLYD, TOP_SRCDIR, PYTHON3, INTEG_TIMEOUT, INTEG_KEEP=1 keeps $T.

if [ -z "${BASH_VERSION:-}" ]; then
	echo "lib.sh: must be sourced from bash" >&2
	exit 99
fi

INTEG_TIMEOUT=${INTEG_TIMEOUT:-120}
if [ -z "${TALLYD_INTEG_WATCHDOG:-}" ]; then
	export TALLYD_INTEG_WATCHDOG=$INTEG_TIMEOUT
	exec timeout --kill-after=15 "$INTEG_TIMEOUT" bash "$0" "$@"
fi

TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TALLYD=${TALLYD:-$TOP_SRCDIR/src/tallyd}
if [ -z "${PYTHON3:-}" ] || [ "$PYTHON3" = no ]; then
	PYTHON3=python3
fi
INTEG_DIR=$TOP_SRCDIR/tests/integ
DATA_DIR=$TOP_SRCDIR/tests/data
SINK_PY=$INTEG_DIR/graphite_sink.py
TEST_NAME=$(basename "$0" .sh)

T=$(mktemp -d "${TMPDIR:-/tmp}/tallyd-$TEST_NAME.XXXXXX") || exit 99

N_OK=0
N_FAIL=0
N_SKIP=0
PIDS=()
TIMED_OUT=0

# ---- results ----------------------------------------------------------------

ok() {
	N_OK=$((N_OK + 1))
	echo "ok - $*"
}

not_ok() {
	N_FAIL=$((N_FAIL + 1))
	echo "not ok - $*"
}

skip() {
	N_SKIP=$((N_SKIP + 1))
	echo "ok - # SKIP $*"
}

diag() {
	local line
	while IFS= read -r line; do
		echo "#   $line"
	done
}

# check DESCRIPTION COMMAND [ARGS...]: ok when the command exits 0; its output
# is shown as diagnostics when it fails.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc"
		[ -z "$out" ] || printf '%s\n' "$out" | head -n 40 | diag
	fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		printf 'expected: %s\n     got: %s\n' "$2" "$3" | diag
	fi
}

# check_match DESCRIPTION EXTENDED_REGEX ACTUAL
check_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		ok "$1"
	else
		not_ok "$1"
		printf 'expected to match: %s\ngot:\n%s\n' "$2" "$3" | head -n 30 | diag
	fi
}

# check_num DESCRIPTION EXPECTED ACTUAL: numbers equal within relative 1e-9.
check_num() {
	if "$PYTHON3" - "$2" "$3" <<'EOF'
import math, sys
try:
    e, a = float(sys.argv[1]), float(sys.argv[2])
except ValueError:
    sys.exit(1)
sys.exit(0 if math.isclose(e, a, rel_tol=1e-9, abs_tol=1e-12) else 1)
EOF
	then
		ok "$1"
	else
		not_ok "$1"
		printf 'expected: %s\n     got: %s\n' "$2" "$3" | diag
	fi
}

# run_tap COMMAND [ARGS...]: runs a helper that prints its own ok/not ok
# lines; counts them. A helper that fails without printing "not ok" counts
# as one failure.
run_tap() {
	local out rc line fails=0
	out=$("$@" 2>&1)
	rc=$?
	while IFS= read -r line; do
		case $line in
		"not ok"*) N_FAIL=$((N_FAIL + 1)); fails=$((fails + 1)) ;;
		"ok - # SKIP"*) N_SKIP=$((N_SKIP + 1)) ;;
		"ok"*) N_OK=$((N_OK + 1)) ;;
		esac
		printf '%s\n' "$line"
	done <<<"$out"
	if [ "$rc" -ne 0 ] && [ "$fails" -eq 0 ]; then
		not_ok "$1 exited with status $rc"
	fi
	return "$rc"
}

# bail REASON: a failure that makes the rest of the script pointless.
bail() {
	not_ok "$*"
	exit 1
}

# ---- processes --------------------------------------------------------------

track() {
	PIDS+=("$1")
}

untrack() {
	local p keep=()
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# stop_pid PID [SIGNAL] [SECONDS]: signals PID, waits (bounded) for it to
# exit, then SIGKILLs it. Sets STOP_RC to its exit status (128+n when killed
# by signal n), or 255 if it had to be killed.
stop_pid() {
	local pid=$1 sig=${2:-TERM} secs=${3:-20} i
	STOP_RC=255
	kill -"$sig" "$pid" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		STOP_RC=255
	else
		wait "$pid" 2>/dev/null
		STOP_RC=$?
	fi
	untrack "$pid"
	return 0
}

cleanup() {
	local p f
	trap - EXIT TERM INT
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		local i
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=()
	if [ "$N_FAIL" -gt 0 ] || [ "$TIMED_OUT" -ne 0 ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "# ---- last lines of $(basename "$f") ----"
			tail -n 40 "$f" | diag
		done
	fi
	if [ "${INTEG_KEEP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}

finish() {
	local rc=$?
	if [ "$TIMED_OUT" -eq 0 ] && [ "$rc" -ne 0 ] && [ "$N_FAIL" -eq 0 ]; then
		not_ok "$TEST_NAME stopped with status $rc"
	fi
	cleanup
	echo "# $TEST_NAME: $N_OK passed, $N_FAIL failed, $N_SKIP skipped"
	if [ "$N_FAIL" -gt 0 ]; then
		exit 1
	fi
	if [ "$N_OK" -eq 0 ] && [ "$N_SKIP" -gt 0 ]; then
		exit 77
	fi
	exit 0
}

on_timeout() {
	TIMED_OUT=1
	not_ok "$TEST_NAME: hard timeout of ${TALLYD_INTEG_WATCHDOG}s reached (or interrupted)"
	exit 1
}

trap finish EXIT
trap on_timeout TERM INT

# wait_for COMMAND... : polls every 0.05 s until COMMAND succeeds or
# WAIT_SECS (default 10) pass. Returns 1 on timeout. COMMAND is re-run each
# time, so it must compute what it tests (a function, not "$(...)" args).
wait_for() {
	local i n=$((${WAIT_SECS:-10} * 20))
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# ---- tallyd -----------------------------------------------------------------

N_TALLYD=0

# start_tallyd [ARGS...]: starts tallyd with every listener on 127.0.0.1
# port 0, a port file and no Redis sink (never a Redis the machine may run
# on 6379), then ARGS (later -o win). Waits for the port file.
# Sets TALLYD_PID, TALLYD_LOG, TALLYD_PORTS and UDP_PORT, TCP_PORT,
# ADMIN_PORT, HTTP_PORT, UNIX_PATH, UNIX_STREAM_PATH (empty when disabled).
start_tallyd() {
	N_TALLYD=$((N_TALLYD + 1))
	TALLYD_PORTS=$T/tallyd$N_TALLYD.ports
	TALLYD_LOG=$T/tallyd$N_TALLYD.log
	"$TALLYD" \
		-o server.udp=127.0.0.1:0 \
		-o server.tcp=127.0.0.1:0 \
		-o server.admin=127.0.0.1:0 \
		-o server.http=127.0.0.1:0 \
		-o server.workers=2 \
		-o server.port_file="$TALLYD_PORTS" \
		-o redis.address= \
		"$@" >"$TALLYD_LOG" 2>&1 &
	TALLYD_PID=$!
	track "$TALLYD_PID"
	local i
	for ((i = 0; i < 300; i++)); do
		[ -s "$TALLYD_PORTS" ] && break
		if ! kill -0 "$TALLYD_PID" 2>/dev/null; then
			wait "$TALLYD_PID"
			echo "# tallyd exited with status $? before writing its port file"
			untrack "$TALLYD_PID"
			return 1
		fi
		sleep 0.05
	done
	if [ ! -s "$TALLYD_PORTS" ]; then
		echo "# tallyd wrote no port file within 15 s"
		return 1
	fi
	UDP_PORT=$(port_of udp)
	TCP_PORT=$(port_of tcp)
	ADMIN_PORT=$(port_of admin)
	HTTP_PORT=$(port_of http)
	UNIX_PATH=$(awk '$1 == "unix" { print $2 }' "$TALLYD_PORTS")
	UNIX_STREAM_PATH=$(awk '$1 == "unix_stream" { print $2 }' "$TALLYD_PORTS")
	return 0
}

# port_of KIND: the port of "KIND HOST:PORT" in the port file.
port_of() {
	awk -v k="$1" '$1 == k { n = split($2, a, ":"); print a[n] }' "$TALLYD_PORTS"
}

# stop_tallyd [SIGNAL]: sets TALLYD_RC.
stop_tallyd() {
	stop_pid "$TALLYD_PID" "${1:-TERM}" 30
	TALLYD_RC=$STOP_RC
}

# ---- graphite sink ----------------------------------------------------------

N_SINK=0

# start_sink: sets SINK_DIR, SINK_PORT, SINK_PID.
start_sink() {
	N_SINK=$((N_SINK + 1))
	SINK_DIR=$T/sink$N_SINK
	mkdir -p "$SINK_DIR"
	"$PYTHON3" "$SINK_PY" serve "$SINK_DIR" >"$T/sink$N_SINK.log" 2>&1 &
	SINK_PID=$!
	track "$SINK_PID"
	WAIT_SECS=10 wait_for test -s "$SINK_DIR/port" || return 1
	SINK_PORT=$(cat "$SINK_DIR/port")
}

stop_sink() {
	stop_pid "$SINK_PID" TERM 5
}

# sink_wait AFTER_TS COUNT [TIMEOUT]: prints the first COUNT flush
# timestamps newer than AFTER_TS, waiting for them.
sink_wait() {
	"$PYTHON3" "$SINK_PY" wait "$SINK_DIR" --after "$1" --count "$2" --timeout "${3:-30}"
}

# sink_select TS: the lines of the flush with timestamp TS.
sink_select() {
	"$PYTHON3" "$SINK_PY" select "$SINK_DIR" "$1"
}

sink_last_ts() {
	"$PYTHON3" "$SINK_PY" timestamps "$SINK_DIR" | tail -n 1
}

# sink_conns accepted|open
sink_conns() {
	awk -v k="$1" '$1 == k { print $2 }' "$SINK_DIR/conns.txt"
}

# check_unique_stamps: no series was sent twice with the same timestamp over
# the sink's whole life (two flushes sharing a timestamp overwrite each other
# in Graphite).
check_unique_stamps() {
	local d
	d=$("$PYTHON3" "$SINK_PY" dupes "$SINK_DIR")
	if [ -z "$d" ]; then
		ok "${1:+$1: }every flush has its own timestamp (no series sent twice with one timestamp)"
	else
		not_ok "${1:+$1: }every flush has its own timestamp (no series sent twice with one timestamp)"
		printf '%s\n' "$d" | awk '{ print $2 }' | sort | uniq -c |
			awk '{ print "timestamp " $2 ": " $1 " series sent twice" }' | head -n 10 | diag
	fi
}

# flush_value LINES_FILE NAME: the value of NAME in a file of flush lines.
flush_value() {
	awk -v n="$2" '$1 == n { print $2; exit }' "$1"
}

# ---- clients ----------------------------------------------------------------

# send_udp PORT DATAGRAM...: one datagram per argument, 127.0.0.1.
send_udp() {
	"$PYTHON3" - "$@" <<'EOF'
import os, socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in sys.argv[2:]:
    s.sendto(os.fsencode(d), ("127.0.0.1", port))
s.close()
EOF
}

# send_tcp PORT DATA...: one connection; each argument is one write (0.05 s
# apart, so the server sees separate reads); then close.
send_tcp() {
	"$PYTHON3" - "$@" <<'EOF'
import os, socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
for i, d in enumerate(sys.argv[2:]):
    if i:
        time.sleep(0.05)
    s.sendall(os.fsencode(d))
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
s.close()
EOF
}

# admin_cmd COMMAND...: sends each command line then "quit" to the admin
# port and prints everything until the server closes (5 s bound).
admin_cmd() {
	"$PYTHON3" - "$ADMIN_PORT" "$@" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("".join(c + "\n" for c in sys.argv[2:]) + "quit\n").encode())
data = b""
deadline = time.monotonic() + 5
try:
    while time.monotonic() < deadline:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError:
    pass
sys.stdout.write(data.decode("utf-8", "replace"))
EOF
}

# http_get PATH: sets HTTP_STATUS (000 when no answer) and HTTP_BODY.
http_get() {
	local body=$T/http.body
	: >"$body"
	HTTP_STATUS=$(curl -s -m 5 -o "$body" -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT$1")
	HTTP_BODY=$(cat "$body")
}

# prom_value NAME: the value of one Prometheus sample on /metrics.
prom_value() {
	curl -s -m 5 "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v n="$1" '$1 == n { print $2; exit }'
}

# value_is EXPECTED COMMAND...: true when COMMAND prints EXPECTED (for wait_for).
value_is() {
	local want=$1
	shift
	[ "$("$@" 2>/dev/null)" = "$want" ]
}

# value_ge MIN COMMAND...: true when COMMAND prints an integer >= MIN.
value_ge() {
	local min=$1 v
	shift
	v=$("$@" 2>/dev/null)
	[ -n "$v" ] && [ "$v" -ge "$min" ] 2>/dev/null
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago (only for
# peers, such as carbon-cache, that cannot report a port-0 choice).
free_port() {
	"$PYTHON3" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

if [ ! -x "$TALLYD" ]; then
	bail "tallyd binary not found at $TALLYD (build first)"
fi
