#!/usr/bin/env bash
# fuzz.sh: coverage-guided fuzzing (cargo-fuzz / libFuzzer) of idcheck's parsers of untrusted
# bytes; the targets live in fuzz/ (its own workspace: the main build and CI never build it).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 60 s, every target)
# Installs cargo-fuzz when it is missing, builds seed corpora from the committed fixtures into
# fuzz/corpus/<target> (not committed), runs each target in turn (one process: the machine's
# cores are shared) with -max_total_time, -rss_limit_mb=2048 and -timeout=10, and prints per
# target the executions, the final coverage (cov / ft of libFuzzer's last line) and whether it
# found anything. Exit status 1 when a crash / timeout / OOM / leak artifact appeared in
# fuzz/artifacts/<target> during this run. Logs: fuzz/artifacts/<target>/last-run.log.
# Stable Rust works: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly flags. The sanitizer is
# AddressSanitizer; FUZZ_SANITIZER=none runs without it (faster, finds panics / hangs / OOM only).
# Reproduce a finding: RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(tlv lds jp2 sod crl master_list iso19794_2 apdu chip_read general_authenticate photo records active_auth)
SECS=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
SANITIZER=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

log() { echo "fuzz: $*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

CHIP=fixtures/samples/pass-case/chip
ACC=fixtures/samples/pass-case/acceptance/451022202404011140
SURF=fixtures/samples/pass-case/surface/QC-20240408-9308

# seed TARGET NAME SELECTOR-BYTE-HEX FILE: the file behind one selector byte (every target but
# jp2 and records reads its first byte as a mode switch).
seed() {
    local dir=fuzz/corpus/$1
    mkdir -p "$dir"
    if [ -n "$3" ]; then
        { printf "\\x$3"; cat "$4"; } >"$dir/seed-$2"
    else
        cp "$4" "$dir/seed-$2"
    fi
}
# seed_hex TARGET NAME HEX: a seed given as hex.
seed_hex() {
    mkdir -p "fuzz/corpus/$1"
    echo -n "$3" | xxd -r -p >"fuzz/corpus/$1/seed-$2"
}

make_seeds() {
    local f t
    # tlv: the selector picks the outer tag: 0x30 77 60 61 75 63 6B 6C 6D 5F1F.
    seed tlv com 02 $CHIP/com.bin
    seed tlv sod 01 $CHIP/sod.bin
    seed tlv dg1 03 $CHIP/dg1.bin
    seed tlv dg3 05 $CHIP/dg3.bin
    seed tlv dg11 06 $CHIP/dg11.bin
    seed tlv dg12 07 $CHIP/dg12.bin
    seed tlv dg13 08 $CHIP/dg13.bin
    # lds: 0 COM, 1 DG1, 2 DG2, 3 DG3, 4 DG11, 5 DG12, 6 DG13, 7 one DG3 slot, 8 whole chip.
    seed lds com 00 $CHIP/com.bin
    seed lds dg1 01 $CHIP/dg1.bin
    seed lds dg2 02 $CHIP/dg2.bin
    seed lds dg3 03 $CHIP/dg3.bin
    seed lds dg11 04 $CHIP/dg11.bin
    seed lds dg12 05 $CHIP/dg12.bin
    seed lds dg13 06 $CHIP/dg13.bin
    for f in fixtures/cases/*/chip/dg1.bin; do
        t=$(basename "$(dirname "$(dirname "$f")")")
        seed lds "dg1-$t" 01 "$f"
    done
    seed jp2 j2k "" fixtures/lds/face-24x32.j2k
    seed jp2 jp2 "" fixtures/lds/face-24x32.jp2
    # sod: 0 EF.SOD + passive authentication, 1 one DER certificate, 2 a certificate file.
    seed sod sod 00 $CHIP/sod.bin
    seed sod sod-c3 00 fixtures/cases/c3-dg-hash/chip/sod.bin
    sed '/-----/d' fixtures/samples/trust/csca.pem | base64 -d >fuzz/corpus/sod/.csca.der
    seed sod csca-der 01 fuzz/corpus/sod/.csca.der
    rm -f fuzz/corpus/sod/.csca.der
    seed sod csca-pem 02 fixtures/samples/trust/csca.pem
    # crl: 0 a DER CRL (a v1 CRL, no entries), 1 edits to the test PKI's CRL, 2 a CRL file's text.
    seed_hex crl v1 00304c3039300a06082a8648ce3d040302300d310b300906035504061302434e170d3234303130313030303030305a170d3234303230313030303030305a300a06082a8648ce3d0403020303003000
    seed_hex crl edits 01
    seed_hex crl edits-issuer 0160436145
    printf '\x02# idcheck-origin: crl\n-----BEGIN X509 CRL-----\nMEwwOTAKBggqhkjOPQQDAjANMQswCQYDVQQGEwJDThcNMjQwMTAxMDAwMDAwWhcNMjQwMjAxMDAwMDAwWjAKBggqhkjOPQQDAgMDADAA\n-----END X509 CRL-----\n' >fuzz/corpus/crl/seed-pem
    # master_list: 0 a file (EF.SOD's ContentInfo: the CMS envelope with another content type),
    # 1 edits to the test PKI's master list, 2 a freshly signed list holding the input.
    mkdir -p fuzz/corpus/master_list
    { printf '\x00'; tail -c +5 $CHIP/sod.bin; } >fuzz/corpus/master_list/seed-sod
    seed_hex master_list edits 01
    seed_hex master_list edits-content 01a0ffc001
    sed '/-----/d' fixtures/samples/trust/csca.pem | base64 -d >fuzz/corpus/master_list/.csca.der
    seed master_list csca 02 fuzz/corpus/master_list/.csca.der
    rm -f fuzz/corpus/master_list/.csca.der
    # iso19794_2: even selector as is, odd with the length field fixed up.
    seed iso19794_2 fp1 00 $ACC/fp1.iso
    seed iso19794_2 fp2 01 $ACC/fp2.iso
    for f in $(ls fixtures/fingerprints/fvc2002/*/*.iso | head -4); do
        seed iso19794_2 "fvc-$(basename "$f" .iso)" 00 "$f"
    done
    # apdu: 0 command, 1 response, 2/3/4 host unprotect (raw / MAC fixed / plaintext), 5/6 card
    # unprotect (raw / MAC fixed), 7 round trip, 8 emulator parse, 9 BAC answers.
    seed_hex apdu select 0000a4040c07a0000002471001
    seed_hex apdu read-ext 0000b000000000ff00
    seed_hex apdu resp 015304123456789000
    seed_hex apdu host-raw 02870901aabbccddeeff0011990290008e0801020304050607089000
    seed_hex apdu host-mac 03900099029000
    seed_hex apdu host-plain 0490006012345678
    seed_hex apdu card-mac 060cb0000001970100
    seed_hex apdu roundtrip 070cb000000100e09000616263
    seed_hex apdu capdu 0800a4020c020101
    seed_hex apdu bac 090102030405060708
    # chip_read: action bytes below 80 are honest answers; selector bit 0 extended length, bit 1 SFI.
    for t in 00 01 02 03; do
        seed_hex chip_read "honest-$t" "${t}000000000000000000000000000000"
    done
    seed_hex chip_read hostile-data 028000000000000000000080109000
    # general_authenticate: selector bit 7 card mode; bits 0-1 the domain (brainpoolP256r1,
    # P-256, MODP-1024, brainpoolP384r1), bits 2-3 the cipher (3DES, AES-128/192/256). Host mode
    # takes one action byte per step (0 honest, 1 a byte changed, 2 cut, 3 bytes appended, 4 raw).
    seed_hex general_authenticate honest-bp256-aes128 0400000000
    seed_hex general_authenticate honest-p256-aes256 0d00000000
    seed_hex general_authenticate honest-dh1024-3des 0200000000
    seed_hex general_authenticate changed-token 040000000104ff
    # Card mode: a length byte and the MSE:Set AT data, then length-prefixed GA data fields.
    seed_hex general_authenticate card-steps 8400027c00
    seed_hex general_authenticate card-mse 840f800a04007f00070202040202830102027c00
    # photo: bit 0 fixes PNG CRCs, bits 1.. pick the dpi of the printed-photo path (0: 100 dpi).
    seed photo acceptance-jpg 00 $ACC/photo.jpg
    seed photo case-jpg 00 fixtures/cases/pass-kiosk/acceptance/410105202507030001/photo.jpg
    if command -v python3 >/dev/null 2>&1 && command -v convert >/dev/null 2>&1; then
        # A 100-dpi grey PNG of the sample's photo side (337x213, every sixth pixel of the 600-dpi
        # scan), small enough for -max_len, the size the printed-photo path expects at 100 dpi.
        convert $SURF/front.png ppm:- | python3 -c '
import struct, sys, zlib
d = sys.stdin.buffer.read()
parts = d.split(b"\n", 3)
w, h = map(int, parts[1].split()); px = parts[3]
step = 6; ow, oh = 337, 213
rows = []
for y in range(oh):
    sy = min(h - 1, y * step)
    row = px[sy * w * 3:(sy + 1) * w * 3]
    r = row[0::3 * step][:ow]; g = row[1::3 * step][:ow]; b = row[2::3 * step][:ow]
    rows.append(b"\0" + bytes((r[i] * 30 + g[i] * 59 + b[i] * 11) // 100 for i in range(len(r))))
def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", ow, oh, 8, 0, 0, 0, 0))
out += chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
sys.stdout.buffer.write(out)' >fuzz/corpus/.scan100.png && {
            seed photo scan100-grey 00 fuzz/corpus/.scan100.png
            seed photo scan100-grey-crc 01 fuzz/corpus/.scan100.png
        }
        rm -f fuzz/corpus/.scan100.png
    else
        log "python3 or convert missing: no PNG scan seed for photo"
    fi
    # active_auth: 0 SubjectPublicKeyInfo, 1 DG15 (a real chip's, RSA 1792: gmrtd's test data),
    # 2 a signature under a fixed key (key 1 = that chip; its challenge and answer), 3 a test key
    # signs the input, 4 an ISO/IEC 9796-2 representative (ICAO 9303-11 Appendix F's F).
    seed_hex active_auth spki 003081FF300D06092A864886F70D01010105000381ED003081E90281E100BB8F93F4DC95E205CDA17C6927AB1E365B13065D03CD12E0FCE95D96840529453202F56CC4C13F77CD062930C8BC89A2873B257045C286E601CF3C09323A53103314902804AA10A314628CE222206A8866946A36B442041BB54AC81E6855DD1D6E16101833D65A191C20AC8B33B8A1A32920F46043F8031CF2BC17417030865FC5BE5A39DEE423BCBA3CA8177168EB23CFE01BA43EC87711B1CFFF85DB46F300DD8AE317B50D543B573E119E23AF7070D0B2FED6A3B2313A5EC02A531AAED1741F4390D1013E2A0F081EAC5DC8B0A1B2C6BDB1206F08D30E3643E1E5BDF536110203010001
    seed_hex active_auth dg15 016F8201023081FF300D06092A864886F70D01010105000381ED003081E90281E100BB8F93F4DC95E205CDA17C6927AB1E365B13065D03CD12E0FCE95D96840529453202F56CC4C13F77CD062930C8BC89A2873B257045C286E601CF3C09323A53103314902804AA10A314628CE222206A8866946A36B442041BB54AC81E6855DD1D6E16101833D65A191C20AC8B33B8A1A32920F46043F8031CF2BC17417030865FC5BE5A39DEE423BCBA3CA8177168EB23CFE01BA43EC87711B1CFFF85DB46F300DD8AE317B50D543B573E119E23AF7070D0B2FED6A3B2313A5EC02A531AAED1741F4390D1013E2A0F081EAC5DC8B0A1B2C6BDB1206F08D30E3643E1E5BDF536110203010001
    seed_hex active_auth answer 020196302b0f3d7e7864474256306840c0ab1b63c10e1c26bdfef4a0dd843920283cc4e6e70a60f2bd25dc7725f9677bc1cde66379dc28b38e8490f33afb2d10f9980c44c0bfc175d2b6684218f535c92fdd3e18db770a9ccbf91db3c7f0138e6d9e94b9bc8371761e3abed5e5e9b260279cfb238b58ae0d6a01da51c74c2a3ecd62c448bd9f20127f7384587287fa971204234e55b1a856c3e5aaaa620bb799a68fbae08ee132bb61683eba9b0b40dc1e54641cad975b16991cab50af82e3f3985afd19e7427a125f5b4b9878b12a5d2e01c7eedca3bb41c6fc05dccd818bce379d04b1f2f5d43487d3
    seed_hex active_auth sign 03004142434445464748
    seed_hex active_auth representative 046A9D2784A67F8E7C659973EA1AEA25D95B6C8F91E5002F369F0FBDCE8A3CEC1991B543F1696546C5524CF23A5303CD6C98599F40B79F377B5F3A1406B3B4D8F96784D23AA88DB7E1032A405E69325FA91A6E86F5C71AEA978264C4A207446DAD4E7292E2DCDA3024B47DA8C063AA1E6D22FBD976AB0FE73D94D2D9C6D88127BC
    # records: the record as a file, and as one JSON Lines line; the surface record.
    seed records record "" $ACC/record.json
    tr -d '\n' <$ACC/record.json >fuzz/corpus/records/seed-record-line
    for f in fixtures/cases/*/acceptance/*/record.json; do
        t=$(basename "$(dirname "$(dirname "$(dirname "$f")")")")
        tr -d '\n' <"$f" >"fuzz/corpus/records/seed-line-$t"
    done
    seed records surface "" $SURF/surface.json
}

# -max_len per target: bounds each input so runs stay fast (DG2 is 8 KB, a photo up to 64 KB).
max_len() {
    case $1 in
        lds) echo 16384 ;;
        photo) echo 65536 ;;
        jp2) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

