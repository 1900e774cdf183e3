/**
 * Text the control commands print, from the daemon's replies (protocol.ts). Pure.
 *
 * `aoede top` follows ggaoectl monitor and iostat: each block shows rates between
 * two samples (the first block: since the daemon started, as iostat's first
 * report), rows sorted by name, the name column as wide as the longest name.
 */
import { matchesInterface } from "./config.ts";
import type { ExportStats, InterfaceStats, StatsReply } from "./protocol.ts";

export interface ExportRates {
  name: string;
  target: string;
  readsPerS: number;
  readKBps: number;
  writesPerS: number;
  writeKBps: number;
  /** other commands per second (flush, config, mask, reserve) */
  otherPerS: number;
  /** now, not rates */
  inFlight: number;
  queued: number;
  /** errors in the interval */
  errors: number;
  /** requests per second per initiator MAC */
  initiators: Record<string, number>;
  /** the counters at the end of the interval, for scripts that want sums */
  totals: { reads: number; writes: number; readBytes: number; writeBytes: number; errors: number };
}

export interface InterfaceRates {
  name: string;
  up: boolean;
  rxPerS: number;
  rxKBps: number;
  txPerS: number;
  txKBps: number;
  /** drops in the interval */
  drops: number;
  totals: { rxFrames: number; rxBytes: number; txFrames: number; txBytes: number; drops: number };
}

export interface TopSample {
  /** seconds the rates are over */
  intervalS: number;
  /** ms since the daemon started, at the end of the interval */
  uptimeMs: number;
  exports: ExportRates[];
  interfaces: InterfaceRates[];
}

type NumberKey<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T];

/** How much counter `k` grew from `prev` (absent: zero) to `now`. */
const delta =
  <T>(now: T, prev: Partial<T>) =>
  (k: NumberKey<T>): number =>
    (now[k] as number) - ((prev[k] as number | undefined) ?? 0);

/** No patterns: everything. */
const globMatch = (patterns: readonly string[], name: string) => patterns.length === 0 || matchesInterface(patterns, name);

/**
 * Rates between `prev` (undefined: the daemon's start, all zero) and `now`, for the
 * exports and interfaces whose names match `names` (globs; none: all).
 */
export function rates(prev: StatsReply | undefined, now: StatsReply, names: readonly string[] = []): TopSample {
  const s = Math.max(1e-3, (now.uptimeMs - (prev?.uptimeMs ?? 0)) / 1000);
  const r1 = (n: number) => Math.round(n * 10) / 10;
  const r2 = (n: number) => Math.round(n * 100) / 100;
  const pe = new Map((prev?.exports ?? []).map((e) => [e.name, e]));
  const pi = new Map((prev?.interfaces ?? []).map((i) => [i.name, i]));
  const exports = now.exports
    .filter((e) => globMatch(names, e.name))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((e): ExportRates => {
      // a reopened export starts its counters again: then the interval starts at zero
      let p: Partial<ExportStats> = pe.get(e.name) ?? {};
      if ((p.reads ?? 0) > e.reads || (p.writes ?? 0) > e.writes) p = {};
      const d = delta(e, p);
      const initiators: Record<string, number> = {};
      for (const [mac, n] of Object.entries(e.initiators)) initiators[mac] = r1((n - (p.initiators?.[mac] ?? 0)) / s);
      return {
        name: e.name,
        target: e.target,
        readsPerS: r1(d("reads") / s),
        readKBps: r2(d("readBytes") / 1024 / s),
        writesPerS: r1(d("writes") / s),
        writeKBps: r2(d("writeBytes") / 1024 / s),
        otherPerS: r1(d("other") / s),
        inFlight: e.inFlight,
        queued: e.queued,
        errors: d("errors"),
        initiators,
        totals: { reads: e.reads, writes: e.writes, readBytes: e.readBytes, writeBytes: e.writeBytes, errors: e.errors },
      };
    });
  const interfaces = now.interfaces
    .filter((i) => globMatch(names, i.name))
    .map((i): InterfaceRates => {
      let p: Partial<InterfaceStats> = pi.get(i.name) ?? {};
      if ((p.rxFrames ?? 0) > i.rxFrames) p = {};
      const d = delta(i, p);
      return {
        name: i.name,
        up: i.up,
        rxPerS: r1(d("rxFrames") / s),
        rxKBps: r2(d("rxBytes") / 1024 / s),
        txPerS: r1(d("txFrames") / s),
        txKBps: r2(d("txBytes") / 1024 / s),
        drops: d("drops"),
        totals: { rxFrames: i.rxFrames, rxBytes: i.rxBytes, txFrames: i.txFrames, txBytes: i.txBytes, drops: i.drops },
      };
    });
  return { intervalS: r2(s), uptimeMs: now.uptimeMs, exports, interfaces };
}

