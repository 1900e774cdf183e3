/**
 * `aoede serve` end to end: the real command in one network namespace, requests
 * built with the project's codec sent from a raw link in another, over a veth
 * pair the test creates. Skipped when the process cannot create namespaces.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  AoEError,
  AtaCmd,
  AtaErrorBit,
  BROADCAST_MAC,
  Command,
  ConfigCmd,
  DirectiveCmd,
  Flag,
  MacMaskCmd,
  parseIdentify,
  ReserveCmd,
} from "../../src/aoe/index.ts";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { RawClient } from "../helpers/raw-client.ts";
import { ataFrame, configFrame, mac, maskFrame, rawFrame, readFrame, reserveFrame, writeFrame, type Addr } from "../helpers/requests.ts";
import { startServe, type ServeProc } from "../helpers/serve-proc.ts";

// Namespaces and serve processes: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const enabled = canUseNetns();
const LBA28_LIMIT = 0x10000000;
/** A sparse disk just past the LBA28 limit, so LBA48 addressing is exercised for real. */
const BIG_SECTORS = LBA28_LIMIT + 4096;

let world: VethWorld;
let client: RawClient;
let tmp: string;
const procs: ServeProc[] = [];

const sector = (fill: number, n = 1) => new Uint8Array(512 * n).fill(fill);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function readDisk(file: string, lba: number, count = 1): Uint8Array {
  const fd = fs.openSync(file, "r");
  const b = Buffer.alloc(count * 512);
  fs.readSync(fd, b, 0, b.length, lba * 512);
  fs.closeSync(fd);
  return new Uint8Array(b);
}

function writeDisk(file: string, lba: number, data: Uint8Array): void {
  const fd = fs.openSync(file, "r+");
  fs.writeSync(fd, data, 0, data.length, lba * 512);
  fs.closeSync(fd);
}

function sparseDisk(name: string, sectors: number): string {
  const file = path.join(tmp, name);
  fs.closeSync(fs.openSync(file, "w"));
  fs.truncateSync(file, sectors * 512);
  return file;
}

async function serve(args: string[], shelf: number, slot: number): Promise<ServeProc> {
  const p = await startServe(world.prefix(world.nsA), args, client, shelf, slot);
  procs.push(p);
  return p;
}

beforeAll(() => {
  if (!enabled) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-serve-e2e-"));
  world = makeVethWorld("sv");
  client = new RawClient(world.ifB, world.nsB);
});

