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
  AtaErrorBit,
  BROADCAST_MAC,
  BROADCAST_MAJOR,
  BROADCAST_MINOR,
  Command,
  ConfigCmd,
  CONFIG_STRING_OFFSET,
  decodeAta,
  decodeConfig,
  decodeHeader,
  decodeMacMask,
  decodeReserve,
  DecodeError,
  DirectiveCmd,
  encodeAta,
  encodeConfig,
  encodeHeader,
  encodeMacMask,
  encodeReserve,
  Flag,
  HEADER_LEN,
  isMulticast,
  MacMaskCmd,
  MAX_CONFIG_LEN,
  newFrame,
  replyHeader,
  ReserveCmd,
  SECTOR_SIZE,
  type AtaArg,
  type Header,
} from "../aoe/index.ts";
import { AccessControl, keyToMac, macKey } from "./access.ts";
import { planAta, STATUS_ERR, STATUS_OK, type AtaDevice } from "./ata.ts";
import { IoOp, IoQueue, type IoSlot } from "./io.ts";
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

/** Firmware version announced in Query Config replies. */
export const FIRMWARE_VERSION = 0x0001;

export type { Port, SendFrame, SendFrames };

/** Most distinct initiators counted per export (`initiators`); more are counted as one. */
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

/** What the export did, for SIGUSR1 and tests. */
export class ExportCounters {
  received = 0;
  notForUs = 0;
  masked = 0;
  malformed = 0;
  busyDropped = 0;
  duplicates = 0;
  reads = 0;
  writes = 0;
  sectorsRead = 0;
  sectorsWritten = 0;
  flushes = 0;
  ataErrors = 0;
  aoeErrors = 0;
  ioErrors = 0;
  configCommands = 0;
  maskCommands = 0;
  reserveCommands = 0;
  replies = 0;
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
  private config: Uint8Array;
  /** the port given to the constructor: where handle() without a port replies */
  readonly defaultPort: Port;
  /** the port of the frame being handled (handle() sets it; replies built synchronously use it) */
  private port: Port;
  /** ATA, config, mask and reserve requests per source MAC (48-bit key), for the monitor */
  readonly initiators = new Map<number, number>();
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
    this.config = o.config.slice(0, MAX_CONFIG_LEN);
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
    return this.config;
  }

  /** Requests at the storage or waiting for it. */
  get busy(): number {
    return this.io.busy;
  }

  /** Replace the Mac Mask list (the operator's word, as -m at start) and save it. */
  setMasks(macs: readonly number[]): void {
    this.access.setMasks(macs);
    this.state
      ?.save({ config: this.config, masks: [...this.access.maskList], reservation: [...this.access.reservationList] })
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
    this.reply(out, this.encodeConfigInfo(ConfigCmd.Read, out));
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
    if (seen !== undefined) this.initiators.set(src, seen + 1);
    else if (this.initiators.size < MAX_COUNTED_INITIATORS) this.initiators.set(src, 1);
    if (h.version !== AOE_VERSION) return this.aoeError(h, AoEError.UnsupportedVersion);
    try {
      switch (h.command) {
        case Command.ATA:
          return this.ata(h, src, frame);
        case Command.QueryConfig:
          return this.queryConfig(h, frame);
        case Command.MacMask:
          return this.macMask(h, frame);
        case Command.Reserve:
          return this.reserve(h, src, frame);
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
      error = AtaErrorBit.Abrt;
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
      setImmediate(this.flushSoon);
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

  // ---- Query Config ----------------------------------------------------------

  private queryConfig(h: Header, frame: Uint8Array): void {
    const q = decodeConfig(frame);
    this.counters.configCommands++;
    const out = this.scratch;
    switch (q.ccmd) {
      case ConfigCmd.Read:
        break;
      case ConfigCmd.Test:
        if (!bytesEqual(q.config, this.config)) return;
        break;
      case ConfigCmd.TestPrefix:
        if (!startsWith(this.config, q.config)) return;
        break;
      case ConfigCmd.Set:
        // vblade's rule: a set that would not change the string is no conflict
        if (this.config.length !== 0 && !bytesEqual(q.config, this.config)) {
          return this.configReply(h, q.ccmd, out, AoEError.ConfigStringPresent);
        }
        return this.setConfig(h, q.ccmd, q.config);
      case ConfigCmd.ForceSet:
        return this.setConfig(h, q.ccmd, q.config);
      default:
        return this.configReply(h, q.ccmd, out, AoEError.BadArgument);
    }
    this.configReply(h, q.ccmd, out, 0);
  }

  private setConfig(h: Header, ccmd: number, config: Uint8Array): void {
    this.config = config;
    // The reply acknowledges a durable change: build it now, send it once saved.
    const out = newFrame(CONFIG_STRING_OFFSET + this.config.length);
    encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot), out);
    const end = this.encodeConfigInfo(ccmd, out);
    this.persistThenSend(out, end);
  }

  private configReply(h: Header, ccmd: number, out: Uint8Array, error: number): void {
    if (error !== 0) this.counters.aoeErrors++;
    encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot, error), out);
    this.reply(out, this.encodeConfigInfo(ccmd, out));
  }

  private encodeConfigInfo(ccmd: number, out: Uint8Array): number {
    return encodeConfig(
      {
        bufferCount: this.bufcnt,
        firmware: FIRMWARE_VERSION,
        sectorCount: Math.min(this.port.maxSectors, this.maxSectors),
        aoeVersion: AOE_VERSION,
        ccmd,
        config: this.config,
      },
      out,
    );
  }

  // ---- Mac Mask List ---------------------------------------------------------

  private macMask(h: Header, frame: Uint8Array): void {
    const m = decodeMacMask(frame);
    this.counters.maskCommands++;
    if (m.mcmd === MacMaskCmd.Read) return this.maskReply(h, this.scratch);
    if (m.mcmd !== MacMaskCmd.Edit) return this.aoeError(h, AoEError.BadArgument);
    const result = this.access.editMasks(m.directives.map((d) => ({ cmd: d.dcmd, mac: macKey(d.mac) })));
    const out = newFrame(HEADER_LEN + 4 + 255 * 8);
    if (result.ok) {
      encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot), out);
      const end = encodeMacMask({ mcmd: m.mcmd, merror: 0, directives: this.maskDirectives() }, out);
      return this.persistThenSend(out, end);
    }
    // The failing directive's index in the count, the directives echoed; the ones
    // before it did apply, so the state is saved all the same.
    encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot), out);
    const end = encodeMacMask({ mcmd: m.mcmd, merror: result.error, directives: m.directives, count: result.index }, out);
    this.persistThenSend(out, end);
  }

  private maskReply(h: Header, out: Uint8Array): void {
    encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot), out);
    this.reply(out, encodeMacMask({ mcmd: MacMaskCmd.Read, merror: 0, directives: this.maskDirectives() }, out));
  }

  private maskDirectives() {
    return this.access.maskList.map((k) => ({ dcmd: DirectiveCmd.None, mac: keyToMac(k) }));
  }

  // ---- Reserve/Release -------------------------------------------------------

  private reserve(h: Header, src: number, frame: Uint8Array): void {
    const r = decodeReserve(frame);
    this.counters.reserveCommands++;
    if (r.rcmd === ReserveCmd.Read) return this.reserveReply(h, r.rcmd, this.scratch, 0);
    if (r.rcmd !== ReserveCmd.Set && r.rcmd !== ReserveCmd.ForceSet) {
      return this.reserveReply(h, r.rcmd, this.scratch, AoEError.BadArgument);
    }
    const result = this.access.reserve(src, r.macs.map((m) => macKey(m)), r.rcmd === ReserveCmd.ForceSet);
    if (!result.ok) return this.reserveReply(h, r.rcmd, this.scratch, result.aoeError);
    const out = newFrame(HEADER_LEN + 2 + 255 * 6);
    encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot), out);
    const end = encodeReserve({ rcmd: r.rcmd, macs: this.access.reservationList.map(keyToMac) }, out);
    this.persistThenSend(out, end);
  }

  private reserveReply(h: Header, rcmd: number, out: Uint8Array, error: number): void {
    if (error !== 0) this.counters.aoeErrors++;
    encodeHeader(replyHeader(h, this.port.mac, this.shelf, this.slot, error), out);
    this.reply(out, encodeReserve({ rcmd, macs: this.access.reservationList.map(keyToMac) }, out));
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
      .save({ config: this.config, masks: [...this.access.maskList], reservation: [...this.access.reservationList] })
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

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Does `s` start with `prefix`? */
function startsWith(s: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > s.length) return false;
  for (let i = 0; i < prefix.length; i++) if (s[i] !== prefix[i]) return false;
  return true;
}
