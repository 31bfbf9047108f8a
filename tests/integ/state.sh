[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# state.sh: server.state_file. tallyd with flush 1s, windows 5s,1m,1h and a
# state file gets counters, a timer, a gauge and a set, is stopped with
# SIGTERM (the windows are saved after the last flush), Redis is emptied,
# and tallyd restarts on the same file: after one flush the 1m and 1h
# windows in Redis still hold the data sent before the restart. A corrupt
# state file is logged and moved aside to *.bad.*, and tallyd starts fresh.
. "$(dirname "$0")/lib.sh"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	skip "redis-server is not installed (contrib/deps.sh installs it)"
	exit 0
fi

# start_redis, redis_up and rc as in redis.sh.
start_redis() {
	mkdir -p "$T/redis"
	redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$T/redis" >"$T/redis.log" 2>&1 &
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

flush_after() {
	local t
	t=$(rc HGET tallyd:flush last_ts)
	[ -n "$t" ] && [ "$t" -gt "$1" ]
}

RPORT=$(free_port)
start_redis "$RPORT" || bail "redis-server starts on port $RPORT"
STATE=$T/tallyd.state
ARGS=(-o server.flush_interval=1s -o redis.address=127.0.0.1:"$RPORT"
	-o "windows.list=5s,1m,1h" -o server.state_file="$STATE")

start_tallyd "${ARGS[@]}" || bail "tallyd starts with a state file"
ok "tallyd started with windows 5s,1m,1h and server.state_file"
check_match "no state file yet: it starts fresh" 'state: no file=' "$(cat "$TALLYD_LOG")"
WAIT_SECS=15 wait_for flush_after 0 || bail "a first flush marker appears"
t0=$(rc HGET tallyd:flush last_ts)
send_udp "$UDP_PORT" "kept:5|c" "lat:10|ms" "lat:20|ms" "lat:30|ms" "temp:42|g" \
	"users:a|s" "users:b|s" >/dev/null
WAIT_SECS=10 wait_for flush_after "$t0"
t1=$(rc HGET tallyd:flush last_ts)
send_udp "$UDP_PORT" "kept:7|c" "lat:40|ms" >/dev/null
WAIT_SECS=10 wait_for flush_after "$((t1 + 1))"
check_eq "before the restart: the 1h counter window has 5 + 7" 12 "$(rc HGET 'tallyd:{kept}:1h' count)"

stop_tallyd TERM
check_eq "tallyd exits 0 on SIGTERM" 0 "$TALLYD_RC"
check "the state file was written at shutdown" test -s "$STATE"
check "no temporary file is left next to it" test -z "$(ls "$T" | grep 'tallyd.state.tmp')"

# Redis forgets everything: whatever the windows hold now comes from the file.
rc FLUSHALL >/dev/null
start_tallyd "${ARGS[@]}" || bail "tallyd restarts on the same state file"
check_match "the restart restored the series" 'state: restored file=.* series=[1-9]' \
	"$(cat "$TALLYD_LOG")"
WAIT_SECS=15 wait_for flush_after 0 || bail "a flush lands after the restart"
sleep 1.2
check_eq "after the restart: the 1h counter window still has 12" 12 "$(rc HGET 'tallyd:{kept}:1h' count)"
check_eq "after the restart: the 1m counter window still has 12" 12 "$(rc HGET 'tallyd:{kept}:1m' count)"
check_num "after the restart: the 1h timer window count" 4 "$(rc HGET 'tallyd:{lat}:1h' count)"
check_num "after the restart: the 1h timer window sum" 100 "$(rc HGET 'tallyd:{lat}:1h' sum)"
check_num "after the restart: the 1h timer window max" 40 "$(rc HGET 'tallyd:{lat}:1h' max)"
check_eq "after the restart: the gauge's last value" 42 "$(rc HGET 'tallyd:{temp}:1h' last)"
check_eq "after the restart: the set's distinct members" 2 "$(rc HGET 'tallyd:{users}:1h' unique)"
t2=$(rc HGET tallyd:flush last_ts)
send_udp "$UDP_PORT" "kept:1|c" >/dev/null
WAIT_SECS=10 wait_for flush_after "$((t2 + 1))"
check_eq "new data adds to the restored window" 13 "$(rc HGET 'tallyd:{kept}:1h' count)"
stop_tallyd TERM
check_eq "tallyd exits 0 on SIGTERM after a restore" 0 "$TALLYD_RC"

# A corrupt state file: logged, moved aside, tallyd starts fresh.
printf 'TLYDSTATE garbage that is not a state file at all, not even close' >"$STATE"
start_tallyd "${ARGS[@]}" || bail "tallyd starts despite a corrupt state file"
ok "tallyd starts despite a corrupt state file"
check_match "the corrupt file is logged with its name and the reason" \
	"state: ignoring file=$STATE reason=.*moved to $STATE.bad.[0-9]+" "$(cat "$TALLYD_LOG")"
bad=$(ls "$T" | grep -E '^tallyd\.state\.bad\.[0-9]+$')
check "the corrupt file is moved aside to tallyd.state.bad.<time>" test -n "$bad"
check_match "the moved file is the corrupt one" 'garbage' "$(cat "$T/$bad" 2>/dev/null)"
http_get /health
check_eq "tallyd is healthy after starting fresh" 200 "$HTTP_STATUS"
stop_tallyd TERM
check_eq "tallyd exits 0 on SIGTERM" 0 "$TALLYD_RC"
check "a fresh state file is saved at shutdown" test -s "$STATE"

# A state file for another configuration is moved aside too.
start_tallyd -o server.flush_interval=2s -o "windows.list=10s,1m,1h" \
	-o server.state_file="$STATE" || bail "tallyd starts with a mismatched state file"
check_match "a mismatched state file is logged with the reason" \
	"state: ignoring file=$STATE reason=\"server.flush_interval differs" "$(cat "$TALLYD_LOG")"
stop_tallyd TERM
check_eq "tallyd exits 0 on SIGTERM" 0 "$TALLYD_RC"
