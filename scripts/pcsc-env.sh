#!/usr/bin/env bash
# pcsc-env.sh: runs a command beside a private pcscd that serves N vpcd virtual readers.
#
# Usage: scripts/pcsc-env.sh [--readers N] [--keep-logs] -- CMD [ARGS...]
#   e.g. scripts/pcsc-env.sh --readers 2 -- cargo test --test pcsc_read
#
# What it does:
#  1. Installs pcscd, vsmartcard-vpcd and libpcsclite-dev with apt-get when one is missing
#     (through sudo when not root).
#  2. Picks two free consecutive TCP ports and writes its own reader configuration directory: one
#     vpcd driver line, whose two slots listen on PORT and PORT+1; the reader for port P is named
#     "idcheck vpcd BASE 00 0S" (S = P - BASE). At most 2 readers: vpcd cannot serve a second line.
#  3. Starts `pcscd --foreground -c CONFDIR` of its own. pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME for
#     its own socket and refuses to start while another pcscd holds /run/pcscd/pcscd.comm, so the
#     pcscd and CMD run in a private mount namespace (`unshare -m`) with a tmpfs on /run/pcscd: a
#     system pcscd, if any, is neither seen nor disturbed. Clients must run inside the same
#     namespace, which is why CMD runs inside too.
#  4. Runs CMD with, in its environment:
#       IDCHECK_VPCD_PORTS="p1,p2,..."        the vpcd port of each reader (connect a card there)
#       IDCHECK_VPCD_READERS="name1,name2,..."  the PC/SC reader name of each port, same order
#       IDCHECK_PCSCD_CTL=PATH                  `PATH stop|start|status`: stops / restarts the
#                                                 private pcscd (tests of "no service" and recovery)
#       IDCHECK_PCSCD_LOG=PATH                  pcscd's log
#  5. Stops pcscd and removes its files when CMD ends (trap), and exits with CMD's status.
#
# Without root: the namespace is made with an unprivileged user namespace
# (`unshare --user --map-root-user --mount`) where the kernel allows it: pcscd and CMD then run as
# "root" of that namespace only (files they write still belong to you). If /run/pcscd does not
# exist, the tmpfs is mounted on /run itself (inside the namespace only). If user namespaces are
# disabled, the script says so and stops: run it as root (or with sudo), or enable them
# (sysctl kernel.unprivileged_userns_clone=1 / kernel.apparmor_restrict_unprivileged_userns=0).
# PCSCD_ARGS (e.g. "-d -a") adds options to pcscd (debug logs, APDU logs).
# Note: vpcd listens on every interface (its driver has no bind address); the ports are only open
# while CMD runs.
set -euo pipefail

script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

die() { echo "pcsc-env: $*" >&2; exit 2; }
log() { echo "pcsc-env: $*" >&2; }

# ---------------------------------------------------------------- helpers shared by all modes
listening_ports() {
    # every TCP port in LISTEN state (state 0A), as 4 upper-case hex digits, from /proc (no ss needed)
    local f
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] && awk 'NR>1 && $4=="0A" {n=split($2,a,":"); print a[n]}' "$f"
    done
    return 0
}

hexport() { printf '%04X' "$1"; }

port_in_use() {
    # any socket on the port (listening, TIME_WAIT, established) makes it unusable
    local h f all=""
    h=$(hexport "$1")
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] && all="$all $(awk 'NR>1 {n=split($2,a,":"); print a[n]}' "$f")"
    done
    case " $(echo $all) " in *" $h "*) return 0 ;; esac
    return 1
}

all_listening() {
    # all_listening PORT...: true when every port is in LISTEN state
    local lp p
    lp=" $(echo $(listening_ports)) "
    for p in "$@"; do
        case "$lp" in *" $(hexport "$p") "*) ;; *) return 1 ;; esac
    done
    return 0
}

none_listening() {
    local lp p
    lp=" $(echo $(listening_ports)) "
    for p in "$@"; do
        case "$lp" in *" $(hexport "$p") "*) return 1 ;; esac
    done
    return 0
}

vpcd_libpath() {
    local f lib=""
    for f in /etc/reader.conf.d/vpcd /etc/reader.conf.d/*vpcd*; do
        [ -f "$f" ] || continue
        lib=$(awk '$1=="LIBPATH" {print $2; exit}' "$f")
        [ -n "$lib" ] && [ -e "$lib" ] && { echo "$lib"; return 0; }
    done
    for f in /usr/lib/pcsc/drivers/serial/libifdvpcd.so /usr/lib/*/pcsc/drivers/serial/libifdvpcd.so \
             /usr/local/lib/pcsc/drivers/serial/libifdvpcd.so; do
        [ -e "$f" ] && { echo "$f"; return 0; }
    done
    return 1
}

