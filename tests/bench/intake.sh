#!/bin/bash
# intake.sh: end-to-end UDP intake benchmarks (make bench, via run.sh). The
# server under test is pinned to CPU $SERVER_CPU (0) and the load generator
# (tests/bench/loadgen) to CPU $GEN_CPU (1). For tallyd (server.workers=1,
# Graphite to a local collector that sums the flushed counter totals, Redis
# off), the raw recvmmsg sink (tests/bench/rawsink) and, when their binaries
# are given, statsite ($STATSITE), brubeck ($BRUBECK) and the reference statsd
# ($STATSD_JS, run with node), it measures:
#   (a) CPU per line at a fixed offered rate below saturation (utime+stime of
#       the whole process from /proc/PID/stat over the sending window, after a
#       1 s warm-up that creates every series; the lines are those received:
#       offered lines x the share of the counter total that was flushed):
#       30-line counter datagrams,
#       the same with 3 DogStatsD tags (at $RATE, default 3 M lines/s), the
#       60/30/10 counter/timer/gauge mix (at $MIX_RATE, default 1 M lines/s);
#   (b) the highest offered rate with < 0.1% loss for 1-line and 30-line
#       counter datagrams and 30-line datagrams of the mix: a bounded search
#       of $STEP-second steps (doubling, then bisecting); loss = 1 - flushed
#       counter total / sent total (the raw sink: lines received / lines
#       sent); kernel drops are in it;
#   (c) peak RSS (VmHWM) of the server over its runs.
# Figures are medians of $RUNS runs (default 3); KINDS="tallyd rawsink"
# limits the rows; CPU_KINDS="counter mixed" (or "" for none) limits the CPU
# runs (default "counter tags mixed"), MAX_KINDS="30" (or "") the max-rate
# searches (default "1 30 mix"), MIX_LINES the lines per datagram of the
# mixed search (default 30); TALLYD_OPTS="-o key=value ..." is added to
# tallyd's options (e.g. -o server.read_wait=0 to compare). Every process runs under
# `timeout` and is stopped by PID. Prints one table, peers as ratios to tallyd.
# Peer configs (written to the temp dir; never the peers' code):
#   statsite: port, udp only, flush_interval=1 (10 in the CPU runs),
#     stream_cmd = a script that forwards the Graphite-style lines to the
#     collector (python);
#   brubeck:  a JSON config, one statsd sampler on the port (1 worker,
#     multimsg 1: with more, brubeck's recvmmsg loop re-parses every slot,
#     not only those received, and logs each stale line as a packet_drop,
#     one write(2) a line, which doubled its CPU here), a carbon backend to
#     the collector, frequency 1 (10 in the CPU runs);
#   statsd:   a config.js with port, graphite to the collector, flushInterval
#     1000 (10000 in the CPU runs), deleteIdleStats false, graphite
#     legacyNamespace false.
# statsite and brubeck do not read DogStatsD tags: their "+3 tags" cells stay
# "-" (nothing they flushed matches the counters sent).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$(pwd)}
TALLYD=$build/src/tallyd
LOADGEN=$build/tests/bench/loadgen
RAWSINK=$build/tests/bench/rawsink
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
RUNS=${RUNS:-3}
STEP=${STEP:-2}
RATE=${RATE:-3000000}
MIX_RATE=${MIX_RATE:-1000000}
NAMES=${NAMES:-10000}
PYTHON3=${PYTHON3:-python3}
HZ=$(getconf CLK_TCK)

for b in "$TALLYD" "$LOADGEN" "$RAWSINK"; do
	[ -x "$b" ] || { echo "intake.sh: $b not built (make bench builds it)"; exit 1; }
done
T=$(mktemp -d /tmp/tallyd-bench-intake.XXXXXX)
pids=()
stop() { # stop PID: TERM, bounded wait, KILL
	local p=$1 i
	kill -TERM "$p" 2>/dev/null
	for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}
