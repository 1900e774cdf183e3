/**
 * The bench's ceiling, bench/native/nulltarget.c, answers like a target on real
 * frames: its announcement, Query Config (read, exact and prefix tests, set if
 * empty, force set), IDENTIFY (the size given), reads of zeroes or of the load
 * generator's pattern, writes acknowledged, every error the AoE r11 way (past the
 * end: ERR/IDNF; an unknown ATA command: ERR/ABRT; too many sectors: AoE error 2;
 * an unknown AoE command: AoE error 1), broadcast ATA requests ignored, short
 * replies padded to 60 bytes with zeroes.
 * Skipped when the process cannot create namespaces (not root) or has no C compiler.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { nativeTool } from "../../bench/native.ts";
import { AoEError, AtaCmd, AtaErrorBit, AtaStatus, BROADCAST_MAC, Command, Flag, parseIdentify } from "../../src/aoe/index.ts";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { RawClient } from "../helpers/raw-client.ts";
import { ataFrame, configFrame, mac, rawFrame, readFrame, writeFrame, type Addr } from "../helpers/requests.ts";

setDefaultTimeout(30_000);

const haveCc = Bun.which("cc") !== null || Bun.which("gcc") !== null;
const enc = (s: string) => new TextEncoder().encode(s);

describe.skipIf(!canUseNetns() || !haveCc)("native null target over veth", () => {
  let w: VethWorld;
  let client: RawClient;
  let proc: ReturnType<typeof Bun.spawn>;
  let at: Addr;
  const SECTORS = (8 << 20) / 512;

  beforeAll(async () => {
    w = makeVethWorld("nnt");
    client = new RawClient(w.ifB, w.nsB);
    proc = Bun.spawn(["ip", "netns", "exec", w.nsA, nativeTool("nulltarget"), "-b", "32", "--size", "8M", "7", "1", w.ifA], { stdout: "pipe", stderr: "pipe" });
    await client.waitFor((r) => r.find((x) => x.h.command === Command.QueryConfig && x.h.major === 7), 5000, "the announcement");
    at = client.to(mac(w.macA), 7, 1);
  });

  afterAll(async () => {
    proc?.kill("SIGTERM");
    const out = proc ? await new Response(proc.stdout as ReadableStream).text() : "";
    expect(out).toMatch(/null target: \d+ reads, \d+ writes, \d+ other, \d+ errors/);
    client?.close();
    w?.dispose();
  });

  test("announces itself: a broadcast Query Config reply with its buffer count and sectors per frame", () => {
    const a = client.received.find((r) => r.h.command === Command.QueryConfig && r.h.major === 7)!;
    expect(a.h.dst).toEqual(new Uint8Array(BROADCAST_MAC));
    expect(a.h.minor).toBe(1);
    expect(a.h.flags).toBe(Flag.Response);
    expect(a.config().bufferCount).toBe(32);
    expect(a.config().sectorCount).toBe(2); // (1500 - 36) / 512
    expect(a.length).toBe(60);
  });

  test("Query Config: broadcast read answered with its own address; set if empty, then error 4; exact and prefix tests", async () => {
    const b = await client.ask(configFrame(client.to(new Uint8Array(BROADCAST_MAC), 0xffff, 0xff), 0x10, 0), 0x10);
    expect([b.h.major, b.h.minor]).toEqual([7, 1]);
    const set = await client.ask(configFrame(at, 0x11, 3, enc("rack 1")), 0x11);
    expect(set.h.flags & Flag.Error).toBe(0);
    expect(new TextDecoder().decode(set.config().config)).toBe("rack 1");
    const again = await client.ask(configFrame(at, 0x12, 3, enc("rack 2")), 0x12);
    expect(again.h.flags & Flag.Error).toBe(Flag.Error);
    expect(again.h.error).toBe(AoEError.ConfigStringPresent);
    expect(new TextDecoder().decode(again.config().config)).toBe("rack 1");
    expect((await client.ask(configFrame(at, 0x13, 1, enc("rack 1")), 0x13)).h.flags & Flag.Error).toBe(0);
    await client.expectSilence(configFrame(at, 0x14, 1, enc("rack")), 0x14);
    expect((await client.ask(configFrame(at, 0x15, 2, enc("rack")), 0x15)).h.flags & Flag.Error).toBe(0);
    const forced = await client.ask(configFrame(at, 0x16, 4, new Uint8Array(0)), 0x16);
    expect(forced.config().config.length).toBe(0);
    expect((await client.ask(configFrame(at, 0x17, 9), 0x17)).h.error).toBe(AoEError.BadArgument);
  });

  test("IDENTIFY tells the size given, with LBA48", async () => {
    const r = await client.ask(ataFrame(at, 0x20, { cmd: AtaCmd.Identify, count: 1 }), 0x20);
    expect(r.ata().cmdStatus).toBe(AtaStatus.Drdy);
    const id = parseIdentify(r.ata().data.subarray(0, 512));
    expect(id.sectors).toBe(SECTORS);
    expect(id.lba48).toBe(true);
    expect(id.model).toBe("AoEde native null target");
  });

  test("reads are zeroes, even after an IDENTIFY left its data in the same reply buffer; writes are acknowledged", async () => {
    for (let i = 0; i < 3; i++) {
      await client.ask(ataFrame(at, 0x30 + i, { cmd: AtaCmd.Identify, count: 1 }), 0x30 + i);
      const r = await client.ask(readFrame(at, 0x40 + i, 100, 2), 0x40 + i);
      expect(r.ata().cmdStatus).toBe(AtaStatus.Drdy);
      expect(r.length).toBe(36 + 1024);
      expect(r.ata().data.subarray(0, 1024).every((b) => b === 0)).toBe(true);
    }
    const wr = await client.ask(writeFrame(at, 0x50, 10, new Uint8Array(1024).fill(0xab)), 0x50);
    expect(wr.ata().cmdStatus).toBe(AtaStatus.Drdy);
    expect(wr.length).toBe(60);
    expect(wr.frame.subarray(36, 60).every((b) => b === 0)).toBe(true);
    const lba28 = await client.ask(readFrame(at, 0x51, 5, 1, false), 0x51);
    expect(lba28.ata().cmdStatus).toBe(AtaStatus.Drdy);
  });

  test("errors: past the end ERR/IDNF, unknown ATA command ERR/ABRT, too many sectors AoE error 2, unknown AoE command error 1", async () => {
    const end = await client.ask(readFrame(at, 0x60, SECTORS - 1, 2), 0x60);
    expect(end.ata().cmdStatus).toBe(AtaStatus.Drdy | AtaStatus.Err);
    expect(end.ata().errFeature).toBe(AtaErrorBit.Idnf);
    const abrt = await client.ask(ataFrame(at, 0x61, { cmd: 0x42 }), 0x61);
    expect(abrt.ata().cmdStatus & AtaStatus.Err).toBe(AtaStatus.Err);
    expect(abrt.ata().errFeature).toBe(AtaErrorBit.Abrt);
    const big = await client.ask(readFrame(at, 0x62, 0, 3), 0x62);
    expect(big.h.flags & Flag.Error).toBe(Flag.Error);
    expect(big.h.error).toBe(AoEError.BadArgument);
    const unk = await client.ask(rawFrame(at, 0x63, Command.MacMask, { extra: 36 }), 0x63);
    expect(unk.h.error).toBe(AoEError.UnrecognizedCommand);
    expect(unk.length).toBe(60);
    // ATA to every slot: only Query Config answers broadcasts
    await client.expectSilence(readFrame(client.to(mac(w.macA), 7, 0xff), 0x64, 0, 1), 0x64);
    // another shelf.slot
    await client.expectSilence(readFrame(client.to(mac(w.macA), 7, 2), 0x65, 0, 1), 0x65);
  });
});
