/**
 * Paths to a target: (local interface, target MAC) pairs, each with its own
 * round-trip estimate and counters, chosen round-robin.
 *
 * A path that keeps timing out is "failing": after FAIL_AFTER consecutive
 * timeouts with no reply it is skipped, and only probed with a single frame
 * now and then (backing off up to PROBE_MAX_MS), so a dead link costs one frame
 * per probe instead of a share of every window. Any reply on it restores it.
 * When every path is failing, frames still go out on the least recently failed
 * one: the request deadline, not the path logic, decides when to give up.
 */
import { RttEstimator, type RttOptions } from "./rtt.ts";
import type { NetLink } from "./netlink.ts";
import { macEquals } from "../aoe/mac.ts";

export const FAIL_AFTER = 3;
export const PROBE_FIRST_MS = 200;
export const PROBE_MAX_MS = 2000;

export class Path {
  readonly rtt: RttEstimator;
  /** frames sent, resends included (Plan 9's npkt) */
  npkt = 0;
  /** frames resent (Plan 9's resent) */
  resent = 0;
  /** replies received */
  replies = 0;
  /** transmissions on this path still waiting for a reply */
  outstanding = 0;
  /** timeouts since the last reply */
  consecutiveTimeouts = 0;
  /** failing paths are probed again from this time on (ms) */
  private retryAt = 0;
  private probeDelay = PROBE_FIRST_MS;
  private lastTimeoutAt = Number.NEGATIVE_INFINITY;
  /** the target's sector count as advertised on this path (its MTU there) */
  targetSectors: number;

  constructor(
    readonly netlink: NetLink,
    readonly targetMac: Uint8Array,
    targetSectors: number,
    rttOptions?: RttOptions,
  ) {
    this.targetSectors = targetSectors;
    this.rtt = new RttEstimator(rttOptions);
  }

  /** Most sectors per frame on this path: the smaller of both ends' limits. */
  maxSectors(): number {
    return Math.min(this.netlink.maxSectors(), this.targetSectors);
  }

  get failing(): boolean {
    return this.consecutiveTimeouts >= FAIL_AFTER;
  }

  /** May carry a frame now: healthy, or failing but due for a probe. */
  usable(now: number): boolean {
    if (!this.failing) return true;
    return now >= this.retryAt && this.outstanding === 0;
  }

  /** send time of the latest-sent transmission that was answered (for loss detection) */
  latestAnsweredSentAt = Number.NEGATIVE_INFINITY;

  replied(rttMs: number, sentAt?: number): void {
    if (sentAt !== undefined && sentAt > this.latestAnsweredSentAt) this.latestAnsweredSentAt = sentAt;
    this.replies++;
    this.rtt.sample(rttMs);
    this.consecutiveTimeouts = 0;
    this.probeDelay = PROBE_FIRST_MS;
  }

  timedOut(now: number): void {
    // Count once per timer period, not once per frame: a window of frames
    // overdue together (a stall here or at the target) is one event, and a
    // path fails only after FAIL_AFTER periods without a single reply.
    if (now - this.lastTimeoutAt < this.rtt.timeoutMs()) return;
    this.lastTimeoutAt = now;
    this.rtt.timedOut();
    this.consecutiveTimeouts++;
    if (this.failing) {
      this.retryAt = now + this.probeDelay;
      this.probeDelay = Math.min(PROBE_MAX_MS, this.probeDelay * 2);
    }
  }

  /** Sending failed outright (interface down): fail now rather than after three timeouts. */
  sendFailed(now: number): void {
    this.consecutiveTimeouts = Math.max(this.consecutiveTimeouts + 1, FAIL_AFTER);
    this.retryAt = now + this.probeDelay;
    this.probeDelay = Math.min(PROBE_MAX_MS, this.probeDelay * 2);
  }

  /** When a failing path may be probed again. */
  get nextProbeAt(): number {
    return this.retryAt;
  }
}

export class PathSet {
  readonly paths: Path[] = [];
  private next = 0;

  /** Adds (or finds) the path for this interface and target MAC. */
  add(netlink: NetLink, targetMac: Uint8Array, targetSectors: number, rttOptions?: RttOptions): Path {
    const known = this.find(netlink, targetMac);
    if (known) {
      known.targetSectors = targetSectors;
      return known;
    }
    const p = new Path(netlink, targetMac.slice(), targetSectors, rttOptions);
    this.paths.push(p);
    return p;
  }

  /** Drops every path through `netlink` (unbind); returns them. */
  removeNetlink(netlink: NetLink): Path[] {
    const gone = this.paths.filter((p) => p.netlink === netlink);
    if (gone.length === 0) return gone;
    const keep = this.paths.filter((p) => p.netlink !== netlink);
    this.paths.length = 0;
    this.paths.push(...keep);
    this.next = 0;
    return gone;
  }

  find(netlink: NetLink, targetMac: Uint8Array): Path | undefined {
    return this.paths.find((p) => p.netlink === netlink && macEquals(p.targetMac, targetMac));
  }

  get size(): number {
    return this.paths.length;
  }

  /**
   * The next usable path in round-robin order, preferring one other than
   * `avoid` (a resend goes out on another path when there is one, as Plan 9
   * does). With no usable path, the failing one due soonest for a probe.
   */
  pick(now: number, avoid?: Path): Path | undefined {
    const n = this.paths.length;
    if (n === 0) return undefined;
    let fallback: Path | undefined;
    for (let i = 0; i < n; i++) {
      const p = this.paths[(this.next + i) % n]!;
      if (!p.usable(now)) continue;
      if (p === avoid && n > 1) {
        fallback ??= p;
        continue;
      }
      this.next = (this.next + i + 1) % n;
      return p;
    }
    if (fallback) return fallback;
    let best = this.paths[0]!;
    for (const p of this.paths) if (p.nextProbeAt < best.nextProbeAt) best = p;
    return best;
  }

  /** The largest frame (in sectors) every healthy path can carry; 0 with no paths. */
  maxSectors(): number {
    let m = Number.POSITIVE_INFINITY;
    let any = false;
    for (const p of this.paths) {
      if (p.failing) continue;
      any = true;
      m = Math.min(m, p.maxSectors());
    }
    if (!any) for (const p of this.paths) m = Math.min(m, p.maxSectors());
    return Number.isFinite(m) ? m : 0;
  }
}
