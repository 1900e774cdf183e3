/**
 * Touching a FUSE mount from a test: always from another process (Bun.spawn), never
 * synchronously from the test's own thread, which is the one serving the mount
 * (../shared/notes/fuse-direct.md, pitfall 10: that would deadlock).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unmountFuse } from "../../ffi/linux/fuse.ts";

export interface ShResult {
  code: number;
  out: string;
  err: string;
}

/** bash -c `cmd`, killed after `ms`. */
export async function sh(cmd: string, ms = 20_000): Promise<ShResult> {
  const p = Bun.spawn(["bash", "-c", cmd], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), ms);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, out, err };
}

/** Like sh, but fails the test with the command's stderr unless it exits 0. */
export async function ok(cmd: string, ms?: number): Promise<string> {
  const r = await sh(cmd, ms);
  if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}: ${r.err.trim()}`);
  return r.out;
}

export function sha256(b: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(b).digest("hex");
}

/** A temp dir with an empty `mnt` inside; dispose() detaches whatever is still mounted there and removes it. */
export function scratch(tag: string): { dir: string; mnt: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), `aoede-fuse-${tag}-`));
  const mnt = join(dir, "mnt");
  Bun.spawnSync(["mkdir", mnt]);
  return {
    dir,
    mnt,
    dispose() {
      for (let i = 0; i < 4 && !unmountFuse(mnt, true); i++); // detach any stack left by a failure
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // EBUSY: a copy of the mount lives on in another process's mount namespace
        // (any `ip netns exec` or `unshare -m` started while it was mounted)
      }
    },
  };
}

/** Whether this process may mount FUSE (root and /dev/fuse). */
export const canMount = process.platform === "linux" && process.getuid?.() === 0 && existsSync("/dev/fuse");

/**
 * Whether some process's mount namespace still holds a mount of FUSE connection
 * `minor` (device 0:minor): such a copy keeps the connection's fusectl entry even
 * after it is aborted (../shared/notes/fuse-direct.md, pitfall 9).
 */
export function copiedElsewhere(minor: number): boolean {
  const dev = ` 0:${minor} `;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/mountinfo`, "utf8").includes(dev)) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}
