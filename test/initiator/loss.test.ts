/**
 * Loss: an impairment relay between two veth pairs (test/helpers/impair-relay.ts)
 * drops 10 % of the frames both ways and duplicates and reorders some. A
 * 64 MiB read and a 64 MiB write through it, with the initiator's command
 * line against vblade 25, complete bit-exact, and `--stat` (the Plan 9 ctl and
 * devlink text after the copy) shows the resends.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { canUseNetns } from "../helpers/netns.ts";
import { makeRelayWorld, RELAY_SCRIPT, type RelayWorld } from "../helpers/impair-relay.ts";
import { haveVblade, makeImage, sha256File, startVblade, type Image, type RunningVblade } from "../helpers/vblade.ts";
import { aoede, mbps, waitForTarget } from "../helpers/aoede-cli.ts";

// Namespaces, a lossy relay and vblade: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(60_000);

const MIB = 1 << 20;

describe.skipIf(!(canUseNetns() && haveVblade()))("10 % loss, duplicates and reordering", () => {
  let w: RelayWorld;
  let img: Image;
  let vb: RunningVblade;
  let relay: ReturnType<typeof Bun.spawn>;
  let relayOut: { read(): Promise<{ done: boolean; value?: Uint8Array }> };

  beforeAll(async () => {
    w = makeRelayWorld("los");
    img = makeImage(64 * MIB);
    relay = Bun.spawn(
      ["ip", "netns", "exec", w.nsM, process.execPath, RELAY_SCRIPT, w.ifMA, w.ifMB, "--drop", "0.1", "--dup", "0.03", "--reorder", "0.03", "--seed", "7"],
      { stdout: "pipe", stderr: "inherit" },
    );
    relayOut = (relay.stdout as ReadableStream<Uint8Array>).getReader();
    const first = await relayOut.read();
    expect(new TextDecoder().decode(first.value)).toContain("ready");
    vb = await startVblade(w.nsA, w.ifA, 5, 0, img.path, { bufcnt: 64 });
    await waitForTarget(w.nsB, "e5.0");
  });

  afterAll(async () => {
    await vb?.stop();
    if (relay) {
      relay.kill("SIGTERM");
      await relay.exited;
      let counters = "";
      for (let r = await relayOut.read(); !r.done; r = await relayOut.read()) counters += new TextDecoder().decode(r.value);
      console.log(`relay counters: ${counters.trim()}`);
    }
    img?.dispose();
    w?.dispose();
  });

  function resentOf(ctl: string): number {
    return [...ctl.matchAll(/^resent: (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }

  test("a 64 MiB read completes bit-exact; stat shows the resends", async () => {
    const out = join(img.dir, "read.out");
    const r = await aoede(w.nsB, ["read", "e5.0", out, "--stat"], { killAfterMs: 110_000 });
    expect(r.code).toBe(0);
    expect(sha256File(out)).toBe(img.sha256);
    expect(r.err).toMatch(/^state: up$/m);
    expect(resentOf(r.err)).toBeGreaterThan(1000);
    console.log(`lossy read: 64 MiB in ${r.ms.toFixed(0)} ms (${mbps(img.size, r.ms)} MB/s)\n${r.err}`);
  }, 120_000);

  test("a 64 MiB write completes bit-exact; stat shows the resends", async () => {
    const src = makeImage(64 * MIB, "src.img");
    try {
      const r = await aoede(w.nsB, ["write", "e5.0", src.path, "--stat"], { killAfterMs: 110_000 });
      expect(r.code).toBe(0);
      expect(sha256File(img.path)).toBe(src.sha256);
      expect(resentOf(r.err)).toBeGreaterThan(1000);
      console.log(`lossy write: 64 MiB in ${r.ms.toFixed(0)} ms (${mbps(src.size, r.ms)} MB/s)`);
    } finally {
      src.dispose();
    }
  }, 120_000);
});
