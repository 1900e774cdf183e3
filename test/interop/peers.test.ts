/**
 * Real peers agree with AoEde, and Wireshark's dissector watches them do it.
 *
 *  - vblade 25 (Debian's package) as the target of AoEde's initiator: discover,
 *    IDENTIFY, config (read, set, set again, test, prefix, force), 16 MiB read
 *    and write checked with sha256; at MTU 1500 and 9000.
 *  - AoEde's initiator against AoEde's serve: the same, plus Mac Mask edits and
 *    reservations.
 *
 * AoEde, initiator and serve alike, is the compiled single file (scripts/build.ts
 * --only host, built once into a private directory; AOEDE_BIN=/path/to/aoede
 * uses that binary). tshark captures inside the initiator's namespace; the
 * capture must then pass checkCapture() (test/interop/capture-rules.ts, where
 * the rules are written). A broken target — vblade behind
 * test/interop/broken-relay.ts, which rewrites one reply's tag, drops the write
 * replies or corrupts write data — must make the tag check or the sha256
 * comparison fail, and hand-made captures show every rule firing.
 *
 *   bun test test/interop/peers.test.ts
 *   AOEDE_BIN=dist/aoede bun test test/interop/peers.test.ts
 *   AOEDE_INTEROP_PEERS=0 bun test            # skip this file
 *
 * Needs root (namespaces, raw sockets), iproute2, tshark and vblade
 * (test/interop/install-deps.sh installs them); skips with one line without.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { aoede, waitForTarget, type CliResult } from "../helpers/aoede-cli.ts";
import { BROADCAST, checkCapture, describeProblems, startCapture, summary, type Capture, type CaptureReport } from "./capture-rules.ts";
import { makeRelayWorld, type RelayWorld } from "../helpers/impair-relay.ts";
import { makeVethWorld, netnsUnavailable, sweepStale, type VethWorld } from "../helpers/netns.ts";
import { spawnServe } from "../helpers/serve-proc.ts";
import { haveVblade, makeImage, sha256File, startVblade, type Image } from "../helpers/vblade.ts";

const root = resolve(import.meta.dir, "../..");
const RELAY = join(import.meta.dir, "broken-relay.ts");
const MIB = 1 << 20;
const SIZE = 16 * MIB;
const NAME = "e7.3";

const hasTshark = Bun.which("tshark") !== null;

function missing(): string | undefined {
  if (process.env.AOEDE_INTEROP_PEERS === "0") return "AOEDE_INTEROP_PEERS=0";
  if (!hasTshark) return "no tshark (test/interop/install-deps.sh installs it)";
  const ns = netnsUnavailable();
  if (ns) return ns;
  if (!haveVblade()) return "no vblade (test/interop/install-deps.sh installs it)";
  return undefined;
}
const why = missing();
if (why) console.log(`SKIP peers interop (vblade, aoede serve, tshark): ${why}`);

// ---- the compiled binary, built once per process ---------------------------------------------

let built: Promise<string> | undefined;
let buildDir: string | undefined;
const BUILD_PREFIX = "aoede-peers-bin-";

/**
 * AOEDE_BIN, or `bun scripts/build.ts --only host` into a private directory
 * (107 MiB; removed after the file's tests, and by the next run when a killed
 * run left it: its name carries the pid).
 */
