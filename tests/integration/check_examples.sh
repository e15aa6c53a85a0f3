#!/bin/sh
# check_examples.sh: runs the examples against the server that with_server.sh started and checks their answers.
# Usage: check_examples.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1 build=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$src/examples/lookup.sh" "221B Baker St, London, England") || fail "lookup.sh exited $?"
echo "lookup.sh: $out"
case "$out" in 51.523800,-0.158600*"221B Baker St"*) ;; *) fail "lookup.sh answered '$out'" ;; esac
if "$src/examples/lookup.sh" "1 Nowhere Lane" 2>/dev/null; then fail "lookup.sh found nowhere"; fi

out=$("$build/examples/sheet_addin" "$src/examples/sheet_formulas.csv") || fail "sheet_addin exited $?"
echo "$out"
echo "$out" | grep -q '^"221B Baker St, London, England","51.523800, -0.158600",48.8584,2.2945,"Tour Eiffel Champ de Mars, Paris"$' ||
	fail "sheet_addin row 2"
echo "$out" | grep -q '^"1 Nowhere Lane, Atlantis",#NOT_FOUND,-89.5,0,#NOT_FOUND$' || fail "sheet_addin not-found row"
echo "$out" | grep -q '^"221b baker st,  london, ENGLAND","51.523800, -0.158600"' || fail "sheet_addin dedup row"
[ "$(echo "$out" | grep -c '#PENDING\|#REF')" -eq 0 ] || fail "cells left pending"

out=$("$build/examples/sync_lookup" "2 Macquarie Street, Sydney") || fail "sync_lookup exited $?"
[ "$out" = "-33.856800, 151.215300  2 Macquarie Street, Sydney" ] || fail "sync_lookup answered '$out'"
echo "examples ok"
