#!/usr/bin/env bash
# aoe-linux-vm.sh - run the Linux kernel's own aoe driver (Debian 6.1 cloud
# kernel, booted in qemu) against an AoE target, and say PASS or FAIL.
#
#   netns aoi-<id>:  [qemu guest eth0, virtio-net] <-> tap aoit<id> <- target
#
# The guest (busybox initramfs, PID 1 = guest/init) loads aoe, discovers
# e<shelf>.<slot>, makes an ext4 on it, writes files, syncs, unmounts, drops
# its caches, remounts, compares every checksum, runs e2fsck -fn, then writes
# and reads the raw device with O_DIRECT dd (checking the data too) and prints
# the MB/s.  Results travel back on the serial console as lines starting "AOI-".
#
# Usage:
#   aoe-linux-vm.sh [options]                     # vblade as the target
#   aoe-linux-vm.sh --target 'dist/aoede serve %SHELF% %SLOT% %IF% %FILE%' --mtu 9000
#   aoe-linux-vm.sh --prepare                     # only build the cached kernel + initramfs
#   aoe-linux-vm.sh --cleanup                     # remove aoi-* namespaces left by a killed run
#
# Target placeholders: %IF% (the tap the target must serve on), %FILE% (fresh
# sparse backing file), %SHELF% %SLOT% (AoE address), %MTU%, %MAC% (MAC of %IF%).
# The target runs as root inside the run's namespace, in its own process group
# (setsid), and the whole group is killed at the end.  Its output goes to
# <workdir>/target.log.
#
# Options:
#   --target CMD         target command template (default 'vblade %SHELF% %SLOT% %IF% %FILE%')
#   --mtu N              MTU of the tap and the guest's eth0 (default 1500)
#   --shelf N --slot N   AoE address (default 7 1)
#   --size SZ            backing file size, sparse (default 512M)
#   --dd-mb N            MiB for the O_DIRECT dd write/read (default 64)
#   --file-mb N          MiB of the random file written through ext4 (default 8)
#   --discover-timeout S seconds the guest waits for the device (default 20)
#   --timeout S          hard bound for the VM (default 150); the whole script is
#                        bounded by this plus the cache build
#   --accel tcg|kvm      default tcg (software emulation, what CI has)
#   --mem MB             guest memory (default 512); the guest has 1 vCPU, always
#                        (2 vCPUs under TCG stalled this driver in earlier tests)
#   --workdir DIR        logs, console, backing file (default /var/tmp/aoede-interop/run-<id>)
#   --verbose            stream the whole guest console (default: only AOI- lines)
#   --pcap FILE          capture the AoE frames on the tap with tshark (first 128 bytes)
#   --keep               keep the workdir's backing file after a PASS
# Environment: AOEDE_INTEROP_CACHE (default /var/cache/aoede-interop) holds the
#   kernel .deb, its vmlinuz and the built initramfs, keyed by package version.
# Exit status: 0 PASS, 1 FAIL, 2 usage, 77 SKIP (not root, no /dev/net/tun, no qemu).
# The last line printed is "PASS ..." or "FAIL: <why>" or "SKIP: <why>".
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE="${AOEDE_INTEROP_CACHE:-/var/cache/aoede-interop}"
TARGET='vblade %SHELF% %SLOT% %IF% %FILE%'
MTU=1500 SHELF=7 SLOT=1 SIZE=512M DD_MB=64 FILE_MB=8 DISC_TO=20 TIMEOUT=150
ACCEL=tcg MEM=512 WORK= PCAP= VERBOSE=0 KEEP=0 PREPARE_ONLY=0 FLAVOUR=cloud-amd64
ID=$(( $$ % 100000 ))

die_usage() { echo "$*" >&2; exit 2; }
cleanup_stale() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^aoi-[0-9]+$/ {print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
    ip netns del "$ns" && echo "removed netns $ns"
  done
}
while [ $# -gt 0 ]; do
  case "$1" in
    --target) TARGET="$2"; shift 2;;
    --mtu) MTU="$2"; shift 2;;
    --shelf) SHELF="$2"; shift 2;;
    --slot) SLOT="$2"; shift 2;;
    --size) SIZE="$2"; shift 2;;
    --dd-mb) DD_MB="$2"; shift 2;;
    --file-mb) FILE_MB="$2"; shift 2;;
    --discover-timeout) DISC_TO="$2"; shift 2;;
    --timeout) TIMEOUT="$2"; shift 2;;
    --accel) ACCEL="$2"; shift 2;;
    --mem) MEM="$2"; shift 2;;
    --workdir) WORK="$2"; shift 2;;
    --verbose) VERBOSE=1; shift;;
    --pcap) PCAP=$(realpath -m "$2"); shift 2;;
    --keep) KEEP=1; shift;;
    --prepare) PREPARE_ONLY=1; shift;;
    --cleanup) cleanup_stale; exit 0;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) die_usage "unknown option: $1 (see --help)";;
  esac