const num = (n: number, w: number, d: number) => n.toFixed(d).padStart(w);

/** One block of `aoede top`: exports, their initiators, interfaces; a blank line after. */
export function formatTop(t: TopSample): string {
  const w = Math.max(4, ...t.exports.map((e) => e.name.length), ...t.interfaces.map((i) => i.name.length));
  let out = "";
  if (t.exports.length > 0) {
    out += `${"dev".padEnd(w)}  target      r/s      rkB/s      w/s      wkB/s   oth/s inflt queue  err\n`;
    for (const e of t.exports) {
      out +=
        `${e.name.padEnd(w)}  ${e.target.padEnd(8)} ${num(e.readsPerS, 8, 1)} ${num(e.readKBps, 10, 2)} ${num(e.writesPerS, 8, 1)} ` +
        `${num(e.writeKBps, 10, 2)} ${num(e.otherPerS, 7, 1)} ${String(e.inFlight).padStart(5)} ${String(e.queued).padStart(5)} ${String(e.errors).padStart(4)}\n`;
    }
    const ini = t.exports.flatMap((e) => Object.entries(e.initiators).map(([mac, n]) => ({ mac, dev: e.name, n })));
    if (ini.length > 0) {
      out += `\n${"initiator".padEnd(17)}  ${"dev".padEnd(w)}    req/s\n`;
      for (const i of ini.sort((a, b) => a.mac.localeCompare(b.mac) || a.dev.localeCompare(b.dev))) {
        out += `${i.mac.padEnd(17)}  ${i.dev.padEnd(w)} ${num(i.n, 8, 1)}\n`;
      }
    }
  }
  if (t.interfaces.length > 0) {
    if (out) out += "\n";
    out += `${"net".padEnd(w)}  state     rx/s      rkB/s     tx/s      tkB/s  drp\n`;
    for (const i of t.interfaces) {
      out +=
        `${i.name.padEnd(w)}  ${(i.up ? "up" : "down").padEnd(5)} ${num(i.rxPerS, 8, 1)} ${num(i.rxKBps, 10, 2)} ` +
        `${num(i.txPerS, 8, 1)} ${num(i.txKBps, 10, 2)} ${String(i.drops).padStart(4)}\n`;
    }
  }
  return out + "\n";
}

/** `aoede ctl stats`: ggaoectl's "# Statistics for ..." blocks of `field: value` lines. */
export function formatStats(s: StatsReply): string {
  let out = `# daemon\npid: ${s.pid}\nuptime: ${(s.uptimeMs / 1000).toFixed(1)}\n\n`;
  for (const e of s.exports) {
    out += `# Statistics for device ${e.name}\n`;
    for (const [k, v] of Object.entries(e)) {
      if (k === "name") continue;
      const text = k === "initiators" ? Object.entries(v as Record<string, number>).map(([m, n]) => `${m}=${n}`).join(" ") : Array.isArray(v) ? v.join(" ") : String(v);
      out += `${k}: ${text}\n`;
    }
    out += "\n";
  }
  for (const i of s.interfaces) {
    out += `# Statistics for interface ${i.name}\n`;
    for (const [k, v] of Object.entries(i)) if (k !== "name") out += `${k}: ${Array.isArray(v) ? v.join(" ") : String(v ?? "-")}\n`;
    out += "\n";
  }
  return out;
}

/** `aoede ctl show-mask|show-reserve NAME`: ggaoectl's `Device NAME:` then four MACs a line. */
export function formatMacList(name: string, macs: readonly string[]): string {
  let out = `Device ${name}:\n`;
  for (let i = 0; i < macs.length; i += 4) out += macs.slice(i, i + 4).join(" ") + "\n";
  return out + "\n";
}
