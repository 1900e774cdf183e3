/**
 * The request dispatcher in process: frames in, replies out, no network. The
 * end-to-end suite (serve.e2e.test.ts) repeats the important cases over a veth
 * pair; this one covers every rule quickly and exactly.
 */
import { afterAll, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  AoEError,
  AtaCmd,
  AtaErrorBit,
  BROADCAST_MAC,
  buildIdentify,
  Command,
  ConfigCmd,
  DirectiveCmd,
  Flag,
  MacMaskCmd,
  parseIdentify,
  ReserveCmd,
} from "../../src/aoe/index.ts";
import { AccessControl } from "../../src/target/access.ts";
import { Export } from "../../src/target/export.ts";
import { StateStore } from "../../src/target/state.ts";
import { Storage } from "../../src/target/storage.ts";
import { TagTracker } from "../../src/target/tags.ts";
import {
  ataFrame,
  configFrame,
  mac,
  maskFrame,
  parseReply,
  rawFrame,
  readFrame,
  reserveFrame,
  writeFrame,
  type Addr,
  type Reply,
} from "../helpers/requests.ts";

// Real files and storage I/O (fdatasync, O_DIRECT): several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-export-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TARGET = mac("02:aa:00:00:00:01");
const INIT = mac("02:bb:00:00:00:01");
const OTHER = mac("02:bb:00:00:00:02");
const SECTORS = 1000;

interface Rig {
  exp: Export;
  sent: Reply[];
  file: string;
  /** send a frame, wait until the export is idle, return the replies it caused */
  ask(frame: Uint8Array): Promise<Reply[]>;
}

/**
 * `sync`: O_SYNC storage, whose writes go to the thread pool (and are gathered): the path
 * that bufcnt and write coalescing govern. Buffered writes to a file are done inline.
 */
function rig(o: { readOnly?: boolean; stateDir?: string; tags?: TagTracker; bufcnt?: number; maxSectors?: number; sync?: boolean } = {}): Rig {
  const file = path.join(tmp, `disk-${Math.random().toString(36).slice(2)}.img`);
  fs.writeFileSync(file, Buffer.alloc(SECTORS * 512));
  const storage = Storage.open({ path: file, readOnly: o.readOnly ?? false, direct: false, sync: o.sync ?? false, offsetSectors: 0 });
  const state = o.stateDir ? new StateStore(o.stateDir, 5, 3) : undefined;
  const loaded = state?.load();
  const sent: Reply[] = [];
  const exp = new Export({
    shelf: 5,
    slot: 3,
    storage,
    mac: TARGET,
    bufcnt: o.bufcnt ?? 16,
    maxSectors: o.maxSectors ?? 2,
    identify: buildIdentify({ sectors: storage.sectors, model: "AoEde test", serial: "SN1", firmware: "0.1" }),
    access: new AccessControl(loaded?.masks, loaded?.reservation),
    config: loaded?.config ?? new Uint8Array(0),
    state,
    tags: o.tags,
    send: (f) => sent.push(parseReply(f)),
  });
  const ask = async (frame: Uint8Array) => {
    const before = sent.length;
    exp.handle(frame);
    for (let i = 0; i < 2000 && exp.busy > 0; i++) await Bun.sleep(1);
    await state?.idle();
    await Bun.sleep(1);
    return sent.slice(before);
  };
  return { exp, sent, file, ask };
}

const to = (src = INIT, major = 5, minor = 3, dst = TARGET): Addr => ({ src, dst, major, minor });

const sector = (fill: number, n = 1) => new Uint8Array(512 * n).fill(fill);