done
case "$ACCEL" in tcg|kvm) ;; *) die_usage "--accel must be tcg or kvm";; esac
for v in MTU SHELF SLOT DD_MB FILE_MB DISC_TO TIMEOUT MEM; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die_usage "--${v,,} must be a number"
done

T0=$EPOCHREALTIME
# seconds since $1 (an $EPOCHREALTIME), one decimal, integer arithmetic only
since() { local a=${1/./} b=${EPOCHREALTIME/./}; local d=$(( (b - a) / 100000 )); echo "$((d / 10)).$((d % 10))"; }
say() { echo "## $*"; }

# ------------------------------------------------------------ preconditions
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "the Linux-driver interop stage needs root (network namespaces, tap)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for c in qemu-system-x86_64 busybox cpio depmod modprobe mke2fs e2fsck ip dpkg-deb apt-get timeout setsid flock; do
  command -v "$c" >/dev/null || skip "missing $c (run test/interop/install-deps.sh)"
done
ldd "$(command -v busybox)" 2>&1 | grep -q 'not a dynamic' || skip "busybox is dynamically linked (install busybox-static)"

# ------------------------------------------------------------ cached kernel + initramfs
# Debian's kernel package is downloaded and unpacked (dpkg-deb -x), never
# installed.  Cache layout: $CACHE/<package>_<version>/{vmlinuz,base-<stamp>.cpio.gz}
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 600 9 || { echo "FAIL: could not lock $CACHE/.lock within 600 s"; exit 1; }
# the kernel package the metapackage points at, and its version, from the apt lists
resolve() {
  KPKG=$(apt-cache depends "linux-image-$FLAVOUR" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$KPKG" ] || return 1
  KVER=${KPKG#linux-image-}
  KPV=$(apt-cache policy "$KPKG" 2>/dev/null | awk '/Candidate:/{print $2; exit}')
  [ -n "$KPV" ] && [ "$KPV" != "(none)" ] || return 1
  KDIR="$CACHE/${KPKG}_${KPV}"
}
APT_UPDATED=0
apt_update() { [ $APT_UPDATED = 1 ] && return 1; APT_UPDATED=1; say "apt-get update"; apt-get update -q >/dev/null 2>&1; }
# offline, or no apt lists: the newest kernel already in the cache will do
cached() {
  local d; d=$(ls -td "$CACHE"/linux-image-*-"$FLAVOUR"_*/ 2>/dev/null | while read -r x; do ls "$x"*.deb >/dev/null 2>&1 && echo "$x" && break; done)
  [ -n "$d" ] || return 1
  KDIR=${d%/}; KPKG=$(basename "$KDIR"); KPV=${KPKG#*_}; KPKG=${KPKG%%_*}; KVER=${KPKG#linux-image-}
  say "apt cannot name the kernel; using the cached $KPKG $KPV"
}
resolve || { apt_update; resolve; } || cached || { echo "FAIL: cannot resolve linux-image-$FLAVOUR with apt-cache"; exit 1; }

NIC_MODULES="virtio_pci virtio_net"
FS_MODULES="crc32c_generic ext4"      # built into cloud-amd64; modules elsewhere
MODULES="aoe $NIC_MODULES $FS_MODULES"
BB=$(command -v busybox)
# rebuild when the guest base, the builder, busybox or e2fsprogs change
STAMP=$(cat "$HERE/guest/init" "$HERE/guest/lib.sh" "$BB" "$(command -v mke2fs)" "$(command -v e2fsck)" \
        <(echo "$MODULES") <(sed -n '/^# >>> build/,/^# <<< build/p' "$0") | sha256sum | cut -c1-16)
download() {
  mkdir -p "$KDIR"
  ls "$KDIR"/*.deb >/dev/null 2>&1 && return 0
  say "downloading $KPKG $KPV"
  (cd "$KDIR" && apt-get download -q "$KPKG=$KPV" >"$KDIR/download.log" 2>&1) || { cat "$KDIR/download.log"; return 1; }
}
BASE="$KDIR/base-$STAMP.cpio.gz"
if [ ! -s "$BASE" ] || [ ! -s "$KDIR/vmlinuz" ]; then
  # stale apt lists may name a version the archive no longer has: update once, retry
  download || { apt_update && resolve && download; } || { echo "FAIL: apt-get download $KPKG=$KPV"; exit 1; }
  BASE="$KDIR/base-$STAMP.cpio.gz"
fi
if [ ! -s "$BASE" ] || [ ! -s "$KDIR/vmlinuz" ]; then
# >>> build
  TB=$EPOCHREALTIME
  DEB=$(ls "$KDIR"/*.deb | head -1)
  say "building the guest initramfs for $KVER"
  ROOT="$KDIR/root" ST="$KDIR/staging"
  rm -rf "$ROOT" "$ST"; mkdir -p "$ROOT" "$ST"
  dpkg-deb -x "$DEB" "$ROOT" || { echo "FAIL: dpkg-deb -x $DEB"; exit 1; }
  cp "$ROOT/boot/vmlinuz-$KVER" "$KDIR/vmlinuz.tmp" && mv "$KDIR/vmlinuz.tmp" "$KDIR/vmlinuz"
  depmod -b "$ROOT" "$KVER"
  mkdir -p "$ST"/{bin,sbin,etc,lib,lib64,proc,sys,dev,tmp,mnt,run,usr}
  ln -s ../bin "$ST/usr/bin"; ln -s ../sbin "$ST/usr/sbin"
  cp "$BB" "$ST/bin/busybox"
  for a in $("$BB" --list); do [ "$a" = busybox ] || ln -s busybox "$ST/bin/$a"; done
  # the real mke2fs/e2fsck, not busybox's ext2-only applets
  rm -f "$ST"/bin/{mke2fs,mkfs.ext2,mkfs.ext3,mkfs.ext4,e2fsck,fsck.ext4}
  for b in mke2fs e2fsck; do
    p=$(command -v $b); cp "$p" "$ST/sbin/$b"
    for l in $(ldd "$p" | grep -o '/[^ ]*'); do mkdir -p "$ST$(dirname "$l")"; cp -L "$l" "$ST$l"; done
  done
  for n in mkfs.ext4 mkfs.ext2; do ln -s mke2fs "$ST/sbin/$n"; done
  ln -s e2fsck "$ST/sbin/fsck.ext4"
  cp /etc/mke2fs.conf "$ST/etc/" 2>/dev/null
  MR="/lib/modules/$KVER"
  for m in $MODULES; do
    deps=$(modprobe -d "$ROOT" -S "$KVER" --show-depends "$m" 2>&1) \
      || { echo "$deps"; echo "FAIL: module $m not found in $KPKG"; exit 1; }
    for ko in $(echo "$deps" | awk '$1=="insmod"{print $2}'); do
      rel=${ko#"$ROOT"}; mkdir -p "$ST$(dirname "$rel")"; cp "$ko" "$ST$rel"
    done
  done
  grep -q '/aoe\.ko' <(cd "$ST" && find lib/modules -name '*.ko*') || { echo "FAIL: aoe.ko missing from $KPKG"; exit 1; }
  cp "$ROOT$MR"/modules.{builtin,builtin.modinfo,order} "$ST$MR/" 2>/dev/null
  depmod -b "$ST" "$KVER"
  cp "$HERE/guest/init" "$ST/init"; chmod 755 "$ST/init"
  cp "$HERE/guest/lib.sh" "$ST/lib/aoi.sh"
  (cd "$ST" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -1 > "$BASE.tmp"
  # the kernel looks for a following archive at a 4-byte boundary; pad the gzip stream
  truncate -s %512 "$BASE.tmp" && mv "$BASE.tmp" "$BASE"
  rm -rf "$ROOT" "$ST"
  find "$KDIR" -maxdepth 1 -name 'base-*.cpio.gz' ! -name "$(basename "$BASE")" -delete
  say "initramfs $(du -h "$BASE" | cut -f1) built in $(since "$TB") s"
# <<< build
fi
exec 9>&-
if [ "$PREPARE_ONLY" = 1 ]; then echo "PASS prepared $KDIR/vmlinuz and $BASE"; exit 0; fi

# ------------------------------------------------------------ per-run files
WORK=${WORK:-/var/tmp/aoede-interop/run-$ID}
mkdir -p "$WORK"
rm -f "$WORK"/{console.log,target.log,qemu.err,disk.img,initrd.img}
FILE="$WORK/disk.img"
truncate -s "$SIZE" "$FILE"
GST="$WORK/guest-staging"; rm -rf "$GST"; mkdir -p "$GST/etc"
cp "$HERE/guest/test.sh" "$GST/test.sh"
cat > "$GST/etc/aoi.env" <<EOF
AOI_IF=eth0
AOI_MTU=$MTU
AOI_SHELF=$SHELF
AOI_SLOT=$SLOT
AOI_DEV=/dev/etherd/e$SHELF.$SLOT
AOI_DD_MB=$DD_MB
AOI_FILE_MB=$FILE_MB
AOI_DISCOVER_TIMEOUT=$DISC_TO
AOI_NIC_MODULES='$NIC_MODULES'
AOI_FS_MODULES='$FS_MODULES'
AOI_GUEST_TIMEOUT=$((TIMEOUT > 20 ? TIMEOUT - 8 : TIMEOUT))
AOI_SECTORS=$(( $(stat -c %s "$FILE") / 512 ))
EOF
(cd "$GST" && find . | cpio -o -H newc -R 0:0 --quiet) > "$WORK/run.cpio"
cat "$BASE" "$WORK/run.cpio" > "$WORK/initrd.img"   # concatenated archives are all unpacked
rm -rf "$GST" "$WORK/run.cpio"

# ------------------------------------------------------------ network + cleanup
NS="aoi-$ID" TAP="aoit$ID"
TPID= QPID= CPID= FINISHED=0
finish() {
  local rc=$?
  if [ -n "$QPID" ]; then   # timeout(1) passes TERM on to qemu
    kill -TERM "$QPID" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "$CPID" ]; then kill -INT "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null; fi
  if [ -n "$TPID" ]; then
    kill -TERM -- "-$TPID" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$TPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$TPID" 2>/dev/null
  fi
  # anything still inside our namespace (qemu, should TERM not have been enough)
  ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  if [ "$FINISHED" = 0 ]; then echo "FAIL: interrupted or aborted (status $rc); logs in $WORK"; fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
ip netns add "$NS" || { echo "FAIL: ip netns add $NS"; exit 1; }
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" tuntap add dev "$TAP" mode tap || { echo "FAIL: cannot create tap $TAP"; exit 1; }
ip -n "$NS" link set "$TAP" mtu "$MTU" up || { echo "FAIL: cannot set $TAP mtu $MTU"; exit 1; }
TMAC=$(cat "/sys/class/net/$TAP/address" 2>/dev/null || ip netns exec "$NS" cat "/sys/class/net/$TAP/address")

# ------------------------------------------------------------ target
TCMD=$TARGET
TCMD=${TCMD//%IF%/$TAP}; TCMD=${TCMD//%FILE%/$FILE}; TCMD=${TCMD//%SHELF%/$SHELF}
TCMD=${TCMD//%SLOT%/$SLOT}; TCMD=${TCMD//%MTU%/$MTU}; TCMD=${TCMD//%MAC%/$TMAC}
say "target (netns $NS): $TCMD"
setsid ip netns exec "$NS" sh -c "exec $TCMD" >"$WORK/target.log" 2>&1 </dev/null &
TPID=$!
sleep 0.3
if ! kill -0 "$TPID" 2>/dev/null; then
  wait "$TPID"; trc=$?; TPID=
  echo "## target log:"; sed 's/^/##   /' "$WORK/target.log" | tail -30
  FINISHED=1; echo "FAIL: the target exited at once (status $trc)"; exit 1
fi

if [ -n "$PCAP" ]; then
  command -v tshark >/dev/null || { FINISHED=1; echo "FAIL: --pcap needs tshark"; exit 1; }
  ip netns exec "$NS" tshark -q -i "$TAP" -s 128 -f 'ether proto 0x88a2' -w "$PCAP" >"$WORK/tshark.log" 2>&1 &
  CPID=$!
  for _ in $(seq 50); do grep -q 'Capturing on' "$WORK/tshark.log" 2>/dev/null && break; sleep 0.1; done
  say "capturing AoE frames to $PCAP"
fi

# ------------------------------------------------------------ boot
CONSOLE="$WORK/console.log"
case "$ACCEL" in kvm) CPU=host;; *) CPU=max;; esac
say "qemu: accel=$ACCEL 1 vCPU ${MEM} MiB, kernel $KVER, mtu $MTU, bound ${TIMEOUT}s"
TQ=$EPOCHREALTIME
coproc QEMU {
  exec ip netns exec "$NS" timeout -k 3 "$TIMEOUT" qemu-system-x86_64 \
    -accel "$ACCEL" -cpu "$CPU" -M pc -m "$MEM" -smp 1 \
    -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
    -kernel "$KDIR/vmlinuz" -initrd "$WORK/initrd.img" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3 net.ifnames=0 tsc=reliable" \
    -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" \
    -device "virtio-net-pci,netdev=n0,mac=52:54:00:a0:1e:01,romfile=,host_mtu=$MTU" \
    </dev/null 2>"$WORK/qemu.err"
}
QPID=$QEMU_PID
exec 8<&"${QEMU[0]}"
# the console: timestamp each line, keep it all in console.log, show AOI- lines
while IFS= read -r line <&8; do
  line=${line%$'\r'}
  printf '[%6s] %s\n' "$(since "$TQ")" "$line" >>"$CONSOLE"
  if [ "$VERBOSE" = 1 ]; then printf '[%6s] %s\n' "$(since "$TQ")" "$line"
  else case "$line" in *AOI-*|*AOI:*) printf '[%6s] AOI%s\n' "$(since "$TQ")" "${line#*AOI}";; esac; fi
done
exec 8<&-
wait "$QPID"; QRC=$?; QPID=
TRUN=$(since "$TQ")

# ------------------------------------------------------------ verdict
if [ -n "$CPID" ]; then kill -INT "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null; CPID=; fi
TDEAD=
if ! kill -0 "$TPID" 2>/dev/null; then wait "$TPID"; TDEAD=$?; TPID=; fi
RES=$(sed -n 's/.*AOI-RESULT rc=\([0-9]*\).*/\1/p' "$CONSOLE" | tail -1)
BOOT=$(sed -n 's/^\[ *\([0-9.]*\)\] AOI: init start.*/\1/p' "$CONSOLE" | head -1)
DDS=$(sed -n 's/.*AOI-DD \([a-z-]*\) \([0-9.]*\) MB\/s.*/\1=\2/p' "$CONSOLE" | paste -sd' ' -)
say "kernel $KVER, mtu $MTU, accel $ACCEL, qemu status $QRC"
say "timing: boot to /init ${BOOT:-?} s, VM ${TRUN} s, whole run $(since "$T0") s"
say "dd MB/s: ${DDS:-none}"
why=
if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then why="the VM hit the ${TIMEOUT}s bound"
elif [ -z "$RES" ]; then why="the guest reported no result (qemu status $QRC)"
elif [ "$RES" != 0 ]; then why="guest checks failed: $(grep -o 'AOI-CHECK FAIL .*' "$CONSOLE" | head -3 | sed 's/AOI-CHECK FAIL //' | paste -sd';' -)"
elif [ -n "$TDEAD" ]; then why="the target died during the run (status $TDEAD)"
fi
if [ -z "$why" ]; then
  [ "$KEEP" = 1 ] || rm -f "$FILE" "$WORK/initrd.img"
  FINISHED=1
  echo "PASS mtu=$MTU boot=${BOOT:-?}s vm=${TRUN}s ${DDS}"
  exit 0
fi
echo "## ---- guest console (last 40 lines of $CONSOLE):"
tail -40 "$CONSOLE" | sed 's/^/##   /'
[ -s "$WORK/qemu.err" ] && { echo "## ---- qemu stderr:"; sed 's/^/##   /' "$WORK/qemu.err" | tail -10; }
echo "## ---- target log (last 30 lines of $WORK/target.log):"
tail -30 "$WORK/target.log" | sed 's/^/##   /'
[ -n "$TDEAD" ] && echo "## the target exited during the run, status $TDEAD"
FINISHED=1
echo "FAIL: $why (logs in $WORK)"
exit 1
