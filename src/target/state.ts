/**
 * What an export remembers across restarts (--state-dir): the config string, the
 * Mac Mask list and the reservation. One small JSON file per shelf.slot, replaced
 * atomically (temp file, fsync, rename, fsync of the directory) so that a crash
 * leaves either the old state or the new one, never a torn file.
 *
 * Saves are asynchronous and serialized: callers get a promise that settles once
 * their snapshot (or a later one) is durable, so a reply that acknowledges a change
 * can wait for it.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { parseMac } from "../aoe/index.ts";
import { keyToString, macKey } from "./access.ts";

export interface ExportState {
  /** config string bytes (at most 1024) */
  config: Uint8Array;
  /** Mac Mask list, 48-bit MAC keys */
  masks: number[];
  /** reservation, 48-bit MAC keys */
  reservation: number[];
}

interface StateFile {
  format: 1;
  /** base64: the config string is bytes, not necessarily text */
  config: string;
  masks: string[];
  reservation: string[];
}

export function emptyState(): ExportState {
  return { config: new Uint8Array(0), masks: [], reservation: [] };
}

const parseMacKey = (s: string): number => macKey(parseMac(s));

export class StateStore {
  readonly file: string;
  private chain: Promise<void> = Promise.resolve();
  private pending: ExportState | undefined;

  constructor(
    readonly dir: string,
    shelf: number,
    slot: number,
  ) {
    this.file = path.join(dir, `e${shelf}.${slot}.json`);
  }

  /**
   * Load at start-up (synchronously: nothing is served yet). Creates the directory.
   * A missing file is an empty state; an unreadable or corrupt one throws.
   */
  load(): ExportState {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyState();
      throw e;
    }
    let raw: StateFile;
    try {
      raw = JSON.parse(text) as StateFile;
      if (raw.format !== 1) throw new Error(`unknown format ${raw.format}`);
      return {
        config: new Uint8Array(Buffer.from(raw.config ?? "", "base64")).slice(0, 1024),
        masks: (raw.masks ?? []).map(parseMacKey),
        reservation: (raw.reservation ?? []).map(parseMacKey),
      };
    } catch (e) {
      throw new Error(`state file ${this.file} is corrupt (${(e as Error).message}); fix or remove it`);
    }
  }

  /** Persist a snapshot; resolves once it (or a newer snapshot) is on stable storage. */
  save(state: ExportState): Promise<void> {
    const coalesce = this.pending !== undefined;
    this.pending = {
      config: state.config.slice(),
      masks: [...state.masks],
      reservation: [...state.reservation],
    };
    // A write already queued will pick up the newest snapshot: share its promise.
    if (coalesce) return this.chain;
    // a failed save must not stop later ones: each reports its own outcome
    this.chain = this.chain.catch(() => {}).then(() => {
      const snap = this.pending!;
      this.pending = undefined;
      return this.write(snap);
    });
    return this.chain;
  }

  /** Settles when every save asked for so far is done. */
  idle(): Promise<void> {
    return this.chain.catch(() => {});
  }

  private async write(s: ExportState): Promise<void> {
    const body: StateFile = {
      format: 1,
      config: Buffer.from(s.config).toString("base64"),
      masks: s.masks.map(keyToString),
      reservation: s.reservation.map(keyToString),
    };
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fh = await fsp.open(tmp, "w", 0o600);
    try {
      await fh.writeFile(JSON.stringify(body, null, 2) + "\n");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.file);
    // make the rename itself durable
    const dh = await fsp.open(this.dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
