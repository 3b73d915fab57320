#!/bin/sh
# install-deps.sh - installs the Debian 12 packages csplat needs to build, test and fuzz, only
# those not installed yet. Runs apt-get as root (through sudo when not root).
set -eu
PKGS="make gcc pkg-config libpng-dev libjpeg62-turbo-dev zlib1g-dev libcjson-dev libzstd-dev
libwebp-dev clang libclang-rt-14-dev libsdl2-dev xvfb xauth"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && { echo "install-deps: all packages present"; exit 0; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
