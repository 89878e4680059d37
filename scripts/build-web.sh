#!/bin/sh
# Builds the browser client into web-client/dist (served by `confidant serve` at /), when its sources changed.
set -eu
cd "$(dirname "$0")/../web-client" 2>/dev/null || { echo "no web-client/ yet"; exit 0; }
[ -f package.json ] || exit 0
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
    echo "the web client build needs Node.js 20.19 or newer (found $(node --version)); install a newer nodejs" >&2
    exit 1
}
stamp=dist/.build-stamp
newest=$(find src build index.html package.json package-lock.json vite.config.* -newer "$stamp" 2>/dev/null | head -n 1 || true)
if [ -f "$stamp" ] && [ -z "$newest" ]; then exit 0; fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi
npm run build --silent
touch "$stamp"
