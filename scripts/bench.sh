#!/usr/bin/env bash
# Benchmarks bedrock-mcp on this machine in one run and writes BENCHMARKS.md.
#
# Builds the release binary and the static musl one (what the scratch image ships), then on
# 127.0.0.1 only: the shipped binary with the image's own settings (Dockerfile.scratch's ENV,
# nothing else but the fake's address and keys) under 256 calls to a Bedrock answering in
# 250 ms, the headline; the server at its defaults against a fake Bedrock (instant, then
# 250 ms), the same load against a bare
# tiny_http server (the stack's ceiling), auth on vs off against a fake Entra, memory and
# threads idle, under load and with 1,000 legacy SSE sessions, start-up time, and the
# dependency and code size. Load comes from wrk with bench/mcp_call.lua. Targets are
# reported (PASS/MISS), not asserted: the script fails only when a measurement cannot run.
#
# The measurements take about 2.5 minutes; the two builds (side by side) about 3 more on two
# idle cores from a clean clone.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/bench.sh [--quick] [--no-build] [--musl-bin PATH] [--out FILE]

  --quick     short runs (3 s) and 3 start-up runs, for developing the benchmark itself
  --no-build  use the binaries already in target/ (developing the benchmark itself)
  --musl-bin PATH  measure this static musl binary as the shipped one (e.g. the
              x86_64 binary scripts/release.sh wrote) instead of building one
  --out FILE  where to write the report (default: BENCHMARKS.md at the repository root)

Needs cargo, python3, curl and wrk (installed with apt-get when missing).
Environment: BENCH_KEEP=1 keeps the raw results directory and prints its path.
EOF
}

cd "$(dirname "$0")/.."
root=$PWD
out="$root/BENCHMARKS.md"
quick=false
build=true
musl_given=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --quick) quick=true ;;
        --no-build) build=false ;;
        --musl-bin) musl_given=$(realpath -m "${2:?--musl-bin needs a file}"); shift ;;
        --out) out=$(realpath -m "${2:?--out needs a file}"); shift ;;
        *) echo "bench.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

if $quick; then
    dur=3s; slow_dur=3s; evidence_dur=2s; startup_runs=3
else
    dur=10s; slow_dur=15s; evidence_dur=5s; startup_runs=10
fi
upstream_latency_ms=250
slow_conns=256
sse_sessions=1000
# Short on purpose: the SSE phase waits this long to see the held streams' read side time out.
read_timeout=10
sse_keepalive=5
# The server's default WORKER_THREADS (src/config/server.rs); the ceilings get a pool this size.
default_workers=128
# Settings the bench changes from the defaults, per phase; the report labels those rows.
# 1,000 SSE sessions from one address, with short timeouts so the phase ends in seconds.
tuned_sse=(MAX_CONNECTIONS_PER_IP=0 MAX_CONNECTIONS=4096 MAX_SSE_SESSIONS=2000
    "HTTP_READ_TIMEOUT_SECS=$read_timeout" "SSE_KEEPALIVE_SECS=$sse_keepalive")
# The glibc build under 256 slow calls: the binary's default pool is 128, the image's 256.
tuned_slow=(WORKER_THREADS=256)

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Tools and limits

