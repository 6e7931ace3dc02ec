#!/bin/bash
# Set up a single-machine Hangar on Debian 12, as root, from a clone of the repository: Node.js 20+
# (Debian 12's own is 18), the build tools for native modules, the head's Debian packages, the npm
# dependencies, the build and the tiny guest image. Idempotent: what is there is not redone.
# The README's run command and CI (.ci/run, which runs the README's command) both go through here.
#
#   bash scripts/setup.sh               set everything up
#   bash scripts/setup.sh --check-node  only say whether this machine's Node.js is new enough (exit 1 if not)
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_MIN=20

# The major version of `node` on the PATH, 0 when there is none. Plain shell arithmetic: no
# process.exit(<boolean>), which Node 20.20 rejects.
node_major() {
  local v
  v=$(node -p 'process.versions.node' 2>/dev/null) || v=0
  v=${v%%.*}
  [[ $v =~ ^[0-9]+$ ]] || v=0
  echo "$v"
}

node_ok() { [ "$(node_major)" -ge "$NODE_MIN" ]; }

if [ "${1:-}" = --check-node ]; then
  if node_ok; then echo "setup: Node.js $(node -v) is new enough (>= $NODE_MIN)"; exit 0; fi
  echo "setup: Node.js $NODE_MIN or newer is needed (found: $(node -v 2>/dev/null || echo none))"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo -E"; fi
apt_install() {
  $SUDO apt-get -q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600 update >/dev/null
  $SUDO apt-get -q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600 install --no-install-recommends "$@"
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Node.js: Debian's when there is none; when it is older than 20, Node 20 through `n`, which
# downloads the official Node.js 20 build from nodejs.org into /usr/local (needs the internet).
if ! command -v node >/dev/null; then apt_install nodejs npm; fi
if ! node_ok; then
  echo "setup: Node.js $(node -v) is older than $NODE_MIN: installing Node $NODE_MIN with n (downloaded from nodejs.org)"
  command -v npm >/dev/null || apt_install npm
  npm install -g n
  n "$NODE_MIN"
  hash -r
  node_ok || { echo "setup: Node.js $NODE_MIN could not be installed (is /usr/local/bin on the PATH?)" >&2; exit 1; }
fi

# better-sqlite3 and argon2 build or load native code: a compiler and python3 for node-gyp.
missing=()
for p in build-essential python3; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

bash scripts/head-packages.sh
npm ci --no-audit --no-fund
npm run build
node bin/hangar.js images build tiny
echo "setup: done (Node.js $(node -v))"
