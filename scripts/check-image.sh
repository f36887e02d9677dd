#!/usr/bin/env bash
# Checks the scratch image without a Docker engine: builds the static musl binary, then runs it
# in an empty root shaped like the image (/bedrock-mcp and /kb, nothing else) as uid 65532.
# The arm64 (Graviton) binary runs the same way under qemu-user, which is then the one other
# file in the root.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: check-image.sh [--arch amd64|arm64] [--no-build | --binary PATH]
                      [--sandbox auto|bwrap|chroot|unshare] [-h|--help]

CI checks the image without a Docker engine. This script:
  1. builds: cargo build --release --locked --target x86_64-unknown-linux-musl
     (CC_x86_64_unknown_linux_musl=musl-gcc when unset, for ring's C code), or
     aarch64-unknown-linux-musl with --arch arm64 (cross tools: see .cargo/config.toml);
  2. asserts the binary is statically linked (readelf: no INTERP, no NEEDED) and reports its
     size, and the would-be image size (binary + examples/kb, what the FROM scratch image holds);
  3. runs it in an empty, read-only root holding only /bedrock-mcp and /kb (plus the /proc and
     /dev every container gets), as uid:gid 65532:65532 like Dockerfile.scratch, on 127.0.0.1:
       - GET /health answers 200;
       - /bedrock-mcp healthcheck, run inside the sandbox as the Docker HEALTHCHECK would, exits 0;
       - an MCP tools/call search_knowledge_base answers with text from examples/kb;
       - SIGTERM makes it exit 0 within 10 s (it is PID 1 in the bwrap sandbox, as in Docker);
       - `/bedrock-mcp check` with a bad setting (WORKER_THREADS=0) exits non-zero and names it.
     With --arch arm64 each of these runs under qemu-aarch64-static (copied into the root as
     /qemu-aarch64; apt-get install qemu-user-static), which is then PID 1.
Prints a summary table; exits 1 when any check fails, 2 on bad usage.

  --arch ARCH         amd64 (default) or arm64, as Docker's TARGETARCH names them
  --no-build          check the binary already in target/ instead of building it
  --binary PATH       check this binary (e.g. one scripts/release.sh wrote) instead of building
  --sandbox MODE      bwrap (default when installed): namespaces like a container;
                      chroot (root only): same root and uid, host namespaces, no /proc or /dev;
                      unshare: a user namespace and chroot, for non-root users without bwrap
Needs readelf (binutils), curl, python3, and bwrap or util-linux (chroot/unshare, setpriv, nsenter).
EOF
}

build=1
sandbox=auto
arch=amd64
binary=""
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --no-build) build=0 ;;
        --binary) binary="${2:-}"; build=0; shift ;;
        --arch) arch="${2:-}"; shift ;;
        --arch=*) arch="${1#--arch=}" ;;
        --sandbox) sandbox="${2:-}"; shift ;;
        --sandbox=*) sandbox="${1#--sandbox=}" ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$sandbox" in
    auto | bwrap | chroot | unshare) ;;
    *) echo "error: --sandbox must be auto, bwrap, chroot or unshare, not '$sandbox'" >&2; exit 2 ;;
esac

case "$arch" in
    amd64) target=x86_64-unknown-linux-musl; machine="X86-64" ;;
    arm64) target=aarch64-unknown-linux-musl; machine="AArch64" ;;
    *) echo "error: --arch must be amd64 or arm64, not '$arch'" >&2; exit 2 ;;
esac
[ -z "$binary" ] || binary="$(realpath -m "$binary")"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${binary:-${CARGO_TARGET_DIR:-$root/target}/$target/release/bedrock-mcp}"
# The image's USER (numeric: scratch has no /etc/passwd).
uid=65532
gid=65532

die() { echo "check-image: $*" >&2; exit 1; }
# A foreign binary runs under qemu-user; the static build, so it needs nothing in the root.
qemu=()
if [ "$arch" != amd64 ]; then
    qemu_bin="$(command -v qemu-aarch64-static || true)"
    [ -n "$qemu_bin" ] || die "qemu-aarch64-static is not installed (apt-get install -y qemu-user-static)"
    qemu=(/qemu-aarch64)
