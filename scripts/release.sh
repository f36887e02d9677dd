#!/usr/bin/env bash
# Builds the release binaries (static musl, x86_64 and aarch64) so that anyone can rebuild the
# same bytes from the same commit, embeds the dependency list `cargo audit bin` reads, and
# writes SHA-256 sums and a CycloneDX SBOM per binary. docs/releases.md says how to check them.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/release.sh [--target TRIPLE]... [--out DIR] [--verify] [--allow-dirty]
       scripts/release.sh --audit DIR [--db ADVISORY_DB]

Builds, from the committed tree, with `cargo auditable build --release --locked`:
  DIR/bedrock-mcp-<version>-<triple>           static binaries (dependency list embedded)
  DIR/bedrock-mcp-<version>-<triple>.cdx.json  CycloneDX 1.5 SBOM: the crates inside that binary
  DIR/SHA256SUMS                               sha256sum -c reads it

  --target TRIPLE  x86_64-unknown-linux-musl or aarch64-unknown-linux-musl; repeatable
                   (default: both)
  --out DIR        where to write (default: dist/ at the repository root; emptied first)
  --verify         then clone the same commit into another directory, build it there with its
                   own target directory, and fail unless every binary is byte-identical
  --allow-dirty    build uncommitted changes too (the result cannot be reproduced from a commit)
  --audit DIR      build nothing: check the release in DIR as an auditor would (sha256sum -c,
                   then `cargo audit bin` on each binary, which must find the same crates as
                   its SBOM lists and no vulnerability); --db uses a local advisory-db
                   checkout offline (--no-fetch)

Reproducible: SOURCE_DATE_EPOCH is the last commit's time (C compilers use it for __DATE__
and __TIME__), paths of the source tree and of $CARGO_HOME are remapped (--remap-path-prefix),
and the target directory sits at the same place inside the tree. Same toolchain (see
`rustc -vV` in the SBOM's properties), same Cargo.lock, same bytes.

Needs: rustup targets for each triple, musl-tools (x86_64), gcc-aarch64-linux-gnu and
musl-dev:arm64 (aarch64; see .cargo/config.toml), python3, and cargo-auditable
(cargo install --locked cargo-auditable).
EOF
}

die() { echo "release.sh: $*" >&2; exit 1; }

targets=()
out=""
verify=false
allow_dirty=false
audit=""
db=""
while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --target) targets+=("${2:?--target needs a triple}"); shift ;;
        --out) out="${2:?--out needs a directory}"; shift ;;
        --verify) verify=true ;;
        --allow-dirty) allow_dirty=true ;;
        --audit) audit="${2:?--audit needs a directory}"; shift ;;
        --db) db="${2:?--db needs a directory}"; shift ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
((${#targets[@]})) || targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
for t in "${targets[@]}"; do
    case "$t" in
        x86_64-unknown-linux-musl | aarch64-unknown-linux-musl) ;;
        *) die "unsupported target $t (x86_64-unknown-linux-musl or aarch64-unknown-linux-musl)" ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ -n "$audit" ]; then
    command -v cargo-audit >/dev/null || die "cargo-audit is missing: cargo install --locked cargo-audit"
    [ -f "$audit/SHA256SUMS" ] || die "no $audit/SHA256SUMS"
    (cd "$audit" && sha256sum -c SHA256SUMS) || die "$audit does not match its SHA256SUMS"
    db_args=()
    [ -z "$db" ] || db_args=(--db "$(realpath "$db")" --no-fetch)
    found=0
    for sbom in "$audit"/bedrock-mcp-*.cdx.json; do
        [ -f "$sbom" ] || continue
        binary="${sbom%.cdx.json}"
        found=$((found + 1))
        echo "== cargo audit bin ${binary##*/}"
        rc=0
        report="$(mktemp)"
        cargo audit "${db_args[@]}" --json bin "$binary" >"$report" || rc=$?
        python3 scripts/sbom.py --embedded "$binary" >"$report.embedded"
        python3 - "$report" "$sbom" "$rc" "$report.embedded" <<'EOF' || die "cargo audit bin: ${binary##*/} failed (see above)"
import json, sys
report = json.load(open(sys.argv[1]))
sbom = json.load(open(sys.argv[2]))
lines = open(sys.argv[4]).read().split("\n")
embedded = [l.split() for l in lines[1:] if l.strip()]
runtime = {(n, v) for n, v, kind in embedded if kind == "runtime"}
count = report["lockfile"]["dependency-count"]
vulns = report["vulnerabilities"]["list"]
print(f"cargo audit bin read {count} crates from the binary ({len(embedded)} embedded, "
      f"{len(runtime)} of them runtime); SBOM: {len(sbom['components']) + 1} with the root; "
      f"{len(vulns)} vulnerabilities")
for v in vulns:
    print(f"  {v['advisory']['id']}: {v['package']['name']} {v['package']['version']}: {v['advisory']['title']}")
if count not in (len(embedded), len(runtime)):
    sys.exit(f"cargo audit bin read {count} crates; the binary embeds {len(embedded)}")
missing = [f"{c['name']} {c['version']}" for c in sbom["components"]
           if (c["name"], c["version"]) not in runtime]
