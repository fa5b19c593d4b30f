#!/usr/bin/env python3
"""Check the workspace's crate graph against ARCHITECTURE.md ("The crate graph").

Reads `cargo metadata` (declared dependencies of every workspace member) and fails when:
  * a crate other than idcheck-store depends on rusqlite (only the store writes SQL; tests may
    edit a database directly to tamper with it, so dev-dependencies are not counted);
  * a crate other than idcheck-pcsc depends on pcsc (only the PC/SC crate names it);
  * idcheck-core, idcheck-chip, idcheck-verify or idcheck-store depends on tokio, axum, hyper or
    any other runtime / network crate (the layers below the station start no runtime);
  * any crate's normal (non-dev) dependencies include idcheck-testkit (the station and the
    layers never link the test tooling);
  * a workspace crate depends on a workspace crate not listed as allowed below (the layering).
Usage: scripts/crate-rules.py   (exit 1 and one line per broken rule)
"""
import json
import subprocess
import sys

ALLOWED = {
    "idcheck-core": set(),
    "idcheck-chip": {"idcheck-core"},
    "idcheck-pcsc": {"idcheck-core", "idcheck-chip"},
    "idcheck-verify": {"idcheck-core", "idcheck-chip"},
    "idcheck-store": {"idcheck-core"},
    "idcheck": {"idcheck-core", "idcheck-chip", "idcheck-pcsc", "idcheck-verify", "idcheck-store"},
    "idcheck-testkit": {"idcheck-core", "idcheck-chip"},
}
ONLY = {"rusqlite": "idcheck-store", "pcsc": "idcheck-pcsc"}
RUNTIME = {"tokio", "tokio-stream", "axum", "hyper", "hyper-util", "futures-util", "nix", "sd-notify"}
LOWER = {"idcheck-core", "idcheck-chip", "idcheck-verify", "idcheck-store"}

meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                                 check=True, capture_output=True, text=True).stdout)
problems = []
members = {p["name"]: p for p in meta["packages"]}
for name, pkg in sorted(members.items()):
    if name not in ALLOWED:
        problems.append(f"{name}: a workspace crate ARCHITECTURE.md and scripts/crate-rules.py do not know")
        continue
    for d in pkg["dependencies"]:
        dep, kind = d["name"], d["kind"]  # kind: None (normal), "dev", "build"
        normal = kind in (None, "build")
        if normal and dep in ONLY and ONLY[dep] != name:
            problems.append(f"{name} depends on {dep} ({kind or 'normal'}): only {ONLY[dep]} may")
        if normal and name in LOWER and dep in RUNTIME:
            problems.append(f"{name} depends on {dep}: the layers below the station start no runtime")
        if normal and dep == "idcheck-testkit":
            problems.append(f"{name} links idcheck-testkit: only tests, benches and fuzz may")
        if normal and dep in members and dep not in ALLOWED[name]:
            problems.append(f"{name} depends on {dep}: not in its allowed layers {sorted(ALLOWED[name])}")
for p in problems:
    print("crate-rules:", p)
print(f"crate-rules: {len(members)} crates, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
