/**
 * The bench, end to end but short: `bun bench/run.ts --smoke` builds its private
 * world, serves a /dev/shm file with aoede serve, vblade -b 64 (when installed)
 * and the no-disk-I/O target, loads each with the initiator for 0.3 s per
 * workload, measures idle CPU in 1 s windows, prints the comparison table and cleans
 * up. The numbers are not judged here — only that the bench runs and reports.
 * Skipped when the process cannot create namespaces (not root).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import path from "node:path";
import { canUseNetns } from "../helpers/netns.ts";

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

describe.skipIf(!canUseNetns())("bun run bench --smoke", () => {
  test(
    "runs end to end, prints the table and the goals, leaves nothing behind",
    async () => {
      const proc = Bun.spawn([process.execPath, path.join(ROOT, "bench/run.ts"), "--smoke", "--source"], {
        cwd: ROOT,
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      if (code !== 0) console.error(out, err);
      expect(code).toBe(0);
      expect(out).toContain("aoede:     bun src/cli/main.ts");
      expect(out).toMatch(/memory-backed \(\/dev\/shm\), MTU 1500: medians of 1 run/);
      expect(out).toMatch(/workload\s+target \(w = window\)\s+MB\/s\s+IOPS\s+p50 us\s+p99 us\s+resends\s+target CPU s/);
      for (const w of ["seqread", "seqwrite", "randread", "randwrite"]) expect(out).toMatch(new RegExp(`^${w}\\s+aoede -b 64 w64\\s+\\d`, "m"));
      expect(out).toMatch(/^\s+null target w64\s+\d/m);
      expect(out).toMatch(/^\s+aoede \/ null\s+\d+\.\d\dx/m);
      expect(out).toContain("goals (issue 6)");
      expect(out).toMatch(/idle: aoede serve used \d+\.\d+ % CPU in the 1 s after start-up and \d+\.\d+ % from \d+ s on/);
      // its namespaces and files are gone
      const left = readdirSync("/var/run/netns").filter((n) => n.startsWith(`aoede-bnch-${proc.pid}-`));
      expect(left).toEqual([]);
      expect(readdirSync("/dev/shm").filter((n) => n === `aoede-bench-${proc.pid}.img`)).toEqual([]);
    },
    { timeout: 90_000 },
  );
});
