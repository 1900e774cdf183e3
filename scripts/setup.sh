#!/usr/bin/env bash
# setup.sh — make this checkout runnable: Node packages (Bun itself comes from npm)
# and, with --test, the Debian packages the test suite's real peers need.
# Idempotent; prints the path of the Bun binary on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
want() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
want ip iproute2
if [ "${1:-}" = "--test" ]; then
  want vblade vblade
  want tshark tshark
  want qemu-system-x86_64 qemu-system-x86
  [ -x /bin/busybox ] && busybox --help 2>&1 | grep -q static || [ -e /usr/share/doc/busybox-static ] || need_apt+=(busybox-static)
  want modinfo kmod
  want cpio cpio
  want mkfs.ext4 e2fsprogs
  want file file
  want groff groff-base
  want man man-db
  want cc gcc; want cc libc6-dev  # bench/native: the bench's C load generator and null target
  # test/soak: the flood sender and the EIO file (FUSE) are C too (soak/*.c)
  want pkg-config pkg-config; [ -e /usr/include/fuse3/fuse.h ] || need_apt+=(libfuse3-dev)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install Debian packages: ${need_apt[*]}" >&2; exit 1
  fi
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

if [ ! -d node_modules/citty ] || [ ! -e node_modules/bun ]; then
  command -v npm >/dev/null || { echo "setup: npm is missing: install Node.js (apt-get install nodejs npm)" >&2; exit 1; }
  npm ci --no-audit --no-fund >&2
fi

# The npm package `bun` puts the real binary in place with a postinstall script;
# where install scripts are off, the binary is still in the platform package.
bun=node_modules/.bin/bun
if ! "$bun" --version >/dev/null 2>&1; then
  node node_modules/bun/install.js >&2 2>/dev/null || true
fi
if ! "$bun" --version >/dev/null 2>&1; then
  for b in node_modules/@oven/bun-linux-*/bin/bun; do
    [ -x "$b" ] && "$b" --version >/dev/null 2>&1 && bun=$b && break
  done
fi
"$bun" --version >/dev/null 2>&1 || { echo "setup: could not find a working Bun in node_modules" >&2; exit 1; }
echo "$PWD/$bun"
