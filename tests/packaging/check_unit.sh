#!/bin/sh
# check_unit.sh: cmake --install puts cellbatchd.service and both man pages under the prefix, the
# unit names the installed binary, and `systemd-analyze verify` (Debian's systemd) passes on it —
# its Documentation= man page included.
# Usage: check_unit.sh BUILD_DIR
set -eu
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp" >/dev/null
unit=$tmp/lib/systemd/system/cellbatchd.service
for f in "$unit" "$tmp/share/man/man1/cellbatch.1" "$tmp/share/man/man8/cellbatchd.8"; do
	[ -f "$f" ] || { echo "FAIL: not installed: $f" >&2; exit 1; }
done
grep -q "^ExecStart=$tmp/bin/cellbatchd " "$unit" || { echo "FAIL: ExecStart is not $tmp/bin/cellbatchd" >&2; exit 1; }
MANPATH=$tmp/share/man systemd-analyze verify "$unit" || { echo "FAIL: systemd-analyze verify" >&2; exit 1; }
echo "unit ok: installed, verified"
