#!/bin/sh
# make bench: builds and runs the benchmarks, printing figures (medians of
# several runs). Never part of make check. Run from the build directory.
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$(pwd)}
echo "== parse + shard insert, in-process (median of 7 runs, 600k lines each)"
"$build/tests/bench/bench_parse"
if command -v valgrind >/dev/null 2>&1; then
	echo "== instructions per line (callgrind, counting only inside the parse+insert loop)"
	for w in 0 1 2; do
		out=$(valgrind --tool=callgrind --toggle-collect='run*' --callgrind-out-file=/dev/null \
			"$build/tests/bench/bench_parse" -n 300000 -w $w 2>&1)
		total=$(echo "$out" | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
		name=$(echo "$out" | sed -n 's/^ran [0-9]* lines of //p')
		echo "$name: $((total / 300000)) instructions/line (first pass: includes creating every series)"
	done
fi
