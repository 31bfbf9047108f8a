#!/bin/sh
# Formatting check (STYLE.md rule 14): every C source and header must be
# unchanged by the repository's .clang-format. Run by make check; prints
# each file that would change and exits non-zero if any would.
top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 1
if ! command -v clang-format >/dev/null 2>&1; then
	echo "clang-format is not installed (contrib/deps.sh installs it)"
	exit 1
fi
bad=0
n=0
for f in src/*.c src/*.h tests/unit/*.c tests/fuzz/*.c tests/bench/*.c; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (run: clang-format -i $f)"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "format: ok ($n files)"
exit $bad
