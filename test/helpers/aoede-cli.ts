/**
 * The initiator's command line as a child process inside a test namespace:
 * `ip netns exec NS bun src/cli/main.ts ARGS...` (or a compiled binary, with
 * `bin`), with its exit status, stdout (bytes and text) and stderr.
 */
import path from "node:path";

export const MAIN = path.join(import.meta.dir, "../../src/cli/main.ts");

export interface CliResult {
  code: number;
  stdout: Uint8Array;
  out: string;
  err: string;
  /** wall time, ms */
  ms: number;
}

export async function aoede(
  ns: string,
  args: string[],
  opts: { stdinFile?: string; killAfterMs?: number; /** a compiled aoede to run instead of the sources */ bin?: string } = {},
): Promise<CliResult> {
  const t0 = performance.now();
  const cmd = opts.bin ? [opts.bin] : [process.execPath, MAIN];
  const proc = Bun.spawn(["ip", "netns", "exec", ns, ...cmd, ...args], {
    stdin: opts.stdinFile ? Bun.file(opts.stdinFile) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.killAfterMs ?? 120_000);
  const [stdout, err, code] = await Promise.all([
    new Response(proc.stdout).arrayBuffer(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  const bytes = new Uint8Array(stdout);
  return { code, stdout: bytes, out: new TextDecoder().decode(bytes), err, ms: performance.now() - t0 };
}

/** Polls `aoede discover` in `ns` until `name` answers (targets need a moment to start). */
export async function waitForTarget(ns: string, name: string, ms = 20_000, opts: { bin?: string } = {}): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await aoede(ns, ["discover", "--json", "--timeout", "300"], { bin: opts.bin });
    if (r.code === 0 && (JSON.parse(r.out) as { target: string }[]).some((t) => t.target === name)) return;
    if (Date.now() > deadline) throw new Error(`${name} did not answer in ${ns}: ${r.err}`);
    await Bun.sleep(100);
  }
}

/** MB/s of `bytes` in `ms`. */
export const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);
