# /lib/aoi.sh - helpers for the guest test (sourced, busybox ash).
# Variables from /etc/aoi.env: AOI_IF AOI_MTU AOI_SHELF AOI_SLOT AOI_DEV
#   AOI_DD_MB AOI_FILE_MB AOI_DISCOVER_TIMEOUT AOI_SECTORS
AOI_RES=/tmp/aoi.results
touch $AOI_RES
aoi_log() { echo "AOI: $*"; }
aoi_now() { cut -d' ' -f1 /proc/uptime; }
# aoi_check NAME CMD... : run CMD, report "AOI-CHECK PASS|FAIL NAME"
aoi_check() {
  _n="$1"; shift
  if "$@"; then echo "AOI-CHECK PASS $_n"; echo PASS >>$AOI_RES; return 0
  else _rc=$?; echo "AOI-CHECK FAIL $_n (rc=$_rc)"; echo FAIL >>$AOI_RES; return 1; fi
}
aoi_npass() { grep -c PASS $AOI_RES; }
aoi_nfail() { grep -c FAIL $AOI_RES; }
aoi_summary() { echo "AOI-SUMMARY $(aoi_npass) passed, $(aoi_nfail) failed"; }
# aoi_aoe_up: load the aoe driver on $AOI_IF, discover, wait for $AOI_DEV and its size
aoi_aoe_up() {
  modprobe aoe aoe_iflist="$AOI_IF" || return 1
  echo "$AOI_IF" > /dev/etherd/interfaces      # what aoetools' aoe-interfaces does
  echo > /dev/etherd/discover                   # ... and aoe-discover
  _t0=$(aoi_now); _i=0
  while [ ! -b "$AOI_DEV" ]; do
    _i=$((_i+1))
    if [ $_i -gt $((AOI_DISCOVER_TIMEOUT*10)) ]; then
      aoi_log "no $AOI_DEV after ${AOI_DISCOVER_TIMEOUT}s"
      dmesg | grep -i aoe | tail -10 | sed 's/^/AOI: dmesg: /'; return 1
    fi
    [ $((_i % 20)) = 0 ] && echo > /dev/etherd/discover
    sleep 0.1
  done
  _b=$(basename "$AOI_DEV"); _i=0
  while [ "$(cat "/sys/block/etherd!$_b/size" 2>/dev/null || echo 0)" = 0 ] && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i+1)); done
  aoi_log "$AOI_DEV appeared after $(echo "$(aoi_now) $_t0" | awk '{printf "%.2f", $1-$2}')s: $(cat "/sys/block/etherd!$_b/size") sectors, state $(cat "/sys/block/etherd!$_b/state" 2>/dev/null), firmware $(cat "/sys/block/etherd!$_b/firmware-version" 2>/dev/null), payload $(cat "/sys/block/etherd!$_b/payload" 2>/dev/null) bytes/frame"
}
aoi_size_is() { [ "$(cat "/sys/block/etherd!$(basename "$AOI_DEV")/size")" = "$1" ]; }
# aoi_dd LABEL dd-args... : busybox dd, then "AOI-DD LABEL <MB/s> MB/s (...)"
# (busybox dd prints only "N+M records out": bytes = full records * bs)
aoi_dd() {
  _l="$1"; shift
  _bs=512; for _a in "$@"; do case "$_a" in bs=*) _bs=${_a#bs=};; esac; done
  case "$_bs" in *M) _bs=$((${_bs%M}*1048576));; *K|*k) _bs=$((${_bs%?}*1024));; esac
  _t0=$(aoi_now)
  _out=$(dd "$@" 2>&1); _rc=$?
  _t1=$(aoi_now)
  _recs=$(echo "$_out" | sed -n 's/^\([0-9]*\)+[0-9]* records out.*/\1/p' | tail -1)
  [ $_rc = 0 ] && [ -n "$_recs" ] || { echo "$_out" | sed 's/^/AOI: dd: /'; echo "AOI-DD $_l FAILED rc=$_rc"; return 1; }
  echo "$_recs $_bs $_t0 $_t1" | awk -v l="$_l" '{b=$1*$2; d=$4-$3; if(d<=0)d=0.01; printf "AOI-DD %s %.1f MB/s (%d bytes in %.2fs)\n", l, b/d/1e6, b, d}'
}
# aoi_manifest DIR OUT : sha256 of every regular file under DIR, sorted by path
aoi_manifest() { (cd "$1" && find . -type f | sort | xargs sha256sum) > "$2"; }
# aoi_same A B : same content (sha256; busybox cmp is slow under emulation)
aoi_same() { [ "$(sha256sum < "$1")" = "$(sha256sum < "$2")" ]; }