cleanup() {
	local p
	for p in "${pids[@]}"; do stop "$p"; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

# ---- Graphite collector: sums "<prefix>counters.app.metric.*.count" values
# (and brubeck's/statsite's spellings of them) into $T/coll/total.
cat >"$T/collector.py" <<'PY'
import os, re, socket, sys, threading
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
pat = re.compile(rb"^(?:stats\.counters\.|stats_counts\.|counts\.)?app\.metric\.n\d+(?:\.count)?(?:;\S*)? ")
tot = {"sum": 0.0, "lines": 0}
lock = threading.Lock()
def save():
    tmp = os.path.join(d, "total.tmp")
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (round(tot["sum"]), tot["lines"]))
    os.rename(tmp, os.path.join(d, "total"))
def handle(c):
    pend = b""
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        pend += b
        cut = pend.rfind(b"\n")
        if cut < 0:
            continue
        s = 0.0
        n = 0
        for ln in pend[:cut].replace(b"|", b" ").split(b"\n"):
            n += 1
            if pat.match(ln):
                s += float(ln.split(b" ")[1])
        pend = pend[cut + 1:]
        with lock:
            tot["sum"] += s
            tot["lines"] += n
            save()
    c.close()
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
save()
tmp = os.path.join(d, "port.tmp")
open(tmp, "w").write(str(s.getsockname()[1]))
os.rename(tmp, os.path.join(d, "port"))
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY

N_COLL=0
start_collector() {
	N_COLL=$((N_COLL + 1))
	COLL=$T/coll$N_COLL
	timeout 900 "$PYTHON3" "$T/collector.py" "$COLL" 2>"$T/coll$N_COLL.log" &
	COLL_PID=$!
	pids+=("$COLL_PID")
	local i
	for ((i = 0; i < 100; i++)); do [ -s "$COLL/port" ] && break; sleep 0.05; done
	COLL_PORT=$(cat "$COLL/port")
}
coll_sum() { awk '{print $1}' "$COLL/total"; }

# ---- servers -----------------------------------------------------------------
# start_server KIND FLUSH_S: sets SPID and SPORT (UDP). KIND: tallyd rawsink
# statsite brubeck statsd. A Graphite-speaking server flushes every FLUSH_S s
# to the current collector.
start_server() {
	local kind=$1 fl=$2 i
	rm -f "$T/ports"
	SPORT=
	case $kind in
	tallyd)
		timeout 900 taskset -c "$SERVER_CPU" "$TALLYD" -o server.udp=127.0.0.1:0 \
			-o server.tcp= -o server.admin= -o server.http= -o server.workers=1 \
			-o server.port_file="$T/ports" -o server.flush_interval="${fl}s" \
			-o server.rcvbuf=32m -o redis.address= -o graphite.legacy_namespace=false \
			-o graphite.address=127.0.0.1:"$COLL_PORT" -o server.log_level=warn \
			${TALLYD_OPTS:-} 2>>"$T/tallyd.log" &
		;;
	rawsink)
		timeout 900 "$RAWSINK" --cpu "$SERVER_CPU" --rcvbuf $((32 << 20)) \
			--port-file "$T/ports" >"$T/rawsink.out" 2>&1 &
		;;
	statsite)
		SPORT=$(free_port)
		cat >"$T/statsite_sink.py" <<PY
import socket, sys
s = socket.create_connection(("127.0.0.1", $COLL_PORT))
s.sendall(sys.stdin.buffer.read())
s.close()
PY
		cat >"$T/statsite.ini" <<EOF
[statsite]
port = 0
udp_port = $SPORT
flush_interval = $fl
log_level = WARN
stream_cmd = $PYTHON3 $T/statsite_sink.py
EOF
		timeout 900 taskset -c "$SERVER_CPU" "$STATSITE" -f "$T/statsite.ini" \
			>>"$T/statsite.log" 2>&1 &
		;;
	brubeck)
		SPORT=$(free_port)
		cat >"$T/brubeck.json" <<EOF
{ "sharding": false, "server_name": "bench", "dumpfile": "$T/brubeck.dump",
  "capacity": 15, "expire": 20, "http": ":$(free_port)",
  "backends": [ { "type": "carbon", "address": "127.0.0.1", "port": $COLL_PORT,
                  "frequency": $fl } ],
  "samplers": [ { "type": "statsd", "address": "127.0.0.1", "port": $SPORT,
                  "workers": 1, "multisock": false, "multimsg": 1 } ] }
