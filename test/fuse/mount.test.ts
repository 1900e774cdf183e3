/**
 * Real FUSE mounts served from this test process (no libfuse): ls, cat, echo, errno
 * mapping, dd with odd offsets checked by sha256, O_DIRECT, df, rm -r, invalidation,
 * unmount. The mount is touched only from child processes (sh.ts).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fuseConnections } from "../../ffi/linux/fuse.ts";
import { mountVfs, type FuseMount } from "../../src/fuse/mount.ts";
import { MemVfs } from "./memvfs.ts";
import { canMount, copiedElsewhere, ok, scratch, sh, sha256 } from "./sh.ts";

setDefaultTimeout(30_000);

const MiB = 1 << 20;

describe.skipIf(!canMount)("a mounted Vfs", () => {
  let s: ReturnType<typeof scratch>;
  const vfs = new MemVfs({ diskBytes: 8 * MiB, async: true });
  let m: FuseMount;
  const errors: string[] = [];
  const at = (p: string) => join(s.mnt, p);

  beforeAll(async () => {
    s = scratch("mount");
    m = await mountVfs(vfs, s.mnt, { onError: (msg, e) => errors.push(`${msg}: ${e}`) });
  });
  afterAll(async () => {
    try {
      await Promise.race([m?.unmount(), Bun.sleep(10_000)]);
    } finally {
      s?.dispose();
    }
  });

  test("/proc/mounts shows fuse.aoede with the kernel options, nosuid, nodev", () => {
    const line = readFileSync("/proc/mounts", "utf8").split("\n").find((l) => l.split(" ")[1] === s.mnt);
    expect(line).toBe(`aoede ${s.mnt} fuse.aoede rw,nosuid,nodev,relatime,user_id=0,group_id=0,default_permissions,allow_other 0 0`);
  });

  test("ls -la: modes, sizes, . and ..", async () => {
    const out = await ok(`ls -la ${s.mnt} | awk '{print $1, $5, $9}'`);
    const lines = out.split("\n").slice(1).filter((l) => l && !l.endsWith(" ..")); // .. is the temp dir, outside the mount
    expect(lines.sort()).toEqual(["-rw-r--r-- 8388608 disk", "-rw-rw-r-- 0 ctl", "-rw-rw-r-- 0 hello", "drwxr-xr-x 0 .", "drwxr-xr-x 0 dir"].sort());
    expect((await ok(`ls ${at("dir")}`)).split("\n").filter(Boolean)).toEqual(["a", "b"]);
  });

  test("cat of text files served with direct I/O (size 0 in stat, whole text read)", async () => {
    expect(await ok(`cat ${at("hello")} ${at("dir/a")}`)).toBe("hello, world\nalpha\n");
    expect((await ok(`stat -c %s ${at("hello")}`)).trim()).toBe("0");
  });

  test("echo > file: SETATTR size 0, then one WRITE; a VfsError(EINVAL) is echo's 'Invalid argument'", async () => {
    await ok(`echo ok > ${at("ctl")}`);
    expect(await ok(`cat ${at("ctl")}`)).toBe("ok\n");
    const bad = await sh(`echo frobnicate > ${at("ctl")}`);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("echo: write error: Invalid argument");
    expect(await ok(`cat ${at("ctl")}`)).toBe(""); // the `>` truncated it before the refused write
    // (`>>` would write at offset 0: the kernel appends at the size, and text files say 0)
  });

  test("other errnos: ENOENT, ENOTEMPTY, EPERM for creating names", async () => {
    expect((await sh(`cat ${at("nope")}`)).err).toContain("No such file or directory");
    expect((await sh(`rmdir ${at("dir")}`)).err).toContain("Directory not empty");
    expect((await sh(`mkdir ${at("new")}`)).err).toContain("Operation not permitted");
    expect((await sh(`touch ${at("newfile")}`)).err).toContain("Operation not permitted");
  });

  test("dd bs=1M through the page cache: the disk holds exactly what was written, and reads back", async () => {
    const src = join(s.dir, "src");
    const data = new Uint8Array(8 * MiB);
    crypto.getRandomValues(data.subarray(0, 65536));
    for (let o = 65536; o < data.length; o *= 2) data.copyWithin(o, 0, o); // random enough, quick
    for (let i = 0; i < data.length; i += 4096) data[i] = i / 4096; // and no two pages alike
    writeFileSync(src, data);
    await ok(`dd if=${src} of=${at("disk")} bs=1M conv=notrunc,fsync status=none`);
    expect(sha256(vfs.disk.data!)).toBe(sha256(data));
    expect(vfs.fsyncs).toBeGreaterThan(0);
    expect((await ok(`dd if=${at("disk")} bs=1M status=none | sha256sum`)).split(" ")[0]).toBe(sha256(data));
  });

  test("dd at odd offsets and lengths, in and out, checked by sha256", async () => {
    const src = join(s.dir, "odd");
    const data = new Uint8Array(333_333);
    crypto.getRandomValues(data.subarray(0, 65536));
    data.set(data.subarray(0, 65536), 65536);
    data.set(data.subarray(0, 200_000), 131072);
    writeFileSync(src, data);
    const before = vfs.disk.data!.slice();
    // 333333 bytes written at byte 1234567 in blocks of 1000 (the last one short)
    await ok(`dd if=${src} of=${at("disk")} bs=1000 seek=1234567 oflag=seek_bytes conv=notrunc status=none`);
    before.set(data, 1234567);
    expect(sha256(vfs.disk.data!)).toBe(sha256(before));
    // read 1000001 bytes from byte 1230001 with a 1 MiB block: crosses the write at both ends
    const out = await ok(`dd if=${at("disk")} bs=1M skip=1230001 count=1000001 iflag=skip_bytes,count_bytes status=none | sha256sum`);
    expect(out.split(" ")[0]).toBe(sha256(before.subarray(1230001, 1230001 + 1000001)));
  });

  test("O_DIRECT: 4 MiB reads become parallel 1 MiB requests (ASYNC_DIO) and still read the right bytes", async () => {
    const out = await ok(`dd if=${at("disk")} bs=4M iflag=direct status=none | sha256sum`);
    expect(out.split(" ")[0]).toBe(sha256(vfs.disk.data!));
    const src = join(s.dir, "src");
    await ok(`dd if=${src} of=${at("disk")} bs=4M oflag=direct conv=notrunc status=none`);
    expect(sha256(vfs.disk.data!)).toBe(sha256(readFileSync(src)));
    expect(Math.max(...vfs.writes.slice(-8).map((w) => w.length))).toBe(MiB); // max_write 1 MiB honoured
    // several requests at the Vfs at once (the disk answers later), each WRITE keeping its read buffer
    expect(m.stats.maxInFlight).toBeGreaterThan(1);
    expect(m.stats.readBuffers).toBeGreaterThan(1);
    console.log(`O_DIRECT through an async Vfs: up to ${m.stats.maxInFlight} requests in flight, ${m.stats.readBuffers} read buffers`);
  });

  test("Ctrl-C on a reader whose read never completes: INTERRUPT → EINTR frees it (pitfall 4)", async () => {
    const stall = vfs.textFile(1, "stall", "");
    const read = vfs.read.bind(vfs);
    vfs.read = (ino, h, o, l) => (ino === stall.ino ? new Promise<Uint8Array>(() => {}) : read(ino, h, o, l));
    try {
      const reader = Bun.spawn(["cat", at("stall")], { stdout: "pipe", stderr: "pipe" });
      const t0 = performance.now();
      while (m.stats.inFlight === 0 && performance.now() - t0 < 5000) await Bun.sleep(10);
      expect(m.stats.inFlight).toBe(1);
      reader.kill("SIGINT");
      const code = await Promise.race([reader.exited, Bun.sleep(5000).then(() => "hung")]);
      expect(code).not.toBe("hung"); // without the EINTR reply cat would sit in D state for ever
      expect(m.stats.interrupted).toBe(1);
      expect(m.stats.inFlight).toBe(0);
    } finally {
      vfs.read = read;
      vfs.vanish(1, "stall");
    }
  });

  test("df: statfs filled (8 MiB, 4 MiB free)", async () => {
    const out = await ok(`df -B1 --output=size,avail ${s.mnt} | tail -1`);
    expect(out.trim().split(/\s+/).map(Number)).toEqual([8 * MiB, 4 * MiB]);
  });

  test("rm -r removes a directory (unlink of its files, then rmdir)", async () => {
    await ok(`rm -r ${at("dir")}`);
    expect((await sh(`ls ${at("dir")}`)).code).not.toBe(0);
    expect(() => vfs.lookup(1, "dir")).toThrow();
    expect((await ok(`ls ${s.mnt}`)).split("\n").filter(Boolean).sort()).toEqual(["ctl", "disk", "hello"]);
  });

  test("nothing went wrong on the server's side", () => {
    expect(errors).toEqual([]);
    expect(m.stats.malformed).toBe(0);
  });

  test("unmount ends the connection: gone from /proc/mounts, read(2) said ENODEV, fusectl entry gone", async () => {
    const conn = m.connection!;
    expect(fuseConnections()).toContain(conn);
    await m.unmount();
    await m.done; // resolves only once read(2) on /dev/fuse has said the connection is over
    expect(readFileSync("/proc/mounts", "utf8")).not.toContain(s.mnt);
    // (a process elsewhere on this shared machine that unshared its mount namespace
    // while we were mounted keeps a copy, and with it the fusectl entry: then the
    // unmount above ended by the abort after the grace time instead)
    if (!copiedElsewhere(conn)) expect(fuseConnections()).not.toContain(conn);
  });
});

describe.skipIf(!canMount)("invalidation", () => {
  let s: ReturnType<typeof scratch>;
  const vfs = new MemVfs({ diskBytes: 4096 });
  let m: FuseMount;
  beforeAll(async () => {
    s = scratch("inval");
    // names cached for a minute: only a notification can make the kernel forget one
    m = await mountVfs(vfs, s.mnt, { entryTimeout: 60, attrTimeout: 60 });
  });
  afterAll(async () => {
    try {
      await Promise.race([m?.unmount(), Bun.sleep(10_000)]);
    } finally {
      s?.dispose();
    }
  });

  test("onInvalidate → NOTIFY_INVAL_ENTRY (from the notify thread): the name is gone at once", async () => {
    vfs.textFile(1, "target", "t\n");
    await ok(`stat ${join(s.mnt, "target")}`);
    // cached: a second stat does not reach the server, so only a notification can
    // tell the kernel the name is gone before its 60 s are up
    const before = m.stats.requests;
    await ok(`stat ${join(s.mnt, "target")}`);
    expect(m.stats.requests).toBe(before);
    vfs.vanish(1, "target");
    const t0 = performance.now();
    let r = await sh(`stat ${join(s.mnt, "target")}`);
    while (r.code === 0 && performance.now() - t0 < 3000) r = await sh(`stat ${join(s.mnt, "target")}`);
    expect(r.err).toContain("No such file or directory");
    expect(m.stats.notifications).toBe(1);
  });

  test("invalidating while ls hammers the same directory does not deadlock", async () => {
    for (let i = 0; i < 20; i++) vfs.textFile(1, `n${i}`, "");
    const hammer = sh(`for i in $(seq 200); do ls -l ${s.mnt} >/dev/null; done`);
    for (let i = 0; i < 20; i++) {
      vfs.vanish(1, `n${i}`);
      await Bun.sleep(2);
    }
    const r = await hammer;
    expect(r.code).toBe(0);
    expect(await ok(`ls ${s.mnt}`)).not.toContain("n1");
  });
});