describe("addressing", () => {
  test("unicast and broadcast discovery; each broadcast field on its own", async () => {
    const r = rig();
    for (const a of [to(), to(INIT, 0xffff, 0xff, BROADCAST_MAC), to(INIT, 0xffff, 3), to(INIT, 5, 0xff)]) {
      const [rep] = await r.ask(configFrame(a, 42, ConfigCmd.Read));
      expect(rep!.h.flags & Flag.Response).toBeTruthy();
      expect(rep!.h.major).toBe(5);
      expect(rep!.h.minor).toBe(3);
      expect(rep!.h.tag).toBe(42);
      expect(rep!.h.dst).toEqual(INIT);
      expect(rep!.h.src).toEqual(TARGET);
      const q = rep!.config();
      expect(q.bufferCount).toBe(16);
      expect(q.sectorCount).toBe(2);
      expect(q.aoeVersion).toBe(1);
    }
    for (const a of [to(INIT, 4, 3), to(INIT, 5, 4), to(INIT, 0xffff, 4), to(INIT, 4, 0xff), to(INIT, 5, 3, OTHER)]) {
      expect(await r.ask(configFrame(a, 1, ConfigCmd.Read))).toEqual([]);
    }
  });

  test("replies (R flag) are ignored; wrong version gets error 5; unknown command error 1", async () => {
    const r = rig();
    expect(await r.ask(ataFrame(to(), 1, { cmd: AtaCmd.Identify, count: 1, flags: Flag.Response }))).toEqual([]);
    const [v] = await r.ask(ataFrame(to(), 2, { cmd: AtaCmd.Identify, count: 1, version: 2 }));
    expect(v!.h.flags).toBe(Flag.Response | Flag.Error);
    expect(v!.h.error).toBe(AoEError.UnsupportedVersion);
    expect(v!.h.version).toBe(1);
    for (const cmd of [4, 0x7f, 0xf0, 0xff]) {
      const [u] = await r.ask(rawFrame(to(), 3, cmd));
      expect(u!.h.error).toBe(AoEError.UnrecognizedCommand);
      expect(u!.h.command).toBe(cmd);
    }
  });

  test("truncated frames are dropped; complete unpadded ones answered", async () => {
    const r = rig();
    const full = ataFrame(to(), 7, { cmd: AtaCmd.CheckPower });
    expect(full.length).toBe(36);
    expect((await r.ask(full)).length).toBe(1);
    for (const n of [0, 10, 23, 24, 30, 35]) expect(await r.ask(full.slice(0, n))).toEqual([]);
    expect((await r.ask(configFrame(to(), 1, ConfigCmd.Read))).length).toBe(1); // 32 bytes
    expect(await r.ask(configFrame(to(), 1, ConfigCmd.Read).slice(0, 31))).toEqual([]);
    expect(r.exp.counters.malformed).toBeGreaterThan(0);
  });
});

