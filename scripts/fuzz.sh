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

ALL=(tlv lds card_access dg14 dg15 jp2 sod crl master_list iso19794_2 apdu chip_read general_authenticate active_auth photo records)
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
# jp2, records, card_access, dg14 and dg15 reads its first byte as a mode switch).
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
    # card_access, dg14, dg15: the files themselves (no selector byte), the public EF.CardAccess,
    # DG14 and DG15 files vendored in crates/core/src/lds/secinfo_tests.rs (their sources there).
    seed_hex card_access icao-g1 31143012060A04007F0007020204020202010202010D
    seed_hex card_access icao-g2 31143012060A04007F00070202040102020102020100
    seed_hex card_access de-cam 31283012060A04007F0007020204020202010202010D3012060A04007F0007020204060202010202010D
    seed_hex card_access aa 311930170606678108010105020101060A04007F00070101040105
    seed_hex card_access npa 3181C1300D060804007F00070202020201023012060A04007F000702020302020201020201483012060A04007F0007020204020202010202010D301C060904007F000702020302300C060704007F0007010202010D020148302A060804007F0007020206161E687474703A2F2F6273692E62756E642E64652F6369662F6E70612E786D6C303E060804007F000702020831323012060A04007F00070202030202020102020149301C060904007F000702020302300C060704007F0007010202010D020149000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
    seed_hex card_access de-card-security 31820131300D060804007F00070202020201023012060A04007F000702020302020201020201483012060A04007F0007020204020202010202010D3012060A04007F0007020204060202010202010D301C060904007F000702020302300C060704007F0007010202010D0201483062060904007F0007020201023052300C060704007F0007010202010D03420004614CD88B00821A887869D0060B44A9D18789353E8CF7DFBC3F29F79327DE30B97B1B2DDA0BE77F24AD415C327C7B7AB2E9C10B0258F5BCBF90C01825FBDFDEF702010D3062060904007F0007020201023052300C060704007F0007010202010D034200048488A2DC34B6B36D6C01A8DFBD70A874610C53B32893A1DE3B1C4BBF477EEF3761AA51DFD6B52DA43587E95386FC34FFE178D90086A7D646047C82BEBC27DA3E020148
    seed_hex dg14 at 6E82017E3182017A300D060804007F0007020202020101300F060A04007F000702020302020201013012060A04007F0007020204020202010202010D30820142060904007F000702020102308201333081EC06072A8648CE3D02013081E0020101302C06072A8648CE3D0101022100A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377304404207D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9042026DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B60441048BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997022100A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7020101034200041983917269AC877C0B61544C2C022000D2A5ABA723E2D80141E648B40911DC3459761F27480E4B57181A53D8FE1190EA86C939AC14363178CAFFC621F0F905C3
    seed_hex dg14 bsi 6E82014A3182014630820122060904007F000702020102308201133081D406072A8648CE3D02013081C8020101302806072A8648CE3D0101021D00D7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF303C041C68A5E62CA9CE6C1C299803A6C1530B514E182AD8B0042A59CAD29F43041C2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C400B0439040D9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D58AA56F772C0726F24C6B89E4ECDAC24354B9E99CAA3F6D3761402CD021D00D7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F020101033A0004A847F020F71DF33D386BE7C9223A354D6AC7727018B26E281C6FFB96A83B142AAF303C23F2BCF2CDE4706C14E45914A9BE42C15BCB67A01F300F060A04007F00070202030201020101300D060804007F0007020202020101
    seed_hex dg14 gmrtd 6E82021431820210308201C4060904007F000702020102308201B53082014D06072A8648CE3D020130820140020101303C06072A8648CE3D01010231008CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53306404307BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826043004A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C110461041D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8E826E03436D646AAEF87B2E247D4AF1E8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF99129280E4646217791811142820341263C53150231008CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565020101036200047777B5202C812EA334F4295B6AE711F70CC77CA43A53560569603CB92FB55C084D714BCF291F3C4DBB8EAD1278FCA88C3D6ADEBD71F9E2DE90CB0450F8AB7CDCBA5AF6752EB3C57EA7D5F126E21C10CEDD0FCB6D7FF2F57A713306E59882B51D300F060A04007F00070202030204020101300D060804007F00070202020201013012060A04007F000702020402040201020201103012060A04007F00070202040604020102020110
    seed_hex dg15 bsi 6F81A230819F300D06092A864886F70D010101050003818D00308189028181008130E120BB785A45D8D87E6F1A89EF4C6B655A555F58887DC6F78C293E71B028621B464C7B3123DF8896449ACB2A6E0219B7A43141BA617AE0E94CB5372EB6D964A1DBF2A43BD0CE659E962AC2CE9CEDF681CA1E3C74EA23C62D9ABFB81371D2602E39162EB578F9DED459C758EFD6A27A755B8C0E0E31E040D4D37A276939090203010001
    seed_hex dg15 gmrtd 6F8201023081FF300D06092A864886F70D01010105000381ED003081E90281E100BB8F93F4DC95E205CDA17C6927AB1E365B13065D03CD12E0FCE95D96840529453202F56CC4C13F77CD062930C8BC89A2873B257045C286E601CF3C09323A53103314902804AA10A314628CE222206A8866946A36B442041BB54AC81E6855DD1D6E16101833D65A191C20AC8B33B8A1A32920F46043F8031CF2BC17417030865FC5BE5A39DEE423BCBA3CA8177168EB23CFE01BA43EC87711B1CFFF85DB46F300DD8AE317B50D543B573E119E23AF7070D0B2FED6A3B2313A5EC02A531AAED1741F4390D1013E2A0F081EAC5DC8B0A1B2C6BDB1206F08D30E3643E1E5BDF536110203010001
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
