/**
 * Target and initiator in one process on the shared loop and poller: an
 * `aoede serve` export (src/target) on one end of a veth pair, the initiator
 * on the other, both attached to sharedLoop(). 64 MiB written and read back at
 * MTU 1500 and 9000; on a clean link next to nothing is resent.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { makeImage, sha256, type Image } from "../helpers/vblade.ts";
import { randomBytes, sourceOf } from "../helpers/bytes.ts";
import { openRawLink, type RawLink } from "../../ffi/rawlink.ts";
import { sharedLoop } from "../../src/net/loop.ts";
import { parseServeArgs } from "../../src/target/config.ts";
import { startExport, type RunningExport } from "../../src/target/server.ts";
import { Initiator } from "../../src/initiator/engine.ts";
import { discover } from "../../src/initiator/discover.ts";
import { readRange, writeRange } from "../../src/initiator/io.ts";
import { formatTargetStat } from "../../src/initiator/ctl.ts";
import type { Target } from "../../src/initiator/target.ts";

// Namespaces and 64 MiB copies: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const MIB = 1 << 20;
// The image lives in memory where there is a tmpfs: this test is about the loop
// the two share, and a disk busy with writeback or other work stalls writes longer
// than the resend timeout (whole windows of writes resent at once).
const MEMORY_DIR = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

describe.skipIf(!canUseNetns())("target and initiator in one process", () => {
  for (const mtu of [1500, 9000]) {
    describe(`MTU ${mtu}`, () => {
      let w: VethWorld;
      let img: Image;
      let exp: RunningExport;
      let link: RawLink;
      let ini: Initiator;
      let t: Target;

      beforeAll(async () => {
        w = makeVethWorld(mtu === 1500 ? "one" : "onj", mtu);
        img = makeImage(64 * MIB, "disk.img", MEMORY_DIR);
        exp = startExport(parseServeArgs(["-b", "64", "4", "2", w.ifA, img.path]), { netns: w.nsA });
        link = openRawLink(w.ifB, { netns: w.nsB, bufferFrames: 1024 });
        ini = new Initiator(sharedLoop(), [link], { deadlineMs: 20_000 });
        [t] = (await discover(ini, { timeoutMs: 3000, shelf: 4, slot: 2 })) as [Target];
        if (!t) throw new Error(`e4.2 did not answer discovery; export counters: ${JSON.stringify(exp.exp.counters)}`);
        await ini.identify(t);
      });

      afterAll(async () => {
        ini?.close();
        link?.close();
        await exp?.stop();
        // Let the poller hand back results about the closed descriptors before
        // the next block opens links that may reuse their numbers (a stale
        // POLLNVAL for a reused number would unregister the new link).
        await Bun.sleep(50);
        img?.dispose();
        w?.dispose();
      });

      test("IDENTIFY through the shared loop", () => {
        expect(t.name).toBe("e4.2");
        expect(t.sizeBytes).toBe(64 * MIB);
        expect(t.identify!.model).toBe("AoEde");
        expect(t.maxSectors()).toBe(mtu === 1500 ? 2 : 17);
      });

      test("64 MiB read and write, bit-exact", async () => {
        const out = new Uint8Array(img.size);
        let at = 0;
        let t0 = performance.now();
        await readRange(ini, t, { offset: 0, length: img.size, sink: (b) => void (out.set(b, at), (at += b.length)) });
        const readMs = performance.now() - t0;
        expect(sha256(out)).toBe(img.sha256);

        const data = randomBytes(img.size);
        t0 = performance.now();
        const n = await writeRange(ini, t, {
          offset: 0,
          length: data.length,
          source: sourceOf(data),
        });
        const writeMs = performance.now() - t0;
        expect(n).toBe(data.length);
        expect(sha256(readFileSync(img.path))).toBe(sha256(data));

        const st = t.status();
        const npkt = st.devlinks[0]!.npkt;
        expect(st.devlinks[0]!.resent).toBeLessThan(npkt / 100);
        console.log(
          `one process, MTU ${mtu}: read ${(img.size / 1e6 / (readMs / 1000)).toFixed(1)} MB/s, ` +
            `write ${(img.size / 1e6 / (writeMs / 1000)).toFixed(1)} MB/s\n${formatTargetStat(st)}`,
        );
      }, 120_000);
    });
  }
});
