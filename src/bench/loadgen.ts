/**
 * The load generator: AoEde's initiator engine driven at a fixed queue depth for
 * a fixed time, the way fio drives a block device.
 *
 * A thin layer over the engine's public API (Initiator.read/write on a Target):
 * it keeps `depth` requests outstanding, where depth fills the target's window
 * (its advertised buffer count, at most 128 frames) exactly — frames per request
 * times depth <= window — so nothing waits in the engine's queue and the time
 * from submit to completion is the request's latency as a user of the initiator
 * sees it. Completions of one batch of replies are resubmitted together, corked
 * into one sendmmsg (see corklink.ts).
 *
 * Workloads:
 *   seqread / seqwrite   the largest frame the MTU allows (2 sectors at 1500,
 *                        17 at 9000), one frame per request, LBAs in order,
 *                        wrapping at the end of the span;
 *   randread / randwrite 4 KiB (8 sectors) at random 4 KiB-aligned LBAs of the
 *                        span; at MTU 1500 one request is 4 frames.
 */
import { SECTOR_SIZE } from "../aoe/constants.ts";
import type { Initiator } from "../initiator/engine.ts";
import type { Target } from "../initiator/target.ts";
import { Histogram } from "./histogram.ts";

export const WORKLOADS = ["seqread", "seqwrite", "randread", "randwrite"] as const;
export type Workload = (typeof WORKLOADS)[number];

export const isWriteWorkload = (w: Workload): boolean => w === "seqwrite" || w === "randwrite";
export const isRandomWorkload = (w: Workload): boolean => w === "randread" || w === "randwrite";

/** Bytes per random request. */
export const RANDOM_BYTES = 4096;

export interface WorkloadOptions {
  /** measured time, ms */
  durationMs: number;
  /** load before measuring (fills caches, windows, RTT estimates), ms */
  warmupMs: number;
  /** frames in flight; default (and at most) the target's window: its buffer count, capped at 128 */
  window?: number;
  /** sectors used, from LBA 0; default the whole device */
  spanSectors?: number;
  /** seed of the random LBAs (xorshift32), so that every target sees the same sequence */
  seed?: number;
  /** told when the measured interval begins and ends (the bench samples the target's CPU there) */
  onPhase?: (phase: "begin" | "end", workload: Workload) => void;
  /** how long to wait for stragglers after the end before giving up on them, ms (default 10 s) */
  drainMs?: number;
}

export interface WorkloadResult {
  workload: Workload;
  /** bytes per request */
  requestBytes: number;
  framesPerRequest: number;
  /** requests kept outstanding */
  depth: number;
  /** frames the window allows (the target's buffer count, at most 128) */
  window: number;
  /** measured seconds */
  seconds: number;
  /** requests completed while measuring */
  requests: number;
  /** data bytes moved while measuring */
  bytes: number;
  /** 10^6 bytes per second */
  mbps: number;
  iops: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  maxUs: number;
  /** frames the engine sent again after a timeout, while measuring */
  resends: number;
  /** requests that failed (deadline, AoE or ATA error) */
  errors: number;
  /** first failure, if any */
  firstError?: string;
  /** replies that matched no frame in flight (late replies to resent frames) */
  strayReplies: number;
  /** times the engine shrank the window after a loss */
  windowShrinks: number;
  /** CPU seconds this (initiator) process used while measuring */
  initiatorCpuS: number;
  /** requests still unanswered when the bench gave up draining */
  abandoned: number;
}

