/**
 * The initiator engine: targets, their paths and windows, frames in flight,
 * resends and deadlines, on the shared event loop.
 *
 * Frames leave in batches: pump() fills every target's window and queues the
 * frames per interface, sendQueued() hands each interface's batch to sendBatch. The
 * loop calls onFrame for every AoE frame that arrives and onBatchEnd after each
 * batch, where replies have freed window room and the engine pumps again. A
 * timer ticks every TICK_MS while anything is in flight: it resends what is
 * lost and fails what passed its deadline.
 *
 * A frame is lost when its resend timeout (rtt.ts) expires, or earlier, when
 * a frame sent after it on the same path has been answered and it has been
 * out longer than the round trip plus a reordering allowance (the RACK idea,
 * RFC 8985). On a LAN the round trip is a fraction of a millisecond while the
 * timeout is at least 10 ms, so with random loss this detects most losses ten
 * times sooner; a lone lost frame at the end still waits for the timeout.
 * Such a loss says the path works (later frames got through): it shrinks the
 * window but does not count against the path.
 */
import type { RawLink } from "../../ffi/rawlink.ts";
import { AtaCmd, AtaFlag, AtaStatus, AOE_VERSION, Command, Flag, SECTOR_SIZE } from "../aoe/constants.ts";
import { decodeAta, encodeAta, ATA_DATA_OFFSET } from "../aoe/ata.ts";
import { decodeConfig } from "../aoe/config.ts";
import { DecodeError } from "../aoe/errors.ts";
import { decodeHeader, encodeHeader, HEADER_LEN, type Header } from "../aoe/header.ts";
import { formatMac, macEquals } from "../aoe/mac.ts";
import { newFrame } from "../aoe/frame.ts";
import { parseIdentify } from "../aoe/identify.ts";
import { NetLink } from "./netlink.ts";
import type { Path } from "./path.ts";
import type { RttOptions } from "./rtt.ts";
import {
  CommandRequest,
  Frame,
  IGNORE,
  InitiatorError,
  IoRequest,
  split,
  type CommandSpec,
  type Request,
  type Transmission,
} from "./request.ts";
import { isUserTag, TagAllocator } from "./tag.ts";
import { JUMBO_BYTES, Target } from "./target.ts";
import { targetKey } from "./name.ts";
import { aoeErrorText, ataErrorText } from "./errors.ts";
import { flushSpec, identifySpec } from "./ata-commands.ts";
import { lossOf, type Loss } from "./loss.ts";

/** What the engine needs of the event loop (src/net/loop.ts). */
export interface FrameLoop {
  /** returns the detach function */
  attach(link: RawLink, onFrame: (frame: Uint8Array, link: RawLink) => void, onBatchEnd?: () => void): () => void;
  /** deliver what the links hold now, without waiting for readiness (EventLoop.drainNow) */
  drainNow?(): void;
}

export interface InitiatorOptions {
  /** a request fails when a frame of it goes unanswered this long (ms); Plan 9's 45 s */
  deadlineMs?: number;
  rtt?: RttOptions;
  /** one-line notices (jumbo fallback, path failures) */
  log?: (msg: string) => void;
}

export const DEFAULT_DEADLINE_MS = 45_000;
/** Jumbo frames must have gone unanswered at least this long (ms) before the lostjumbo fallback. */
export const JUMBO_GRACE_MS = 1000;
/** How often in-flight frames are checked for timeouts (ms). */
export const TICK_MS = 2;

/** A Query Config reply or announcement seen on some interface. */
export interface ConfigSighting {
  target: Target;
  netlink: NetLink;
  src: Uint8Array;
}

export class Initiator {
  readonly netlinks: NetLink[];
  readonly targets = new Map<number, Target>();
  readonly deadlineMs: number;
  /** replies that matched no frame in flight: duplicates and stragglers */
  unmatchedReplies = 0;
  private readonly byTag = new Map<number, Transmission>();
  private readonly tags = new TagAllocator();
  private readonly outbox = new Map<NetLink, Uint8Array[]>();
  /** buffers of retired frames, back to their pools after the next flush (a queued frame may still point into one) */
  private readonly released: [Target, Uint8Array][] = [];
  private readonly configWatchers = new Set<(s: ConfigSighting) => void>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private judging = false;
  private readonly detachers = new Map<NetLink, () => void>();
  private readonly log: (msg: string) => void;
  private readonly rttOptions: RttOptions | undefined;

