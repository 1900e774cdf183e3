/**
 * The bench's processes and files: what it started and made (removed on exit and
 * on Ctrl-C), the targets under test, CPU pinning, and what /proc says about a
 * process (CPU seconds, resident memory).
 */
import { spawn, spawnSync, type Subprocess } from "bun";
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupAll, type VethWorld } from "../src/net/netns.ts";
import { nativeTool } from "./native.ts";
import { ROOT, type Options, type Store, type TargetKind } from "./options.ts";

export const SHELF = 7;
export const SLOT = 1;
export const TARGET_NAME = `e${SHELF}.${SLOT}`;

// ---- cleanup --------------------------------------------------------------------------------

export const children = new Set<Subprocess>();
export const files = new Set<string>();
export const dirs = new Set<string>();
export const worlds = new Set<VethWorld>();

export function track(p: Subprocess, on: boolean): void {
  if (on) children.add(p);
  else children.delete(p);
}

export function cleanupSync(): void {
  for (const p of children) {
    try {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    } catch {
      // gone already
    }
  }
  children.clear();
  for (const w of worlds) w.dispose();
  worlds.clear();
  cleanupAll();
  for (const f of files) rmSync(f, { force: true });
  files.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

process.on("exit", cleanupSync);

/** SIGTERM a child (SIGKILL after 10 s), wait for its exit and stop tracking it. */
export async function stopChild(proc: Subprocess): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await proc.exited;
  clearTimeout(timer);
  children.delete(proc);
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}: cleaning up\n`);
    cleanupSync();
    process.exit(sig === "SIGINT" ? 130 : 143);
  });
}

// ---- /proc ----------------------------------------------------------------------------------

/** VmRSS and VmHWM of a process, KiB. */
export function memOf(pid: number): { rss: number; hwm: number; anon: number; file: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? NaN);
    return { rss: get("VmRSS"), hwm: get("VmHWM"), anon: get("RssAnon"), file: get("RssFile") };
  } catch {
    return undefined;
  }
}

/** Nanoseconds on a CPU, summed over the threads of a process (/proc/PID/task/N/schedstat): precise where ticks are 10 ms. */
export function cpuNsOf(pid: number): number {
  let ns = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended
      }
    }
  } catch {
    return NaN;
  }
  return ns;
}

// ---- pinning and the aoede under test ---------------------------------------------------------

/** taskset prefixes: with --pin, the target on the first half of the CPUs, the load generator on the rest */
export const pin = { target: [] as string[], load: [] as string[], description: "not pinned (the scheduler places target and load generator; --pin to pin)" };

export function choosePinning(o: Options): void {
  const chrt = o.rt ? Bun.which("chrt") : null;
  if (o.rt && chrt) {
    pin.target = [chrt, "-f", "10"];
    pin.load = [chrt, "-f", "10"];
  }
  const rt = o.rt ? (chrt ? ", real-time priority (chrt -f 10)" : ", NOT real-time (no chrt: apt-get install util-linux)") : "";
  pin.description = `not pinned (the scheduler places target and load generator; --pin to pin)${rt}`;
  if (!o.pin) return;
  const n = cpus().length;
  const taskset = Bun.which("taskset");
  if (n < 2 || !taskset) {
    pin.description = (n < 2 ? "not pinned (one CPU)" : "not pinned (no taskset: apt-get install util-linux)") + rt;
    return;
  }
  const half = Math.floor(n / 2);
  const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);
  const t = o.targetCpus ?? range(0, half - 1);
  const l = o.loadCpus ?? range(half, n - 1);
  pin.target = [...pin.target, taskset, "-c", t];
  pin.load = [...pin.load, taskset, "-c", l];
  pin.description = `pinned: target on CPU ${t}, load generator on CPU ${l} (taskset)${rt}`;
}

export const aoede = { cmd: [] as string[], description: "" };

function newest(dir: string): number {
  let t = 0;
  for (const e of new Bun.Glob("**/*.ts").scanSync({ cwd: dir, absolute: true })) t = Math.max(t, Bun.file(e).lastModified);
  return t;
}

function gitRev(): string {
  const r = spawnSync(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], { stdout: "pipe", stderr: "ignore" });
  const dirty = spawnSync(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "ffi"], { stdout: "pipe", stderr: "ignore" });
  return r.exitCode === 0 ? `${r.stdout.toString().trim()}${dirty.stdout.toString().trim() ? "+changes" : ""}` : "unknown";
}

/** Decide how aoede runs: the given binary, a fresh build of this checkout, or the source. */
export function chooseAoede(o: Options): void {
  const bun = process.execPath;
  if (o.binary) {
    aoede.cmd = [o.binary];
    aoede.description = `${o.binary} (given with --binary)`;
    return;
  }
  if (!o.source) {
    const dist = join(ROOT, "dist/aoede");
    const src = Math.max(newest(join(ROOT, "src")), newest(join(ROOT, "ffi")));
    if (existsSync(dist) && Bun.file(dist).lastModified >= src) {
      aoede.cmd = [dist];
      aoede.description = `dist/aoede (compiled, newer than every source file; checkout ${gitRev()})`;
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "aoede-bench-bin-"));
    dirs.add(dir);
    const r = spawnSync([bun, join(ROOT, "scripts/build.ts"), "--only", "host", "--outdir", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const bin = join(dir, "aoede");
    if (r.exitCode === 0 && existsSync(bin)) {
      aoede.cmd = [bin];
      aoede.description = `compiled from this checkout (${gitRev()}) by scripts/build.ts --only host (dist/aoede is older than the source)`;
      return;
    }
    process.stderr.write(`bench: could not build a binary (${r.stderr.toString().trim().split("\n").pop()}); running from source\n`);
  }
  aoede.cmd = [bun, join(ROOT, "src/cli/main.ts")];
  aoede.description = `bun src/cli/main.ts (from source, checkout ${gitRev()})`;
}

export function haveVblade(): string | undefined {
  return Bun.which("vblade", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }) ?? undefined;
}

// ---- targets --------------------------------------------------------------------------------

export interface RunningTarget {
  kind: TargetKind;
  pid: number;
  output: () => string;
  stop(): Promise<void>;
}

export function targetLabel(k: TargetKind, o: Options): string {
  switch (k) {
    case "aoede":
      return `serve -b ${o.aoedeBufcnt}`;
    case "vblade64":
      return "vblade -b 64";
    case "vblade":
      return "vblade";
    case "null":
      return "null (C)";
  }
}

function targetArgv(k: TargetKind, store: Store, file: string, w: VethWorld, o: Options): string[] {
  const direct = store === "disk" ? ["-d"] : [];
  const where = [String(SHELF), String(SLOT), w.ifA];
  switch (k) {
    case "aoede":
      return [...aoede.cmd, "serve", "-b", String(o.aoedeBufcnt), ...direct, ...where, file];
    case "vblade64":
      return ["vblade", "-b", "64", ...direct, ...where, file];
    case "vblade":
      return ["vblade", ...direct, ...where, file];
    case "null":
      return [nativeTool("nulltarget"), "-b", "64", "--size", String(o.memBytes), ...where];
  }
}

export async function startTarget(k: TargetKind, store: Store, file: string, w: VethWorld, o: Options, extraEnv: Record<string, string> = {}): Promise<RunningTarget> {
  const argv = [...pin.target, ...w.prefix(w.nsA), ...targetArgv(k, store, file, w, o)];
  const proc = spawn(argv, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    // consola stays quiet under NODE_ENV=test (bun test): the start-up line is how we know it serves
    env: { ...process.env, NODE_ENV: "production", CONSOLA_LEVEL: "3", NO_COLOR: "1", PATH: `${process.env.PATH}:/usr/sbin:/sbin`, ...extraEnv },
  });
  children.add(proc);
  let out = "";
  const collect = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const c of s) out += dec.decode(c, { stream: true });
  };
  void collect(proc.stdout).catch(() => {});
  void collect(proc.stderr).catch(() => {});
  const deadline = Date.now() + 10_000;
  while (!/sectors/.test(out)) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      children.delete(proc);
      throw new Error(`${argv.join(" ")} exited (${proc.exitCode ?? proc.signalCode}):\n${out}`);
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      children.delete(proc);
      throw new Error(`${argv.join(" ")} did not start within 10 s:\n${out}`);
    }
    await Bun.sleep(20);
  }
  return {
    kind: k,
    pid: proc.pid,
    output: () => out,
    stop: () => stopChild(proc),
  };
}

/** A file of `size` random bytes, written through and synced. */
export function writeImage(path: string, size: number): void {
  const fd = openSync(path, "w");
  files.add(path);
  try {
    const block = new Uint8Array(4 << 20);
    for (let at = 0; at < block.length; at += 65536) crypto.getRandomValues(block.subarray(at, at + 65536));
    for (let done = 0; done < size; ) {
      const n = Math.min(block.length, size - done);
      // vary the block a little so that no layer below can deduplicate it
      new DataView(block.buffer).setFloat64(0, Math.random());
      done += writeSync(fd, block, 0, n);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function machine(): string {
  const model = cpus()[0]?.model ?? "unknown CPU";
  const kernel = spawnSync(["uname", "-r"], { stdout: "pipe" }).stdout.toString().trim();
  const mem = Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 2 ** 20);
  return `${cpus().length} x ${model}, ${mem} GiB RAM, Linux ${kernel}, Bun ${Bun.version}`;
}