afterAll(() => {
  for (const p of procs) p.kill();
  client?.close();
  world?.dispose();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!enabled)("serve over veth", () => {
  const SHELF = 7;
  const SLOT = 1;
  let disk: string;
  let target: Uint8Array;
  let at: Addr;

  beforeAll(async () => {
    disk = sparseDisk("big.img", BIG_SECTORS);
    await serve(["-b", "16", "--model", "E2E model", "--serial", "E2E-SERIAL", String(SHELF), String(SLOT), world.ifA, disk], SHELF, SLOT);
    target = mac(world.macA);
    at = client.to(target, SHELF, SLOT);
  });

  test("announces itself at start-up: broadcast Query Config reply, version 1, tag 0", () => {
    const a = client.received.find((r) => r.h.major === SHELF && r.h.command === Command.QueryConfig && r.h.tag === 0)!;
    expect(a.h.dst).toEqual(new Uint8Array(BROADCAST_MAC));
    expect(a.h.src).toEqual(target);
    expect(a.h.version).toBe(1);
    expect(a.h.flags).toBe(Flag.Response);
    expect(a.config().bufferCount).toBe(16);
    expect(a.config().sectorCount).toBe(2);
    expect(a.length).toBe(60);
  }, 10_000);

  test("discovery: unicast, full broadcast, and each broadcast field on its own", async () => {
    const cases: Addr[] = [
      at,
      client.to(BROADCAST_MAC, 0xffff, 0xff),
      client.to(BROADCAST_MAC, SHELF, 0xff),
      client.to(BROADCAST_MAC, 0xffff, SLOT),
    ];
    for (const a of cases) {
      const t = client.tag();
      const r = await client.ask(configFrame(a, t, ConfigCmd.Read), t);
      expect(r.h.major).toBe(SHELF);
      expect(r.h.minor).toBe(SLOT);
      expect(r.h.error).toBe(0);
      expect(r.config().bufferCount).toBe(16);
      expect(r.config().sectorCount).toBe(2);
    }
    for (const a of [client.to(target, SHELF + 1, SLOT), client.to(target, SHELF, SLOT + 1), client.to(BROADCAST_MAC, 0xffff, SLOT + 1)]) {
      const t = client.tag();
      await client.expectSilence(configFrame(a, t, ConfigCmd.Read), t, 200);
    }
  }, 15_000);

  test("IDENTIFY DEVICE: capacity words, LBA48 and FLUSH bits, strings", async () => {
    const t = client.tag();
    const r = await client.ask(ataFrame(at, t, { cmd: AtaCmd.Identify, count: 1 }), t);
    const a = r.ata();
    expect(a.cmdStatus).toBe(0x40);
    const id = parseIdentify(a.data);
    expect(id.sectors).toBe(BIG_SECTORS);
    expect(id.lba48).toBe(true);
    expect(id.flush).toBe(true);
    expect(id.flushExt).toBe(true);
    expect(id.model).toBe("E2E model");
    expect(id.serial).toBe("E2E-SERIAL");
    const word = (n: number) => a.data[2 * n]! | (a.data[2 * n + 1]! << 8);
    expect(word(60) | (word(61) << 16)).toBe(0x0fffffff);
    expect(word(100) + word(101) * 65536 + word(102) * 2 ** 32).toBe(BIG_SECTORS);
  }, 10_000);

  test("LBA48 and LBA28 writes and reads, past 2^28, the last sector, past the end", async () => {
    const w = async (frame: Uint8Array, t: number) => (await client.ask(frame, t)).ata();
    // LBA48 beyond the 28-bit range
    let t = client.tag();
    expect((await w(writeFrame(at, t, LBA28_LIMIT + 5, sector(0xa5, 2)), t)).cmdStatus).toBe(0x40);
    expect(readDisk(disk, LBA28_LIMIT + 5, 2)).toEqual(sector(0xa5, 2));
    // LBA28 with Linux's 0xE0 nibble: masked to 28 bits, so sector 5, not 2^28 + 5
    t = client.tag();
    expect((await w(ataFrame(at, t, { cmd: AtaCmd.Write, lba: 0xe0000005, count: 1, data: sector(0x28) }), t)).cmdStatus).toBe(0x40);
    expect(readDisk(disk, 5)).toEqual(sector(0x28));
    expect(readDisk(disk, LBA28_LIMIT + 5)).toEqual(sector(0xa5));
    t = client.tag();
    const r28 = await w(ataFrame(at, t, { cmd: AtaCmd.Read, lba: 0xe0000005, count: 1 }), t);
    expect(r28.data.subarray(0, 512)).toEqual(sector(0x28));
    t = client.tag();
    const r48 = await w(readFrame(at, t, LBA28_LIMIT + 5, 2), t);
    expect(r48.data.subarray(0, 1024)).toEqual(sector(0xa5, 2));
    // the last sector, written and read
    t = client.tag();
    expect((await w(writeFrame(at, t, BIG_SECTORS - 1, sector(0xee)), t)).cmdStatus).toBe(0x40);
    t = client.tag();
    const last = await w(readFrame(at, t, BIG_SECTORS - 1, 1), t);
    expect(last.cmdStatus).toBe(0x40);
    expect(last.data.subarray(0, 512)).toEqual(sector(0xee));
    expect(readDisk(disk, BIG_SECTORS - 1)).toEqual(sector(0xee));
    // past the end: IDNF, for reads and writes, nothing written
    const pastEnd = [
      (tag: number) => readFrame(at, tag, BIG_SECTORS, 1),
      (tag: number) => readFrame(at, tag, BIG_SECTORS - 1, 2),
      (tag: number) => writeFrame(at, tag, BIG_SECTORS - 1, sector(1, 2)),
    ];
    for (const build of pastEnd) {
      t = client.tag();
      const e = await w(build(t), t);
      expect(e.cmdStatus).toBe(0x41);
      expect(e.errFeature).toBe(AtaErrorBit.Idnf);
    }
    expect(fs.statSync(disk).size).toBe(BIG_SECTORS * 512);
  }, 20_000);

  test("AoE error 2 for too many sectors and short write payloads; ABRT for unknown ATA; CHECK POWER; FLUSH", async () => {
    let t = client.tag();
    expect((await client.ask(readFrame(at, t, 0, 3), t)).h.error).toBe(AoEError.BadArgument);
    t = client.tag();
    expect((await client.ask(writeFrame(at, t, 0, sector(1, 2)).slice(0, 36 + 600), t)).h.error).toBe(AoEError.BadArgument);
    t = client.tag();
    const ab = (await client.ask(ataFrame(at, t, { cmd: 0xc8, count: 1 }), t)).ata();
    expect([ab.cmdStatus, ab.errFeature]).toEqual([0x41, AtaErrorBit.Abrt]);
    t = client.tag();
    const pw = (await client.ask(ataFrame(at, t, { cmd: AtaCmd.CheckPower }), t)).ata();
    expect([pw.cmdStatus, pw.sectorCount]).toEqual([0x40, 0xff]);
    for (const cmd of [AtaCmd.Flush, AtaCmd.FlushExt]) {
      t = client.tag();
      expect((await client.ask(ataFrame(at, t, { cmd }), t)).ata().cmdStatus).toBe(0x40);
    }
  }, 10_000);

  test("version, unknown commands, replies ignored", async () => {
    let t = client.tag();
    const v = await client.ask(ataFrame(at, t, { cmd: AtaCmd.CheckPower, version: 3 }), t);
    expect(v.h.flags & Flag.Error).toBeTruthy();
    expect(v.h.error).toBe(AoEError.UnsupportedVersion);
    t = client.tag();
    expect((await client.ask(rawFrame(at, t, 0x42), t)).h.error).toBe(AoEError.UnrecognizedCommand);
    t = client.tag();
    expect((await client.ask(rawFrame(at, t, 0xf3), t)).h.error).toBe(AoEError.UnrecognizedCommand);
    t = client.tag();
    await client.expectSilence(ataFrame(at, t, { cmd: AtaCmd.CheckPower, flags: Flag.Response }), t, 200);
  }, 10_000);

  test("zero padding: short replies are 60 bytes, zeroes after the message; unpadded requests answered", async () => {
    const t = client.tag();
    const req = ataFrame(at, t, { cmd: AtaCmd.CheckPower });
    expect(req.length).toBe(36); // sent unpadded
    const r = await client.ask(req, t);
    expect(r.length).toBe(60);
    expect(r.frame.subarray(36).every((b) => b === 0)).toBe(true);
    const t2 = client.tag();
    const e = await client.ask(rawFrame(at, t2, 0x42), t2); // 24-byte error reply
    expect(e.length).toBe(60);
    expect(e.frame.subarray(24).every((b) => b === 0)).toBe(true);
  }, 10_000);

  test("Query Config: read, set, error 4, test, test prefix, force set, bad ccmd", async () => {
    const ask = async (ccmd: number, s?: string) => {
      const t = client.tag();
      return client.ask(configFrame(at, t, ccmd, s === undefined ? undefined : enc(s)), t);
    };
    const silent = async (ccmd: number, s: string) => {
      const t = client.tag();
      await client.expectSilence(configFrame(at, t, ccmd, enc(s)), t, 200);
    };
    expect((await ask(ConfigCmd.Set, "rack 4 disk 1")).h.error).toBe(0);
    const conflict = await ask(ConfigCmd.Set, "someone else");
    expect(conflict.h.error).toBe(AoEError.ConfigStringPresent);
    expect(dec(conflict.config().config)).toBe("rack 4 disk 1");
    expect(dec((await ask(ConfigCmd.Test, "rack 4 disk 1")).config().config)).toBe("rack 4 disk 1");
    await silent(ConfigCmd.Test, "rack 4");
    expect((await ask(ConfigCmd.TestPrefix, "rack 4")).h.error).toBe(0);
    await silent(ConfigCmd.TestPrefix, "disk");
    expect(dec((await ask(ConfigCmd.ForceSet, "forced")).config().config)).toBe("forced");
    expect(dec((await ask(ConfigCmd.Read)).config().config)).toBe("forced");
    expect((await ask(9)).h.error).toBe(AoEError.BadArgument);
    // broadcast test-prefix discovery finds it, a non-matching one stays silent
    const t = client.tag();
    expect((await client.ask(configFrame(client.to(BROADCAST_MAC, 0xffff, 0xff), t, ConfigCmd.TestPrefix, enc("for")), t)).h.major).toBe(SHELF);
  }, 15_000);

  test("Mac Mask List: several MACs, deletes, enforcement on every command", async () => {
    const me = client.mac;
    const m2 = mac("02:00:5e:00:00:02");
    const m3 = mac("02:00:5e:00:00:03");
    const stranger: Addr = { ...at, src: mac("02:00:5e:00:00:99") };
    let t = client.tag();
    const add = await client.ask(
      maskFrame(at, t, MacMaskCmd.Edit, [
        { dcmd: DirectiveCmd.Add, mac: m2 },
        { dcmd: DirectiveCmd.Add, mac: me },
        { dcmd: DirectiveCmd.Add, mac: m3 },
      ]),
      t,
    );
    expect(add.mask().merror).toBe(0);
    expect(add.mask().directives.map((d) => d.mac)).toEqual([m2, me, m3]);
    const fromStranger = [
      (tag: number) => configFrame(stranger, tag, ConfigCmd.Read),
      (tag: number) => readFrame(stranger, tag, 0, 1),
      (tag: number) => maskFrame(stranger, tag, MacMaskCmd.Read),
    ];
    for (const build of fromStranger) {
      t = client.tag();
      await client.expectSilence(build(t), t, 150);
    }
    t = client.tag();
    expect((await client.ask(readFrame({ ...at, src: m3 }, t, 0, 1), t)).h.error).toBe(0);
    t = client.tag();
    const del = await client.ask(maskFrame(at, t, MacMaskCmd.Edit, [{ dcmd: DirectiveCmd.Delete, mac: m2 }, { dcmd: DirectiveCmd.Delete, mac: m3 }]), t);
    expect(del.mask().directives.map((d) => d.mac)).toEqual([me]);
    t = client.tag();
    await client.expectSilence(readFrame({ ...at, src: m3 }, t, 0, 1), t, 150);
    t = client.tag();
    const bad = await client.ask(maskFrame(at, t, MacMaskCmd.Edit, [{ dcmd: DirectiveCmd.Add, mac: m2 }, { dcmd: 5, mac: m3 }]), t);
    expect(bad.mask().merror).toBe(2);
    expect(bad.mask().count).toBe(1);
    t = client.tag();
    const cleared = await client.ask(maskFrame(at, t, MacMaskCmd.Edit, [{ dcmd: DirectiveCmd.Delete, mac: me }, { dcmd: DirectiveCmd.Delete, mac: m2 }]), t);
    expect(cleared.mask().directives).toEqual([]);
    t = client.tag();
    expect((await client.ask(readFrame(stranger, t, 0, 1), t)).h.error).toBe(0);
  }, 15_000);

  test("Reserve/Release from two source MACs", async () => {
    const a: Addr = at;
    const b: Addr = { ...at, src: mac("02:00:5e:00:00:0b") };
    let t = client.tag();
    const set = await client.ask(reserveFrame(a, t, ReserveCmd.Set, [a.src]), t);
    expect(set.h.error).toBe(0);
    expect(set.reserve().macs).toEqual([a.src]);
    t = client.tag();
    expect((await client.ask(readFrame(b, t, 0, 1), t)).h.error).toBe(AoEError.TargetReserved);
    t = client.tag();
    expect((await client.ask(writeFrame(b, t, 9, sector(0xbb)), t)).h.error).toBe(AoEError.TargetReserved);
    expect(readDisk(disk, 9)).toEqual(sector(0));
    t = client.tag();
    const steal = await client.ask(reserveFrame(b, t, ReserveCmd.Set, [b.src]), t);
    expect(steal.h.error).toBe(AoEError.TargetReserved);
    expect(steal.reserve().macs).toEqual([a.src]);
    t = client.tag();
    expect((await client.ask(readFrame(a, t, 0, 1), t)).h.error).toBe(0);
    t = client.tag();
    expect((await client.ask(reserveFrame(b, t, ReserveCmd.ForceSet, [b.src]), t)).reserve().macs).toEqual([b.src]);
    t = client.tag();
    expect((await client.ask(readFrame(a, t, 0, 1), t)).h.error).toBe(AoEError.TargetReserved);
    t = client.tag();
    expect((await client.ask(reserveFrame(b, t, ReserveCmd.Set, []), t)).reserve().macs).toEqual([]);
    t = client.tag();
    expect((await client.ask(readFrame(a, t, 0, 1), t)).h.error).toBe(0);
  }, 15_000);
});

describe.skipIf(!enabled)("serve options", () => {
  test("-r: read-only export refuses writes", async () => {
    const disk = sparseDisk("ro.img", 100);
    writeDisk(disk, 3, sector(0x33));
    await serve(["-r", "8", "0", world.ifA, disk], 8, 0);
    const at = client.to(mac(world.macA), 8, 0);
    let t = client.tag();
    const w = (await client.ask(writeFrame(at, t, 3, sector(0x44)), t)).ata();
    expect([w.cmdStatus, w.errFeature]).toEqual([0x41, AtaErrorBit.Abrt]);
    t = client.tag();
    expect((await client.ask(readFrame(at, t, 3, 1), t)).ata().data.subarray(0, 512)).toEqual(sector(0x33));
    expect(readDisk(disk, 3)).toEqual(sector(0x33));
  }, 15_000);

  test("-o and -l: only the window is exported", async () => {
    const disk = sparseDisk("window.img", 1000);
    writeDisk(disk, 100, sector(0x64));
    writeDisk(disk, 149, sector(0x95));
    await serve(["-o", "100", "-l", "50", "8", "1", world.ifA, disk], 8, 1);
    const at = client.to(mac(world.macA), 8, 1);
    let t = client.tag();
    const id = parseIdentify((await client.ask(ataFrame(at, t, { cmd: AtaCmd.Identify, count: 1 }), t)).ata().data);
    expect(id.sectors).toBe(50);
    t = client.tag();
    expect((await client.ask(readFrame(at, t, 0, 1), t)).ata().data.subarray(0, 512)).toEqual(sector(0x64));
    t = client.tag();
    expect((await client.ask(readFrame(at, t, 49, 1), t)).ata().data.subarray(0, 512)).toEqual(sector(0x95));
    t = client.tag();
    expect((await client.ask(readFrame(at, t, 50, 1), t)).ata().errFeature).toBe(AtaErrorBit.Idnf);
    t = client.tag();
    await client.ask(writeFrame(at, t, 10, sector(0x0a)), t);
    expect(readDisk(disk, 110)).toEqual(sector(0x0a));
    expect(readDisk(disk, 10)).toEqual(sector(0));
  }, 15_000);

  test("-d -s: O_DIRECT and O_SYNC transfers, FLUSH", async () => {
    const disk = sparseDisk("direct.img", 2048);
    writeDisk(disk, 40, sector(0x40, 2));
    const p = await serve(["-d", "-s", "-b", "8", "8", "7", world.ifA, disk], 8, 7); // 8 at the disk, 8 waiting: 12 fit
    expect(p.output()).toMatch(/O_RDWR\|O_DIRECT\|O_SYNC/);
    const at = client.to(mac(world.macA), 8, 7);
    let t = client.tag();
    expect((await client.ask(readFrame(at, t, 40, 2), t)).ata().data.subarray(0, 1024)).toEqual(sector(0x40, 2));
    const tags: number[] = [];
    for (let i = 0; i < 12; i++) {
      tags.push((t = client.tag()));
      client.send(writeFrame(at, t, 100 + 2 * i, sector(0x90 + i, 2)));
    }
    await client.waitFor(() => tags.every((tag) => client.repliesTo(tag).length > 0) || undefined, 5000, "12 write acks");
    t = client.tag();
    expect((await client.ask(ataFrame(at, t, { cmd: AtaCmd.FlushExt }), t)).ata().cmdStatus).toBe(0x40);
    for (let i = 0; i < 12; i++) expect(readDisk(disk, 100 + 2 * i, 2)).toEqual(sector(0x90 + i, 2));
    t = client.tag();
    expect((await client.ask(readFrame(at, t, 122, 2), t)).ata().data.subarray(0, 1024)).toEqual(sector(0x9b, 2));
  }, 15_000);

  test("-m: the allow list from the command line", async () => {
    const disk = sparseDisk("masked.img", 100);
    const other = mac("02:00:5e:00:01:01");
    await serve(["-m", `${world.macB.replaceAll(":", "")},${"02:00:5e:00:01:02"}`, "8", "2", world.ifA, disk], 8, 2);
    const at = client.to(mac(world.macA), 8, 2);
    let t = client.tag();
    expect((await client.ask(readFrame(at, t, 0, 1), t)).h.error).toBe(0);
    t = client.tag();
    await client.expectSilence(readFrame({ ...at, src: other }, t, 0, 1), t, 200);
    t = client.tag();
    expect((await client.ask(maskFrame(at, t, MacMaskCmd.Read), t)).mask().directives.length).toBe(2);
  }, 15_000);

  test("--state-dir: config string, Mac Mask list and reservation survive a restart", async () => {
    const disk = sparseDisk("state.img", 100);
    const dir = path.join(tmp, "state");
    const args = ["--state-dir", dir, "8", "3", world.ifA, disk];
    const first = await serve(args, 8, 3);
    const at = client.to(mac(world.macA), 8, 3);
    const other = mac("02:00:5e:00:02:02");
    let t = client.tag();
    await client.ask(configFrame(at, t, ConfigCmd.Set, enc("kept across restarts")), t);
    t = client.tag();
    await client.ask(maskFrame(at, t, MacMaskCmd.Edit, [{ dcmd: DirectiveCmd.Add, mac: client.mac }, { dcmd: DirectiveCmd.Add, mac: other }]), t);
    t = client.tag();
    await client.ask(reserveFrame(at, t, ReserveCmd.Set, [client.mac]), t);
    expect(await first.stop()).toBe(0);
    await serve(args, 8, 3);
    t = client.tag();
    expect(dec((await client.ask(configFrame(at, t, ConfigCmd.Read), t)).config().config)).toBe("kept across restarts");
    t = client.tag();
    expect((await client.ask(maskFrame(at, t, MacMaskCmd.Read), t)).mask().directives.map((d) => d.mac)).toEqual([client.mac, other]);
    t = client.tag();
    expect((await client.ask(reserveFrame(at, t, ReserveCmd.Read), t)).reserve().macs).toEqual([client.mac]);
    t = client.tag();
    expect((await client.ask(readFrame({ ...at, src: other }, t, 0, 1), t)).h.error).toBe(AoEError.TargetReserved);
  }, 20_000);

  test("--tag-tracking write: a repeated WRITE is acknowledged, not written again", async () => {
    const disk = sparseDisk("tags.img", 100);
    await serve(["--tag-tracking", "write", "8", "4", world.ifA, disk], 8, 4);
    const at = client.to(mac(world.macA), 8, 4);
    const t = client.tag();
    const frame = writeFrame(at, t, 7, sector(0x77));
    expect((await client.ask(frame, t)).ata().cmdStatus).toBe(0x40);
    writeDisk(disk, 7, sector(0x01)); // changed behind the target's back
    client.send(frame); // the same tag again: a retransmission
    await client.waitFor(() => client.repliesTo(t).length >= 2 || undefined, 2000, "second ack");
    expect(client.repliesTo(t)[1]!.ata().cmdStatus).toBe(0x40);
    expect(readDisk(disk, 7)).toEqual(sector(0x01));
  }, 15_000);

  test("--tag-tracking rx: a repeated request is dropped", async () => {
    const disk = sparseDisk("tagsrx.img", 100);
    await serve(["--tag-tracking=rx", "8", "5", world.ifA, disk], 8, 5);
    const at = client.to(mac(world.macA), 8, 5);
    const t = client.tag();
    await client.ask(readFrame(at, t, 0, 1), t);
    client.send(readFrame(at, t, 0, 1));
    await Bun.sleep(200);
    expect(client.repliesTo(t).length).toBe(1);
  }, 15_000);

  test("SIGTERM with writes in flight: exit 0, every acknowledged write is on disk, nothing taken after", async () => {
    const disk = sparseDisk("sigterm.img", 4096);
    const p = await serve(["-s", "-b", "16", "8", "6", world.ifA, disk], 8, 6);
    const at = client.to(mac(world.macA), 8, 6);
    const tags: number[] = [];
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 32; i++) {
      const t = client.tag();
      tags.push(t);
      frames.push(writeFrame(at, t, i * 2, sector(0x80 + i, 2)));
    }
    expect(client.link.sendBatch(frames)).toBe(32);
    await client.waitFor(() => client.repliesTo(tags[0]!).length > 0 || undefined, 5000, "first write ack");
    p.proc.kill("SIGTERM");
    await p.waitOutput(/SIGTERM: stopping/);
    const late = client.tag();
    client.send(writeFrame(at, late, 3000, sector(0x55)));
    // Wait, do not signal again: a second SIGTERM means "exit now" (status 1), and
    // with O_SYNC writes queued the drain takes a while on a busy machine.
    const code = await p.waitExit(15_000);
    expect({ code, output: code === 0 ? "" : p.output() }).toEqual({ code: 0, output: "" });
    await Bun.sleep(100);
    const acked = tags.map((t, i) => [i, client.repliesTo(t)[0]] as const).filter(([, r]) => r !== undefined);
    expect(acked.length).toBeGreaterThan(0);
    for (const [i, r] of acked) {
      expect(r!.ata().cmdStatus).toBe(0x40);
      expect(readDisk(disk, i * 2, 2)).toEqual(sector(0x80 + i, 2));
    }
    expect(client.repliesTo(late)).toEqual([]);
    expect(readDisk(disk, 3000)).toEqual(sector(0));
    expect(p.output()).toMatch(/writes/);
  }, 20_000);
});

