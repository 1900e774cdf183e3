/**
 * --tag-tracking: recognise an ATA request seen before (same source MAC, same
 * tag) — a retransmission that crossed our reply, or a frame duplicated by the
 * network — and do not execute it twice.
 *
 * - rx:    every duplicate ATA request is dropped (the first one's reply answers it).
 * - write: a duplicate WRITE whose original has completed is acknowledged without
 *          writing again; one whose original is still in flight is dropped. Other
 *          duplicates run normally.
 * - both:  duplicate WRITEs as in `write`, every other duplicate dropped as in `rx`.
 *
 * Unsafe with an initiator that reuses tags (a tag per slot, not per request):
 * its new request would look like an old one. The Linux aoe driver gives every
 * transmission a fresh tag, so duplicates there are true duplicates.
 *
 * Memory is bounded: per source, a ring of the most recent tags; at most
 * MAX_SOURCES sources (the least recently seen is forgotten).
 */

export type TagTrackingMode = "off" | "rx" | "write" | "both";

export const MAX_SOURCES = 1024;

/** What to do with a request. */
export const TagVerdict = {
  /** new: execute it */
  Execute: 0,
  /** duplicate: send nothing */
  Drop: 1,
  /** duplicate WRITE already done: reply success without writing */
  Acknowledge: 2,
} as const;
export type TagVerdict = (typeof TagVerdict)[keyof typeof TagVerdict];

/** Per-request memory: which tag, and for writes where and whether done. */
interface Seen {
  tag: number;
  isWrite: boolean;
  lba: number;
  count: number;
  done: boolean;
}

class SourceHistory {
  private readonly ring: (Seen | undefined)[];
  private next = 0;
  private readonly byTag = new Map<number, Seen>();

  constructor(size: number) {
    this.ring = new Array(size);
  }

  get(tag: number): Seen | undefined {
    return this.byTag.get(tag);
  }

  forget(tag: number): void {
    this.byTag.delete(tag);
  }

  add(entry: Seen): void {
    const old = this.ring[this.next];
    if (old !== undefined && this.byTag.get(old.tag) === old) this.byTag.delete(old.tag);
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.ring.length;
    this.byTag.set(entry.tag, entry);
  }
}

export class TagTracker {
  private readonly sources = new Map<number, SourceHistory>();

  /** `window`: how many recent tags to remember per source (a few times bufcnt). */
  constructor(
    readonly mode: Exclude<TagTrackingMode, "off">,
    private readonly window: number,
  ) {}

  /**
   * Classify an ATA request, and remember it if new. `isWrite`, `lba` and `count`
   * describe a WRITE so that a reused tag for different sectors is not taken
   * for a duplicate.
   */
  check(src: number, tag: number, isWrite: boolean, lba: number, count: number): TagVerdict {
    let history = this.sources.get(src);
    if (history === undefined) {
      if (this.sources.size >= MAX_SOURCES) {
        const oldest = this.sources.keys().next().value!;
        this.sources.delete(oldest);
      }
      history = new SourceHistory(this.window);
      this.sources.set(src, history);
    }
    const seen = history.get(tag);
    if (seen !== undefined) {
      const sameWrite = isWrite && seen.isWrite && seen.lba === lba && seen.count === count;
      if (sameWrite && this.mode !== "rx") return seen.done ? TagVerdict.Acknowledge : TagVerdict.Drop;
      if (this.mode !== "write") return TagVerdict.Drop;
      if (!isWrite) return TagVerdict.Execute;
      // a WRITE under a reused tag for other sectors: execute it, remember it instead
    }
    history.add({ tag, isWrite, lba, count, done: false });
    return TagVerdict.Execute;
  }

  /** A WRITE finished successfully: later duplicates may be acknowledged. */
  completed(src: number, tag: number): void {
    const seen = this.sources.get(src)?.get(tag);
    if (seen !== undefined) seen.done = true;
  }

  /** A request failed: forget it, so that a retransmission is executed again. */
  failed(src: number, tag: number): void {
    this.sources.get(src)?.forget(tag);
  }
}
