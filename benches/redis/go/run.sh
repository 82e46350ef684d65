#!/usr/bin/env bash
# Runs the Go Redis benchmark (main.go): starts a redis-server on a free loopback port,
# installs the library (with the redis feature) into target/prefix, and runs `go run .`.
# The modules (gobreaker v2, go-redis v9) come from the Go module proxy on first use.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source scripts/dev-prefix.sh
dir=$(mktemp -d "${TMPDIR:-/tmp}/bw-redis-bench.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port; go $(go env GOVERSION)"
cd benches/redis/go
BW_REDIS_URL="redis://127.0.0.1:$port/" CGO_ENABLED=1 go run .
