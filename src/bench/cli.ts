/**
 * What `aoede bench` runs once its command line is parsed (src/cli/bench.ts):
 * the load generator against one target, or the no-disk-I/O target.
 */
import { openRawLink, RawLinkError, type RawLink } from "../../ffi/rawlink.ts";
import { listEthernetInterfaces } from "../../ffi/linux/interfaces.ts";
import { formatMac } from "../aoe/mac.ts";
import { SECTOR_SIZE } from "../aoe/constants.ts";
import { sharedLoop } from "../net/loop.ts";
import { discover } from "../initiator/discover.ts";
import { Initiator } from "../initiator/engine.ts";
import { formatTargetName } from "../initiator/name.ts";
import { CorkLink } from "./corklink.ts";
import { bytes, formatTable, int, num } from "./format.ts";
import { runWorkload, type Plug, type Workload, type WorkloadResult } from "./loadgen.ts";
import { NullTarget } from "./nulltarget.ts";

export interface BenchOptions {
  shelf: number;
  slot: number;
  /** default: every Ethernet interface that is up */
  interfaces: string[];
  workloads: Workload[];
  durationMs: number;
  warmupMs: number;
  window?: number;
  spanBytes?: number;
  timeoutMs: number;
  json: boolean;
}

/** Information about the target under load, printed first. */
export interface TargetInfo {
  type: "target";
  name: string;
  interfaces: string[];
  mtu: number;
  macs: string[];
  maxSectors: number;
  bufferCount: number;
  window: number;
  sectors: number;
  model: string;
  firmware: string;
}

function fail(msg: string): number {
  process.stderr.write(`aoede bench: ${msg}\n`);
  return 1;
}

function openLinks(names: string[]): RawLink[] {
  if (names.length === 0) {
    names = listEthernetInterfaces()
      .filter((i) => i.running)
      .map((i) => i.name);
    if (names.length === 0) throw new Error("no usable interface: no Ethernet interface is up (name one with -i IFACE)");
  }
  const links: RawLink[] = [];
  try {
    for (const name of new Set(names)) {
      try {
        links.push(openRawLink(name, { bufferFrames: 1024 }));
      } catch (e) {
        if (e instanceof RawLinkError && (e.code === "EPERM" || e.code === "EACCES")) {
          throw new Error(`not enough privilege: raw Ethernet on ${name} needs root or CAP_NET_RAW`);
        }
        if (e instanceof RawLinkError && (e.code === "ENODEV" || e.code === "ENXIO")) throw new Error(`no usable interface: ${name} does not exist`);
        throw e;
      }
    }
  } catch (e) {
    for (const l of links) l.close();
    throw e;
  }
  return links;
}

export function formatResults(info: TargetInfo, results: WorkloadResult[]): string {
  const head =
    `${info.name} on ${info.interfaces.join(", ")} (MTU ${info.mtu}), ${info.maxSectors} sectors/frame, ` +
    `buffer count ${info.bufferCount} -> window ${info.window}, ${bytes(info.sectors * SECTOR_SIZE)}` +
    (info.model ? `, "${info.model}"` : "") +
    "\n";
  const rows = results.map((r) => [
    r.workload,
    bytes(r.requestBytes),
    String(r.depth),
    num(r.mbps),
    int(r.iops),
    int(r.p50Us),
    int(r.p99Us),
    int(r.resends),
    int(r.errors),
    `${r.initiatorCpuS.toFixed(2)} s`,
  ]);
  return head + formatTable(["workload", "request", "depth", "MB/s", "IOPS", "p50 us", "p99 us", "resends", "errors", "initiator CPU"], rows);
}

