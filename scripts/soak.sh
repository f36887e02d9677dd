#!/usr/bin/env bash
# Soak test: runs bedrock-mcp (release build, sample knowledge base, 127.0.0.1 only) under
# mixed and partly hostile load for N minutes and checks it does not grow: RSS, threads and
# open file descriptors come back to where they started, and no request fails.
#
# The load is examples/soak_driver.rs: MCP tool calls on /mcp, legacy SSE sessions opening
# and closing, bad bearer tokens, garbage JSON, oversized bodies and heads, garbage request
# lines and abandoned connections. It prints counters and /proc figures every 30 s and a
# final verdict; this script adds the server's own ERROR log lines and exits non-zero when
# either fails.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/soak.sh [--minutes N] [--callers N] [--sse N] [--no-build] [--keep]

  --minutes N   how long to run the load (default: 5)
  --callers N   MCP tool-calling threads (default: 4)
  --sse N       legacy SSE session threads (default: 2)
  --no-build    use the existing release build (target/release)
  --keep        keep the run directory (server log) and print its path

Exit status: 0 when the verdict is PASS, 1 when it is FAIL, 2 on a usage or setup error.
EOF
}

die() {
    printf 'soak.sh: %s\n' "$*" >&2
    exit 2
}

minutes=5
callers=4
sse=2
build=true
keep=false
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --minutes) minutes=${2:?--minutes needs a value}; shift ;;
        --callers) callers=${2:?--callers needs a value}; shift ;;
        --sse) sse=${2:?--sse needs a value}; shift ;;
        --no-build) build=false ;;
        --keep) keep=true ;;
        *) usage >&2; die "unknown argument $1" ;;
    esac
    shift
done
for n in "$minutes" "$callers" "$sse"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$n'"
done
[ "$minutes" -gt 0 ] || die "--minutes must be at least 1"

cd "$(dirname "$0")/.."
root=$PWD
workers=512

if $build; then
    echo "== building (release)" >&2
    cargo build --release --locked --features tools --bin bedrock-mcp --example soak_driver
fi
bin="$root/target/release/bedrock-mcp"
driver="$root/target/release/examples/soak_driver"
if [ ! -x "$bin" ] || [ ! -x "$driver" ]; then
    die "no release build; run without --no-build"
fi

# The driver and the server each hold a few hundred sockets at peaks.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

run=$(mktemp -d "${TMPDIR:-/tmp}/bedrock-mcp-soak.XXXXXX")
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if $keep; then
        echo "soak.sh: run directory kept: $run" >&2
    else
        rm -rf "$run"
    fi
}
trap cleanup EXIT

# An empty working directory and a clean environment: no .env and no AWS settings leak in.
# Short timeouts so that closed SSE streams and abandoned heads are reaped within the settle.
(
    cd "$run"
    exec env -i PATH="$PATH" SERVER_HOST=127.0.0.1 SERVER_PORT=0 LOG_LEVEL=INFO \
        AWS_EC2_METADATA_DISABLED=true WORKER_THREADS="$workers" SSE_KEEPALIVE_SECS=5 \
        HTTP_READ_TIMEOUT_SECS=10 HEADER_TIMEOUT_SECS=5 MAX_CONNECTIONS_PER_IP=0 \
        "$bin" --local-kb "$root/examples/kb"
) 2>"$run/server.log" &
server_pid=$!

addr=""
for _ in $(seq 100); do
    addr=$(grep '"msg":"listening"' "$run/server.log" | grep -o '"addr":"[^"]*"' | cut -d'"' -f4 || true)
    [ -n "$addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$run/server.log" >&2; die "the server exited"; }
    sleep 0.1
done
[ -n "$addr" ] || { cat "$run/server.log" >&2; die "the server did not start within 10 s"; }

echo "== soak: ${minutes} min against http://$addr (pid $server_pid), $callers callers, $sse SSE users" >&2
verdict=0
"$driver" --url "http://$addr" --pid "$server_pid" --seconds $((minutes * 60)) \
    --callers "$callers" --sse "$sse" --workers "$workers" || verdict=$?

errors=$(grep -c '"level":"ERROR"' "$run/server.log" || true)
panics=$(grep -c 'panicked' "$run/server.log" || true)
echo "server log: $(wc -l <"$run/server.log") lines, $errors ERROR, $panics panics"
if [ "$errors" -gt 0 ] || [ "$panics" -gt 0 ]; then
    grep -m 5 -e '"level":"ERROR"' -e 'panicked' "$run/server.log" >&2 || true
    verdict=1
fi
kill -0 "$server_pid" 2>/dev/null || { echo "the server died during the soak" >&2; verdict=1; }

if [ "$verdict" -eq 0 ]; then
    echo "soak.sh: PASS"
else
    echo "soak.sh: FAIL"
    exit 1
fi
