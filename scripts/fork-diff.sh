#!/usr/bin/env bash
# Regenerates vendor/tiny_http/UPSTREAM.diff, the whole difference between our fork and
# tiny_http 0.12.0 as published on crates.io, or with --check fails when the checked-in file
# no longer matches the tree (CI runs --check). Upstream is fetched by cargo into its own
# registry cache through a throwaway project, so no upstream code is ever copied into this
# repository beyond vendor/tiny_http itself; the crate's checksum is checked against the one
# vendor/tiny_http/FORK.md names.
# Usage: scripts/fork-diff.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
want_sum=389915df6413a2e74fb181895f933386023c71110878cd0825588928e64cdc82
out=vendor/tiny_http/UPSTREAM.diff

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/p/src"
: >"$tmp/p/src/lib.rs"
cat >"$tmp/p/Cargo.toml" <<'TOML'
[package]
name = "fork-diff-upstream"
version = "0.0.0"
edition = "2021"
[dependencies]
tiny_http = { version = "=0.12.0", default-features = false }
[workspace]
TOML
cargo fetch --quiet --manifest-path "$tmp/p/Cargo.toml"
sum=$(grep -A3 '^name = "tiny_http"$' "$tmp/p/Cargo.lock" | sed -n 's/^checksum = "\(.*\)"$/\1/p')
[ "$sum" = "$want_sum" ] || { echo "fork-diff.sh: tiny_http 0.12.0 checksum is '$sum', expected $want_sum" >&2; exit 1; }
up=$(cargo metadata --quiet --format-version 1 --manifest-path "$tmp/p/Cargo.toml" |
    python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="tiny_http"))')

# The fork keeps src/ and Cargo.toml; the rest of the published crate is either unchanged
# (licences, README, CHANGELOG) or dropped (benches/, examples/, tests/), see FORK.md.
ln -s "$up" "$tmp/a"
ln -s "$root/vendor/tiny_http" "$tmp/b"
# diff exits 1 when the trees differ, which they do: the group ends with `true`.
new=$(cd "$tmp" && { diff -uN a/Cargo.toml b/Cargo.toml; diff -ruN a/src b/src; true; } |
    sed -E 's/^(---|\+\+\+) ([^\t]+)\t.*/\1 \2/')
# Unchanged kept files must stay byte-for-byte upstream.
for f in CHANGELOG.md Cargo.toml.orig LICENSE-APACHE LICENSE-MIT README.md .cargo_vcs_info.json; do
    cmp -s "$up/$f" "vendor/tiny_http/$f" || { echo "fork-diff.sh: vendor/tiny_http/$f differs from upstream; record the change in src/ or Cargo.toml instead" >&2; exit 1; }
done

if [ "${1:-}" = --check ]; then
    if [ "$new" != "$(cat "$out")" ]; then
        echo "fork-diff.sh: $out is stale; run scripts/fork-diff.sh and commit the result" >&2
        diff <(printf '%s\n' "$new") "$out" | head -40 >&2
        exit 1
    fi
    echo "fork-diff.sh: $out matches the tree ($(awk '/^\+\+\+ /{next} /^\+/{n++} END{print n+0}' "$out") lines added)"
else
    printf '%s\n' "$new" >"$out"
    echo "fork-diff.sh: wrote $out"
fi
