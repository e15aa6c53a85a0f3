#!/bin/sh
# lookup.sh: one geocode lookup over protocol v1 with Debian tools only — nngcat for the socket, python3-msgpack to encode and decode.
# Usage: examples/lookup.sh ADDRESS [URL]    (URL defaults to $CELLBATCH_URL, then the server's default)
set -eu
text=${1:?usage: lookup.sh ADDRESS [URL]}
url=${2:-${CELLBATCH_URL:-ipc://${XDG_RUNTIME_DIR:-/tmp/cellbatch-$(id -u)}/cellbatch.sock}}
py=/usr/bin/python3 # Debian's, which has python3-msgpack
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the request: a msgpack map, keys as in proto/PROTOCOL.md
$py -c '
import sys, msgpack
sys.stdout.buffer.write(msgpack.packb(
    {"v": 1, "id": 1, "op": "call", "fn": "geocode", "args": [sys.argv[1]]}))
' "$text" >"$tmp/request"

# one request out, one reply back, raw bytes
nngcat --req0 --dial "$url" --file "$tmp/request" --raw --recv-timeout 60 >"$tmp/reply"

$py -c '
import sys, msgpack
reply = msgpack.unpackb(open(sys.argv[1], "rb").read())
if reply.get("ok"):
    r = reply["result"]
    meta = reply["meta"]
    how = "from the cache" if meta["cached"] else "batch of %d" % meta["batch_size"]
    print("%.6f,%.6f\t%s\t(%s)" % (r["lat"], r["lon"], r["formatted"], how))
else:
    e = reply["error"]
    print("%s: %s" % (e["code"], e["message"]), file=sys.stderr)
    sys.exit(1)
' "$tmp/reply"
