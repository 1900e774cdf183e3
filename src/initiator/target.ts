/**
 * What the initiator knows about one target (shelf.slot): its paths, what it
 * advertised in Query Config, what IDENTIFY said, its window, and the requests
 * queued on it.
 */
import { SECTOR_SIZE } from "../aoe/constants.ts";
import type { IdentifyData } from "../aoe/identify.ts";
import { formatTargetName } from "./name.ts";
import { PathSet } from "./path.ts";
import type { Frame, Request } from "./request.ts";
import type { DevlinkStatus, TargetStatus } from "./status.ts";
import { Window } from "./window.ts";
import type { NetLink } from "./netlink.ts";

/** Frames of more than this many data bytes are "jumbo" (Plan 9's Dbcnt). */
export const JUMBO_BYTES = 1024;

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
  /** false after the lostjumbo fallback to 1024-byte frames */
  jumbo = true;
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

  /** Most sectors per frame right now: every healthy path's limit, 2 after the jumbo fallback. */
  maxSectors(): number {
    const m = this.paths.maxSectors();
    return this.jumbo ? m : Math.min(m, JUMBO_BYTES / SECTOR_SIZE);
  }

  /** Local interfaces with a path to this target, in the order first seen. */
  netlinks(): NetLink[] {
    const out: NetLink[] = [];
    for (const p of this.paths.paths) if (!out.includes(p.netlink)) out.push(p.netlink);
    return out;
  }

  status(): TargetStatus {
    const flags: string[] = [];
    if (this.identify?.lba48) flags.push("llba");
    flags.push("up");
    if (this.jumbo && this.maxSectors() * SECTOR_SIZE > JUMBO_BYTES) flags.push("jumbo");
    const devlinks: DevlinkStatus[] = this.netlinks().map((nl) => {
      const ps = this.paths.paths.filter((p) => p.netlink === nl);
      let npkt = 0;
      let resent = 0;
      let srttSum = 0;
      let sampled = 0;
      let timeout = 0;
      for (const p of ps) {
        npkt += p.npkt;
        resent += p.resent;
        if (p.rtt.samples > 0) {
          srttSum += p.rtt.srtt;
          sampled++;
        }
        timeout = Math.max(timeout, p.rtt.timeoutMs());
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
        nlPath: nl.name,
        nlEa: nl.mac,
        nlFlags,
        nlLostjumbo: nl.lostJumbo,
        nlDatamtu: nl.dataMtu(),
      };
    });
    return {
      name: this.name,
      shelf: this.shelf,
      slot: this.slot,
      state: this.paths.paths.some((p) => !p.failing) ? "up" : "down",
      nopen: this.nopen,
      nout: this.nout,
      nmaxout: this.window.size,
      nframes: this.window.cap,
      maxbcnt: this.maxSectors() * SECTOR_SIZE,
      fw: this.firmware,
      model: this.identify?.model ?? "",
      serial: this.identify?.serial ?? "",
      firmware: this.identify?.firmware ?? "",
      flags,
      sizeBytes: this.sizeBytes ?? 0,
      config: new TextDecoder().decode(this.config),
      bufferCount: this.bufferCount,
      devlinks,
    };
  }
}