  constructor(
    readonly loop: FrameLoop,
    links: RawLink[],
    opts: InitiatorOptions = {},
  ) {
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.log = opts.log ?? (() => {});
    this.rttOptions = opts.rtt;
    this.netlinks = [];
    for (const l of links) this.addLink(l);
  }

  /** Starts using one more interface (Plan 9's bind). */
  addLink(link: RawLink): NetLink {
    const nl = new NetLink(link);
    this.netlinks.push(nl);
    this.detachers.set(nl, this.loop.attach(link, (frame) => this.onFrame(frame, nl), () => this.onBatchEnd()));
    return nl;
  }

  /**
   * Stops using an interface (Plan 9's unbind): its paths are dropped and the
   * frames in flight on them are resent at once on the targets' other paths.
   * A target left with no path keeps its frames until abort() or their deadline.
   * The link stays open (the caller's).
   */
  removeLink(nl: NetLink): void {
    const i = this.netlinks.indexOf(nl);
    if (i < 0) return;
    this.netlinks.splice(i, 1);
    this.detachers.get(nl)?.();
    this.detachers.delete(nl);
    const now = performance.now();
    for (const t of this.targets.values()) {
      const gone = t.paths.removeNetlink(nl);
      if (gone.length === 0) continue;
      for (const f of [...t.inflight]) {
        const last = f.last;
        if (!gone.includes(last.path)) continue;
        if (last.live) last.live = false;
        const next = t.paths.pick(now);
        if (next) this.resendOn(t, f, next, now);
      }
    }
    this.sendQueued();
  }

  /** Fails every request queued or in flight on `t` (Plan 9's downdev). */
  abort(t: Target, e: Error): void {
    for (const r of [...t.queue, ...[...t.inflight].map((f) => f.req)]) this.fail(t, r, e);
  }

  /** Forgets a target (Plan 9's remove): its requests fail with `e`. */
  forget(t: Target, e: Error): void {
    this.abort(t, e);
    this.targets.delete(targetKey(t.shelf, t.slot));
  }

  /** Detaches from the loop and fails whatever is still in flight. The links stay open (the caller's). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimer();
    for (const t of this.targets.values()) {
      for (const r of [...t.queue, ...[...t.inflight].map((f) => f.req)]) {
        this.fail(t, r, new InitiatorError("closed", "initiator closed"));
      }
    }
    for (const d of this.detachers.values()) d();
  }

  // ---- targets and discovery support --------------------------------------------------------

  target(shelf: number, slot: number): Target | undefined {
    return this.targets.get(targetKey(shelf, slot));
  }

  /** Sends one frame now on `netlink`, outside any request (discovery broadcasts). */
  sendRaw(netlink: NetLink, frame: Uint8Array): boolean {
    return netlink.link.send(frame);
  }

  /**
   * Takes the frames the kernel holds for our links now instead of when the poller
   * reports them: a deadline that expires must not miss a reply that had arrived.
   */
  pollNow(): void {
    if (!this.closed) this.loop.drainNow?.();
  }

  /** A fresh tag for frames outside requests. */
  newTag(): number {
    return this.tags.next();
  }

  /** Calls `fn` for every Query Config reply or announcement until the returned function is called. */
  watchConfig(fn: (s: ConfigSighting) => void): () => void {
    this.configWatchers.add(fn);
    return () => this.configWatchers.delete(fn);
  }