/** The load generator against one target; resolves with the exit status. */
export async function runBench(o: BenchOptions): Promise<number> {
  let links: RawLink[];
  try {
    links = openLinks(o.interfaces);
  } catch (e) {
    return fail((e as Error).message);
  }
  const corks = links.map((l) => new CorkLink(l));
  const plug: Plug = {
    cork: () => corks.forEach((c) => c.cork()),
    uncork: () => corks.forEach((c) => c.uncork()),
  };
  const notices: string[] = [];
  const ini = new Initiator(sharedLoop(), corks, { deadlineMs: 10_000, log: (m) => notices.push(m) });
  const cleanup = () => {
    ini.close();
    for (const l of links) l.close();
  };
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const name = formatTargetName(o);
  const emit = (obj: object) => process.stdout.write(JSON.stringify(obj) + "\n");
  try {
    const found = await discover(ini, { timeoutMs: o.timeoutMs, shelf: o.shelf, slot: o.slot, settleMs: 100 });
    const t = found[0];
    if (!t) return fail(`target ${name} not found on ${links.map((l) => l.name).join(", ")} (no reply within ${o.timeoutMs} ms)`);
    await ini.identify(t);
    const info: TargetInfo = {
      type: "target",
      name: t.name,
      interfaces: t.netlinks().map((nl) => nl.name),
      mtu: Math.min(...t.netlinks().map((nl) => nl.link.mtu)),
      macs: t.paths.paths.map((p) => formatMac(p.targetMac)),
      maxSectors: t.maxSectors(),
      bufferCount: t.bufferCount,
      window: Math.min(o.window ?? t.window.cap, t.window.cap),
      sectors: t.identify?.sectors ?? 0,
      model: t.identify?.model ?? "",
      firmware: t.identify?.firmware ?? "",
    };
    if (o.json) emit(info);
    else if (process.stderr.isTTY) process.stderr.write(`aoede bench: ${name} found; ${o.workloads.length} workloads of ${o.durationMs / 1000} s\n`);
    const results: WorkloadResult[] = [];
    for (const w of o.workloads) {
      const r = await runWorkload(ini, t, plug, w, {
        durationMs: o.durationMs,
        warmupMs: o.warmupMs,
        window: o.window,
        spanSectors: o.spanBytes === undefined ? undefined : Math.floor(o.spanBytes / SECTOR_SIZE),
        onPhase: o.json ? (phase, workload) => emit({ type: phase, workload }) : undefined,
      });
      results.push(r);
      if (o.json) emit({ type: "result", ...r });
      else if (process.stderr.isTTY) process.stderr.write(`  ${w}: ${num(r.mbps)} MB/s, ${int(r.iops)} IOPS\n`);
    }
    if (!o.json) process.stdout.write(formatResults(info, results));
    for (const n of notices) process.stderr.write(`aoede bench: note: ${n}\n`);
    return results.some((r) => r.requests === 0) ? 1 : 0;
  } catch (e) {
    return fail((e as Error).message);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    cleanup();
  }
}

export interface NullTargetCliOptions {
  shelf: number;
  slot: number;
  iface: string;
  bufcnt: number;
  sectors: number;
}

/** Serve the no-disk-I/O target until SIGTERM/SIGINT; resolves with the exit status. */
export async function runNullTarget(o: NullTargetCliOptions): Promise<number> {
  let link: RawLink;
  try {
    link = openRawLink(o.iface, { bufferFrames: Math.max(o.bufcnt * 2, 64) });
  } catch (e) {
    return fail(`cannot open ${o.iface}: ${(e as Error).message}`);
  }
  const loop = sharedLoop();
  const target = new NullTarget(loop, link, { shelf: o.shelf, slot: o.slot, bufcnt: o.bufcnt, sectors: o.sectors });
  target.announce();
  process.stdout.write(
    `pid ${process.pid}: null target ${formatTargetName(o)} on ${link.name} ${formatMac(link.mac)} mtu ${link.mtu}, ` +
      `${target.maxSectors} sectors/frame, bufcnt ${o.bufcnt}, ${o.sectors} sectors (no storage: reads are zeroes, writes are dropped)\n`,
  );
  return await new Promise<number>((resolve) => {
    const stop = () => {
      target.close();
      link.close();
      process.stdout.write(`null target: ${target.reads} reads, ${target.writes} writes, ${target.other} other\n`);
      resolve(0);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