EOF
		timeout 900 taskset -c "$SERVER_CPU" "$BRUBECK" --config "$T/brubeck.json" \
			>>"$T/brubeck.log" 2>&1 &
		;;
	statsd)
		SPORT=$(free_port)
		cat >"$T/statsd_config.js" <<EOF
{ port: $SPORT, address: "127.0.0.1", mgmt_port: $(free_port),
  graphitePort: $COLL_PORT, graphiteHost: "127.0.0.1", flushInterval: $((fl * 1000)),
  graphite: { legacyNamespace: false }, deleteIdleStats: false }
EOF
		timeout 900 taskset -c "$SERVER_CPU" node "$STATSD_JS" "$T/statsd_config.js" \
			>>"$T/statsd.log" 2>&1 &
		;;
	esac
	SPID=$!
	pids+=("$SPID")
	if [ -z "$SPORT" ]; then
		for ((i = 0; i < 200; i++)); do [ -s "$T/ports" ] && break; sleep 0.05; done
		SPORT=$(awk '$1 == "udp" { n = split($2, a, ":"); print a[n] }' "$T/ports")
	else
		sleep 1 # the peers have no port file: give them a moment to bind
	fi
	# SPID is `timeout`; CPID is the server itself (taskset execs it), whose
	# /proc/CPID/stat and status hold the CPU times and VmHWM.
	CPID=
	for ((i = 0; i < 40; i++)); do
		CPID=$(pgrep -P "$SPID" | head -n 1)
		[ -n "$CPID" ] && break
		sleep 0.05
	done
	[ -n "$SPORT" ] && [ -n "$CPID" ] && kill -0 "$SPID" 2>/dev/null
}
free_port() {
	"$PYTHON3" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hwm_kb() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"; }
gen() { timeout 120 "$LOADGEN" --port "$SPORT" --cpu "$GEN_CPU" --names "$NAMES" "$@"; }
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
# wakeups PID: voluntary context switches of tallyd's worker 0 (thread
# "tallyd-w0"): how often it went to sleep; empty for other servers.
wakeups() {
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = tallyd-w0 ] &&
			awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$t/status" && return
	done
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }

HWM=0
note_hwm() {
	local h
	h=$(hwm_kb "$1" 2>/dev/null) || return 0
	[ -n "$h" ] && [ "$h" -gt "$HWM" ] && HWM=$h
	return 0
}

# cpu_run KIND ARGS...: one CPU-per-line run; appends M lines per CPU-second
# to $T/res. The lines counted are those the server received, not those
# offered (a saturated server that drops half would otherwise look twice as
# cheap): the offered lines times the share of the counter total (warm-up
# and measured sends) that reached the collector (the raw sink: its own
# count of lines). Flushes every 10 s (tallyd's default), so that per-flush
# work weighs on the window as in production; tallyd flushes what it got
# on SIGTERM, a peer is given 11 quiet seconds to flush.
cpu_run() {
	local kind=$1 c0 c1 w0 w1 out warm lines sent got
	shift
	start_collector
	start_server "$kind" 10 || { echo "-" >>"$T/res"; return; }
	warm=$(gen "$@" --duration 1) # warm-up: every series exists
	c0=$(cpu_ticks "$CPID")
	w0=$(wakeups "$CPID")
	out=$(gen "$@" --duration "$STEP")
	c1=$(cpu_ticks "$CPID")
	w1=$(wakeups "$CPID")
	note_hwm "$CPID"
	lines=$(field lines <<<"$out")
	if [ "$kind" = rawsink ]; then
		sleep 0.3
		stop "$SPID"
		sent=$(($(field lines <<<"$warm") + lines))
		got=$(field lines <"$T/rawsink.out")
	else
		sent=$(awk -v a="$(field counter_total <<<"$warm")" -v b="$(field counter_total <<<"$out")" \
			'BEGIN { printf "%.0f", a + b }')
		if [ "$kind" = tallyd ]; then
			stop "$SPID"
			coll_wait "$sent" 2
		else
			coll_wait "$sent" 22
			stop "$SPID"
		fi
		got=$(coll_sum)
	fi
	stop "$COLL_PID"
	awk -v l="$lines" -v s="${sent:-0}" -v g="${got:-0}" -v t=$((c1 - c0)) -v hz="$HZ" \
		'BEGIN { f = (s > 0 ? g / s : 0); if (f > 1) f = 1
		         if (t > 0 && f > 0) printf "%.2f\n", l * f / (t / hz) / 1e6; else print "-" }' \
		>>"$T/res"
	echo "#   $kind cpu run $*: offered $lines lines, received share $got/$sent${w0:+, worker wake-ups $((w1 - w0)) for $(field packets <<<"$out") datagrams}, CPU ticks $((c1 - c0))" >>"$T/steps"
}