  /**
   * Records a Query Config reply: the target (created on first sight, its window
   * from the advertised buffer count), the path it came over, its sector count.
   */
  private noteConfig(frame: Uint8Array, h: Header, nl: NetLink): void {
    if (h.flags & Flag.Error) return;
    if (h.major === 0xffff || h.minor === 0xff) return;
    let qc;
    try {
      qc = decodeConfig(frame);
    } catch (e) {
      if (e instanceof DecodeError) return;
      throw e;
    }
    const key = targetKey(h.major, h.minor);
    let t = this.targets.get(key);
    if (!t) {
      t = new Target(h.major, h.minor, qc.bufferCount);
      this.targets.set(key, t);
    }
    t.firmware = qc.firmware;
    t.aoeVersion = qc.aoeVersion;
    t.config = qc.config;
    // "0 means 2" (AoE r11 3.2: a sector count of zero is the old default).
    const sectors = qc.sectorCount === 0 ? 2 : qc.sectorCount;
    t.paths.add(nl, h.src, sectors, this.rttOptions);
    t.sectorCount = t.sectorCount === 0 ? sectors : Math.min(t.sectorCount, sectors);
    for (const w of this.configWatchers) w({ target: t, netlink: nl, src: h.src });
  }

  // ---- submitting work ----------------------------------------------------------------------

  /** Reads `sectors` sectors at `lba` into `into` (sectors x 512 bytes). */
  read(t: Target, lba: number, sectors: number, into: Uint8Array): Promise<void> {
    const ext = this.useLba48(t, lba, sectors);
    const r = new IoRequest("read", ext ? AtaCmd.ReadExt : AtaCmd.Read, lba, sectors, into);
    return this.submit(t, r) as Promise<void>;
  }

  /** Writes `sectors` sectors from `from` at `lba`. */
  write(t: Target, lba: number, sectors: number, from: Uint8Array): Promise<void> {
    const ext = this.useLba48(t, lba, sectors);
    const r = new IoRequest("write", ext ? AtaCmd.WriteExt : AtaCmd.Write, lba, sectors, from);
    return this.submit(t, r) as Promise<void>;
  }

  /** One-frame request whose reply `spec.accept` interprets. */
  command<T>(t: Target, spec: CommandSpec<T>): Promise<T> {
    return this.submit(t, new CommandRequest(spec) as CommandRequest<unknown>) as Promise<T>;
  }

  /** IDENTIFY DEVICE: the 512 bytes (also kept on the target, which is then up). */
  async identify(t: Target): Promise<Uint8Array> {
    const raw = await this.command(t, identifySpec(t));
    t.identifyRaw = raw;
    t.identify = parseIdentify(raw);
    t.up = true;
    return raw;
  }

  /** FLUSH CACHE (EXT): resolves false when the target does not support it. */
  flush(t: Target): Promise<boolean> {
    return this.command(t, flushSpec(t));
  }

  private useLba48(t: Target, lba: number, sectors: number): boolean {
    if (t.identify?.lba48) return true;
    if (lba + sectors > 0x0fffffff) {
      throw new InitiatorError("protocol", `${t.name}: LBA ${lba + sectors - 1} needs LBA48, which the target does not announce`);
    }
    return false;
  }

  private submit(t: Target, r: Request): Promise<unknown> {
    if (this.closed) return Promise.reject(new InitiatorError("closed", "initiator closed"));
    if (t.paths.size === 0) return Promise.reject(new InitiatorError("no-path", `${t.name}: no path to the target`));
    t.queue.push(r);
    this.pump(t);
    this.sendQueued();
    return r.promise;
  }

  // ---- sending ------------------------------------------------------------------------------

  /** Fills `t`'s window from its queue. */
  private pump(t: Target): void {
    const now = performance.now();
    while (t.inflight.size < t.window.size) {
      const r = t.queue[0];
      if (!r) break;
      if (!r.hasWork()) {
        t.queue.shift();
        continue;
      }
      const path = t.paths.pick(now);
      if (!path) break;
      let frame: Frame;
      if (r instanceof IoRequest) {
        const piece = r.take(t.frameSectors(path));
        if (!piece) continue;
        frame = new Frame(r, piece, this.buffer(t, path));
      } else {
        r.take();
        frame = new Frame(r, undefined, this.buffer(t, path));
      }
      r.frames.add(frame);
      t.inflight.add(frame);
      frame.firstSentAt = now;
      this.transmit(t, frame, path, now);
    }
    if (t.inflight.size > 0) this.startTimer();
  }

