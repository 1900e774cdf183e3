#!/usr/bin/env bun
/**
 * bench/run.ts — `bun run bench` (as root): AoEde against vblade, side by side.
 *
 * Builds a private world (two network namespaces joined by a veth pair, names
 * of its own, removed on exit and on Ctrl-C), puts the target under test in one
 * namespace and AoEde's initiator (`aoede bench`, the load generator) in the
 * other, and for each MTU (1500, 9000) and backing store (memory: a file in
 * /dev/shm; disk: a file under /var/tmp written first, targets with -d O_DIRECT)
 * runs every workload for a fixed time against each target, the targets taking
 * turns in every run:
 *
 *   aoede      `aoede serve -b 64` (compiled from this checkout; --source: bun src/cli/main.ts)
 *   vblade64   `vblade -b 64` (Debian's vblade 25)
 *   vblade     `vblade` with its default buffer count (16)
 *   null       `aoede bench --null-target`: no storage at all (memory part only), the
 *              ceiling of the loop and the raw links
 *
 * Workloads: sequential read and write with the largest frame the MTU allows,
 * random 4 KiB reads and writes; the initiator's window at the target's buffer
 * count. Reported: MB/s, IOPS, p50/p99 latency, resends, CPU seconds of the
 * target process (/proc/PID/stat utime+stime) while measuring, the medians of
 * the runs, and the ratios AoEde/vblade and AoEde/null. Then the idle cost of
 * `aoede serve` (CPU over --idle seconds without traffic, summed over its threads
 * from /proc/PID/task/N/schedstat: right after start-up, 40 s later when Bun's
 * 1 Hz GC timer has gone quiet, and after start-up with that timer off,
 * BUN_GC_TIMER_DISABLE=1) and its resident memory under load (VmHWM), and
 * the goals of issue 6, met or not.
 *
 * Usage: bun bench/run.ts [options]
 *   --duration S     measured seconds per workload (default 3)
 *   --warmup S       load before measuring, seconds (default 0.5)
 *   --runs N         runs per target, medians reported (default 3)
 *   --mtu LIST       default 1500,9000
 *   --store LIST     memory,disk (default both)
 *   --targets LIST   aoede,vblade64,vblade,null (default all; vblade* need vblade)
 *   --workloads LIST seqread,seqwrite,randread,randwrite (default all)
 *   --idle S         idle measurement of aoede serve, seconds (default 10; 0: skip)
 *   --mem-size SIZE  memory-backed file (default 512M)
 *   --disk-size SIZE disk-backed file (default 2G)
 *   --aoede-bufcnt N aoede serve -b (default 64)
 *   --binary PATH    the aoede executable to test (default: build one from this checkout)
 *   --source         run aoede from source (bun src/cli/main.ts) instead of compiled
 *   --json FILE      write every raw result as JSON
 *   --markdown FILE  write the report as Markdown (the README's Benchmarks section)
 *   --no-pin         let the scheduler place target and load generator (default: the
 *                    target on the first half of the CPUs, the initiator on the other half)
 *   --target-cpus L  CPUs for the target (taskset list, e.g. 1), and
 *   --load-cpus L    for the load generator, instead of the halves
 *   --smoke          a few seconds: 1 run of 0.3 s, MTU 1500, memory only, idle 1 s
 *
 * Pinning: on a 2-CPU VM an unpinned run varies by +-30 % from run to run (the
 * threads of both processes land on either vCPU, and a wake-up across vCPUs is
 * an IPI the hypervisor has to deliver); one CPU each, runs agree within a few %.
 */
import { spawn, spawnSync, type Subprocess } from "bun";
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { makeVethWorld, netnsUnavailable, sweepStale, cleanupAll, type VethWorld } from "../src/net/netns.ts";
import { bytes, formatTable, int, median, num, ratio } from "../src/bench/format.ts";
import type { WorkloadResult, Workload } from "../src/bench/loadgen.ts";

const ROOT = resolve(import.meta.dir, "..");
const SHELF = 7;
const SLOT = 1;
const TARGET_NAME = `e${SHELF}.${SLOT}`;
const CLK_TCK = 100;
/** when the second idle window starts, s after start-up (Bun's GC timer is quiet by then) */
const IDLE_SETTLE_S = 40;

// ---- options --------------------------------------------------------------------------------

type Store = "memory" | "disk";
type TargetKind = "aoede" | "vblade64" | "vblade" | "null";
const ALL_TARGETS: TargetKind[] = ["aoede", "vblade64", "vblade", "null"];
const ALL_WORKLOADS: Workload[] = ["seqread", "seqwrite", "randread", "randwrite"];