# start_pcscd STATE_DIR: starts pcscd on STATE_DIR/conf, waits until its socket and every vpcd port
# are up; pid in STATE_DIR/pcscd.pid. Must run inside the namespace.
start_pcscd() {
    local state=$1 ports pid i
    ports=$(cat "$state/listen-ports")
    rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    # shellcheck disable=SC2086
    pcscd --foreground -c "$state/conf" ${PCSCD_ARGS:-} >>"$state/pcscd.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$state/pcscd.pid"
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { log "pcscd exited at start; its log:"; tail -20 "$state/pcscd.log" >&2; return 1; }
        # shellcheck disable=SC2086
        [ -S /run/pcscd/pcscd.comm ] && all_listening $ports && return 0
        sleep 0.1
    done
    log "pcscd did not come up within 10 s (socket or vpcd ports missing); its log:"
    tail -20 "$state/pcscd.log" >&2
    return 1
}

stop_pcscd() {
    local state=$1 pid i
    [ -f "$state/pcscd.pid" ] || return 0
    pid=$(cat "$state/pcscd.pid")
    rm -f "$state/pcscd.pid"
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    # pcscd leaves its socket behind when killed
    rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
    # wait until the vpcd ports are released, so a restart can bind them again
    for i in $(seq 1 50); do
        # shellcheck disable=SC2046
        none_listening $(cat "$state/listen-ports") && break
        sleep 0.1
    done
}

# ---------------------------------------------------------------- mode: control (IDCHECK_PCSCD_CTL)
if [ "${1:-}" = "--ctl" ]; then
    state=${IDCHECK_PCSC_STATE:?IDCHECK_PCSC_STATE unset: --ctl is for IDCHECK_PCSCD_CTL only}
    case "${2:-}" in
        stop) stop_pcscd "$state" ;;
        start) [ -f "$state/pcscd.pid" ] && kill -0 "$(cat "$state/pcscd.pid")" 2>/dev/null || start_pcscd "$state" ;;
        status) [ -f "$state/pcscd.pid" ] && kill -0 "$(cat "$state/pcscd.pid")" 2>/dev/null && echo running || echo stopped ;;
        *) die "usage: \$IDCHECK_PCSCD_CTL stop|start|status" ;;
    esac
    exit 0
fi

# ---------------------------------------------------------------- mode: inside the namespace
if [ "${1:-}" = "--inside" ]; then
    state=$2; shift 2
    [ "${1:-}" = "--" ] && shift
    if [ -d /run/pcscd ]; then
        mount -t tmpfs -o mode=0755 tmpfs /run/pcscd || die "cannot mount a tmpfs on /run/pcscd"
    else
        mount -t tmpfs -o mode=0755 tmpfs /run || die "cannot mount a tmpfs on /run"
        mkdir -p /run/pcscd
    fi
    cleanup_inside() {
        local rc=$?
        stop_pcscd "$state"
        exit $rc
    }
    trap cleanup_inside EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    start_pcscd "$state" || exit 2
    export IDCHECK_VPCD_PORTS IDCHECK_VPCD_READERS IDCHECK_PCSCD_LOG="$state/pcscd.log"
    IDCHECK_VPCD_PORTS=$(cat "$state/ports")
    IDCHECK_VPCD_READERS=$(cat "$state/readers")
    export IDCHECK_PCSC_STATE="$state" IDCHECK_PCSCD_CTL="$state/ctl"
    set +e
    "$@"
    rc=$?
    set -e
    exit $rc
fi

# ---------------------------------------------------------------- mode: outside (the entry point)
readers=2
keep_logs=0
while [ $# -gt 0 ]; do
    case "$1" in
        --readers) [ $# -ge 2 ] || die "--readers needs a number"; readers=$2; shift 2 ;;
        --readers=*) readers=${1#--readers=}; shift ;;
        --keep-logs) keep_logs=1; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (usage: scripts/pcsc-env.sh [--readers N] -- CMD ...)" ;;
    esac