  private buffer(t: Target, path: Path): Uint8Array {
    const need = ATA_DATA_OFFSET + Math.max(2, path.maxSectors()) * SECTOR_SIZE;
    const b = t.bufferPool.pop();
    if (b && b.length >= need) return b;
    return newFrame(Math.max(need, HEADER_LEN + 8 + 1024));
  }

  /** Encodes `frame` for `path` with a new tag and queues it for sending. */
  private transmit(t: Target, frame: Frame, path: Path, now: number): void {
    const tag = this.tags.next();
    const buf = frame.buf;
    encodeHeader(
      {
        dst: path.targetMac,
        src: path.netlink.mac,
        version: AOE_VERSION,
        flags: 0,
        error: 0,
        major: t.shelf,
        minor: t.slot,
        command: frame.req.command,
        tag,
      },
      buf,
    );
    const r = frame.req;
    if (r instanceof IoRequest) {
      const p = frame.piece!;
      const write = r.kind === "write";
      const ext = r.ataCommand === AtaCmd.ReadExt || r.ataCommand === AtaCmd.WriteExt;
      // LBA28 puts the LBA mode bit (and the obsolete 0xa0) in the top nibble of lba3, as Plan 9 and Linux do.
      const lba = ext ? p.lba : (p.lba & 0x0fffffff) + 0xe0 * 2 ** 24;
      frame.length = encodeAta(
        {
          aflags: (ext ? AtaFlag.Ext : 0) | (write ? AtaFlag.Write : 0),
          errFeature: 0,
          sectorCount: p.sectors,
          cmdStatus: r.ataCommand,
          lba,
          data: write ? r.data.subarray(p.offset, p.offset + p.sectors * SECTOR_SIZE) : undefined,
        },
        buf,
      );
    } else if (frame.transmissions.length === 0) {
      frame.length = (r as CommandRequest<unknown>).spec.encode(buf);
    }
    const tx: Transmission = { tag, path, sentAt: now, live: true, frame };
    frame.transmissions.push(tx);
    frame.lastSentAt = now;
    this.byTag.set(tag, tx);
    path.outstanding++;
    path.npkt++;
    let q = this.outbox.get(path.netlink);
    if (!q) this.outbox.set(path.netlink, (q = []));
    q.push(buf.subarray(0, frame.length));
  }

  /** Sends every queued frame, one batch per interface. */
  private sendQueued(): void {
    for (const [nl, frames] of this.outbox) {
      if (frames.length === 0) continue;
      let sent = 0;
      try {
        sent = nl.link.sendBatch(frames);
      } catch {
        sent = 0;
      }
      if (sent < frames.length) nl.sendErrors += frames.length - sent;
      // Unsent frames are left to their timers: the kernel had no room or the link is down.
      frames.length = 0;
    }
    for (const [t, buf] of this.released) t.bufferPool.push(buf);
    this.released.length = 0;
  }

  // ---- receiving ----------------------------------------------------------------------------

  private onFrame(frame: Uint8Array, nl: NetLink): void {
    let h: Header;
    try {
      h = decodeHeader(frame);
    } catch (e) {
      if (e instanceof DecodeError) return;
      throw e;
    }
    if (!(h.flags & Flag.Response)) return;
    if (h.command === Command.QueryConfig) this.noteConfig(frame, h, nl);
    if (!isUserTag(h.tag)) return;
    const tx = this.byTag.get(h.tag);
    if (!tx) {
      // Query Config replies to discovery broadcasts carry tags no frame owns.
      if (h.command !== Command.QueryConfig) this.unmatchedReplies++;
      return;
    }
    const f = tx.frame;
    const t = this.target(h.major, h.minor);
    // A reply must come from the target and MAC we asked, for the command we sent.
    if (!t || !t.inflight.has(f) || h.command !== f.req.command || !macEquals(h.src, tx.path.targetMac)) {
      this.unmatchedReplies++;
      return;
    }
    const now = performance.now();
    tx.path.replied(now - tx.sentAt, tx.sentAt);
    if (tx.live) {
      tx.live = false;
      tx.path.outstanding--;
    }
    this.handleReply(t, f, frame, h);
  }

