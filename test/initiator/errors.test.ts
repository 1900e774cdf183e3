/**
 * Bad input to the initiator's command line: one clear line on stderr, a
 * non-zero exit, and never a half copy reported as success. Unknown target, no
 * usable interface, not enough privilege, a target that vanishes mid-copy
 * (read and write), an output file that cannot be written, an image that does
 * not fit.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, openSync, readSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { haveVblade, makeImage, startVblade, type Image, type RunningVblade } from "../helpers/vblade.ts";
import { aoede, MAIN, waitForTarget } from "../helpers/aoede-cli.ts";

// Namespaces, vblade and CLI processes: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const MIB = 1 << 20;

function oneLine(err: string): string {
  const lines = err.split("\n").filter((l) => l !== "");
  expect(lines.length).toBe(1);
  return lines[0]!;
}

describe.skipIf(!(canUseNetns() && haveVblade()))("initiator errors", () => {
  let w: VethWorld;
  let img: Image;
  let vb: RunningVblade | undefined;

  beforeAll(async () => {
    w = makeVethWorld("err");
    img = makeImage(4 * MIB);
    vb = await startVblade(w.nsA, w.ifA, 6, 1, img.path);
    await waitForTarget(w.nsB, "e6.1");
  });

  afterAll(async () => {
    await vb?.stop();
    img?.dispose();
    w?.dispose();
  });

  test("unknown target", async () => {
    const r = await aoede(w.nsB, ["read", "e6.9", "--timeout", "300", join(img.dir, "x")]);
    expect(r.code).toBe(1);
    expect(oneLine(r.err)).toBe(`aoede read: target e6.9 not found on ${w.ifB} (no reply within 300 ms)`);
    const bad = await aoede(w.nsB, ["stat", "eth0"]);
    expect(bad.code).not.toBe(0);
    expect(oneLine(bad.err)).toContain('"eth0" is not a target name');
  });

  test("no usable interface: a name that does not exist, and none up", async () => {
    const r = await aoede(w.nsB, ["discover", "-i", "nosuch0"]);
    expect(r.code).toBe(1);
    expect(oneLine(r.err)).toBe("aoede discover: no usable interface: nosuch0 does not exist");
    w.exec(w.nsB, ["ip", "link", "set", w.ifB, "down"]);
    try {
      const none = await aoede(w.nsB, ["discover"]);
      expect(none.code).toBe(1);
      expect(oneLine(none.err)).toContain("no usable interface: no Ethernet interface is up");
    } finally {
      w.exec(w.nsB, ["ip", "link", "set", w.ifB, "up"]);
    }
  });

  test("not enough privilege (no CAP_NET_RAW)", async () => {
    const p = Bun.spawn(
      ["ip", "netns", "exec", w.nsB, "setpriv", "--bounding-set", "-net_raw", "--inh-caps", "-net_raw", process.execPath, MAIN, "stat", "-i", w.ifB],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(1);
    expect(oneLine(err)).toBe(`aoede stat: not enough privilege: raw Ethernet on ${w.ifB} needs root or CAP_NET_RAW`);
  });

  test("an output file that cannot be written", async () => {
    const r = await aoede(w.nsB, ["read", "e6.1", "/nonexistent-dir/out.img"]);
    expect(r.code).toBe(1);
    expect(oneLine(r.err)).toMatch(/^aoede read: cannot write \/nonexistent-dir\/out.img: /);
  });

  test("an image larger than the device is refused before anything is sent", async () => {
    const big = makeImage(4 * MIB + 512, "big.img");
    try {
      const r = await aoede(w.nsB, ["write", "e6.1", big.path]);
      expect(r.code).not.toBe(0);
      expect(oneLine(r.err)).toContain("does not fit on e6.1");
    } finally {
      big.dispose();
    }
  });

  test("the target vanishes in the middle of a read: the deadline fails it, the file is called incomplete", async () => {
    const sparse = join(img.dir, "sparse.img");
    await Bun.write(sparse, "");
    truncateSync(sparse, 512 * MIB);
    const gone = await startVblade(w.nsA, w.ifA, 6, 2, sparse, { bufcnt: 8 });
    await waitForTarget(w.nsB, "e6.2");
    const out = join(img.dir, "partial.out");
    const run = aoede(w.nsB, ["read", "e6.2", out, "--deadline", "2"]);
    for (let i = 0; i < 2000; i++) {
      await Bun.sleep(5);
      try {
        if (statSync(out).size > 8 * MIB) break;
      } catch {}
    }
    await gone.stop();
    const r = await run;
    expect(r.code).toBe(1);
    const line = oneLine(r.err);
    expect(line).toMatch(/^aoede read: e6\.2: no reply for 2 s; the target is gone or unreachable; /);
    expect(line).toContain(`${out} holds only`);
    expect(statSync(out).size).toBeLessThan(512 * MIB);
  }, 30_000);

  test("the target vanishes in the middle of a write from stdin", async () => {
    const p = Bun.spawn(["ip", "netns", "exec", w.nsB, process.execPath, MAIN, "write", "e6.1", "--deadline", "2"], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const chunk = new Uint8Array(MIB).fill(0x5a);
    for (let i = 0; i < 2; i++) p.stdin.write(chunk);
    await p.stdin.flush();
    // In the middle: once the first sector has reached the target (a fixed pause
    // was too short where the command itself takes a second to start).
    const first = new Uint8Array(512);
    const fd = openSync(img.path, "r");
    try {
      for (let i = 0; i < 4000 && !(readSync(fd, first, 0, 512, 0) === 512 && first.every((b) => b === 0x5a)); i++) await Bun.sleep(5);
    } finally {
      closeSync(fd);
    }
    expect(first.every((b) => b === 0x5a)).toBe(true);
    await vb!.stop();
    vb = undefined;
    for (let i = 0; i < 2; i++) p.stdin.write(chunk);
    await p.stdin.end();
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(1);
    expect(oneLine(err)).toMatch(/^aoede write: e6\.1: no reply for 2 s; the target is gone or unreachable; the copy is incomplete/);
  }, 30_000);
});
