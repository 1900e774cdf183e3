/**
 * A RawLink that can hold its sends for a moment: while corked, sendBatch() only
 * collects frames; uncork() sends everything collected in one sendBatch (one
 * sendmmsg per 64 frames).
 *
 * Why: the initiator engine sends at once from every submit() (it must: a lone
 * request cannot wait). The load generator refills its queue depth with many
 * submits in a row, once per batch of completions; corking turns those into one
 * system call instead of one per request, as a kernel initiator's plugged block
 * queue would. Cork and uncork happen in the same synchronous stretch of code,
 * so no reply can retire a frame (and free its buffer) in between.
 */
import type { LinkStats, RawLink } from "../../ffi/rawlink.ts";

export class CorkLink implements RawLink {
  private corked = false;
  private readonly held: Uint8Array[] = [];
  /** sendmmsg batches issued through uncork(), and frames in them (diagnostics) */
  uncorks = 0;
  uncorkedFrames = 0;

  constructor(readonly inner: RawLink) {}

  get name(): string {
    return this.inner.name;
  }
  get index(): number {
    return this.inner.index;
  }
  get mac(): Uint8Array {
    return this.inner.mac;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get open(): boolean {
    return this.inner.open;
  }
  get fd(): number {
    return this.inner.fd;
  }
  get stats(): Readonly<LinkStats> {
    return this.inner.stats;
  }
  get batchSize(): number | undefined {
    return this.inner.batchSize;
  }

  receive(): Uint8Array[] {
    return this.inner.receive();
  }

  send(frame: Uint8Array): boolean {
    if (this.corked) {
      this.held.push(frame);
      return true;
    }
    return this.inner.send(frame);
  }

  sendBatch(frames: readonly Uint8Array[]): number {
    if (!this.corked) return this.inner.sendBatch(frames);
    // the caller reuses its array: keep the frames, not the array
    for (let i = 0; i < frames.length; i++) this.held.push(frames[i]!);
    return frames.length;
  }

  cork(): void {
    this.corked = true;
  }

  /** Send what was held; returns how many of them the kernel took. */
  uncork(): number {
    this.corked = false;
    const n = this.held.length;
    if (n === 0) return 0;
    this.uncorks++;
    this.uncorkedFrames += n;
    let sent = 0;
    try {
      sent = this.inner.open ? this.inner.sendBatch(this.held) : 0;
    } finally {
      this.held.length = 0;
    }
    // Frames the kernel refused are left to the engine's resend timers, as for its own sends.
    return sent;
  }

  refresh(): void {
    this.inner.refresh();
  }

  kernelDrops(): number {
    return this.inner.kernelDrops();
  }

  onClose(cb: () => void): () => void {
    return this.inner.onClose?.(cb) ?? (() => {});
  }

  close(): void {
    this.held.length = 0;
    this.inner.close();
  }
}
