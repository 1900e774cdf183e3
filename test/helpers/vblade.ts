/**
 * Test peers: vblade 25 (Debian's package) run inside a test namespace, and
 * image files of random bytes with their sha256.
 */
import { spawn, type Subprocess } from "bun";
import { createHash, randomFillSync } from "node:crypto";
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function haveVblade(): boolean {
  return Bun.which("vblade") !== null || Bun.which("vblade", { PATH: "/usr/sbin:/sbin" }) !== null;
}

export interface RunningVblade {
  proc: Subprocess;
  /** what vblade printed at start ("pid N: e1.0, S sectors O_RDWR") */
  banner: string;
  stop(): Promise<void>;
}

/** Starts `vblade [-b bufcnt] shelf slot netif file` in `ns`; resolves once it serves. */
export async function startVblade(
  ns: string,
  netif: string,
  shelf: number,
  slot: number,
  file: string,
  opts: { bufcnt?: number; extra?: string[] } = {},
): Promise<RunningVblade> {
  const args = ["ip", "netns", "exec", ns, "vblade"];
  if (opts.bufcnt) args.push("-b", String(opts.bufcnt));
  args.push(...(opts.extra ?? []), String(shelf), String(slot), netif, file);
  const proc = spawn(args, { stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  const reader = proc.stdout.getReader();
  let banner = "";
  const deadline = Date.now() + 5000;
  // One read at a time: a read abandoned to the 100 ms timer would take the banner with it.
  let pending: ReturnType<typeof reader.read> | undefined;
  while (!banner.includes("\n") && Date.now() < deadline) {
    pending ??= reader.read();
    const r = await Promise.race([pending, Bun.sleep(100).then(() => undefined)]);
    if (r) pending = undefined;
    if (r && !r.done) banner += new TextDecoder().decode(r.value);
    if (r?.done) break;
    if (proc.exitCode !== null) break;
  }
  reader.releaseLock();
  if (!banner.includes("sectors")) {
    proc.kill();
    const err = await new Response(proc.stderr).text();
    throw new Error(`vblade did not start: ${banner} ${err}`);
  }
  return {
    proc,
    banner: banner.trim(),
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

export interface Image {
  dir: string;
  path: string;
  size: number;
  sha256: string;
  dispose(): void;
}

/**
 * A file of `size` random bytes (seeded per call) in a fresh temporary directory
 * (under `parent`, default the system's temporary directory).
 */
export function makeImage(size: number, name = "disk.img", parent = tmpdir()): Image {
  const dir = mkdtempSync(join(parent, "aoede-img-"));
  const path = join(dir, name);
  const fd = openSync(path, "w");
  const hash = createHash("sha256");
  const block = new Uint8Array(1 << 20);
  for (let done = 0; done < size; ) {
    const n = Math.min(block.length, size - done);
    const b = block.subarray(0, n);
    randomFillSync(b);
    writeSync(fd, b);
    hash.update(b);
    done += n;
  }
  closeSync(fd);
  return { dir, path, size, sha256: hash.digest("hex"), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
