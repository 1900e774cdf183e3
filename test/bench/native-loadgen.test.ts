/**
 * The bench's instrument, bench/native/loadgen.c, on real frames: it must report
 * what went wrong instead of good numbers. On a clean path (the native null
 * target, aoede serve) it counts no resend, error or verify failure; behind a
 * relay that drops and duplicates frames (test/helpers/impair-relay.ts) it counts
 * resends and duplicates and still verifies every sector; behind
 * test/interop/broken-relay.ts it counts a reply with a tag it never sent as
 * stray, writes whose replies never come as timeouts, and data corrupted on the
 * way to serve as verify failures — exiting non-zero. A read-only serve gives
 * ATA errors; zeroes where the pattern should be are verify failures.
 * Skipped when the process cannot create namespaces (not root) or has no C compiler.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nativeTool, runLoadgen, type LoadgenArgs, type LoadgenRun } from "../../bench/native.ts";
import { makeRelayWorld, RELAY_SCRIPT, type RelayWorld } from "../helpers/impair-relay.ts";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";

setDefaultTimeout(60_000);

const ROOT = join(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/cli/main.ts");
const BROKEN_RELAY = join(ROOT, "test/interop/broken-relay.ts");
const haveCc = Bun.which("cc") !== null || Bun.which("gcc") !== null;
const SEED = 4242;

interface Proc {
  output(): string;
  /** SIGTERM, then the whole output */
  stop(): Promise<string>;
}

/** Starts argv and waits until its output matches `ready`. */
async function start(argv: string[], ready: RegExp): Promise<Proc> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NODE_ENV: "production", CONSOLA_LEVEL: "3", NO_COLOR: "1" } });
  let out = "";
  for (const s of [p.stdout, p.stderr]) {
    void (async () => {
      const d = new TextDecoder();
      for await (const c of s) out += d.decode(c, { stream: true });
    })().catch(() => {});
  }
  const deadline = Date.now() + 15_000;
  while (!ready.test(out)) {
    if (p.exitCode !== null || Date.now() > deadline) {
      p.kill("SIGKILL");
      throw new Error(`${argv.join(" ")} did not start:\n${out}`);
    }
    await Bun.sleep(20);
  }
  return {
    output: () => out,
    async stop() {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 5000);
      await p.exited;
      clearTimeout(t);
      await Bun.sleep(50);
      return out;
    },
  };
}

const nullTarget = (ns: string, iface: string, pattern: boolean) =>
  start(["ip", "netns", "exec", ns, nativeTool("nulltarget"), "-b", "64", "--size", "64M", ...(pattern ? ["--pattern", String(SEED)] : []), "7", "1", iface], /sectors/);
const serve = (ns: string, iface: string, file: string, extra: string[] = []) =>
  start(["ip", "netns", "exec", ns, process.execPath, MAIN, "serve", "-b", "64", ...extra, "7", "1", iface, file], /sectors/);
const loadgen = (ns: string, a: LoadgenArgs): Promise<LoadgenRun> =>
  runLoadgen(["ip", "netns", "exec", ns], { target: "7.1", durationS: 0.3, seed: SEED, ...a });

/** the counters that must be zero on a clean path */
function expectClean(run: LoadgenRun) {
  if (run.code !== 0) console.error(run.stderr);
  expect(run.result).toBeDefined();
  const r = run.result!;
  expect(r.requests).toBeGreaterThan(0);
  expect({ resends: r.resends, errors: r.errors, timeouts: r.timeouts, verify_failures: r.verify_failures, duplicates: r.duplicates, stray: r.stray }).toEqual({
    resends: 0, errors: 0, timeouts: 0, verify_failures: 0, duplicates: 0, stray: 0,
  });
  expect(run.code).toBe(0);
}

let dir: string;
let image: string;

