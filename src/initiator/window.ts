/**
 * How many frames one target may have in flight.
 *
 * Starts at the target's advertised buffer count, capped at 128 (the Linux
 * driver's and Plan 9's cap; a target advertising 0 still gets 1). A loss
 * shrinks it by a quarter, at most once per recovery period (about one resend
 * timeout), so a burst of losses from one event counts once; every `size`
 * replies grow it by one until it is back at the cap.
 *
 * Why not Plan 9's (shrink by one per timeout sweep, grow by one after 10 s at
 * a full window) or Linux's (back to 1 and slow start)? Losses on a LAN are
 * mostly a full receive buffer somewhere: shrinking by a fraction backs off
 * fast enough to stop overflowing it, and additive growth finds the limit again
 * within a few hundred replies instead of tens of seconds. Random loss that is
 * not congestion (a bad cable, the test relay's 10 %) leaves the window at a
 * useful size instead of driving it to 1.
 */

export const MAX_WINDOW = 128;

export class Window {
  /** nframes: the cap, min(buffer count, 128) */
  readonly cap: number;
  /** nmaxout: the current window */
  size: number;
  /** losses that shrank the window */
  shrinks = 0;
  private credit = 0;
  private recoverUntil = Number.NEGATIVE_INFINITY;

  constructor(bufferCount: number) {
    this.cap = Math.max(1, Math.min(MAX_WINDOW, bufferCount | 0));
    this.size = this.cap;
  }

  /** A frame was lost at `now` (ms); `holdMs` is how long one loss event lasts. */
  lost(now: number, holdMs: number): void {
    if (now < this.recoverUntil) return;
    this.recoverUntil = now + holdMs;
    const next = Math.max(1, this.size - Math.max(1, Math.floor(this.size / 4)));
    if (next !== this.size) this.shrinks++;
    this.size = next;
    this.credit = 0;
  }

  /** A reply arrived. */
  replied(): void {
    if (this.size >= this.cap) return;
    if (++this.credit >= this.size) {
      this.size++;
      this.credit = 0;
    }
  }
}
