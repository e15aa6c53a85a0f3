#!/bin/sh
# check_install.sh: installs the build to a prefix, moves it, and builds consumers with pkg-config and with find_package.
# Usage: check_install.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/first" >/dev/null
mv "$tmp/first" "$tmp/moved" # the install must not remember where it was put
prefix=$tmp/moved
test -f "$prefix/include/cellbatch.h"
test -x "$prefix/bin/cellbatch"
test -x "$prefix/bin/cellbatchd"
pc=$(find "$prefix" -name cellbatch.pc)
libdir=$(dirname "$(dirname "$pc")")

# Each consumer must link and run; with no server it exits 3 ("cannot reach cellbatchd").
expect_unreachable() {
	status=0
	LD_LIBRARY_PATH=$libdir CELLBATCH_URL="ipc://$tmp/none.sock" "$1" x 2>"$tmp/err" || status=$?
	[ "$status" -eq 3 ] && grep -q "cannot reach cellbatchd" "$tmp/err" ||
		{ echo "$1: exit $status: $(cat "$tmp/err")" >&2; exit 1; }
}
pcdir=$(dirname "$pc")

# pkg-config, shared library
cc -o "$tmp/pc_shared" "$src/examples/sync_lookup.c" $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs cellbatch)
expect_unreachable "$tmp/pc_shared"

# pkg-config, static library (Libs.private carries nng and msgpack-c)
cc -o "$tmp/pc_static" "$src/examples/sync_lookup.c" $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags cellbatch) \
	"$libdir/libcellbatch.a" $(PKG_CONFIG_PATH=$pcdir pkg-config --static --libs-only-l cellbatch | sed 's/-lcellbatch//')
expect_unreachable "$tmp/pc_static"

# CMake package
mkdir -p "$tmp/consumer"
cp "$src/examples/sync_lookup.c" "$tmp/consumer/"
cat >"$tmp/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.21)
project(consumer C)
find_package(cellbatch 0.1 REQUIRED)
add_executable(consumer sync_lookup.c)
target_link_libraries(consumer PRIVATE cellbatch::cellbatch)
CM
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/consumer/build" >/dev/null
expect_unreachable "$tmp/consumer/build/consumer"

# The Python package: where Debian's python3 looks for that prefix, finding the moved library
pydir=$(dirname "$(find "$prefix" -path '*/dist-packages/cellbatch/__init__.py')")
sitedir=$(dirname "$pydir")
test -f "$pydir/py.typed"
/usr/bin/python3 - "${sitedir#"$prefix"/}" <<'PY'
import sys
rel = sys.argv[1]  # under /usr/local, the prefix cmake --install uses by default
assert "/usr/local/" + rel in sys.path, (rel, sys.path)
PY
got=$(env -u CELLBATCH_LIB PYTHONPATH="$sitedir" /usr/bin/python3 -c 'import cellbatch; print(cellbatch.library_path)')
[ "$(realpath "$got")" = "$(realpath "$libdir/libcellbatch.so.1")" ] ||
	{ echo "python: cellbatch loaded $got, not the installed $libdir/libcellbatch.so.1" >&2; exit 1; }
status=0
env -u CELLBATCH_LIB PYTHONPATH="$sitedir" CELLBATCH_URL="ipc://$tmp/none.sock" /usr/bin/python3 -c '
import sys, cellbatch
try:
    cellbatch.Client()
except cellbatch.Unreachable:
    sys.exit(3)' || status=$?
[ "$status" -eq 3 ] || { echo "python: Client() with no server: exit $status" >&2; exit 1; }
# The Excel add-in (when node/npm built it): the moved cellbatchd serves it from its own
# share/cellbatch/excel, found beside the executable, not from the build tree.
excel=""
if [ -f "$build/client/excel/addin/manifest.xml" ]; then
	test -f "$prefix/share/cellbatch/excel/manifest.xml"
	test -f "$prefix/share/cellbatch/excel/functions.js"
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$prefix/bin/cellbatchd" --listen "ipc://$tmp/cb.sock" --no-cache-db --upstream http://127.0.0.1:1 \
		--http "127.0.0.1:$port" >"$tmp/server.log" 2>&1 &
	pid=$!
	i=0
	until curl -sf "http://127.0.0.1:$port/excel/manifest.xml" >"$tmp/manifest.xml"; do
		i=$((i + 1))
		[ "$i" -lt 500 ] && kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log" >&2; kill "$pid" 2>/dev/null; exit 1; }
		sleep 0.02
	done
	kill "$pid"
	wait "$pid" || true
	grep -q "serving the Excel add-in from $prefix/bin/../share/cellbatch/excel" "$tmp/server.log" ||
		{ echo "the moved cellbatchd did not serve its own add-in:" >&2; cat "$tmp/server.log" >&2; exit 1; }
	grep -q "http://127.0.0.1:$port/excel/functions.js" "$tmp/manifest.xml"
	excel=", and the moved cellbatchd serves its own /excel/ add-in"
fi
echo "install ok: pkg-config (shared, static) and find_package consumers built from a moved prefix; python3 imports cellbatch$excel"
