#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one after another for a fixed time each, then prints
# a summary table. Exits non-zero if any target crashed (or failed to build/run).
# Not part of CI: it needs the nightly toolchain and minutes of CPU.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/fuzz.sh [--seconds N] [TARGET...]

Fuzzes each TARGET (default: all of jsonrpc_dispatch jwt_parse oauth_authorize jwks_parse)
for N seconds (default 60), one after another, with
  cargo +nightly fuzz run TARGET -- -max_total_time=N -rss_limit_mb=2048
Installs cargo-fuzz if it is missing. Seeds fuzz/corpus/TARGET/ with a few valid inputs.
Crash inputs land in fuzz/artifacts/TARGET/, logs in fuzz/artifacts/TARGET.log.
Exits 1 if any run produced a crash artifact or failed, 2 on a usage error.
EOF
}

ALL_TARGETS=(jsonrpc_dispatch jwt_parse oauth_authorize jwks_parse sts_answer)
seconds=60
targets=()
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --seconds)
      [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "--seconds needs a positive integer" >&2; usage >&2; exit 2; }
      seconds=$2
      shift 2
      ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *)
      [[ " ${ALL_TARGETS[*]} " == *" $1 "* ]] || { echo "unknown target: $1 (known: ${ALL_TARGETS[*]})" >&2; exit 2; }
      targets+=("$1")
      shift
      ;;
  esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

cd "$(dirname "$0")/../fuzz"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "the nightly toolchain is missing: rustup toolchain install nightly" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# A few valid inputs per target, so the fuzzer starts past the outer parsers.
seed() {
  local dir="corpus/$1"
  mkdir -p "$dir"
  case "$1" in
    jsonrpc_dispatch)
      # Byte 1: version header (bits 0-2), Accept (3-4), routing headers (5), base64 name (6).
      # Byte 2: Content-Type (bits 0-1), session id (2-3). See the target for the tables.
      local call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"vpn","max_results":3}'
      local meta='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
      printf '\x00\x01%s' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}}' >"$dir/seed-initialize"
      printf '\x03\x05%s' '{"jsonrpc":"2.0","id":"a","method":"tools/list"}' >"$dir/seed-list"
      printf '\x04\x01%s}}' "$call" >"$dir/seed-call"
      printf '\x14\x01%s' '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_knowledge_base_info"}}' >"$dir/seed-info-sse"
      printf '\x25\x01%s,%s}}' "$call" "$meta" >"$dir/seed-modern-call"
      printf '\x65\x01%s,%s}}' "$call" "$meta" >"$dir/seed-modern-call-b64"
      printf '\x25\x00%s' "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"server/discover\",\"params\":{$meta}}" >"$dir/seed-discover"
      printf '\x02\x01%s' '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":9,"result":{}}]' >"$dir/seed-batch"
      ;;
    jwt_parse)
      # Byte 1: bit 0 prepends "Bearer ", bit 1 picks the warm authenticator (kid fuzz-kid).
      local header payload graph
      header=$(printf '%s' '{"alg":"RS256","kid":"fuzz-kid","typ":"JWT"}' | b64url)
      payload=$(printf '%s' '{"aud":"api://0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9","iss":"https://login.microsoftonline.com/4c7f2a2e-9a63-4b5e-8d4f-0c1e2a3b4c5d/v2.0","exp":4102444800,"nbf":0,"scp":"read","preferred_username":"u@x"}' | b64url)
      graph=$(printf '%s' '{"aud":"https://graph.microsoft.com","exp":4102444800}' | b64url)
      printf '\x03%s.%s.c2lnbmF0dXJl' "$header" "$payload" >"$dir/seed-warm"
      printf '\x01%s.%s.c2lnbmF0dXJl' "$header" "$payload" >"$dir/seed-cold"
      printf '\x02Bearer %s.%s.c2ln' "$header" "$payload" >"$dir/seed-raw"
      printf '\x03%s.%s.' "$(printf '%s' '{"alg":"none"}' | b64url)" "$payload" >"$dir/seed-none"
      printf '\x03%s.%s.c2ln' "$header" "$graph" >"$dir/seed-graph"
      printf '\x00Basic dXNlcjpwYXNz' >"$dir/seed-basic"
      ;;
    oauth_authorize)
      printf '%s' "redirect_uri=https%3A%2F%2Fclaude.ai%2Fapi%2Fmcp%2Fauth_callback&client_id=abc&response_type=code&code_challenge=$(printf 'A%.0s' {1..43})&code_challenge_method=S256&state=xyz&resource=https%3A%2F%2Fmcp.example%2Fmcp&scope=openid" >"$dir/seed-valid"
      printf '%s' 'redirect_uri=https%3A%2F%2Fevil.example%2Fcb&client_id=a&response_type=token' >"$dir/seed-evil"
      ;;
    jwks_parse)
      printf '%s' '{"keys":[{"kty":"RSA","use":"sig","kid":"a","alg":"RS256","n":"x6hRetQms7bErfc2fphtHPmzJa5dmdVTL3dCk_pAs3o1meY8EzIuN9GfSFvc9rz_UdJ64ZnAxxrsNEl-JUJiHsnaRmyVHPoQ9_GOy9sbDOGR-pEx1Q","e":"AQAB"},{"kty":"EC","kid":"b","x":"AQAB","y":"AQAB"}]}' >"$dir/seed-keys"
      ;;
    sts_answer)
      printf '%s' '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2026-12-07T12:15:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser><TrustedIdentityPropagationContext><OriginIdentity><Subject>a@b.c</Subject></OriginIdentity><TransactionContext><IdentityProvider><entry><key>tid</key><value>t</value></entry></IdentityProvider></TransactionContext></TrustedIdentityPropagationContext></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>' >"$dir/seed-ok"
      printf '%s' '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized &amp; no</Message></Error><RequestId>r</RequestId></ErrorResponse>' >"$dir/seed-error"
      ;;
  esac
}

# Crash, leak, timeout and out-of-memory inputs libFuzzer wrote since the marker.
new_artifacts() {
  find "artifacts/$1" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
    -newer "$2" 2>/dev/null | wc -l
}

failed=0
rows=()
for t in "${targets[@]}"; do
  seed "$t"
  mkdir -p "artifacts/$t"
  log="artifacts/$t.log"
  marker=$(mktemp)
  echo "== fuzzing $t for ${seconds}s (log: fuzz/$log)"
  rc=0
  cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1 || rc=$?
  crashes=$(new_artifacts "$t" "$marker")
  rm -f "$marker"
  # The last "#N" status line holds the run count, also when the run stopped at a crash.
  runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)
  status=ok
  if ((crashes > 0)); then
    status=CRASH
    failed=1
    grep -E '^(==[0-9]+==ERROR|thread .* panicked|SUMMARY)' "$log" | head -n 5 || true
  elif ((rc != 0)); then
    status="FAILED (exit $rc)"
    failed=1
    tail -n 20 "$log"
  fi
  rows+=("$(printf '%-18s %12s %8s  %s' "$t" "${runs:-?}" "$crashes" "$status")")
done

echo
printf '%-18s %12s %8s  %s\n' target runs crashes status
printf '%s\n' "${rows[@]}"
exit "$failed"
