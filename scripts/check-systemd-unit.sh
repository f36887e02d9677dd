#!/usr/bin/env bash
# Checks deployment/systemd/bedrock-mcp.service without a running systemd (CI, containers).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: check-systemd-unit.sh [--binary PATH] [--threshold N] [-h|--help]

Checks deployment/systemd/bedrock-mcp.service with the systemd tools (apt-get install systemd
strace; no running systemd needed):
  1. `systemd-analyze verify` on a copy whose ExecStart= names the built binary: no output
     allowed (an unknown or misspelt key is only a warning there, and fails here);
  2. `systemd-analyze security --offline=true`: the exposure level must be at most N/10
     (default N=12, i.e. 1.2 of 10; the README quotes the score);
  3. the binary runs a smoke session under strace (health, an MCP search of the sample
     knowledge base, a metrics scrape, SIGTERM with NOTIFY_SOCKET set) and every system
     call it made must pass the unit's SystemCallFilter= (@system-service minus @privileged
     and @resources), so the filter cannot break a working server;
  4. deployment/systemd/install.sh --root into an empty tree: binary 755, settings 600, the
     unit, its enable link; and a bad setting installs nothing.

Options:
  --binary PATH   the binary to run (default: target/x86_64-unknown-linux-musl/release/
                  bedrock-mcp if built, else target/debug/bedrock-mcp)
  --threshold N   highest exposure level allowed, times ten (default 12)
EOF
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
unit=deployment/systemd/bedrock-mcp.service
binary=""
threshold=12
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
        --threshold) threshold="${2:?--threshold needs a number}"; shift 2 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$binary" ]; then
    binary="target/x86_64-unknown-linux-musl/release/bedrock-mcp"
    [ -x "$binary" ] || binary="target/debug/bedrock-mcp"
fi
[ -x "$binary" ] || { echo "error: no binary at $binary (cargo build, or --binary PATH)" >&2; exit 2; }
binary="$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
for tool in systemd-analyze strace curl python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing (apt-get install -y systemd strace curl)" >&2; exit 2; }
done

work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        # strace's child (the server) first, then strace itself.
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# --- 1. verify -------------------------------------------------------------------------------
sed "s#^ExecStart=/usr/local/bin/bedrock-mcp\$#ExecStart=$binary#" "$unit" > "$work/bedrock-mcp.service"
grep -q "^ExecStart=$binary\$" "$work/bedrock-mcp.service" ||
    { echo "FAIL: $unit must have ExecStart=/usr/local/bin/bedrock-mcp (install.sh puts it there)" >&2; exit 1; }
if ! out="$(systemd-analyze verify "$work/bedrock-mcp.service" 2>&1)" || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify $unit:" >&2
    echo "$out" >&2
    exit 1
fi
echo "ok:   systemd-analyze verify $unit"

# --- 2. security -----------------------------------------------------------------------------
score="$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
if ! systemd-analyze security --offline=true --threshold="$threshold" "$unit" >/dev/null 2>&1; then
    echo "FAIL: systemd-analyze security: exposure level $score is above $((threshold / 10)).$((threshold % 10))" >&2
    systemd-analyze security --offline=true "$unit" 2>&1 | grep '✗' >&2 || true
    exit 1
fi
echo "ok:   systemd-analyze security: exposure level $score (at most $((threshold / 10)).$((threshold % 10)))"

# --- 3. the system calls of a smoke run against SystemCallFilter= ----------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$work/notify" > "$work/notify.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
for _ in range(2):
    print(s.recv(512).decode().replace("\n", " "), flush=True)
PY
listener=$!
until [ -S "$work/notify" ]; do sleep 0.05; done
(cd "$work" && exec env -i KB_LOCAL_DIR="$root/examples/kb" SERVER_HOST=127.0.0.1 SERVER_PORT="$port" \
    METRICS_ADDR="127.0.0.1:$mport" NOTIFY_SOCKET="$work/notify" AWS_EC2_METADATA_DISABLED=true \
    LOG_LEVEL=INFO strace -f -qq -o "$work/trace" "$binary" 2> "$work/server.log") &
