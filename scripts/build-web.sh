#!/bin/sh
# Builds the browser client into web-client/dist (served by `confidant serve` at /), when its sources changed.
set -eu
key=${CONFIDANT_RELEASE_KEY:-}
case $key in ""|/*) ;; *) key="$PWD/$key" ;; esac
cd "$(dirname "$0")/../web-client" 2>/dev/null || { echo "no web-client/ yet"; exit 0; }
[ -f package.json ] || exit 0
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
    echo "the web client build needs Node.js 20.19 or newer (found $(node --version)); install a newer nodejs" >&2
    exit 1
}
stamp=dist/.build-stamp
newest=$(find src build public index.html package.json package-lock.json vite.config.* -newer "$stamp" 2>/dev/null | head -n 1 || true)
if [ -f "$stamp" ] && [ -z "$newest" ]; then exit 0; fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi
npm run build --silent
# The release is signed here, at build time. An operator points CONFIDANT_RELEASE_KEY at a key kept off the
# serving machine (docs/WEB.md); without one, a key made for this machine is used, and we say so.
if [ -z "$key" ]; then
    key=.release-key
    if [ ! -f "$key" ]; then
        node build/release.js keygen "$key"
        echo "made a local release key for this machine: web-client/$key (not for a real deployment)"
    fi
    echo "release signed with the local key web-client/$key; a deployment signs with its own key: CONFIDANT_RELEASE_KEY=FILE (docs/WEB.md)"
fi
node build/release.js sign dist "$key"
touch "$stamp"
