#!/bin/sh
# check_man.sh: each man page names exactly the long options its program's --help does, and
# `man -l` renders both without a warning.
# Usage: check_man.sh SOURCE_DIR SERVER_BIN CLI_BIN
set -eu
src=$1 server=$2 cli=$3
status=0

# every --option token, one a line, sorted and unique
opts() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
# a man page's text as man renders it: options appear as --x whatever the roff escapes
man_opts() { MANWIDTH=200 man -l "$1" 2>/dev/null | sed 's/‐/-/g' | opts; }

compare() { # name, help text's options file, man page
	if ! diff -u "$2" "$3.opts" >"$3.diff"; then
		echo "FAIL: $1: the man page and --help differ in options (- help, + man):" >&2
		cat "$3.diff" >&2
		status=1
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$server" --help | opts >"$tmp/d.help"
man_opts "$src/contrib/man/cellbatchd.8" >"$tmp/d.opts"
compare cellbatchd "$tmp/d.help" "$tmp/d"
{ "$cli" --help; "$cli" geocode --help; "$cli" reverse --help; "$cli" stats --help; } | opts >"$tmp/c.help"
man_opts "$src/contrib/man/cellbatch.1" >"$tmp/c.opts"
compare cellbatch "$tmp/c.help" "$tmp/c"
for page in "$src/contrib/man/cellbatchd.8" "$src/contrib/man/cellbatch.1"; do
	warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	[ -z "$warn" ] || { echo "FAIL: man -l $page warns: $warn" >&2; status=1; }
	[ "$(MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)" -gt 40 ] ||
		{ echo "FAIL: man -l $page renders next to nothing" >&2; status=1; }
done
[ $status -eq 0 ] && echo "man pages ok: $(wc -l <"$tmp/d.help") cellbatchd options, $(wc -l <"$tmp/c.help") cellbatch options"
exit $status