# apt_install PACKAGE...: installs Debian packages (as root, or through sudo).
apt_install() {
    local sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    command -v apt-get >/dev/null || return 1
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    log "installing ${need[*]}"
    apt_install "${need[@]}" || die "please install ${need[*]} (Debian packages of the same names)"
fi
# ring compiles C for the static musl build (as Dockerfile.scratch and .ci/run do); without
# it the report gives the glibc binary's size instead.
if ! command -v musl-gcc >/dev/null; then
    log "installing musl-tools"
    apt_install musl-tools || echo "bench.sh: could not install musl-tools" >&2
fi
command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"

# 1,000 SSE sessions plus 256 load connections, both ends in this process tree.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4096 ] || die "open-file limit $(ulimit -n) is too low (need 4096+)"

run=$(mktemp -d "${TMPDIR:-/tmp}/bedrock-mcp-bench.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench.sh: raw results kept in $run" >&2
    else
        rm -rf "$run"
    fi
}
trap cleanup EXIT
mkdir -p "$run/wrk" "$run/home"
cmds="$run/commands.txt"
: >"$cmds"
# Records a command for the report, then runs it.
recorded() {
    printf '%s\n' "$*" >>"$cmds"
    "$@"
}

# ---------------------------------------------------------------------------------------
# Build

# The glibc release build (what we measure, plus the helper programs) and the static musl
# build (what the scratch image ships; only its size is reported) run side by side: each
# ends in a long single-threaded LTO link, so together they keep both cores busy. The musl
# build gets its own target directory, since cargo locks a target directory per build.
musl_target=x86_64-unknown-linux-musl
musl_dir="$root/target/bench-musl"
musl_bin="$musl_dir/$musl_target/release/bedrock-mcp"
bin="$root/target/release/bedrock-mcp"
ex="$root/target/release/examples"
gnu_cmd=(cargo build --release --locked --features tools --bin bedrock-mcp
    --example bench_upstream --example bench_ceiling --example bench_entra --example bench_forward)
musl_cmd=(cargo build --release --locked --target "$musl_target" --target-dir "$musl_dir"
    --bin bedrock-mcp)
# Profile overrides from the environment change what is measured: the report shows them.
overrides=$(env | grep -E '^CARGO_PROFILE_RELEASE_' | sort | tr '\n' ' ' || true)
if [ -n "$musl_given" ]; then
    [ -x "$musl_given" ] || die "--musl-bin $musl_given is not an executable file"
    musl_cmd=(true)
    printf '%s\n' "${overrides}${gnu_cmd[*]}" "# static musl binary given: ${musl_given#"$root"/}" >>"$cmds"
else
    printf '%s\n' "${overrides}${gnu_cmd[*]}" "${overrides}${musl_cmd[*]//"$root"\//}   # at the same time" >>"$cmds"
fi
musl_ok=false
if [ -n "$musl_given" ] && $build; then
    log "build: glibc release (the static musl binary is given)"
    t0=$(date +%s.%N)
    "${gnu_cmd[@]}" || die "the release build failed"
    release_secs=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    musl_secs=null
    musl_bin=$musl_given
    musl_ok=true
elif $build; then
    log "build: glibc release and static musl release, side by side"
    musl_ready=false
    if rustup target list --installed 2>/dev/null | grep -qx "$musl_target" \
        || rustup target add "$musl_target" >/dev/null 2>&1; then
        musl_ready=true
        # ring compiles C for the musl target: use musl's gcc wrapper when there is one.
        if command -v musl-gcc >/dev/null; then
            export CC_x86_64_unknown_linux_musl=musl-gcc
        fi
    fi
    t0=$(date +%s.%N)
    if $musl_ready; then
        ("${musl_cmd[@]}" >"$run/musl-build.log" 2>&1; echo $? >"$run/musl-build.rc") &
        musl_build_pid=$!
        pids+=("$musl_build_pid")
    fi
    "${gnu_cmd[@]}" || die "the release build failed"
    release_secs=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    if $musl_ready; then
        wait "$musl_build_pid" || true
        [ "$(cat "$run/musl-build.rc")" = 0 ] && musl_ok=true
    fi
    musl_secs=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    $musl_ok || tail -20 "$run/musl-build.log" >&2
else
    release_secs=null
    musl_secs=null
    # A musl binary from an ordinary `cargo build --target` will do as well.
    [ -x "$musl_bin" ] || musl_bin="$root/target/$musl_target/release/bedrock-mcp"
    [ -z "$musl_given" ] || musl_bin=$musl_given
    [ -x "$musl_bin" ] && musl_ok=true
fi
for f in "$bin" "$ex/bench_upstream" "$ex/bench_ceiling" "$ex/bench_entra" "$ex/bench_forward"; do
    [ -x "$f" ] || die "$f is missing (run without --no-build)"
done
if $musl_ok; then
    size_bin=$musl_bin
    if readelf -d "$musl_bin" 2>/dev/null | grep -q NEEDED; then
        linkage="musl, dynamically linked (check .cargo/config.toml)"
    else
        linkage="musl, static"
    fi
else
    echo "bench.sh: no musl build; reporting the glibc release binary's size instead" >&2
    size_bin=$bin
    linkage="glibc, dynamically linked: the musl build failed"
fi
printf '{"release_secs": %s, "musl_secs": %s, "musl_ok": %s, "binary": "%s", "bytes": %s, "gnu_bytes": %s, "linkage": "%s", "overrides": "%s", "musl_given": %s}\n' \
    "$release_secs" "$musl_secs" "$musl_ok" "${size_bin#"$root"/}" "$(stat -c %s "$size_bin")" \
    "$(stat -c %s "$bin")" "${linkage:-unknown}" "${overrides% }" "$([ -n "$musl_given" ] && echo true || echo false)" >"$run/build.json"

# The environment the scratch image gives the server: the ENV lines of its final stage.
mapfile -t image_env < <(python3 - Dockerfile.scratch <<'EOF'
import re, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
final = text[text.rindex("\nFROM scratch"):]
for line in final.splitlines():
    if line.startswith("ENV "):
        for k, v in re.findall(r"(\w+)=(\S+)", line[4:]):
            if k not in ("SERVER_HOST", "SERVER_PORT"):
                print(f"{k}={v}")
EOF
)
printf '%s\n' "${image_env[@]}" >"$run/image_env.txt"

# ---------------------------------------------------------------------------------------
# Helpers

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# proc_field PID FIELD: a field of /proc/PID/status, number only (kB for memory).
proc_field() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# CPU ticks (user + system) the process used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# wait_line FILE N: waits (up to 30 s) until FILE has N lines.
wait_line() {
    for _ in $(seq 300); do
        if [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; then
            return 0
        fi
        sleep 0.1
    done
    die "timed out waiting for output in $1"
}

# json_get FILE LINE KEY: a top-level value of the JSON object on line LINE of FILE
# (empty when absent or null).
json_get() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
line = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1]
v = json.loads(line).get(sys.argv[3])
print("" if v is None else str(v).lower() if isinstance(v, bool) else v)
EOF
}

