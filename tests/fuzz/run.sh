#!/bin/sh
# Builds the parser's libFuzzer harness with clang (-fsanitize=fuzzer,address,
# undefined) straight from the sources and runs it for $1 seconds (default
# 60) over the seed corpus in tests/fuzz/corpus. New inputs go to a scratch
# directory, never into the repository. Exits non-zero when the fuzzer finds
# a crash; the crashing input is kept and its path printed.
# usage: tests/fuzz/run.sh [SECONDS]   (CC_FUZZ overrides clang)
set -eu

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cc=${CC_FUZZ:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/tallyd-fuzz.XXXXXX")

"$cc" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$top/src" "$top/src/parse.c" "$top/src/parse_fast.c" "$top/src/tags.c" "$top/src/num.c" "$top/src/metric.c" \
	"$here/fuzz_parse.c" -lm -o "$work/fuzz_parse"

mkdir "$work/corpus"
rc=0
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$work/fuzz_parse" -max_total_time="$secs" -max_len=10000 -timeout=10 \
	-artifact_prefix="$work/" -print_final_stats=1 \
	"$work/corpus" "$here/corpus" || rc=$?

if [ "$rc" -eq 0 ]; then
	rm -rf "$work"
	echo "fuzz_parse: no crash in ${secs}s"
else
	echo "fuzz_parse: failed (exit $rc); inputs and artifacts kept in $work" >&2
	ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* 2>/dev/null >&2 || true
fi
exit "$rc"
