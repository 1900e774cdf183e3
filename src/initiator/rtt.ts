/**
 * Round-trip time estimate of one path and the resend timeout derived from it.
 *
 * Jacobson/Karels (SIGCOMM '88; the form TCP uses in RFC 6298 and the Linux aoe
 * driver uses in scaled integers), not Plan 9's plain average:
 *
 *  - Plan 9 resends after 2 x rttavg. That factor 2 is a guess at the spread.
 *    On a LAN the round trip is tens of microseconds, and its spread comes from
 *    things far larger than it: the target's disk, the queue of up to 128 frames
 *    in front of each reply, this process's own garbage collector and event
 *    loop. A deviation term measures that spread instead of guessing it, so the
 *    timer is tight when replies are regular and loose when they are not.
 *  - srtt gain 1/8, deviation gain 1/4, timeout = srtt + 4 x rttvar: RFC 6298.
 *
 * Every transmission of a frame carries its own tag (see engine.ts), so each
 * reply says which transmission it answers and its round trip is exact: no
 * Karn ambiguity, every reply is a sample. A timeout doubles the timer
 * (exponential backoff) until the next sample.
 *
 * The timeout is clamped like Plan 9's (20 ms .. 320 ms, there for the round
 * trip itself): here the floor is lower because the loop checks timers every
 * few milliseconds and a spurious resend costs one frame, while a late resend
 * stalls a window slot; the ceiling is higher so that backoff can ride out a
 * target that pauses (a vblade doing synchronous disk writes) without
 * flooding it.
 */

export interface RttOptions {
  /** lower bound of the resend timeout, ms */
  minTimeoutMs?: number;
  /** upper bound of the resend timeout (after backoff), ms */
  maxTimeoutMs?: number;
  /** timeout before the first sample, ms */
  initialTimeoutMs?: number;
}

export const DEFAULT_MIN_TIMEOUT_MS = 10;
export const DEFAULT_MAX_TIMEOUT_MS = 2000;
export const DEFAULT_INITIAL_TIMEOUT_MS = 250;

export class RttEstimator {
  /** smoothed round trip, ms; NaN before the first sample */
  srtt = Number.NaN;
  /** smoothed mean deviation, ms */
  rttvar = 0;
  /** smallest round trip seen, ms */
  minRtt = Number.POSITIVE_INFINITY;
  samples = 0;
  private backoff = 1;
  readonly minTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly initialTimeoutMs: number;

  constructor(o: RttOptions = {}) {
    this.minTimeoutMs = o.minTimeoutMs ?? DEFAULT_MIN_TIMEOUT_MS;
    this.maxTimeoutMs = o.maxTimeoutMs ?? DEFAULT_MAX_TIMEOUT_MS;
    this.initialTimeoutMs = o.initialTimeoutMs ?? DEFAULT_INITIAL_TIMEOUT_MS;
  }

  /** Feeds one measured round trip (ms) and ends any backoff. */
  sample(rttMs: number): void {
    const r = Math.max(0, rttMs);
    if (this.samples === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar += (Math.abs(this.srtt - r) - this.rttvar) / 4;
      this.srtt += (r - this.srtt) / 8;
    }
    if (r < this.minRtt) this.minRtt = r;
    this.samples++;
    this.backoff = 1;
  }

  /** A transmission timed out: double the timer until the next sample. */
  timedOut(): void {
    if (this.timeoutMs() < this.maxTimeoutMs) this.backoff *= 2;
  }

  /** How long to wait for a reply before resending, ms. */
  timeoutMs(): number {
    const base = this.samples === 0 ? this.initialTimeoutMs : this.srtt + 4 * this.rttvar;
    const t = Math.max(this.minTimeoutMs, base) * this.backoff;
    return Math.min(this.maxTimeoutMs, t);
  }
}
