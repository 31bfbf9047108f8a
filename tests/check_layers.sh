#!/bin/sh
# Layering check (DESIGN.md §3): foundation files include only libc and
# foundation headers; domain files include no libevent/hiredis/curl/socket
# headers (jansson, a pure JSON library, is allowed in the domain: payloads
# and the Redis alert state are built there). Run by make check; exits non-zero naming every violation.
top=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top/src" || exit 1
foundation="log xalloc clock num buf htab"
domain="metric tags parse ini cfgval config selfstats tstats shard registry gfmt sketch window rfmt hll state istat anomaly rules alert alertfmt pace"
# Domain files outside the <name>.c + <name>.h pattern: a second .c of a
# module (its declarations stay in the module's header) and private headers.
domain_files="sketch_frozen.c sketch_store.h window_codec.c window_impl.h parse_fast.c parse_impl.h"
bad=0
forbidden='#include *<(event2/|event\.h|hiredis|curl/|sys/socket\.h|netinet/|arpa/|sys/un\.h|netdb\.h|pthread\.h)'
for m in $foundation; do
	if grep -nE '#include *<jansson' "$m.c" "$m.h"; then
		echo "layer violation: foundation $m includes jansson"
		bad=1
	fi
done
for m in $foundation $domain $domain_files; do
	case $m in *.[ch]) files=$m;; *) files="$m.c $m.h";; esac
	for f in $files; do
		[ -f "$f" ] || { echo "missing $f"; bad=1; continue; }
		if grep -nE "$forbidden" "$f"; then
			echo "layer violation: $f (domain/foundation) includes an edge header"
			bad=1
		fi
	done
done
for m in $foundation; do
	for f in $m.c $m.h; do
		for inc in $(grep -oE '#include "[a-z_]+\.h"' "$f" | sed 's/.*"\(.*\)\.h"/\1/'); do
			case " $foundation " in *" $inc "*) ;; *)
				echo "layer violation: foundation $f includes $inc.h"; bad=1;;
			esac
		done
	done
done
for m in $domain $domain_files; do
	case $m in *.[ch]) files=$m;; *) files="$m.c $m.h";; esac
	for f in $files; do
		for inc in $(grep -oE '#include "[a-z_]+\.h"' "$f" | sed 's/.*"\(.*\)\.h"/\1/'); do
			case " $foundation $domain $(echo $domain_files | sed 's/\.[ch]//g') " in *" $inc "*) ;; *)
				echo "layer violation: domain $f includes $inc.h"; bad=1;;
			esac
		done
	done
done
[ $bad -eq 0 ] && echo "layers: ok ($(echo $foundation $domain | wc -w) modules, $(echo $domain_files | wc -w) extra files checked)"
exit $bad
