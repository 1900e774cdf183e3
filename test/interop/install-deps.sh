#!/usr/bin/env bash
# install-deps.sh - install what the interop stage needs, idempotently.
#
#   test/interop/install-deps.sh          # install what is missing (root)
#   . test/interop/install-deps.sh; aoede_interop_deps   # same, as a function
#
# Debian packages: qemu-system-x86 busybox-static kmod cpio e2fsprogs iproute2
# vblade tshark.  The kernel (linux-image-*-cloud-amd64) is NOT installed: the
# Linux-driver stage downloads it with `apt-get download` and unpacks it into its
# cache (see linux-vm/aoe-linux-vm.sh).  `apt-get update` runs at most once, and
# only when something is missing.
aoede_interop_deps() {
  local pkgs=(qemu-system-x86 busybox-static kmod cpio e2fsprogs iproute2 vblade tshark)
  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then echo "interop deps: all present"; return 0; fi
  echo "interop deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer "no" up front
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -q >/dev/null || return 1
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}
# run when executed, not when sourced
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -eu
  aoede_interop_deps
fi
