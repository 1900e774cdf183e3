/**
 * The storage pipeline of an export: request slots, and at most `maxInFlight` of
 * them at the storage at once (vblade's -b). Requests beyond that wait in order in
 * their slot; beyond the slots, the request is dropped and the initiator resends.
 *
 * Reads, and writes that the page cache does not take at once, are gathered for
 * the rest of the loop's batch (a microtask) and runs of contiguous ones go to the
 * storage as one preadv / pwritev: the Linux driver and sequential copies cut a
 * large transfer into 1 KiB or 8.5 KiB frames sent back to back, and one 16-frame
 * call costs about what one small pread does (a system call is 2-3 µs on the bench
 * VM; copying 1 KiB far less).
 *
 * A slot owns one reply frame, allocated once and reused for every request it
 * carries: a read lands straight in the reply's data area, a write's data is
 * copied there from the receive buffer (which the link reuses on its next
 * receive). With O_DIRECT the data area is 4096-aligned so that the kernel takes
 * it as is; otherwise a cache line is enough and saves 8 KiB per slot.
 */
import { ATA_DATA_OFFSET, SECTOR_SIZE } from "../aoe/index.ts";
import { alignedBytes } from "../../ffi/blockdev.ts";
import type { Port } from "./port.ts";
import type { IoDone, Storage } from "./storage.ts";

export const IoOp = {
  Read: 0,
  Write: 1,
  Flush: 2,
} as const;
export type IoOp = (typeof IoOp)[keyof typeof IoOp];

export class IoSlot {
  /** the reply frame: header and ATA argument, then the data area */
  readonly frame: Uint8Array;
  /** frame from ATA_DATA_OFFSET: read target, write source */
  readonly data: Uint8Array;
  op: IoOp = IoOp.Read;
  lba = 0;
  count = 0;
  /** the request, as far as the reply needs it (its header is already in `frame`) */
  src = 0;
  tag = 0;
  aflags = 0;
  sectorCount = 0;
  /** the request's LBA as sent (replies echo it unmasked) */
  rawLba = 0;
  /** where the reply goes */
  port: Port | undefined = undefined;
  /** storage completion, bound once per slot */
  readonly done: IoDone;

  constructor(frameLen: number, alignment: number, queue: IoQueue) {
    this.frame = alignedBytes(frameLen, alignment, ATA_DATA_OFFSET);
    this.data = this.frame.subarray(ATA_DATA_OFFSET);
    this.done = (err) => queue.finished(this, err);
  }
}

/** Most reads or writes merged into one preadv / pwritev (the kernel takes up to 1024 iovecs; fileio's MAX_IOV). */
export const MAX_RUN = 64;

