/**
 * The aoe(3) tree against `aoede serve` in this same process (one loop, one
 * poller), over two veth pairs joined by a bridge on the target's side: the
 * Vfs driven as the FUSE server will drive it. Every file's text against the
 * 9front formats, every ctl verb with good and bad arguments, data at aligned
 * and odd offsets checked with sha256 against the image, bind of two
 * interfaces, unbind of one in the middle of a copy, unbind of the last, rm -r,
 * and a target that vanishes and comes back.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { canUseNetns } from "../helpers/netns.ts";
import { makeBridgedWorld, type BridgedWorld } from "../helpers/multipath.ts";
import { makeImage, sha256, type Image } from "../helpers/vblade.ts";
import { parseServeArgs } from "../../src/target/config.ts";
import { startExport, type RunningExport } from "../../src/target/server.ts";
import { AoeTree } from "../../src/tree/state.ts";
import { sharedLoop } from "../../src/net/loop.ts";
import { TreeVfs } from "../../src/tree/vfs.ts";
import { ROOT_INO } from "../../src/tree/inode.ts";
import { parseIdentify } from "../../src/aoe/identify.ts";
import { drainLog, errnoOf, expectShape, readBytes, readText, until, walk, writeText } from "./helpers.ts";

setDefaultTimeout(30_000);

const MIB = 1 << 20;
const MEMORY_DIR = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const hex = (mac: string) => mac.replaceAll(":", "");

describe.skipIf(!canUseNetns())("the aoe(3) tree against aoede serve", () => {
  let bw: BridgedWorld;
  let img: Image;
  let exp: RunningExport | undefined;
  let tree: AoeTree;
  let vfs: TreeVfs;
  const invalidated: string[] = [];
  const echoed: string[] = [];
  const serveArgs = () => parseServeArgs(["-b", "16", "4", "2", bw.bridge, img.path]);

  beforeAll(async () => {
    bw = makeBridgedWorld("tre");
    img = makeImage(8 * MIB, "disk.img", MEMORY_DIR);
    exp = startExport(serveArgs(), { netns: bw.world.nsA });
    tree = new AoeTree({ netns: bw.world.nsB, deadlineMs: 3000, probeMs: 200, rediscoverMs: 300, echo: (l) => echoed.push(l) });
    vfs = new TreeVfs(tree);
    vfs.onInvalidate = (parent, name) => {
      expect(parent).toBe(ROOT_INO);
      invalidated.push(name);
    };
  });

  afterAll(async () => {
    tree?.close();
    await exp?.stop();
    await Bun.sleep(50);
    img?.dispose();
    bw?.dispose();
  });

  const up = () => until(async () => (await readText(vfs, "4.2/ctl")).startsWith("state: up\n"), 10_000, "4.2 up");

  test("bind: autodiscover finds the target, which is up once IDENTIFY answers", async () => {
    expect(await writeText(vfs, "ctl", `bind ${bw.ifsB[0]}\n`)).toBe(`bind ${bw.ifsB[0]}\n`.length);
    await up();
    expect(invalidated).toContain("4.2");
    // Target and tree in this one process, on its one loop (and so its one poller thread).
    expect(tree.ini.loop).toBe(sharedLoop());
    expect(vfs.readdir(ROOT_INO).map((e) => e.name)).toEqual(["ctl", "log", "4.2"]);
    expect(vfs.readdir(walk(vfs, "4.2")).map((e) => e.name)).toEqual(["ctl", "data", "config", "ident", "devlink"]);
    expect(vfs.readdir(walk(vfs, "4.2/devlink")).map((e) => e.name)).toEqual(["0"]);
    // Plan 9 matches generated names only.
    expect(await errnoOf(() => vfs.lookup(ROOT_INO, "04.2"))).toBe("ENOENT");
  });

  test("modes and sizes follow 9front", () => {
    const mode = (p: string) => vfs.getattr(walk(vfs, p));
    expect(mode("/").perm).toBe(0o555);
    expect(mode("ctl")).toMatchObject({ kind: "file", perm: 0o664, size: 0 });
    expect(mode("log")).toMatchObject({ kind: "file", perm: 0o444, size: 0 });
    expect(mode("4.2")).toMatchObject({ kind: "dir", perm: 0o555 });
    expect(mode("4.2/ctl")).toMatchObject({ perm: 0o664, size: 0 });
    expect(mode("4.2/data")).toMatchObject({ perm: 0o660, size: 8 * MIB });
    expect(mode("4.2/ident")).toMatchObject({ perm: 0o664, size: 512 });
    expect(mode("4.2/config")).toMatchObject({ perm: 0o664, size: 0 });
    expect(mode("4.2/devlink")).toMatchObject({ kind: "dir", perm: 0o555 });
    expect(mode("4.2/devlink/0")).toMatchObject({ perm: 0o444, size: 0 });
    // Node ids derive from shelf.slot and the file: the same on every lookup.
    expect(walk(vfs, "4.2/data")).toBe((4 * 256 + 2 + 1) * 64 + 2);
  });

  test("top ctl text", async () => {
    expect(await readText(vfs, "ctl")).toBe(
      `debug: 0\nautodiscover: 1\nrediscover: 0\n` +
        `if0 path: ${bw.ifsB[0]}\nif0 ea: ${hex(bw.macsB[0])}\nif0 flag: up \nif0 lostjumbo: 0\nif0 datamtu: 1500\n`,
    );
  });

  test("unit ctl text (9front pstat)", async () => {
    expectShape(
      await readText(vfs, "4.2/ctl"),
      "state: up\nnopen: 0\nnout: 0\nnmaxout: {N}\nnframes: 16\nmaxbcnt: 1024 [maxmtu 100000]\nfw: 0001\n" +
        "model: AoEde\nserial: e4.2\nfirmware: 0.1.0\nflag: lba llba ata8  up jumbo \n",
    );
  });

  test("devlink text (9front devlinkread)", async () => {
    expectShape(
      await readText(vfs, "4.2/devlink/0"),
      `addr: ${hex(bw.bridgeMac)} \nnpkt: {N}\nresent: {N}\nflag: up \nrttavg: {N}\nmintimer: {N}\ndatamtu: 1024\n` +
        `nl path: ${bw.ifsB[0]}\nnl ea: ${hex(bw.macsB[0])}\nnl flag: up \nnl lostjumbo: 0\nnl datamtu: 1500\n`,
    );
  });

  test("ident: the 512 raw bytes of IDENTIFY", async () => {
    const id = await readBytes(vfs, "4.2/ident");
    expect(id.length).toBe(512);
    const p = parseIdentify(id);
    expect(p).toMatchObject({ model: "AoEde", serial: "e4.2", sectors: (8 * MIB) / 512, lba48: true });
    expect(await errnoOf(() => writeText(vfs, "4.2/ident", "x"))).toBe("EPERM");
  });

  test("config: a write force-sets the string, merged at its offset and cut after it", async () => {
    expect(await readText(vfs, "4.2/config")).toBe("");
    await writeText(vfs, "4.2/config", "rack 4 shelf 2\n");
    expect(await readText(vfs, "4.2/config")).toBe("rack 4 shelf 2\n");
    expect(vfs.getattr(walk(vfs, "4.2/config")).size).toBe(15);
    // A write at offset 5 keeps the first 5 bytes and ends the string after it (Plan 9's configwrite).
    const ino = walk(vfs, "4.2/config");
    const { handle } = vfs.open(ino, 1);
    await vfs.write(ino, handle, 5, new TextEncoder().encode("9"));
    vfs.release(ino, handle);
    expect(await readText(vfs, "4.2/config")).toBe("rack 9");
    expect(await errnoOf(() => vfs.write(ino, 0, 1020, new Uint8Array(5)))).toBe("EFBIG");
    await writeText(vfs, "4.2/config", "");
  });

  test("data: reads and writes at aligned and odd offsets, sha256 against the image", async () => {
    const ino = walk(vfs, "4.2/data");
    const { handle, directIo } = vfs.open(ino, 2);
    expect(directIo).toBe(false);
    try {
      const file = () => readFileSync(img.path);
      for (const [off, len] of [
        [0, 512],
        [4096, 65536],
        [1, 1],
        [511, 2],
        [1000, 70001],
        [8 * MIB - 700, 700],
        [8 * MIB - 100, 4096], // clipped at the end
      ] as const) {
        const got = await vfs.read(ino, handle, off, len);
        const want = file().subarray(off, Math.min(8 * MIB, off + len));
        expect(sha256(got)).toBe(sha256(want));
      }
      expect((await vfs.read(ino, handle, 8 * MIB, 512)).length).toBe(0);
      for (const [off, len] of [
        [0, 512],
        [8192, 131072],
        [3, 5],
        [510, 4],
        [1021, 3], // one sector, partial at its start only
        [2048, 100], // one sector, partial at its end only
        [12345, 77777],
        [8 * MIB - 513, 513],
      ] as const) {
        const data = crypto.getRandomValues(new Uint8Array(len));
        const before = file();
        expect(await vfs.write(ino, handle, off, data)).toBe(len);
        const after = file();
        // Exactly those bytes changed: the rest of each touched sector kept.
        const want = Buffer.from(before);
        want.set(data, off);
        expect(sha256(after)).toBe(sha256(want));
      }
      expect(await errnoOf(() => vfs.write(ino, handle, 8 * MIB, new Uint8Array(1)))).toBe("ENOSPC");
      await vfs.fsync(ino, handle);
      expect(tree.unit(4, 2)!.t.nopen).toBe(1);
      const whole = await readBytes(vfs, "4.2/data", 131072);
      expect(createHash("sha256").update(whole).digest("hex")).toBe(sha256(readFileSync(img.path)));
    } finally {
      vfs.release(ino, handle);
    }
    expect(tree.unit(4, 2)!.t.nopen).toBe(0);
  });

  test("top ctl verbs", async () => {
    await writeText(vfs, "ctl", "debug");
    await writeText(vfs, "ctl", "rediscover on");
    await writeText(vfs, "ctl", "autodiscover x");
    expect(await readText(vfs, "ctl")).toStartWith("debug: 1\nautodiscover: 0\nrediscover: 1\n");
    await writeText(vfs, "ctl", "debug off\n");
    await writeText(vfs, "ctl", "rediscover\n");
    await writeText(vfs, "ctl", "autodiscover on\n");
    expect(await readText(vfs, "ctl")).toStartWith("debug: 0\nautodiscover: 1\nrediscover: 0\n");
    for (const v of ["discover", "discover 4", "discover 4.2", "discover 0x4.0x2", "discover 010.1"]) await writeText(vfs, "ctl", v);
  });

  test("wrong verbs and arguments: EINVAL, and the log names Plan 9's error", async () => {
    await drainLog(vfs);
    const cases: [string, string, string, string][] = [
      ["ctl", "frob 1", "EINVAL", 'ctl: unknown control message "frob 1"'],
      ["ctl", "\n", "EINVAL", "ctl: empty control message"],
      ["ctl", "bind", "EINVAL", 'ctl: wrong #args in control message "bind"'],
      ["ctl", "bind a b", "EINVAL", 'ctl: wrong #args in control message "bind a b"'],
      ["ctl", "unbind nosuch0", "EINVAL", "ctl: device not bound"],
      ["ctl", "remove", "EINVAL", 'ctl: wrong #args in control message "remove"'],
      ["ctl", "remove 9.9", "EINVAL", "ctl: device not bound"],
      ["ctl", "discover x", "EINVAL", "ctl: bad shelf"],
      ["ctl", "discover 65536", "EINVAL", "ctl: bad shelf"],
      ["ctl", "discover 1.256", "EINVAL", "ctl: bad slot"],
      ["ctl", "bind nosuch0", "ENODEV", "ctl: 'nosuch0' does not exist"],
      ["ctl", `bind ${bw.ifsB[0]}`, "EBUSY", `ctl: ${bw.ifsB[0]}: already bound`],
      ["4.2/ctl", "failio now", "EINVAL", '4.2/ctl: wrong #args in control message "failio now"'],
      ["4.2/ctl", "identify 1", "EINVAL", '4.2/ctl: wrong #args in control message "identify 1"'],
      ["4.2/ctl", "maxbno 1 2", "EINVAL", "4.2/ctl: wrong #args in control message"],
      ["4.2/ctl", "mtu 100", "EINVAL", '4.2/ctl: invalid mtu "mtu 100"'],
      ["4.2/ctl", "mtu 9000", "EINVAL", '4.2/ctl: invalid mtu "mtu 9000"'],
      ["4.2/ctl", "maxbno 0", "EINVAL", '4.2/ctl: invalid mtu "maxbno 0"'],
      ["4.2/ctl", "setsize 1000", "EINVAL", '4.2/ctl: disk size must be sector aligned "setsize 1000"'],
      ["4.2/ctl", "setsize 1 2", "EINVAL", "4.2/ctl: wrong #args in control message"],
      ["4.2/ctl", "bind x", "EINVAL", '4.2/ctl: unknown control message "bind x"'],
      ["log", "x", "EPERM", "log: permission denied"],
      ["4.2/devlink/0", "x", "EPERM", "4.2/devlink/0: permission denied"],
    ];
    for (const [file, verb, errno, line] of cases) {
      expect(`${file} <- ${verb}: ${await errnoOf(() => writeText(vfs, file, verb))}`).toBe(`${file} <- ${verb}: ${errno}`);
      expect(await drainLog(vfs)).toEqual([line + "\n"]);
    }
    expect(echoed).toContain('ctl: unknown control message "frob 1"');
  });

  test("unit ctl verbs", async () => {
    const ctl = () => readText(vfs, "4.2/ctl");
    await writeText(vfs, "4.2/ctl", "mtu 1060");
    expect(await ctl()).toContain("maxbcnt: 1024 [maxmtu 1024]\n");
    await writeText(vfs, "4.2/ctl", "maxbno 1");
    expect(await ctl()).toContain("maxbcnt: 512 [maxmtu 512]\n");
    // Frames of one sector now: reads still work.
    const data = walk(vfs, "4.2/data");
    const h = vfs.open(data, 0).handle;
    expect(sha256(await vfs.read(data, h, 1000, 5000))).toBe(sha256(readFileSync(img.path).subarray(1000, 6000)));
    vfs.release(data, h);
    await writeText(vfs, "4.2/ctl", "mtu");
    expect(await ctl()).toContain("maxbcnt: 1024 [maxmtu 100000]\n");
    await writeText(vfs, "4.2/ctl", "jumbo");
    expect(await ctl()).toEndWith("flag: lba llba ata8  up \n");
    await writeText(vfs, "4.2/ctl", "jumbo on");
    await writeText(vfs, "4.2/ctl", "nofail on");
    expect(await ctl()).toEndWith("flag: lba llba ata8  up jumbo nofail \n");
    await writeText(vfs, "4.2/ctl", "nofail");
    expect(await ctl()).toEndWith("flag: lba llba ata8  up jumbo \n");
    await writeText(vfs, "4.2/ctl", "setsize 0x1000");
    expect(vfs.getattr(walk(vfs, "4.2/data")).size).toBe(4096);
    await writeText(vfs, "4.2/ctl", "setsize");
    expect(vfs.getattr(walk(vfs, "4.2/data")).size).toBe(8 * MIB);
    await writeText(vfs, "4.2/ctl", "identify");
  });

  test("failio: down (ctl still reads, the rest refuses), identify brings it back", async () => {
    const ino = walk(vfs, "4.2/data");
    const { handle } = vfs.open(ino, 0);
    await writeText(vfs, "4.2/ctl", "failio");
    expect(await readText(vfs, "4.2/ctl")).toStartWith("state: down\n");
    expect(await drainLog(vfs)).toContain("aoe4.2: removed; i/o failure\n");
    expect(await errnoOf(() => vfs.read(ino, handle, 0, 512))).toBe("EIO");
    vfs.release(ino, handle);
    expect(await errnoOf(() => vfs.open(ino, 0))).toBe("ENXIO");
    expect(await errnoOf(() => readText(vfs, "4.2/config"))).toBe("ENXIO");
    expect(await errnoOf(() => readText(vfs, "4.2/ident"))).toBe("ENXIO");
    expect(vfs.getattr(ino).size).toBe(0);
    expect(await drainLog(vfs)).toEqual(["4.2/data: i/o error\n", "4.2/data: aoe device is down\n", "4.2/config: aoe device is down\n", "4.2/ident: aoe device is down\n"]);
    await writeText(vfs, "4.2/ctl", "identify");
    expect(await readText(vfs, "4.2/ctl")).toStartWith("state: up\n");
  });

  test("two interfaces: two devlinks; unbind one mid-copy and the copy completes; unbind the last and the unit goes", async () => {
    await writeText(vfs, "ctl", `bind ${bw.ifsB[1]}`);
    await until(() => vfs.readdir(walk(vfs, "4.2/devlink")).length === 2, 5000, "a second devlink");
    expect(await readText(vfs, "ctl")).toContain(`if1 path: ${bw.ifsB[1]}\n`);
    expectShape(
      await readText(vfs, "4.2/devlink/1"),
      `addr: ${hex(bw.bridgeMac)} \nnpkt: {N}\nresent: {N}\nflag: up \nrttavg: {N}\nmintimer: {N}\ndatamtu: 1024\n` +
        `nl path: ${bw.ifsB[1]}\nnl ea: ${hex(bw.macsB[1])}\nnl flag: up \nnl lostjumbo: 0\nnl datamtu: 1500\n`,
    );
    const ino = walk(vfs, "4.2/data");
    const { handle } = vfs.open(ino, 0);
    // Every 128 KiB read of the image at once: when the 8th completes, the others have frames in flight on both links.
    let done = 0;
    let unbound: Promise<number> | undefined;
    const reads = [];
    for (let off = 0; off < 8 * MIB; off += 131072) {
      reads.push(
        vfs.read(ino, handle, off, 131072).then((b) => {
          if (++done === 8) {
            expect(tree.unit(4, 2)!.t.nout).toBeGreaterThan(0);
            unbound = writeText(vfs, "ctl", `unbind ${bw.ifsB[0]}`);
          }
          return b.slice();
        }),
      );
    }
    const parts = await Promise.all(reads);
    await unbound;
    vfs.release(ino, handle);
    expect(sha256(Buffer.concat(parts))).toBe(sha256(readFileSync(img.path)));
    expect(unbound).toBeDefined();
    expect(vfs.readdir(walk(vfs, "4.2/devlink")).map((e) => e.name)).toEqual(["0"]);
    expect(await readText(vfs, "4.2/devlink/0")).toContain(`nl path: ${bw.ifsB[1]}\n`);
    // Plan 9 keeps the slot numbers of the interfaces still bound.
    expect(await readText(vfs, "ctl")).toContain(`if1 path: ${bw.ifsB[1]}\n`);
    expect(await readText(vfs, "ctl")).not.toContain("if0 path");
    await drainLog(vfs);
    invalidated.length = 0;
    await writeText(vfs, "ctl", `unbind ${bw.ifsB[1]}`);
    expect(await errnoOf(() => vfs.lookup(ROOT_INO, "4.2"))).toBe("ENOENT");
    expect(vfs.readdir(ROOT_INO).map((e) => e.name)).toEqual(["ctl", "log"]);
    expect(invalidated).toEqual(["4.2"]);
    expect(await drainLog(vfs)).toEqual(["aoe4.2: removed; orphan\n"]);
  });

  test("rm -r S.L removes the unit; discover brings it back", async () => {
    await writeText(vfs, "ctl", `bind ${bw.ifsB[0]}`);
    await up();
    vfs.rmdir(ROOT_INO, "4.2");
    expect(await errnoOf(() => vfs.lookup(ROOT_INO, "4.2"))).toBe("ENOENT");
    expect(await errnoOf(() => vfs.rmdir(ROOT_INO, "4.2"))).toBe("ENOENT");
    await writeText(vfs, "ctl", "discover 4.2");
    await up();
    // rm -r's unlinks and rmdir inside S.L succeed and remove nothing; only S.L itself goes.
    await drainLog(vfs);
    vfs.unlink!(walk(vfs, "4.2"), "ctl");
    vfs.unlink!(walk(vfs, "4.2/devlink"), "0");
    vfs.rmdir(walk(vfs, "4.2"), "devlink");
    expect(vfs.lookup(walk(vfs, "4.2"), "ctl").kind).toBe("file");
    expect(vfs.readdir(walk(vfs, "4.2/devlink")).map((e) => e.name)).toEqual(["0"]);
    expect(await errnoOf(() => vfs.unlink!(walk(vfs, "4.2"), "devlink"))).toBe("EISDIR");
    expect(await errnoOf(() => vfs.rmdir(walk(vfs, "4.2"), "data"))).toBe("ENOTDIR");
    expect(await errnoOf(() => vfs.unlink!(walk(vfs, "4.2"), "nope"))).toBe("ENOENT");
    expect(await errnoOf(() => vfs.unlink!(walk(vfs, "4.2/devlink"), "5"))).toBe("ENOENT");
    expect(await errnoOf(() => vfs.unlink!(ROOT_INO, "4.2"))).toBe("EISDIR");
    expect(await errnoOf(() => vfs.unlink!(ROOT_INO, "ctl"))).toBe("EPERM");
    expect(await errnoOf(() => vfs.rmdir(ROOT_INO, "log"))).toBe("ENOTDIR");
    expect(await drainLog(vfs)).toEqual(["ctl: permission denied\n"]);
    await writeText(vfs, "ctl", "remove 4.2");
    expect(await errnoOf(() => vfs.lookup(ROOT_INO, "4.2"))).toBe("ENOENT");
    await writeText(vfs, "ctl", "discover");
    await up();
  });

  test("rediscover on: a removed unit comes back with the next periodic broadcast", async () => {
    vfs.rmdir(ROOT_INO, "4.2");
    await Bun.sleep(700); // nothing brings it back on its own
    expect(await errnoOf(() => vfs.lookup(ROOT_INO, "4.2"))).toBe("ENOENT");
    await writeText(vfs, "ctl", "rediscover on");
    await up();
    await writeText(vfs, "ctl", "rediscover off");
  });

  test("autodiscover off: an announcement makes no unit, an explicit discover does", async () => {
    await writeText(vfs, "ctl", "autodiscover off");
    vfs.rmdir(ROOT_INO, "4.2");
    await exp!.stop();
    exp = startExport(serveArgs(), { netns: bw.world.nsA }); // announces itself
    await Bun.sleep(700);
    expect(await errnoOf(() => vfs.lookup(ROOT_INO, "4.2"))).toBe("ENOENT");
    expect(tree.ini.target(4, 2)).toBeDefined(); // the engine saw it
    await writeText(vfs, "ctl", "discover 4.2");
    await up();
    await writeText(vfs, "ctl", "autodiscover on");
  });

  test("the target vanishes: ETIMEDOUT after the deadline, down; back up when it answers again", async () => {
    const ino = walk(vfs, "4.2/data");
    const { handle } = vfs.open(ino, 0);
    await exp!.stop();
    exp = undefined;
    const t0 = performance.now();
    expect(await errnoOf(() => vfs.read(ino, handle, 0, 4096))).toBe("ETIMEDOUT");
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(2900);
    expect(ms).toBeLessThan(8000);
    expect(await readText(vfs, "4.2/ctl")).toStartWith("state: down\n");
    expect(await drainLog(vfs)).toEqual(expect.arrayContaining(["aoe4.2: srb timeout\n", "4.2/data: connection timed out\n"]));
    expect(await errnoOf(() => vfs.read(ino, handle, 0, 4096))).toBe("EIO");
    exp = startExport(serveArgs(), { netns: bw.world.nsA });
    await up();
    const b = await vfs.read(ino, handle, 0, 4096);
    expect(sha256(b)).toBe(sha256(readFileSync(img.path).subarray(0, 4096)));
    vfs.release(ino, handle);
  });

  test("nofail: a read waits out a vanished target instead of failing", async () => {
    await writeText(vfs, "4.2/ctl", "nofail on");
    const ino = walk(vfs, "4.2/data");
    const { handle } = vfs.open(ino, 0);
    await exp!.stop();
    exp = undefined;
    const reading = vfs.read(ino, handle, 8192, 4096);
    let settled = false;
    reading.then(
      () => (settled = true),
      () => (settled = true),
    );
    await Bun.sleep(4500); // past the 3 s deadline
    expect(settled).toBe(false);
    exp = startExport(serveArgs(), { netns: bw.world.nsA });
    const b = await reading;
    expect(sha256(b)).toBe(sha256(readFileSync(img.path).subarray(8192, 8192 + 4096)));
    vfs.release(ino, handle);
    await writeText(vfs, "4.2/ctl", "nofail off");
  });
});