fi
for tool in readelf curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (apt-get install -y binutils curl python3)"
done
if [ "$sandbox" = auto ]; then
    if command -v bwrap >/dev/null 2>&1; then sandbox=bwrap
    elif [ "$(id -u)" -eq 0 ]; then sandbox=chroot
    else sandbox=unshare
    fi
fi
case "$sandbox" in
    bwrap) command -v bwrap >/dev/null 2>&1 || die "bwrap is not installed (apt-get install -y bubblewrap)" ;;
    chroot) [ "$(id -u)" -eq 0 ] || die "--sandbox chroot needs root; use bwrap or unshare" ;;
esac

# Results for the summary; anything not reached stays "not run".
declare -A result=([static]="not run" [size]="not run" [user]="not run" [health]="not run"
    [tool]="not run" [healthcheck]="not run" [sigterm]="not run" [check]="not run")
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

work=""
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

summary() {
    echo
    echo "== check-image summary ($arch, sandbox: $sandbox${qemu[*]:+, under qemu-user})"
    printf '%-24s %s\n' "static binary" "${result[static]}" "binary size" "${result[size]}" \
        "runs as" "${result[user]}" "GET /health" "${result[health]}" "tools/call" "${result[tool]}" \
        "healthcheck subcommand" "${result[healthcheck]}" "SIGTERM exit" "${result[sigterm]}" \
        "check, bad setting" "${result[check]}"
    if [ -n "${image_line:-}" ]; then echo "$image_line"; fi
}

mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }

# --- 1. Build ---------------------------------------------------------------------------------
if [ "$build" -eq 1 ]; then
    if [ -z "${CC_x86_64_unknown_linux_musl:-}" ] && command -v musl-gcc >/dev/null 2>&1; then
        export CC_x86_64_unknown_linux_musl=musl-gcc
    fi
    echo "== cargo build --release --locked --target $target"
    cargo build --release --locked --target "$target"
fi
[ -x "$bin" ] || die "no binary at $bin (build it, or drop --no-build)"

# --- 2. Static and size -------------------------------------------------------------------------
# A dynamic binary on scratch dies with "no such file or directory": its loader is missing.
static=yes
if ! readelf -hW "$bin" | grep -q "Machine:.*$machine"; then
    static=no
    fail "$bin is not an $arch binary: $(readelf -hW "$bin" | grep Machine: || true)"
fi
if readelf -lW "$bin" | grep -q 'INTERP'; then static=no; fail "$bin asks for a program interpreter"; fi
if readelf -dW "$bin" | grep -q '(NEEDED)'; then static=no; fail "$bin needs shared libraries"; fi
if command -v ldd >/dev/null 2>&1; then
    ldd_out="$(ldd "$bin" 2>&1 || true)"
    if ! grep -Eq 'not a dynamic executable|statically linked' <<<"$ldd_out"; then
        static=no
        fail "ldd lists libraries: $ldd_out"
    fi
fi
result[static]="$static"
bin_bytes="$(stat -c %s "$bin")"
result[size]="$bin_bytes bytes ($(mib "$bin_bytes"))"
kb_bytes="$(find examples/kb -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')"
image_bytes=$((bin_bytes + kb_bytes))
gz_bytes="$(gzip -6 -c "$bin" | wc -c)"
image_line="$(printf '%-24s %s bytes (%s) = binary + %s bytes of examples/kb; binary gzipped %s bytes (%s)' \
    "would-be image size" "$image_bytes" "$(mib "$image_bytes")" "$kb_bytes" "$gz_bytes" "$(mib "$gz_bytes")")"
echo "binary: $bin, $bin_bytes bytes ($(mib "$bin_bytes")), static: $static"