  private handleReply(t: Target, f: Frame, frame: Uint8Array, h: Header): void {
    const r = f.req;
    if (r instanceof IoRequest) {
      if (h.flags & Flag.Error) {
        return this.fail(t, r, new InitiatorError("aoe", `${t.name}: ${aoeErrorText(h.error)}`, h.error));
      }
      let a;
      try {
        a = decodeAta(frame);
      } catch (e) {
        if (e instanceof DecodeError) return; // runt: wait for the resend
        throw e;
      }
      const p = f.piece!;
      if (a.cmdStatus & AtaStatus.failureMask) {
        return this.fail(
          t,
          r,
          new InitiatorError(
            "ata",
            `${t.name}: ${r.kind} of ${p.sectors} sectors at LBA ${p.lba} failed: ${ataErrorText(a.cmdStatus, a.errFeature)}`,
          ),
        );
      }
      const bytes = p.sectors * SECTOR_SIZE;
      if (r.kind === "read") {
        if (a.data.length < bytes) return; // short read reply: wait for the resend
        r.data.set(a.data.subarray(0, bytes), p.offset);
      }
      if (bytes > JUMBO_BYTES) f.last.path.netlink.lostJumbo = 0;
      this.retire(t, f);
      t.window.replied();
      if (r.completed(p.sectors)) {
        r.resolve();
        this.dequeue(t, r);
      }
      return;
    }
    const c = r as CommandRequest<unknown>;
    let v: unknown;
    try {
      if (h.flags & Flag.Error && c.spec.command === Command.ATA) {
        throw new InitiatorError("aoe", `${t.name}: ${aoeErrorText(h.error)}`, h.error);
      }
      v = c.spec.accept(frame, h);
    } catch (e) {
      if (e instanceof DecodeError) return;
      return this.fail(t, c, e instanceof Error ? e : new Error(String(e)));
    }
    if (v === IGNORE) return;
    this.retire(t, f);
    t.window.replied();
    c.resolve(v);
    this.dequeue(t, c);
  }

  /** Forgets a frame: all its tags, its window slot, its buffer. */
  private retire(t: Target, f: Frame): void {
    for (const tx of f.transmissions) {
      this.byTag.delete(tx.tag);
      if (tx.live) {
        tx.live = false;
        tx.path.outstanding--;
      }
    }
    t.inflight.delete(f);
    f.req.frames.delete(f);
    this.released.push([t, f.buf]);
  }

  private dequeue(t: Target, r: Request): void {
    const i = t.queue.indexOf(r);
    if (i >= 0) t.queue.splice(i, 1);
  }

  /** Fails a request: its frames in flight are forgotten, its queued work dropped. */
  private fail(t: Target, r: Request, e: Error): void {
    for (const f of [...r.frames]) this.retire(t, f);
    this.dequeue(t, r);
    r.reject(e);
  }

  private onBatchEnd(): void {
    for (const t of this.targets.values()) if (t.queue.length > 0) this.pump(t);
    this.sendQueued();
  }

  // ---- timers -------------------------------------------------------------------------------

  private startTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Every TICK_MS while frames are in flight. Frames past their deadline fail;
   * frames past their resend timeout are resent, but only after giving the
   * loop one turn (setTimeout 0) and reading the links (pollNow): replies that
   * arrived while this thread was busy are waiting in the socket, and judging
   * before they are read would resend frames that were answered. The turn
   * alone is not enough on a busy machine, where the poller's thread may not
   * have run yet to report them: whole windows were resent.
   */
  private tick(): void {
    const now = performance.now();
    let busy = false;
    let overdue = false;
    for (const t of this.targets.values()) {
      if (t.inflight.size === 0) continue;
      busy = true;
      for (const f of t.inflight) {
        if (lossOf(f, now) !== undefined || now - f.firstSentAt >= this.deadlineOf(t, f)) {
          overdue = true;
          break;
        }
      }
    }
    if (!busy) this.stopTimer();
    if (overdue && !this.judging) {
      this.judging = true;
      setTimeout(() => {
        this.judging = false;
        this.judge();
      }, 0);
    }
  }

