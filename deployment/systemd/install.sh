#!/usr/bin/env bash
# Installs bedrock-mcp as a sandboxed systemd service from files already on this machine:
# nothing is downloaded. Run as root on the host (docs/deploy-ec2.md, "Without CloudFormation").
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: sudo deployment/systemd/install.sh [--binary PATH] [--env PATH] [--no-start] [--root DIR]
                                          [-h|--help]

Copies, on this machine:
  the binary   PATH (default: ./bedrock-mcp)          -> /usr/local/bin/bedrock-mcp   (0755)
  the settings PATH (default: ./.env)                 -> /etc/bedrock-mcp/env         (0600, root)
  the unit     deployment/systemd/bedrock-mcp.service -> /etc/systemd/system/         (0644)
then checks the settings with `bedrock-mcp check` (bad settings stop the install; an AWS check
that fails only warns, e.g. before the instance role is attached), reloads systemd, enables the
service and starts (or restarts) it, and waits for /health.

Options:
  --binary PATH  the release binary for this machine's architecture (scripts/release.sh)
  --env PATH     the settings file (.env.example annotates every setting)
  --no-start     install and enable, but do not start now
  --root DIR     install into the file system tree at DIR instead of / (an image being
                 built, a test): enables with `systemctl --root`, starts nothing
EOF
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary=./bedrock-mcp
env_file=./.env
start=1
root=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
        --env) env_file="${2:?--env needs a path}"; shift 2 ;;
        --no-start) start=0; shift ;;
        --root) root="${2:?--root needs a directory}"; start=0; shift 2 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "error: $*" >&2; exit 1; }
[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
command -v systemctl >/dev/null || die "systemctl not found: this script needs systemd"
[ -z "$root" ] || [ -d "$root" ] || die "--root $root is not a directory"
[ -f "$binary" ] || die "no binary at $binary (--binary PATH; release binaries come from scripts/release.sh)"
[ -f "$env_file" ] || die "no settings file at $env_file (--env PATH; start from .env.example)"
[ -f "$here/bedrock-mcp.service" ] || die "no unit beside this script ($here/bedrock-mcp.service)"
"$binary" --version >/dev/null 2>&1 ||
    die "$binary does not run here (wrong architecture? $(uname -m) needs the $(uname -m) release binary)"

# The settings, checked with the binary's own reader before anything is replaced: exit 2 means
# a bad setting (the message names it), exit 1 a failed AWS check (credentials, permissions).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$env_file" "$work/.env"
binary="$(realpath "$binary")"
rc=0
(cd "$work" && exec "$binary" check) || rc=$?
case "$rc" in
    0) ;;
    2) die "the settings in $env_file are not valid (see above); nothing was installed" ;;
    *) echo "warning: bedrock-mcp check failed (exit $rc; see above); installing anyway" >&2 ;;
esac

install -d -m 0755 "$root/usr/local/bin" "$root/etc/bedrock-mcp" "$root/etc/systemd/system"
install -m 0755 "$binary" "$root/usr/local/bin/bedrock-mcp"
# Root-only: systemd reads it as root; the service's own user never needs to.
install -m 0600 "$env_file" "$root/etc/bedrock-mcp/env"
[ -n "$root" ] || chown root:root /etc/bedrock-mcp/env
install -m 0644 "$here/bedrock-mcp.service" "$root/etc/systemd/system/bedrock-mcp.service"
if [ -n "$root" ]; then
    systemctl --root="$root" enable bedrock-mcp.service
    echo "installed and enabled under $root"
    exit 0
fi
systemctl daemon-reload
systemctl enable bedrock-mcp.service
if [ "$start" -eq 0 ]; then
    echo "installed and enabled; start with: systemctl start bedrock-mcp"
    exit 0
fi
# Type=notify: restart returns once the server said READY=1 (or failed).
systemctl restart bedrock-mcp.service
port="$(sed -n 's/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}SERVER_PORT=["'\'']\{0,1\}\([0-9]\{1,5\}\).*/\2/p' /etc/bedrock-mcp/env | tail -n1)"
/usr/local/bin/bedrock-mcp healthcheck "http://127.0.0.1:${port:-8000}/health"
echo "bedrock-mcp is running: systemctl status bedrock-mcp; logs: journalctl -u bedrock-mcp"
