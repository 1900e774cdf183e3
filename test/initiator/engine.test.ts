/**
 * The engine against a scripted in-memory target: no namespaces, exact control
 * over which replies arrive, twice, late or never. Checks what the network
 * tests cannot pin down: bit 31 in every tag, LBA28 encoding when IDENTIFY
 * does not announce LBA48, duplicated and late replies neither corrupting
 * data nor counting twice, a new tag per resend, AoE errors and the deadline.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  AtaCmd,
  AtaFlag,
  AtaStatus,
  Command,
  Flag,
  AOE_VERSION,
  SECTOR_SIZE,
} from "../../src/aoe/constants.ts";
import { decodeAta, encodeAta } from "../../src/aoe/ata.ts";
import { decodeHeader, encodeHeader, replyHeader, type Header } from "../../src/aoe/header.ts";
import { encodeConfig } from "../../src/aoe/config.ts";
import { buildIdentify } from "../../src/aoe/identify.ts";
import { newFrame } from "../../src/aoe/frame.ts";
import type { RawLink } from "../../ffi/rawlink.ts";
import { Initiator, type FrameLoop } from "../../src/initiator/engine.ts";
import { discover } from "../../src/initiator/discover.ts";
import { InitiatorError } from "../../src/initiator/request.ts";

// Real timers (resends, deadlines, the 1 s jumbo grace): several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const TARGET_MAC = new Uint8Array([2, 0, 0, 0, 0, 0xaa]);
const OUR_MAC = new Uint8Array([2, 0, 0, 0, 0, 0xbb]);

interface Request {
  h: Header;
  frame: Uint8Array;
}

/** A fake link + loop + target: requests go to `respond`, which returns reply frames (or none). */
let harnessMtu = 1500;

class Harness implements FrameLoop {
  readonly sent: Request[] = [];
  onFrame?: (f: Uint8Array, l: RawLink) => void;
  onBatchEnd?: () => void;
  /** what the target answers to a request; an array of frames, each delivered after `delayMs` */
  respond: (r: Request) => { frame: Uint8Array; delayMs?: number }[] = () => [];
  readonly disk: Uint8Array;

  constructor(
    readonly sectors: number,
    readonly lba48: boolean,
    readonly mtu = 1500,
  ) {
    harnessMtu = mtu;
    this.disk = new Uint8Array(sectors * SECTOR_SIZE);
    for (let i = 0; i < this.disk.length; i++) this.disk[i] = (i * 7 + (i >> 9)) & 0xff;
  }

  readonly link: RawLink = {
    name: "fake0",
    index: 1,
    mac: OUR_MAC,
    get mtu() {
      return harnessMtu;
    },
    fd: -1,
    open: true,
    stats: { received: 0, truncated: 0, sent: 0, sendDropped: 0, receiveErrors: 0, lastError: undefined },
    receive: () => [],
    send: (f) => (this.deliver(f), true),
    sendBatch: (fs) => {
      for (const f of fs) this.deliver(f);
      return fs.length;
    },
    refresh() {},
    kernelDrops: () => 0,
    onClose: () => () => {},
    close() {},
  };

  attach(_link: RawLink, onFrame: (f: Uint8Array, l: RawLink) => void, onBatchEnd?: () => void): () => void {
    this.onFrame = onFrame;
    this.onBatchEnd = onBatchEnd;
    return () => {};
  }

  private deliver(f: Uint8Array): void {
    const frame = f.slice();
    const r = { h: decodeHeader(frame), frame };
    this.sent.push(r);
    for (const { frame: reply, delayMs } of this.respond(r)) {
      setTimeout(() => {
        this.onFrame!(reply, this.link);
        this.onBatchEnd!();
      }, delayMs ?? 0);
    }
  }

