# test.sh - what the guest does with the AoE device (sourced by /init after
# eth0 is up; helpers from /lib/aoi.sh).  Stops at the first failed check.
aoi_check "modprobe aoe, discover $AOI_DEV" aoi_aoe_up || return 1
aoi_check "size is $AOI_SECTORS sectors" aoi_size_is "$AOI_SECTORS" || return 1

# --- ext4: make, fill, unmount, forget, remount, verify
aoi_check "mkfs.ext4" mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$AOI_DEV" || return 1
aoi_check "mount" mount -t ext4 "$AOI_DEV" /mnt || return 1
dd if=/dev/urandom of=/mnt/payload.bin bs=1M count="$AOI_FILE_MB" 2>/dev/null
mkdir -p /mnt/tree/a/b /mnt/tree/c
i=0; while [ $i -lt 60 ]; do
  head -c $(( (i * 7919) % 70000 + 1 )) /dev/urandom > "/mnt/tree/$( [ $((i % 3)) = 0 ] && echo a/b || echo c)/f$i"
  i=$((i+1))
done
echo "written by the Linux aoe driver, mtu $AOI_MTU" > /mnt/hello.txt
aoi_manifest /mnt /tmp/manifest
aoi_log "wrote $(wc -l < /tmp/manifest) files ($(du -sk /mnt | cut -f1) KiB)"
aoi_check "sync" sync || return 1
aoi_check "umount" umount /mnt || return 1
blockdev --flushbufs "$AOI_DEV" 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
aoi_check "remount (after dropping caches)" mount -t ext4 -o ro "$AOI_DEV" /mnt || return 1
aoi_manifest /mnt /tmp/manifest2
aoi_check "every file's sha256 matches after remount ($(wc -l < /tmp/manifest) files)" cmp -s /tmp/manifest /tmp/manifest2 \
  || { diff /tmp/manifest /tmp/manifest2 | head -5 | sed 's/^/AOI: diff: /'; return 1; }
aoi_check "umount (2)" umount /mnt || return 1
aoi_check "e2fsck -fn clean" sh -c "e2fsck -fn '$AOI_DEV' > /tmp/fsck.out 2>&1" \
  || { tail -8 /tmp/fsck.out | sed 's/^/AOI: e2fsck: /'; return 1; }

# --- raw device, O_DIRECT: write a random pattern, read it back, compare
dd if=/dev/urandom of=/tmp/pattern bs=1M count="$AOI_DD_MB" 2>/dev/null
aoi_check "dd write ${AOI_DD_MB}MiB O_DIRECT" aoi_dd write-direct if=/tmp/pattern of="$AOI_DEV" bs=1M count="$AOI_DD_MB" oflag=direct || return 1
aoi_check "dd read ${AOI_DD_MB}MiB O_DIRECT" aoi_dd read-direct if="$AOI_DEV" of=/tmp/readback bs=1M count="$AOI_DD_MB" iflag=direct || return 1
aoi_check "O_DIRECT data read back equals data written" aoi_same /tmp/pattern /tmp/readback || return 1
rm -f /tmp/pattern /tmp/readback
dmesg | grep -i 'aoe' | grep -v 'unknown ioctl' | tail -5 | sed 's/^/AOI: dmesg: /'
true
