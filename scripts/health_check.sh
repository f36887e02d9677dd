#!/usr/bin/env bash
# Checks a bedrock-mcp server's /health endpoint: exit 0 when it answers 200, 1 otherwise.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: health_check.sh [options] [URL]

Checks that a bedrock-mcp server answers 200 on its health endpoint and prints the reply.

Arguments:
  URL                 health URL (default: $HEALTH_URL, else http://localhost:8000/health)

Options:
  -t, --timeout SECS  give up after SECS seconds (default: 5)
  -q, --quiet         print nothing; only the exit status tells
  -h, --help          show this help

Exit status: 0 healthy, 1 unhealthy or unreachable, 2 usage error.
EOF
}

url="${HEALTH_URL:-http://localhost:8000/health}"
timeout=5
quiet=false

while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        -q | --quiet) quiet=true ;;
        -t | --timeout)
            [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }
            timeout="$2"; shift ;;
        -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) url="$1" ;;
    esac
    shift
done

if ! [[ "$timeout" =~ ^[0-9]+$ ]] || [ "$timeout" -eq 0 ]; then
    echo "error: --timeout must be a positive whole number of seconds, got '$timeout'" >&2
    exit 2
fi

say() { [ "$quiet" = true ] || printf '%s\n' "$*"; }

if ! command -v curl >/dev/null 2>&1; then
    say "FAIL: curl is not installed (try: sudo dnf install -y curl, or sudo apt-get install -y curl)"
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# -w prints the status even when the body is not JSON; curl's own error goes to a file so the
# message can say why the server was unreachable.
if ! code="$(curl -sS --max-time "$timeout" -o "$tmp/body" -w '%{http_code}' "$url" 2>"$tmp/err")"; then
    say "FAIL: cannot reach $url: $(tr -d '\n' <"$tmp/err")"
    say "      Is the container running? Try: docker ps; docker logs bedrock-mcp-server"
    exit 1
fi

print_body() {
    [ "$quiet" = true ] && return 0
    [ -s "$tmp/body" ] || return 0
    if command -v jq >/dev/null 2>&1 && jq . "$tmp/body" 2>/dev/null; then
        return 0
    fi
    if command -v python3 >/dev/null 2>&1 && python3 -m json.tool "$tmp/body" 2>/dev/null; then
        return 0
    fi
    cat "$tmp/body"
    echo
}

if [ "$code" = "200" ]; then
    say "OK: $url answered 200"
    print_body
    exit 0
fi

say "FAIL: $url answered HTTP $code (expected 200)"
print_body
exit 1
