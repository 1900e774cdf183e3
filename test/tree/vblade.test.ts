/**
 * The aoe(3) tree against vblade 25 over a veth pair: the unit's texts (vblade
 * announces no ATA-8, so the feature words are "lba llba"), data at aligned
 * and odd offsets checked with sha256 against the image, the config string,
 * and vblade stopped and started again under an open data file.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { haveVblade, makeImage, sha256, startVblade, type Image, type RunningVblade } from "../helpers/vblade.ts";
import { AoeTree } from "../../src/tree/state.ts";
import { TreeVfs } from "../../src/tree/vfs.ts";
import { ROOT_INO } from "../../src/tree/inode.ts";
import { errnoOf, expectShape, readBytes, readText, until, walk, writeText } from "./helpers.ts";

setDefaultTimeout(30_000);

const MIB = 1 << 20;
const hex = (mac: string) => mac.replaceAll(":", "");

describe.skipIf(!(canUseNetns() && haveVblade()))("the aoe(3) tree against vblade", () => {
  let w: VethWorld;
  let img: Image;
  let vb: RunningVblade | undefined;
  let tree: AoeTree;
  let vfs: TreeVfs;

  beforeAll(async () => {
    w = makeVethWorld("trv", 9000);
    img = makeImage(4 * MIB);
    vb = await startVblade(w.nsA, w.ifA, 5, 1, img.path, { bufcnt: 32 });
    tree = new AoeTree({ netns: w.nsB, deadlineMs: 3000, probeMs: 200 });
    vfs = new TreeVfs(tree);
    await writeText(vfs, "ctl", `bind ${w.ifB}`);
    await until(async () => (await readText(vfs, "5.1/ctl")).startsWith("state: up\n"), 10_000, "5.1 up");
  });

  afterAll(async () => {
    tree?.close();
    await vb?.stop();
    img?.dispose();
    w?.dispose();
  });

  test("the log says the unit's frame size (9front's setting %d byte mtu)", async () => {
    const ino = walk(vfs, "log");
    const { handle } = vfs.open(ino, 0);
    const events: string[] = [];
    for (let b = await vfs.read(ino, handle, 0, 4096); b.length > 0; b = await vfs.read(ino, handle, 0, 4096)) events.push(new TextDecoder().decode(b));
    vfs.release(ino, handle);
    expect(events).toContain(`aoe5.1: setting 8704 byte mtu on ${w.ifB}:${hex(w.macB)}\n`);
  });

  test("texts: top ctl, unit ctl at MTU 9000, devlink", async () => {
    expect(vfs.readdir(ROOT_INO).map((e) => e.name)).toEqual(["ctl", "log", "5.1"]);
    expect(await readText(vfs, "ctl")).toBe(
      `debug: 0\nautodiscover: 1\nrediscover: 0\nif0 path: ${w.ifB}\nif0 ea: ${hex(w.macB)}\nif0 flag: up \nif0 lostjumbo: 0\nif0 datamtu: 9000\n`,
    );
    // vblade 25: 17 sectors per frame at MTU 9000, firmware 0x4019, IDENTIFY words 49/83/86 only.
    expectShape(
      await readText(vfs, "5.1/ctl"),
      "state: up\nnopen: 0\nnout: 0\nnmaxout: {N}\nnframes: 32\nmaxbcnt: 8704 [maxmtu 100000]\nfw: 4019\n" +
        `model: Coraid EtherDrive vblade\nserial: 5.1:${hostname().slice(0, 16)}\nfirmware: V25\nflag: lba llba  up jumbo \n`,
    );
    expectShape(
      await readText(vfs, "5.1/devlink/0"),
      `addr: ${hex(w.macA)} \nnpkt: {N}\nresent: {N}\nflag: up \nrttavg: {N}\nmintimer: {N}\ndatamtu: 8704\n` +
        `nl path: ${w.ifB}\nnl ea: ${hex(w.macB)}\nnl flag: up \nnl lostjumbo: 0\nnl datamtu: 9000\n`,
    );
  });

  test("data: aligned and odd offsets, sha256 against the image", async () => {
    expect(vfs.getattr(walk(vfs, "5.1/data")).size).toBe(4 * MIB);
    const ino = walk(vfs, "5.1/data");
    const { handle } = vfs.open(ino, 2);
    try {
      for (const [off, len] of [
        [0, 4096],
        [7, 9000],
        [4 * MIB - 3, 3],
      ] as const) {
        const data = crypto.getRandomValues(new Uint8Array(len));
        const want = Buffer.from(readFileSync(img.path));
        want.set(data, off);
        expect(await vfs.write(ino, handle, off, data)).toBe(len);
        await vfs.fsync(ino, handle);
        expect(sha256(readFileSync(img.path))).toBe(sha256(want));
        expect(sha256(await vfs.read(ino, handle, off, len))).toBe(sha256(data));
      }
      expect(sha256(await readBytes(vfs, "5.1/data", 131072))).toBe(sha256(readFileSync(img.path)));
    } finally {
      vfs.release(ino, handle);
    }
  });

  test("config string through vblade", async () => {
    await writeText(vfs, "5.1/config", "vblade here");
    expect(await readText(vfs, "5.1/config")).toBe("vblade here");
  });

  test("vblade restarted under an open data file: timeout, down, then up and reading again", async () => {
    const ino = walk(vfs, "5.1/data");
    const { handle } = vfs.open(ino, 0);
    await vb!.stop();
    vb = undefined;
    expect(await errnoOf(() => vfs.read(ino, handle, 0, 512))).toBe("ETIMEDOUT");
    expect(await readText(vfs, "5.1/ctl")).toStartWith("state: down\n");
    vb = await startVblade(w.nsA, w.ifA, 5, 1, img.path, { bufcnt: 32 });
    await until(async () => (await readText(vfs, "5.1/ctl")).startsWith("state: up\n"), 10_000, "5.1 up again");
    expect(sha256(await vfs.read(ino, handle, 100, 1000))).toBe(sha256(readFileSync(img.path).subarray(100, 1100)));
    vfs.release(ino, handle);
  });
});
