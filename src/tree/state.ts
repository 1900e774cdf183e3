/**
 * The aoe(3) tree's state: a long-lived initiator on the process's event loop
 * with 9front devaoe's behaviour. Interfaces are bound and unbound while it
 * runs (netlink slots 0-5, gaps kept), targets appear as they answer Query
 * Config (announcements and discovery replies; with autodiscover off, only
 * replies to an explicit `discover`), each becomes up when IDENTIFY answers
 * with LBA support, and goes down on `failio` or when a request passes its
 * deadline. A target down after a deadline is asked for its config every
 * probe period, and is up again as soon as it answers IDENTIFY.
 *
 * Units and their files are served by vfs.ts; the text formats are
 * src/initiator/ctl.ts and text.ts; the verbs are verbs.ts.
 */
import { openRawLink, RawLinkError, type RawLink } from "../../ffi/rawlink.ts";
import { ConfigCmd, MAX_CONFIG_LEN } from "../aoe/config.ts";
import { featureNames } from "../aoe/identify.ts";
import { sharedLoop } from "../net/loop.ts";
import { queryConfigFrame } from "../initiator/discover.ts";
import { Initiator, type ConfigSighting, type FrameLoop } from "../initiator/engine.ts";
import { queryConfig } from "../initiator/manage.ts";
import { targetKey } from "../initiator/name.ts";
import type { NetLink } from "../initiator/netlink.ts";
import { InitiatorError } from "../initiator/request.ts";
import type { Target } from "../initiator/target.ts";
import { etherHex } from "../initiator/ctl.ts";
import { readData, writeData, WriteLocks } from "./data.ts";
import { aoeProtocolError, Enotup, Eio, Etoobig, fromInitiator, TreeError } from "./errors.ts";
import { EventLog } from "./log.ts";
import { logName, unitName, type TopStatus } from "./text.ts";

/** Plan 9's Nnetlink. */
export const MAX_NETLINKS = 6;
export const DEFAULT_REDISCOVER_MS = 30_000;
export const DEFAULT_PROBE_MS = 5_000;
/** With autodiscover off, replies to an explicit `discover` create units for this long. */
export const DISCOVER_WINDOW_MS = 5_000;

export interface TreeOptions {
  loop?: FrameLoop;
  /** a request fails when a frame of it goes unanswered this long (ms); Plan 9's 45 s */
  deadlineMs?: number;
  /** default on, as Plan 9 */
  autodiscover?: boolean;
  rediscoverMs?: number;
  /** how often a target down after a deadline is asked whether it is back (ms) */
  probeMs?: number;
  /** open interfaces in this network namespace (tests) */
  netns?: string;
  bufferFrames?: number;
  /** every log event also goes here (stderr in `aoede mount`) */
  echo?: (line: string) => void;
}

let incarnations = 0;

/** One target as the tree shows it (Plan 9's Aoedev, around the engine's Target). */
export class Unit {
  /**
   * Its node ids are shelf.slot's (inode.ts), so a unit removed and found again
   * reuses them; this number differs, and the kernel drops the removed one's
   * inodes (an rmdir'ed directory it still holds would answer ENOENT for ever).
   */
  readonly generation = ++incarnations;
  /** the size `setsize` set; undefined: the real one */
  bsize?: number;
  /** why it is down: a request passed its deadline (then probed), or `failio` */
  downReason?: "timeout" | "failio";
  identifying?: Promise<void>;
  readonly locks = new WriteLocks();
  /** seconds since the epoch */
  readonly created = Math.floor(Date.now() / 1000);
  lastMaxbcnt = 0;

  constructor(readonly t: Target) {}

  get shelf(): number {
    return this.t.shelf;
  }
  get slot(): number {
    return this.t.slot;
  }
  get name(): string {
    return unitName(this.t.shelf, this.t.slot);
  }
  get up(): boolean {
    return this.t.up;
  }
  /** the data file's size: 0 while down, as Plan 9 */
  get size(): number {
    if (!this.t.up) return 0;
    return this.bsize ?? this.t.sizeBytes ?? 0;
  }
}

interface Bound {
  nl: NetLink;
  link: RawLink;
}

