#!/bin/sh
# make bench: builds and runs the benchmarks, printing figures (medians of
# several runs). Never part of make check. Run from the build directory.
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$(pwd)}
echo "== parse + shard insert, in-process (median of 7 runs, 600k lines each)"
"$build/tests/bench/bench_parse"
if command -v valgrind >/dev/null 2>&1; then
	echo "== instructions per line (callgrind, steady state: only the second pass over the same lines,"
	echo "   every series already in the shard; building the packets and the first pass are not counted)"
	for w in 0 1 2; do
		out=$(valgrind --tool=callgrind --toggle-collect='measured_run*' --callgrind-out-file=/dev/null \
			"$build/tests/bench/bench_parse" -n 300000 -w $w 2>&1)
		total=$(echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
		name=$(echo "$out" | sed -n 's/^ran [0-9]* lines of //p')
		echo "$name: $((total / 300000)) instructions/line"
	done
fi
echo "== quantile sketch: add, merge/subtract, frozen bytes, memory per timer series (median of 7 runs)"
"$build/tests/bench/bench_sketch"
echo "== sliding windows: memory per series and the cost of one flush's push (median of 5 runs)"
"$build/tests/bench/bench_window"
echo "== flush of N live series to a local redis-server, end to end"
SERIES=${SERIES:-100000} bash "$(dirname "$0")/redis_flush.sh"
echo "== UDP intake end to end: CPU per line, max rate without loss, peak RSS; raw sink; peers"
echo "   (STATSITE=, BRUBECK=, STATSD_JS= add the peers; RUNS=, STEP=, RATE=, MIX_RATE= tune it)"
bash "$(dirname "$0")/intake.sh"