  /** How long a frame may go unanswered; copies on a `nofail` target retry forever (Plan 9's Dnofail). */
  private deadlineOf(t: Target, f: Frame): number {
    const r = f.req;
    if (r instanceof CommandRequest) return r.spec.deadlineMs ?? this.deadlineMs;
    return t.nofail ? Number.POSITIVE_INFINITY : this.deadlineMs;
  }

  private judge(): void {
    if (this.closed) return;
    this.pollNow();
    if (this.closed) return;
    const now = performance.now();
    for (const t of this.targets.values()) {
      if (t.inflight.size === 0) continue;
      for (const f of [...t.inflight]) {
        if (!t.inflight.has(f)) continue;
        const r = f.req;
        const deadline = this.deadlineOf(t, f);
        if (now - f.firstSentAt >= deadline) {
          if (r instanceof CommandRequest && r.spec.onDeadline) {
            this.retire(t, f);
            this.dequeue(t, r);
            r.resolve(r.spec.onDeadline());
          } else {
            this.fail(
              t,
              r,
              new InitiatorError(
                "deadline",
                `${t.name}: no reply for ${Math.round(deadline / 1000)} s; the target is gone or unreachable`,
              ),
            );
          }
          continue;
        }
        const loss = lossOf(f, now);
        if (loss !== undefined) this.timeout(t, f, now, loss);
      }
      this.pump(t);
    }
    this.sendQueued();
  }

  /**
   * The last transmission of `f` is lost: count it, shrink the window, resend
   * (on another path when there is one). Only a timeout ("rto") counts against
   * the path; a loss detected because later frames were answered ("rack") does not.
   */
  private timeout(t: Target, f: Frame, now: number, loss: Loss): void {
    const last = f.last;
    const path = last.path;
    if (last.live) {
      last.live = false;
      path.outstanding--;
    }
    const r = f.req;
    if (r instanceof CommandRequest && r.spec.onDeadline) {
      // Silence is an answer here (Query Config test): resend, but blame neither path nor window.
      this.transmit(t, f, t.paths.pick(now, path) ?? path, now);
      return;
    }
    const wasFailing = path.failing;
    if (loss === "rto") path.timedOut(now);
    if (!wasFailing && path.failing && t.paths.size > 1) {
      this.log(`${t.name}: path ${path.netlink.name} -> ${formatMac(path.targetMac)} is failing; avoiding it`);
    }
    t.window.lost(now, path.rtt.timeoutMs());
    if (f.dataBytes > JUMBO_BYTES) {
      const nl = path.netlink;
      if (nl.lostJumbo++ === 0) nl.lostJumboSince = now;
      // Plan 9's rule (more than 2 x nframes lost in a row), plus a time: a
      // target or a scheduler that stalls for a few timer periods loses a
      // window or two of frames too, and must not cost the jumbo frames.
      if (t.jumbo && nl.lostJumbo > 2 * t.window.cap && now - nl.lostJumboSince >= JUMBO_GRACE_MS) {
        t.jumbo = false;
        this.log(
          `${t.name}: ${nl.lostJumbo} jumbo frames lost on ${nl.name}; falling back to ${JUMBO_BYTES}-byte frames (lostjumbo)`,
        );
      }
    }
    this.resendOn(t, f, t.paths.pick(now, path) ?? path, now);
  }

  /** Sends `f` again on `next`, shrunk first if it no longer fits (a smaller MTU, the jumbo fallback). */
  private resendOn(t: Target, f: Frame, next: Path, now: number): void {
    if (f.piece && f.req instanceof IoRequest) {
      const max = t.frameSectors(next);
      if (f.piece.sectors > max) {
        f.req.requeue(split(f.piece, max));
        if (!t.queue.includes(f.req)) t.queue.unshift(f.req);
      }
    }
    next.resent++;
    this.transmit(t, f, next, now);
  }

  /** Counters for tests and `stat`. */
  get inflightTags(): number {
    return this.byTag.size;
  }
}