export class AoeTree {
  readonly log: EventLog;
  readonly ini: Initiator;
  debug = false;
  autodiscover: boolean;
  private rediscoverOn = false;
  private readonly slots: (Bound | undefined)[] = new Array(MAX_NETLINKS).fill(undefined);
  /** in creation order; listings show the newest first, as Plan 9 */
  private readonly units = new Map<number, Unit>();
  private readonly windows: { shelf: number; slot: number; until: number }[] = [];
  private rediscoverTimer?: ReturnType<typeof setInterval>;
  private probeTimer?: ReturnType<typeof setInterval>;
  private readonly unwatch: () => void;
  private closed = false;
  /** told when a unit directory appears or vanishes (the Vfs invalidates the kernel's entry) */
  onUnitsChanged?: (name: string) => void;

  constructor(private readonly o: TreeOptions = {}) {
    this.log = new EventLog(o.echo);
    this.autodiscover = o.autodiscover ?? true;
    this.ini = new Initiator(o.loop ?? sharedLoop(), [], {
      deadlineMs: o.deadlineMs,
      log: (m) => this.event(m),
    });
    this.unwatch = this.ini.watchConfig((s) => this.sighted(s));
  }

  event(text: string): void {
    this.log.event(text);
  }

  // ---- interfaces -------------------------------------------------------------------------

  /** Plan 9's `bind`: one more interface; with autodiscover, a broadcast on every bound one. */
  bind(name: string): void {
    if (this.slots.some((b) => b?.nl.name === name)) throw new TreeError("EBUSY", `${name}: already bound`);
    const free = this.slots.findIndex((b) => b === undefined);
    if (free < 0) throw new TreeError("ENOSPC", "out of netlink structures");
    let link: RawLink;
    try {
      link = openRawLink(name, { netns: this.o.netns, bufferFrames: this.o.bufferFrames ?? 1024 });
    } catch (e) {
      if (!(e instanceof RawLinkError)) throw e;
      if (e.code === "ENODEV" || e.code === "ENXIO") throw new TreeError("ENODEV", `'${name}' does not exist`);
      if (e.code === "EPERM" || e.code === "EACCES") throw new TreeError("EPERM", `${name}: ${e.message}`);
      throw new TreeError("EIO", `${name}: ${e.message}`);
    }
    this.slots[free] = { nl: this.ini.addLink(link), link };
    if (this.autodiscover) this.broadcast(0xffff, 0xff);
  }

  /**
   * Plan 9's `unbind`: frames in flight on it go out on other paths, its
   * devlinks go, and every unit left with no path is removed ("orphan").
   */
  unbind(name: string): void {
    const i = this.slots.findIndex((b) => b?.nl.name === name);
    if (i < 0) throw new TreeError("EINVAL", "device not bound");
    const { nl, link } = this.slots[i]!;
    this.slots[i] = undefined;
    this.ini.removeLink(nl);
    link.close();
    for (const u of [...this.units.values()]) {
      if (u.t.paths.size > 0) continue;
      this.event(`${logName(u.shelf, u.slot)}: removed; orphan`);
      this.drop(u);
    }
  }

  boundNames(): string[] {
    return this.slots.filter((b) => b !== undefined).map((b) => b.nl.name);
  }

  // ---- discovery ----------------------------------------------------------------------------

  /** Query Config to shelf.slot (0xffff / 0xff: all) on every bound interface. */
  broadcast(shelf: number, slot: number): void {
    for (const b of this.slots) {
      if (!b || !b.link.open) continue;
      try {
        b.link.send(queryConfigFrame(b.nl, this.ini.newTag(), shelf, slot));
      } catch {
        // an interface that went away: the others may still answer
      }
    }
  }

  /** Plan 9's `discover [S[.L]]`. */
  discover(shelf: number, slot: number): void {
    const now = Date.now();
    if (!this.autodiscover) this.windows.push({ shelf, slot, until: now + DISCOVER_WINDOW_MS });
    this.broadcast(shelf, slot);
  }

  get rediscover(): boolean {
    return this.rediscoverOn;
  }

  /** `rediscover on`: a broadcast every 30 s, as 9front's sweep timer. */
  set rediscover(on: boolean) {
    this.rediscoverOn = on;
    if (on && !this.rediscoverTimer && !this.closed) {
      this.rediscoverTimer = setInterval(() => this.broadcast(0xffff, 0xff), this.o.rediscoverMs ?? DEFAULT_REDISCOVER_MS);
    } else if (!on && this.rediscoverTimer) {
      clearInterval(this.rediscoverTimer);
      this.rediscoverTimer = undefined;
    }
  }