  /** The reply a correct target sends. */
  answer(r: Request): Uint8Array {
    const { h, frame } = r;
    if (h.command === Command.QueryConfig) {
      const out = newFrame(60);
      encodeHeader(replyHeader(h, TARGET_MAC, 1, 0), out);
      encodeConfig({ bufferCount: 8, firmware: 0x4019, sectorCount: this.mtu > 1500 ? 17 : 2, aoeVersion: 1, ccmd: 0, config: new Uint8Array(0) }, out);
      return out;
    }
    const a = decodeAta(frame);
    const out = newFrame(36 + a.sectorCount * SECTOR_SIZE);
    encodeHeader(replyHeader(h, TARGET_MAC, 1, 0), out);
    if (a.cmdStatus === AtaCmd.Identify) {
      encodeAta({ ...a, cmdStatus: AtaStatus.Drdy, data: buildIdentify({ sectors: this.sectors, model: "fake", serial: "1", firmware: "1", lba48: this.lba48 }) }, out);
      return out;
    }
    const lba = a.aflags & AtaFlag.Ext ? a.lba : a.lba & 0x0fffffff;
    const at = lba * SECTOR_SIZE;
    const n = a.sectorCount * SECTOR_SIZE;
    if (a.aflags & AtaFlag.Write) {
      this.disk.set(a.data.subarray(0, n), at);
      encodeAta({ ...a, sectorCount: 0, cmdStatus: AtaStatus.Drdy }, out);
      return out.subarray(0, 36);
    }
    encodeAta({ ...a, sectorCount: 0, cmdStatus: AtaStatus.Drdy, data: this.disk.subarray(at, at + n) }, out);
    return out;
  }
}

async function setup(h: Harness, deadlineMs = 5000) {
  h.respond = (r) => [{ frame: h.answer(r) }];
  const ini = new Initiator(h, [h.link], { deadlineMs, rtt: { minTimeoutMs: 5 } });
  const [t] = await discover(ini, { timeoutMs: 200, shelf: 1, slot: 0 });
  await ini.identify(t!);
  return { ini, t: t! };
}