# start_fed NAME CMD...: starts CMD reading a FIFO that this shell holds open; closing the
# FIFO (stop_fed NAME) is the program's signal to finish. Output goes to $run/NAME.out.
declare -A fed_fd fed_pid
start_fed() {
    local name=$1 fd
    shift
    mkfifo "$run/$name.in"
    "$@" <"$run/$name.in" >"$run/$name.out" 2>"$run/$name.err" &
    fed_pid[$name]=$!
    pids+=("$!")
    exec {fd}>"$run/$name.in"
    fed_fd[$name]=$fd
}
stop_fed() {
    local fd=${fed_fd[$1]}
    exec {fd}>&-
    wait "${fed_pid[$1]}" || true
}

# The fake upstreams.
start_upstream() {
    local name=$1 latency=$2
    start_fed "$name" "$ex/bench_upstream" --latency-ms "$latency"
    wait_line "$run/$name.out" 1
}

# server_env NAME UPSTREAM PORT [VAR=VALUE...]: the environment of a server under test.
server_env() {
    local up=$1 port=$2
    shift 2
    local f="$run/$up.out"
    local url key secret token kb region
    url=$(json_get "$f" 1 url)
    key=$(json_get "$f" 1 access_key_id)
    secret=$(json_get "$f" 1 secret_access_key)
    token=$(json_get "$f" 1 session_token)
    kb=$(json_get "$f" 1 kb_id)
    region=$(json_get "$f" 1 region)
    # Only what reaching the fake needs, loopback, and a short drain so each phase stops
    # quickly; every other setting is the server's default unless a phase passes it.
    printf '%s\n' "PATH=$PATH" "HOME=$run/home" SERVER_HOST=127.0.0.1 "SERVER_PORT=$port" \
        SHUTDOWN_TIMEOUT_SECS=2 AWS_EC2_METADATA_DISABLED=true "BEDROCK_KB_ID=$kb" \
        "AWS_REGION=$region" "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME=$url" \
        "AWS_ENDPOINT_URL_BEDROCK_AGENT=$url" "AWS_ACCESS_KEY_ID=$key" \
        "AWS_SECRET_ACCESS_KEY=$secret" "$@"
    if [ -n "$token" ]; then
        printf '%s\n' "AWS_SESSION_TOKEN=$token"
    fi
}

