/**
 * One exported device at shelf.slot: takes every AoE frame received on its link,
 * decides whether it is addressed to us and allowed, and answers it — at once for
 * configuration and ATA commands that need no storage, through the IoQueue for
 * reads, writes and flushes.
 *
 * Order of checks for a frame (each failing check drops it silently unless an
 * AoE error is named):
 *   1. a reply (R flag) or a frame too short for the AoE header: drop;
 *   2. addressed to another shelf or slot (0xFFFF and 0xFF match any, each on its
 *      own), or to another station's unicast MAC: drop;
 *   3. source not on a non-empty Mac Mask list: drop (no service);
 *   4. version other than 1: AoE error 5;
 *   5. the command: ATA (error 6 while reserved by others), Query Config, Mac Mask
 *      List, Reserve/Release; anything else AoE error 1.
 * A frame whose argument is cut short is dropped; a complete but unpadded one is
 * answered.
 */
import {
  AOE_VERSION,
  AoEError,
  ATA_DATA_OFFSET,
  BROADCAST_MAC,
  BROADCAST_MAJOR,
  BROADCAST_MINOR,
  Command,
  ConfigCmd,
  CONFIG_STRING_OFFSET,
  decodeAta,
  decodeHeader,
  DecodeError,
  encodeAta,
  encodeHeader,
  Flag,
  HEADER_LEN,
  isMulticast,
  MAX_CONFIG_LEN,
  newFrame,
  replyHeader,
  SECTOR_SIZE,
  type AtaArg,
  type Header,
} from "../aoe/index.ts";
import { AccessControl, isStationMac, macKey } from "./access.ts";
import { ioErrorBits, planAta, STATUS_ERR, STATUS_OK, type AtaDevice } from "./ata.ts";
import { ExportCounters } from "./counters.ts";
import { IoOp, IoQueue, type IoSlot } from "./io.ts";
import { FIRMWARE_VERSION, Management } from "./management.ts";
import type { Port, SendFrame, SendFrames } from "./port.ts";
import type { StateStore } from "./state.ts";
import type { Storage } from "./storage.ts";
import { TagTracker, TagVerdict } from "./tags.ts";

/**
 * Replies leave as soon as this many are ready, not only at the end of the batch:
 * the initiator starts on the first ones while we work on the rest. Measured on
 * veth (2 cores, 16-64 requests outstanding): 8 beat both 1 (a syscall per reply)
 * and whole batches (initiator and target in lock step), by 20-50 %.
 */
const EARLY_FLUSH_AT = 8;

/** Most distinct initiators counted per export (`initiators`); requests from further ones are not counted. */
const MAX_COUNTED_INITIATORS = 256;

export interface ExportOptions {
  shelf: number;
  slot: number;
  storage: Storage;
  /** our MAC on the link (replies come from it): the default port, with maxSectors, send and sendBatch */
  mac: Uint8Array;
  /** advertised buffer count and the most requests at the storage at once */
  bufcnt: number;
  /**
   * most sectors per ATA request, from the MTU: the default port's, and the size of
   * the request slots (ports added later advertise at most this many)
   */
  maxSectors: number;
  identify: Uint8Array;
  access: AccessControl;
  /** initial config string */
  config: Uint8Array;
  state?: StateStore;
  tags?: TagTracker;
  send: SendFrame;
  /** default: send one by one */
  sendBatch?: SendFrames;
  /** warnings (storage errors, state saves that failed) */
  warn?: (message: string) => void;
}

