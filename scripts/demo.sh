#!/usr/bin/env bash
# The main job: the idcheck daemon (`idcheck serve`) against a virtual reader and virtual cards.
# A private pcscd with a vpcd virtual reader; the daemon watching it; the card emulator placing
# one card after another on the reader (the independent sample card, cards with chip faults, one
# card per defect class of causes.md from the generated corpus); for each card a kiosk-style
# request through the daemon's Unix socket (curl), and the verdict printed beside the expected one.
# Usage: scripts/demo.sh [OUT_DIR]      (default: ./out/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/demo}"

if [ -z "${IDCHECK_VPCD_PORTS:-}" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    need=()
    command -v cc >/dev/null 2>&1 || need+=(build-essential pkg-config)
    command -v curl >/dev/null 2>&1 || need+=(curl)
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    for p in libpcsclite-dev libssl-dev pcscd vsmartcard-vpcd; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
    if [ ${#need[@]} -gt 0 ]; then $SUDO apt-get update -qq; $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; fi
    # The station's binary, and the testkit's (corpus and card emulator; never installed).
    cargo build --release --quiet -p idcheck -p idcheck-testkit --bins
    exec scripts/pcsc-env.sh --readers 1 -- "$0" "$out"
fi

bin=$PWD/target/release/idcheck
testkit=$PWD/target/release/idcheck-testkit
port=${IDCHECK_VPCD_PORTS%%,*}
reader=${IDCHECK_VPCD_READERS%%,*}
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -f "$out/corpus/cases.json" ] || "$testkit" fixtures generate --out "$out/corpus" >/dev/null
rm -rf "$out/trust" "$out/state" "$out/idcheck.db"*
mkdir -p "$out/trust"
cp fixtures/samples/trust/csca.pem "$out/trust/sample.pem"
cp "$out/corpus/trust/csca.pem" "$out/trust/corpus.pem"
sock="$out/idcheck.sock"
cat >"$out/idcheck.toml" <<CONF
[store]
database = "$out/idcheck.db"
state_dir = "$out/state"
[trust]
directory = "$out/trust"
[readers]
include = ["$reader"]
exchange_timeout_ms = 1500
[jobs]
card_wait_secs = 10
[api]
socket = "$sock"
socket_mode = "0600"
auditor_socket = "$out/audit.sock"
[audit]
key = "$out/station-key.pk8"
[log]
target = "stderr"
CONF
"$bin" check-config "$out/idcheck.toml" >/dev/null
"$bin" serve --config "$out/idcheck.toml" 2>"$out/daemon.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null || true; wait $daemon 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf --unix-socket "$sock" http://idcheck/v1/health >/dev/null 2>&1 && break; sleep 0.1; done
echo "daemon up: $(curl -s --unix-socket "$sock" http://idcheck/v1/health)"
echo

api() { curl -s --unix-socket "$sock" -H 'content-type: application/json' "$@"; }

# serve CHIP_DIR [FAULTS...]: place a card (the emulator) on the virtual reader; wait until the daemon sees it.
serve() {
    local chip="$1"; shift
    "$testkit" emulate --card "$chip" --vpcd "127.0.0.1:$port" --quiet "$@" 2>/dev/null &
    emu=$!
    for _ in $(seq 100); do api "http://idcheck/v1/readers" | grep -q '"present":true' && return 0; sleep 0.05; done
}
stop() {
    kill "$emu" 2>/dev/null || true; wait "$emu" 2>/dev/null || true
    for _ in $(seq 100); do api "http://idcheck/v1/readers" | grep -q '"present":false' && return 0; sleep 0.05; done
}

# check NAME EXPECTED RECORD_DIR [SURFACE_DIR]: import the record, ask the daemon, print one line.
check() {
    local name="$1" expected="$2" record="$3" surface="${4:-}" id body
    api -X POST http://idcheck/v1/records/import -d "{\"path\": \"$record\"}" >/dev/null
    id=$(basename "$record")
    body="{\"record_id\": \"$id\", \"reader\": \"$reader\""
    [ -n "$surface" ] && body="$body, \"surface\": \"${surface%/}\""
    body="$body}"
    api -X POST http://idcheck/v1/verifications -d "$body" | python3 -c "
import json, sys
v = json.load(sys.stdin)
if 'verdict' not in v:
    print(f'{sys.argv[1]:<26} {sys.argv[2]:<13} no verdict: {v}'); sys.exit()
d = v['verdict']; t = v['timing']
got = (d['status'] + ' ' + ','.join(map(str, d['causes']))).strip()
mark = 'ok' if got == sys.argv[2].strip() else '!!'
f = '; '.join(f\"[{x['cause']}] {x['item']} ({x['sources']})\" for x in d['findings'])[:90]
print(f\"{mark} {sys.argv[1]:<26} {sys.argv[2]:<13} {got:<13} id {v['id']}  read {t['read_ms']:.0f} ms  {f}\")
for c in d.get('chip_checks', []):
    if c['result'] not in ('not_offered',):
        print(f\"     {c['item']:<28} {c['result']:<11} {c['detail'][:90]}\")
" "$name" "$expected"
}

printf '   %-26s %-13s %s\n' "card on the reader" "expected" "verdict (status causes, stored id, read time, findings)"
s=$PWD/fixtures/samples/pass-case
serve "$s/chip"
check "independent-sample" "pass" "$s/acceptance/451022202404011140" "$s/surface/QC-20240408-9308"
stop
for fault in "--mute" "--leave-after 3000" "--no-application"; do
    serve "$s/chip" $fault
    check "sample ${fault#--}" "invalid 3" "$s/acceptance/451022202404011140"
    stop
done
# A chip as issued now: PACE (ECDH-GM, AES-128, brainpoolP256r1) with the MRZ, Chip Authentication
# (DG14) and Active Authentication (DG15), written by the test PKI; then the same card as a PACE-only
# chip, a clone whose Chip Authentication key is not DG14's, and a corrupted AA signature.
[ -d "$out/pace-pki" ] || "$testkit" pki init "$out/pace-pki" --seed 17 >/dev/null
cp "$out/pace-pki/trust/csca.pem" "$out/trust/pace-pki.pem"
curl -s --unix-socket "$sock" -X POST http://idcheck/v1/trust/reload >/dev/null
"$testkit" personalize --record "$s/acceptance/451022202404011140" --pki "$out/pace-pki" --out "$out/pace-chip" --security modern >/dev/null
serve "$out/pace-chip"
check "pace+ca+aa card" "pass" "$s/acceptance/451022202404011140" "$s/surface/QC-20240408-9308"
stop
for fault in "--pace-only" "--ca-wrong-key" "--aa-bad-signature"; do
    expected="invalid 3"; [ "$fault" = "--pace-only" ] && expected="pass"
    serve "$out/pace-chip" $fault
    check "pace card ${fault#--}" "$expected" "$s/acceptance/451022202404011140"
    stop
done
for case in "$out"/corpus/cases/*/; do
    name=$(basename "$case")
    expected=$(python3 -c "import json,sys; l=json.load(open(sys.argv[1])); print((l['status']+' '+','.join(map(str,l['causes']))).strip())" "$case/case.json")
    surface=""
    [ -d "$case/surface" ] && surface=$(ls -d "$case"/surface/*/)
    case "$name" in
        # read live, a chip whose MRZ birth date is wrong cannot be opened with the BAC key of the
        # record: the reader sees a chip it cannot read (cause 3); from the chip image it is cause 2
        c2-chip-mrz-birth) expected="invalid 3" ;;
        # a chip image whose MRZ check digit is broken gives the emulator no BAC key to serve
        c3-mrz-check-digit) printf '   %-26s %-13s %s\n' "$name" "$expected" "not served live (the emulator derives no BAC key from a broken MRZ; checked from the chip image in tests/corpus.rs)"; continue ;;
    esac
    serve "$case/chip"
    check "$name" "$expected" "$(ls -d "$case"/acceptance/*/ | head -1)" "$surface"
    stop
done
echo
echo "maintenance on:  $("$bin" maintenance on --reason 'demo: planned maintenance' --socket "$sock")"
serve "$s/chip"
check "sample during maintenance" "unavailable" "$s/acceptance/451022202404011140"
stop
echo "maintenance off: $("$bin" maintenance off --socket "$sock")"
echo
echo "stored verdicts: $(api 'http://idcheck/v1/verifications?limit=1000' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["verifications"]))') in $out/idcheck.db; daemon log: $out/daemon.log"