# coll_wait SENT QUIET: waits for the collector's counter total to reach
# SENT, or to stay the same for QUIET polls of 0.5 s (longer than a flush
# interval), at most 15 s.
coll_wait() {
	local sent=$1 quiet=$2 last=-1 now i same=0
	for ((i = 0; i < 30; i++)); do
		sleep 0.5
		now=$(coll_sum)
		[ "$now" -ge "$sent" ] && break
		if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; fi
		[ "$same" -ge "$quiet" ] && break
		last=$now
	done
}

# loss_run KIND LINES RATE [MIX]: offers RATE lines/s of LINES-line counter
# datagrams (with MIX, e.g. 60/30/10, that counter/timer/gauge mix: the loss
# is the counters')
# for $STEP s; sets RES to "achieved_rate loss".
loss_run() {
	local kind=$1 lpp=$2 rate=$3 mix=${4:-} out sent got i
	local mixarg=()
	[ -n "$mix" ] && mixarg=(--mix "$mix")
	start_collector
	start_server "$kind" 1 || { RES="0 1"; return; }
	out=$(gen --lines "$lpp" --rate "$rate" --count $((rate * STEP)) "${mixarg[@]}")
	note_hwm "$CPID"
	if [ "$kind" = rawsink ]; then
		sleep 0.3
		stop "$SPID"
		sent=$(field lines <<<"$out")
		got=$(field lines <"$T/rawsink.out")
	else
		sent=$(field counter_total <<<"$out")
		coll_wait "$sent" 3
		stop "$SPID"
		sleep 0.3
		got=$(coll_sum)
	fi
	stop "$COLL_PID"
	RES=$(awk -v r="$(field lines_per_s <<<"$out")" -v s="${sent:-0}" -v g="${got:-0}" \
		'BEGIN { printf "%d %.6f\n", r, (s > 0 ? 1 - g / s : 1) }')
	echo "#   $kind $lpp-line${mix:+ mix $mix} at $rate/s: achieved $RES (rate loss)" >>"$T/steps"
}

# max_rate KIND LINES [MIX]: the highest offered rate with < 0.1% loss, searching
# from START (doubling until loss or the generator's ceiling, then 3 bisection
# steps). Appends the rate to $T/res.
max_rate() {
	local kind=$1 lpp=$2 mix=${3:-} lo=0 hi=0 r res ach loss i
	if [ "$lpp" = 1 ]; then r=100000; else r=1000000; fi
	for ((i = 0; i < 8; i++)); do
		loss_run "$kind" "$lpp" "$r" "$mix"
		res=$RES
		ach=${res% *}
		loss=${res#* }
		if awk -v l="$loss" 'BEGIN { exit !(l < 0.001) }'; then
			lo=$ach
			if [ "$ach" -lt $((r * 9 / 10)) ]; then
				echo "#   $kind $lpp-line${mix:+ mix}: the generator's ceiling" >>"$T/steps"
				break
			fi
			r=$((r * 2))
		else
			hi=$r
			break
		fi
	done
	if [ "$hi" -gt 0 ]; then
		for ((i = 0; i < 3; i++)); do
			r=$(((lo + hi) / 2))
			[ "$r" -gt 0 ] || break
			loss_run "$kind" "$lpp" "$r" "$mix"
			res=$RES
			loss=${res#* }
			if awk -v l="$loss" 'BEGIN { exit !(l < 0.001) }'; then lo=${res% *}; else hi=$r; fi
		done
	fi
	echo "$lo" >>"$T/res"
}

# ---- the table -----------------------------------------------------------------
kinds="tallyd rawsink"
peer_row() { printf '%-9s not given (set %s)\n' "$1" "$2"; }
declare -A given
[ -n "${STATSITE:-}" ] && [ -x "$STATSITE" ] && kinds="$kinds statsite" && given[statsite]=1
[ -n "${BRUBECK:-}" ] && [ -x "$BRUBECK" ] && kinds="$kinds brubeck" && given[brubeck]=1
[ -n "${STATSD_JS:-}" ] && [ -f "$STATSD_JS" ] && command -v node >/dev/null &&
	kinds="$kinds statsd" && given[statsd]=1
kinds=${KINDS:-$kinds} # e.g. KINDS=tallyd: only those rows

declare -A res
for k in $kinds; do
	HWM=0
	for w in ${CPU_KINDS-counter tags mixed}; do
		case $w in
		counter) args=(--lines 30 --rate "$RATE") ;;
		tags) args=(--lines 30 --rate "$RATE" --tags 3) ;;
		mixed) args=(--lines 30 --rate "$MIX_RATE" --mix 60/30/10) ;;
		esac
		: >"$T/res"
		for ((r = 0; r < RUNS; r++)); do cpu_run "$k" "${args[@]}"; done
		res[$k.$w]=$(median <"$T/res")
		echo "# $k $w: $(tr '\n' ' ' <"$T/res")M lines per CPU-s" >>"$T/steps"
	done
	for m in ${MAX_KINDS-1 30 mix}; do
		: >"$T/res"
		for ((r = 0; r < RUNS; r++)); do
			if [ "$m" = mix ]; then max_rate "$k" "${MIX_LINES:-30}" 60/30/10; else max_rate "$k" "$m"; fi
		done
		res[$k.max$m]=$(median <"$T/res")
		echo "# $k max $m: $(tr '\n' ' ' <"$T/res")lines/s" >>"$T/steps"
	done
	res[$k.rss]=$((HWM / 1024))