pid=$!
for _ in $(seq 200); do
    grep -q READY=1 "$work/notify.log" 2>/dev/null && break
    sleep 0.05
done
grep -q READY=1 "$work/notify.log" || { echo "FAIL: no READY=1 from the binary under strace" >&2; cat "$work/server.log" >&2; exit 1; }
base="http://127.0.0.1:$port"
curl -fsS "$base/health" >/dev/null
hdr=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18')
curl -fsS "${hdr[@]}" "$base/mcp" \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"refund policy"}}}' \
    > "$work/search.json"
grep -q '"result"' "$work/search.json" || { echo "FAIL: the smoke search failed: $(cat "$work/search.json")" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$mport/metrics" >/dev/null
server_pid=$(pgrep -P "$pid" | head -n1)
kill -TERM "$server_pid"
wait "$pid" || true
pid=""
wait "$listener" || true
grep -q STOPPING=1 "$work/notify.log" || { echo "FAIL: no STOPPING=1 on SIGTERM" >&2; exit 1; }

python3 - "$work/trace" <<'PY'
import re, subprocess, sys

def expand(group, seen=None):
    seen = seen if seen is not None else set()
    out = subprocess.run(["systemd-analyze", "syscall-filter", group],
                         capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if word.startswith("@"):
            if word not in seen:
                seen.add(word)
                names |= expand(word, seen)
        else:
            names.add(word)
    return names

allowed = expand("@system-service") - expand("@privileged") - expand("@resources")
# systemd allows these itself whatever the filter says (seccomp setup and the exec).
allowed |= {"execve", "exit", "exit_group", "rt_sigreturn"}
used = set()
for line in open(sys.argv[1]):
    m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
    if m and m.group(1) not in ("resumed",):
        used.add(m.group(1))
refused = sorted(used - allowed)
if refused:
    print("FAIL: the smoke run made system calls SystemCallFilter= refuses: " + " ".join(refused),
          file=sys.stderr)
    sys.exit(1)
print(f"ok:   all {len(used)} system calls of the smoke run pass SystemCallFilter=: " + " ".join(sorted(used)))
PY

# --- 4. install.sh into an empty tree ----------------------------------------------------------
tree="$work/root"
mkdir -p "$tree"
printf 'KB_LOCAL_DIR=%s\nBEHIND_PROXY=alb\n' "$root/examples/kb" > "$work/good.env"
deployment/systemd/install.sh --binary "$binary" --env "$work/good.env" --root "$tree" > "$work/install.log" 2>&1 ||
    { echo "FAIL: install.sh --root:" >&2; cat "$work/install.log" >&2; exit 1; }
for want in "755 usr/local/bin/bedrock-mcp" "600 etc/bedrock-mcp/env" "644 etc/systemd/system/bedrock-mcp.service"; do
    mode=${want%% *} file=${want#* }
    [ "$(stat -c %a "$tree/$file" 2>/dev/null)" = "$mode" ] ||
        { echo "FAIL: install.sh must install $file with mode $mode" >&2; exit 1; }
done
cmp -s "$tree/usr/local/bin/bedrock-mcp" "$binary" || { echo "FAIL: install.sh did not copy the binary" >&2; exit 1; }
[ "$(readlink "$tree/etc/systemd/system/multi-user.target.wants/bedrock-mcp.service")" = /etc/systemd/system/bedrock-mcp.service ] ||
    { echo "FAIL: install.sh did not enable the unit" >&2; exit 1; }
printf 'BEHIND_PROXY=haproxy\n' > "$work/bad.env"
mkdir -p "$work/root2"
if deployment/systemd/install.sh --binary "$binary" --env "$work/bad.env" --root "$work/root2" > "$work/install2.log" 2>&1 ||
    [ -n "$(ls -A "$work/root2")" ]; then
    echo "FAIL: install.sh installed with a bad setting:" >&2; cat "$work/install2.log" >&2; exit 1
fi
grep -q BEHIND_PROXY "$work/install2.log" || { echo "FAIL: install.sh did not name the bad setting" >&2; exit 1; }
echo "ok:   install.sh installs binary, settings (600) and unit, enables it; refuses bad settings"
echo "check-systemd-unit: all checks passed"
