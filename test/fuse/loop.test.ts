/**
 * The disk-like file of a mounted Vfs as a block device: losetup on it, mkfs.ext4,
 * mount, write files, sync, umount, e2fsck -fn clean, mount again and read them back.
 * What the aoe(3) tree's `data` file must do (issue 11), proven here on a memory Vfs
 * whose reads and writes answer asynchronously, as a network disk does.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountVfs, type FuseMount } from "../../src/fuse/mount.ts";
import { MemVfs } from "./memvfs.ts";
import { canMount, ok, scratch, sh, sha256 } from "./sh.ts";

setDefaultTimeout(60_000);

const haveTools = ["losetup", "mkfs.ext4", "e2fsck"].every((t) => Bun.which(t) || Bun.which(t, { PATH: "/usr/sbin:/sbin" }));

describe.skipIf(!canMount || !haveTools)("ext4 on a loop device over a FUSE file", () => {
  let s: ReturnType<typeof scratch>;
  let m: FuseMount | undefined;
  let loop = "";
  let ext4 = "";

  beforeAll(async () => {
    s = scratch("loop");
    ext4 = join(s.dir, "ext4");
    await ok(`mkdir ${ext4}`);
  });
  afterAll(async () => {
    try {
      await sh(`mountpoint -q ${ext4} && umount ${ext4}`);
      if (loop) await sh(`losetup -d ${loop}`);
      await Promise.race([m?.unmount(), Bun.sleep(10_000)]);
    } finally {
      s?.dispose();
    }
  });

  for (const direct of ["on", "off"] as const) {
    test(`losetup --direct-io=${direct}, mkfs.ext4, mount, write, umount, e2fsck -fn, read back`, async () => {
      // A fresh mount and disk each time: changing the disk behind the kernel's back
      // (zeroing it between runs, say) would leave stale pages in its page cache.
      const vfs = new MemVfs({ diskBytes: 64 << 20, async: true });
      m = await mountVfs(vfs, s.mnt);
      loop = (await ok(`losetup -f --show --direct-io=${direct} ${join(s.mnt, "disk")}`)).trim();
      expect(loop).toMatch(/^\/dev\/loop\d+$/);
      await ok(`mkfs.ext4 -q -F ${loop}`); // with discard: FALLOCATE is ENOSYS, the loop says EOPNOTSUPP, mkfs goes on
      await ok(`mount ${loop} ${ext4}`);
      const file = new Uint8Array(6 << 20);
      crypto.getRandomValues(file.subarray(0, 65536));
      for (let i = 1; i < 96; i++) file.set(file.subarray(0, 65536), i * 65536), (file[i * 65536] = i);
      writeFileSync(join(s.dir, "payload"), file);
      await ok(`cp ${join(s.dir, "payload")} ${ext4}/payload && mkdir ${ext4}/d && echo small > ${ext4}/d/small && sync`);
      const fsyncs = vfs.fsyncs;
      await ok(`umount ${ext4}`);
      const fsck = await sh(`e2fsck -fn ${loop}`);
      expect(fsck.code).toBe(0);
      expect(fsck.out).toMatch(/clean|\d+\/\d+ files/);
      await ok(`mount ${loop} ${ext4}`);
      expect((await ok(`sha256sum ${ext4}/payload`)).split(" ")[0]).toBe(sha256(file));
      expect(await ok(`cat ${ext4}/d/small`)).toBe("small\n");
      await ok(`umount ${ext4}`);
      await ok(`losetup -d ${loop}`);
      loop = "";
      console.log(`ext4 over FUSE, loop direct-io=${direct}: ${vfs.fsyncs} fsyncs reached the Vfs (${fsyncs} by the first umount), ${m.stats.requests} requests`);
      await m.unmount();
      m = undefined;
    });
  }
});
