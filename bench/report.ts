/**
 * The bench's tables (text and Markdown) and its goals (issue 10), from the
 * samples bench/run.ts collected. Every figure is a median over the runs; each
 * row carries the native null target's figure for the same cell (the ceiling of
 * the machine's request/response path) and the ratios against it.
 */
import { formatTable, int, median, num, ratio } from "../src/bench/format.ts";
import type { LoadgenMode, LoadgenResult } from "./native.ts";
import type { Options, Store, TargetKind } from "./options.ts";
import { targetLabel } from "./procs.ts";
import type { TreeSample } from "./tree.ts";

/** One loadgen run against one target, with what /proc said about the target meanwhile. */
export interface Sample {
  r: LoadgenResult;
  /** CPU seconds the target used during the measured interval */
  targetCpuS: number;
  targetRssKiB: number;
}

export type Results = Map<string, Sample[]>;
export const cellKey = (s: Store, mtu: number, t: TargetKind, m: LoadgenMode, w: number) => `${s}|${mtu}|${t}|${m}|${w}`;

/** AoEde's initiator beside the native load generator, against the native null target. */
export interface InitiatorSample {
  mtu: number;
  window: number;
  nativeFps: number;
  initiatorFps: number;
  nativeP50: number;
  initiatorP50: number;
  initiatorResends: number;
}

export interface VerifyLine {
  store: Store;
  mtu: number;
  target: TargetKind;
  mode: LoadgenMode;
  r?: LoadgenResult;
  code: number;
  stderr: string;
}

export interface Extras {
  startedAt: string;
  machine: string;
  idleCpuPct?: number;
  idleNoGcTimerPct?: number;
  idleSettledPct?: number;
  idleSettleS?: number;
  idleS?: number;
  idleRssKiB?: number;
  aoedeHwmKiB?: number;
  aoedeAnonKiB?: number;
  aoedeFileKiB?: number;
  initiator: InitiatorSample[];
  verify: VerifyLine[];
  /** dd from the aoe(3) tree's data beside aoede read (bench/tree.ts) */
  tree?: TreeSample;
}

interface Med {
  mbps?: number;
  iops?: number;
  p50?: number;
  p99?: number;
  resends?: number;
  failures: number;
  cpu?: number;
  /** the load generator's CPU, share of the measured time */
  loadCpu?: number;
  window: number;
  depth: number;
  sectors: number;
}

function med(s: Sample[] | undefined): Med | undefined {
  if (!s?.length) return undefined;
  return {
    mbps: median(s.map((x) => x.r.mbps)),
    iops: median(s.map((x) => x.r.iops)),
    p50: median(s.map((x) => x.r.p50_us)),
    p99: median(s.map((x) => x.r.p99_us)),
    resends: median(s.map((x) => x.r.resends)),
    failures: Math.max(...s.map((x) => x.r.errors + x.r.timeouts + x.r.verify_failures)),
    cpu: median(s.map((x) => x.targetCpuS)),
    loadCpu: median(s.map((x) => x.r.cpu_s / x.r.seconds)),
    window: s[0]!.r.window,
    depth: s[0]!.r.depth,
    sectors: s[0]!.r.sectors,
  };
}

const isRandom = (m: LoadgenMode) => m.startsWith("rand");
/** the figure a cell is judged by: MB/s for sequential modes, IOPS for random ones */
const figure = (m: LoadgenMode, x: Med | undefined) => (x ? (isRandom(m) ? x.iops : x.mbps) : undefined);
const show = (m: LoadgenMode, v: number | undefined) => (isRandom(m) ? int(v) : num(v));

export interface GoalLine {
  goal: string;
  measured: string;
  met: boolean | undefined;
}

class Out {
  text: string[] = [];
  md: string[] = [];
  table(title: string, header: string[], rows: string[][], left: number[], mdWrap?: "details") {
    this.text.push(title, formatTable(header, rows, left));
    if (mdWrap) this.md.push(`<details><summary>${title}</summary>`, "");
    else this.md.push(`**${title}**`, "");
    this.md.push("| " + header.join(" | ") + " |", "|" + header.map((_, i) => (left.includes(i) ? "---" : "---:")).join("|") + "|");
    for (const r of rows) this.md.push("| " + r.join(" | ") + " |");
    this.md.push("");
    if (mdWrap) this.md.push("</details>", "");
  }
}

function storeTitle(store: Store, mtu: number): string {
  return `${store === "memory" ? "memory-backed (/dev/shm)" : "disk-backed (/var/tmp, O_DIRECT: -d)"}, MTU ${mtu}`;
}

