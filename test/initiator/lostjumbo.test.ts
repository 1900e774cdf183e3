/**
 * The lostjumbo fallback: both ends at MTU 9000 (so the target advertises 17
 * sectors and the initiator sends 8704-byte frames), but the relay in the
 * middle passes nothing longer than a standard frame, like a switch without
 * jumbo frames. After 2 x nframes lost jumbo frames the initiator falls back
 * to 1024-byte frames, says so, and the copy completes.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { canUseNetns } from "../helpers/netns.ts";
import { makeRelayWorld, RELAY_SCRIPT, type RelayWorld } from "../helpers/impair-relay.ts";
import { haveVblade, makeImage, sha256File, startVblade, type Image, type RunningVblade } from "../helpers/vblade.ts";
import { aoede, waitForTarget } from "../helpers/aoede-cli.ts";

// Namespaces, a relay and vblade: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const MIB = 1 << 20;

describe.skipIf(!(canUseNetns() && haveVblade()))("lostjumbo: jumbo frames lost on the way", () => {
  let w: RelayWorld;
  let img: Image;
  let vb: RunningVblade;
  let relay: ReturnType<typeof Bun.spawn>;

  beforeAll(async () => {
    w = makeRelayWorld("jmb", 9000);
    img = makeImage(16 * MIB);
    relay = Bun.spawn(
      ["ip", "netns", "exec", w.nsM, process.execPath, RELAY_SCRIPT, w.ifMA, w.ifMB, "--drop", "0", "--dup", "0", "--reorder", "0", "--max-len", "1514"],
      { stdout: "pipe", stderr: "inherit" },
    );
    const reader = (relay.stdout as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("ready");
    reader.releaseLock();
    vb = await startVblade(w.nsA, w.ifA, 5, 1, img.path, { bufcnt: 16 });
    await waitForTarget(w.nsB, "e5.1");
  });

  afterAll(async () => {
    await vb?.stop();
    relay?.kill("SIGKILL");
    img?.dispose();
    w?.dispose();
  });

  test("the target advertises 17 sectors; a read falls back to 1024-byte frames and completes", async () => {
    const d = JSON.parse((await aoede(w.nsB, ["discover", "--json", "--timeout", "1000"])).out);
    expect(d[0].sectorsPerFrame).toBe(17);
    const out = join(img.dir, "read.out");
    const r = await aoede(w.nsB, ["read", "e5.1", out, "--stat"]);
    expect(r.code).toBe(0);
    expect(sha256File(out)).toBe(img.sha256);
    expect(r.err).toMatch(/^aoede: e5\.1: \d+ jumbo frames lost on \S+; falling back to 1024-byte frames \(lostjumbo\)$/m);
    expect(r.err).toContain("maxbcnt: 1024 [maxmtu 100000]\n");
    expect(r.err).toMatch(/^flag: lba llba  up $/m); // no longer "jumbo" (9front layout: feature words, two spaces, AoE flags)
    const lost = Number(/^nl lostjumbo: (\d+)$/m.exec(r.err)![1]);
    expect(lost).toBeGreaterThan(2 * 16);
  }, 60_000);

  test("a write does the same", async () => {
    const src = makeImage(16 * MIB, "src.img");
    try {
      const r = await aoede(w.nsB, ["write", "e5.1", src.path]);
      expect(r.code).toBe(0);
      expect(r.err).toContain("falling back to 1024-byte frames (lostjumbo)");
      expect(sha256File(img.path)).toBe(src.sha256);
    } finally {
      src.dispose();
    }
  }, 60_000);
});