# start_server NAME UPSTREAM [VAR=VALUE...]: starts the server in an empty directory (so no
# .env applies), waits for /health, sets $server_pid and $server_url.
start_server() {
    local name=$1 up=$2 port
    shift 2
    port=$(free_port)
    mapfile -t senv < <(server_env "$up" "$port" "$@")
    {
        printf '  [%s] env -i' "$name"
        printf ' %s' "${senv[@]}" | sed 's/ PATH=[^ ]*//; s/ HOME=[^ ]*//; s/ AWS_SECRET_ACCESS_KEY=[^ ]*//; s/ AWS_SESSION_TOKEN=[^ ]*//'
        printf ' %s\n' "${bin#"$root"/}"
    } >>"$cmds"
    (cd "$run/home" && exec env -i "${senv[@]}" "$bin") 2>"$run/$name.log" &
    server_pid=$!
    pids+=("$server_pid")
    server_url="http://127.0.0.1:$port"
    for _ in $(seq 200); do
        if curl -fsS -o /dev/null "$server_url/health" 2>/dev/null; then
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || die "server $name exited: $(tail -3 "$run/$name.log")"
        sleep 0.05
    done
    die "server $name did not answer /health in 10 s"
}

stop_server() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# The request wrk sends too (bench/mcp_call.lua reads the same file).
mcp_body=$(cat bench/tools_call.json)

