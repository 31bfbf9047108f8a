[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# redis.sh: the Redis read model against a real redis-server on a private
# port: known data gives exact count/sum/min/max and quantiles within 1% in
# the window hashes; counter windows sum across intervals; TTLs, the index,
# meta and the flush marker are present; Redis killed and restarted mid-run
# -> a later flush lands; Redis absent at start -> tallyd runs, counts the
# dropped flushes, and connects once Redis appears.
. "$(dirname "$0")/lib.sh"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	skip "redis-server is not installed (contrib/deps.sh installs it)"
	exit 0
fi

N_REDIS=0
# start_redis PORT: sets REDIS_PID.
start_redis() {
	N_REDIS=$((N_REDIS + 1))
	mkdir -p "$T/redis$N_REDIS"
	redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$T/redis$N_REDIS" >"$T/redis$N_REDIS.log" 2>&1 &
	REDIS_PID=$!
	track "$REDIS_PID"
	WAIT_SECS=10 wait_for redis_up "$1"
}

redis_up() {
	[ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]
}

rc() {
	redis-cli -p "$RPORT" --raw "$@"
}

# hget KEY FIELD
hget() {
	rc HGET "$1" "$2"
}

# within_pct EXPECTED ACTUAL PCT
within_pct() {
	"$PYTHON3" -c 'import sys
e, a, p = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
sys.exit(0 if abs(a - e) <= p / 100 * abs(e) else 1)' "$@"
}

flush_ts() {
	rc HGET tallyd:flush last_ts
}

# wait_flush_after TS: waits until tallyd:flush last_ts > TS.
flush_after() {
	local t
	t=$(flush_ts)
	[ -n "$t" ] && [ "$t" -gt "$1" ]
}

RPORT=$(free_port)
start_redis "$RPORT" || bail "redis-server starts on port $RPORT"
ok "redis-server started on 127.0.0.1:$RPORT"

start_tallyd -o server.flush_interval=1s -o redis.address=127.0.0.1:"$RPORT" \
	-o "windows.list=5s,1m,5m" || bail "tallyd starts with the Redis sink"
ok "tallyd started with windows 5s,1m,5m"

WAIT_SECS=15 wait_for flush_after 0 || bail "a first flush marker appears"
t0=$(flush_ts)

# One interval: a timer with values 1..100 (two datagrams), a tagged
# distribution, a gauge and a set.
"$PYTHON3" - "$UDP_PORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
port = int(sys.argv[1])
vals = ["lat:%d|ms" % v for v in range(1, 101)]
for i in range(0, 100, 50):
    s.sendto("\n".join(vals[i:i + 50]).encode(), ("127.0.0.1", port))
s.sendto(b"dist:3:5:7|d|#env:prod,az:b", ("127.0.0.1", port))
s.sendto(b"temp:20|g\ntemp:+5|g", ("127.0.0.1", port))
s.sendto(b"users:a|s\nusers:b|s\nusers:a|s", ("127.0.0.1", port))
s.sendto(b"hits:5|c", ("127.0.0.1", port))
s.sendto(b"_e{6,9}:deploy|v1.2 done|#env:prod\n_sc|svc.up|2|#env:prod|m:down", ("127.0.0.1", port))
PY
WAIT_SECS=10 wait_for flush_after "$t0"
t1=$(flush_ts)
# A second interval of the counter: windows sum across intervals.
send_udp "$UDP_PORT" "hits:7|c" >/dev/null
WAIT_SECS=10 wait_for flush_after "$t1"
sleep 1.2 # one more flush so both intervals are in

k='tallyd:{lat}:1m'
check_eq "timer window hash has type timer" timer "$(hget "$k" type)"
check_num "timer 1m count is exact" 100 "$(hget "$k" count)"
check_num "timer 1m sum is exact" 5050 "$(hget "$k" sum)"
check_num "timer 1m min is exact" 1 "$(hget "$k" min)"
check_num "timer 1m max is exact" 100 "$(hget "$k" max)"
check_num "timer 1m mean is exact" 50.5 "$(hget "$k" mean)"
check "timer 1m stddev is the population stddev (28.866)" within_pct 28.86607004772212 "$(hget "$k" stddev)" 0.0001
check "timer 1m p50 within 1% of the exact 50" within_pct 50 "$(hget "$k" p50)" 1
check "timer 1m p90 within 1% of the exact 90" within_pct 90 "$(hget "$k" p90)" 1
check "timer 1m p99 within 1% of the exact 99" within_pct 99 "$(hget "$k" p99)" 1
check "timer 1m p999 within 1% of the exact 99 (rank floor(0.999 x 99))" within_pct 99 "$(hget "$k" p999)" 1
check_match "timer 1m covered is seconds" '^[0-9]+$' "$(hget "$k" covered)"
ttl=$(rc TTL "$k")
# The TTL is set to 2 x the window at the first write and refreshed every
# half window: it stays between 1.5 and 2 windows.
check "timer 1m hash expires in 1.5 to 2 x 60 s (TTL $ttl)" test "$ttl" -ge 89 -a "$ttl" -le 120
ttl5=$(rc TTL 'tallyd:{lat}:5m')
check "timer 5m hash expires in 2 x 300 s (TTL $ttl5)" test "$ttl5" -gt 280 -a "$ttl5" -le 600

kd='tallyd:{dist;az=b;env=prod}:1m'
check_eq "tagged distribution: canonical id in the key, type distribution" distribution "$(hget "$kd" type)"
check_num "tagged distribution count" 3 "$(hget "$kd" count)"
check "tagged distribution p50 within 1% of the exact 5" within_pct 5 "$(hget "$kd" p50)" 1

check_eq "counter windows sum across intervals (5 + 7)" 12 "$(hget 'tallyd:{hits}:1m' count)"
check_eq "gauge last value with the delta applied" 25 "$(hget 'tallyd:{temp}:1m' last)"
check_eq "set window counts distinct members" 2 "$(hget 'tallyd:{users}:1m' unique)"
# Refreshed every half window (2 flushes of 1 s for 5s): over 6 s the TTL
# of a 5s hash never falls below 1.5 x 5 s (without a refresh it would).
ttls=""
for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do
	ttls="$ttls $(rc TTL 'tallyd:{hits}:5s')"
	sleep 0.5
done
check "the 5s hash's TTL is refreshed: stays within 1.5 to 2 windows (${ttls# })" \
	"$PYTHON3" -c 'import sys; t = [int(x) for x in sys.argv[1:]]; sys.exit(0 if all(6 <= x <= 10 for x in t) else 1)' $ttls
check_eq "the 5s window has slid past the first interval's counter" 0 "$(
	sleep 6
	hget 'tallyd:{hits}:5s' count
)"