export class Export implements AtaDevice {
  readonly shelf: number;
  readonly slot: number;
  readonly sectors: number;
  readonly readOnly: boolean;
  readonly maxSectors: number;
  readonly identify: Uint8Array;
  readonly bufcnt: number;
  readonly counters = new ExportCounters();
  readonly access: AccessControl;
  /** Query Config, Mac Mask List, Reserve/Release (management.ts) */
  private readonly mgmt: Management;
  /** the port given to the constructor: where handle() without a port replies */
  readonly defaultPort: Port;
  /** the port of the frame being handled (handle() sets it; replies built synchronously use it) */
  private port: Port;
  /**
   * ATA, config, mask and reserve requests per source MAC (48-bit key), for the
   * monitor: a counter cell per initiator, so a frame costs one lookup, not two
   */
  readonly initiators = new Map<number, { requests: number }>();
  private readonly storage: Storage;
  private readonly io: IoQueue;
  private readonly state: StateStore | undefined;
  private readonly tags: TagTracker | undefined;
  /**
   * Storage replies wait here and leave together: at the end of the loop's batch
   * (flush() from onBatchEnd) or, for completions from the thread pool, once the
   * completions of this turn of the event loop are in (setImmediate). Their slots
   * are released after the send.
   */
  private readonly outbox: Uint8Array[] = [];
  private readonly outboxSlots: IoSlot[] = [];
  private flushScheduled = false;
  private readonly flushSoon = () => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly warn: (message: string) => void;
  /** replies built and sent on the spot: one buffer, reused */
  private readonly scratch: Uint8Array;
  private stopping = false;

  constructor(o: ExportOptions) {
    this.shelf = o.shelf;
    this.slot = o.slot;
    this.storage = o.storage;
    this.sectors = o.storage.sectors;
    this.readOnly = o.storage.readOnly;
    this.maxSectors = o.maxSectors;
    this.identify = o.identify;
    this.bufcnt = o.bufcnt;
    this.access = o.access;
    // what the management commands use of this export, the current port included
    const self = this;
    this.mgmt = new Management(
      {
        shelf: this.shelf,
        slot: this.slot,
        bufcnt: this.bufcnt,
        maxSectors: this.maxSectors,
        counters: this.counters,
        access: this.access,
        get port() {
          return self.port;
        },
        get scratch() {
          return self.scratch;
        },
        reply: (out, end) => this.reply(out, end),
        persistThenSend: (out, end) => this.persistThenSend(out, end),
        aoeError: (h, error) => this.aoeError(h, error),
      },
      o.config,
    );
    const mac = o.mac.slice(0, 6);
    this.defaultPort = {
      mac,
      macKey: macKey(mac),
      maxSectors: o.maxSectors,
      send: o.send,
      sendBatch: o.sendBatch ?? ((frames) => frames.forEach(o.send)),
    };
    this.port = this.defaultPort;
    this.state = o.state;
    this.tags = o.tags;
    this.warn = o.warn ?? (() => {});
    const frameLen = ATA_DATA_OFFSET + Math.max(this.maxSectors, 1) * SECTOR_SIZE;
    this.scratch = newFrame(Math.max(frameLen, CONFIG_STRING_OFFSET + MAX_CONFIG_LEN, HEADER_LEN + 4 + 255 * 8));
    // Twice bufcnt slots: bufcnt at the storage, as many queued behind them, so a
    // burst from several initiators waits instead of being dropped.
    this.io = new IoQueue(this.storage, frameLen, 2 * o.bufcnt, o.bufcnt, (slot, err) => this.ioDone(slot, err));
  }

  get configString(): Uint8Array {
    return this.mgmt.config;
  }

  /** Requests at the storage or waiting for it. */
  get busy(): number {
    return this.io.busy;
  }

  /** Replace the Mac Mask list (the operator's word, as -m at start) and save it. */
  setMasks(macs: readonly number[]): void {
    this.access.setMasks(macs);
    this.state
      ?.save({ config: this.mgmt.config, masks: [...this.access.maskList], reservation: [...this.access.reservationList] })
      .catch((e: Error) => this.warn(`could not save state to ${this.state!.file}: ${e.message}`));
  }

  /** Requests at the storage now. */
  get inFlight(): number {
    return this.io.inFlightCount;
  }

  /** Broadcast the unsolicited Query Config reply that announces the target (on `port`). */
  announce(port: Port = this.defaultPort): void {
    this.port = port;
    const out = this.scratch;
    encodeHeader(
      {
        dst: BROADCAST_MAC,
        src: port.mac,
        version: AOE_VERSION,
        flags: Flag.Response,
        error: 0,
        major: this.shelf,
        minor: this.slot,
        command: Command.QueryConfig,
        tag: 0,
      },
      out,
    );
    this.reply(out, this.mgmt.encodeConfigInfo(ConfigCmd.Read, out));
  }

