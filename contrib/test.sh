#!/bin/bash
# test.sh: the whole test suite, as CI runs it (.ci/run) and as the README
# tells users to: installs the dependencies (contrib/deps.sh), regenerates
# the build system, then builds out of tree and runs `make check` twice —
# build/ with --enable-werror, build-asan/ with --enable-asan --enable-ubsan
# (any sanitizer report fails the test that triggered it) — and runs the
# parser fuzzer for 60 s when clang is installed. It prints each CUnit run
# summary and ends with exactly one line:
#   tests: N passed, N failed
# counting the CUnit tests of every unit-test log, the ok / not ok lines of
# every integration-test log (both builds), each other test once, and the
# fuzz run once. A stage that fails before its tests can run counts as one
# failed test. Exits 1 when anything failed.
# Outputs: build/, build-asan/ (test logs under tests/), build-logs/.
# Environment: TALLYD_SKIP_DEPS=1 skips deps.sh; FUZZ_SECONDS (default 60).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
summaries=""

stage_failed() {
	echo "test.sh: FAILED: $*" >&2
	failed=$((failed + 1))
}

if [ "${TALLYD_SKIP_DEPS:-0}" != 1 ]; then
	contrib/deps.sh || stage_failed "contrib/deps.sh"
fi

logs=$top/build-logs
rm -rf "$logs"
mkdir -p "$logs"
if ! ./autogen.sh >"$logs/autogen.out" 2>&1; then
	cat "$logs/autogen.out" >&2
	stage_failed "./autogen.sh"
	echo "tests: $passed passed, $failed failed"
	exit 1
fi

# count_results DIR: adds the results of every test log under DIR/tests.
count_results() {
	local dir=$1 trs log res p f n
	while IFS= read -r trs; do
		log=${trs%.trs}.log
		res=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
		if [ -f "$log" ] && grep -q '^Run Summary:' "$log"; then
			# CUnit: "  tests  Total  Ran  Passed  Failed  Inactive"
			read -r p f < <(awk '/^Run Summary:/ { s = 1 } s && $1 == "tests" { print $4, $5; exit }' "$log")
			p=${p:-0}
			f=${f:-0}
			case $p in *[!0-9]*) p=0 ;; esac
			case $f in *[!0-9]*) f=0 ;; esac
			passed=$((passed + p))
			failed=$((failed + f))
			# A crash, leak or sanitizer report after the summary.
			if [ "$res" != PASS ] && [ "$f" -eq 0 ]; then
				failed=$((failed + 1))
			fi
			summaries="$summaries
--- ${log#"$top"/}
$(awk '/^Run Summary:/ { s = 1 } s { print; if (++n == 4) exit }' "$log")"
		elif [ -f "$log" ] && grep -Eq '^(ok|not ok)( |$)' "$log"; then
			p=$(grep -E '^ok( |$)' "$log" | grep -vc '# SKIP')
			f=$(grep -Ec '^not ok( |$)' "$log")
			passed=$((passed + p))
			failed=$((failed + f))
			if { [ "$res" = FAIL ] || [ "$res" = ERROR ]; } && [ "$f" -eq 0 ]; then
				failed=$((failed + 1))
			fi
		else
			case $res in
			PASS | XFAIL) passed=$((passed + 1)) ;;
			SKIP) ;;
			*) failed=$((failed + 1)) ;;
			esac
		fi
	done < <(find "$dir/tests" -name '*.trs' 2>/dev/null | sort)
	n=$(find "$dir/tests" -name '*.trs' 2>/dev/null | wc -l)
	echo "test.sh: $dir: $n test programs ran"
}

# build DIR CONFIGURE_ARGS...: configure, build and make check in DIR.
build() {
	local dir=$1 before
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "== $dir: configure $*"
	if ! (cd "$dir" && ../configure "$@" >configure.out 2>&1); then
		tail -n 30 "$dir/configure.out" >&2
		stage_failed "$dir: configure $*"
		return
	fi
	echo "== $dir: make -j$jobs"
	if ! (cd "$dir" && make -j"$jobs" >make.out 2>&1); then
		tail -n 40 "$dir/make.out" >&2
		stage_failed "$dir: make"
		return
	fi
	echo "== $dir: make -j$jobs check"
	before=$failed
	(cd "$dir" && make -j"$jobs" check >check.out 2>&1)
	local rc=$?
	grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$dir/check.out"
	count_results "$dir"
	if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
		tail -n 40 "$dir/check.out" >&2
		stage_failed "$dir: make check (exit $rc) without a failing test to show for it"
	fi
	if [ "$rc" -ne 0 ]; then
		local t
		for t in $(grep -l '^:test-result: \(FAIL\|ERROR\|XPASS\)' $(find "$dir/tests" -name '*.trs')); do
			echo "---- ${t%.trs}.log (failed) ----"
			grep -E '^not ok|^#   |ERROR: (Address|Leak|Undefined)Sanitizer|runtime error' "${t%.trs}.log" | head -n 60
		done
	fi
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-exitcode=23}

build build --enable-werror
build build-asan --enable-werror --enable-asan --enable-ubsan

if command -v clang >/dev/null 2>&1; then
	echo "== fuzz: tests/fuzz/run.sh ${FUZZ_SECONDS:-60}"
	if tests/fuzz/run.sh "${FUZZ_SECONDS:-60}" >"$logs/fuzz.out" 2>&1; then
		passed=$((passed + 1))
		tail -n 3 "$logs/fuzz.out"
	else
		tail -n 30 "$logs/fuzz.out" >&2
		stage_failed "tests/fuzz/run.sh"
	fi
else
	echo "== fuzz: clang not installed, fuzzer not run (contrib/deps.sh installs it)"
fi

echo "== CUnit run summaries"
printf '%s\n' "$summaries" | sed '/^$/d'
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
