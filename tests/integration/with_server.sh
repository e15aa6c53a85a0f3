#!/bin/sh
# with_server.sh: runs a command against a fresh geoapify-mock + cellbatchd in a temp dir (CELLBATCH_URL set), then stops both.
# Usage: with_server.sh MOCK_BIN SERVER_BIN GAZETTEER COMMAND [ARG]...
set -eu
mock_bin=$1 server_bin=$2 gazetteer=$3
shift 3
dir=$(mktemp -d)
mock_pid="" server_pid=""
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$mock_bin" --port 0 --port-file "$dir/port" --pending 50ms --gazetteer "$gazetteer" 2>"$dir/mock.log" &
mock_pid=$!
i=0
until [ -s "$dir/port" ]; do
	i=$((i + 1)); [ $i -le 200 ] || { echo "the mock did not start" >&2; exit 1; }
	sleep 0.05
done
export CELLBATCH_URL="ipc://$dir/cellbatch.sock"
export MOCK_URL="http://127.0.0.1:$(cat "$dir/port")"
GEOAPIFY_API_KEY=test-key "$server_bin" --listen "$CELLBATCH_URL" --upstream "$MOCK_URL" \
	--cache-db "$dir/cache.db" 2>"$dir/server.log" &
server_pid=$!
i=0
until [ -S "$dir/cellbatch.sock" ]; do
	i=$((i + 1)); [ $i -le 200 ] || { echo "cellbatchd did not start" >&2; cat "$dir/server.log" >&2; exit 1; }
	sleep 0.05
done
status=0
"$@" || status=$?
[ $status -eq 0 ] || { echo "== server log" >&2; cat "$dir/server.log" >&2; }
exit $status