beforeAll(() => {
  dir = mkdtempSync("/dev/shm/aoede-nlg-");
  image = join(dir, "disk.img");
  writeFileSync(image, new Uint8Array(16 << 20));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!canUseNetns() || !haveCc)("native load generator on a clean path", () => {
  let w: VethWorld;
  beforeAll(() => {
    w = makeVethWorld("nlg", 9000);
  });
  afterAll(() => w?.dispose());

  test("against the native null target: every mode, --verify against its pattern, nothing counted wrong", async () => {
    const t = await nullTarget(w.nsA, w.ifA, true);
    try {
      for (const mode of ["read", "write", "randread", "randwrite"] as const) {
        const run = await loadgen(w.nsB, { iface: w.ifB, mode, window: 16, verify: true, region: "0:8192" });
        expectClean(run);
        const r = run.result!;
        expect(r.mode).toBe(mode);
        expect(r.verified_sectors).toBeGreaterThan(0);
        // the largest frame MTU 9000 allows; 4 KiB for random
        expect(r.sectors).toBe(mode.startsWith("rand") ? 8 : 17);
        expect(r.window).toBe(16);
        expect(r.bufcnt).toBe(64);
        expect(r.size_sectors).toBe((64 << 20) / 512);
        expect(r.frames_received).toBe(r.frames_sent);
      }
    } finally {
      await t.stop();
    }
  });

  test("without -t it finds the target by broadcast Query Config; window 1 keeps one frame in flight", async () => {
    const t = await nullTarget(w.nsA, w.ifA, false);
    try {
      const run = await runLoadgen(["ip", "netns", "exec", w.nsB], { iface: w.ifB, window: 1, durationS: 0.2 });
      expectClean(run);
      expect(run.result!.target).toBe("e7.1");
      expect(run.result!.depth).toBe(1);
      // zeroes where the pattern should be: every sector read is a verify failure
      const bad = await loadgen(w.nsB, { iface: w.ifB, mode: "randread", window: 16, verify: true, region: "0:4096" });
      expect(bad.code).toBe(1);
      expect(bad.result!.verify_failures).toBeGreaterThan(0);
      expect(bad.result!.first_error).toMatch(/^verify: sector \d+ differs/);
    } finally {
      await t.stop();
    }
  });

  test("--spin: a run that polls between replies instead of sleeping still counts nothing wrong", async () => {
    const t = await nullTarget(w.nsA, w.ifA, true);
    try {
      expectClean(await loadgen(w.nsB, { iface: w.ifB, mode: "randread", window: 1, verify: true, region: "0:4096", spinUs: 50 }));
    } finally {
      await t.stop();
    }
  });

  test("against aoede serve: writes then random reads of the pattern check out", async () => {
    const t = await serve(w.nsA, w.ifA, image);
    try {
      expectClean(await loadgen(w.nsB, { iface: w.ifB, mode: "write", window: 16, verify: true, region: "0:8192" }));
      expectClean(await loadgen(w.nsB, { iface: w.ifB, mode: "randread", window: 64, verify: true, region: "0:8192" }));
    } finally {
      await t.stop();
    }
  });

  test("a read-only serve: every write is an ATA error, exit 1", async () => {
    const t = await serve(w.nsA, w.ifA, image, ["-r"]);
    try {
      const run = await loadgen(w.nsB, { iface: w.ifB, mode: "randwrite", window: 16 });
      expect(run.code).toBe(1);
      expect(run.result!.errors).toBeGreaterThan(0);
      expect(run.result!.requests).toBe(0);
      expect(run.result!.first_error).toMatch(/^ATA status 0x[0-9a-f]+ at LBA/);
    } finally {
      await t.stop();
    }
  });

  test("no target at that address: exit 1, no result", async () => {
    const t = await nullTarget(w.nsA, w.ifA, false);
    try {
      const run = await runLoadgen(["ip", "netns", "exec", w.nsB], { iface: w.ifB, target: "7.2", durationS: 0.1, timeoutMs: 50 });
      expect(run.code).toBe(1);
      expect(run.result).toBeUndefined();
      expect(run.stderr).toContain("no target answered Query Config");
    } finally {
      await t.stop();
    }
  });
});

describe.skipIf(!canUseNetns() || !haveCc)("native load generator behind relays that break things", () => {
  let w: RelayWorld;
  beforeAll(() => {
    w = makeRelayWorld("nlr");
  });
  afterAll(() => w?.dispose());

  const relay = (script: string, args: string[]) => start(["ip", "netns", "exec", w.nsM, process.execPath, script, w.ifMA, w.ifMB, ...args], /ready/);
  const counters = (out: string): Record<string, number> => JSON.parse(out.trim().split("\n").pop()!);

  test("drops and duplicates: resends and duplicates counted, every sector still verified", async () => {
    const r = await relay(RELAY_SCRIPT, ["--drop", "0.05", "--dup", "0.05", "--reorder", "0.02", "--seed", "3"]);
    const t = await nullTarget(w.nsA, w.ifA, true);
    try {
      const run = await loadgen(w.nsB, { iface: w.ifB, mode: "randread", window: 16, verify: true, region: "0:4096", timeoutMs: 40, retries: 20 });
      if (run.code !== 0) console.error(run.stderr);
      const x = run.result!;
      expect(x.requests).toBeGreaterThan(0);
      expect(x.resends).toBeGreaterThan(0);
      expect(x.duplicates).toBeGreaterThan(0);
      expect(x.verified_sectors).toBeGreaterThan(0);
      expect({ errors: x.errors, timeouts: x.timeouts, verify_failures: x.verify_failures, stray: x.stray }).toEqual({ errors: 0, timeouts: 0, verify_failures: 0, stray: 0 });
      expect(run.code).toBe(0);
    } finally {
      await t.stop();
      const c = counters(await r.stop());
      expect(c.dropped).toBeGreaterThan(0);
      expect(c.duplicated).toBeGreaterThan(0);
    }
  });

  test("a reply whose tag was never sent: stray, and its request resent", async () => {
    const r = await relay(BROKEN_RELAY, ["retag-reply:50"]);
    const t = await nullTarget(w.nsA, w.ifA, false);
    try {
      const run = await loadgen(w.nsB, { iface: w.ifB, mode: "read", window: 16, timeoutMs: 50 });
      expect(run.result!.stray).toBe(1);
      expect(run.result!.resends).toBeGreaterThanOrEqual(1);
      expect(run.result!.duplicates).toBe(0);
    } finally {
      await t.stop();
      expect(counters(await r.stop()).retagged).toBe(1);
    }
  });

  test("write replies dropped: timeouts and resends, no request completes, exit 1", async () => {
    const r = await relay(BROKEN_RELAY, ["drop-write-replies"]);
    const t = await serve(w.nsA, w.ifA, image);
    try {
      const run = await loadgen(w.nsB, { iface: w.ifB, mode: "write", window: 4, durationS: 0.2, timeoutMs: 20, retries: 2 });
      expect(run.code).toBe(1);
      expect(run.result!.requests).toBe(0);
      expect(run.result!.timeouts).toBeGreaterThan(0);
      expect(run.result!.resends).toBeGreaterThanOrEqual(2 * run.result!.timeouts);
      expect(run.result!.first_error).toMatch(/^no reply after 2 resends/);
    } finally {
      await t.stop();
      await r.stop();
    }
  });

  test("write data corrupted on its way to serve: --verify reads it back and fails, exit 1", async () => {
    const r = await relay(BROKEN_RELAY, ["corrupt-write:5"]);
    const t = await serve(w.nsA, w.ifA, image);
    try {
      const run = await loadgen(w.nsB, { iface: w.ifB, mode: "write", window: 16, verify: true, region: "0:4096" });
      expect(run.code).toBe(1);
      expect(run.result!.verify_failures).toBeGreaterThan(0);
      expect(run.result!.errors).toBe(0);
      expect(run.stderr).toMatch(/first error: verify: sector \d+ differs/);
    } finally {
      await t.stop();
      expect(counters(await r.stop()).corrupted).toBeGreaterThan(0);
    }
  });
});