describe("engine against a scripted target", () => {
  test("every tag has bit 31 set; each resend gets a new tag", async () => {
    const h = new Harness(64, true);
    const { ini, t } = await setup(h);
    let dropped = 0;
    h.respond = (r) => (r.h.command === Command.ATA && dropped++ < 3 ? [] : [{ frame: h.answer(r) }]);
    const buf = new Uint8Array(2 * SECTOR_SIZE);
    await ini.read(t, 10, 2, buf);
    expect(buf as Uint8Array).toEqual(h.disk.subarray(10 * 512, 12 * 512));
    const ata = h.sent.filter((r) => r.h.command === Command.ATA).slice(-4);
    for (const r of h.sent) expect(r.h.tag >>> 31).toBe(1);
    expect(new Set(ata.map((r) => r.h.tag)).size).toBe(4);
    expect(t.paths.paths[0]!.resent).toBe(3);
    ini.close();
  });

  test("LBA28 when IDENTIFY does not announce LBA48: READ SECTORS, no E flag, 0xE0 in lba3", async () => {
    const h = new Harness(4096, false);
    const { ini, t } = await setup(h);
    expect(t.identify!.lba48).toBe(false);
    const buf = new Uint8Array(8 * SECTOR_SIZE);
    await ini.read(t, 4000, 8, buf);
    expect(buf as Uint8Array).toEqual(h.disk.subarray(4000 * 512, 4008 * 512));
    const reads = h.sent.filter((r) => r.h.command === Command.ATA).map((r) => decodeAta(r.frame)).filter((a) => a.cmdStatus !== AtaCmd.Identify);
    expect(reads.length).toBe(4);
    for (const a of reads) {
      expect(a.cmdStatus).toBe(AtaCmd.Read);
      expect(a.aflags & AtaFlag.Ext).toBe(0);
      expect(Math.floor(a.lba / 2 ** 24) & 0xf0).toBe(0xe0);
    }
    // and LBA48 on a device that announces it
    const h48 = new Harness(64, true);
    const s48 = await setup(h48);
    await s48.ini.write(s48.t, 0, 2, new Uint8Array(1024).fill(9));
    const w = decodeAta(h48.sent.at(-1)!.frame);
    expect(w.cmdStatus).toBe(AtaCmd.WriteExt);
    expect(w.aflags).toBe(AtaFlag.Ext | AtaFlag.Write);
    ini.close();
    s48.ini.close();
  });

  test("duplicated replies: data intact, counted once", async () => {
    const h = new Harness(256, true);
    const { ini, t } = await setup(h);
    h.respond = (r) => {
      const f = h.answer(r);
      return [{ frame: f }, { frame: f.slice(), delayMs: 1 }];
    };
    const buf = new Uint8Array(256 * SECTOR_SIZE);
    await ini.read(t, 0, 256, buf);
    expect(buf as Uint8Array).toEqual(h.disk);
    await Bun.sleep(20);
    expect(ini.unmatchedReplies).toBeGreaterThanOrEqual(128);
    expect(t.inflight.size).toBe(0);
    ini.close();
  });

  test("a late reply to the first transmission completes the frame; the resend's reply is then dropped", async () => {
    const h = new Harness(64, true);
    const { ini, t } = await setup(h);
    // Driven by events, not by timers (a busy machine stretches any timing): the
    // first transmission of each frame goes unanswered until its resend is seen;
    // then the first one's reply arrives (late) and the resend's is held back.
    const firstReply = new Map<number, Uint8Array>();
    const resendReplies: Uint8Array[] = [];
    h.respond = (r) => {
      if (r.h.command !== Command.ATA) return [{ frame: h.answer(r) }];
      const lba = decodeAta(r.frame).lba;
      const late = firstReply.get(lba);
      if (late === undefined) {
        firstReply.set(lba, h.answer(r));
        return [];
      }
      firstReply.set(lba, new Uint8Array(0)); // delivered now; later resends are answered too, and held
      resendReplies.push(h.answer(r));
      return late.length > 0 ? [{ frame: late }] : [];
    };
    const buf = new Uint8Array(16 * SECTOR_SIZE);
    await ini.read(t, 0, 16, buf);
    expect(buf as Uint8Array).toEqual(h.disk.subarray(0, 16 * 512));
    expect(resendReplies.length).toBeGreaterThanOrEqual(8);
    expect(t.inflight.size).toBe(0);
    const before = ini.unmatchedReplies;
    for (const f of resendReplies) h.onFrame!(f, h.link);
    h.onBatchEnd!();
    expect(ini.unmatchedReplies - before).toBe(resendReplies.length);
    expect(buf as Uint8Array).toEqual(h.disk.subarray(0, 16 * 512));
    ini.close();
  });

  test("reordered replies and a write: the disk gets exactly the data", async () => {
    const h = new Harness(512, true);
    const { ini, t } = await setup(h);
    let i = 0;
    h.respond = (r) => [{ frame: h.answer(r), delayMs: (i++ * 7) % 5 }];
    const data = new Uint8Array(512 * SECTOR_SIZE);
    crypto.getRandomValues(data.subarray(0, 65536));
    data.copyWithin(65536, 0);
    await ini.write(t, 0, 512, data);
    expect(h.disk as Uint8Array).toEqual(data as Uint8Array);
    ini.close();
  });

  test("an AoE error fails the request with its meaning", async () => {
    const h = new Harness(64, true);
    const { ini, t } = await setup(h);
    h.respond = (r) => {
      const out = newFrame(60);
      encodeHeader({ ...replyHeader(r.h, TARGET_MAC, 1, 0), flags: Flag.Response | Flag.Error, error: 6, version: AOE_VERSION }, out);
      encodeAta(decodeAta(r.frame), out);
      return [{ frame: out }];
    };
    await expect(ini.read(t, 0, 2, new Uint8Array(1024))).rejects.toThrow("e1.0: AoE error 6: target is reserved by another initiator");
    ini.close();
  });

  test("an ATA error (IDNF past the end) fails the request", async () => {
    const h = new Harness(64, true);
    const { ini, t } = await setup(h);
    h.respond = (r) => {
      const out = newFrame(60);
      encodeHeader(replyHeader(r.h, TARGET_MAC, 1, 0), out);
      encodeAta({ ...decodeAta(r.frame), cmdStatus: AtaStatus.Drdy | AtaStatus.Err, errFeature: 0x10 }, out);
      return [{ frame: out }];
    };
    await expect(ini.read(t, 100, 2, new Uint8Array(1024))).rejects.toThrow(/read of 2 sectors at LBA 100 failed: ATA status 0x41 error 0x10 \(address out of range \(IDNF\)\)/);
    ini.close();
  });

  test("a silent target: the request fails at the deadline, not before", async () => {
    const h = new Harness(64, true);
    const { ini, t } = await setup(h, 300);
    h.respond = () => [];
    const t0 = performance.now();
    const err = await ini.read(t, 0, 2, new Uint8Array(1024)).catch((e) => e);
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(InitiatorError);
    expect((err as InitiatorError).code).toBe("deadline");
    expect(ms).toBeGreaterThanOrEqual(295);
    expect(ms).toBeLessThan(1000);
    expect(t.inflight.size).toBe(0);
    ini.close();
  });

  test("replies from another MAC or for another shelf.slot are ignored", async () => {
    const h = new Harness(64, true);
    const { ini, t } = await setup(h, 500);
    h.respond = (r) => {
      const good = h.answer(r);
      const spoofed = good.slice();
      spoofed[11] ^= 1; // source MAC
      const wrongSlot = good.slice();
      wrongSlot[18] = 9;
      return [{ frame: spoofed }, { frame: wrongSlot }, { frame: good, delayMs: 2 }];
    };
    const buf = new Uint8Array(1024);
    await ini.read(t, 4, 2, buf);
    expect(buf as Uint8Array).toEqual(h.disk.subarray(4 * 512, 6 * 512));
    expect(ini.unmatchedReplies).toBeGreaterThanOrEqual(2);
    ini.close();
  });

  test("lostjumbo: a stall of a few timer periods keeps jumbo frames", async () => {
    const h = new Harness(4096, true, 9000);
    const { ini, t } = await setup(h);
    expect(t.maxSectors()).toBe(17);
    const stallUntil = performance.now() + 300;
    h.respond = (r) => (performance.now() < stallUntil ? [] : [{ frame: h.answer(r) }]);
    const buf = new Uint8Array(4096 * SECTOR_SIZE);
    await ini.read(t, 0, 4096, buf);
    expect(buf as Uint8Array).toEqual(h.disk as Uint8Array);
    expect(t.jumbo).toBe(true);
    ini.close();
  });

  test("lostjumbo: jumbo frames never answered, small ones are: fall back to 1024-byte frames and say so", async () => {
    const h = new Harness(4096, true, 9000);
    const notices: string[] = [];
    h.respond = (r) => [{ frame: h.answer(r) }];
    const ini = new Initiator(h, [h.link], { rtt: { minTimeoutMs: 5 }, log: (m) => notices.push(m) });
    const [t] = await discover(ini, { timeoutMs: 200, shelf: 1, slot: 0 });
    await ini.identify(t!);
    h.respond = (r) => (r.frame.length > 1514 || (r.h.command === Command.ATA && decodeAta(r.frame).sectorCount > 2) ? [] : [{ frame: h.answer(r) }]);
    const buf = new Uint8Array(512 * SECTOR_SIZE);
    const t0 = performance.now();
    await ini.read(t!, 0, 512, buf);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(buf as Uint8Array).toEqual(h.disk.subarray(0, buf.length) as Uint8Array);
    expect(t!.jumbo).toBe(false);
    expect(t!.maxSectors()).toBe(2);
    expect(notices.some((n) => n.includes("falling back to 1024-byte frames (lostjumbo)"))).toBe(true);
    ini.close();
  });
});

