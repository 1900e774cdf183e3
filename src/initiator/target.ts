/**
 * What the initiator knows about one target (shelf.slot): its paths, what it
 * advertised in Query Config, what IDENTIFY said, its window, and the requests
 * queued on it.
 */
import { SECTOR_SIZE } from "../aoe/constants.ts";
import { featureNames, type IdentifyData } from "../aoe/identify.ts";
import { formatTargetName } from "./name.ts";
import { PathSet, type Path } from "./path.ts";
import type { Frame, Request } from "./request.ts";
import type { DevlinkStatus, TargetStatus } from "./status.ts";
import { Window } from "./window.ts";
import type { NetLink } from "./netlink.ts";

/** Frames of more than this many data bytes are "jumbo" (Plan 9's Dbcnt). */
export const JUMBO_BYTES = 1024;
/** Plan 9's Maxmtu: no data-bytes cap set by the `mtu` or `maxbno` verbs. */
export const NO_MAXMTU = 100000;
/** Most sectors one AoE ATA frame can ask for (the sector count is one byte). */
const MAX_FRAME_SECTORS = 255;

export class Target {
  readonly paths = new PathSet();
  /** from the first Query Config reply */
  bufferCount = 0;
  firmware = 0;
  /** most sectors per ATA request the target advertised (the smallest over its paths) */
  sectorCount = 0;
  aoeVersion = 0;
  config: Uint8Array = new Uint8Array(0);
  window: Window;
  /** IDENTIFY, once asked */
  identify?: IdentifyData;
  identifyRaw?: Uint8Array;
  /** false after the lostjumbo fallback to 1024-byte frames, or the `jumbo` verb (Plan 9's Djumbo) */
  jumbo = true;
  /** IDENTIFY answered and nothing downed it since (Plan 9's Dup) */
  up = false;
  /** copies never time out (Plan 9's Dnofail) */
  nofail = false;
  /** data bytes per frame at most, set by the `mtu`/`maxbno` verbs (Plan 9's maxmtu) */
  maxmtu = NO_MAXMTU;
  /** copies in progress (Plan 9's nopen) */
  nopen = 0;
  /** frames in flight */
  readonly inflight = new Set<Frame>();
  /** requests waiting for window room, oldest first */
  readonly queue: Request[] = [];
  /** reusable frame buffers */
  readonly bufferPool: Uint8Array[] = [];

  constructor(
    readonly shelf: number,
    readonly slot: number,
    bufferCount: number,
  ) {
    this.bufferCount = bufferCount;
    this.window = new Window(bufferCount);
  }

  get name(): string {
    return formatTargetName(this);
  }

  get nout(): number {
    return this.inflight.size;
  }

  /** Device size in bytes, once IDENTIFY answered. */
  get sizeBytes(): number | undefined {
    return this.identify ? this.identify.sectors * SECTOR_SIZE : undefined;
  }

  /** The target's own cap on sectors per frame: 2 without jumbo, and the `mtu` verb's. */
  private capSectors(): number {
    const cap = this.jumbo ? MAX_FRAME_SECTORS : JUMBO_BYTES / SECTOR_SIZE;
    return Math.max(1, Math.min(cap, Math.floor(this.maxmtu / SECTOR_SIZE)));
  }

  /** Most sectors per frame right now: every healthy path's limit and the caps (Plan 9's maxbcnt / 512). */
  maxSectors(): number {
    return Math.min(this.paths.maxSectors(), this.capSectors());
  }

  /** Sectors one frame on `path` may carry. */
  frameSectors(path: Path): number {
    return Math.max(1, Math.min(path.maxSectors(), this.capSectors()));
  }

  /** Data bytes per frame the paths allow, caps aside (Plan 9's devmaxdata; 1024 with no path). */
  devMaxData(): number {
    const m = this.paths.maxSectors();
    return m > 0 ? m * SECTOR_SIZE : JUMBO_BYTES;
  }

  /** Local interfaces with a path to this target, in the order first seen. */
  netlinks(): NetLink[] {
    const out: NetLink[] = [];
    for (const p of this.paths.paths) if (!out.includes(p.netlink)) out.push(p.netlink);
    return out;
  }

  status(): TargetStatus {
    const flags: string[] = [];
    if (this.up) flags.push("up");
    if (this.jumbo) flags.push("jumbo");
    if (this.nofail) flags.push("nofail");
    const devlinks: DevlinkStatus[] = this.netlinks().map((nl) => {
      const ps = this.paths.paths.filter((p) => p.netlink === nl);
      let npkt = 0;
      let resent = 0;
      let srttSum = 0;
      let sampled = 0;
      let timeout = 0;
      let datamtu = 0;
      for (const p of ps) {
        npkt += p.npkt;
        resent += p.resent;
        if (p.rtt.samples > 0) {
          srttSum += p.rtt.srtt;
          sampled++;
        }
        timeout = Math.max(timeout, p.rtt.timeoutMs());
        datamtu = Math.max(datamtu, p.targetSectors * SECTOR_SIZE);
      }
      const nlFlags = ["up"];
      if (nl.dataMtu() > JUMBO_BYTES) nlFlags.push("jumbo");
      return {
        addrs: ps.map((p) => p.targetMac),
        npkt,
        resent,
        flags: ps.some((p) => !p.failing) ? ["up"] : [],
        rttavg: sampled ? srttSum / sampled : 0,
        mintimer: timeout,
        datamtu,
        nlPath: nl.name,
        nlEa: nl.mac,
        nlFlags,
        nlLostjumbo: nl.lostJumbo,
        nlDatamtu: nl.link.mtu,
      };
    });
    return {
      name: this.name,
      shelf: this.shelf,
      slot: this.slot,
      state: this.up ? "up" : "down",
      nopen: this.nopen,
      nout: this.nout,
      nmaxout: this.window.size,
      nframes: this.window.cap,
      maxbcnt: this.maxSectors() * SECTOR_SIZE,
      maxmtu: this.maxmtu,
      fw: this.firmware,
      model: this.identify?.model ?? "",
      serial: this.identify?.serial ?? "",
      firmware: this.identify?.firmware ?? "",
      features: this.identifyRaw ? featureNames(this.identifyRaw) : [],
      flags,
      sizeBytes: this.sizeBytes ?? 0,
      config: new TextDecoder().decode(this.config),
      bufferCount: this.bufferCount,
      devlinks,
    };
  }
}
