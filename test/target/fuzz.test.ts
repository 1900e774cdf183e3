/**
 * Hostile input: 100,000 random and mutated frames thrown at the request
 * dispatcher. Nothing may escape handle(), every request that reached the
 * storage must be answered (no hang), and every frame sent must be a well-formed
 * AoE reply from the target.
 */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AtaCmd, buildIdentify, ConfigCmd, decodeHeader, DirectiveCmd, Flag, MacMaskCmd, ReserveCmd } from "../../src/aoe/index.ts";
import { AccessControl } from "../../src/target/access.ts";
import { Export } from "../../src/target/export.ts";
import { Storage } from "../../src/target/storage.ts";
import { TagTracker } from "../../src/target/tags.ts";
import { ataFrame, configFrame, mac, maskFrame, rawFrame, readFrame, reserveFrame, writeFrame, type Addr } from "../helpers/requests.ts";
import { seededUint32 } from "../helpers/prng.ts";

// Real files and storage I/O: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-fuzz-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


test("100,000 random and mutated frames: no exception, no hang, only well-formed replies", async () => {
  const file = path.join(tmp, "fuzz.img");
  fs.writeFileSync(file, Buffer.alloc(256 * 512));
  const storage = Storage.open({ path: file, readOnly: false, direct: false, sync: false, offsetSectors: 0 });
  const TARGET = mac("02:aa:00:00:00:01");
  let sent = 0;
  let bad = 0;
  const exp = new Export({
    shelf: 1,
    slot: 2,
    storage,
    mac: TARGET,
    bufcnt: 8,
    maxSectors: 2,
    identify: buildIdentify({ sectors: storage.sectors, model: "fuzz", serial: "f", firmware: "1" }),
    access: new AccessControl(),
    config: new Uint8Array(0),
    tags: new TagTracker("both", 64),
    send: (f) => {
      sent++;
      try {
        const h = decodeHeader(f);
        if (!(h.flags & Flag.Response) || h.version !== 1 || h.src[0] !== 0x02 || h.src[1] !== 0xaa) bad++;
      } catch {
        bad++;
      }
    },
  });
  const next = seededUint32(0xa0ede);
  const at: Addr = { src: mac("02:bb:00:00:00:01"), dst: TARGET, major: 1, minor: 2 };
  const seeds = [
    readFrame(at, 1, 0, 1),
    readFrame(at, 2, 250, 2, false),
    writeFrame(at, 3, 10, new Uint8Array(1024).fill(1)),
    ataFrame(at, 4, { cmd: AtaCmd.Identify, count: 1 }),
    ataFrame(at, 5, { cmd: AtaCmd.FlushExt }),
    ataFrame(at, 6, { cmd: AtaCmd.CheckPower }),
    configFrame(at, 7, ConfigCmd.Read),
    configFrame(at, 8, ConfigCmd.ForceSet, new Uint8Array(40).fill(65)),
    maskFrame(at, 9, MacMaskCmd.Edit, [{ dcmd: DirectiveCmd.Add, mac: at.src }, { dcmd: DirectiveCmd.Delete, mac: at.src }]),
    reserveFrame(at, 10, ReserveCmd.Set, []),
    rawFrame(at, 11, 0x55),
  ];
  let thrown = 0;
  for (let i = 0; i < 100_000; i++) {
    let frame: Uint8Array;
    if (i % 4 === 0) {
      // random bytes, sometimes with the AoE ethertype and our address
      frame = new Uint8Array(next() % 1100);
      for (let j = 0; j < frame.length; j++) frame[j] = next() & 255;
      if (frame.length >= 20 && next() % 2 === 0) frame.set([0x88, 0xa2, 0x10, 0, 0, 1, 2], 12);
    } else {
      // a valid request with a few bytes changed, truncated or extended
      const seed = seeds[next() % seeds.length]!;
      const len = next() % 8 === 0 ? next() % (seed.length + 64) : seed.length;
      frame = new Uint8Array(len);
      frame.set(seed.subarray(0, Math.min(len, seed.length)));
      const flips = 1 + (next() % 4);
      for (let k = 0; k < flips && len > 14; k++) frame[14 + (next() % (len - 14))] = next() & 255;
    }
    try {
      exp.handle(frame);
    } catch {
      thrown++;
    }
    if (i % 64 === 0) {
      // mutated Mac Mask and Reserve commands lock us out sooner or later: reopen
      exp.access.setMasks([]);
      exp.access.reserve(0, [], true);
      await Bun.sleep(0); // let storage completions in
    }
  }
  for (let i = 0; i < 5000 && exp.busy > 0; i++) await Bun.sleep(1);
  await exp.stop();
  expect(thrown).toBe(0);
  expect(exp.busy).toBe(0);
  expect(bad).toBe(0);
  expect(sent).toBeGreaterThan(10_000); // how many depends on how fast the storage drains the slots
  storage.close();
}, 60_000);
