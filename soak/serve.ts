/**
 * What the campaign needs of a running `aoede serve` process beyond
 * test/helpers/serve-proc.ts: its counters (SIGUSR1), its resident memory, a
 * bounded "does it still answer" probe, and the C flood sender, built on demand.
 */
import { compileC } from "../bench/native.ts";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { Command, ConfigCmd } from "../src/aoe/index.ts";
import type { VethWorld } from "../test/helpers/netns.ts";
import type { RawClient } from "../test/helpers/raw-client.ts";
import { configFrame, type Addr } from "../test/helpers/requests.ts";
import type { ServeProc } from "../test/helpers/serve-proc.ts";

/**
 * A campaign's end, failed or not: kill serve (if running), close the client, give
 * the kernel a moment to let go of the sockets, remove the files, drop the namespaces.
 */
export async function tearDown(serve: ServeProc | undefined, client: RawClient, dir: string, w: VethWorld): Promise<void> {
  serve?.kill();
  client.close();
  await Bun.sleep(50);
  rmSync(dir, { recursive: true, force: true });
  w.dispose();
}

/** The counters serve logs on SIGUSR1 (src/target/server.ts formatCounters). */
export interface ServeCounters {
  frames: number;
  reads: number;
  writes: number;
  replies: number;
  ataErrors: number;
  aoeErrors: number;
  ioErrors: number;
  notForUs: number;
  masked: number;
  malformed: number;
  forgedSource: number;
  busy: number;
  kernelDrops: number;
}

const COUNTERS =
  /(\d+) frames, (\d+) reads \(\d+ sectors\), (\d+) writes \(\d+ sectors\), \d+ flushes, (\d+) replies, \d+ in flight; errors: (\d+) ATA, (\d+) AoE, (\d+) I\/O; dropped: (\d+) not for us, (\d+) masked, (\d+) malformed, (\d+) forged source, (\d+) busy, \d+ duplicate tags; link [^:]+: \d+ received, \d+ sent, \d+ send drops, (\d+) kernel receive drops/g;

/** Ask serve for its counters (SIGUSR1) and parse the line it logs. */
export async function serveCounters(s: ServeProc, ms = 5000): Promise<ServeCounters> {
  const before = [...s.output().matchAll(COUNTERS)].length;
  s.proc.kill("SIGUSR1");
  const deadline = Date.now() + ms;
  for (;;) {
    const all = [...s.output().matchAll(COUNTERS)];
    if (all.length > before) {
      const n = all[all.length - 1]!.slice(1).map(Number);
      return {
        frames: n[0]!,
        reads: n[1]!,
        writes: n[2]!,
        replies: n[3]!,
        ataErrors: n[4]!,
        aoeErrors: n[5]!,
        ioErrors: n[6]!,
        notForUs: n[7]!,
        masked: n[8]!,
        malformed: n[9]!,
        forgedSource: n[10]!,
        busy: n[11]!,
        kernelDrops: n[12]!,
      };
    }
    if (Date.now() > deadline) throw new Error(`serve logged no counters within ${ms} ms of SIGUSR1:\n${s.output().slice(-2000)}`);
    await Bun.sleep(20);
  }
}

/** Resident memory of a process, KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Is serve alive and answering? A Query Config read must come back within `ms`. */
export async function answersQueryConfig(client: RawClient, at: Addr, ms = 2000): Promise<number> {
  const tag = client.tag();
  const t0 = performance.now();
  const r = await client.ask(configFrame(at, tag, ConfigCmd.Read, new Uint8Array(0), true), tag, ms);
  if (r.h.command !== Command.QueryConfig || r.h.flags & 0x04) throw new Error(`unexpected answer to Query Config: ${JSON.stringify(r.h)}`);
  return performance.now() - t0;
}

/** Path of a C helper of the campaign (soak/NAME.c), built as the bench's tools are; `pkg`: a pkg-config package it links with. */
export function cTool(name: "flood" | "badfile", pkg?: string): string {
  return compileC(path.join(import.meta.dir, `${name}.c`), { pkg });
}

/** The flood sender (soak/flood.c). */
export const floodBinary = () => cTool("flood");
