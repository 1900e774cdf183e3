/**
 * The native instrument (bench/native/*.c): built with the system C compiler
 * (`cc -O2`, or $CC) into node_modules/.cache/aoede-native/, one executable per
 * source hash, so an edit to the C source (or aoe.h) builds a new one and an
 * unchanged source is never rebuilt. Used by `bun run bench` and the tests.
 */
import { spawn, spawnSync } from "bun";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const SOURCE_DIR = join(ROOT, "bench/native");
export const NATIVE_CACHE = join(ROOT, "node_modules/.cache/aoede-native");
const CFLAGS = ["-O2", "-Wall", "-Wextra", "-std=gnu11"];

export type NativeTool = "loadgen" | "nulltarget";

export class NativeBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NativeBuildError";
  }
}

/** The path of an up-to-date build of bench/native/<tool>.c; compiles it when the source changed. */
export function nativeTool(tool: NativeTool): string {
  return compileC(join(SOURCE_DIR, `${tool}.c`), { headers: [join(SOURCE_DIR, "aoe.h")] });
}

/**
 * The path of an up-to-date build of the C program `source` (also used by soak/):
 * built with $CC or cc into NATIVE_CACHE, named by a hash of the source, its
 * `headers`, the compiler and the flags, so that an edit builds anew and an unchanged
 * source is never rebuilt. `pkg`: a pkg-config package to compile and link with.
 */
export function compileC(source: string, o: { headers?: string[]; pkg?: string } = {}): string {
  const name = basename(source, ".c");
  const cc = process.env.CC || Bun.which("cc") || Bun.which("gcc");
  if (!cc) throw new NativeBuildError(`${name}.c needs a C compiler (cc): install gcc and libc6-dev (bash scripts/setup.sh --test does)`);
  let pkgFlags: string[] = [];
  if (o.pkg) {
    const p = spawnSync(["pkg-config", "--cflags", "--libs", o.pkg], { stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new NativeBuildError(`${name}.c needs ${o.pkg} (pkg-config): bash scripts/setup.sh --test installs it`);
    pkgFlags = p.stdout.toString().trim().split(/\s+/);
  }
  const hash = createHash("sha256");
  for (const f of [source, ...(o.headers ?? [])]) hash.update(readFileSync(f));
  hash.update([cc, ...CFLAGS, ...pkgFlags].join(" "));
  const out = join(NATIVE_CACHE, `${name}-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  mkdirSync(NATIVE_CACHE, { recursive: true });
  // compile beside, then rename: a concurrent build (two test files) never runs a half-written file
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync([cc, ...CFLAGS, "-o", tmp, source, ...pkgFlags], { cwd: dirname(source), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    rmSync(tmp, { force: true });
    throw new NativeBuildError(`${cc} ${CFLAGS.join(" ")} ${source} failed:\n${r.stderr.toString()}`);
  }
  renameSync(tmp, out);
  // builds of older sources are of no more use (a running one keeps its inode)
  for (const f of readdirSync(NATIVE_CACHE)) if (f.startsWith(`${name}-`) && !f.endsWith(".tmp") && join(NATIVE_CACHE, f) !== out) rmSync(join(NATIVE_CACHE, f), { force: true });
  return out;
}

export type LoadgenMode = "read" | "write" | "randread" | "randwrite";
export const LOADGEN_MODES: LoadgenMode[] = ["read", "write", "randread", "randwrite"];

/** What loadgen prints (its last line), field for field. */
export interface LoadgenResult {
  type: "result";
  mode: LoadgenMode;
  target: string;
  target_mac: string;
  mtu: number;
  bufcnt: number;
  size_sectors: number;
  region_first: number;
  region_sectors: number;
  window: number;
  /** requests in flight: window / frames_per_request */
  depth: number;
  sectors: number;
  frames_per_request: number;
  seconds: number;
  requests: number;
  bytes: number;
  mbps: number;
  iops: number;
  frames_per_s: number;
  p50_us: number;
  p99_us: number;
  resends: number;
  errors: number;
  timeouts: number;
  verify: boolean;
  verified_sectors: number;
  verify_failures: number;
  duplicates: number;
  stray: number;
  frames_sent: number;
  frames_received: number;
  cpu_s: number;
  first_error: string;
}

export interface LoadgenArgs {
  iface: string;
  /** shelf.slot, such as "7.1"; default: the first target to answer a broadcast */
  target?: string;
  mode?: LoadgenMode;
  window?: number;
  sectors?: number;
  durationS?: number;
  warmupS?: number;
  /** "FIRST:COUNT" or "COUNT", sectors */
  region?: string;
  verify?: boolean;
  seed?: number;
  timeoutMs?: number;
  retries?: number;
  /** keep polling this many µs after the last reply before blocking (default 0) */
  spinUs?: number;
}

export function loadgenArgv(a: LoadgenArgs): string[] {
  const v: string[] = ["-i", a.iface];
  const opt = (flag: string, x: string | number | undefined) => x !== undefined && v.push(flag, String(x));
  opt("-t", a.target);
  opt("-m", a.mode);
  opt("-w", a.window);
  opt("-s", a.sectors);
  opt("-d", a.durationS);
  opt("--warmup", a.warmupS);
  opt("-r", a.region);
  opt("--seed", a.seed);
  opt("--timeout", a.timeoutMs);
  opt("--retries", a.retries);
  opt("--spin", a.spinUs);
  if (a.verify) v.push("--verify");
  return v;
}

export interface LoadgenRun {
  /** undefined when it printed no result (no target answered, a usage error) */
  result?: LoadgenResult;
  code: number;
  stderr: string;
}

/**
 * Runs loadgen (argv `prefix` first: `ip netns exec NS`, taskset) and waits for it.
 * `onPhase` is told when the measured interval begins and ends (--phases).
 */
export async function runLoadgen(prefix: string[], a: LoadgenArgs, onPhase?: (p: "begin" | "end") => void, track?: (p: ReturnType<typeof spawn>, on: boolean) => void): Promise<LoadgenRun> {
  const argv = [...prefix, nativeTool("loadgen"), ...loadgenArgv(a), ...(onPhase ? ["--phases"] : [])];
  const proc = spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  track?.(proc, true);
  try {
    const errText = new Response(proc.stderr).text();
    let result: LoadgenResult | undefined;
    const dec = new TextDecoder();
    let buf = "";
    const line = (s: string) => {
      let m: { type?: string };
      try {
        m = JSON.parse(s);
      } catch {
        return;
      }
      if (m.type === "begin" || m.type === "end") onPhase?.(m.type);
      else if (m.type === "result") result = m as LoadgenResult;
    };
    for await (const chunk of proc.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        line(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    if (buf) line(buf);
    const code = await proc.exited;
    return { result, code, stderr: await errText };
  } finally {
    track?.(proc, false);
  }
}