  private welcome(shelf: number, slot: number): boolean {
    if (this.autodiscover) return true;
    const now = Date.now();
    while (this.windows.length > 0 && this.windows[0]!.until < now) this.windows.shift();
    return this.windows.some((w) => (w.shelf === 0xffff || w.shelf === shelf) && (w.slot === 0xff || w.slot === slot));
  }

  /** A Query Config reply or announcement: the unit (new or known), its maxbcnt, IDENTIFY. */
  private sighted({ target: t, netlink: nl }: ConfigSighting): void {
    if (this.closed) return;
    const key = targetKey(t.shelf, t.slot);
    let u = this.units.get(key);
    if (!u || u.t !== t) {
      if (!this.welcome(t.shelf, t.slot)) return;
      u = new Unit(t);
      this.units.set(key, u);
      this.onUnitsChanged?.(u.name);
    }
    const maxbcnt = t.maxSectors() * 512;
    if (maxbcnt !== u.lastMaxbcnt) {
      if (u.lastMaxbcnt !== 0 || maxbcnt !== 1024) this.event(`${logName(t.shelf, t.slot)}: setting ${maxbcnt} byte mtu on ${nl.name}:${etherHex(nl.mac)}`);
      u.lastMaxbcnt = maxbcnt;
    }
    // Plan 9 re-identifies only units nobody has open; a down one is identified whatever, to come back up.
    if (!t.up || t.nopen === 0) this.identify(u).catch(() => {});
  }

  /** IDENTIFY: the unit is up when it answers with LBA support. */
  identify(u: Unit): Promise<void> {
    if (u.identifying) return u.identifying;
    const t = u.t;
    const oldSize = t.sizeBytes;
    const oldSerial = t.identify?.serial;
    const p = this.ini
      .identify(t)
      .then(
        (raw) => {
          if (!featureNames(raw).includes("lba")) {
            t.up = false;
            this.event(`${logName(u.shelf, u.slot)}: no lba support`);
            return;
          }
          if (t.sizeBytes !== oldSize || t.identify?.serial !== oldSerial) u.bsize = undefined;
          u.downReason = undefined;
          this.updateProbe();
        },
        (e) => {
          throw this.failed(u, e);
        },
      )
      .finally(() => {
        u.identifying = undefined;
      });
    u.identifying = p;
    return p;
  }

  // ---- units --------------------------------------------------------------------------------

  /** Units, newest first. */
  list(): Unit[] {
    return [...this.units.values()].reverse();
  }

  unit(shelf: number, slot: number): Unit | undefined {
    return this.units.get(targetKey(shelf, slot));
  }

  unitByName(name: string): Unit | undefined {
    const m = /^(\d+)\.(\d+)$/.exec(name);
    if (!m) return undefined;
    const u = this.unit(Number(m[1]), Number(m[2]));
    return u && u.name === name ? u : undefined;
  }

  /** Plan 9's downdev: down, and every request on it fails with "aoe device is down". */
  down(u: Unit, reason: "timeout" | "failio", why: string): void {
    u.t.up = false;
    u.downReason = reason;
    this.event(`${logName(u.shelf, u.slot)}: removed; ${why}`);
    if (reason === "failio") this.ini.abort(u.t, new InitiatorError("closed", Enotup));
    this.updateProbe();
  }

  /** Plan 9's removedev / `rm -r S.L`: gone from the tree until it answers discovery again. */
  remove(u: Unit): void {
    this.drop(u);
  }

  private drop(u: Unit): void {
    u.t.up = false;
    this.ini.forget(u.t, new InitiatorError("closed", Enotup));
    this.units.delete(targetKey(u.shelf, u.slot));
    this.onUnitsChanged?.(u.name);
    this.updateProbe();
  }

  /** Turns an engine failure into the tree's error; a deadline downs the unit. */
  failed(u: Unit, e: unknown): TreeError {
    const te = fromInitiator(e);
    if (te.errno === "ETIMEDOUT" && this.units.get(targetKey(u.shelf, u.slot)) === u) {
      this.event(`${logName(u.shelf, u.slot)}: srb timeout`);
      if (u.t.up) this.down(u, "timeout", te.message);
    }
    return te;
  }

