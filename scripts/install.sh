#!/usr/bin/env bash
# install.sh: puts idcheck on a station PC (Debian/Ubuntu): the binary, the systemd unit, the udev
# rule, the default configuration, the service user and the groups that may use its sockets.
# Usage: sudo scripts/install.sh [--prefix /usr] [--no-build] [--destdir DIR]
#   --destdir DIR  stage everything under DIR (packaging; no users, no systemctl)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr destdir="" build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --destdir) destdir=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "install.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then echo "install.sh: run as root (or with --destdir)" >&2; exit 77; fi
if [ "$build" = 1 ]; then
    dpkg -s libpcsclite-dev >/dev/null 2>&1 || apt-get install -y -qq libpcsclite-dev
    dpkg -s libssl-dev >/dev/null 2>&1 || apt-get install -y -qq libssl-dev
    cargo build --release --locked
fi
d="$destdir"
install -D -m 0755 target/release/idcheck "$d$prefix/bin/idcheck"
install -D -m 0644 systemd/idcheck.service "$d/usr/lib/systemd/system/idcheck.service"
sed -i "s#/usr/bin/idcheck#$prefix/bin/idcheck#" "$d/usr/lib/systemd/system/idcheck.service"
install -D -m 0644 udev/60-idcheck-ccid.rules "$d/usr/lib/udev/rules.d/60-idcheck-ccid.rules"
install -d -m 0755 "$d/etc/idcheck" "$d/etc/idcheck/trust"
[ -e "$d/etc/idcheck/idcheck.toml" ] || install -m 0644 packaging/idcheck.toml "$d/etc/idcheck/idcheck.toml"
install -D -m 0644 README.md "$d/usr/share/doc/idcheck/README.md"
[ -n "$destdir" ] && exit 0

dpkg -s pcscd >/dev/null 2>&1 || apt-get install -y -qq pcscd
getent group idcheck-api >/dev/null || groupadd --system idcheck-api
getent group idcheck-audit >/dev/null || groupadd --system idcheck-audit
getent passwd idcheck >/dev/null || useradd --system --home-dir /var/lib/idcheck --no-create-home --shell /usr/sbin/nologin idcheck
"$prefix/bin/idcheck" check-config /etc/idcheck/idcheck.toml
systemctl daemon-reload
udevadm control --reload || true
systemctl enable --now pcscd.socket
systemctl enable idcheck.service
echo "installed. Put the CSCA certificates in /etc/idcheck/trust, then: systemctl start idcheck"