export class IoQueue {
  private readonly free: IoSlot[] = [];
  /** writes started in this batch, issued together by issueBatch() */
  private gathered: IoSlot[] = [];
  /** reads started in this batch, issued together (in contiguous runs) by issueBatch() */
  private gatheredReads: IoSlot[] = [];
  private issueScheduled = false;
  private readonly issueBatch = () => this.issueGathered();
  private readonly waiting: IoSlot[] = [];
  private waitingHead = 0;
  private allocated = 0;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly frameLen: number,
    /** slots in all: in flight plus waiting */
    private readonly maxSlots: number,
    private readonly maxInFlight: number,
    /** a slot's storage operation ended; the callee replies, then calls release() */
    private readonly onComplete: (slot: IoSlot, err: NodeJS.ErrnoException | null) => void,
  ) {}

  /** A slot to fill, or undefined when every slot is taken (drop the request). */
  acquire(): IoSlot | undefined {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    if (this.allocated >= this.maxSlots) return undefined;
    this.allocated++;
    return new IoSlot(this.frameLen, this.storage.direct ? 4096 : 64, this);
  }

  /** Start the slot's operation now if fewer than maxInFlight run, else queue it. */
  submit(slot: IoSlot): void {
    if (this.inFlight < this.maxInFlight) this.start(slot);
    else this.waiting.push(slot);
  }

  /** Give a slot back after its reply went out (or was given up). */
  release(slot: IoSlot): void {
    this.free.push(slot);
    this.checkIdle();
  }

  /** Requests at the storage now. */
  get inFlightCount(): number {
    return this.inFlight;
  }

  /** Requests in flight or waiting. */
  get busy(): number {
    return this.inFlight + this.waiting.length - this.waitingHead;
  }

  /** Resolves when no request is in flight or waiting. */
  idle(): Promise<void> {
    if (this.busy === 0 && this.free.length === this.allocated) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** @internal storage callback, through slot.done */
  finished(slot: IoSlot, err: NodeJS.ErrnoException | null): void {
    this.inFlight--;
    this.startWaiting();
    this.onComplete(slot, err);
  }

  private start(slot: IoSlot): void {
    this.inFlight++;
    switch (slot.op) {
      case IoOp.Read:
        this.gatheredReads.push(slot);
        this.scheduleIssue();
        break;
      case IoOp.Write:
        if (this.storage.writeNow(slot.lba, slot.count, slot.data)) return slot.done(null);
        this.gathered.push(slot);
        this.scheduleIssue();
        break;
      case IoOp.Flush:
        this.storage.flush(slot.done);
        break;
    }
  }

  private scheduleIssue(): void {
    if (this.issueScheduled) return;
    this.issueScheduled = true;
    queueMicrotask(this.issueBatch);
  }

  /** Issue the gathered reads and writes, contiguous runs as one transfer each. */
  private issueGathered(): void {
    this.issueScheduled = false;
    this.issueReads();
    const writes = this.gathered;
    if (writes.length === 0) return;
    this.gathered = [];
    if (writes.length > 1) writes.sort((a, b) => a.lba - b.lba);
    for (const [i, end] of contiguousRuns(writes)) {
      const first = writes[i]!;
      if (end - i === 1) {
        this.storage.write(first.lba, first.count, first.data, first.done);
      } else {
        const run = writes.slice(i, end);
        this.storage.writeRun(
          first.lba,
          run.map((w) => w.data.subarray(0, w.count * SECTOR_SIZE)),
          (err) => {
            if (!err) for (const w of run) w.done(null);
            // one bad sector fails the whole transfer: find out which writes
            // really fail, one by one, rather than fail their neighbours too
            else for (const w of run) this.storage.write(w.lba, w.count, w.data, w.done);
          },
        );
      }
    }
  }

  /** Reads: contiguous runs in one preadv when the data is in memory, else one by one. */
  private issueReads(): void {
    const reads = this.gatheredReads;
    if (reads.length === 0) return;
    this.gatheredReads = [];
    if (reads.length > 1) reads.sort((a, b) => a.lba - b.lba);
    for (const [i, end] of contiguousRuns(reads)) {
      const first = reads[i]!;
      if (end - i > 1) {
        const run = reads.slice(i, end);
        if (this.storage.readRunNow(first.lba, run.map((r) => r.data.subarray(0, r.count * SECTOR_SIZE)))) {
          for (const r of run) r.done(null);
          continue;
        }
      }
      for (let k = i; k < end; k++) {
        const r = reads[k]!;
        if (this.storage.readNow(r.lba, r.count, r.data)) r.done(null);
        else this.storage.read(r.lba, r.count, r.data, r.done);
      }
    }
  }

  private startWaiting(): void {
    while (this.inFlight < this.maxInFlight && this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead++]!;
      if (this.waitingHead === this.waiting.length) {
        this.waiting.length = 0;
        this.waitingHead = 0;
      }
      this.start(next);
    }
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || this.busy !== 0 || this.free.length !== this.allocated) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** [start, end) index ranges of `slots` (sorted by LBA) that are contiguous on disk, at most MAX_RUN long. */
function* contiguousRuns(slots: readonly IoSlot[]): Generator<[number, number]> {
  let i = 0;
  while (i < slots.length) {
    let end = i + 1;
    let next = slots[i]!.lba + slots[i]!.count;
    while (end < slots.length && end - i < MAX_RUN && slots[end]!.lba === next) {
      next += slots[end]!.count;
      end++;
    }
    yield [i, end];
    i = end;
  }
}
