/**
 * Requests queued on a target, and the frames that carry them.
 *
 * An IoRequest reads or writes a run of sectors into or out of one buffer; the
 * engine cuts it into frames of at most the path's sector count as window
 * slots free up. A CommandRequest is one frame (IDENTIFY, FLUSH, Query Config,
 * Mac Mask, Reserve) whose reply a function interprets.
 *
 * A frame may be transmitted several times (resends), each time with a new
 * tag; every tag stays valid until the frame completes. So a late reply to an
 * earlier transmission still completes the frame (it carries the same data),
 * the first reply wins, and once the frame is done all its tags are forgotten:
 * duplicated replies and stragglers find no tag and are dropped, so nothing is
 * copied or counted twice. The Linux driver also gives each resend a new tag
 * (and forgets the old one); Plan 9 keeps one tag per frame, which makes a
 * late reply to the first transmission indistinguishable from a reply to the
 * resend and spoils the round-trip sample.
 */
import { Command, SECTOR_SIZE } from "../aoe/constants.ts";
import type { Header } from "../aoe/header.ts";
import type { Path } from "./path.ts";

/** A run of sectors not yet sent: `offset` is its byte offset in the request's buffer. */
export interface Piece {
  lba: number;
  sectors: number;
  offset: number;
}

/** What went wrong with a request; `code` lets the CLI word its one-line error. */
export class InitiatorError extends Error {
  constructor(
    readonly code: "deadline" | "aoe" | "ata" | "closed" | "no-path" | "protocol",
    message: string,
    /** with code "aoe": the AoE error number of the reply */
    readonly aoeError?: number,
  ) {
    super(message);
    this.name = "InitiatorError";
  }
}

abstract class RequestBase<T> {
  settled = false;
  /** frames of this request in flight */
  readonly frames = new Set<Frame>();
  readonly promise: Promise<T>;
  private resolveFn!: (v: T) => void;
  private rejectFn!: (e: Error) => void;

  constructor(readonly command: number) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
  }

  resolve(v: T): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveFn(v);
  }

  reject(e: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectFn(e);
  }

  abstract hasWork(): boolean;
}

export class IoRequest extends RequestBase<void> {
  readonly kind: "read" | "write";
  /** sectors completed */
  doneSectors = 0;
  private cursor = 0;
  private readonly requeued: Piece[] = [];

  constructor(
    kind: "read" | "write",
    /** the ATA command: READ/WRITE SECTORS (EXT) */
    readonly ataCommand: number,
    readonly lba: number,
    readonly sectors: number,
    /** sectors x 512 bytes: filled by reads, sent by writes */
    readonly data: Uint8Array,
  ) {
    super(Command.ATA);
    this.kind = kind;
    if (data.length < sectors * SECTOR_SIZE) throw new RangeError("request buffer shorter than its sectors");
  }

  hasWork(): boolean {
    return !this.settled && (this.requeued.length > 0 || this.cursor < this.sectors);
  }

  /** The next piece of at most `maxSectors` sectors. */
  take(maxSectors: number): Piece | undefined {
    if (this.settled) return undefined;
    const again = this.requeued.pop();
    if (again) {
      if (again.sectors <= maxSectors) return again;
      this.requeued.push(split(again, maxSectors));
      return again;
    }
    if (this.cursor >= this.sectors) return undefined;
    const n = Math.min(maxSectors, this.sectors - this.cursor);
    const p = { lba: this.lba + this.cursor, sectors: n, offset: this.cursor * SECTOR_SIZE };
    this.cursor += n;
    return p;
  }

  /** Puts back the tail of a piece that had to shrink (a smaller path, the jumbo fallback). */
  requeue(p: Piece): void {
    this.requeued.push(p);
  }

  /** A frame's worth is done; true when the whole request is. */
  completed(sectors: number): boolean {
    this.doneSectors += sectors;
    return this.doneSectors >= this.sectors;
  }
}

/** Cuts `p` to `keep` sectors and returns the rest. */
export function split(p: Piece, keep: number): Piece {
  const rest = { lba: p.lba + keep, sectors: p.sectors - keep, offset: p.offset + keep * SECTOR_SIZE };
  p.sectors = keep;
  return rest;
}

/** Returned by a CommandRequest's accept() for a reply that does not settle it. */
export const IGNORE = Symbol("ignore");

export interface CommandSpec<T> {
  command: number;
  /** Writes the argument (and any payload) at 24; returns the frame's end offset. */
  encode(out: Uint8Array): number;
  /** Interprets a reply: a value settles the request, IGNORE waits on, a throw fails it. */
  accept(reply: Uint8Array, h: Header): T | typeof IGNORE;
  /** Give up after this long (ms) instead of the engine's deadline... */
  deadlineMs?: number;
  /** ...and settle with this value instead of failing (Query Config test: silence means no match). */
  onDeadline?: () => T;
}

export class CommandRequest<T> extends RequestBase<T> {
  private taken = false;

  constructor(readonly spec: CommandSpec<T>) {
    super(spec.command);
  }

  hasWork(): boolean {
    return !this.settled && !this.taken;
  }

  take(): boolean {
    if (this.taken) return false;
    this.taken = true;
    return true;
  }
}

export type Request = IoRequest | CommandRequest<unknown>;

/** One transmission of a frame: its own tag, path and send time. */
export interface Transmission {
  readonly tag: number;
  readonly path: Path;
  readonly sentAt: number;
  /** still counted as outstanding on its path (false once timed out or answered) */
  live: boolean;
  readonly frame: Frame;
}

/** A frame in flight: one piece of an IoRequest, or a whole CommandRequest. */
export class Frame {
  readonly transmissions: Transmission[] = [];
  firstSentAt = 0;
  lastSentAt = 0;
  /** bytes of `buf` to send (unpadded) */
  length = 0;

  constructor(
    readonly req: Request,
    /** the sectors this frame carries (IoRequest only) */
    readonly piece: Piece | undefined,
    /** the frame buffer: FFI-safe, owned by this frame until it completes */
    readonly buf: Uint8Array,
  ) {}

  get last(): Transmission {
    return this.transmissions[this.transmissions.length - 1]!;
  }

  /** Data bytes this frame carries or asks for. */
  get dataBytes(): number {
    return this.piece ? this.piece.sectors * SECTOR_SIZE : 0;
  }
}