function aoedeBin(): Promise<string> {
  built ??= (async () => {
    if (process.env.AOEDE_BIN) {
      const bin = resolve(root, process.env.AOEDE_BIN);
      if (!existsSync(bin)) throw new Error(`AOEDE_BIN=${process.env.AOEDE_BIN}: no such file`);
      return bin;
    }
    for (const name of readdirSync(tmpdir())) {
      const pid = new RegExp(`^${BUILD_PREFIX}(\\d+)-`).exec(name)?.[1];
      if (pid && !existsSync(`/proc/${pid}`)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
    const dir = (buildDir = mkdtempSync(join(tmpdir(), `${BUILD_PREFIX}${process.pid}-`)));
    const t0 = performance.now();
    const b = Bun.spawn([process.execPath, "scripts/build.ts", "--only", "host", "--outdir", dir], { cwd: root, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(b.stdout).text(), new Response(b.stderr).text(), b.exited]);
    if (code !== 0) throw new Error(`bun scripts/build.ts --only host failed:\n${out}${err}`);
    console.log(`peers: built ${join(dir, "aoede")} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return join(dir, "aoede");
  })();
  return built;
}

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

// ---- one peer pair, one MTU ------------------------------------------------------------------

interface RunningTarget {
  stop(): Promise<void>;
  /** what it printed, for failure messages */
  log(): string;
}

interface TargetKind {
  label: string;
  /** two or three lowercase letters; the MTU adds one */
  tag: string;
  start(ns: string, netif: string, file: string, bin: string): Promise<RunningTarget>;
  model: string;
  /** Mac Mask edits and reservations too */
  manage: boolean;
  /** announces itself with a version-0 frame (vblade 25): see checkCapture's D3 */
  version0Announcements: boolean;
}

const vbladeKind: TargetKind = {
  label: "vblade 25",
  tag: "pv",
  async start(ns, netif, file) {
    const v = await startVblade(ns, netif, 7, 3, file, { bufcnt: 64 });
    return { stop: () => v.stop(), log: () => v.banner };
  },
  model: "Coraid EtherDrive vblade",
  manage: false,
  version0Announcements: true,
};

const serveKind: TargetKind = {
  label: "aoede serve",
  tag: "ps",
  async start(ns, netif, file, bin) {
    const s = spawnServe(["ip", "netns", "exec", ns], ["-b", "64", "7", "3", netif, file], bin);
    return {
      async stop() {
        await s.stop();
      },
      log: () => s.output(),
    };
  },
  model: "AoEde",
  manage: true,
  version0Announcements: false,
};

function ok(r: CliResult, what: string): CliResult {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}\n${r.err}`);
  return r;
}

function peerSuite(kind: TargetKind, mtu: number): void {
  describe(`${kind.label} at MTU ${mtu}, tshark capturing`, () => {
    let bin: string;
    let w: VethWorld;
    let img: Image;
    let dir: string;
    let cap: Capture | undefined;
    let target: RunningTarget | undefined;
    let t0 = 0;
    /** keep the capture for a look when its check failed */
    let keep = false;
    const cli = (args: string[], opts: { stdinFile?: string } = {}) => aoede(w.nsB, args, { ...opts, bin, killAfterMs: 40_000 });

    beforeAll(async () => {
      t0 = performance.now();
      bin = await aoedeBin();
      sweepStale(`${kind.tag}${mtu === 1500 ? "s" : "j"}`);
      w = makeVethWorld(`${kind.tag}${mtu === 1500 ? "s" : "j"}`, mtu);
      dir = mkdtempSync(join(tmpdir(), "aoede-peers-"));
      img = makeImage(SIZE);
      cap = await startCapture(w.nsB, w.ifB, join(dir, "initiator.pcap"));
      target = await kind.start(w.nsA, w.ifA, img.path, bin);
      await waitForTarget(w.nsB, NAME, 10_000, { bin });
    }, 60_000);

    afterAll(async () => {
      cap?.kill();
      await target?.stop();
      img?.dispose();
      w?.dispose();
      if (dir && !keep) rmSync(dir, { recursive: true, force: true });
    });

    test("discover: one path, buffer count, sectors per frame", async () => {
      const r = ok(await cli(["discover", "--json", "-i", w.ifB, "--timeout", "500"]), "discover");
      const [t] = JSON.parse(r.out);
      expect(t.target).toBe(NAME);
      expect(t.bufferCount).toBe(64);
      expect(t.sectorsPerFrame).toBe(mtu === 1500 ? 2 : 17);
      expect(t.paths).toEqual([{ interface: w.ifB, localMac: w.macB, targetMac: w.macA }]);
    }, 30_000);

    test("ident: model, sectors, LBA48; raw 512 bytes", async () => {
      const r = ok(await cli(["ident", NAME]), "ident");
      expect(r.out).toContain(`model: ${kind.model}\n`);
      expect(r.out).toContain(`sectors: ${SIZE / 512}\n`);
      expect(r.out).toContain("lba48: yes\n");
      expect(ok(await cli(["ident", NAME, "--raw"]), "ident --raw").stdout.length).toBe(512);
    }, 30_000);

    test("config: read, set, set again (error 4), test, test mismatch (silence), prefix, force", async () => {
      const run = (...a: string[]) => cli(["config", NAME, ...a]);
      expect(ok(await run(), "config").out).toBe("\n");
      expect(ok(await run("--set", "rack 4 slot 2"), "config --set").out).toBe("rack 4 slot 2\n");
      const again = await run("--set", "other");
      expect(again.code).toBe(1);
      expect(again.err).toContain('config string is already "rack 4 slot 2"');
      expect((await run("--test", "rack 4 slot 2")).code).toBe(0);
      const miss = await run("--test", "rack 4", "--timeout", "300");
      expect(miss.code).toBe(1);
      expect(miss.err).toContain("does not equal");
      expect((await run("--prefix", "rack 4")).code).toBe(0);
      expect(ok(await run("--force", "moved"), "config --force").out).toBe("moved\n");
    }, 30_000);

    if (kind.manage) {
      test("mask: add ourselves and another, read, delete both", async () => {
        expect(ok(await cli(["mask", NAME]), "mask").out).toBe("");
        const other = "02:00:00:00:00:42";
        const add = ok(await cli(["mask", NAME, "--add", w.macB, "--add", other]), "mask --add");
        expect(add.out.split("\n").filter(Boolean).sort()).toEqual([w.macB, other].sort());
        expect(ok(await cli(["read", NAME, "-n", "4096"]), "read with a mask").stdout.length).toBe(4096);
        expect(ok(await cli(["mask", NAME, "--del", other, "--del", w.macB]), "mask --del").out).toBe("");
      }, 30_000);

      test("reserve: set, read, taken by another (reads refused), force-cleared, released", async () => {
        expect(ok(await cli(["reserve", NAME, "--set", "self"]), "reserve --set").out).toBe(`${w.macB}\n`);
        expect(ok(await cli(["reserve", NAME]), "reserve").out).toBe(`${w.macB}\n`);
        expect(ok(await cli(["reserve", NAME, "--force", "02:00:00:00:00:99"]), "reserve --force").out).toBe("02:00:00:00:00:99\n");
        const denied = await cli(["read", NAME, "-n", "4096", "--deadline", "2"]);
        expect(denied.code).toBe(1);
        expect(denied.err).toContain("target is reserved");
        ok(await cli(["reserve", NAME, "--force", ""]), "reserve --force ''");
        ok(await cli(["reserve", NAME, "--set", "self"]), "reserve --set");
        ok(await cli(["reserve", NAME, "--release"]), "reserve --release");
        expect(ok(await cli(["reserve", NAME]), "reserve").out).toBe("");
      }, 30_000);
    }

    test(`read ${SIZE / MIB} MiB: sha256 matches the target's file`, async () => {
      const out = join(dir, "read.out");
      const r = ok(await cli(["read", NAME, out]), "read");
      expect(r.err).toBe("");
      expect(sha256File(out)).toBe(img.sha256);
      rmSync(out);
      console.log(`peers: ${kind.label} MTU ${mtu}: read ${SIZE / MIB} MiB in ${r.ms.toFixed(0)} ms (process start included)`);
    }, 40_000);

    test(`write ${SIZE / MIB} MiB: the target's file has its sha256`, async () => {
      const src = makeImage(SIZE, "src.img");
      try {
        const r = ok(await cli(["write", NAME, src.path]), "write");
        expect(r.err).toBe("");
        expect(sha256File(img.path)).toBe(src.sha256);
        console.log(`peers: ${kind.label} MTU ${mtu}: write ${SIZE / MIB} MiB in ${r.ms.toFixed(0)} ms (process start included)`);
      } finally {
        src.dispose();
      }
    }, 40_000);

    test("the capture: every frame dissects as AoE, nothing malformed, requests and replies match by tag", async () => {
      const c = cap!;
      cap = undefined;
      const end = await c.stop();
      keep = true;
      if (end.dropped > 0) throw new Error(`the capture ${c.file} is incomplete: tshark says ${end.dropped} frames dropped\n${end.said}`);
      const rep = checkCapture(c.file, { initiator: w.macB, version0Announcements: kind.version0Announcements });
      if (Object.keys(rep.problems).length) {
        throw new Error(
          `the capture ${c.file} breaks the rules (${summary(rep)}):\n${describeProblems(rep)}\n` +
            `tshark said:\n${end.said.trim()}\ntarget said:\n${target?.log()}`,
        );
      }
      keep = false;
      expect(rep.frames).toBe(end.captured);
      expect(rep.requests).toBeGreaterThan((2 * SIZE) / (mtu === 1500 ? 1024 : 8704));
      expect(rep.silentTests).toBeGreaterThan(0); // the config --test mismatch
      expect(rep.announcements).toBe(1); // the target's start-up announcement
      console.log(`peers: ${kind.label} MTU ${mtu}: ${summary(rep)}; world ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }, 40_000);
  });
}

// ---- a broken target: vblade behind a relay that breaks one thing ----------------------------

interface Relay {
  stop(): Promise<Record<string, number>>;
  kill(): void;
}

async function startRelay(w: RelayWorld, mode: string): Promise<Relay> {
  const p = Bun.spawn(["ip", "netns", "exec", w.nsM, process.execPath, RELAY, w.ifMA, w.ifMB, mode], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const reader = p.stdout.getReader();
  let out = "";
  const d = new TextDecoder();
  const deadline = Date.now() + 10_000;
  while (!out.includes("ready\n")) {
    const r = await Promise.race([reader.read(), Bun.sleep(Math.max(1, deadline - Date.now())).then(() => undefined)]);
    if (!r || r.done) {
      p.kill("SIGKILL");
      throw new Error(`broken-relay.ts ${mode} did not start: ${out}${await new Response(p.stderr).text()}`);
    }
    out += d.decode(r.value);
  }
  const kill = () => {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  };
  return {
    kill,
    async stop() {
      p.kill("SIGTERM");
      const t = setTimeout(kill, 5000);
      let rest = "";
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        rest += d.decode(r.value);
      }
      await p.exited;
      clearTimeout(t);
      return JSON.parse(rest.trim().split("\n").pop() || "{}");
    },
  };
}

/** A pcap file from hand-made frames (Ethernet link type). */
function writePcap(file: string, frames: Uint8Array[]): void {
  const head = new DataView(new ArrayBuffer(24));
  head.setUint32(0, 0xa1b2c3d4, true);
  head.setUint16(4, 2, true);
  head.setUint16(6, 4, true);
  head.setUint32(16, 65535, true);
  head.setUint32(20, 1, true);
  const parts: Uint8Array[] = [new Uint8Array(head.buffer)];
  for (const f of frames) {
    const h = new DataView(new ArrayBuffer(16));
    h.setUint32(8, f.length, true);
    h.setUint32(12, f.length, true);
    parts.push(new Uint8Array(h.buffer), f);
  }
  writeFileSync(file, Buffer.concat(parts));
}

const macBytes = (m: string) => m.split(":").map((x) => parseInt(x, 16));

/** An AoE frame: Ethernet header, AoE header, then `body` (ATA or config header and data). */
function aoeFrame(o: {
  dst: string;
  src: string;
  reply?: boolean;
  tag: number;
  cmd: number;
  major?: number;
  minor?: number;
  body: number[];
  type?: number;
  /** the version nibble (1) */
  version?: number;
}): Uint8Array {
  const f = new Uint8Array(Math.max(60, 24 + o.body.length));
  f.set(macBytes(o.dst), 0);
  f.set(macBytes(o.src), 6);
  const v = new DataView(f.buffer);
  v.setUint16(12, o.type ?? 0x88a2);
  f[14] = ((o.version ?? 1) << 4) | (o.reply ? 0x08 : 0);
  v.setUint16(16, o.major ?? 7);
  f[18] = o.minor ?? 3;
  f[19] = o.cmd;
  v.setUint32(20, o.tag);
  f.set(o.body, 24);
  return f;
}

describe.skipIf(!hasTshark || process.env.AOEDE_INTEROP_PEERS === "0")("the capture rules on a hand-made capture", () => {
  const I = "02:00:00:00:00:01";
  const T = "02:00:00:00:00:02";
  const ataRead = (lba: number) => [0x40, 0, 2, 0x24, lba & 0xff, 0, 0, 0, 0, 0, 0, 0];
  const ataReply = (lba: number) => [0x40, 0, 0, 0x40, lba & 0xff, 0, 0, 0, 0, 0, 0, 0, ...new Array(1024).fill(0)];
  const qc = (ccmd: number, s = "") => [0, 0, 0, 0, 0, 0x10 | ccmd, 0, s.length, ...new TextEncoder().encode(s)];

  test("a clean capture passes: resend under a new tag, overtaken resend, silent config test, unanswered broadcast, announcement", () => {
    const dir = mkdtempSync(join(tmpdir(), "aoede-peers-rules-"));
    try {
      const file = join(dir, "good.pcap");
      writePcap(file, [
        aoeFrame({ dst: BROADCAST, src: T, reply: true, tag: 0, cmd: 1, body: qc(0) }), // announcement
        aoeFrame({ dst: BROADCAST, src: I, tag: 0x80000001, cmd: 1, major: 0xffff, minor: 0xff, body: qc(0) }), // unanswered broadcast
        aoeFrame({ dst: BROADCAST, src: I, tag: 0x80000002, cmd: 1, major: 0xffff, minor: 0xff, body: qc(0) }),
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000002, cmd: 1, body: qc(0) }),
        aoeFrame({ dst: T, src: I, tag: 0x80000003, cmd: 0, body: ataRead(8) }), // lost
        aoeFrame({ dst: T, src: I, tag: 0x80000004, cmd: 0, body: ataRead(8) }), // its resend
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000004, cmd: 0, body: ataReply(8) }),
        aoeFrame({ dst: T, src: I, tag: 0x80000005, cmd: 1, body: qc(1, "nope") }), // config test: silence
        aoeFrame({ dst: T, src: I, tag: 0x80000006, cmd: 1, body: qc(1, "nope") }),
        aoeFrame({ dst: T, src: I, tag: 0x80000007, cmd: 0, body: ataRead(9) }), // its reply is late:
        aoeFrame({ dst: T, src: I, tag: 0x80000008, cmd: 0, body: ataRead(9) }), // resent, never answered,
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000007, cmd: 0, body: ataReply(9) }), // overtaken
        aoeFrame({ dst: BROADCAST, src: T, reply: true, tag: 0, cmd: 1, body: qc(0), version: 0 }), // vblade's announcement
      ]);
      const rep = checkCapture(file, { initiator: I, version0Announcements: true });
      expect(describeProblems(rep)).toBe("");
      expect(rep).toMatchObject({ frames: 13, requests: 8, replies: 4, broadcasts: 2, resent: 1, overtaken: 1, silentTests: 2, announcements: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("every rule fires on the frame that breaks it", () => {
    const dir = mkdtempSync(join(tmpdir(), "aoede-peers-rules-"));
    try {
      const file = join(dir, "bad.pcap");
      // a broadcast, so that only the dissection rule applies to it
      const truncated = aoeFrame({ dst: BROADCAST, src: I, tag: 0x80000010, cmd: 0, body: ataRead(1) }).subarray(0, 28);
      writePcap(file, [
        aoeFrame({ dst: T, src: I, tag: 0x80000001, cmd: 0, body: ataRead(1), type: 0x88a3 }), // not AoE
        truncated, // malformed
        aoeFrame({ dst: T, src: I, tag: 0x00000002, cmd: 0, body: ataRead(2) }), // bit 31 clear
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x00000002, cmd: 0, body: ataReply(2) }),
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000099, cmd: 0, body: ataReply(3) }), // never asked
        aoeFrame({ dst: T, src: I, tag: 0x80000004, cmd: 0, body: ataRead(4) }), // never answered, never resent
        aoeFrame({ dst: T, src: I, tag: 0x80000005, cmd: 0, body: ataRead(5) }), // answered twice, once with the wrong command
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000005, cmd: 0, body: ataReply(5) }),
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000005, cmd: 1, body: qc(0) }),
        aoeFrame({ dst: T, src: I, tag: 0x80000006, cmd: 0, body: ataRead(6) }), // "resent" with another LBA: not a resend
        aoeFrame({ dst: T, src: I, tag: 0x80000007, cmd: 0, body: ataRead(7) }),
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000007, cmd: 0, body: ataReply(7) }),
        aoeFrame({ dst: T, src: I, tag: 0x80000008, cmd: 0, body: ataRead(7) }), // a repeat of an answered frame, unanswered
        aoeFrame({ dst: BROADCAST, src: T, reply: true, tag: 0, cmd: 1, body: qc(0), version: 0 }), // version 0 (not allowed here)
        aoeFrame({ dst: I, src: T, tag: 0x80000030, cmd: 1, body: qc(0) }), // a request from the target
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000030, cmd: 1, body: qc(0) }),
        aoeFrame({ dst: T, src: I, tag: 0x80000020, cmd: 0, body: ataRead(20) }), // unanswered, and its tag used again
        aoeFrame({ dst: T, src: I, tag: 0x80000020, cmd: 0, body: ataRead(21) }),
        aoeFrame({ dst: I, src: T, reply: true, tag: 0x80000020, cmd: 0, body: ataReply(21) }),
      ]);
      const rep = checkCapture(file, { initiator: I });
      const p = rep.problems;
      expect(p["D1 every frame dissects as AoE"]).toEqual(["frame 1: eth:ethertype:data"]);
      expect(p["D2 no malformed frame"]?.[0]).toStartWith("frame 2 request tag 0x80000010 ATA");
      expect(p["T1 request tags have bit 31 set"]).toEqual(["frame 3 request tag 0x00000002 ATA e7.3 ata 0x24 lba 2"]);
      expect(p["T2 every reply's tag was sent in a request before"]?.[0]).toStartWith("frame 5 reply tag 0x80000099");
      expect(p["T2 replies match their request"]?.[0]).toStartWith("frame 9 reply tag 0x80000005 Query Config");
      expect(p["T3 one reply per unicast request"]?.[0]).toStartWith("frame 9 reply");
      expect(p["T4 every unicast request is answered or resent"]).toEqual([
        "frame 6 request tag 0x80000004 ATA e7.3 ata 0x24 lba 4 got no reply and was not resent",
        "frame 10 request tag 0x80000006 ATA e7.3 ata 0x24 lba 6 got no reply and was not resent",
        "frame 13 request tag 0x80000008 ATA e7.3 ata 0x24 lba 7 got no reply and was not resent",
        "frame 17 request tag 0x80000020 ATA e7.3 ata 0x24 lba 20 got no reply and was not resent",
      ]);
      expect(p["D3 AoE version 1"]).toEqual([`frame 14: version 0 from ${T}`]);
      expect(p["T1 requests come from the initiator"]).toEqual([`frame 15 request tag 0x80000030 Query Config e7.3 from ${T}`]);
      expect(p["T3 no tag reused while unanswered"]).toEqual(["frame 18 request tag 0x80000020 ATA e7.3 ata 0x24 lba 21: also frame 17"]);
      expect(p["D2 no expert error"]?.[0]).toStartWith("frame 2 request"); // Wireshark marks malformed frames as errors too
      expect(Object.keys(p).length).toBe(11);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe.skipIf(!!why)("real peers, tshark capturing", () => {
  for (const kind of [vbladeKind, serveKind]) for (const mtu of [1500, 9000]) peerSuite(kind, mtu);

  describe("a broken target (vblade behind broken-relay.ts) fails the checks", () => {
    let bin: string;
    let w: RelayWorld;
    let img: Image;
    let dir: string;
    let vb: Awaited<ReturnType<typeof startVblade>> | undefined;
    let relay: Relay | undefined;
    let cap: Capture | undefined;
    const cli = (args: string[]) => aoede(w.nsB, args, { bin, killAfterMs: 30_000 });

    beforeAll(async () => {
      bin = await aoedeBin();
      w = makeRelayWorld("pbk", 1500);
      dir = mkdtempSync(join(tmpdir(), "aoede-peers-"));
      img = makeImage(4 * MIB);
      vb = await startVblade(w.nsA, w.ifA, 7, 3, img.path, { bufcnt: 64 });
    }, 30_000);

    afterAll(async () => {
      cap?.kill();
      relay?.kill();
      await vb?.stop();
      img?.dispose();
      w?.dispose();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** relay in `mode`, capture on the initiator's side, `run`, then the capture's report and the relay's counters */
    async function broken(mode: string, run: () => Promise<void>): Promise<{ rep: CaptureReport; counters: Record<string, number> }> {
      // whatever a failed test before this one left running
      cap?.kill();
      relay?.kill();
      relay = await startRelay(w, mode);
      const file = join(dir, `${mode.replace(":", "-")}.pcap`);
      cap = await startCapture(w.nsB, w.ifB, file);
      await waitForTarget(w.nsB, NAME, 10_000, { bin });
      await run();
      const end = await cap.stop();
      cap = undefined;
      const counters = await relay.stop();
      relay = undefined;
      expect(end.dropped).toBe(0);
      const rep = checkCapture(file, { initiator: macOf(w.nsB, w.ifB), version0Announcements: true });
      rmSync(file);
      return { rep, counters };
    }

    test("one reply's tag rewritten: the read succeeds (resent), the tag check names the reply", async () => {
      const out = join(dir, "read.out");
      const { rep, counters } = await broken("retag-reply:100", async () => {
        ok(await cli(["read", NAME, out]), "read");
        expect(sha256File(out)).toBe(img.sha256);
      });
      expect(counters.retagged).toBe(1);
      expect(Object.keys(rep.problems)).toEqual(["T2 every reply's tag was sent in a request before"]);
      expect(rep.problems["T2 every reply's tag was sent in a request before"]).toHaveLength(1);
      // the request whose reply was retagged: resent, or (under load) itself a resend whose original was answered
      expect(rep.resent + rep.overtaken).toBeGreaterThanOrEqual(1);
      console.log(`peers: broken target (retag-reply:100): ${describeProblems(rep)}`);
    }, 40_000);

    test("every write reply dropped: the write fails at its deadline, the tag check names the unanswered requests", async () => {
      const src = makeImage(1 * MIB, "src.img");
      try {
        const { rep, counters } = await broken("drop-write-replies", async () => {
          const r = await cli(["write", NAME, src.path, "--deadline", "3"]);
          expect(r.code).toBe(1);
          expect(r.err).toContain("no reply");
        });
        expect(counters.dropped).toBeGreaterThan(0);
        expect(Object.keys(rep.problems)).toEqual(["T4 every unicast request is answered or resent"]);
        console.log(
          `peers: broken target (drop-write-replies): the relay dropped ${counters.dropped} write replies; ` +
            `${rep.problems["T4 every unicast request is answered or resent"]!.length} requests unanswered and not resent, ${rep.resent} resent`,
        );
      } finally {
        src.dispose();
      }
    }, 40_000);

    test("write data corrupted on the way: tags all match, the sha256 comparison fails", async () => {
      const src = makeImage(4 * MIB, "src.img");
      try {
        const { rep, counters } = await broken("corrupt-write:1000", async () => {
          ok(await cli(["write", NAME, src.path]), "write");
        });
        expect(counters.corrupted).toBeGreaterThan(0);
        expect(describeProblems(rep)).toBe("");
        expect(sha256File(img.path)).not.toBe(src.sha256);
      } finally {
        src.dispose();
      }
    }, 40_000);
  });
});

function macOf(ns: string, ifname: string): string {
  const r = Bun.spawnSync(["ip", "-n", ns, "-o", "link", "show", ifname], { stdout: "pipe" });
  const m = /link\/ether ([0-9a-f:]{17})/.exec(r.stdout.toString());
  if (!m) throw new Error(`no MAC for ${ifname} in ${ns}`);
  return m[1]!;
}
