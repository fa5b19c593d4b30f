#!/usr/bin/env bash
# browser-deps.sh: installs what the real-browser tests of the QC web page (tests/web.rs) need,
# on Debian / Ubuntu, and nothing when it is already there (idempotent, a few milliseconds then):
#   apt: chromium (/usr/bin/chromium, Debian's build: the tests never download a browser),
#        fonts-wqy-zenhei (the CJK font the page's font stack names first: WenQuanYi Zen Hei),
#        nodejs + npm when node is missing;
#   npm: playwright-core, the exact version pinned in tests/browser/package.json and
#        package-lock.json, into tests/browser/node_modules (git-ignored), without install
#        scripts and without any browser download.
# Usage: scripts/browser-deps.sh        (root, or a user with sudo)
# Then:  cargo test --test web          (a missing browser is a failure; IDCHECK_SKIP_BROWSER=1 skips)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "browser-deps: $*" >&2; }

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
dpkg -s fonts-wqy-zenhei >/dev/null 2>&1 || need_apt+=(fonts-wqy-zenhei)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    log "installing ${need_apt[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
    # a newly installed font must be in fontconfig's cache before chromium starts
    command -v fc-cache >/dev/null 2>&1 && fc-cache -f >/dev/null 2>&1 || true
fi

# the pinned playwright-core: installed when node_modules is missing or holds another version
want=$(node -e 'const l=require("./tests/browser/package-lock.json");process.stdout.write(l.packages["node_modules/playwright-core"].version)')
have=$(node -e 'try{process.stdout.write(require("./tests/browser/node_modules/playwright-core/package.json").version)}catch(e){}')
if [ "$want" != "$have" ]; then
    log "installing playwright-core $want into tests/browser/node_modules"
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
fi
log "ready: $(/usr/bin/chromium --version 2>/dev/null | head -1), playwright-core $want, node $(node --version)"
