/**
 * The bench, end to end but short: `bun bench/run.ts --smoke` builds its private
 * world, serves a /dev/shm file with aoede serve, vblade -b 64 (when installed)
 * and the native null target, loads each with the native load generator
 * (bench/native/loadgen.c) for 0.3 s per mode at window 16, runs the load
 * generator with --verify against serve (which must find no error and no wrong
 * sector), runs AoEde's initiator beside the load generator, measures idle CPU
 * in 1 s windows, copies 16 MiB by aoede read and by dd from the aoe(3) tree's
 * data (aoede mount), prints the tables and cleans up. The figures are not judged
 * here — only that the bench runs, measures and reports.
 * Skipped when the process cannot create namespaces (not root) or has no C compiler.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path, { join } from "node:path";
import type { LoadgenResult } from "../../bench/native.ts";
import { canUseNetns } from "../helpers/netns.ts";

const haveCc = Bun.which("cc") !== null || Bun.which("gcc") !== null;

// Child processes: several times slower on a busy 2-core machine than alone.
// bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const ROOT = path.join(import.meta.dir, "../..");
const MAIN = path.join(ROOT, "src/cli/main.ts");

describe("aoede bench command line", () => {
  test("write workloads need --write (exit 2, one line)", () => {
    const r = Bun.spawnSync([process.execPath, MAIN, "bench", "e1.0", "-w", "randwrite"], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toMatch(/^aoede bench: .*--write/);
  });

  test("a bad target name is a usage error", () => {
    const r = Bun.spawnSync([process.execPath, MAIN, "bench", "nine"], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.toString()).toContain("not a target name");
  });
});

describe.skipIf(!canUseNetns() || !haveCc)("bun run bench --smoke", () => {
  test(
    "runs end to end with the native load generator (a --verify pass against serve included), prints the tables and the goals, leaves nothing behind",
    async () => {
      const json = join(mkdtempSync(join(tmpdir(), "aoede-smoke-")), "bench.json");
      const proc = Bun.spawn([process.execPath, path.join(ROOT, "bench/run.ts"), "--smoke", "--source", "--json", json], {
        cwd: ROOT,
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      if (code !== 0) console.error(out, err);
      expect(code).toBe(0);
      expect(out).toContain("aoede:     bun src/cli/main.ts");
      expect(out).toMatch(/^load: +\S+\/aoede-native\/loadgen-[0-9a-f]+ \(bench\/native\/loadgen\.c\)$/m);
      expect(out).toMatch(/memory-backed \(\/dev\/shm\), MTU 1500: medians of 1 run/);
      expect(out).toMatch(/mode\s+window\s+unit\s+serve -b 64\s+(vblade -b 64\s+)?ceiling: null \(C\)\s+(serve \/ vblade-b64\s+)?serve \/ null/);
      for (const [mode, unit] of [["read", "MB/s"], ["write", "MB/s"], ["randread", "IOPS"], ["randwrite", "IOPS"]]) {
        expect(out).toMatch(new RegExp(`^${mode}\\s+16\\s+${unit.replace("/", "\\/")}\\s+[\\d.,]+\\s`, "m"));
      }
      expect(out).toMatch(/^AoEde's initiator \(aoede bench, seqread\) beside the native load generator/m);
      expect(out).toMatch(/^1500\s+16\s+[\d,]+\s+[\d,]+\s+\d+\.\d\dx/m);
      expect(out).toContain("goals (issue 10)");
      expect(out).toMatch(/idle: aoede serve used \d+\.\d+ % CPU in the 1 s after start-up and \d+\.\d+ % from \d+ s on/);

      // every cell measured something, through the native load generator, with nothing lost
      const raw = JSON.parse(readFileSync(json, "utf8"));
      rmSync(path.dirname(json), { recursive: true, force: true });
      const cells = Object.entries(raw.results as Record<string, { r: LoadgenResult }[]>);
      expect(cells.length).toBe(4 * (raw.options.targets as string[]).length);
      for (const [, samples] of cells) for (const { r } of samples) expect(r.requests).toBeGreaterThan(0);
      // the --verify pass against serve: written, read back, every sector checked
      const verify = raw.extras.verify as { target: string; mode: string; code: number; r: LoadgenResult }[];
      expect(verify.map((v) => `${v.target} ${v.mode}`)).toEqual(["aoede write", "aoede randread"]);
      for (const v of verify) {
        expect(v.code).toBe(0);
        expect(v.r.verify).toBe(true);
        expect(v.r.requests).toBeGreaterThan(0);
        expect(v.r.verified_sectors).toBeGreaterThan(0);
        expect({ errors: v.r.errors, timeouts: v.r.timeouts, verify_failures: v.r.verify_failures }).toEqual({ errors: 0, timeouts: 0, verify_failures: 0 });
      }
      // dd from the aoe(3) tree's data beside aoede read of the same target (bench/tree.ts)
      if (existsSync("/dev/fuse")) {
        expect(out).toMatch(/^tree: aoede read [\d.,]+ MB\/s; dd bs=1M from the aoe\(3\) tree's data [\d.,]+ MB\/s \(page cache\) and [\d.,]+ MB\/s \(iflag=direct\); 16 MiB/m);
        expect(out).toContain("tree: dd bs=1M from S.L/data >= 0.8x aoede read of the same target");
        const tree = raw.extras.tree as { readMbps: number; ddDirectMbps: number; ddCachedMbps: number };
        for (const v of [tree.readMbps, tree.ddDirectMbps, tree.ddCachedMbps]) expect(v).toBeGreaterThan(0);
      }
      expect(raw.extras.initiator.length).toBe(1);
      expect(raw.extras.initiator[0].initiatorFps).toBeGreaterThan(0);
      // its namespaces and files are gone
      const left = readdirSync("/var/run/netns").filter((n) => n.startsWith(`aoede-bnch-${proc.pid}-`));
      expect(left).toEqual([]);
      expect(readdirSync("/dev/shm").filter((n) => n === `aoede-bench-${proc.pid}.img`)).toEqual([]);
    },
    { timeout: 120_000 },
  );
});
