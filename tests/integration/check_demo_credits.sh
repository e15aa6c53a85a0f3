#!/bin/sh
# check_demo_credits.sh: the demo sheet's credits, counted by hand, against `cellbatch stats`.
# Usage (under with_server.sh): check_demo_credits.sh SOURCE_DIR BUILD_DIR CLI_BIN
#
# examples/sheet.csv has 24 cells; "221B Baker St, London, England" comes again as
# "221b baker st,   LONDON, england" and "Tour Eiffel Champ de Mars, Paris" twice, so 22 unique
# addresses go upstream. At 0.5 credit an item in a batch job and 1 a single call:
#   first pass:  spent 22 x 0.5 = 11, one call per cell 24 x 1 = 24, saved 13 (54%)
#   second pass: every cell from the cache, nothing submitted: 11, 48, saved 37 (77%)
set -eu
src=$1 build=$2 cli=$3
fail() { echo "FAIL: $*" >&2; exit 1; }

# One pass of the sheet through the server, then the credits line cellbatch stats prints.
pass() {
	"$build/examples/geocode_sheet_raw" "$src/examples/sheet.csv" >/dev/null || [ $? -eq 1 ] ||
		fail "geocode_sheet_raw failed"
	line=$("$cli" stats | grep '^credits') || fail "no credits line in cellbatch stats"
	echo "$line"
	[ "$line" = "credits    this server has spent $2 credits; one call per cell would have cost $3" ] ||
		fail "$1 pass: $line"
}
pass first 11.0 "24.0 (saved 13.0, 54%)"
pass second 11.0 "48.0 (saved 37.0, 77%)"
"$cli" stats --json | grep -q '"credits":{' || fail "no credits map in stats --json"
echo "demo credits ok"