if missing:
    sys.exit(f"SBOM crates missing from the embedded list: {missing}")
if vulns or sys.argv[3] != "0":
    sys.exit(f"cargo audit bin exited {sys.argv[3]}")
EOF
        rm -f "$report" "$report.embedded"
    done
    [ "$found" -gt 0 ] || die "no bedrock-mcp-*.cdx.json in $audit"
    exit 0
fi
out="$(realpath -m "${out:-$root/dist}")"
command -v cargo-auditable >/dev/null || die "cargo-auditable is missing: cargo install --locked cargo-auditable"
command -v python3 >/dev/null || die "python3 is missing"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "not a git checkout: the build time comes from the last commit"
if [ -n "$(git status --porcelain --untracked-files=no)" ] && ! $allow_dirty; then
    die "the tree has uncommitted changes; commit them (or pass --allow-dirty for a build nobody can reproduce)"
fi
commit="$(git rev-parse HEAD)"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[ -n "$version" ] || die "no version in Cargo.toml"

# Everything that could differ between two machines or directories, pinned.
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)"
export TZ=UTC LC_ALL=C CARGO_TERM_COLOR=never
cargo_home="$(realpath -m "${CARGO_HOME:-$HOME/.cargo}")"
# Its own target directory: other flags than everyday builds, so neither evicts the other.
target_dir="$root/target/release-dist"
remap="--remap-path-prefix=$root=/build/bedrock-mcp --remap-path-prefix=$cargo_home=/cargo"
for t in "${targets[@]}"; do
    # Per-target flags replace .cargo/config.toml's for that target, so repeat +crt-static.
    var="CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$t")_RUSTFLAGS"
    export "$var=-C target-feature=+crt-static $remap"
done
# C and assembly (ring, mimalloc): keep paths out of the objects as well. cc reads
# CFLAGS_<target> instead of CFLAGS, so repeat .cargo/config.toml's mimalloc define.
cflags="-DMI_DEFAULT_ARENA_EAGER_COMMIT=0 -ffile-prefix-map=$root=/build/bedrock-mcp -ffile-prefix-map=$cargo_home=/cargo"
grep -q -- '-DMI_DEFAULT_ARENA_EAGER_COMMIT=0' .cargo/config.toml ||
    die ".cargo/config.toml's CFLAGS changed; update cflags in scripts/release.sh to match"
for t in "${targets[@]}"; do
    export "CFLAGS_${t//-/_}=$cflags"
done

build_args=()
for t in "${targets[@]}"; do build_args+=(--target "$t"); done
# mimalloc prints __DATE__ and __TIME__ (its verbose banner), which follow SOURCE_DATE_EPOCH,
# but cargo does not rebuild C when only that variable changes: when it did change, compile
# mimalloc afresh, so an incremental release build of a new commit matches a clean one.
for t in "${targets[@]}"; do
    if [ "$(cat "$target_dir/$t/source-date-epoch" 2>/dev/null || true)" != "$SOURCE_DATE_EPOCH" ]; then
        cargo clean --release --target-dir "$target_dir" -p libmimalloc-sys --target "$t" >/dev/null 2>&1 || true
    fi
done
echo "== cargo auditable build --release --locked ${build_args[*]} (SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, commit ${commit:0:12})"
cargo auditable build --release --locked --bin bedrock-mcp "${build_args[@]}" --target-dir "$target_dir"
for t in "${targets[@]}"; do echo "$SOURCE_DATE_EPOCH" >"$target_dir/$t/source-date-epoch"; done

rm -rf "$out"
mkdir -p "$out"
names=()
for t in "${targets[@]}"; do
    name="bedrock-mcp-$version-$t"
    cp "$target_dir/$t/release/bedrock-mcp" "$out/$name"
    # Also checks the SBOM against the list embedded in the binary (fails on any difference).
    python3 scripts/sbom.py --binary "$out/$name" --target "$t" --commit "$commit" >"$out/$name.cdx.json"
    names+=("$name" "$name.cdx.json")
done
(cd "$out" && sha256sum "${names[@]}" >SHA256SUMS)
echo "== $out"
cat "$out/SHA256SUMS"

if $verify; then
    [ -z "$(git status --porcelain --untracked-files=no)" ] || die "--verify needs a clean tree (it rebuilds the commit)"
    # Another directory (another path to remap), a fresh target directory, the same commit.
    work="$(mktemp -d "${TMPDIR:-/tmp}/bedrock-mcp-verify.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    echo "== verify: rebuilding ${commit:0:12} in $work/src"
    git clone --quiet --no-checkout "$root" "$work/src"
    git -C "$work/src" checkout --quiet --detach "$commit"
    verify_targets=()
    for t in "${targets[@]}"; do verify_targets+=(--target "$t"); done
    "$work/src/scripts/release.sh" "${verify_targets[@]}" --out "$work/out"
    if (cd "$work/out" && sha256sum --quiet -c "$out/SHA256SUMS"); then
        echo "== verify: byte-identical: ${names[*]}"
    else
        for n in "${names[@]}"; do cmp "$out/$n" "$work/out/$n" || true; done
        die "the rebuild differs (see above)"
    fi
fi