  /**
   * Stop taking requests; resolves once every request in flight has been answered,
   * state saves have landed and the storage has been flushed.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.io.idle();
    await this.state?.idle();
    if (!this.readOnly) {
      await new Promise<void>((resolve) =>
        this.storage.flush((err) => {
          if (err) this.warn(`final flush of ${this.storage.path} failed: ${err.message}`);
          resolve();
        }),
      );
    }
  }

  /** One received frame (a view valid only during this call), from `port`. */
  handle(frame: Uint8Array, port: Port = this.defaultPort): void {
    if (this.stopping) return;
    this.port = port;
    this.counters.received++;
    let h: Header;
    try {
      h = decodeHeader(frame);
    } catch {
      this.counters.malformed++;
      return;
    }
    if (h.flags & Flag.Response) return;
    // No station sends from a group or all-zero address: a reply would go to every
    // station (or none) on the segment. Forged; drop it.
    if (!isStationMac(h.src)) {
      this.counters.badSource++;
      return;
    }
    if (
      (h.major !== this.shelf && h.major !== BROADCAST_MAJOR) ||
      (h.minor !== this.slot && h.minor !== BROADCAST_MINOR) ||
      (!isMulticast(h.dst) && macKey(h.dst) !== port.macKey)
    ) {
      this.counters.notForUs++;
      return;
    }
    const src = macKey(h.src);
    if (!this.access.allows(src)) {
      this.counters.masked++;
      return;
    }
    const seen = this.initiators.get(src);
    if (seen !== undefined) seen.requests++;
    else if (this.initiators.size < MAX_COUNTED_INITIATORS) this.initiators.set(src, { requests: 1 });
    if (h.version !== AOE_VERSION) return this.aoeError(h, AoEError.UnsupportedVersion);
    try {
      switch (h.command) {
        case Command.ATA:
          return this.ata(h, src, frame);
        case Command.QueryConfig:
          return this.mgmt.queryConfig(h, frame);
        case Command.MacMask:
          return this.mgmt.macMask(h, frame);
        case Command.Reserve:
          return this.mgmt.reserve(h, src, frame);
        default:
          return this.aoeError(h, AoEError.UnrecognizedCommand);
      }
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      if (e.kind === "invalid") return this.aoeError(h, AoEError.BadArgument);
      this.counters.malformed++;
    }
  }

  // ---- ATA -------------------------------------------------------------------