describe.skipIf(!enabled)("serve at MTU 9000", () => {
  let jumbo: VethWorld;
  let jc: RawClient;
  afterAll(() => {
    jc?.close();
    jumbo?.dispose();
  });

  test("17 sectors per frame, announced and served", async () => {
    jumbo = makeVethWorld("sj", 9000);
    jc = new RawClient(jumbo.ifB, jumbo.nsB);
    const disk = sparseDisk("jumbo.img", 1000);
    const p = await startServe(jumbo.prefix(jumbo.nsA), ["9", "9", jumbo.ifA, disk], jc, 9, 9);
    procs.push(p);
    const at = jc.to(mac(jumbo.macA), 9, 9);
    let t = jc.tag();
    expect((await jc.ask(configFrame(at, t, ConfigCmd.Read), t)).config().sectorCount).toBe(17);
    const data = new Uint8Array(17 * 512).map((_, i) => (i * 13) & 255);
    t = jc.tag();
    expect((await jc.ask(writeFrame(at, t, 100, data), t)).ata().cmdStatus).toBe(0x40);
    t = jc.tag();
    const r = await jc.ask(readFrame(at, t, 100, 17), t);
    expect(r.length).toBe(36 + 17 * 512);
    expect(r.ata().data.subarray(0, 17 * 512)).toEqual(data);
    t = jc.tag();
    expect((await jc.ask(readFrame(at, t, 0, 18), t)).h.error).toBe(AoEError.BadArgument);
  }, 20_000);
});