interface Options {
  durationS: number;
  warmupS: number;
  runs: number;
  mtus: number[];
  stores: Store[];
  targets: TargetKind[];
  workloads: Workload[];
  idleS: number;
  memBytes: number;
  diskBytes: number;
  aoedeBufcnt: number;
  binary?: string;
  source: boolean;
  json?: string;
  markdown?: string;
  smoke: boolean;
  pin: boolean;
  targetCpus?: string;
  loadCpus?: string;
}

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg} (see the comment at the top of bench/run.ts)\n`);
  process.exit(2);
}

function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) usage(`"${s}" is not a size`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}

function list<T extends string>(s: string, allowed: readonly T[], what: string): T[] {
  const out = s.split(",").map((x) => x.trim()).filter(Boolean) as T[];
  for (const x of out) if (!allowed.includes(x)) usage(`unknown ${what} "${x}": one of ${allowed.join(", ")}`);
  return [...new Set(out)];
}

function parseOptions(argv: string[]): Options {
  const o: Options = {
    durationS: 3,
    warmupS: 0.5,
    runs: 3,
    mtus: [1500, 9000],
    stores: ["memory", "disk"],
    targets: [...ALL_TARGETS],
    workloads: [...ALL_WORKLOADS],
    idleS: 10,
    memBytes: 512 * 2 ** 20,
    diskBytes: 2 * 2 ** 30,
    aoedeBufcnt: 64,
    source: false,
    smoke: false,
    pin: true,
  };
  const explicit = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    const val = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const number = (min: number): number => {
      const v = Number(val());
      if (!Number.isFinite(v) || v < min) usage(`${name} needs a number >= ${min}`);
      return v;
    };
    explicit.add(name);
    switch (name) {
      case "--duration":
        o.durationS = number(0.05);
        break;
      case "--warmup":
        o.warmupS = number(0);
        break;
      case "--runs":
        o.runs = Math.floor(number(1));
        break;
      case "--mtu":
        o.mtus = val().split(",").map((x) => {
          const n = Number(x);
          if (!Number.isInteger(n) || n < 576 || n > 65535) usage(`MTU "${x}" is not between 576 and 65535`);
          return n;
        });
        break;
      case "--store":
        o.stores = list(val(), ["memory", "disk"] as const, "store");
        break;
      case "--targets":
        o.targets = list(val(), ALL_TARGETS, "target");
        break;
      case "--workloads":
        o.workloads = list(val(), ALL_WORKLOADS, "workload");
        break;
      case "--idle":
        o.idleS = number(0);
        break;
      case "--mem-size":
        o.memBytes = parseBytes(val());
        break;
      case "--disk-size":
        o.diskBytes = parseBytes(val());
        break;
      case "--aoede-bufcnt":
        o.aoedeBufcnt = Math.floor(number(1));
        break;
      case "--binary":
        o.binary = resolve(val());
        break;
      case "--source":
        o.source = true;
        break;
      case "--json":
        o.json = resolve(val());
        break;
      case "--markdown":
        o.markdown = resolve(val());
        break;
      case "--smoke":
        o.smoke = true;
        break;
      case "--no-pin":
        o.pin = false;
        break;
      case "--target-cpus":
        o.targetCpus = val();
        break;
      case "--load-cpus":
        o.loadCpus = val();
        break;
      case "-h":
      case "--help":
        console.log(readFileSync(import.meta.path, "utf8").split("*/")[0]!.replace(/^#!.*\n\/\*\*\n?/, "").replace(/^ \* ?/gm, ""));
        process.exit(0);
      default:
        usage(`unknown option ${a}`);
    }
  }
  if (o.smoke) {
    const d = (k: string, f: () => void) => explicit.has(k) || f();
    d("--duration", () => (o.durationS = 0.3));
    d("--warmup", () => (o.warmupS = 0.1));
    d("--runs", () => (o.runs = 1));
    d("--mtu", () => (o.mtus = [1500]));
    d("--store", () => (o.stores = ["memory"]));
    d("--targets", () => (o.targets = ["aoede", "vblade64", "null"]));
    d("--idle", () => (o.idleS = 1));
    d("--mem-size", () => (o.memBytes = 64 * 2 ** 20));
    d("--disk-size", () => (o.diskBytes = 64 * 2 ** 20));
  }
  return o;
}

// ---- cleanup --------------------------------------------------------------------------------

const children = new Set<Subprocess>();
const files = new Set<string>();
const dirs = new Set<string>();
let world: VethWorld | undefined;

function cleanupSync(): void {
  for (const p of children) {
    try {
      if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    } catch {
      // gone already
    }
  }
  children.clear();
  world?.dispose();
  world = undefined;
  cleanupAll();
  for (const f of files) rmSync(f, { force: true });
  files.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

process.on("exit", cleanupSync);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}: cleaning up\n`);
    cleanupSync();
    process.exit(sig === "SIGINT" ? 130 : 143);
  });
}

// ---- processes ------------------------------------------------------------------------------