describe("ATA", () => {
  test("IDENTIFY words", async () => {
    const r = rig();
    const [rep] = await r.ask(ataFrame(to(), 9, { cmd: AtaCmd.Identify, count: 1 }));
    const a = rep!.ata();
    expect(a.cmdStatus).toBe(0x40);
    expect(rep!.length).toBe(36 + 512);
    const id = parseIdentify(a.data);
    expect(id.sectors).toBe(SECTORS);
    expect(id.lba48).toBe(true);
    expect(id.flush && id.flushExt).toBe(true);
    expect(id.model).toBe("AoEde test");
    expect(id.serial).toBe("SN1");
  });

  test("CHECK POWER MODE says active; unknown ATA commands abort", async () => {
    const r = rig();
    const [p] = await r.ask(ataFrame(to(), 1, { cmd: AtaCmd.CheckPower }));
    expect(p!.ata().sectorCount).toBe(0xff);
    expect(p!.ata().cmdStatus).toBe(0x40);
    const [x] = await r.ask(ataFrame(to(), 2, { cmd: 0xc8, count: 1 }));
    expect(x!.ata().cmdStatus).toBe(0x41);
    expect(x!.ata().errFeature).toBe(AtaErrorBit.Abrt);
  });

  test("LBA28 and LBA48 writes then reads, last sector, past the end", async () => {
    const r = rig();
    const [w] = await r.ask(writeFrame(to(), 1, SECTORS - 2, sector(0x11, 2)));
    expect(w!.ata().cmdStatus).toBe(0x40);
    expect(w!.length).toBe(36);
    const [rd] = await r.ask(readFrame(to(), 2, SECTORS - 1, 1));
    expect(rd!.ata().cmdStatus).toBe(0x40);
    expect(rd!.ata().data.subarray(0, 512)).toEqual(sector(0x11));
    // LBA28 with the 0xE0 nibble Linux puts in lba3
    const [w28] = await r.ask(ataFrame(to(), 3, { cmd: AtaCmd.Write, lba: 0xe0000000 + 7, count: 1, data: sector(0x22) }));
    expect(w28!.ata().cmdStatus).toBe(0x40);
    expect(w28!.ata().lba).toBe(0xe0000007); // echoed as sent
    const [r28] = await r.ask(ataFrame(to(), 4, { cmd: AtaCmd.Read, lba: 0xe0000007, count: 1 }));
    expect(r28!.ata().data.subarray(0, 512)).toEqual(sector(0x22));
    expect(fs.readFileSync(r.file)[7 * 512]).toBe(0x22);
    const [past] = await r.ask(readFrame(to(), 5, SECTORS, 1));
    expect(past!.ata().cmdStatus).toBe(0x41);
    expect(past!.ata().errFeature).toBe(AtaErrorBit.Idnf);
    const [past2] = await r.ask(writeFrame(to(), 6, SECTORS - 1, sector(1, 2)));
    expect(past2!.ata().errFeature).toBe(AtaErrorBit.Idnf);
  });

  test("sector count above the maximum and short write payloads: AoE error 2", async () => {
    const r = rig();
    const [big] = await r.ask(readFrame(to(), 1, 0, 3));
    expect(big!.h.error).toBe(AoEError.BadArgument);
    const short = writeFrame(to(), 2, 0, sector(1, 2)).slice(0, 36 + 1000);
    const [s] = await r.ask(short);
    expect(s!.h.error).toBe(AoEError.BadArgument);
    expect(fs.readFileSync(r.file)[0]).toBe(0);
  });

  test("FLUSH CACHE and FLUSH CACHE EXT answer after fdatasync", async () => {
    const r = rig();
    for (const cmd of [AtaCmd.Flush, AtaCmd.FlushExt]) {
      const [f] = await r.ask(ataFrame(to(), 1, { cmd }));
      expect(f!.ata().cmdStatus).toBe(0x40);
    }
    expect(r.exp.counters.flushes).toBe(2);
  });

  test("read-only export refuses writes", async () => {
    const r = rig({ readOnly: true });
    const [w] = await r.ask(writeFrame(to(), 1, 0, sector(9)));
    expect(w!.ata().cmdStatus).toBe(0x41);
    expect(w!.ata().errFeature).toBe(AtaErrorBit.Abrt);
    const [rd] = await r.ask(readFrame(to(), 2, 0, 1));
    expect(rd!.ata().cmdStatus).toBe(0x40);
  });

  test("many requests at once: all answered, bufcnt bounds the storage", async () => {
    const r = rig({ bufcnt: 4, sync: true });
    for (let i = 0; i < 8; i++) r.exp.handle(writeFrame(to(), 100 + i, i * 2, sector(i + 1, 2)));
    expect(r.exp.busy).toBe(8);
    r.exp.handle(writeFrame(to(), 999, 500, sector(1))); // no slot left
    expect(r.exp.counters.busyDropped).toBe(1);
    for (let i = 0; i < 2000 && r.exp.busy > 0; i++) await Bun.sleep(1);
    expect(r.sent.map((s) => s.h.tag).sort()).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
    const disk = fs.readFileSync(r.file);
    for (let i = 0; i < 8; i++) expect(disk[i * 1024 + 600]).toBe(i + 1);
  });
});