count_findings() {
    find "fuzz/artifacts/$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) 2>/dev/null | wc -l
}

make_seeds
log "building ${TARGETS[*]} (sanitizer $SANITIZER)"
for t in "${TARGETS[@]}"; do
    cargo fuzz build --sanitizer "$SANITIZER" "$t"
done

status=0
summary=()
for t in "${TARGETS[@]}"; do
    mkdir -p "fuzz/artifacts/$t"
    before=$(count_findings "$t")
    runlog="fuzz/artifacts/$t/last-run.log"
    log "running $t for ${SECS}s (log: $runlog)"
    set +e
    cargo fuzz run --sanitizer "$SANITIZER" "$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$t")" \
        -print_final_stats=1 >"$runlog" 2>&1
    rc=$?
    set -e
    # The records target's scratch directories (one per fuzzing process, see its doc comment).
    [ "$t" = records ] && rm -rf /dev/shm/idcheck-fuzz-records-* "${TMPDIR:-/tmp}"/idcheck-fuzz-records-*
    after=$(count_findings "$t")
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$runlog" | tail -1 | grep -o '[0-9]*$' || true)
    last=$(grep -E '^#[0-9]+' "$runlog" | tail -1 || true)
    cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || true)
    ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || true)
    if [ "$after" -gt "$before" ]; then
        found="FOUND $((after - before)) (see fuzz/artifacts/$t)"
        status=1
    elif [ "$rc" -ne 0 ]; then
        found="run failed (exit $rc, see $runlog)"
        status=1
    else
        found="nothing"
    fi
    summary+=("$(printf '%-11s %6ss  execs %-10s cov %-6s ft %-6s %s' "$t" "$SECS" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$found")")
done

echo "target        time  executions        coverage          findings"
printf '%s\n' "${summary[@]}"
exit $status