# --- 3. The empty root ----------------------------------------------------------------------------
work="$(mktemp -d)"
sroot="$work/root"
# proc/ and dev/ are empty mount points, as the runtime creates in a scratch container.
mkdir -p "$sroot/proc" "$sroot/dev"
cp "$bin" "$sroot/bedrock-mcp"
if ((${#qemu[@]})); then cp "$qemu_bin" "$sroot/qemu-aarch64" && chmod 0755 "$sroot/qemu-aarch64"; fi
cp -R examples/kb "$sroot/kb"
# Root-owned and read-only to the server, like the image's COPY; the non-root sandbox user
# must still be able to reach the directory it is bound from.
chmod 0755 "$work" "$sroot" "$sroot/bedrock-mcp"
find "$sroot/kb" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +

# Port 0: the kernel picks a free port and the server logs it; probing for a free port
# races with other processes' ephemeral ports on a busy machine.
url=""
# The image's environment (Dockerfile ENV), but on loopback; nothing of the host's leaks in.
env_vars=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/
    SERVER_HOST=127.0.0.1 SERVER_PORT=0)
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    as_user=("$(command -v setpriv)" "--reuid=$uid" "--regid=$gid" --clear-groups --)
fi
case "$sandbox" in
    bwrap)
        # Namespaces like a container's: own mount, pid, ipc, uts, cgroup and user namespaces,
        # the host's network (to be reachable on 127.0.0.1). The read-only root holds only the
        # image's files; /proc and /dev are what every container runtime mounts. No /etc:
        # nothing here may need passwd, hosts or resolv.conf. As root, first drop to the
        # image's uid so the server is non-root outside the sandbox too, not only inside.
        launch=("${as_user[@]}" "$(command -v bwrap)" --ro-bind "$sroot" / --proc /proc --dev /dev
            --unshare-all --share-net --die-with-parent --as-pid-1 --new-session
            --uid "$uid" --gid "$gid" --cap-drop ALL --chdir /)
        ;;
    chroot)
        launch=("$(command -v chroot)" "--userspec=$uid:$gid" "$sroot") ;;
    unshare)
        launch=("${as_user[@]}" "$(command -v unshare)" --user "--map-user=$uid" "--map-group=$gid"
            "--root=$sroot") ;;
esac

echo "== starting ${qemu[*]:+${qemu[*]} }/bedrock-mcp --local-kb /kb in an empty root ($sandbox) on 127.0.0.1, port 0"
log="$work/server.log"
info="$work/bwrap-info.json"
if [ "$sandbox" = bwrap ]; then
    env -i "${env_vars[@]}" "${launch[@]}" --info-fd 3 "${qemu[@]}" /bedrock-mcp --local-kb /kb \
        3>"$info" 2>"$log" </dev/null &
else
    env -i "${env_vars[@]}" "${launch[@]}" "${qemu[@]}" /bedrock-mcp --local-kb /kb 2>"$log" </dev/null &
fi
server_pid=$!

# The process that receives SIGTERM: in bwrap the sandbox's PID 1, which is the server itself
# (--as-pid-1, as ENTRYPOINT makes it PID 1 in Docker); the other launchers exec it in place.
sandbox_pid() {
    if [ "$sandbox" = bwrap ]; then
        sed -n 's/.*"child-pid": *\([0-9][0-9]*\).*/\1/p' "$info" 2>/dev/null || true
    else
        echo "$server_pid"
    fi
}
deadline=$((SECONDS + 30))
up=0
while ((SECONDS < deadline)) && kill -0 "$server_pid" 2>/dev/null; do
    if [ -z "$url" ]; then
        addr="$(sed -n 's/.*"msg":"listening","addr":"\([0-9.]*:[0-9]*\)".*/\1/p' "$log" | head -n 1)"
        [ -n "$addr" ] && url="http://$addr" && echo "== listening on $url"
    fi
    if [ -n "$url" ] && curl -fsS -o /dev/null --max-time 2 "$url/health" 2>/dev/null; then up=1; break; fi
    sleep 0.2
done
target_pid="$(sandbox_pid)"
if [ "$up" -eq 1 ] && [ -z "$target_pid" ]; then
    up=0
    fail "bwrap did not report the sandbox's pid"
fi
if [ "$up" -ne 1 ]; then
    echo "--- server log" >&2
    cat "$log" >&2 || true
    if kill -0 "$server_pid" 2>/dev/null; then
        result[health]="FAIL (never answered)"
        fail "the server did not answer on $url within 30 s"
    else
        result[health]="FAIL (exited at start)"
        fail "the server exited before answering (see its log above)"
    fi
    summary
    exit 1
fi

# Seen from the host: the server's effective uid, and its pid inside its own namespace.
euid="$(awk '/^Uid:/ { print $3 }' "/proc/$target_pid/status" 2>/dev/null || true)"
nspid="$(awk '/^NSpid:/ { print $NF }' "/proc/$target_pid/status" 2>/dev/null || true)"
if [ -n "$euid" ] && [ "$euid" -ne 0 ]; then
    result[user]="uid $euid on the host, PID $nspid in its namespace"