/** Replies reach "the kernel" (a queue) but the loop is never told: only drainNow() delivers them. */
class UnreportedHarness extends Harness {
  readonly held: Uint8Array[] = [];
  drains = 0;
  drainNow(): void {
    this.drains++;
    for (const f of this.held.splice(0)) this.onFrame!(f, this.link);
    this.onBatchEnd!();
  }
}

describe("when the loop lags", () => {
  test("replies the poller has not reported are read before frames are judged lost: nothing is resent", async () => {
    const h = new UnreportedHarness(64, true);
    h.respond = (r) => [{ frame: h.answer(r) }]; // discovery and IDENTIFY as usual
    const ini = new Initiator(h, [h.link], { rtt: { minTimeoutMs: 5 }, deadlineMs: 5000 });
    const [t] = await discover(ini, { timeoutMs: 200, shelf: 1, slot: 0 });
    await ini.identify(t!);
    h.respond = (r) => (h.held.push(h.answer(r)), []); // now the replies wait "in the socket"
    const before = h.sent.length;
    const buf = new Uint8Array(16 * SECTOR_SIZE);
    await ini.read(t!, 0, 16, buf);
    expect(buf as Uint8Array).toEqual(h.disk.subarray(0, 16 * SECTOR_SIZE));
    expect(h.sent.length - before).toBe(8); // 8 frames of 2 sectors, none twice
    expect(h.drains).toBeGreaterThan(0);
    ini.close();
  });

  for (const one of [false, true]) {
    test(`a reply received within the window counts though the poller never reported it (${one ? "one target" : "broadcast"})`, async () => {
      const h = new UnreportedHarness(64, true);
      h.respond = (r) => (h.held.push(h.answer(r)), []);
      const ini = new Initiator(h, [h.link]);
      const found = await discover(ini, { timeoutMs: 50, ...(one ? { shelf: 1, slot: 0 } : {}) });
      expect(found.map((t) => t.name)).toEqual(["e1.0"]);
      expect(h.drains).toBe(1);
      ini.close();
    });
  }
});
