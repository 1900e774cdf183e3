/**
 * The Linux kernel's own aoe driver against `aoede serve`.
 *
 * Runs test/interop/linux-vm/aoe-linux-vm.sh: Debian's 6.1 cloud kernel in qemu
 * (software emulation, one vCPU), its aoe driver discovering the target over a
 * tap in a private namespace, ext4 made, filled, remounted and checked, e2fsck,
 * then O_DIRECT dd whose MB/s is printed. At MTU 1500 and 9000. Then two broken
 * targets — one that loses its writes, one that answers nothing — must make the
 * same stage say FAIL, so a PASS here means something.
 *
 * The target is the compiled single file (scripts/build.ts --only host, built
 * into a private directory), unless:
 *   AOEDE_BIN=/path/to/aoede          use that binary instead of building one
 *   AOEDE_INTEROP_TARGET='vblade %SHELF% %SLOT% %IF% %FILE%'
 *                                     any target command template (placeholders
 *                                     %IF% %FILE% %SHELF% %SLOT% %MTU% %MAC%)
 *   AOEDE_INTEROP_LINUX=0             skip this file
 * Needs root, /dev/net/tun and qemu-system-x86_64 (test/interop/install-deps.sh
 * installs the packages); skips with one line without them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const stage = join(import.meta.dir, "linux-vm/aoe-linux-vm.sh");
/** per-run directories (sparse backing files of 512 MiB, logs); not /tmp, which may be RAM */
const workRoot = "/var/tmp/aoede-interop";

function missing(): string | undefined {
  if (process.env.AOEDE_INTEROP_LINUX === "0") return "AOEDE_INTEROP_LINUX=0";
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  if (!Bun.which("qemu-system-x86_64")) return "no qemu-system-x86_64 (test/interop/install-deps.sh installs it)";
  return undefined;
}
const why = missing();
if (why) console.log(`SKIP linux-driver interop: ${why}`);

interface StageResult {
  code: number | null;
  out: string;
  last: string;
  secs: number;
  dd: Record<string, number>;
  dir: string;
}

/**
 * Run the stage script with a hard bound; SIGTERM lets its trap clean up, SIGKILL
 * follows. Each run gets its own work directory (console, target log, backing
 * file); `tidy` removes it once the run turned out as expected.
 */
async function runStage(args: string[], boundSecs: number): Promise<StageResult> {
  const t0 = performance.now();
  mkdirSync(workRoot, { recursive: true });
  const dir = mkdtempSync(join(workRoot, "run-"));
  args = [...args, "--workdir", dir];
  const p = Bun.spawn(["bash", stage, ...args], { cwd: root, stdout: "pipe", stderr: "pipe" });
  let killed = false;
  const term = setTimeout(() => {
    killed = true;
    p.kill("SIGTERM");
    setTimeout(() => p.kill("SIGKILL"), 10_000).unref();
  }, boundSecs * 1000);
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  clearTimeout(term);
  const all = out + (err.trim() ? `\n## stderr:\n${err}` : "") + (killed ? `\n## killed by the test after ${boundSecs}s` : "");
  const lines = out.trim().split("\n");
  const last = lines[lines.length - 1] ?? "";
  const dd: Record<string, number> = {};
  for (const m of last.matchAll(/([a-z]+-direct)=([0-9.]+)/g)) dd[m[1]!] = Number(m[2]);
  return { code, out: all, last, secs: (performance.now() - t0) / 1000, dd, dir };
}
const tidy = (r: StageResult) => rmSync(r.dir, { recursive: true, force: true });

/** Fail with the whole stage output, which ends with the guest console and the target log. */
function expectPass(r: StageResult) {
  if (r.code !== 0 || !r.last.startsWith("PASS")) {
    throw new Error(`the Linux-driver stage did not pass (exit ${r.code}):\n${r.out}`);
  }
}

