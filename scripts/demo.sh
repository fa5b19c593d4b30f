#!/usr/bin/env bash
# The main job: a private pcscd with a vpcd virtual reader, the card emulator serving one card
# after another (the independent sample card, one card per defect class of causes.md from the
# generated corpus, and cards with chip faults: mute, pulled mid-read, no application), and
# `idcheck verify --reader` printing each verdict beside the expected one.
# Usage: scripts/demo.sh [OUT_DIR]      (default: ./out/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/demo}"

if [ -z "${IDCHECK_VPCD_PORTS:-}" ]; then
    command -v cc >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"; $SUDO apt-get update -qq; $SUDO apt-get install -y -qq build-essential pkg-config; }
    dpkg -s libpcsclite-dev >/dev/null 2>&1 || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"; $SUDO apt-get update -qq; $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpcsclite-dev pcscd vsmartcard-vpcd; }
    cargo build --release --quiet
    exec scripts/pcsc-env.sh --readers 1 -- "$0" "$out"
fi

bin=target/release/idcheck
port=${IDCHECK_VPCD_PORTS%%,*}
reader=${IDCHECK_VPCD_READERS%%,*}
export IDCHECK_DB="$out/idcheck.db"
mkdir -p "$out"
[ -f "$out/corpus/cases.json" ] || "$bin" fixtures generate --out "$out/corpus" >/dev/null

# serve CHIP_DIR [FAULTS...]: start the emulator on the virtual reader and wait for the card.
serve() {
    local chip="$1"; shift
    "$bin" emulate --card "$chip" --vpcd "127.0.0.1:$port" --quiet "$@" 2>/dev/null &
    emu=$!
    for _ in $(seq 50); do "$bin" readers 2>/dev/null | grep -q "present" && return 0; sleep 0.1; done
}
stop() { kill "$emu" 2>/dev/null || true; wait "$emu" 2>/dev/null || true; sleep 0.3; }

# check NAME EXPECTED RECORD TRUST [SURFACE]: verify the served card, print one line.
check() {
    local name="$1" expected="$2" record="$3" trust="$4" surface=()
    [ -n "${5:-}" ] && surface=(--surface "$5")
    local verdict
    verdict=$("$bin" verify --json --reader "$reader" --exchange-timeout-ms 1500 --record "$record" "${surface[@]}" --trust "$trust" \
        | python3 -c "import json,sys; v=json.load(sys.stdin); print(v['status'], ','.join(map(str,v['causes'])), '|', '; '.join(f\"[{f['cause']}] {f['item']} ({f['sources']})\" for f in v['findings'])[:110])" || true)
    printf '%-26s %-13s %s\n' "$name" "$expected" "$verdict"
}

printf '%-26s %-13s %s\n' "card on the reader" "expected" "verdict (status, causes | findings)"
s=fixtures/samples/pass-case
serve "$s/chip"
check "independent-sample" "pass" "$s/acceptance/451022202404011140" fixtures/samples/trust "$s/surface/QC-20240408-9308"
stop
for fault in "--mute" "--leave-after 3000" "--no-application"; do
    serve "$s/chip" $fault
    check "sample ${fault#--}" "invalid 3" "$s/acceptance/451022202404011140" fixtures/samples/trust
    stop
done
for case in "$out"/corpus/cases/*/; do
    name=$(basename "$case")
    expected=$(python3 -c "import json,sys; l=json.load(open(sys.argv[1])); print(l['status'], ','.join(map(str,l['causes'])))" "$case/case.json")
    surface=""
    [ -d "$case/surface" ] && surface=$(ls -d "$case"/surface/*/)
    serve "$case/chip"
    check "$name" "$expected" "$(ls -d "$case"/acceptance/*/)" "$out/corpus/trust" "$surface"
    stop
done
echo
echo "stored verdicts: $("$bin" verifications list --limit 1000 | wc -l) in $IDCHECK_DB"
