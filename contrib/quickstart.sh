#!/bin/sh
# quickstart.sh: tallyd on a fresh Debian 12 machine in one command (as root,
# or with sudo): installs the dependencies, builds tallyd in build-quickstart/,
# makes sure a Redis answers on 127.0.0.1:6379 (used by the sliding windows
# coming next; started anyway) and a carbon-cache listens on 127.0.0.1:2003
# (a private one, data under /var/tmp/tallyd-quickstart/, if nothing listens
# there), then runs tallyd in the foreground, sending to that carbon-cache.
# Ctrl-C stops tallyd (it flushes first); Redis and carbon-cache keep running
# (their pid files are in /var/tmp/tallyd-quickstart/).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
qs=/var/tmp/tallyd-quickstart
build=$top/build-quickstart
cd "$top"

say() {
	printf 'quickstart: %s\n' "$*"
}

# listening PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
listening() {
	python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$1" 2>/dev/null
}

wait_listening() {
	i=0
	while ! listening "$1"; do
		i=$((i + 1))
		if [ "$i" -gt 150 ]; then
			return 1
		fi
		sleep 0.2
	done
}

say "installing build and test dependencies (contrib/deps.sh)"
contrib/deps.sh

mkdir -p "$qs"

# run LOG COMMAND...: runs quietly; on failure shows the end of its output.
run() {
	log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		say "failed: $* (full output in $log)"
		exit 1
	fi
}

say "building tallyd in $build"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
	run "$qs/autogen.log" ./autogen.sh
fi
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
	(cd "$build" && run "$qs/configure.log" ../configure)
fi
run "$qs/make.log" make -C "$build" -j"$(nproc)"
"$build/src/tallyd" -V

# ---- Redis on 127.0.0.1:6379 ----
if [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null || true)" = PONG ]; then
	say "Redis already answers on 127.0.0.1:6379"
else
	say "starting redis-server on 127.0.0.1:6379 (data in $qs/redis)"
	mkdir -p "$qs/redis"
	redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --dir "$qs/redis" \
		--pidfile "$qs/redis/redis.pid" --logfile "$qs/redis/redis.log" \
		--save "" --appendonly no
	wait_listening 6379 || {
		say "redis-server did not start; see $qs/redis/redis.log"
		exit 1
	}
fi

# ---- carbon-cache on 127.0.0.1:2003 ----
wsp=$qs/whisper
if listening 2003; then
	say "something already listens on 127.0.0.1:2003; tallyd will send to it"
	if [ -f /etc/carbon/carbon.conf ]; then
		wsp=$(sed -n 's/^LOCAL_DATA_DIR *= *//p' /etc/carbon/carbon.conf | head -n 1)
		wsp=${wsp%/}
	fi
	say "(if it is the system's carbon-cache, its whisper files are in ${wsp:-its LOCAL_DATA_DIR})"
else
	say "starting a private carbon-cache on 127.0.0.1:2003 (whisper files in $qs/whisper)"
	mkdir -p "$qs/carbon" "$qs/whisper" "$qs/carbon/log" "$qs/carbon/storage"
	cat >"$qs/carbon/carbon.conf" <<EOF
[cache]
STORAGE_DIR = $qs/carbon/storage/
LOCAL_DATA_DIR = $qs/whisper/
CONF_DIR = $qs/carbon/
LOG_DIR = $qs/carbon/log/
PID_DIR = $qs/carbon/
DATABASE = whisper
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 500
MAX_CREATES_PER_MINUTE = 600
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = 2003
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = 2004
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = 7002
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = False
ENABLE_TAGS = False
EOF
	# One point per 10 s flush for a day, then one a minute for a month.
	cat >"$qs/carbon/storage-schemas.conf" <<'EOF'
[carbon]
pattern = ^carbon\.
retentions = 60s:1d

[tallyd_quickstart]
pattern = .*
retentions = 10s:1d,1m:30d
EOF
	carbon-cache --config="$qs/carbon/carbon.conf" --pidfile="$qs/carbon/carbon-cache.pid" \
		--logdir="$qs/carbon/log" start >"$qs/carbon/start.log" 2>&1
	wait_listening 2003 || {
		say "carbon-cache did not start; see $qs/carbon/start.log and $qs/carbon/log/"
		exit 1
	}
fi

cat <<EOF

tallyd runs in the foreground now: StatsD/DogStatsD on 127.0.0.1:8125 (UDP and
TCP), admin on 127.0.0.1:8126, HTTP on 127.0.0.1:8127, a flush every 10 s to
the carbon-cache on 127.0.0.1:2003. In another terminal:

  echo "deploys:1|c" | nc -u -w0 127.0.0.1 8125
  sleep 11
  whisper-fetch $wsp/stats_counts/deploys.wsp | grep -v None
  curl -s http://127.0.0.1:8127/metrics | grep packets_received

Ctrl-C (SIGINT) stops tallyd after a last flush. Redis and carbon-cache keep
running; stop them with: kill \$(cat $qs/redis/redis.pid $qs/carbon/carbon-cache.pid)

EOF
exec "$build/src/tallyd" -o graphite.address=127.0.0.1:2003 -o server.flush_interval=10s