done
[ $# -gt 0 ] || die "no command given (usage: scripts/pcsc-env.sh [--readers N] -- CMD ...)"
case "$readers" in ''|*[!0-9]*) die "--readers must be a number, got '$readers'" ;; esac
# vpcd keeps its slots in one static table indexed by slot number, so a second vpcd line in the
# configuration collides with the first (measured with vsmartcard-vpcd 0.8: the card of line 2
# shows in both lines' slot 0, line 1's port is dead). One line gives two slots: two readers.
[ "$readers" -ge 1 ] && [ "$readers" -le 2 ] || die "--readers must be 1 or 2 (one vpcd driver line serves two slots), got $readers"

# 1. packages
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need_apt=()
command -v pcscd >/dev/null 2>&1 || [ -x /usr/sbin/pcscd ] || need_apt+=(pcscd)
vpcd_libpath >/dev/null || need_apt+=(vsmartcard-vpcd)
[ -e /usr/include/PCSC/winscard.h ] || pkg-config --exists libpcsclite 2>/dev/null || need_apt+=(libpcsclite-dev)
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt+=(libssl-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi
export PATH="$PATH:/usr/sbin:/sbin"
command -v pcscd >/dev/null 2>&1 || die "pcscd not found after install"
libpath=$(vpcd_libpath) || die "the vpcd driver (libifdvpcd.so) is not found after installing vsmartcard-vpcd"
command -v unshare >/dev/null 2>&1 || die "unshare (util-linux) not found"

# 2. namespace flavour
if [ "$(id -u)" -eq 0 ]; then
    ns=(unshare --mount --propagation private)
    mkdir -p /run/pcscd
elif unshare --user --map-root-user --mount true 2>/dev/null; then
    ns=(unshare --user --map-root-user --mount --propagation private)
else
    die "cannot make a private mount namespace: not root and unprivileged user namespaces are disabled.
  Run as root (sudo $0 ...), or enable user namespaces (sysctl kernel.unprivileged_userns_clone=1,
  or on Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0)."
fi

# 3. state dir, ports, reader configuration
state=$(mktemp -d "${TMPDIR:-/tmp}/idcheck-pcsc.XXXXXX")
chmod 755 "$state"
cleanup_outside() {
    local rc=$?
    if [ $keep_logs -eq 1 ] || [ $rc -ne 0 ]; then
        [ -s "$state/pcscd.log" ] && cp "$state/pcscd.log" "${TMPDIR:-/tmp}/idcheck-pcscd-last.log" 2>/dev/null \
            && log "pcscd log kept in ${TMPDIR:-/tmp}/idcheck-pcscd-last.log"
    fi
    rm -rf "$state"
    exit $rc
}
trap cleanup_outside EXIT

mkdir -p "$state/conf"
lines=$(( (readers + 1) / 2 ))
bases=()
used=" "
for ((l = 0; l < lines; l++)); do
    found=""
    for ((try = 0; try < 200; try++)); do
        b=$(( 20000 + (RANDOM * 32768 + RANDOM) % 20000 * 2 ))
        case "$used" in *" $b "*|*" $((b + 1)) "*) continue ;; esac
        port_in_use "$b" && continue
        port_in_use "$((b + 1))" && continue
        found=$b; break
    done
    [ -n "$found" ] || die "no two free consecutive TCP ports found"
    bases+=("$found"); used="$used$found $((found + 1)) "
done
ports=(); names=(); listen=()
for ((l = 0; l < lines; l++)); do
    b=${bases[$l]}
    cat >"$state/conf/vpcd-$b" <<EOF
# written by scripts/pcsc-env.sh: vpcd slots on ports $b and $((b + 1))
FRIENDLYNAME "idcheck vpcd $b"
DEVICENAME   /dev/null:$b
LIBPATH      $libpath
EOF
    listen+=("$b" "$((b + 1))")
    for s in 0 1; do
        [ ${#ports[@]} -lt "$readers" ] || break
        ports+=("$((b + s))"); names+=("idcheck vpcd $b 00 0$s")
    done
done
(IFS=,; echo "${ports[*]}") >"$state/ports"
(IFS=,; echo "${names[*]}") >"$state/readers"
echo "${listen[*]}" >"$state/listen-ports"
: >"$state/pcscd.log"
cat >"$state/ctl" <<EOF
#!/bin/sh
# stop|start|status the private pcscd of scripts/pcsc-env.sh
IDCHECK_PCSC_STATE='$state' exec bash '$script' --ctl "\$@"
EOF
chmod 755 "$state/ctl"

log "private pcscd with readers on ports $(cat "$state/ports") (${ns[*]})"
# 4. run inside the namespace; its traps stop pcscd; ours removes the state dir
set +e
"${ns[@]}" bash "$script" --inside "$state" -- "$@"
rc=$?
set -e
exit $rc
