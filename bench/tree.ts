/**
 * The aoe(3) tree beside `aoede read` (issue 11: `dd bs=1M` from `data` at
 * >= 0.8x `aoede read` of the same target, in the same run). `aoede serve` of
 * the memory-backed image in namespace A; in namespace B, `aoede read` of N MiB
 * to /dev/null (its own rate: from the first request to the last byte, without
 * start-up and discovery), then `aoede mount` and `dd if=MNT/S.L/data of=/dev/null
 * bs=1M count=N`, with iflag=direct first (no page cache) and then through the page
 * cache (dd's own rate). `ip netns exec` gives the mount a private mount namespace:
 * dd runs in it through nsenter. The mount is gone with its process.
 */
import { spawn, spawnSync } from "bun";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { VethWorld } from "../src/net/netns.ts";
import type { Options } from "./options.ts";
import { aoede, children, dirs, pin, SHELF, SLOT, startTarget, stopChild, TARGET_NAME } from "./procs.ts";

export interface TreeSample {
  mtu: number;
  mib: number;
  /** MB/s (10^6 bytes) */
  readMbps: number;
  ddDirectMbps: number;
  ddCachedMbps: number;
}

/** MiB copied: a short run for --smoke and --quick. */
export function treeMiB(o: Options): number {
  const want = o.smoke ? 16 : o.quick ? 64 : 256;
  return Math.max(1, Math.min(want, Math.floor(o.memBytes / 2 ** 20)));
}

/** One measurement; undefined (with the reason on `warn`) where the tree cannot run. */
export async function treeVersusRead(w: VethWorld, o: Options, image: string, mtu: number, warn: (s: string) => void): Promise<TreeSample | undefined> {
  if (!existsSync("/dev/fuse") || !Bun.which("nsenter")) {
    warn("tree: no /dev/fuse or no nsenter: dd through the aoe(3) tree not measured");
    return undefined;
  }
  const mib = treeMiB(o);
  const env = { ...process.env, NO_COLOR: "1", LC_ALL: "C", NODE_ENV: "production", CONSOLA_LEVEL: "3" };
  const t = await startTarget("aoede", "memory", image, w, o);
  try {
    const read = spawnSync([...pin.load, ...w.prefix(w.nsB), ...aoede.cmd, "read", TARGET_NAME, "/dev/null", "-n", `${mib}M`, "-i", w.ifB, "--progress"], { stdout: "pipe", stderr: "pipe", env });
    const readMbps = Number(/([\d.]+) MB\/s, done in/.exec(read.stderr.toString())?.[1]);
    if (read.exitCode !== 0 || !readMbps) {
      warn(`tree: aoede read exited ${read.exitCode}: ${read.stderr.toString().trim()}`);
      return undefined;
    }

    const dir = mkdtempSync(join(tmpdir(), "aoede-bench-tree-"));
    dirs.add(dir);
    const mnt = join(dir, "aoe");
    mkdirSync(mnt);
    const mount = spawn([...pin.load, ...w.prefix(w.nsB), ...aoede.cmd, "mount", "-i", w.ifB, mnt], { stdin: "ignore", stdout: "ignore", stderr: "pipe", env });
    children.add(mount);
    try {
      const inMount = (cmd: string[]) => spawnSync(["nsenter", "-t", String(mount.pid), "-m", "--", ...cmd], { stdout: "pipe", stderr: "pipe", env });
      const data = `${mnt}/${SHELF}.${SLOT}/data`;
      const deadline = Date.now() + 15_000;
      while (!inMount(["cat", `${mnt}/${SHELF}.${SLOT}/ctl`]).stdout.toString().startsWith("state: up\n")) {
        if (mount.exitCode !== null || Date.now() > deadline) {
          warn(`tree: ${TARGET_NAME} did not come up in the tree (aoede mount ${mount.exitCode === null ? "running" : `exited ${mount.exitCode}`})`);
          return undefined;
        }
        await Bun.sleep(50);
      }
      const dd = (flags: string[]) => {
        const r = inMount([...pin.load, "dd", `if=${data}`, "of=/dev/null", "bs=1M", `count=${mib}`, ...flags]);
        const m = /(\d+) bytes .* copied, ([\d.]+) s/.exec(r.stderr.toString());
        if (r.exitCode !== 0 || !m) {
          warn(`tree: dd ${flags.join(" ")} exited ${r.exitCode}: ${r.stderr.toString().trim()}`);
          return NaN;
        }
        return Number(m[1]) / 1e6 / Number(m[2]);
      };
      const ddDirectMbps = dd(["iflag=direct"]);
      const ddCachedMbps = dd([]);
      return { mtu, mib, readMbps, ddDirectMbps, ddCachedMbps };
    } finally {
      await stopChild(mount);
    }
  } finally {
    await t.stop();
  }
}
