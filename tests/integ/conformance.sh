[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# conformance.sh: tallyd's Graphite output for the reference statsd's corpus
# (tests/data/conformance/statsd) against the reference's own output, in the
# three settings the reference was recorded with: legacy namespace, non-legacy
# with suffix `sfx`, and delete_idle. conformance_compare.py holds the table
# of deliberate differences. Also the admin views after the corpus flush.
. "$(dirname "$0")/lib.sh"

CONF=$DATA_DIR/conformance
REF=$CONF/statsd
COMPARE=$INTEG_DIR/conformance_compare.py

# scenario NAME BUSY_MODE BUSY_NORM IDLE_MODE IDLE_NORM ADMIN(yes|no) [-o ...]
# Starts the sink and tallyd with the reference settings plus the extra
# options, waits for a flush, sends the corpus right after it, captures the
# next flush (the corpus) and the one after (idle), and compares both.
scenario() {
	local name=$1 busy_mode=$2 busy_norm=$3 idle_mode=$4 idle_norm=$5 admin=$6
	shift 6
	start_sink || bail "$name: graphite_sink.py starts"
	start_tallyd -o server.flush_interval=2s \
		-o statsd.percentiles=90,-10,99.9 \
		-o "statsd.histogram=render:0.01,0.1,1,10,inf;histo:50,100,150,200" \
		-o graphite.address=127.0.0.1:"$SINK_PORT" "$@" ||
		bail "$name: tallyd starts with the reference settings"
	ok "$name: tallyd started"

	local t0 t1 sent flushes t2 t3
	# Wait for a flush that arrives now (not one that came while this
	# script was busy), so the corpus is sent right after a boundary.
	t0=$(sink_last_ts)
	t1=$(sink_wait "${t0:-0}" 1 15) || bail "$name: a flush arrives within 15 s"
	sent=$("$PYTHON3" "$CONF/send_corpus.py" "$REF/corpus.txt" "$UDP_PORT")
	check_eq "$name: send_corpus.py sent the 96 packets" 96 "$sent"
	# t2 holds the corpus, t3 is idle; t4 arriving proves t3 is complete.
	flushes=$(sink_wait "$t1" 3 20) || bail "$name: three more flushes arrive"
	t2=$(sed -n 1p <<<"$flushes")
	t3=$(sed -n 2p <<<"$flushes")
	check_eq "$name: flush timestamps are aligned to the 2 s interval" 0 "$((t1 % 2))"
	check_eq "$name: the corpus flush is the next interval" "$((t1 + 2))" "$t2"
	check_eq "$name: the idle flush is the interval after" "$((t1 + 4))" "$t3"
	sink_select "$t2" >"$T/$name.busy.txt"
	sink_select "$t3" >"$T/$name.idle.txt"

	run_tap "$PYTHON3" "$COMPARE" flush "$busy_mode" "$REF/$busy_norm" "$T/$name.busy.txt"
	if [ -n "$idle_mode" ]; then
		run_tap "$PYTHON3" "$COMPARE" flush "$idle_mode" "$REF/$idle_norm" "$T/$name.idle.txt"
	fi
	check_eq "$name: one persistent Graphite connection for all flushes" 1 "$(sink_conns accepted)"

	if [ "$admin" = yes ]; then
		mkdir -p "$T/$name.admin"
		local c
		for c in counters timers gauges stats health bogus; do
			admin_cmd "$c" >"$T/$name.admin/$c"
		done
		run_tap "$PYTHON3" "$COMPARE" admin "$REF/expected_admin.txt" "$T/$name.admin"
	fi

	check_unique_stamps "$name"
	stop_tallyd TERM
	check_eq "$name: SIGTERM exits 0" 0 "$TALLYD_RC"
	stop_sink
}

scenario legacy legacy expected_legacy.norm legacy_idle expected_legacy_idle.norm yes

scenario nonlegacy nonlegacy expected_nonlegacy.norm "" "" no \
	-o graphite.legacy_namespace=false -o graphite.suffix=sfx

# With delete_idle the corpus flush is the same as without; the idle flush
# holds only the reference's internal lines (and tallyd's self-stats).
scenario deleteidle legacy expected_legacy.norm deleteidle_idle expected_deleteidle_idle.norm no \
	-o statsd.delete_idle=true