describe("write coalescing", () => {
  test("contiguous writes of one batch go out as one transfer, others alone, all acknowledged", async () => {
    const r = rig({ bufcnt: 16, sync: true });
    const storage = (r.exp as unknown as { storage: Storage }).storage;
    const runs: number[] = [];
    const singles: number[] = [];
    const writeRun = storage.writeRun.bind(storage);
    const write = storage.write.bind(storage);
    storage.writeRun = (lba, buffers, done) => (runs.push(buffers.length), writeRun(lba, buffers, done));
    storage.write = (lba, count, from, done) => (singles.push(lba), write(lba, count, from, done));
    // arrival order shuffled: 6 contiguous 2-sector writes at 100..111, one apart at 500
    for (const [tag, lba] of [[1, 104], [2, 100], [3, 500], [4, 102], [5, 110], [6, 106], [7, 108]] as const) {
      r.exp.handle(writeFrame(to(), tag, lba, sector(lba & 0xff, 2)));
    }
    for (let i = 0; i < 2000 && r.exp.busy > 0; i++) await Bun.sleep(1);
    await Bun.sleep(5);
    expect(runs).toEqual([6]);
    expect(singles).toEqual([500]);
    expect(r.sent.map((s) => s.h.tag).sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(r.sent.every((s) => s.ata().cmdStatus === 0x40)).toBe(true);
    const disk = fs.readFileSync(r.file);
    for (const lba of [100, 102, 104, 106, 108, 110, 500]) {
      expect(disk[lba * 512]).toBe(lba & 0xff);
      expect(disk[lba * 512 + 1023]).toBe(lba & 0xff);
    }
  });
});

describe("read coalescing", () => {
  test("contiguous reads of one batch are one preadv, others alone, each reply its own sectors", async () => {
    const r = rig({ bufcnt: 16 });
    const fd = fs.openSync(r.file, "r+");
    for (let lba = 0; lba < 600; lba++) fs.writeSync(fd, Buffer.alloc(512, lba & 0xff), 0, 512, lba * 512);
    fs.closeSync(fd);
    const storage = (r.exp as unknown as { storage: Storage }).storage;
    const runs: number[] = [];
    const readRunNow = storage.readRunNow.bind(storage);
    storage.readRunNow = (lba, into) => (runs.push(into.length), readRunNow(lba, into));
    for (const [tag, lba] of [[1, 104], [2, 100], [3, 500], [4, 102], [5, 110], [6, 106], [7, 108]] as const) {
      r.exp.handle(readFrame(to(), tag, lba, 2));
    }
    for (let i = 0; i < 2000 && r.exp.busy > 0; i++) await Bun.sleep(1);
    await Bun.sleep(5);
    expect(runs).toEqual([6]); // 500 is read alone, not through a run
    const byTag = new Map(r.sent.map((s) => [s.h.tag, s] as const));
    for (const [tag, lba] of [[1, 104], [2, 100], [3, 500], [4, 102], [5, 110], [6, 106], [7, 108]] as const) {
      const rep = byTag.get(tag)!;
      expect(rep.ata().cmdStatus).toBe(0x40);
      const data = rep.ata().data;
      expect(data.length).toBe(1024);
      expect(data[0]).toBe(lba & 0xff);
      expect(data[1023]).toBe((lba + 1) & 0xff);
    }
  });
});

describe("Query Config", () => {
  test("read, set if empty, error 4, test, test prefix, force set, bad ccmd", async () => {
    const r = rig();
    const enc = (s: string) => new TextEncoder().encode(s);
    const str = (rep: Reply) => new TextDecoder().decode(rep.config().config);
    const [set] = await r.ask(configFrame(to(), 1, ConfigCmd.Set, enc("hello world")));
    expect(set!.h.error).toBe(0);
    expect(str(set!)).toBe("hello world");
    const [again] = await r.ask(configFrame(to(), 2, ConfigCmd.Set, enc("other")));
    expect(again!.h.error).toBe(AoEError.ConfigStringPresent);
    expect(str(again!)).toBe("hello world");
    expect((await r.ask(configFrame(to(), 3, ConfigCmd.Test, enc("hello world")))).length).toBe(1);
    expect(await r.ask(configFrame(to(), 4, ConfigCmd.Test, enc("hello")))).toEqual([]);
    expect((await r.ask(configFrame(to(), 5, ConfigCmd.TestPrefix, enc("hello")))).length).toBe(1);
    expect((await r.ask(configFrame(to(), 6, ConfigCmd.TestPrefix, enc("")))).length).toBe(1);
    expect(await r.ask(configFrame(to(), 7, ConfigCmd.TestPrefix, enc("world")))).toEqual([]);
    const [force] = await r.ask(configFrame(to(), 8, ConfigCmd.ForceSet, enc("forced")));
    expect(str(force!)).toBe("forced");
    const [rd] = await r.ask(configFrame(to(), 9, ConfigCmd.Read));
    expect(str(rd!)).toBe("forced");
    expect(rd!.config().ccmd).toBe(ConfigCmd.Read);
    const [bad] = await r.ask(configFrame(to(), 10, 7));
    expect(bad!.h.error).toBe(AoEError.BadArgument);
  });
});

describe("Mac Mask List and Reserve/Release", () => {
  test("mask edits with several MACs, deletes, enforcement", async () => {
    const r = rig();
    const [m1] = await r.ask(
      maskFrame(to(), 1, MacMaskCmd.Edit, [
        { dcmd: DirectiveCmd.Add, mac: INIT },
        { dcmd: DirectiveCmd.Add, mac: mac("02:cc:00:00:00:01") },
        { dcmd: DirectiveCmd.Add, mac: mac("02:cc:00:00:00:02") },
      ]),
    );
    expect(m1!.mask().merror).toBe(0);
    expect(m1!.mask().directives.map((d) => d.mac)).toEqual([INIT, mac("02:cc:00:00:00:01"), mac("02:cc:00:00:00:02")]);
    expect(await r.ask(configFrame(to(OTHER), 2, ConfigCmd.Read))).toEqual([]);
    expect(await r.ask(readFrame(to(OTHER), 2, 0, 1))).toEqual([]);
    expect(r.exp.counters.masked).toBe(2);
    const [m2] = await r.ask(
      maskFrame(to(), 3, MacMaskCmd.Edit, [
        { dcmd: DirectiveCmd.Delete, mac: mac("02:cc:00:00:00:01") },
        { dcmd: 9, mac: OTHER },
        { dcmd: DirectiveCmd.Add, mac: OTHER },
      ]),
    );
    expect(m2!.mask().merror).toBe(2);
    expect(m2!.mask().count).toBe(1);
    const [rd] = await r.ask(maskFrame(to(), 4, MacMaskCmd.Read));
    expect(rd!.mask().directives.map((d) => d.mac)).toEqual([INIT, mac("02:cc:00:00:00:02")]);
    const [m3] = await r.ask(
      maskFrame(to(), 5, MacMaskCmd.Edit, [
        { dcmd: DirectiveCmd.Delete, mac: INIT },
        { dcmd: DirectiveCmd.Delete, mac: mac("02:cc:00:00:00:02") },
      ]),
    );
    expect(m3!.mask().directives).toEqual([]);
    expect((await r.ask(readFrame(to(OTHER), 6, 0, 1))).length).toBe(1);
  });

  test("reservation from two source MACs", async () => {
    const r = rig();
    const [res] = await r.ask(reserveFrame(to(), 1, ReserveCmd.Set, [INIT]));
    expect(res!.h.error).toBe(0);
    expect(res!.reserve().macs).toEqual([INIT]);
    const [denied] = await r.ask(readFrame(to(OTHER), 2, 0, 1));
    expect(denied!.h.error).toBe(AoEError.TargetReserved);
    const [steal] = await r.ask(reserveFrame(to(OTHER), 3, ReserveCmd.Set, [OTHER]));
    expect(steal!.h.error).toBe(AoEError.TargetReserved);
    expect(steal!.reserve().macs).toEqual([INIT]);
    const [rd] = await r.ask(reserveFrame(to(OTHER), 4, ReserveCmd.Read));
    expect(rd!.reserve().macs).toEqual([INIT]);
    expect((await r.ask(readFrame(to(), 5, 0, 1)))[0]!.h.error).toBe(0);
    const [force] = await r.ask(reserveFrame(to(OTHER), 6, ReserveCmd.ForceSet, [OTHER]));
    expect(force!.reserve().macs).toEqual([OTHER]);
    expect((await r.ask(readFrame(to(), 7, 0, 1)))[0]!.h.error).toBe(AoEError.TargetReserved);
    const [release] = await r.ask(reserveFrame(to(OTHER), 8, ReserveCmd.Set, []));
    expect(release!.reserve().macs).toEqual([]);
    expect((await r.ask(readFrame(to(), 9, 0, 1)))[0]!.h.error).toBe(0);
    const [bad] = await r.ask(reserveFrame(to(), 10, 5));
    expect(bad!.h.error).toBe(AoEError.BadArgument);
  });
});

describe("state and tags", () => {
  test("config, masks and reservation survive a restart", async () => {
    const dir = path.join(tmp, "state-" + Math.random().toString(36).slice(2));
    const r1 = rig({ stateDir: dir });
    await r1.ask(configFrame(to(), 1, ConfigCmd.Set, new TextEncoder().encode("persist me")));
    await r1.ask(maskFrame(to(), 2, MacMaskCmd.Edit, [{ dcmd: DirectiveCmd.Add, mac: INIT }, { dcmd: DirectiveCmd.Add, mac: OTHER }]));
    await r1.ask(reserveFrame(to(), 3, ReserveCmd.Set, [INIT]));
    await r1.exp.stop();
    const r2 = rig({ stateDir: dir });
    expect(new TextDecoder().decode(r2.exp.configString)).toBe("persist me");
    const [m] = await r2.ask(maskFrame(to(), 4, MacMaskCmd.Read));
    expect(m!.mask().directives.map((d) => d.mac)).toEqual([INIT, OTHER]);
    const [rr] = await r2.ask(reserveFrame(to(), 5, ReserveCmd.Read));
    expect(rr!.reserve().macs).toEqual([INIT]);
  });

  test("tag tracking 'write': a duplicated WRITE is acknowledged without writing again", async () => {
    const r = rig({ tags: new TagTracker("write", 64) });
    const [w1] = await r.ask(writeFrame(to(), 77, 3, sector(0x33)));
    expect(w1!.h.error).toBe(0);
    fs.writeSync(fs.openSync(r.file, "r+"), Buffer.alloc(512, 0x44), 0, 512, 3 * 512); // changed behind its back
    const [w2] = await r.ask(writeFrame(to(), 77, 3, sector(0x33)));
    expect(w2!.ata().cmdStatus).toBe(0x40);
    expect(fs.readFileSync(r.file)[3 * 512]).toBe(0x44); // not written again
    expect(r.exp.counters.duplicates).toBe(1);
    expect((await r.ask(readFrame(to(), 77, 3, 1))).length).toBe(1); // reads still run in 'write' mode
  });

  test("tag tracking 'rx' drops duplicates; off by default", async () => {
    const r = rig({ tags: new TagTracker("rx", 64) });
    expect((await r.ask(readFrame(to(), 5, 0, 1))).length).toBe(1);
    expect(await r.ask(readFrame(to(), 5, 0, 1))).toEqual([]);
    expect((await r.ask(readFrame(to(OTHER), 5, 0, 1))).length).toBe(1);
    const plain = rig();
    expect((await plain.ask(readFrame(to(), 5, 0, 1))).length).toBe(1);
    expect((await plain.ask(readFrame(to(), 5, 0, 1))).length).toBe(1);
  });

  test("announce: a broadcast Query Config reply, tag 0, version 1", () => {
    const r = rig();
    r.exp.announce();
    const a = r.sent[0]!;
    expect(a.h.dst).toEqual(BROADCAST_MAC);
    expect(a.h.flags).toBe(Flag.Response);
    expect(a.h.command).toBe(Command.QueryConfig);
    expect(a.h.version).toBe(1);
    expect(a.config().bufferCount).toBe(16);
  });

  test("stop: in-flight writes finish and are answered, later requests ignored", async () => {
    const r = rig();
    for (let i = 0; i < 10; i++) r.exp.handle(writeFrame(to(), i, i, sector(0x70 + i)));
    const stopped = r.exp.stop();
    r.exp.handle(writeFrame(to(), 99, 50, sector(1)));
    await stopped;
    expect(r.sent.length).toBe(10);
    const disk = fs.readFileSync(r.file);
    for (let i = 0; i < 10; i++) expect(disk[i * 512]).toBe(0x70 + i);
    expect(disk[50 * 512]).toBe(0);
  });
});
