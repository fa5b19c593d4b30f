#!/usr/bin/env bash
# The main job, for now without a reader: verify the independent sample card and every case of
# the generated corpus (one per defect class of causes.md), printing each verdict beside its label.
# Usage: scripts/demo.sh [OUT_DIR]      (default: ./out/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/demo}"

command -v cc >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"; $SUDO apt-get update -qq; $SUDO apt-get install -y -qq build-essential pkg-config; }
cargo build --release --quiet
bin=target/release/idcheck
export IDCHECK_DB="$out/idcheck.db"
mkdir -p "$out"

echo "== the independent sample card (QC station: record + surface scan + chip)"
s=fixtures/samples/pass-case
"$bin" verify --record "$s/acceptance/451022202404011140" --surface "$s/surface/QC-20240408-9308" \
    --chip "$s/chip" --trust fixtures/samples/trust || true

echo
echo "== generating the corpus into $out/corpus"
"$bin" fixtures generate --out "$out/corpus"
echo
printf '%-26s %-16s %s\n' "case" "expected" "verdict"
for case in "$out"/corpus/cases/*/; do
    name=$(basename "$case")
    expected=$(python3 -c "import json,sys; l=json.load(open(sys.argv[1])); print(l['status'], ','.join(map(str,l['causes'])))" "$case/case.json")
    acc=$(ls -d "$case"/acceptance/*/)
    surface=()
    if [ -d "$case/surface" ]; then surface=(--surface "$(ls -d "$case"/surface/*/)"); fi
    verdict=$("$bin" verify --json --record "$acc" "${surface[@]}" --chip "$case/chip" --trust "$out/corpus/trust" \
        | python3 -c "import json,sys; v=json.load(sys.stdin); print(v['status'], ','.join(map(str,v['causes'])), '|', '; '.join(f\"[{f['cause']}] {f['item']} ({f['sources']})\" for f in v['findings']))" || true)
    printf '%-26s %-16s %s\n' "$name" "$expected" "$verdict"
done
echo
echo "stored verdicts: $("$bin" verifications list --limit 1000 | wc -l) in $IDCHECK_DB"