function resentOf(t: Target): number {
  let n = 0;
  for (const p of t.paths.paths) n += p.resent;
  return n;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface Slot {
  readonly index: number;
  readonly buf: Uint8Array;
  startedAt: number;
  readonly ok: () => void;
  readonly fail: (e: unknown) => void;
}

/** Holds the initiator's sends while a batch of requests is submitted (CorkLink, or several). */
export interface Plug {
  cork(): void;
  uncork(): unknown;
}

/** Runs one workload on `t`; `link` corks the link(s) the initiator `ini` sends on. */
export function runWorkload(ini: Initiator, t: Target, link: Plug, workload: Workload, o: WorkloadOptions): Promise<WorkloadResult> {
  const deviceSectors = t.identify?.sectors ?? 0;
  const maxSectors = t.maxSectors();
  if (maxSectors < 1) throw new Error(`${t.name}: no usable path`);
  const write = isWriteWorkload(workload);
  const random = isRandomWorkload(workload);
  const reqSectors = random ? RANDOM_BYTES / SECTOR_SIZE : maxSectors;
  const framesPerRequest = Math.ceil(reqSectors / maxSectors);
  const window = Math.max(1, Math.min(o.window ?? t.window.cap, t.window.cap));
  const depth = Math.max(1, Math.floor(window / framesPerRequest));
  const span = Math.min(o.spanSectors ?? deviceSectors, deviceSectors);
  if (span < reqSectors * 2) throw new Error(`${t.name}: ${span} sectors are too few for the ${workload} workload`);
  const requestBytes = reqSectors * SECTOR_SIZE;

  // Write data: random bytes, one buffer shared by every request (the engine copies it into each frame).
  const source = new Uint8Array(requestBytes);
  for (let at = 0; at < source.length; at += 65536) crypto.getRandomValues(source.subarray(at, Math.min(source.length, at + 65536)));

  let seed = (o.seed ?? 0x9e3779b9) >>> 0 || 1;
  const randomBlocks = Math.floor(span / reqSectors);
  const nextRandom = (): number => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed;
  };
  let cursor = 0;
  const nextLba = (): number => {
    if (random) return (nextRandom() % randomBlocks) * reqSectors;
    if (cursor + reqSectors > span) cursor = 0;
    const lba = cursor;
    cursor += reqSectors;
    return lba;
  };

  const hist = new Histogram();
  let phase: "warmup" | "measure" | "drain" = "warmup";
  let inflight = 0;
  let requests = 0;
  let errors = 0;
  let totalErrors = 0;
  let firstError: string | undefined;
  let aborted = false;
  const ready: Slot[] = [];
  let refillScheduled = false;

  return new Promise<WorkloadResult>((resolve, reject) => {
    let drained: (() => void) | undefined;

    const issue = (s: Slot): void => {
      s.startedAt = performance.now();
      inflight++;
      const lba = nextLba();
      let p: Promise<void>;
      try {
        p = write ? ini.write(t, lba, reqSectors, source) : ini.read(t, lba, reqSectors, s.buf);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(s.ok, s.fail);
    };

    const refill = (): void => {
      refillScheduled = false;
      if (phase === "drain" || aborted) {
        ready.length = 0;
        return;
      }
      link.cork();
      try {
        for (let i = 0; i < ready.length; i++) issue(ready[i]!);
      } finally {
        ready.length = 0;
        link.uncork();
      }
    };

    const finished = (s: Slot, failed: boolean, e?: unknown): void => {
      inflight--;
      if (phase === "measure") {
        if (failed) errors++;
        else {
          requests++;
          hist.add((performance.now() - s.startedAt) * 1000);
        }
      }
      if (failed) {
        totalErrors++;
        firstError ??= e instanceof Error ? e.message : String(e);
        const code = (e as { code?: string })?.code;
        // Nothing to retry against (closed, no path), or failing throughout: stop instead of spinning.
        if (code === "closed" || code === "no-path" || (totalErrors > 1000 && requests === 0)) aborted = true;
      }
      if (phase === "drain" || aborted) {
        if (inflight === 0) drained?.();
        return;
      }
      ready.push(s);
      if (!refillScheduled) {
        refillScheduled = true;
        queueMicrotask(refill);
      }
    };

    const slots: Slot[] = [];
    for (let i = 0; i < depth; i++) {
      const s: Slot = {
        index: i,
        buf: new Uint8Array(requestBytes),
        startedAt: 0,
        ok: () => finished(s, false),
        fail: (e) => finished(s, true, e),
      };
      slots.push(s);
    }

    let beganAt = 0;
    let resentAtBegin = 0;
    let strayAtBegin = 0;
    let shrinksAtBegin = 0;
    let cpuAtBegin = 0;

    const begin = (): void => {
      if (aborted) return end();
      phase = "measure";
      beganAt = performance.now();
      resentAtBegin = resentOf(t);
      strayAtBegin = ini.unmatchedReplies;
      shrinksAtBegin = t.window.shrinks;
      cpuAtBegin = cpuSeconds();
      o.onPhase?.("begin", workload);
      setTimeout(end, o.durationMs);
    };

    const end = (): void => {
      const endedAt = performance.now();
      const seconds = beganAt ? (endedAt - beganAt) / 1000 : 0;
      const cpu = beganAt ? cpuSeconds() - cpuAtBegin : 0;
      const resends = beganAt ? resentOf(t) - resentAtBegin : 0;
      const stray = beganAt ? ini.unmatchedReplies - strayAtBegin : 0;
      const shrinks = beganAt ? t.window.shrinks - shrinksAtBegin : 0;
      phase = "drain";
      if (beganAt) o.onPhase?.("end", workload);
      const bytes = requests * requestBytes;
      const result = (abandoned: number): WorkloadResult => ({
        workload,
        requestBytes,
        framesPerRequest,
        depth,
        window,
        seconds,
        requests,
        bytes,
        mbps: seconds > 0 ? bytes / 1e6 / seconds : 0,
        iops: seconds > 0 ? requests / seconds : 0,
        p50Us: hist.percentile(0.5),
        p99Us: hist.percentile(0.99),
        meanUs: hist.meanUs,
        maxUs: hist.maxUs,
        resends,
        errors,
        firstError,
        strayReplies: stray,
        windowShrinks: shrinks,
        initiatorCpuS: cpu,
        abandoned,
      });
      if (inflight === 0) return resolve(result(0));
      const timer = setTimeout(() => {
        drained = undefined;
        resolve(result(inflight));
      }, o.drainMs ?? 10_000);
      drained = () => {
        clearTimeout(timer);
        drained = undefined;
        resolve(result(0));
      };
    };

    try {
      link.cork();
      try {
        for (const s of slots) issue(s);
      } finally {
        link.uncork();
      }
    } catch (e) {
      reject(e);
      return;
    }
    if (o.warmupMs > 0) setTimeout(begin, o.warmupMs);
    else begin();
  });
}
