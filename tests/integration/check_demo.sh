#!/bin/sh
# check_demo.sh: scripts/demo's output as a user reads it — the CLI's CSV as a table aligned by
# display width (Japanese and Cyrillic rows included), the invented rows marked, the second pass
# all from the cache, the stats table with its credits line, and no msgpack dump ("=>").
# Usage: check_demo.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1 build=$2
fail() { echo "FAIL: $*" >&2; echo "$out" >&2; exit 1; }

t0=$(date +%s)
out=$(CB_DEMO_BUILD=$build "$src/scripts/demo" 2>&1) || fail "scripts/demo failed"
secs=$(($(date +%s) - t0))
echo "$out" | grep -q '^address  *lat  *lon  *status  *note$' || fail "no table header"
echo "$out" | grep -q '^東京都千代田区丸の内1丁目  .*invented by the mock$' || fail "no marked Japanese row"
echo "$out" | grep -q '^1 Nowhere Lane, Atlantis  .*NOT_FOUND  *no result for this input$' ||
	fail "the failed row does not say why"
[ "$(echo "$out" | grep -c 'invented by the mock$')" -eq 11 ] || fail "not 11 invented rows marked"
echo "$out" | grep -q '^second pass: all 24 cells from the cache, 0 new upstream items' ||
	fail "the second pass was not all from the cache"
echo "$out" | grep -q '^batch sizes' || fail "no stats table"
echo "$out" | grep -q '^credits    this server has spent 11.0 credits' || fail "no credits line"
echo "$out" | grep -q '=>' && fail "a raw msgpack dump (=>) in the output"
# every table row's lat column starts at the same display column (wcwidth, not bytes)
echo "$out" | python3 -c '
import ctypes, locale, re, sys
locale.setlocale(locale.LC_ALL, "C.UTF-8")
libc = ctypes.CDLL(None)
libc.wcwidth.argtypes = [ctypes.c_wchar]
w = lambda s: sum(max(libc.wcwidth(c), 0) for c in s)
cols = set()
for line in sys.stdin.read().split("\n"):
    m = re.search(r"  (-?\d+\.\d{7})  ", line)
    if m:
        cols.add(w(line[: m.start(1)]))
sys.exit(0 if len(cols) == 1 else "lat starts at display columns %s" % sorted(cols))
' || fail "the table is not aligned by display width"
echo "demo ok in ${secs}s"
