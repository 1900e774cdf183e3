/**
 * One export of the daemon: its settings, its storage and its Export (made by
 * serve's own makeExport, so state, IDENTIFY and the Mac Mask list behave exactly
 * as under `aoede serve`), and the interfaces it is attached to.
 */
import { maxSectorsForMtu } from "../aoe/index.ts";
import type { Export } from "../target/export.ts";
import { makeExport, openStorage } from "../target/server.ts";
import type { Storage } from "../target/storage.ts";
import { matchesInterface, type ExportSettings } from "./config.ts";
import type { Interface } from "./interfaces.ts";

/**
 * Request slots are sized once, for the largest frame any of the export's
 * interfaces may carry; interfaces that appear later get at most this many sectors
 * per frame. 9000-byte jumbo frames (17 sectors) are always provided for.
 */
const MIN_SLOT_MTU = 9000;

const NO_MAC = new Uint8Array(6);

export class ServedExport {
  private readonly on = new Set<Interface>();
  private stopping: Promise<void> | undefined;

  private constructor(
    public settings: ExportSettings,
    readonly stateDir: string,
    readonly storage: Storage,
    readonly exp: Export,
  ) {}

  /**
   * Make the Export over `storage` (opened here unless given) with its saved state
   * (throws ServeError; the storage is closed then).
   */
  static open(settings: ExportSettings, stateDir: string, mtus: readonly number[], storage = openStorage(settings)): ServedExport {
    try {
      const exp = makeExport({ ...settings, stateDir }, storage, {
        // The daemon hands every frame to handle() with the port of its interface:
        // this default port is never used to reply.
        mac: NO_MAC,
        maxSectors: maxSectorsForMtu(Math.max(MIN_SLOT_MTU, ...mtus)),
        send: () => {},
        sendBatch: () => {},
      });
      return new ServedExport(settings, stateDir, storage, exp);
    } catch (e) {
      storage.close();
      throw e;
    }
  }

  get name(): string {
    return this.settings.name;
  }

  /** Interfaces it is attached to now, by name. */
  get interfaces(): string[] {
    return [...this.on].map((i) => i.name).sort();
  }

  wants(ifname: string): boolean {
    return matchesInterface(this.settings.interfaces, ifname);
  }

  /** Attach to `iface` (up) when the settings name it; announces there. */
  offer(iface: Interface): void {
    if (this.stopping || !this.wants(iface.name) || !iface.up || this.on.has(iface)) return;
    this.on.add(iface);
    iface.attach(this.exp);
  }

  /** The interface closed: forget it (it dropped its attachments). */
  lost(iface: Interface): void {
    this.on.delete(iface);
  }

  /**
   * Settings changed in ways that need no reopening (interfaces, macs): apply them
   * to the running Export: it leaves interfaces no longer named (the caller offers
   * the newly named ones), and a new macs list replaces the Mac Mask list.
   */
  update(settings: ExportSettings): void {
    const masksChanged = JSON.stringify(settings.macs) !== JSON.stringify(this.settings.macs);
    this.settings = settings;
    for (const iface of [...this.on]) {
      if (!this.wants(iface.name)) {
        iface.detach(this.exp);
        this.on.delete(iface);
      }
    }
    if (masksChanged && settings.macs !== undefined) this.exp.setMasks(settings.macs);
  }

  /**
   * Stop taking requests, answer the ones in flight, save state, flush; then leave
   * every interface and close the storage.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.exp.stop();
      for (const iface of this.on) iface.detach(this.exp);
      this.on.clear();
      this.storage.close();
    })();
    return this.stopping;
  }
}

/** Same settings but for what update() applies in place (interfaces, macs)? */
export function sameExceptLive(a: ExportSettings, b: ExportSettings): boolean {
  const strip = (s: ExportSettings) => JSON.stringify({ ...s, interfaces: undefined, macs: undefined });
  return strip(a) === strip(b);
}