export function buildReport(results: Results, o: Options, x: Extras): { text: string; markdown: string; goals: GoalLine[] } {
  const out = new Out();
  const get = (s: Store, mtu: number, t: TargetKind, m: LoadgenMode, w: number) => med(results.get(cellKey(s, mtu, t, m, w)));
  /** the ceiling of a cell: the null target, memory-backed, same MTU, mode and window */
  const ceiling = (mtu: number, m: LoadgenMode, w: number) => get("memory", mtu, "null", m, w);
  const runs = `medians of ${o.runs} run${o.runs > 1 ? "s" : ""} of ${o.durationS} s`;

  for (const store of o.stores) {
    const modes = store === "memory" ? o.modes : o.diskModes;
    const windows = store === "memory" ? o.windows : o.diskWindows;
    const kinds = o.targets.filter((k) => k !== "null");
    for (const mtu of o.mtus) {
      const header = ["mode", "window", "unit", ...kinds.map((k) => targetLabel(k, o)), store === "memory" ? "ceiling: null (C)" : "ceiling: null (C), memory"];
      const pairs: [TargetKind, TargetKind, string][] = [];
      if (kinds.includes("aoede") && kinds.includes("vblade64")) pairs.push(["aoede", "vblade64", "serve / vblade-b64"]);
      if (kinds.includes("aoede") && kinds.includes("vblade")) pairs.push(["aoede", "vblade", "serve / vblade"]);
      if (o.targets.includes("null")) {
        if (kinds.includes("aoede")) pairs.push(["aoede", "null", "serve / null"]);
        if (kinds.includes("vblade64")) pairs.push(["vblade64", "null", "vblade-b64 / null"]);
      }
      header.push(...pairs.map((p) => p[2]));
      const rows: string[][] = [];
      for (const m of modes)
        for (const w of windows) {
          const val = (k: TargetKind) => figure(m, k === "null" ? ceiling(mtu, m, w) : get(store, mtu, k, m, w));
          rows.push([m, String(w), isRandom(m) ? "IOPS" : "MB/s", ...kinds.map((k) => show(m, val(k))), show(m, val("null")), ...pairs.map(([a, b]) => ratio(val(a), val(b)))]);
        }
      out.table(`${storeTitle(store, mtu)}: ${runs}`, header, rows, [0]);

      const detail: string[][] = [];
      for (const m of modes)
        for (const w of windows)
          for (const k of store === "memory" ? o.targets : kinds) {
            const c = get(store, mtu, k, m, w);
            const top = ceiling(mtu, m, w);
            detail.push([
              m, String(w), targetLabel(k, o), c ? `${c.sectors}` : "-", num(c?.mbps), int(c?.iops), int(c?.p50), int(c?.p99), int(c?.resends), c ? String(c.failures) : "-",
              c?.cpu === undefined ? "-" : c.cpu.toFixed(2), c?.loadCpu === undefined ? "-" : `${Math.round(c.loadCpu * 100)} %`, num(top?.mbps), ratio(c?.mbps, top?.mbps),
            ]);
          }
      for (let i = detail.length - 1; i > 0; i--) if (detail[i]![0] === detail[i - 1]![0] && detail[i]![1] === detail[i - 1]![1]) detail[i]![0] = detail[i]![1] = "";
      out.table(
        `${storeTitle(store, mtu)}, every target: ${runs}`,
        ["mode", "window", "target", "sectors", "MB/s", "IOPS", "p50 us", "p99 us", "resends", "failures", "target CPU s", "load CPU", "ceiling MB/s", "of ceiling"],
        detail,
        [0, 2],
        "details",
      );
    }
  }

  if (x.initiator.length) {
    const rows: string[][] = [];
    for (const mtu of o.mtus)
      for (const w of o.windows) {
        const s = x.initiator.filter((i) => i.mtu === mtu && i.window === w);
        if (!s.length) continue;
        const n = median(s.map((i) => i.nativeFps));
        const a = median(s.map((i) => i.initiatorFps));
        rows.push([String(mtu), String(w), int(n), int(a), ratio(a, n), int(median(s.map((i) => i.nativeP50))), int(median(s.map((i) => i.initiatorP50))), int(median(s.map((i) => i.initiatorResends)))]);
      }
    out.table(
      `AoEde's initiator (aoede bench, seqread) beside the native load generator (read), against the native null target: ${runs}`,
      ["MTU", "window", "native frames/s", "initiator frames/s", "initiator / native", "native p50 us", "initiator p50 us", "initiator resends"],
      rows,
      [],
    );
  }

  if (x.verify.length) {
    const rows = x.verify.map((v) => [
      storeTitle(v.store, v.mtu), targetLabel(v.target, o), v.mode, int(v.r?.requests), int(v.r?.verified_sectors), String(v.r?.errors ?? "-"), String(v.r?.timeouts ?? "-"),
      String(v.r?.verify_failures ?? "-"), v.code === 0 ? "ok" : `FAILED (exit ${v.code})`,
    ]);
    out.table("verify: native load generator --verify (pattern written, then read back and checked)", ["where", "target", "mode", "requests", "sectors checked", "errors", "timeouts", "verify failures", "result"], rows, [0, 1, 2]);
  }

  const goals = judge(o, x, get, ceiling);
  const goalRows = goals.map((g) => [g.goal, g.measured, g.met === undefined ? "" : g.met ? "yes" : "NO"]);
  out.table("goals (issue 10)", ["goal", "measured", "met"], goalRows, [0, 1]);
  return { text: out.text.join("\n"), markdown: out.md.join("\n"), goals };
}