done

echo "intake, end to end over UDP (server on CPU $SERVER_CPU, loadgen on CPU $GEN_CPU, $NAMES names, medians of $RUNS runs)"
echo "(a) M lines per CPU-second at a fixed offered rate: counter and counter+3 tags at $RATE lines/s,"
echo "    60/30/10 mix at $MIX_RATE lines/s; (b) max offered lines/s with < 0.1% loss, $STEP s steps"
echo "    (1-line and 30-line counter datagrams, ${MIX_LINES:-30}-line datagrams of the mix);"
echo "    (c) peak RSS. Ratio rows /peer: tallyd's figure over the peer's (for CPU: how many times more lines per CPU-s)."
printf '%-9s %10s %10s %10s %12s %12s %12s %8s\n' server counter "+3 tags" mixed "max 1-line" \
	"max 30-line" "max mixed" "RSS MB"
for k in $kinds; do
	printf '%-9s %10s %10s %10s %12s %12s %12s %8s\n' "$k" "${res[$k.counter]:--}" "${res[$k.tags]:--}" \
		"${res[$k.mixed]:--}" "${res[$k.max1]:--}" "${res[$k.max30]:--}" "${res[$k.maxmix]:--}" "${res[$k.rss]}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
for k in $kinds; do
	[ "$k" = tallyd ] || [ -z "${res[tallyd.counter]:-}${res[tallyd.max30]:-}${res[tallyd.maxmix]:-}" ] && continue
	printf '%-9s %10s %10s %10s %12s %12s %12s\n' "/$k" \
		"$(ratio "${res[tallyd.counter]:-}" "${res[$k.counter]:-}")" \
		"$(ratio "${res[tallyd.tags]:-}" "${res[$k.tags]:-}")" \
		"$(ratio "${res[tallyd.mixed]:-}" "${res[$k.mixed]:-}")" \
		"$(ratio "${res[tallyd.max1]:-}" "${res[$k.max1]:-}")" \
		"$(ratio "${res[tallyd.max30]:-}" "${res[$k.max30]:-}")" \
		"$(ratio "${res[tallyd.maxmix]:-}" "${res[$k.maxmix]:-}")"
done
[ -n "${given[statsite]:-}" ] || peer_row statsite STATSITE=/path/to/statsite
[ -n "${given[brubeck]:-}" ] || peer_row brubeck BRUBECK=/path/to/brubeck
[ -n "${given[statsd]:-}" ] || peer_row statsd STATSD_JS=/path/to/stats.js
echo "# runs and search steps:"
cat "$T/steps"