/** /proc/PID/stat utime+stime, in seconds (every thread of the process). */
function cpuOf(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // fields after the command: state is field 3, utime 14, stime 15 (1-based in proc(5))
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** VmRSS and VmHWM of a process, KiB. */
function memOf(pid: number): { rss: number; hwm: number; anon: number; file: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? NaN);
    return { rss: get("VmRSS"), hwm: get("VmHWM"), anon: get("RssAnon"), file: get("RssFile") };
  } catch {
    return undefined;
  }
}

/** Nanoseconds on a CPU, summed over the threads of a process (/proc/PID/task/N/schedstat): precise where ticks are 10 ms. */
function cpuNsOf(pid: number): number {
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

/** Lines of a stream, as they come. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf;
}

interface RunningTarget {
  kind: TargetKind;
  pid: number;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output: () => string;
  stop(): Promise<void>;
}

let aoedeCmd: string[] = [];
/** taskset prefixes: the target on the first half of the CPUs, the load generator on the rest */
let pinTarget: string[] = [];
let pinLoad: string[] = [];
let pinDescription = "not pinned";

function choosePinning(o: Options): void {
  const n = cpus().length;
  const taskset = Bun.which("taskset");
  if (!o.pin || n < 2 || !taskset) {
    if (o.pin && n >= 2) pinDescription = "not pinned (no taskset: apt-get install util-linux)";
    return;
  }
  const half = Math.floor(n / 2);
  const range = (a: number, b: number) => (a === b ? `${a}` : `${a}-${b}`);
  const t = o.targetCpus ?? range(0, half - 1);
  const l = o.loadCpus ?? range(half, n - 1);
  pinTarget = [taskset, "-c", t];
  pinLoad = [taskset, "-c", l];
  pinDescription = `target on CPU ${t}, load generator on CPU ${l} (taskset)`;
}
let aoedeDescription = "";

function targetLabel(k: TargetKind, o: Options): string {
  switch (k) {
    case "aoede":
      return `aoede -b ${o.aoedeBufcnt}`;
    case "vblade64":
      return "vblade -b 64";
    case "vblade":
      return "vblade (-b 16)";
    case "null":
      return "null target";
  }
}

function targetArgv(k: TargetKind, store: Store, file: string, w: VethWorld, o: Options): string[] {
  const direct = store === "disk" ? ["-d"] : [];
  switch (k) {
    case "aoede":
      return [...aoedeCmd, "serve", "-b", String(o.aoedeBufcnt), ...direct, String(SHELF), String(SLOT), w.ifA, file];
    case "vblade64":
      return ["vblade", "-b", "64", ...direct, String(SHELF), String(SLOT), w.ifA, file];
    case "vblade":
      return ["vblade", ...direct, String(SHELF), String(SLOT), w.ifA, file];
    case "null":
      return [...aoedeCmd, "bench", "--null-target", TARGET_NAME, "-i", w.ifA, "-b", "64", "--size", String(o.memBytes)];
  }
}

async function startTarget(k: TargetKind, store: Store, file: string, w: VethWorld, o: Options, extraEnv: Record<string, string> = {}): Promise<RunningTarget> {
  const argv = [...pinTarget, ...w.prefix(w.nsA), ...targetArgv(k, store, file, w, o)];
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
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(timer);
      children.delete(proc);
    },
  };
}

/** One measured workload against one target in one run. */
interface Sample extends WorkloadResult {
  /** CPU seconds the target process used while measuring */
  targetCpuS: number;
  /** the target's VmRSS at the end of the workload, KiB */
  targetRssKiB: number;
}

interface TargetInfoLine {
  bufferCount: number;
  window: number;
  maxSectors: number;
  mtu: number;
  model: string;
}

/** Runs the load generator in nsB against the running target; returns one sample per workload. */
async function runLoad(t: RunningTarget, w: VethWorld, o: Options, workloads: Workload[]): Promise<{ info?: TargetInfoLine; samples: Sample[] }> {
  const argv = [
    ...pinLoad,
    ...w.prefix(w.nsB),
    ...aoedeCmd,
    "bench",
    TARGET_NAME,
    "-i",
    w.ifB,
    "--json",
    "--write",
    "-w",
    workloads.join(","),
    "--duration",
    String(o.durationS),
    "--warmup",
    String(o.warmupS),
    "--timeout",
    "5000",
  ];
  const proc = spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  children.add(proc);
  const errText = new Response(proc.stderr).text();
  let info: TargetInfoLine | undefined;
  const samples: Sample[] = [];
  let cpuBegin: number | undefined;
  let cpuEnd: number | undefined;
  try {
    for await (const line of lines(proc.stdout)) {
      let msg: { type: string; [k: string]: unknown };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.type === "begin") cpuBegin = cpuOf(t.pid);
      else if (msg.type === "end") cpuEnd = cpuOf(t.pid);
      else if (msg.type === "target") info = msg as unknown as TargetInfoLine;
      else if (msg.type === "result") {
        const r = msg as unknown as WorkloadResult;
        samples.push({
          ...r,
          targetCpuS: cpuBegin !== undefined && cpuEnd !== undefined ? cpuEnd - cpuBegin : NaN,
          targetRssKiB: memOf(t.pid)?.rss ?? NaN,
        });
        cpuBegin = cpuEnd = undefined;
      }
    }
    const code = await proc.exited;
    if (samples.length < workloads.length) {
      throw new Error(`the load generator exited ${code} after ${samples.length} of ${workloads.length} workloads:\n${await errText}\ntarget output:\n${t.output()}`);
    }
  } finally {
    children.delete(proc);
  }
  return { info, samples };
}