else
    result[user]="FAIL (uid ${euid:-unknown})"
    fail "the server runs as uid ${euid:-unknown} on the host; it must not be root"
fi

# GET /health from outside, as the load balancer does.
code="$(curl -sS -o "$work/health.json" -w '%{http_code}' --max-time 5 "$url/health" || true)"
if [ "$code" = 200 ]; then result[health]="200"; else result[health]="FAIL ($code)"; fail "GET /health answered $code"; fi

# The HEALTHCHECK runs inside the container: same root, namespaces, uid and environment. Root
# joins the sandbox's namespaces as docker exec does; others may not enter the host's cgroup
# and mount namespaces from the sandbox's user namespace, so they start a second sandbox of
# the same shape (same root and uid, host network).
if [ "$sandbox" != chroot ] && [ "$(id -u)" -eq 0 ]; then
    inside=("$(command -v nsenter)" "--target=$target_pid" --all --root --wd
        "--setuid=$uid" "--setgid=$gid")
    how="nsenter into the sandbox"
else
    inside=("${launch[@]}")
    how="second sandbox, same root"
fi
# The image's HEALTHCHECK uses the configured SERVER_PORT; here that is the port the kernel chose.
hc_env=("${env_vars[@]}" "SERVER_PORT=${url##*:}")
if hc_out="$(env -i "${hc_env[@]}" "${inside[@]}" "${qemu[@]}" /bedrock-mcp healthcheck 2>&1)"; then
    result[healthcheck]="exit 0 ($how)"
else
    rc=$?
    result[healthcheck]="FAIL (exit $rc, $how)"
    fail "/bedrock-mcp healthcheck inside the sandbox exited $rc: $hc_out"
fi

# One MCP tool call: the answer must quote the sample knowledge base.
expect_file="aws-lambda-basics.md"
[ -f "examples/kb/$expect_file" ] || die "examples/kb/$expect_file is missing; pick another file"
body='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"AWS Lambda","max_results":2}}}'
answer="$(curl -sS --max-time 10 "$url/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -d "$body" || true)"
# The passage must be verbatim text of that file (lines of 30+ characters), not just its name.
quoted="$(python3 - "examples/kb/$expect_file" "$answer" <<'PY' || true
import json, sys
kb = open(sys.argv[1]).read().splitlines()
result = json.loads(sys.argv[2])["result"]
text = result["content"][0]["text"] if result.get("isError") is False else ""
print(sum(1 for line in text.splitlines() if len(line) >= 30 and line in kb))
PY
)"
if grep -qF "source $expect_file" <<<"$answer" && [ "${quoted:-0}" -gt 0 ] 2>/dev/null; then
    result[tool]="ok (quotes $quoted lines of $expect_file)"
else
    result[tool]="FAIL"
    fail "tools/call search_knowledge_base did not quote $expect_file: ${answer:0:400}"
fi

# SIGTERM, as docker stop sends it to the container's PID 1.
kill -TERM "$target_pid"
deadline=$((SECONDS + 10))
while ((SECONDS < deadline)) && kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
    result[sigterm]="FAIL (still running after 10 s)"
    fail "the server ignored SIGTERM for 10 s"
else
    rc=0
    wait "$server_pid" || rc=$?
    server_pid=""
    if [ "$rc" -eq 0 ]; then result[sigterm]="exit 0"; else result[sigterm]="FAIL (exit $rc)"; fail "exit status $rc after SIGTERM"; fi
fi

# `check` with a bad setting, as an operator would run it before starting the service: a
# non-zero exit and a message naming the setting, not a panic or a silent default.
rc=0
check_out="$(env -i "${env_vars[@]}" WORKER_THREADS=0 "${launch[@]}" "${qemu[@]}" /bedrock-mcp check 2>&1)" || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -lt 100 ] && grep -q 'WORKER_THREADS: must be a whole number' <<<"$check_out"; then
    result[check]="exit $rc: ${check_out:0:70}"
else
    result[check]="FAIL (exit $rc)"
    fail "check with WORKER_THREADS=0 exited $rc: ${check_out:0:300}"
fi

if [ "$failed" -ne 0 ]; then
    echo "--- server log" >&2
    cat "$log" >&2 || true
fi
summary
if [ "$failed" -ne 0 ]; then
    echo "check-image: FAILED" >&2
    exit 1
fi
echo "check-image: all checks passed"
