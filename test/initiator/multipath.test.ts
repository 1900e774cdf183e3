/**
 * Multipath: two veth pairs to one target (vblade 25 on a bridge joining
 * both), the initiator in this process on the shared loop with both
 * interfaces. Both paths carry frames (devlink npkt); one link taken down in
 * the middle of a 64 MiB copy, and the copy still completes bit-exact.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { canUseNetns } from "../helpers/netns.ts";
import { makeBridgedWorld, type BridgedWorld } from "../helpers/multipath.ts";
import { sourceOf } from "../helpers/bytes.ts";
import { haveVblade, makeImage, sha256, startVblade, type Image, type RunningVblade } from "../helpers/vblade.ts";
import { openRawLink, type RawLink } from "../../ffi/rawlink.ts";
import { EventLoop } from "../../src/net/loop.ts";
import { Initiator } from "../../src/initiator/engine.ts";
import { discover } from "../../src/initiator/discover.ts";
import { readRange, writeRange } from "../../src/initiator/io.ts";
import { formatTargetStat } from "../../src/initiator/ctl.ts";
import type { Target } from "../../src/initiator/target.ts";
import { readFileSync } from "node:fs";

// Namespaces, a bridge and vblade: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const MIB = 1 << 20;

describe.skipIf(!(canUseNetns() && haveVblade()))("multipath against vblade on a bridge", () => {
  let bw: BridgedWorld;
  let img: Image;
  let vb: RunningVblade;
  let links: RawLink[];
  let loop: EventLoop;
  let ini: Initiator;
  let t: Target;
  const notices: string[] = [];

  beforeAll(async () => {
    bw = makeBridgedWorld("mp");
    img = makeImage(64 * MIB);
    vb = await startVblade(bw.world.nsA, bw.bridge, 2, 1, img.path, { bufcnt: 32 });
    links = bw.ifsB.map((i) => openRawLink(i, { netns: bw.world.nsB, bufferFrames: 1024 }));
    loop = new EventLoop();
    ini = new Initiator(loop, links, { deadlineMs: 20_000, log: (m) => notices.push(m) });
    const found = await discover(ini, { timeoutMs: 3000, shelf: 2, slot: 1, settleMs: 1000 });
    t = found[0]!;
    await ini.identify(t);
  });

  afterAll(async () => {
    ini?.close();
    loop?.close();
    for (const l of links ?? []) l.close();
    await Bun.sleep(50); // stale poller results about these descriptors first (see one-process.test.ts)
    await vb?.stop();
    img?.dispose();
    bw?.dispose();
  });

  test("discovery merges both interfaces into one target with two paths", () => {
    expect(t.name).toBe("e2.1");
    expect(t.paths.paths.map((p) => p.netlink.name).sort()).toEqual([...bw.ifsB].sort());
    for (const p of t.paths.paths) expect([...p.targetMac].map((b) => b.toString(16).padStart(2, "0")).join(":")).toBe(bw.bridgeMac);
  });

  test("both paths carry frames (devlink npkt)", async () => {
    const out = new Uint8Array(16 * MIB);
    let at = 0;
    await readRange(ini, t, { offset: 0, length: out.length, sink: (b) => void (out.set(b, at), (at += b.length)) });
    expect(sha256(out)).toBe(sha256(readFileSync(img.path).subarray(0, out.length)));
    const st = t.status();
    expect(st.devlinks.length).toBe(2);
    for (const d of st.devlinks) expect(d.npkt).toBeGreaterThan(4000);
  });

  test("a link goes down mid-read: the 64 MiB copy completes intact", async () => {
    const out = new Uint8Array(img.size);
    let at = 0;
    let cut = false;
    const t0 = performance.now();
    await readRange(ini, t, {
      offset: 0,
      length: out.length,
      sink: (b) => void (out.set(b, at), (at += b.length)),
      onProgress: (done) => {
        if (!cut && done > out.length / 4) {
          cut = true;
          bw.world.exec(bw.world.nsA, ["ip", "link", "set", bw.portsA[1], "down"]);
        }
      },
    });
    const ms = performance.now() - t0;
    expect(cut).toBe(true);
    expect(sha256(out)).toBe(img.sha256);
    const st = t.status();
    // Frames lost on the cut path were resent on the other (Plan 9 counts a resend where it goes).
    expect(st.devlinks.reduce((n, d) => n + d.resent, 0)).toBeGreaterThan(0);
    const down = st.devlinks.find((d) => d.nlPath === bw.ifsB[1])!;
    expect(down.flags).toEqual([]); // failing: no longer "up"
    expect(notices.some((n) => n.includes("is failing"))).toBe(true);
    console.log(`multipath: 64 MiB read with a link cut at 25 % in ${ms.toFixed(0)} ms\n${formatTargetStat(st)}`);
  }, 90_000);

  test("the link comes back: it is probed, recovers and carries frames again", async () => {
    bw.world.exec(bw.world.nsA, ["ip", "link", "set", bw.portsA[1], "up"]);
    const p = t.paths.paths.find((x) => x.netlink.name === bw.ifsB[1])!;
    const before = p.replies;
    const data = new Uint8Array(32 * MIB);
    crypto.getRandomValues(data.subarray(0, 65536));
    for (let i = 65536; i < data.length; i += 65536) data.copyWithin(i, 0, 65536);
    // Long enough for a probe or two (the first after 200 ms, then backing off).
    for (let round = 0; round < 20 && p.replies === before; round++) {
      await writeRange(ini, t, { offset: 0, source: sourceOf(data) });
    }
    expect(p.replies).toBeGreaterThan(before);
    expect(p.failing).toBe(false);
    expect(sha256(readFileSync(img.path).subarray(0, data.length))).toBe(sha256(data));
  }, 90_000);
});