// ---- setup ----------------------------------------------------------------------------------

function newest(dir: string): number {
  let t = 0;
  const walk = (d: string) => {
    for (const e of new Bun.Glob("**/*.ts").scanSync({ cwd: d, absolute: true })) {
      const m = Bun.file(e).lastModified;
      if (m > t) t = m;
    }
  };
  walk(dir);
  return t;
}

function gitRev(): string {
  const r = spawnSync(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], { stdout: "pipe", stderr: "ignore" });
  const dirty = spawnSync(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "ffi"], { stdout: "pipe", stderr: "ignore" });
  return r.exitCode === 0 ? `${r.stdout.toString().trim()}${dirty.stdout.toString().trim() ? "+changes" : ""}` : "unknown";
}

/** Decide how aoede runs: the given binary, a fresh build of this checkout, or the source. */
function chooseAoede(o: Options): void {
  const bun = process.execPath;
  if (o.binary) {
    aoedeCmd = [o.binary];
    aoedeDescription = `${o.binary} (given with --binary)`;
    return;
  }
  if (!o.source) {
    const dist = join(ROOT, "dist/aoede");
    const src = Math.max(newest(join(ROOT, "src")), newest(join(ROOT, "ffi")));
    if (existsSync(dist) && Bun.file(dist).lastModified >= src) {
      aoedeCmd = [dist];
      aoedeDescription = `dist/aoede (compiled, newer than every source file; checkout ${gitRev()})`;
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "aoede-bench-bin-"));
    dirs.add(dir);
    const r = spawnSync([bun, join(ROOT, "scripts/build.ts"), "--only", "host", "--outdir", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const bin = join(dir, "aoede");
    if (r.exitCode === 0 && existsSync(bin)) {
      aoedeCmd = [bin];
      aoedeDescription = `compiled from this checkout (${gitRev()}) by scripts/build.ts --only host (dist/aoede is older than the source)`;
      return;
    }
    process.stderr.write(`bench: could not build a binary (${r.stderr.toString().trim().split("\n").pop()}); running from source\n`);
  }
  aoedeCmd = [bun, join(ROOT, "src/cli/main.ts")];
  aoedeDescription = `bun src/cli/main.ts (from source, checkout ${gitRev()})`;
}

/** A file of `size` random bytes, written through and synced. */
function writeImage(path: string, size: number): void {
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

// ---- the report -----------------------------------------------------------------------------

type Results = Map<string, Sample[]>; // key: store|mtu|target|workload

const key = (s: Store, mtu: number, t: TargetKind, w: Workload) => `${s}|${mtu}|${t}|${w}`;

interface Med {
  mbps?: number;
  iops?: number;
  p50Us?: number;
  p99Us?: number;
  resends?: number;
  targetCpuS?: number;
  errors?: number;
  n: number;
}

function med(samples: Sample[] | undefined): Med | undefined {
  if (!samples || samples.length === 0) return undefined;
  return {
    mbps: median(samples.map((s) => s.mbps)),
    iops: median(samples.map((s) => s.iops)),
    p50Us: median(samples.map((s) => s.p50Us)),
    p99Us: median(samples.map((s) => s.p99Us)),
    resends: median(samples.map((s) => s.resends)),
    targetCpuS: median(samples.map((s) => s.targetCpuS)),
    errors: Math.max(...samples.map((s) => s.errors)),
    n: samples.length,
  };
}

const METRICS = ["MB/s", "IOPS", "p50 us", "p99 us", "resends", "target CPU s"] as const;

function cells(m: Med | undefined): string[] {
  if (!m) return METRICS.map(() => "-");
  return [num(m.mbps), int(m.iops), int(m.p50Us), int(m.p99Us), int(m.resends), m.targetCpuS === undefined ? "-" : m.targetCpuS.toFixed(2)];
}

function ratioCells(a: Med | undefined, b: Med | undefined): string[] {
  if (!a || !b) return METRICS.map(() => "-");
  return [
    ratio(a.mbps, b.mbps),
    ratio(a.iops, b.iops),
    ratio(a.p50Us, b.p50Us),
    ratio(a.p99Us, b.p99Us),
    b.resends ? ratio(a.resends, b.resends) : "-",
    ratio(a.targetCpuS, b.targetCpuS),
  ];
}

interface GoalLine {
  goal: string;
  measured: string;
  met: boolean | undefined;
}

interface Report {
  text: string;
  markdown: string;
  goals: GoalLine[];
}

interface Extras {
  idleCpuPct?: number;
  /** the same with Bun's 1 Hz GC timer off (BUN_GC_TIMER_DISABLE=1) */
  idleNoGcTimerPct?: number;
  /** a window starting idleSettleS after start */
  idleSettledPct?: number;
  idleSettleS?: number;
  idleS?: number;
  idleRssKiB?: number;
  aoedeHwmKiB?: number;
  /** VmRSS split at the peak sample: anonymous memory and mapped files (the executable) */
  aoedeAnonKiB?: number;
  aoedeFileKiB?: number;
  startedAt: string;
  machine: string;
  windows: Map<string, TargetInfoLine>;
}

function sectionTitle(store: Store, mtu: number, o: Options): string {
  return `${store === "memory" ? "memory-backed (/dev/shm)" : "disk-backed (/var/tmp, -d O_DIRECT)"}, MTU ${mtu}`;
}

function buildReport(results: Results, o: Options, x: Extras): Report {
  const text: string[] = [];
  const md: string[] = [];
  const vbladeKinds = (["vblade64", "vblade"] as const).filter((k) => o.targets.includes(k));

  // the summary: one line per store, MTU and workload
  {
    const header = ["store", "MTU", "workload", ...o.targets.map((k) => targetLabel(k, o)), "unit"];
    if (o.targets.includes("aoede") && vbladeKinds.length) header.push("aoede / best vblade");
    if (o.targets.includes("aoede") && o.targets.includes("null") && o.stores.includes("memory")) header.push("aoede / null");
    const rows: string[][] = [];
    for (const store of o.stores)
      for (const mtu of o.mtus)
        for (const w of o.workloads) {
          // MB/s for sequential work, IOPS for random 4 KiB
          const pick = (m: Med | undefined) => (m ? (w.startsWith("seq") ? m.mbps : m.iops) : undefined);
          const show = (v: number | undefined) => (w.startsWith("seq") ? num(v) : int(v));
          const a = pick(med(results.get(key(store, mtu, "aoede", w))));
          const row = [store, String(mtu), w];
          for (const k of o.targets) row.push(k === "null" && store !== "memory" ? "" : show(pick(med(results.get(key(store, mtu, k, w))))));
          row.push(w.startsWith("seq") ? "MB/s" : "IOPS");
          let best: number | undefined;
          for (const k of vbladeKinds) {
            const v = pick(med(results.get(key(store, mtu, k, w))));
            if (v !== undefined && (best === undefined || v > best)) best = v;
          }
          if (header.includes("aoede / best vblade")) row.push(ratio(a, best));
          if (header.includes("aoede / null")) row.push(store === "memory" ? ratio(a, pick(med(results.get(key(store, mtu, "null", w))))) : "");
          rows.push(row);
        }
    const title = `summary: medians of ${o.runs} run${o.runs > 1 ? "s" : ""} of ${o.durationS} s (MB/s for sequential, IOPS for random 4 KiB)`;
    text.push(title, formatTable(header, rows, [0, 2]));
    md.push(`**${title}**`, "", "| " + header.join(" | ") + " |", "|" + header.map((_, i) => (i === 0 || i === 2 ? "---" : "---:")).join("|") + "|");
    for (const r of rows) md.push("| " + r.join(" | ") + " |");
    md.push("");
  }

  for (const store of o.stores) {
    for (const mtu of o.mtus) {
      const kinds = o.targets.filter((k) => !(k === "null" && store !== "memory"));
      const rows: string[][] = [];
      for (const w of o.workloads) {
        const a = med(results.get(key(store, mtu, "aoede", w)));
        for (const k of kinds) {
          const info = x.windows.get(`${store}|${mtu}|${k}`);
          rows.push([w, targetLabel(k, o) + (info ? ` w${info.window}` : ""), ...cells(med(results.get(key(store, mtu, k, w))))]);
        }
        if (o.targets.includes("aoede")) {
          for (const k of [...vbladeKinds, ...(store === "memory" && o.targets.includes("null") ? (["null"] as const) : [])]) {
            rows.push([w, `aoede / ${k === "null" ? "null" : targetLabel(k, o)}`, ...ratioCells(a, med(results.get(key(store, mtu, k, w))))]);
          }
        }
      }
      // blank the repeated workload names
      for (let i = rows.length - 1; i > 0; i--) if (rows[i]![0] === rows[i - 1]![0]) rows[i]![0] = "";
      const header = ["workload", "target (w = window)", ...METRICS];
      const title = `${sectionTitle(store, mtu, o)}: medians of ${o.runs} run${o.runs > 1 ? "s" : ""} of ${o.durationS} s`;
      text.push(title, formatTable(header, rows, [0, 1]));
      md.push(`**${title}**`, "", "| " + header.join(" | ") + " |", "|" + header.map((_, i) => (i < 2 ? "---" : "---:")).join("|") + "|");
      for (const r of rows) md.push("| " + r.join(" | ") + " |");
      md.push("");
    }
  }

  // goals
  const goals: GoalLine[] = [];
  const bestVblade = (store: Store, mtu: number, w: Workload, f: (m: Med) => number | undefined) => {
    let best: { v: number; k: TargetKind } | undefined;
    for (const k of vbladeKinds) {
      const m = med(results.get(key(store, mtu, k, w)));
      const v = m ? f(m) : undefined;
      if (v !== undefined && (!best || v > best.v)) best = { v, k };
    }
    return best;
  };
  const worst = (pairs: { r: number; where: string }[]) => pairs.reduce((a, b) => (b.r < a.r ? b : a));
  if (o.targets.includes("aoede") && vbladeKinds.length && o.stores.includes("memory")) {
    const pairs: { r: number; where: string }[] = [];
    for (const mtu of o.mtus)
      for (const w of o.workloads) {
        const a = med(results.get(key("memory", mtu, "aoede", w)))?.mbps;
        const b = bestVblade("memory", mtu, w, (m) => m.mbps);
        if (a !== undefined && b) pairs.push({ r: a / b.v, where: `${w} MTU ${mtu} vs ${targetLabel(b.k, o)}` });
      }
    if (pairs.length) {
      const w = worst(pairs);
      goals.push({ goal: "memory: serve >= 1.1x the better vblade, every workload and MTU", measured: `lowest ${w.r.toFixed(2)}x (${w.where})`, met: w.r >= 1.1 });
    }
  }
  if (o.targets.includes("aoede") && o.targets.includes("null") && o.stores.includes("memory")) {
    const pairs: { r: number; where: string }[] = [];
    const vpairs: { r: number; where: string }[] = [];
    for (const mtu of o.mtus)
      for (const w of o.workloads) {
        const n = med(results.get(key("memory", mtu, "null", w)))?.mbps;
        const a = med(results.get(key("memory", mtu, "aoede", w)))?.mbps;
        if (a !== undefined && n) pairs.push({ r: a / n, where: `${w} MTU ${mtu}` });
        const b = bestVblade("memory", mtu, w, (m) => m.mbps);
        if (b && n) vpairs.push({ r: b.v / n, where: `${w} MTU ${mtu}` });
      }
    if (pairs.length) {
      const w = worst(pairs);
      goals.push({ goal: "memory: serve >= 85 % of the no-disk-I/O target", measured: `lowest ${(w.r * 100).toFixed(0)} % (${w.where})`, met: w.r >= 0.85 });
    }
    if (vpairs.length) {
      const lo = worst(vpairs);
      const hi = vpairs.reduce((a, b) => (b.r > a.r ? b : a));
      goals.push({ goal: "(reference) the better vblade, % of the no-disk-I/O target", measured: `${(lo.r * 100).toFixed(0)}-${(hi.r * 100).toFixed(0)} %`, met: undefined });
    }
  }
  if (o.targets.includes("aoede") && vbladeKinds.length && o.stores.includes("disk")) {
    const rr: { r: number; where: string }[] = [];
    const seq: { r: number; where: string }[] = [];
    for (const mtu of o.mtus) {
      for (const w of o.workloads) {
        const a = med(results.get(key("disk", mtu, "aoede", w)));
        if (!a) continue;
        if (w === "randread") {
          const b = bestVblade("disk", mtu, w, (m) => m.iops);
          if (b && a.iops !== undefined) rr.push({ r: a.iops / b.v, where: `MTU ${mtu} vs ${targetLabel(b.k, o)}` });
        }
        if (w === "seqread" || w === "seqwrite") {
          const b = bestVblade("disk", mtu, w, (m) => m.mbps);
          if (b && a.mbps !== undefined) seq.push({ r: a.mbps / b.v, where: `${w} MTU ${mtu} vs ${targetLabel(b.k, o)}` });
        }
      }
    }
    if (rr.length) {
      const w = worst(rr);
      goals.push({ goal: "disk O_DIRECT: serve >= 3x vblade's random-read IOPS", measured: `lowest ${w.r.toFixed(2)}x (${w.where})`, met: w.r >= 3 });
    }
    if (seq.length) {
      const w = worst(seq);
      goals.push({ goal: "disk O_DIRECT: serve >= 1.5x vblade on sequential reads and writes", measured: `lowest ${w.r.toFixed(2)}x (${w.where})`, met: w.r >= 1.5 });
    }
  }
  if (x.idleCpuPct !== undefined) {
    const settled = x.idleSettledPct ?? x.idleCpuPct;
    goals.push({
      goal: `idle: aoede serve CPU over ${x.idleS} s without traffic = 0 %`,
      measured:
        `${settled.toFixed(3)} % from ${x.idleSettleS} s after start; ${x.idleCpuPct.toFixed(3)} % in the first ${x.idleS} s` +
        (x.idleNoGcTimerPct !== undefined ? ` (${x.idleNoGcTimerPct.toFixed(3)} % with BUN_GC_TIMER_DISABLE=1)` : ""),
      met: settled < 0.01,
    });
  }
  if (x.aoedeHwmKiB !== undefined) {
    const split =
      x.aoedeAnonKiB !== undefined && x.aoedeFileKiB !== undefined
        ? `; at the end of its heaviest run ${(x.aoedeAnonKiB / 1024).toFixed(1)} MiB anonymous + ${(x.aoedeFileKiB / 1024).toFixed(1)} MiB of mapped executable`
        : "";
    goals.push({ goal: "aoede serve resident memory under load < 80 MiB", measured: `peak ${(x.aoedeHwmKiB / 1024).toFixed(1)} MiB (VmHWM)${split}`, met: x.aoedeHwmKiB < 80 * 1024 });
  }
  const goalRows = goals.map((g) => [g.goal, g.measured, g.met === undefined ? "" : g.met ? "yes" : "NO"]);
  text.push("goals (issue 6)", formatTable(["goal", "measured", "met"], goalRows, [0, 1]));
  md.push("**Goals**", "", "| goal | measured | met |", "|---|---|---|");
  for (const r of goalRows) md.push(`| ${r.join(" | ")} |`);
  md.push("");
  return { text: text.join("\n"), markdown: md.join("\n"), goals };
}

// ---- main -----------------------------------------------------------------------------------

function machine(): string {
  const model = cpus()[0]?.model ?? "unknown CPU";
  const kernel = spawnSync(["uname", "-r"], { stdout: "pipe" }).stdout.toString().trim();
  const mem = Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 2 ** 20);
  return `${cpus().length} x ${model}, ${mem} GiB RAM, Linux ${kernel}, Bun ${Bun.version}`;
}

function haveVblade(): string | undefined {
  return Bun.which("vblade", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }) ?? undefined;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const why = netnsUnavailable();
  if (why) {
    process.stderr.write(`bench: ${why}\n`);
    return 1;
  }
  if (!haveVblade() && o.targets.some((t) => t.startsWith("vblade"))) {
    process.stderr.write("bench: vblade is not installed (apt-get install vblade): comparing against nothing but the null target\n");
    o.targets = o.targets.filter((t) => !t.startsWith("vblade"));
  }
  const swept = sweepStale("bnch");
  if (swept.length) process.stderr.write(`bench: removed ${swept.length} namespaces left by a killed run\n`);
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  chooseAoede(o);
  choosePinning(o);
  const log = (s: string) => process.stdout.write(s + "\n");
  const x: Extras = { startedAt, machine: machine(), windows: new Map() };
  log(`AoEde bench, ${startedAt}`);
  log(`machine:   ${x.machine}`);
  log(`aoede:     ${aoedeDescription}`);
  log(`CPUs:      ${pinDescription}`);
  if (o.targets.some((t) => t.startsWith("vblade"))) log(`vblade:    ${haveVblade()} (Debian vblade 25)`);
  log(`plan:      ${o.stores.join(", ")} x MTU ${o.mtus.join(", ")} x ${o.targets.join(", ")} x ${o.workloads.join(", ")}; ${o.runs} run(s) of ${o.durationS} s (+${o.warmupS} s warm-up)`);

  const results: Results = new Map();
  const images = new Map<Store, string>();
  if (o.stores.includes("memory")) {
    const p = `/dev/shm/aoede-bench-${process.pid}.img`;
    writeImage(p, o.memBytes);
    images.set("memory", p);
  }
  if (o.stores.includes("disk")) {
    const p = `/var/tmp/aoede-bench-${process.pid}.img`;
    const t0 = performance.now();
    writeImage(p, o.diskBytes);
    log(`disk file: ${p}, ${bytes(o.diskBytes)} of random data written and synced in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    images.set("disk", p);
  }
  world = makeVethWorld("bnch", o.mtus[0]);
  log(`world:     ${world.nsA} (target, ${world.ifA}) <-> ${world.nsB} (initiator, ${world.ifB})`);
  let aoedeHwm = 0;
  const total = o.mtus.length * o.stores.reduce((n, s) => n + o.targets.filter((k) => !(k === "null" && s !== "memory")).length, 0) * o.runs;
  let done = 0;
  const t0 = performance.now();

  for (const mtu of o.mtus) {
    world.setMtu(mtu);
    for (const store of o.stores) {
      const kinds = o.targets.filter((k) => !(k === "null" && store !== "memory"));
      for (let run = 0; run < o.runs; run++) {
        // take turns, starting with a different target each run
        const order = kinds.map((_, i) => kinds[(i + run) % kinds.length]!);
        for (const k of order) {
          const t = await startTarget(k, store, images.get(store)!, world, o);
          try {
            const { info, samples } = await runLoad(t, world, o, o.workloads);
            if (info) x.windows.set(`${store}|${mtu}|${k}`, info);
            for (const s of samples) {
              const kk = key(store, mtu, k, s.workload);
              if (!results.has(kk)) results.set(kk, []);
              results.get(kk)!.push(s);
            }
            if (k === "aoede") {
              const m = memOf(t.pid);
              if (m && m.hwm > aoedeHwm) {
                aoedeHwm = m.hwm;
                x.aoedeAnonKiB = m.anon;
                x.aoedeFileKiB = m.file;
              }
            }
            done++;
            const el = (performance.now() - t0) / 1000;
            const brief = samples.map((s) => `${s.workload} ${num(s.mbps)} MB/s`).join(", ");
            process.stderr.write(`[${done}/${total} ${el.toFixed(0)} s, ~${((el / done) * (total - done)).toFixed(0)} s left] ${store} MTU ${mtu} run ${run + 1} ${targetLabel(k, o)}: ${brief}\n`);
          } finally {
            await t.stop();
          }
        }
      }
    }
  }
  if (o.targets.includes("aoede")) x.aoedeHwmKiB = aoedeHwm;

  if (o.idleS > 0 && o.targets.includes("aoede")) {
    world.setMtu(o.mtus[0]!);
    const store: Store = images.has("memory") ? "memory" : "disk";
    /** CPU % of a window of --idle seconds starting `fromS` after start. */
    const idle = async (env: Record<string, string>, windows: number[]): Promise<{ pct: number[]; rss?: number }> => {
      const t = await startTarget("aoede", store, images.get(store)!, world!, o, env);
      const started = performance.now();
      const pct: number[] = [];
      try {
        for (const fromS of windows) {
          const wait = fromS * 1000 - (performance.now() - started);
          if (wait > 0) await Bun.sleep(wait);
          const a = cpuNsOf(t.pid);
          const w0 = performance.now();
          await Bun.sleep(o.idleS * 1000);
          pct.push(((cpuNsOf(t.pid) - a) / ((performance.now() - w0) * 1e6)) * 100);
        }
        return { pct, rss: memOf(t.pid)?.rss };
      } finally {
        await t.stop();
      }
    };
    // Bun's 1 Hz GC timer runs for about half a minute after the last activity, then
    // goes quiet: one window right after start-up, one after IDLE_SETTLE_S.
    const settle = o.smoke ? o.idleS + 1 : IDLE_SETTLE_S;
    const plain = await idle({}, [Math.min(2, o.idleS), settle]);
    x.idleCpuPct = plain.pct[0];
    x.idleSettledPct = plain.pct[1];
    x.idleSettleS = settle;
    x.idleRssKiB = plain.rss;
    x.idleS = o.idleS;
    x.idleNoGcTimerPct = (await idle({ BUN_GC_TIMER_DISABLE: "1" }, [Math.min(2, o.idleS)])).pct[0];
  }

  const report = buildReport(results, o, x);
  log("");
  log(report.text);
  if (x.idleCpuPct !== undefined) {
    log(
      `idle: aoede serve used ${x.idleCpuPct.toFixed(3)} % CPU in the ${x.idleS} s after start-up and ${x.idleSettledPct?.toFixed(3)} % from ${x.idleSettleS} s on ` +
        `(all threads, /proc/PID/task/*/schedstat), RSS ${((x.idleRssKiB ?? 0) / 1024).toFixed(1)} MiB; ` +
        `with Bun's 1 Hz GC timer off (BUN_GC_TIMER_DISABLE=1) ${x.idleNoGcTimerPct?.toFixed(3)} % after start-up`,
    );
  }
  log(
    "notes: ratios are aoede / the other; for MB/s and IOPS above 1 is better for aoede, for latency, resends and CPU below 1. " +
      "Target CPU s: CPU seconds the target process used during the measured interval (user+system, all threads). " +
      "The load generator is AoEde's initiator on the same machine: the two share its CPUs.",
  );
  log(`total time: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (o.json) {
    writeFileSync(
      o.json,
      JSON.stringify({ startedAt, machine: x.machine, aoede: aoedeDescription, options: o, results: Object.fromEntries(results), extras: { ...x, windows: Object.fromEntries(x.windows) }, goals: report.goals }, null, 1),
    );
    log(`raw results: ${o.json}`);
  }
  if (o.markdown) {
    const head = [
      `Measured ${startedAt} on ${x.machine}; \`aoede\`: ${aoedeDescription}.`,
      `${o.runs} run(s) of ${o.durationS} s per workload (+${o.warmupS} s warm-up), medians; targets took turns in every run; ${pinDescription}.`,
      "",
      "",
    ];
    writeFileSync(o.markdown, head.join("\n") + report.markdown);
    log(`markdown: ${o.markdown}`);
  }
  return 0;
}

main().then(
  (code) => {
    cleanupSync();
    process.exit(code);
  },
  (e) => {
    process.stderr.write(`bench: FAILED: ${(e as Error)?.stack ?? e}\n`);
    cleanupSync();
    process.exit(1);
  },
);