type Getter = (s: Store, mtu: number, t: TargetKind, m: LoadgenMode, w: number) => Med | undefined;

function judge(o: Options, x: Extras, get: Getter, ceiling: (mtu: number, m: LoadgenMode, w: number) => Med | undefined): GoalLine[] {
  const goals: GoalLine[] = [];
  const worst = (pairs: { r: number; where: string }[]) => pairs.reduce((a, b) => (b.r < a.r ? b : a));
  const add = (goal: string, pairs: { r: number; where: string }[], min: number) => {
    if (!pairs.length) return;
    const w = worst(pairs);
    goals.push({ goal, measured: `lowest ${w.r.toFixed(2)}x (${w.where}); ${pairs.filter((p) => p.r >= min).length} of ${pairs.length} cells met`, met: w.r >= min });
  };
  const ratios = (store: Store, a: TargetKind, b: TargetKind | "ceiling", modes: LoadgenMode[], windows: number[]) => {
    const pairs: { r: number; where: string }[] = [];
    for (const mtu of o.mtus)
      for (const m of modes)
        for (const w of windows) {
          const va = figure(m, get(store, mtu, a, m, w));
          const vb = figure(m, b === "ceiling" ? ceiling(mtu, m, w) : get(store, mtu, b, m, w));
          if (va !== undefined && vb) pairs.push({ r: va / vb, where: `${m} w${w} MTU ${mtu}` });
        }
    return pairs;
  };
  if (o.stores.includes("memory")) {
    add("memory: serve >= 1.1x vblade -b 64, every MTU, window and mode", ratios("memory", "aoede", "vblade64", o.modes, o.windows), 1.1);
    add("memory: serve >= 0.85x the native null target at window 64", ratios("memory", "aoede", "null", o.modes, o.windows.filter((w) => w === 64)), 0.85);
    const v = ratios("memory", "vblade64", "null", o.modes, o.windows);
    if (v.length) goals.push({ goal: "(reference) vblade -b 64 / the native null target", measured: `${worst(v).r.toFixed(2)}-${v.reduce((a, b) => (b.r > a.r ? b : a)).r.toFixed(2)}x`, met: undefined });
  }
  if (o.stores.includes("disk")) add("disk O_DIRECT: serve >= 3x vblade -b 64 random-read IOPS at window 16", ratios("disk", "aoede", "vblade64", ["randread"], o.diskWindows.filter((w) => w === 16)), 3);
  for (const [ws, min] of [[[16, 64], 0.8], [[1], 0.9]] as const) {
    const pairs: { r: number; where: string }[] = [];
    for (const mtu of o.mtus)
      for (const w of ws) {
        const s = x.initiator.filter((i) => i.mtu === mtu && i.window === w);
        const n = median(s.map((i) => i.nativeFps));
        const a = median(s.map((i) => i.initiatorFps));
        if (n && a !== undefined) pairs.push({ r: a / n, where: `w${w} MTU ${mtu}` });
      }
    add(`initiator >= ${min}x the native load generator's frames/s at window ${ws.join(" and ")}`, pairs, min);
  }
  if (x.verify.length) {
    const bad = x.verify.filter((v) => v.code !== 0);
    goals.push({ goal: "serve returns what was written (--verify)", measured: bad.length ? `${bad.length} of ${x.verify.length} passes failed` : `${x.verify.length} passes, no error`, met: bad.length === 0 });
  }
  if (x.tree) {
    const t = x.tree;
    const line = (mbps: number) => `${num(mbps)} MB/s vs aoede read ${num(t.readMbps)} MB/s: ${(mbps / t.readMbps).toFixed(2)}x (${t.mib} MiB, MTU ${t.mtu})`;
    goals.push({ goal: "tree: dd bs=1M from S.L/data >= 0.8x aoede read of the same target", measured: line(t.ddCachedMbps), met: t.ddCachedMbps / t.readMbps >= 0.8 });
    goals.push({ goal: "(reference) the same with iflag=direct (no page cache, no readahead)", measured: line(t.ddDirectMbps), met: undefined });
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
  return goals;
}