describe.skipIf(!!why)("Linux aoe driver (kernel 6.1 in qemu) against the target", () => {
  let target = process.env.AOEDE_INTEROP_TARGET ?? "";
  let label = "custom target";
  let buildDir: string | undefined;

  beforeAll(async () => {
    // kernel + initramfs, cached per machine and package version (a download on the first run)
    const prep = await runStage(["--prepare"], 300);
    if (prep.code !== 0) throw new Error(`preparing the VM failed:\n${prep.out}`);
    tidy(prep);
    if (target) {
      label = target.split(" ")[0]!;
      return;
    }
    let bin = process.env.AOEDE_BIN;
    if (bin) {
      bin = resolve(root, bin);
      label = `aoede serve (${bin})`;
    } else {
      buildDir = mkdtempSync(join(tmpdir(), "aoede-interop-bin-"));
      const t0 = performance.now();
      const b = Bun.spawnSync([process.execPath, "scripts/build.ts", "--only", "host", "--outdir", buildDir], {
        cwd: root,
        stdout: "pipe",
        stderr: "pipe",
      });
      if (b.exitCode !== 0) {
        throw new Error(`bun scripts/build.ts --only host failed:\n${b.stdout}${b.stderr}`);
      }
      bin = join(buildDir, "aoede");
      label = "aoede serve (compiled single file)";
      console.log(`linux-driver: built ${bin} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    target = `${bin} serve %SHELF% %SLOT% %IF% %FILE%`;
  }, 400_000);

  afterAll(() => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  // serve, then vblade in the same stage, so that the ratio compares like with like. Reported,
  // not asserted: the guest is emulated (TCG), and its CPU, not the target, sets most of the pace.
  for (const mtu of [1500, 9000]) {
    test(`ext4, checksums, e2fsck and O_DIRECT dd at MTU ${mtu}, beside vblade`, async () => {
      const r = await runStage(["--target", target, "--mtu", String(mtu)], 170);
      expectPass(r);
      console.log(
        `linux-driver: ${label}, MTU ${mtu}: O_DIRECT dd write ${r.dd["write-direct"]} MB/s, ` +
          `read ${r.dd["read-direct"]} MB/s (stage ${r.secs.toFixed(1)} s; ${r.last})`,
      );
      expect(r.dd["write-direct"]).toBeGreaterThan(0);
      expect(r.dd["read-direct"]).toBeGreaterThan(0);
      tidy(r);
      if (process.env.AOEDE_INTEROP_TARGET || !Bun.which("vblade")) return;
      const v = await runStage(["--target", "vblade %SHELF% %SLOT% %IF% %FILE%", "--mtu", String(mtu)], 170);
      expectPass(v);
      const ratio = (k: string) => (Number(r.dd[k]) / Number(v.dd[k])).toFixed(2);
      console.log(
        `linux-driver: vblade, MTU ${mtu}: O_DIRECT dd write ${v.dd["write-direct"]} MB/s, read ${v.dd["read-direct"]} MB/s; ` +
          `serve / vblade: write ${ratio("write-direct")}x, read ${ratio("read-direct")}x`,
      );
      tidy(v);
    }, 360_000);
  }

  // The same target, but its backing file loses whatever is written to it: holes
  // are punched over the whole file every 0.1 s, as if the target dropped writes.
  test("a target that loses its writes makes the stage FAIL", async () => {
    const lossy =
      `sh -c '${target.replaceAll("'", "'\\''")} & ` +
      `while :; do fallocate --punch-hole --offset 0 --length $(stat -c %s %FILE%) %FILE%; sleep 0.1; done'`;
    const r = await runStage(["--target", lossy, "--dd-mb", "16", "--timeout", "90"], 110);
    if (r.code !== 1 || !/^FAIL: guest checks failed/.test(r.last)) {
      throw new Error(`expected FAIL from failed guest checks, got exit ${r.code}:\n${r.out}`);
    }
    tidy(r);
    console.log(`linux-driver: lossy target detected in ${r.secs.toFixed(1)} s: ${r.last}`);
  }, 120_000);

  test("a target that answers nothing makes the stage FAIL", async () => {
    const r = await runStage(["--target", "sleep 600", "--discover-timeout", "4", "--timeout", "60"], 80);
    if (r.code !== 1 || !/^FAIL: guest checks failed: modprobe aoe, discover/.test(r.last)) {
      throw new Error(`expected FAIL at discovery, got exit ${r.code}:\n${r.out}`);
    }
    tidy(r);
    console.log(`linux-driver: silent target detected in ${r.secs.toFixed(1)} s: ${r.last}`);
  }, 90_000);
});
