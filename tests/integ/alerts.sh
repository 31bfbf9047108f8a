[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# alerts.sh: anomaly scoring, alert rules and webhooks end to end — the real
# tallyd, real UDP, real HTTP receivers (receiver.py) and a real
# redis-server on private ports:
#   - a threshold rule fires once and resolves once (Alertmanager payload);
#   - an anomaly rule fires on a spike and not on steady traffic; the
#     zscore field and the <prefix>:anomalies stream are in Redis;
#   - a receiver answering 503 then 200 gets the alert on the retry;
#   - a receiver that is down: retries, then a counted failure, tallyd healthy;
#   - an absent rule fires when a series stops;
#   - SIGHUP adds a rule that then fires; a bad file on SIGHUP keeps the rules;
#   - /api/v1/alerts, <prefix>:alerts and <prefix>:alerts:log.
. "$(dirname "$0")/lib.sh"

RECEIVER=$INTEG_DIR/receiver.py
HAVE_REDIS=1
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	HAVE_REDIS=0
fi

# start_receiver NAME SCRIPT [ARGS...]: sets <NAME>_PORT; log in $T/NAME.jsonl.
start_receiver() {
	local name=$1 script=$2
	shift 2
	"$PYTHON3" "$RECEIVER" --port-file "$T/$name.port" --log "$T/$name.jsonl" \
		--script "$script" "$@" >"$T/$name.log" 2>&1 &
	track $!
	WAIT_SECS=10 wait_for test -s "$T/$name.port" || bail "receiver $name starts"
	printf -v "${name}_PORT" '%s' "$(cat "$T/$name.port")"
}

# alerts_in LOG RULE STATUS: how many alerts of RULE with STATUS the
# receiver took (answered 2xx), over every request (Alertmanager or json
# format).
alerts_in() {
	[ -f "$1" ] || { echo 0; return; }
	"$PYTHON3" - "$@" <<'PY'
import json, sys
log, rule, status = sys.argv[1:4]
n = 0
for line in open(log):
    req = json.loads(line)
    body = req.get("body")
    if not isinstance(body, dict) or not 200 <= req.get("status", 0) < 300:
        continue
    for a in body.get("alerts", []):
        name = a.get("labels", {}).get("alertname", a.get("rule"))
        if name == rule and a.get("status") == status:
            n += 1
print(n)
PY
}

requests_in() {
	[ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0
}

start_receiver am 200
start_receiver flaky 503,200
DOWN_PORT=$(free_port) # nothing listens there

RPORT=""
if [ "$HAVE_REDIS" = 1 ]; then
	RPORT=$(free_port)
	mkdir -p "$T/redis"
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$T/redis" >"$T/redis.log" 2>&1 &
	track $!
	WAIT_SECS=10 wait_for value_is PONG redis-cli -p "$RPORT" ping ||
		bail "redis-server starts on port $RPORT"
	ok "redis-server started on 127.0.0.1:$RPORT"
else
	skip "redis-server is not installed (contrib/deps.sh installs it): Redis checks skipped"
fi
rc() {
	redis-cli -p "$RPORT" --raw "$@"
}

CONF=$T/tallyd.conf
write_conf() {
	cat >"$CONF" <<EOF
[webhook am]
url = http://127.0.0.1:$am_PORT/alerts
timeout = 2s
retries = 2

[webhook flaky]
url = http://127.0.0.1:$flaky_PORT/hook
format = json
timeout = 2s
retries = 3

[webhook down]
url = http://127.0.0.1:$DOWN_PORT/nobody
format = slack
timeout = 500ms
retries = 2

[alert errors_high]
metric = api.errors
stat = rate
op = >
threshold = 5
severity = critical
summary = api errors above 5/s
webhook = am

[alert spike]
kind = anomaly
metric = load.*
stat = value
webhook = am

[alert flaky_rule]
metric = flaky.hits
stat = count
threshold = 0
webhook = flaky

[alert down_rule]
metric = down.hits
stat = count
threshold = 0
webhook = down

[alert heartbeat_gone]
kind = absent
metric = heartbeat
for = 2s
webhook = am
EOF
	if [ "${1:-}" = with_hup_rule ]; then
		cat >>"$CONF" <<EOF

[alert added_by_hup]
metric = hup.metric
stat = value
op = >=
threshold = 7
webhook = am
EOF
	fi
}
write_conf

start_tallyd -c "$CONF" -o server.flush_interval=1s -o windows.list=5s,1m \
	-o anomaly.baseline=1m -o anomaly.min_intervals=8 \
	${RPORT:+-o redis.address=127.0.0.1:$RPORT} || bail "tallyd starts with the alert rules"
ok "tallyd started with 5 rules and 3 webhooks"

# ---- traffic: every 0.25 s for ~14 s ----------------------------------------
# api.errors: 10/s for the first 4 s, then nothing (fires, then resolves).
# load.steady / load.spiky: gauges with uniform noise (|z| stays below 1.8);
# load.spiky jumps to 1000 at the end. heartbeat: until 6 s, then stops.
# flaky.hits / down.hits: one increment at the start.
"$PYTHON3" - "$UDP_PORT" <<'PY'
import random, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
addr = ("127.0.0.1", int(sys.argv[1]))
rnd = random.Random(7)
s.sendto(b"flaky.hits:1|c\ndown.hits:1|c", addr)
t0 = time.time()
while True:
    t = time.time() - t0
    if t > 14:
        break
    lines = []
    if t < 4:
        lines.append("api.errors:2.5|c")
    if t < 6:
        lines.append("heartbeat:1|c")
    lines.append("load.steady:%.3f|g" % (100 + rnd.uniform(-1, 1)))
    lines.append("load.spiky:%.3f|g" % (100 + rnd.uniform(-1, 1)))
    s.sendto("\n".join(lines).encode(), addr)
    time.sleep(0.25)
s.sendto(b"load.spiky:1000|g", addr)
PY

WAIT_SECS=10 wait_for value_is 1 alerts_in "$T/am.jsonl" spike firing
check_eq "anomaly rule fired once for the spiking gauge" 1 "$(alerts_in "$T/am.jsonl" spike firing)"
check_eq "threshold rule fired once" 1 "$(alerts_in "$T/am.jsonl" errors_high firing)"
WAIT_SECS=5 wait_for value_is 1 alerts_in "$T/am.jsonl" errors_high resolved
check_eq "threshold rule resolved once" 1 "$(alerts_in "$T/am.jsonl" errors_high resolved)"
check_eq "absent rule fired once the heartbeat stopped" 1 \
	"$(alerts_in "$T/am.jsonl" heartbeat_gone firing)"

# Which series the anomaly rule named: only load.spiky.
steady=$("$PYTHON3" - "$T/am.jsonl" <<'PY'
import json, sys
names = set()
for line in open(sys.argv[1]):
    for a in (json.loads(line).get("body") or {}).get("alerts", []):
        if a["labels"]["alertname"] == "spike":
            names.add(a["labels"]["series"])
print(",".join(sorted(names)))
PY
)
check_eq "the anomaly rule did not fire on steady traffic" load.spiky "$steady"

# The Alertmanager payload: the fields receivers read.
check "Alertmanager payload fields (version 4, labels, annotations, times, fingerprint)" \
	"$PYTHON3" - "$T/am.jsonl" <<'PY'
import json, re, sys
for line in open(sys.argv[1]):
    req = json.loads(line)
    b = req["body"]
    if not any(a["labels"]["alertname"] == "errors_high" for a in b["alerts"]):
        continue
    assert req["path"] == "/alerts", req["path"]
    assert req["headers"].get("Content-Type", "").startswith("application/json"), req["headers"]
    assert b["version"] == "4", b
    assert b["status"] in ("firing", "resolved")
    assert b["receiver"] == "am"
    for k in ("groupKey", "groupLabels", "commonLabels", "commonAnnotations", "externalURL"):
        assert k in b, k
    for a in b["alerts"]:
        if a["labels"]["alertname"] != "errors_high":
            continue
        assert a["labels"]["severity"] == "critical", a
        assert a["labels"]["series"] == "api.errors", a
        assert a["annotations"]["summary"] == "api errors above 5/s", a
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", a["startsAt"]), a
        assert re.match(r"^[0-9a-f]{16}$", a["fingerprint"]), a
        if a["status"] == "resolved":
            assert a["endsAt"] > a["startsAt"], a
        else:
            assert a["endsAt"].startswith("0001-01-01"), a
print("ok")
PY

# ---- retries ------------------------------------------------------------------
WAIT_SECS=10 wait_for value_is 1 alerts_in "$T/flaky.jsonl" flaky_rule firing
check_eq "503 then 200: the alert arrives on the retry" 1 \
	"$(alerts_in "$T/flaky.jsonl" flaky_rule firing)"
check "the flaky receiver saw the first attempt fail and the retry" \
	test "$(requests_in "$T/flaky.jsonl")" -ge 2
retries=$(prom_value tallyd_webhook_retries_total)
check "retries are counted (tallyd_webhook_retries=$retries)" test "${retries:-0}" -ge 1

wait_failed() {
	local v
	v=$(prom_value tallyd_webhook_failed_total)
	[ "${v:-0}" -ge 1 ]
}
WAIT_SECS=15 wait_for wait_failed
failed=$(prom_value tallyd_webhook_failed_total)
check "a receiver that is down: retried, then counted as failed (tallyd_webhook_failed=$failed)" \
	test "${failed:-0}" -ge 1
http_get /health
check_eq "tallyd stays healthy with a receiver down" 200 "$HTTP_STATUS"
check "the failure is logged" grep -q 'webhook' "$TALLYD_LOG"

# ---- /api/v1/alerts -------------------------------------------------------------
http_get /api/v1/alerts
check_eq "/api/v1/alerts answers 200" 200 "$HTTP_STATUS"
check "/api/v1/alerts lists the spike, the resolved errors_high, the firing heartbeat" \
	"$PYTHON3" -c 'import json, sys
d = json.loads(sys.argv[1])
st = {(a["rule"], a["series"]): a["state"] for a in d["alerts"]}
assert st.get(("spike", "load.spiky")) in ("firing", "resolved"), st
assert ("spike", "load.steady") not in st, st
assert st.get(("errors_high", "api.errors")) == "resolved", st
assert st.get(("heartbeat_gone", "heartbeat")) == "firing", st
assert d["firing"] >= 1, d' "$HTTP_BODY"

# ---- Redis: zscore, anomalies, alerts, alerts:log ---------------------------------
if [ "$HAVE_REDIS" = 1 ]; then
	zs=$(rc HGET 'tallyd:{load.steady}:1m' zscore)
	check "steady traffic has a small zscore ($zs)" \
		"$PYTHON3" -c 'import sys; sys.exit(0 if abs(float(sys.argv[1])) < 3 else 1)' "${zs:-99}"
	an=$(rc XRANGE tallyd:anomalies - +)
	check "tallyd:anomalies has the spike: series, stat value, zscore >= 3" \
		"$PYTHON3" -c 'import sys
f = sys.argv[1].split("\n")
i = f.index("load.spiky")
kv = dict(zip(f[i - 1:i + 13:2], f[i:i + 13:2]))
assert kv["stat"] == "value" and float(kv["zscore"]) >= 3 and float(kv["value"]) == 1000, kv' "$an"
	check "tallyd:anomalies has no entry for the steady gauge" \
		test "$(printf '%s\n' "$an" | grep -c '^load\.steady$')" -eq 0
	st=$(rc HGET tallyd:alerts 'spike|load.spiky')
	check_match "tallyd:alerts holds the instance as JSON" '"state":"(firing|resolved)"' "$st"
	lg=$(rc XRANGE tallyd:alerts:log - +)
	check_match "tallyd:alerts:log has transitions" 'transition' "$lg"
	check_match "tallyd:alerts:log has delivery results" 'delivered' "$lg"
fi

# ---- SIGHUP -----------------------------------------------------------------------
# A broken file first: reported, the running rules stay.
printf '[alert broken]\nop = =<\n' >>"$CONF"
kill -HUP "$TALLYD_PID"
WAIT_SECS=5 wait_for grep -q 'not reloaded' "$TALLYD_LOG"
check "a bad file on SIGHUP is reported and the old rules kept" grep -q 'not reloaded' "$TALLYD_LOG"
write_conf with_hup_rule
kill -HUP "$TALLYD_PID"
WAIT_SECS=5 wait_for grep -q 'SIGHUP: reloaded alerts=6' "$TALLYD_LOG"
check "SIGHUP reloads the rules (6 now)" grep -q 'SIGHUP: reloaded alerts=6' "$TALLYD_LOG"
send_udp "$UDP_PORT" "hup.metric:9|g"
WAIT_SECS=10 wait_for value_is 1 alerts_in "$T/am.jsonl" added_by_hup firing
check_eq "a rule added by SIGHUP fires" 1 "$(alerts_in "$T/am.jsonl" added_by_hup firing)"
check_eq "state survived the reload: the spike did not fire again" 1 \
	"$(alerts_in "$T/am.jsonl" spike firing)"
check "tallyd still runs" kill -0 "$TALLYD_PID"

stop_pid "$TALLYD_PID" TERM 20
check_eq "SIGTERM exits 0" 0 "$STOP_RC"