# check_call URL [AUTH]: one tools/call; dies unless it is a 200 with results and no tool
# error; prints the response size in bytes (the ceiling serves a body this large).
check_call() {
    local auth=()
    [ $# -lt 2 ] || auth=(-H "Authorization: Bearer $2")
    curl -sS -o "$run/call.json" -w '%{http_code} %{size_download}\n' "$1/mcp" \
        -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
        -H 'MCP-Protocol-Version: 2025-06-18' "${auth[@]}" -d "$mcp_body" >"$run/call.status"
    python3 - "$run/call.json" "$run/call.status" <<'EOF' || die "tools/call check failed (see above)"
import json, sys
status, size = open(sys.argv[2]).read().split()
body = json.load(open(sys.argv[1]))
result = body.get("result") or {}
if status != "200" or "error" in body or result.get("isError"):
    sys.exit(f"tools/call answered {status}: {json.dumps(body)[:400]}")
if not result.get("content") or (result.get("structuredContent") or {}).get("count", 1) < 1:
    sys.exit(f"tools/call found nothing (does bench/tools_call.json still match the fake's corpus?): {json.dumps(body)[:400]}")
print(size)
EOF
}

# timewait PORT: client sockets to 127.0.0.1:PORT in TIME-WAIT (0 without ss).
timewait() {
    if command -v ss >/dev/null; then
        ss -Htan state time-wait "( dport = :$1 )" | wc -l
    else
        echo 0
    fi
}

# The fake Bedrock the current server talks to (a start_fed name), for CPU and TIME-WAIT.
upstream=""

# load NAME PID URL CONNS DURATION: one wrk run. Besides wrk's numbers it records the CPU
# time of the server, of the fake Bedrock and of wrk itself (all three share the cores), the
# server's peak thread count and memory, and the upstream connections left in TIME-WAIT
# (each one a connection that was opened for one call instead of being reused).
load() {
    local name=$1 pid=$2 url=$3 conns=$4 d=$5 before up_before=0 up_after=0 after sampler
    local up_pid="" up_port="" tw_before=0 TIMEFORMAT='%U %S'
    # Warm-up at the same concurrency (connection threads, upstream connections); dropped.
    wrk -t2 "-c$conns" -d2s -s bench/mcp_call.lua "$url" >/dev/null 2>&1 || true
    if [ -n "$upstream" ]; then
        up_pid=${fed_pid[$upstream]}
        up_port=$(json_get "$run/$upstream.out" 1 url | sed 's/.*://; s,/.*,,')
        up_before=$(cpu_ticks "$up_pid")
        tw_before=$(timewait "$up_port")
    fi
    before=$(cpu_ticks "$pid")
    (
        max=0
        while kill -0 "$pid" 2>/dev/null; do
            t=$(proc_field "$pid" Threads)
            [ "${t:-0}" -le "$max" ] || { max=$t; echo "$max" >"$run/wrk/$name.threads"; }
            sleep 0.2
        done
    ) &
    sampler=$!
    { time recorded wrk -t2 "-c$conns" "-d$d" --latency -s bench/mcp_call.lua "$url" \
        >"$run/wrk/$name.txt"; } 2>"$run/wrk/$name.time"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    after=$(cpu_ticks "$pid")
    [ -z "$up_pid" ] || up_after=$(cpu_ticks "$up_pid")
    grep -q '^BENCH ' "$run/wrk/$name.txt" || die "wrk $name printed no result: $(cat "$run/wrk/$name.txt")"
    # TIME-WAIT lasts 60 s: count this run's new ones (older ones may expire meanwhile).
    local tw=null
    if [ -n "$up_port" ] && command -v ss >/dev/null; then
        tw=$(($(timewait "$up_port") - tw_before))
        [ "$tw" -ge 0 ] || tw=0
    fi
    printf '{"conns": %s, "cpu_ticks": %s, "upstream_cpu_ticks": %s, "wrk_cpu_secs": %s, "clk_tck": %s, "threads_max": %s, "hwm_kb": %s, "timewait_upstream": %s, "loadavg": "%s"}\n' \
        "$conns" "$((after - before))" "$((up_after - up_before))" \
        "$(tail -1 "$run/wrk/$name.time" | awk '{ print $1 + $2 }')" "$(getconf CLK_TCK)" \
        "$(cat "$run/wrk/$name.threads" 2>/dev/null || echo 0)" "$(proc_field "$pid" VmHWM)" \
        "$tw" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$run/wrk/$name.meta"
}

# ---------------------------------------------------------------------------------------
# Machine

log "machine"
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
python3 - "$run/machine.json" <<EOF
import json, sys
json.dump({
    "nproc": $(nproc),
    "cpu": """${cpu_model:-unknown}""".strip(),
    "kernel": "$(uname -sr)",
    "mem_total_kb": $(awk '/^MemTotal/ { print $2 }' /proc/meminfo),
    "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    "rustc": "$(rustc -V)",
    "wrk": "$(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')",
    "python": "$(python3 -V 2>&1)",
    "commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')",
    "loadavg_before": "$(cut -d' ' -f1-3 /proc/loadavg)",
}, open(sys.argv[1], "w"))
EOF

# ---------------------------------------------------------------------------------------
# 1. Instant fake Bedrock: the server, then the ceiling, at 16 and 64 connections

log "throughput: instant fake Bedrock"
start_upstream up0 0
upstream=up0
start_server fast up0
fast_pid=$server_pid
fast_url=$server_url
body_bytes=$(check_call "$fast_url")
idle_rss=$(proc_field "$fast_pid" VmRSS)
idle_threads=$(proc_field "$fast_pid" Threads)
load server_c16 "$fast_pid" "$fast_url" 16 "$dur"
load server_c64 "$fast_pid" "$fast_url" 64 "$dur"
check_call "$fast_url" >/dev/null
printf '{"idle_rss_kb": %s, "idle_threads": %s, "body_bytes": %s, "peak_hwm_kb": %s}\n' \
    "$idle_rss" "$idle_threads" "$body_bytes" "$(proc_field "$fast_pid" VmHWM)" >"$run/rss.json"

log "throughput: the ceiling (bare tiny_http, same pool size and body size)"
upstream=""
start_fed ceiling "$ex/bench_ceiling" --threads "$default_workers" --body-bytes "$body_bytes" --nodelay 1
wait_line "$run/ceiling.out" 1
printf '  [ceiling] target/release/examples/bench_ceiling --threads %s --body-bytes %s --nodelay 1\n' \
    "$default_workers" "$body_bytes" >>"$cmds"
ceiling_url=$(json_get "$run/ceiling.out" 1 url)
load ceiling_c16 "${fed_pid[ceiling]}" "$ceiling_url" 16 "$dur"
load ceiling_c64 "${fed_pid[ceiling]}" "$ceiling_url" 64 "$dur"
stop_fed ceiling

# Evidence for the write path: the same ceiling with tiny_http's default (Nagle on).
start_fed ceiling_nagle "$ex/bench_ceiling" --threads "$default_workers" --body-bytes "$body_bytes" --nodelay 0
wait_line "$run/ceiling_nagle.out" 1
printf '  [ceiling_nagle] target/release/examples/bench_ceiling --threads %s --body-bytes %s --nodelay 0\n' \
    "$default_workers" "$body_bytes" >>"$cmds"
load ceiling_nagle_c16 "${fed_pid[ceiling_nagle]}" "$(json_get "$run/ceiling_nagle.out" 1 url)" 16 "$evidence_dur"
stop_fed ceiling_nagle

# The second ceiling: tiny_http + one ureq exchange with the same fake Bedrock per request,
# signed once at start-up, answers passed through as bytes: our stack without our own work.
log "throughput: the forwarding ceiling (tiny_http + ureq to the fake Bedrock, no JSON, no signing)"
upstream=up0
query=$(python3 -c 'import json; print(json.load(open("bench/tools_call.json"))["params"]["arguments"]["query"])')
fwd_args=(--upstream "$(json_get "$run/up0.out" 1 url)" --key "$(json_get "$run/up0.out" 1 access_key_id)"
    --secret "$(json_get "$run/up0.out" 1 secret_access_key)" --token "$(json_get "$run/up0.out" 1 session_token)"
    --kb "$(json_get "$run/up0.out" 1 kb_id)" --region "$(json_get "$run/up0.out" 1 region)"
    --query "$query" --results 5 --threads "$default_workers")
start_fed forward "$ex/bench_forward" "${fwd_args[@]}"
wait_line "$run/forward.out" 1
printf '  [forward] target/release/examples/bench_forward --upstream URL --key ID --secret KEY --kb ID --region R --query "%s" --results 5 --threads %s\n' \
    "$query" "$default_workers" >>"$cmds"
forward_url=$(json_get "$run/forward.out" 1 url)
load forward_c16 "${fed_pid[forward]}" "$forward_url" 16 "$dur"
load forward_c64 "${fed_pid[forward]}" "$forward_url" 64 "$dur"
stop_fed forward

# ---------------------------------------------------------------------------------------
# 2. Auth on: the same load with a bearer token against a fake Entra

log "auth on vs off"
upstream=up0
start_fed entra "$ex/bench_entra"
wait_line "$run/entra.out" 1
printf '  [entra] target/release/examples/bench_entra\n' >>"$cmds"
token=$(json_get "$run/entra.out" 1 token)
start_server auth up0 ENABLE_AUTH=true \
    "ENTRA_TENANT_ID=$(json_get "$run/entra.out" 1 tenant)" \
    "ENTRA_CLIENT_ID=$(json_get "$run/entra.out" 1 client_id)" \
    "ENTRA_AUTHORITY_HOST=$(json_get "$run/entra.out" 1 authority)"
auth_pid=$server_pid
check_call "$server_url" "$token" >/dev/null
printf '  [auth] BENCH_TOKEN=<token from bench_entra> wrk ...\n' >>"$cmds"
BENCH_TOKEN=$token load auth_c16 "$auth_pid" "$server_url" 16 "$dur"
check_call "$server_url" "$token" >/dev/null
unauth=$(curl -s -o /dev/null -w '%{http_code}' "$server_url/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -d "$mcp_body")
stop_server "$auth_pid"
stop_fed entra
printf '{"jwks_fetches": %s, "unauthenticated_status": %s}\n' \
    "$(json_get "$run/entra.out" 2 jwks_fetches)" "$unauth" >"$run/auth.json"

# Auth off again right after, so both numbers see the same machine state.
load noauth_c16 "$fast_pid" "$fast_url" 16 "$dur"
# The glibc build at -c64 again, right before the musl build under the same load: the two
# CPU-per-call numbers are compared side by side.
load gnu_c64 "$fast_pid" "$fast_url" 64 "$dur"
stop_server "$fast_pid"

# The binary the scratch image ships: static musl (its own allocator), same load.
if $musl_ok; then
    log "throughput: the static musl binary"
    bin_gnu=$bin
    bin=$musl_bin
    start_server musl up0
    musl_pid=$server_pid
    check_call "$server_url" >/dev/null
    musl_idle_rss=$(proc_field "$musl_pid" VmRSS)
    load musl_c64 "$musl_pid" "$server_url" 64 "$dur"
    check_call "$server_url" >/dev/null
    printf '{"idle_rss_kb": %s}\n' "$musl_idle_rss" >"$run/musl.json"
    stop_server "$musl_pid"
    bin=$bin_gnu
fi
stop_fed up0
cp "$run/up0.out" "$run/upstream_fast.jsonl"

# ---------------------------------------------------------------------------------------
# 3. Fake Bedrock answering after 250 ms, 256 concurrent clients

log "concurrency: fake Bedrock with ${upstream_latency_ms} ms latency, $slow_conns connections"
start_upstream up250 "$upstream_latency_ms"
upstream=up250
start_server slow up250 "${tuned_slow[@]}"
slow_pid=$server_pid
check_call "$server_url" >/dev/null
load slow_c256 "$slow_pid" "$server_url" "$slow_conns" "$slow_dur"
check_call "$server_url" >/dev/null
upstream=""
# Memory that comes back: the burst's connection threads exit a second after their
# connection, and 10 s after the burst the server hands freed memory back (src/http/gate.rs,
# src/alloc.rs); look again a minute after the burst.
after_wait=60
$quick && after_wait=35
sleep "$after_wait"
printf '{"wait_secs": %s, "rss_kb": %s, "threads": %s, "hwm_kb": %s}\n' "$after_wait" \
    "$(proc_field "$slow_pid" VmRSS)" "$(proc_field "$slow_pid" Threads)" \
    "$(proc_field "$slow_pid" VmHWM)" >"$run/slow_after.json"
stop_server "$slow_pid"
# The headline: the binary the scratch image ships, with the image's settings and nothing
# else, under the same slow load. Its allocator (mimalloc) keeps pages per thread, so its
# memory per call in flight is what a deployment's memory limit must allow.
if $musl_ok; then
    bin_gnu=$bin
    bin=$musl_bin
    start_server musl_slow up250 "${image_env[@]}"
    musl_slow_pid=$server_pid
    check_call "$server_url" >/dev/null
    printf '{"idle_rss_kb": %s, "idle_hwm_kb": %s}\n' "$(proc_field "$musl_slow_pid" VmRSS)" \
        "$(proc_field "$musl_slow_pid" VmHWM)" >"$run/musl_slow_idle.json"
    upstream=up250
    load musl_slow_c256 "$musl_slow_pid" "$server_url" "$slow_conns" "$slow_dur"
    upstream=""
    stop_server "$musl_slow_pid"
    bin=$bin_gnu
fi
stop_fed up250
cp "$run/up250.out" "$run/upstream_slow.jsonl"

# ---------------------------------------------------------------------------------------
# 4. 1,000 legacy SSE sessions on a fresh server

log "memory: $sse_sessions legacy SSE sessions"
start_upstream up_sse 0
start_server sse up_sse "${tuned_sse[@]}"
sse_pid=$server_pid
check_call "$server_url" >/dev/null
sse_base_rss=$(proc_field "$sse_pid" VmRSS)
start_fed hold python3 bench/sse_hold.py "${server_url#http://}" "$sse_sessions"
printf '  [sse] python3 bench/sse_hold.py %s %s\n' "${server_url#http://}" "$sse_sessions" >>"$cmds"
wait_line "$run/hold.out" 1
opened_at=$(date +%s.%N)
sleep 1
sse_rss_open=$(proc_field "$sse_pid" VmRSS)
sse_threads_open=$(proc_field "$sse_pid" Threads)
echo "check 3" >&"${fed_fd[hold]}"
wait_line "$run/hold.out" 2
# The held streams' read side times out after KEEPALIVE_IDLE_SECS (5, below the read timeout); tiny_http's idle
# connection threads exit 5 s after that. Wait for both, then look again.
python3 -c "import time; time.sleep(max(0, $opened_at + $read_timeout + 7 - time.time()))"
sse_rss_after=$(proc_field "$sse_pid" VmRSS)
sse_threads_after=$(proc_field "$sse_pid" Threads)
echo "check $((sse_keepalive + 2))" >&"${fed_fd[hold]}"
wait_line "$run/hold.out" 3
health_after=$(curl -s -o /dev/null -w '%{http_code}' "$server_url/health")
sse_hwm=$(proc_field "$sse_pid" VmHWM)
stop_fed hold
stop_server "$sse_pid"
printf '{"sessions": %s, "base_rss_kb": %s, "open": {"rss_kb": %s, "threads": %s}, "after_timeout": {"rss_kb": %s, "threads": %s}, "hwm_kb": %s, "read_timeout": %s, "keepalive": %s, "health_after": %s}\n' \
    "$sse_sessions" "$sse_base_rss" "$sse_rss_open" "$sse_threads_open" "$sse_rss_after" \
    "$sse_threads_after" "$sse_hwm" "$read_timeout" "$sse_keepalive" \
    "$health_after" >"$run/sse.json"
cp "$run/hold.out" "$run/sse_hold.jsonl"

# ---------------------------------------------------------------------------------------
# 5. Accepting after an idle spell longer than HTTP_READ_TIMEOUT_SECS (SO_RCVTIMEO on the
#    listening socket also bounds accept()).

log "idle: new connections after an idle spell longer than the read timeout"
start_server idle up_sse HTTP_READ_TIMEOUT_SECS=1 LOG_LEVEL=WARNING
idle_pid=$server_pid
sleep 2.5
idle_health=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$server_url/health" || true)
accept_errors=$(grep -c 'accept' "$run/idle.log" || true)
printf '{"health_after_idle": "%s", "accept_error_lines": %s}\n' "$idle_health" "$accept_errors" >"$run/idle.json"

# The same quiet server, then 64 new connections at once (as wrk or a load balancer opens
# them): each should be answered, not queued behind the others.
printf '  [idle] python3 bench/burst.py %s 64 1\n' "${server_url#http://}" >>"$cmds"
python3 bench/burst.py "${server_url#http://}" 64 1 >"$run/burst.json"
stop_server "$idle_pid"

# ---------------------------------------------------------------------------------------
# 6. Start-up time: exec to the first 200 on /health

log "start-up time ($startup_runs runs)"
port=$(free_port)
mapfile -t senv < <(server_env up_sse "$port")
py=$(python3 -c 'import sys; print(sys.executable)')
printf '  [startup] python3 bench/startup.py %s %s target/release/bedrock-mcp  (environment as [sse])\n' \
    "$startup_runs" "$port" >>"$cmds"
(cd "$run/home" && env -i "${senv[@]}" "$py" "$root/bench/startup.py" "$startup_runs" "$port" "$bin") \
    >"$run/startup.json"
stop_fed up_sse

# ---------------------------------------------------------------------------------------
# 7. Size: binary, dependency tree, lines of code

log "size"
crates=$(cargo tree --locked -e normal --prefix none | sed 's/ (\*)//' | sort -u | wc -l)
# The static build has its own allocator crates (target-specific dependencies).
crates_musl=$(cargo tree --locked -e normal --prefix none --target "$musl_target" | sed 's/ (\*)//' | sort -u | wc -l)
printf '%s\n' "cargo tree -e normal --prefix none | sed 's/ (\*)//' | sort -u | wc -l   # minus 1: our crate" \
    "cargo tree -e normal --prefix none --target $musl_target | sed 's/ (\*)//' | sort -u | wc -l   # the static build" \
    "python3 bench/loc.py src" >>"$cmds"
printf '{"crates": %s, "crates_musl": %s}\n' "$((crates - 1))" "$((crates_musl - 1))" >"$run/deps.json"
python3 bench/loc.py src >"$run/loc.json"

# ---------------------------------------------------------------------------------------
# Report

log "writing ${out#"$root"/}"
python3 bench/report.py "$run" >"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