  /** While a unit is down after a deadline, ask it every probe period whether it is back. */
  private updateProbe(): void {
    const want = !this.closed && [...this.units.values()].some((u) => u.downReason === "timeout");
    if (want && !this.probeTimer) {
      this.probeTimer = setInterval(() => {
        for (const u of this.units.values()) if (u.downReason === "timeout") this.broadcast(u.shelf, u.slot);
      }, this.o.probeMs ?? DEFAULT_PROBE_MS);
    } else if (!want && this.probeTimer) {
      clearInterval(this.probeTimer);
      this.probeTimer = undefined;
    }
  }

  // ---- files --------------------------------------------------------------------------------

  topStatus(): TopStatus {
    const netlinks = [];
    for (let i = 0; i < MAX_NETLINKS; i++) {
      const b = this.slots[i];
      if (!b) continue;
      netlinks.push({ slot: i, path: b.nl.name, ea: b.nl.mac, flags: ["up"], lostjumbo: b.nl.lostJumbo, datamtu: b.link.mtu });
    }
    return { debug: this.debug, autodiscover: this.autodiscover, rediscover: this.rediscoverOn, netlinks };
  }

  configBytes(u: Unit): Uint8Array {
    if (!u.up) throw new TreeError("ENXIO", Enotup);
    return u.t.config;
  }

  identBytes(u: Unit): Uint8Array {
    if (!u.up || !u.t.identifyRaw) throw new TreeError("ENXIO", Enotup);
    return u.t.identifyRaw;
  }

  /**
   * A write of `data` at `offset` of config: merged into the current string,
   * cut at offset + length, sent as Query Config force set; the string once
   * the target has taken it (Plan 9's configwrite).
   */
  async writeConfig(u: Unit, offset: number, data: Uint8Array): Promise<number> {
    if (offset + data.length > MAX_CONFIG_LEN) throw new TreeError("EFBIG", Etoobig);
    if (!u.up) throw new TreeError("ENXIO", Enotup);
    const next = new Uint8Array(offset + data.length);
    next.set(u.t.config.subarray(0, Math.min(u.t.config.length, next.length)));
    next.set(data, offset);
    let r;
    try {
      r = await queryConfig(this.ini, u.t, ConfigCmd.ForceSet, next);
    } catch (e) {
      throw this.failed(u, e);
    }
    if (r?.error !== undefined) throw new TreeError("EIO", aoeProtocolError(r.error));
    u.t.config = next;
    return data.length;
  }

  async readData(u: Unit, offset: number, length: number): Promise<Uint8Array> {
    if (!u.up) throw new TreeError("EIO", Eio);
    try {
      return await readData(this.ini, u.t, u.size, offset, length);
    } catch (e) {
      throw this.failed(u, e);
    }
  }

  async writeData(u: Unit, offset: number, data: Uint8Array): Promise<number> {
    if (!u.up) throw new TreeError("EIO", Eio);
    const size = u.size;
    if (offset >= size && data.length > 0) throw new TreeError("ENOSPC", "write past the end of the device");
    try {
      return await writeData(this.ini, u.t, u.locks, size, offset, data);
    } catch (e) {
      throw this.failed(u, e);
    }
  }

  /** fsync: FLUSH CACHE (EXT). */
  async flush(u: Unit): Promise<void> {
    if (!u.up) throw new TreeError("EIO", Eio);
    try {
      await this.ini.flush(u.t);
    } catch (e) {
      throw this.failed(u, e);
    }
  }

  /** Opening data needs the unit up, and counts in nopen. */
  openData(u: Unit): void {
    if (!u.up) throw new TreeError("ENXIO", Enotup);
    u.t.nopen++;
  }

  /** The last close of data asks the target again (Plan 9's directed discover), which re-identifies it. */
  closeData(u: Unit): void {
    u.t.nopen = Math.max(0, u.t.nopen - 1);
    if (u.t.nopen === 0 && this.units.get(targetKey(u.shelf, u.slot)) === u) this.broadcast(u.shelf, u.slot);
  }

  /** Stops everything: requests fail, timers stop, interfaces close. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rediscover = false;
    this.updateProbe();
    this.unwatch();
    this.ini.close();
    for (let i = 0; i < MAX_NETLINKS; i++) {
      this.slots[i]?.link.close();
      this.slots[i] = undefined;
    }
  }
}
