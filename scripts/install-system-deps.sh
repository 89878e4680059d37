#!/bin/sh
# Installs the system packages Confidant needs, only when they are missing.
#   base: python3 venv support, Node.js + npm (to build the web client)
#   test: additionally redis-server, coturn (turnserver), haproxy and Debian's chromium for the
#         real-component tests
set -eu
what="${1:-base}"
need=""
python3 -c 'import venv, ensurepip' 2>/dev/null || need="$need python3-venv"
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
command -v unshare >/dev/null 2>&1 || need="$need util-linux"
command -v ip >/dev/null 2>&1 || need="$need iproute2"
if [ "$what" = "test" ]; then
    command -v redis-server >/dev/null 2>&1 || need="$need redis-server"
    command -v turnserver >/dev/null 2>&1 || need="$need coturn"
    command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need="$need haproxy"
    [ -x /usr/bin/chromium ] || need="$need chromium"
fi
[ -z "$need" ] && exit 0
echo "installing system packages:$need"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