check_match "a DogStatsD event is in the tallyd:events stream" \
	'title deploy text v1.2 done ts 0 .*tags ;env=prod' "$(rc XRANGE tallyd:events - + | tr '\n' ' ')"
check_eq "a service check's latest status is in tallyd:checks" 2 "$(rc HGET tallyd:checks 'svc.up;env=prod')"
check "tallyd:index holds the series" test -n "$(rc ZSCORE tallyd:index 'dist;az=b;env=prod')"
check_eq "tallyd:meta lists the windows" "5s,1m,5m" "$(rc HGET tallyd:meta windows)"
check_eq "tallyd:meta lists the quantiles" "p50,p90,p95,p99,p999" "$(rc HGET tallyd:meta quantiles)"
check_match "tallyd:flush has last_ts, duration_ms, series" \
	'last_ts.*duration_ms.*series' "$(rc HGETALL tallyd:flush | tr '\n' ' ')"

# The same windows over HTTP: /api/v1/series and /api/v1/series/<id>.
jget() { # PATH EXPR: prints the python expression over the JSON body
	curl -s -m 5 "http://127.0.0.1:$HTTP_PORT$1" |
		"$PYTHON3" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}
check_eq "HTTP: /api/v1/series?match=lat* lists the timer" "['lat']" \
	"$(jget '/api/v1/series?match=lat*' '[s["id"] for s in d["series"]]')"
check_eq "HTTP: /api/v1/series?match=*env=prod* finds the tagged series" "dist;az=b;env=prod" \
	"$(jget '/api/v1/series?match=*env=prod*' 'd["series"][0]["id"]')"
check_eq "HTTP: /api/v1/series/lat has the 1m timer count" 100 \
	"$(jget /api/v1/series/lat 'int(d["windows"]["1m"]["count"])')"
check "HTTP: /api/v1/series/lat p99 within 1% of 99" within_pct 99 \
	"$(jget /api/v1/series/lat 'd["windows"]["1m"]["p99"]')" 1
check_eq "HTTP: an URL-encoded tagged id, with name and type" "dist distribution 3" \
	"$(jget '/api/v1/series/dist%3Baz%3Db%3Benv%3Dprod' 'd["name"] + " " + d["type"] + " " + str(int(d["windows"]["1m"]["count"]))')"
http_get /api/v1/series/no.such.series
check_eq "HTTP: an unknown series is 404" 404 "$HTTP_STATUS"

# Redis killed and restarted on the same port: a later flush lands.
stop_pid "$REDIS_PID" KILL 5
untrack "$REDIS_PID"
sleep 2
send_udp "$UDP_PORT" "after.restart:1|c" >/dev/null
start_redis "$RPORT" || bail "redis-server restarts on port $RPORT"
WAIT_SECS=20 wait_for flush_after 0
check "after a Redis restart a flush lands again" flush_after 0
WAIT_SECS=10 wait_for test -n "$(rc HGET 'tallyd:{after.restart}:1m' count)"
check_eq "data sent while Redis was down is in the window" 1 "$(rc HGET 'tallyd:{after.restart}:1m' count)"
check "the outage was counted (tallyd_redis_flush_dropped_total > 0)" \
	value_ge 1 prom_value tallyd_redis_flush_dropped_total
check "the reconnect was counted" value_ge 2 prom_value tallyd_redis_reconnects_total
stop_tallyd TERM
check_eq "tallyd exits 0 on SIGTERM" 0 "$TALLYD_RC"

# Redis absent at start: tallyd runs, counts, connects when Redis appears.
RPORT2=$(free_port)
start_tallyd -o server.flush_interval=1s -o redis.address=127.0.0.1:"$RPORT2" ||
	bail "tallyd starts with Redis absent"
ok "tallyd started while Redis is absent"
send_udp "$UDP_PORT" "early:4|c" >/dev/null
WAIT_SECS=10 wait_for value_ge 2 prom_value tallyd_redis_flush_dropped_total
check "flushes while Redis is absent are counted as dropped" \
	value_ge 2 prom_value tallyd_redis_flush_dropped_total
http_get /health
check_eq "tallyd stays healthy without Redis (/health 200)" 200 "$HTTP_STATUS"
RPORT_SAVE=$RPORT
RPORT=$RPORT2
start_redis "$RPORT2" || bail "redis-server starts late on $RPORT2"
WAIT_SECS=20 wait_for flush_after 0
check "tallyd connects once Redis appears and a flush lands" flush_after 0
check_eq "the 1m window kept the data from before Redis appeared" 4 "$(rc HGET 'tallyd:{early}:1m' count)"
RPORT=$RPORT_SAVE
stop_tallyd TERM
check_eq "tallyd exits 0 on SIGTERM" 0 "$TALLYD_RC"
