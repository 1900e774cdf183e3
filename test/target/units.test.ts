/**
 * Unit tests of the target's parts that need no network: ATA planning, access
 * control, tag tracking, persisted state, storage.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AoEError, AtaCmd, AtaErrorBit, buildIdentify, parseMac, type AtaArg } from "../../src/aoe/index.ts";
import { AccessControl, keyToMac, keyToString, macKey, MAX_MASKS } from "../../src/target/access.ts";
import { planAta, POWER_ACTIVE, STATUS_ERR, STATUS_OK, type AtaDevice } from "../../src/target/ata.ts";
import { StateStore } from "../../src/target/state.ts";
import { Storage, StorageError } from "../../src/target/storage.ts";
import { onMemoryFs } from "../../ffi/fileio.ts";
import { TagTracker, TagVerdict } from "../../src/target/tags.ts";

// Real files and storage I/O (fdatasync, O_DIRECT, a loop device): several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-target-unit-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const dev: AtaDevice = { sectors: 1000, readOnly: false, maxSectors: 2, identify: buildIdentify({ sectors: 1000, model: "m", serial: "s", firmware: "f" }) };
const arg = (cmdStatus: number, lba = 0, sectorCount = 1): AtaArg => ({ aflags: 0, errFeature: 0, sectorCount, cmdStatus, lba, data: new Uint8Array(0) });

describe("planAta", () => {
  test("LBA28 reads and writes are masked to 28 bits; EXT forms use 48", () => {
    expect(planAta(dev, arg(AtaCmd.Read, 0xe0000005, 1), 0)).toEqual({ kind: "read", lba: 5, count: 1 });
    expect(planAta(dev, arg(AtaCmd.Write, 0xe0000007, 1), 512)).toEqual({ kind: "write", lba: 7, count: 1 });
    // the same bits in an EXT request are a real (huge) address: past the end
    expect(planAta(dev, arg(AtaCmd.ReadExt, 0xe0000005, 1), 0)).toMatchObject({ kind: "reply", status: STATUS_ERR, error: AtaErrorBit.Idnf });
    expect(planAta(dev, arg(AtaCmd.WriteExt, 998, 2), 1024)).toEqual({ kind: "write", lba: 998, count: 2 });
  });
  test("the last sector is in, one past it is IDNF", () => {
    expect(planAta(dev, arg(AtaCmd.ReadExt, 999, 1), 0)).toEqual({ kind: "read", lba: 999, count: 1 });
    expect(planAta(dev, arg(AtaCmd.ReadExt, 999, 2), 0)).toMatchObject({ kind: "reply", status: STATUS_ERR, error: AtaErrorBit.Idnf });
    expect(planAta(dev, arg(AtaCmd.Read, 1000, 1), 0)).toMatchObject({ error: AtaErrorBit.Idnf });
  });
  test("too many sectors or a short write payload: AoE error 2", () => {
    expect(planAta(dev, arg(AtaCmd.ReadExt, 0, 3), 0)).toEqual({ kind: "aoeError", error: AoEError.BadArgument });
    expect(planAta(dev, arg(AtaCmd.WriteExt, 0, 2), 1023)).toEqual({ kind: "aoeError", error: AoEError.BadArgument });
  });
  test("read-only: writes abort, reads work", () => {
    const ro = { ...dev, readOnly: true };
    expect(planAta(ro, arg(AtaCmd.WriteExt, 0, 1), 512)).toMatchObject({ kind: "reply", status: STATUS_ERR, error: AtaErrorBit.Abrt });
    expect(planAta(ro, arg(AtaCmd.ReadExt, 0, 1), 0)).toEqual({ kind: "read", lba: 0, count: 1 });
  });
  test("IDENTIFY, CHECK POWER MODE, FLUSH and unknown commands", () => {
    expect(planAta(dev, arg(AtaCmd.Identify), 0)).toMatchObject({ kind: "reply", status: STATUS_OK, data: dev.identify });
    expect(planAta(dev, arg(AtaCmd.CheckPower), 0)).toMatchObject({ kind: "reply", status: STATUS_OK, sectorCount: POWER_ACTIVE });
    expect(planAta(dev, arg(AtaCmd.Flush), 0)).toEqual({ kind: "flush" });
    expect(planAta(dev, arg(AtaCmd.FlushExt), 0)).toEqual({ kind: "flush" });
    for (const cmd of [0x00, 0x25, 0xc8, 0xca, 0xef, 0xff]) {
      expect(planAta(dev, arg(cmd), 0)).toMatchObject({ kind: "reply", status: STATUS_ERR, error: AtaErrorBit.Abrt });
    }
  });
});

describe("AccessControl", () => {
  const a = macKey(parseMac("02:00:00:00:00:0a"));
  const b = macKey(parseMac("02:00:00:00:00:0b"));
  const c = macKey(parseMac("02:00:00:00:00:0c"));
  test("MAC keys round-trip", () => {
    const m = parseMac("fe:dc:ba:98:76:54");
    expect(keyToMac(macKey(m))).toEqual(m);
    expect(keyToString(macKey(m))).toBe("fe:dc:ba:98:76:54");
  });
  test("empty mask list allows everyone; edits apply in order", () => {
    const ac = new AccessControl();
    expect(ac.allows(a)).toBe(true);
    expect(ac.editMasks([{ cmd: 1, mac: a }, { cmd: 1, mac: b }, { cmd: 1, mac: a }, { cmd: 0, mac: c }])).toEqual({ ok: true });
    expect(ac.maskList).toEqual([a, b]);
    expect(ac.allows(c)).toBe(false);
    expect(ac.editMasks([{ cmd: 2, mac: a }, { cmd: 2, mac: c }])).toEqual({ ok: true });
    expect(ac.maskList).toEqual([b]);
    expect(ac.editMasks([{ cmd: 1, mac: c }, { cmd: 7, mac: a }, { cmd: 1, mac: a }])).toEqual({ ok: false, error: 2, index: 1 });
    expect(ac.maskList).toEqual([b, c]);
  });
  test("list full", () => {
    const ac = new AccessControl();
    const many = Array.from({ length: MAX_MASKS + 1 }, (_, i) => ({ cmd: 1, mac: 0x020000000000 + i }));
    expect(ac.editMasks(many)).toEqual({ ok: false, error: 3, index: MAX_MASKS });
    expect(ac.maskList.length).toBe(MAX_MASKS);
  });
  test("reservation: set, refuse others, force, release", () => {
    const ac = new AccessControl();
    expect(ac.reservedAgainst(a)).toBe(false);
    expect(ac.reserve(a, [a], false)).toEqual({ ok: true });
    expect(ac.reservedAgainst(a)).toBe(false);
    expect(ac.reservedAgainst(b)).toBe(true);
    expect(ac.reserve(b, [b], false)).toEqual({ ok: false, aoeError: 6 });
    expect(ac.reserve(b, [b, c], true)).toEqual({ ok: true });
    expect(ac.reservationList).toEqual([b, c]);
    expect(ac.reserve(c, [], false)).toEqual({ ok: true });
    expect(ac.reservedAgainst(a)).toBe(false);
  });
});

describe("TagTracker", () => {
  test("rx drops every duplicate", () => {
    const t = new TagTracker("rx", 8);
    expect(t.check(1, 100, false, 0, 1)).toBe(TagVerdict.Execute);
    expect(t.check(1, 100, false, 0, 1)).toBe(TagVerdict.Drop);
    expect(t.check(2, 100, false, 0, 1)).toBe(TagVerdict.Execute);
    expect(t.check(1, 101, true, 0, 1)).toBe(TagVerdict.Execute);
    t.completed(1, 101);
    expect(t.check(1, 101, true, 0, 1)).toBe(TagVerdict.Drop);
  });
  test("write acknowledges a completed duplicate write, drops one in flight, runs other duplicates", () => {
    const t = new TagTracker("write", 8);
    expect(t.check(1, 5, true, 10, 2)).toBe(TagVerdict.Execute);
    expect(t.check(1, 5, true, 10, 2)).toBe(TagVerdict.Drop);
    t.completed(1, 5);
    expect(t.check(1, 5, true, 10, 2)).toBe(TagVerdict.Acknowledge);
    // same tag, other sectors: not a duplicate
    expect(t.check(1, 5, true, 12, 2)).toBe(TagVerdict.Execute);
    expect(t.check(1, 6, false, 0, 1)).toBe(TagVerdict.Execute);
    expect(t.check(1, 6, false, 0, 1)).toBe(TagVerdict.Execute);
  });
  test("both: writes acknowledged, the rest dropped; failures are forgotten; the window slides", () => {
    const t = new TagTracker("both", 4);
    expect(t.check(1, 1, true, 0, 1)).toBe(TagVerdict.Execute);
    t.completed(1, 1);
    expect(t.check(1, 1, true, 0, 1)).toBe(TagVerdict.Acknowledge);
    expect(t.check(1, 2, false, 0, 1)).toBe(TagVerdict.Execute);
    expect(t.check(1, 2, false, 0, 1)).toBe(TagVerdict.Drop);
    expect(t.check(1, 3, true, 0, 1)).toBe(TagVerdict.Execute);
    t.failed(1, 3);
    expect(t.check(1, 3, true, 0, 1)).toBe(TagVerdict.Execute);
    for (let tag = 10; tag < 14; tag++) t.check(1, tag, false, 0, 1);
    expect(t.check(1, 2, false, 0, 1)).toBe(TagVerdict.Execute);
  });
});

describe("StateStore", () => {
  test("save then load; atomic replacement; corrupt file is reported", async () => {
    const dir = path.join(tmp, "state");
    const s = new StateStore(dir, 3, 7);
    expect(s.load()).toEqual({ config: new Uint8Array(0), masks: [], reservation: [] });
    const cfg = new Uint8Array([0, 1, 2, 255, 0x41]);
    await Promise.all([
      s.save({ config: cfg, masks: [1], reservation: [] }),
      s.save({ config: cfg, masks: [1, 2], reservation: [3] }),
      s.save({ config: cfg, masks: [1, 2, 0xffffffffffff], reservation: [3] }),
    ]);
    const again = new StateStore(dir, 3, 7).load();
    expect(again).toEqual({ config: cfg, masks: [1, 2, 0xffffffffffff], reservation: [3] });
    expect(fs.readdirSync(dir)).toEqual(["e3.7.json"]);
    fs.writeFileSync(s.file, "{nope");
    expect(() => new StateStore(dir, 3, 7).load()).toThrow(/corrupt/);
  });
});

describe("Storage", () => {
  const file = path.join(tmp, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(64 * 512));
  for (let i = 0; i < 64; i++) fs.writeSync(fs.openSync(file, "r+"), Buffer.alloc(512, i), 0, 512, i * 512);

  const io = (f: (done: (e: Error | null) => void) => void) =>
    new Promise<void>((resolve, reject) => f((e) => (e ? reject(e) : resolve())));

  test("size, offset and length windows", () => {
    expect(Storage.open({ path: file, readOnly: true, direct: false, sync: false, offsetSectors: 0 }).sectors).toBe(64);
    expect(Storage.open({ path: file, readOnly: true, direct: false, sync: false, offsetSectors: 10 }).sectors).toBe(54);
    expect(Storage.open({ path: file, readOnly: true, direct: false, sync: false, offsetSectors: 10, lengthSectors: 5 }).sectors).toBe(5);
    expect(() => Storage.open({ path: file, readOnly: true, direct: false, sync: false, offsetSectors: 64 })).toThrow(StorageError);
    expect(() => Storage.open({ path: file, readOnly: true, direct: false, sync: false, offsetSectors: 10, lengthSectors: 55 })).toThrow(/exceeds/);
    expect(() => Storage.open({ path: path.join(tmp, "missing"), readOnly: false, direct: false, sync: false, offsetSectors: 0 })).toThrow(/no such file/);
    expect(() => Storage.open({ path: tmp, readOnly: true, direct: false, sync: false, offsetSectors: 0 })).toThrow(/neither|directory/);
  });

  test("buffered writes go into the page cache inline (no thread hop); O_SYNC and read-only exports do not", () => {
    // on a disk file system: on tmpfs writeNow is a plain pwrite anyway, and the test would prove nothing
    const diskDir = fs.mkdtempSync(path.join("/var/tmp", "aoede-inline-"));
    try {
      const sparse = path.join(diskDir, "inline.img");
      fs.writeFileSync(sparse, "");
      fs.truncateSync(sparse, 64 * 512); // sparse: each first write allocates
      const data = new Uint8Array(new ArrayBuffer(1024)).fill(0x5a);
      const s = Storage.open({ path: sparse, readOnly: false, direct: false, sync: false, offsetSectors: 2 });
      expect(onMemoryFs(s.fd)).toBe(false);
      for (let lba = 0; lba < 60; lba += 2) expect(s.writeNow(lba, 2, data)).toBe(true);
      s.close();
      const raw = fs.readFileSync(sparse);
      expect(raw[2 * 512]).toBe(0x5a);
      expect(raw[62 * 512 - 1]).toBe(0x5a);
      expect(raw[2 * 512 - 1]).toBe(0); // before the offset: untouched
      const sync = Storage.open({ path: sparse, readOnly: false, direct: false, sync: true, offsetSectors: 0 });
      expect(sync.writeNow(0, 2, data)).toBe(false); // O_SYNC waits by definition: the thread pool's
      sync.close();
      const ro = Storage.open({ path: sparse, readOnly: true, direct: false, sync: false, offsetSectors: 0 });
      expect(ro.writeNow(0, 2, data)).toBe(false);
      ro.close();
    } finally {
      fs.rmSync(diskDir, { recursive: true, force: true });
    }
  });

  test("reads and writes go through the offset; flush completes", async () => {
    const s = Storage.open({ path: file, readOnly: false, direct: false, sync: false, offsetSectors: 10, lengthSectors: 20 });
    const buf = new Uint8Array(1024);
    await io((d) => s.read(0, 2, buf, d));
    expect(buf[0]).toBe(10);
    expect(buf[1023]).toBe(11);
    await io((d) => s.write(19, 1, new Uint8Array(512).fill(0xab), d));
    await io((d) => s.flush(d));
    const raw = fs.readFileSync(file);
    expect(raw[29 * 512]).toBe(0xab);
    expect(raw[30 * 512]).toBe(30);
    s.close();
  });

  test("many transfers in flight at once", async () => {
    const s = Storage.open({ path: file, readOnly: false, direct: false, sync: false, offsetSectors: 0 });
    const bufs = Array.from({ length: 32 }, () => new Uint8Array(512));
    await Promise.all(bufs.map((b, i) => io((d) => s.read(i, 1, b, d))));
    bufs.forEach((b, i) => expect(b[100]).toBe(i === 29 ? 0xab : i)); // 29 was written above
    s.close();
  });

  test("O_DIRECT with aligned buffers", async () => {
    const { alignedBytes } = await import("../../ffi/blockdev.ts");
    let s: Storage;
    try {
      s = Storage.open({ path: file, readOnly: false, direct: true, sync: true, offsetSectors: 0 });
    } catch (e) {
      expect(String(e)).toMatch(/O_DIRECT/); // a file system without O_DIRECT
      return;
    }
    const buf = alignedBytes(4096);
    buf.fill(0x5a);
    await io((d) => s.write(8, 8, buf, d));
    const back = alignedBytes(4096);
    await io((d) => s.read(8, 8, back, d));
    expect(back.every((v) => v === 0x5a)).toBe(true);
    s.close();
  });

  const canLoop = process.getuid?.() === 0 && Bun.which("losetup") !== null;
  test.skipIf(!canLoop)("block device: size from BLKGETSIZE64, reads and writes, O_DIRECT", async () => {
    const backing = path.join(tmp, "loop.img");
    fs.writeFileSync(backing, Buffer.alloc(3 * 1024 * 1024, 0x3c));
    const r = Bun.spawnSync(["losetup", "-f", "--show", backing], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) return; // no loop devices in this environment
    const dev = r.stdout.toString().trim();
    try {
      const s = Storage.open({ path: dev, readOnly: false, direct: true, sync: false, offsetSectors: 8 });
      expect(s.kind).toBe("block device");
      expect(s.sectors).toBe(6144 - 8);
      const { alignedBytes } = await import("../../ffi/blockdev.ts");
      const buf = alignedBytes(1024);
      await io((d) => s.read(0, 2, buf, d));
      expect(buf.every((v) => v === 0x3c)).toBe(true);
      buf.fill(0xd7);
      await io((d) => s.write(s.sectors - 2, 2, buf, d));
      await io((d) => s.flush(d));
      s.close();
      const back = fs.readFileSync(backing);
      expect(back[6144 * 512 - 1]).toBe(0xd7);
      expect(back[6142 * 512 - 1]).toBe(0x3c);
    } finally {
      Bun.spawnSync(["losetup", "-d", dev]);
    }
  });

  test("cached data moves at once (RWF_NOWAIT, or plain pread/pwrite on tmpfs); otherwise the caller goes async", async () => {
    const s = Storage.open({ path: file, readOnly: false, direct: false, sync: false, offsetSectors: 0 });
    const buf = new Uint8Array(new ArrayBuffer(512));
    fs.readFileSync(file); // into the page cache
    expect(s.readNow(5, 1, buf)).toBe(true);
    expect(buf[0]).toBe(5);
    s.close();
    const direct = Storage.open({ path: file, readOnly: false, direct: true, sync: false, offsetSectors: 0 });
    expect(direct.readNow(5, 1, buf)).toBe(false); // O_DIRECT never takes the shortcut
    direct.close();
    if (fs.existsSync("/dev/shm")) {
      const shm = fs.mkdtempSync("/dev/shm/aoede-unit-");
      try {
        const mem = path.join(shm, "mem.img");
        fs.writeFileSync(mem, Buffer.alloc(16 * 512, 0x6d));
        const m = Storage.open({ path: mem, readOnly: false, direct: false, sync: false, offsetSectors: 0 });
        expect(m.readNow(3, 1, buf)).toBe(true);
        expect(buf[511]).toBe(0x6d);
        expect(m.writeNow(4, 1, new Uint8Array(new ArrayBuffer(512)).fill(0x11))).toBe(true);
        expect(fs.readFileSync(mem)[4 * 512]).toBe(0x11);
        m.close();
      } finally {
        fs.rmSync(shm, { recursive: true, force: true });
      }
    }
  });

  test("sparse file: holes read as zeroes", async () => {
    const sparse = path.join(tmp, "sparse.img");
    fs.closeSync(fs.openSync(sparse, "w"));
    fs.truncateSync(sparse, 1 << 30);
    const s = Storage.open({ path: sparse, readOnly: true, direct: false, sync: false, offsetSectors: 0 });
    expect(s.sectors).toBe((1 << 30) / 512);
    const buf = new Uint8Array(512).fill(1);
    await io((d) => s.read(s.sectors - 1, 1, buf, d));
    expect(buf.every((v) => v === 0)).toBe(true);
    s.close();
  });
});
