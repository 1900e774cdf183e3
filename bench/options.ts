/**
 * The command line of `bun run bench` (bench/run.ts, whose top comment is the
 * manual: `--help` prints it).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { LOADGEN_MODES, type LoadgenMode } from "./native.ts";

export type Store = "memory" | "disk";
export type TargetKind = "aoede" | "vblade64" | "vblade" | "null";
export const ALL_TARGETS: TargetKind[] = ["aoede", "vblade64", "vblade", "null"];

export interface Options {
  durationS: number;
  warmupS: number;
  runs: number;
  mtus: number[];
  windows: number[];
  modes: LoadgenMode[];
  stores: Store[];
  targets: TargetKind[];
  /** disk-backed part: these modes at these windows */
  diskModes: LoadgenMode[];
  diskWindows: number[];
  /** AoEde's initiator beside the native load generator (against the native null target) */
  initiator: boolean;
  /** loadgen --spin: µs of polling without sleeping after a reply (0: always block) */
  spinUs: number;
  /** the --verify pass against aoede serve, sectors of the region (0: none) */
  verifySectors: number;
  idleS: number;
  memBytes: number;
  diskBytes: number;
  aoedeBufcnt: number;
  binary?: string;
  source: boolean;
  json?: string;
  markdown?: string;
  quick: boolean;
  smoke: boolean;
  pin: boolean;
  /** run target and load generator at a real-time priority (chrt -f): figures that other load on the machine cannot disturb */
  rt: boolean;
  targetCpus?: string;
  loadCpus?: string;
}

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg} (see the comment at the top of bench/run.ts, or --help)\n`);
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
  if (out.length === 0) usage(`an empty list of ${what}s`);
  return [...new Set(out)];
}

function numbers(s: string, what: string, min: number, max: number): number[] {
  return s.split(",").map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < min || n > max) usage(`${what} "${x}" is not a whole number from ${min} to ${max}`);
    return n;
  });
}

export function parseOptions(argv: string[], manualFile: string): Options {
  const o: Options = {
    durationS: 3,
    warmupS: 0.5,
    runs: 3,
    mtus: [1500, 9000],
    windows: [1, 16, 64],
    modes: [...LOADGEN_MODES],
    stores: ["memory", "disk"],
    targets: [...ALL_TARGETS],
    diskModes: ["randread"],
    diskWindows: [16],
    initiator: true,
    spinUs: 0,
    verifySectors: 32768,
    idleS: 10,
    memBytes: 512 * 2 ** 20,
    diskBytes: 2 * 2 ** 30,
    aoedeBufcnt: 64,
    source: false,
    quick: false,
    smoke: false,
    pin: false,
    rt: false,
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
      case "--duration": o.durationS = number(0.05); break;
      case "--warmup": o.warmupS = number(0); break;
      case "--runs": o.runs = Math.floor(number(1)); break;
      case "--mtu": o.mtus = numbers(val(), "MTU", 576, 65535); break;
      case "--windows": o.windows = numbers(val(), "window", 1, 1024); break;
      case "--modes": o.modes = list(val(), LOADGEN_MODES, "mode"); break;
      case "--store": o.stores = list(val(), ["memory", "disk"] as const, "store"); break;
      case "--targets": o.targets = list(val(), ALL_TARGETS, "target"); break;
      case "--disk-modes": o.diskModes = list(val(), LOADGEN_MODES, "mode"); break;
      case "--disk-windows": o.diskWindows = numbers(val(), "window", 1, 1024); break;
      case "--no-initiator": o.initiator = false; break;
      case "--spin": o.spinUs = number(0); break;
      case "--verify-size": o.verifySectors = Math.floor(parseBytes(val()) / 512); break;
      case "--idle": o.idleS = number(0); break;
      case "--mem-size": o.memBytes = parseBytes(val()); break;
      case "--disk-size": o.diskBytes = parseBytes(val()); break;
      case "--aoede-bufcnt": o.aoedeBufcnt = Math.floor(number(1)); break;
      case "--binary": o.binary = resolve(val()); break;
      case "--source": o.source = true; break;
      case "--json": o.json = resolve(val()); break;
      case "--markdown": o.markdown = resolve(val()); break;
      case "--quick": o.quick = true; break;
      case "--smoke": o.smoke = true; break;
      case "--pin": o.pin = true; break;
      case "--rt": o.rt = true; break;
      case "--target-cpus": o.targetCpus = val(); o.pin = true; break;
      case "--load-cpus": o.loadCpus = val(); o.pin = true; break;
      case "-h":
      case "--help":
        console.log(readFileSync(manualFile, "utf8").split("*/")[0]!.replace(/^#!.*\n\/\*\*\n?/, "").replace(/^ \* ?/gm, ""));
        process.exit(0);
      default:
        usage(`unknown option ${a}`);
    }
  }
  const d = (k: string, f: () => void) => explicit.has(k) || f();
  if (o.quick) {
    d("--duration", () => (o.durationS = 0.5));
    d("--warmup", () => (o.warmupS = 0.1));
    d("--runs", () => (o.runs = 1));
    d("--idle", () => (o.idleS = 2));
    d("--mem-size", () => (o.memBytes = 256 * 2 ** 20));
    d("--disk-size", () => (o.diskBytes = 256 * 2 ** 20));
  }
  if (o.smoke) {
    d("--duration", () => (o.durationS = 0.3));
    d("--warmup", () => (o.warmupS = 0.05));
    d("--runs", () => (o.runs = 1));
    d("--mtu", () => (o.mtus = [1500]));
    d("--windows", () => (o.windows = [16]));
    d("--store", () => (o.stores = ["memory"]));
    d("--targets", () => (o.targets = ["aoede", "vblade64", "null"]));
    d("--verify-size", () => (o.verifySectors = 4096));
    d("--idle", () => (o.idleS = 1));
    d("--mem-size", () => (o.memBytes = 64 * 2 ** 20));
    d("--disk-size", () => (o.diskBytes = 64 * 2 ** 20));
  }
  return o;
}

export const ROOT = resolve(import.meta.dir, "..");
