/**
 * `aoede daemon`: every export of the config file in one process, on the shared
 * loop. A thin composition: exports are serve's (served.ts), links are shared per
 * interface (interfaces.ts), and this file only decides what runs where — at start,
 * when interfaces come and go (syncInterfaces), and on reload.
 *
 * Reload (SIGHUP, `aoede ctl reload`) after the new file passed its checks:
 *   1. the files of new and changed exports are opened first: if one fails, they
 *      are closed again and the running configuration stays, whole;
 *   2. exports that are gone or changed (anything but interfaces and macs) stop
 *      taking requests, answer those in flight, save state, flush, close;
 *   3. their successors and the new exports start (state loaded as saved) and
 *      announce on their interfaces;
 *   4. unchanged exports are the same objects throughout: their requests are never
 *      held up; a changed interface list or macs list is applied to them in place.
 */
import { consola } from "consola";
import { formatMac, maxSectorsForMtu } from "../aoe/index.ts";
import { listEthernetInterfaces, RawLinkError, type EthernetInterface } from "../../ffi/rawlink.ts";
import { sharedLoop, type EventLoop } from "../net/loop.ts";
import { keyToString } from "../target/access.ts";
import { FIRMWARE_VERSION } from "../target/management.ts";
import { linkFailure, openStorage } from "../target/server.ts";
import type { Storage } from "../target/storage.ts";
import type { DaemonConfig, ExportSettings } from "./config.ts";
import { Interface } from "./interfaces.ts";
import type { ExportStats, InterfaceStats, StatsReply, TargetRow } from "./protocol.ts";
import { sameExceptLive, ServedExport } from "./served.ts";

export interface ReloadSummary {
  kept: string[];
  reopened: string[];
  added: string[];
  removed: string[];
}

export interface DaemonOptions {
  loop?: EventLoop;
  /** the interfaces that are up now (default: listEthernetInterfaces) */
  listInterfaces?: () => EthernetInterface[];
}

export class Daemon {
  readonly startedAt = Date.now();
  private readonly exports = new Map<string, ServedExport>();
  private readonly interfaces = new Map<string, Interface>();
  private readonly loop: EventLoop;
  private readonly list: () => EthernetInterface[];
  /** reloads run one after the other */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly openFailures = new Map<string, string>();
  private stopped = false;

  private constructor(
    public config: DaemonConfig,
    opts: DaemonOptions,
  ) {
    this.loop = opts.loop ?? sharedLoop();
    this.list = opts.listInterfaces ?? (() => listEthernetInterfaces());
  }

  /**
   * Open every export and attach what is up; throws ServeError (then nothing is
   * left open). Interfaces that are absent are attached when they appear.
   */
  static start(config: DaemonConfig, opts: DaemonOptions = {}): Daemon {
    const d = new Daemon(config, opts);
    const mtus = d.upInterfaces().map((i) => i.mtu);
    try {
      for (const s of config.exports) {
        const served = ServedExport.open(s, config.defaults.stateDir, mtus);
        d.exports.set(s.name, served);
        d.logOpened(served);
      }
    } catch (e) {
      for (const served of d.exports.values()) served.storage.close();
      throw e;
    }
    d.syncInterfaces();
    return d;
  }

  /** Exports by name, in config order. */
  get running(): ServedExport[] {
    return [...this.exports.values()];
  }

  private upInterfaces(): EthernetInterface[] {
    try {
      return this.list();
    } catch (e) {
      consola.warn(`cannot list interfaces: ${(e as Error).message}`);
      return [];
    }
  }

