#!/usr/bin/env python3
"""CycloneDX 1.5 SBOM of one release binary: exactly the crates compiled into it.

The crate list comes from `cargo tree -e normal,no-proc-macro --target TRIPLE` (cargo's own
feature resolution for that target: no build scripts' or tests' dependencies, no procedural
macros, which run in the compiler and leave nothing in the binary). Licences and the
dependency graph come from `cargo metadata`, checksums from Cargo.lock.

The list is checked against the one `cargo auditable` embedded in the binary (its `.dep-v0`
section, what `cargo audit bin` reads): every crate of the SBOM must be embedded, so an audit
of the binary covers all of it. The embedded list is a superset: cargo-auditable records the
procedural macros as runtime dependencies and resolves features as `cargo metadata` does
(the union over all targets), which names a few crates the build never compiles; those are
printed, not fatal. The output depends only on the binary, the lock file and the commit, so
a reproducible build gives a byte-identical SBOM.

Usage: sbom.py --binary PATH --target TRIPLE [--commit SHA] > PATH.cdx.json
       sbom.py --embedded PATH     (prints the embedded list's size and names, one per line)
"""

import argparse
import datetime
import hashlib
import json
import os
import struct
import subprocess
import sys
import tomllib
import uuid
import zlib


def fail(msg):
    print(f"sbom.py: {msg}", file=sys.stderr)
    sys.exit(1)


def elf_section(path, wanted):
    """The bytes of section `wanted` of a 64-bit ELF file, or None."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        fail(f"{path} is not a 64-bit ELF file")
    e = "<" if data[5] == 1 else ">"
    shoff = struct.unpack_from(e + "Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x3A)

    def header(i):
        name, _type, _flags, _addr, offset, size = struct.unpack_from(
            e + "IIQQQQ", data, shoff + i * shentsize
        )
        return name, offset, size

    _, str_off, str_size = header(shstrndx)
    names = data[str_off : str_off + str_size]
    for i in range(shnum):
        name, offset, size = header(i)
        end = names.index(b"\0", name)
        if names[name:end].decode() == wanted:
            return data[offset : offset + size]
    return None


def embedded_packages(path):
    """The packages cargo-auditable recorded in the binary, as it recorded them."""
    raw = elf_section(path, ".dep-v0")
    if raw is None:
        fail(f"{path} has no .dep-v0 section: build it with `cargo auditable build`")
    return json.loads(zlib.decompress(raw))["packages"]


def embedded_crates(path):
    """(name, version) of the runtime crates cargo-auditable recorded in the binary."""
    return {
        (p["name"], p["version"])
        for p in embedded_packages(path)
        if p.get("kind", "runtime") == "runtime"
    }


def cargo(*args):
    return subprocess.run(
        ["cargo", *args], check=True, capture_output=True, text=True
    ).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary")
    ap.add_argument("--target")
    ap.add_argument("--commit", default="")
    ap.add_argument("--embedded", metavar="BINARY")
    args = ap.parse_args()
    if args.embedded:
        packages = embedded_packages(args.embedded)
        print(len(packages))
        for p in packages:
            print(f"{p['name']} {p['version']} {p.get('kind', 'runtime')}")
        return
    if not (args.binary and args.target):
        fail("--binary and --target are required (see --help)")

    tree = cargo(
        "tree", "--locked", "-e", "normal,no-proc-macro", "--target", args.target,
        "--prefix", "none", "--format", "{p}",
    )
    inside = set()
    for line in tree.splitlines():
        parts = line.replace(" (*)", "").split()
        if len(parts) >= 2:
            inside.add((parts[0], parts[1].lstrip("v")))

    embedded = embedded_crates(args.binary)
    if not inside <= embedded:
        fail(
            "crates compiled into the binary are missing from its embedded list, so "
            f"`cargo audit bin` would not check them: {sorted(inside - embedded)}"
        )
    extra = sorted(f"{n} {v}" for n, v in embedded - inside)

    meta = json.loads(
        cargo("metadata", "--locked", "--format-version", "1", "--filter-platform", args.target)
    )
    root_dir = os.path.dirname(meta["workspace_root"] + "/")
    with open(os.path.join(root_dir, "Cargo.lock"), "rb") as f:
        lock = tomllib.load(f)
    checksums = {
        (p["name"], p["version"]): p["checksum"] for p in lock["package"] if "checksum" in p
    }
    packages = {p["id"]: p for p in meta["packages"]}
    root_id = meta["resolve"]["root"]

    def ref(pkg):
        return f"pkg:cargo/{pkg['name']}@{pkg['version']}"

    def key(pkg):
        return (pkg["name"], pkg["version"])

    components = []
    for pkg in sorted(packages.values(), key=lambda p: (p["name"], p["version"])):
        if key(pkg) not in inside or pkg["id"] == root_id:
            continue
        comp = {
            "type": "library",
            "bom-ref": ref(pkg),
            "name": pkg["name"],
            "version": pkg["version"],
            "scope": "required",
        }
        if pkg["license"]:
            comp["licenses"] = [{"expression": pkg["license"]}]
        if pkg["source"] and pkg["source"].startswith("registry+"):
            comp["purl"] = ref(pkg)
            if key(pkg) in checksums:
                comp["hashes"] = [{"alg": "SHA-256", "content": checksums[key(pkg)]}]
        else:
            # A path dependency: our patched fork, not the crates.io release of that version.
            rel = os.path.relpath(os.path.dirname(pkg["manifest_path"]), root_dir)
            comp["description"] = f"built from this repository's {rel}/ (see its FORK.md or PATCH.md)"
            comp["properties"] = [{"name": "cargo:source", "value": f"path:{rel}"}]
        components.append(comp)

    dependencies = []
    for node in sorted(meta["resolve"]["nodes"], key=lambda n: n["id"]):
        pkg = packages[node["id"]]
        if key(pkg) not in inside:
            continue
        deps = sorted(
            ref(packages[d["pkg"]])
            for d in node["deps"]
            if key(packages[d["pkg"]]) in inside
            and any(k["kind"] is None for k in d["dep_kinds"])
        )
        dependencies.append({"ref": ref(pkg), "dependsOn": deps})

    with open(args.binary, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    root = packages[root_id]
    rustc = subprocess.run(["rustc", "-V"], check=True, capture_output=True, text=True).stdout
    props = [
        {"name": "rust:target", "value": args.target},
        {"name": "rust:rustc", "value": rustc.strip()},
    ]
    if args.commit:
        props.append({"name": "git:commit", "value": args.commit})
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        # Derived from the binary, so the same binary always gets the same serial number.
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'sha256:' + digest)}",
        "version": 1,
        "metadata": {
            "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "scripts/sbom.py"}]},
            "component": {
                "type": "application",
                "bom-ref": ref(root),
                "name": root["name"],
                "version": root["version"],
                "licenses": [{"expression": root["license"]}] if root["license"] else [],
                "hashes": [{"alg": "SHA-256", "content": digest}],
                "properties": props,
            },
        },
        "components": components,
        "dependencies": dependencies,
    }
    json.dump(bom, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")
    print(
        f"sbom.py: {os.path.basename(args.binary)}: {len(components)} crates, all in the list "
        f"embedded in the binary; it also names {len(extra)} not compiled in "
        f"(procedural macros, features cargo metadata unifies): {', '.join(extra)}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