  private ata(h: Header, src: number, frame: Uint8Array): void {
    const arg = decodeAta(frame);
    if (this.access.reservedAgainst(src)) return this.aoeError(h, AoEError.TargetReserved, arg);
    const plan = planAta(this, arg, frame.length - ATA_DATA_OFFSET);
    switch (plan.kind) {
      case "aoeError":
        return this.aoeError(h, plan.error, arg);
      case "reply":
        if (plan.status !== STATUS_OK) this.counters.ataErrors++;
        return this.ataReply(h, arg, plan.status, plan.error, plan.sectorCount, plan.data);
      case "read":
      case "write":
      case "flush":
        break;
    }
    const isWrite = plan.kind === "write";
    const lba = plan.kind === "flush" ? 0 : plan.lba;
    const count = plan.kind === "flush" ? 0 : plan.count;
    if (this.tags !== undefined && plan.kind !== "flush") {
      const verdict = this.tags.check(src, h.tag, isWrite, lba, count);
      if (verdict !== TagVerdict.Execute) {
        this.counters.duplicates++;
        if (verdict === TagVerdict.Acknowledge) this.ataReply(h, arg, STATUS_OK, 0, arg.sectorCount);
        return;
      }
    }
    const slot = this.io.acquire();
    if (slot === undefined) {
      this.counters.busyDropped++;
      this.tags?.failed(src, h.tag);
      return;
    }
    slot.op = plan.kind === "read" ? IoOp.Read : isWrite ? IoOp.Write : IoOp.Flush;
    slot.lba = lba;
    slot.count = count;
    slot.src = src;
    slot.tag = h.tag;
    slot.aflags = arg.aflags;
    slot.sectorCount = arg.sectorCount;
    slot.rawLba = arg.lba;
    slot.port = this.port;
    // The header now, while the request is at hand: the receive buffer is reused.
    encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot), slot.frame);
    if (isWrite) slot.data.set(arg.data.subarray(0, count * SECTOR_SIZE));
    this.io.submit(slot);
  }

  private ioDone(slot: IoSlot, err: NodeJS.ErrnoException | null): void {
    const c = this.counters;
    let status: number = STATUS_OK;
    let error = 0;
    if (err) {
      status = STATUS_ERR;
      error = ioErrorBits(slot.op === IoOp.Read, err);
      c.ioErrors++;
      if (c.ioErrors <= 10 || c.ioErrors % 1000 === 0) {
        this.warn(`${ioName(slot.op)} at sector ${slot.lba} of ${this.storage.path} failed: ${err.message} (${c.ioErrors} I/O errors so far)`);
      }
      this.tags?.failed(slot.src, slot.tag);
    } else if (slot.op === IoOp.Read) {
      c.reads++;
      c.sectorsRead += slot.count;
    } else if (slot.op === IoOp.Write) {
      c.writes++;
      c.sectorsWritten += slot.count;
      this.tags?.completed(slot.src, slot.tag);
    } else {
      c.flushes++;
    }
    const withData = slot.op === IoOp.Read && !err;
    const end = encodeAta(
      {
        aflags: slot.aflags,
        errFeature: error,
        sectorCount: slot.sectorCount,
        cmdStatus: status,
        lba: slot.rawLba,
        data: withData ? slot.data.subarray(0, slot.count * SECTOR_SIZE) : undefined,
      },
      slot.frame,
    );
    this.counters.replies++;
    this.outbox.push(slot.frame.subarray(0, end));
    this.outboxSlots.push(slot);
    if (this.outbox.length >= EARLY_FLUSH_AT) return this.flush();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // a microtask: the replies of one batch of completions leave together, at once
      queueMicrotask(this.flushSoon);
    }
  }

  /** Send the storage replies waiting in the outbox, each on its port, then free their slots. */
  flush(): void {
    const n = this.outbox.length;
    if (n === 0) return;
    try {
      // one sendBatch per run of replies for the same port (one run with one port)
      let start = 0;
      for (let i = 1; i <= n; i++) {
        const port = this.outboxSlots[start]!.port!;
        if (i < n && this.outboxSlots[i]!.port === port) continue;
        port.sendBatch(start === 0 && i === n ? this.outbox : this.outbox.slice(start, i));
        start = i;
      }
    } finally {
      this.outbox.length = 0;
      for (const slot of this.outboxSlots) this.io.release(slot);
      this.outboxSlots.length = 0;
    }
  }

  private ataReply(h: Header, arg: AtaArg, status: number, error: number, sectorCount: number, data?: Uint8Array): void {
    const out = this.scratch;
    encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot), out);
    const end = encodeAta({ aflags: arg.aflags, errFeature: error, sectorCount, cmdStatus: status, lba: arg.lba, data }, out);
    this.reply(out, end);
  }

  // ---- replies ---------------------------------------------------------------

  /** An AoE-level error: the header, and the ATA argument echoed when there is one. */
  private aoeError(h: Header, error: number, arg?: AtaArg): void {
    this.counters.aoeErrors++;
    const out = this.scratch;
    let end = encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot, error), out);
    if (arg !== undefined) {
      end = encodeAta({ aflags: arg.aflags, errFeature: arg.errFeature, sectorCount: arg.sectorCount, cmdStatus: arg.cmdStatus, lba: arg.lba }, out);
    }
    this.reply(out, end);
  }

  private reply(out: Uint8Array, end: number, port: Port = this.port): void {
    this.counters.replies++;
    port.send(out.subarray(0, end));
  }

  /** Save the state (if kept), then send a reply built in its own buffer. */
  private persistThenSend(out: Uint8Array, end: number): void {
    if (this.state === undefined) return this.reply(out, end);
    const port = this.port;
    this.state
      .save({ config: this.mgmt.config, masks: [...this.access.maskList], reservation: [...this.access.reservationList] })
      .then(
        () => this.reply(out, end, port),
        (e: Error) => {
          // The change holds in memory; say it may not survive a restart, and
          // still answer (the initiator asked for a change we did make).
          this.warn(`could not save state to ${this.state!.file}: ${e.message}`);
          this.reply(out, end, port);
        },
      );
  }
}

function ioName(op: number): string {
  return op === IoOp.Read ? "read" : op === IoOp.Write ? "write" : "flush";
}