  /**
   * Match the links to the interfaces that are up now: open those some export
   * wants, close those that went away (or were replaced by a new interface of the
   * same name), and offer every export every open interface. Called at start, after
   * a reload, and whenever rtnetlink reports a link change.
   */
  syncInterfaces(): void {
    if (this.stopped) return;
    const up = new Map(this.upInterfaces().map((i) => [i.name, i]));
    const wanted = (name: string) => this.running.some((e) => e.wants(name));
    for (const iface of [...this.interfaces.values()]) {
      const now = up.get(iface.name);
      const stale = iface.link !== undefined && (now === undefined || now.index !== iface.link.index || !iface.link.open);
      if (stale || (!wanted(iface.name) && iface.link !== undefined)) {
        consola.info(`${iface.name}: ${now === undefined ? "gone" : wanted(iface.name) ? "replaced" : "no longer in the config"}; detaching`);
        for (const e of this.running) e.lost(iface);
        iface.close();
      }
      if (!wanted(iface.name) && iface.link === undefined) this.interfaces.delete(iface.name);
    }
    for (const info of up.values()) {
      if (!wanted(info.name)) continue;
      let iface = this.interfaces.get(info.name);
      if (iface === undefined) this.interfaces.set(info.name, (iface = new Interface(info.name, this.loop)));
      if (!iface.up) {
        const want = this.running.filter((e) => e.wants(info.name));
        try {
          const link = iface.open(Math.max(64, 2 * want.reduce((n, e) => n + e.settings.bufcnt, 0)));
          this.openFailures.delete(info.name);
          consola.info(`${info.name}: attached (${formatMac(link.mac)}, mtu ${link.mtu})`);
        } catch (e) {
          if (!(e instanceof RawLinkError)) throw e;
          // say it once per kind of failure, not at every link event
          if (this.openFailures.get(info.name) !== e.message) consola.warn(linkFailure(info.name, e));
          this.openFailures.set(info.name, e.message);
          continue;
        }
      }
      for (const e of this.running) e.offer(iface);
    }
    // names in the config that are not up: remembered, attached when they appear
    for (const e of this.running) {
      for (const p of e.settings.interfaces) {
        if (!/[*?\[]/.test(p) && !up.has(p) && !this.interfaces.has(p)) this.interfaces.set(p, new Interface(p, this.loop));
      }
    }
  }

  /** Apply a new (checked) configuration; see the header. Rejects with the reason if nothing changed. */
  reload(next: DaemonConfig): Promise<ReloadSummary> {
    const run = this.chain.then(() => this.applyReload(next));
    this.chain = run.catch(() => {});
    return run;
  }

  private async applyReload(next: DaemonConfig): Promise<ReloadSummary> {
    if (this.stopped) throw new Error("the daemon is stopping");
    const stateDirChanged = next.defaults.stateDir !== this.config.defaults.stateDir;
    if (next.defaults.controlSocket !== this.config.defaults.controlSocket) {
      consola.warn(`control_socket changed to ${next.defaults.controlSocket}: takes effect at the next start`);
    }
    const summary: ReloadSummary = { kept: [], reopened: [], added: [], removed: [] };
    const starting: ExportSettings[] = [];
    for (const s of next.exports) {
      const old = this.exports.get(s.name);
      if (old === undefined) summary.added.push(s.name);
      else if (stateDirChanged || !sameExceptLive(old.settings, s)) summary.reopened.push(s.name);
      else {
        summary.kept.push(s.name);
        continue;
      }
      starting.push(s);
    }
    for (const name of this.exports.keys()) if (!next.exports.some((s) => s.name === name)) summary.removed.push(name);

    // 1. open every file first: a file that fails leaves everything as it was
    const storages = new Map<string, Storage>();
    try {
      for (const s of starting) storages.set(s.name, openStorage(s));
    } catch (e) {
      for (const st of storages.values()) st.close();
      throw e;
    }
    // 2. drain what goes away or changes
    const leaving = [...summary.removed, ...summary.reopened].map((n) => this.exports.get(n)!);
    await Promise.all(leaving.map((e) => e.stop()));
    for (const e of leaving) this.exports.delete(e.name);
    for (const name of summary.removed) consola.info(`${name}: removed (drained, flushed, closed)`);
    // 3. unchanged ones take their new interface and macs lists in place
    for (const name of summary.kept) this.exports.get(name)!.update(next.exports.find((s) => s.name === name)!);
    // 4. start the new and changed ones, in config order
    const mtus = this.upInterfaces().map((i) => i.mtu);
    const order = new Map(next.exports.map((s, i) => [s.name, i]));
    for (const s of starting) {
      try {
        const served = ServedExport.open(s, next.defaults.stateDir, mtus, storages.get(s.name));
        this.exports.set(s.name, served);
        this.logOpened(served);
      } catch (e) {
        consola.error(`${s.name}: cannot start: ${(e as Error).message}`);
      }
    }
    const sorted = [...this.exports.values()].sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
    this.exports.clear();
    for (const e of sorted) this.exports.set(e.name, e);
    this.config = next;
    this.syncInterfaces();
    return summary;
  }

  /** Drain every export, close every link. */
  async stop(): Promise<void> {
    await this.chain;
    this.stopped = true;
    await Promise.all(this.running.map((e) => e.stop()));
    for (const iface of this.interfaces.values()) iface.close();
  }

  private logOpened(e: ServedExport): void {
    const s = e.settings;
    const flags = [s.readOnly ? "read-only" : "", s.direct ? "O_DIRECT" : "", s.sync ? "O_SYNC" : ""].filter(Boolean).join(", ");
    consola.info(
      `${s.name}: e${s.shelf}.${s.slot}, ${e.storage.sectors} sectors of ${e.storage.kind} ${s.file}` +
        `${flags ? ` (${flags})` : ""}, bufcnt ${s.bufcnt}, on ${s.interfaces.join(", ")}`,
    );
  }

  find(name: string): ServedExport | undefined {
    return this.exports.get(name);
  }

  stats(): StatsReply {
    const exports: ExportStats[] = this.running.map((e) => {
      const c = e.exp.counters;
      const initiators: Record<string, number> = {};
      for (const [k, n] of e.exp.initiators) initiators[keyToString(k)] = n.requests;
      return {
        name: e.name,
        target: `e${e.settings.shelf}.${e.settings.slot}`,
        path: e.settings.file,
        readOnly: e.exp.readOnly,
        interfaces: e.interfaces,
        reads: c.reads,
        writes: c.writes,
        readBytes: c.sectorsRead * 512,
        writeBytes: c.sectorsWritten * 512,
        other: c.flushes + c.configCommands + c.maskCommands + c.reserveCommands,
        inFlight: e.exp.inFlight,
        queued: e.exp.busy - e.exp.inFlight,
        errors: c.ataErrors + c.aoeErrors + c.ioErrors,
        busyDropped: c.busyDropped,
        initiators,
      };
    });
    const interfaces: InterfaceStats[] = [...this.interfaces.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((i) => ({
        name: i.name,
        up: i.up,
        mac: i.link ? formatMac(i.link.mac) : undefined,
        mtu: i.link?.mtu,
        ...i.counters(),
        exports: this.running.filter((e) => e.interfaces.includes(i.name)).map((e) => e.name),
      }));
    return { ok: true, pid: process.pid, uptimeMs: Date.now() - this.startedAt, exports, interfaces };
  }

  /** What each export answers to Query Config, per interface: `aoede stat --targets`. */
  targets(): TargetRow[] {
    return this.running.map((e) => {
      const paths = e.interfaces.map((n) => `${n}=${this.interfaces.get(n)?.link ? formatMac(this.interfaces.get(n)!.link!.mac) : "?"}`);
      const mtus = e.interfaces.map((n) => this.interfaces.get(n)?.link?.mtu ?? 0);
      const sectors = Math.min(e.exp.maxSectors, ...mtus.map((m) => Math.max(0, maxSectorsForMtu(m))));
      return {
        name: e.name,
        target: `e${e.settings.shelf}.${e.settings.slot}`,
        bufferCount: e.settings.bufcnt,
        firmware: FIRMWARE_VERSION,
        sectors: paths.length === 0 ? 0 : sectors,
        paths,
        config: new TextDecoder().decode(e.exp.configString),
        sizeBytes: e.storage.sectors * 512,
      };
    });
  }

  masks(name: string): string[] | undefined {
    return this.exports.get(name)?.exp.access.maskList.map(keyToString);
  }

  reservation(name: string): string[] | undefined {
    return this.exports.get(name)?.exp.access.reservationList.map(keyToString);
  }
}
