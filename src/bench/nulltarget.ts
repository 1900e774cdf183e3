/**
 * The no-disk-I/O target: the ceiling of the event loop and the raw links.
 *
 * It answers like a target — Query Config (and an announcement at start),
 * IDENTIFY, READ/WRITE SECTORS (EXT), FLUSH CACHE — but keeps no data: reads are
 * answered with zeroes, writes are acknowledged and forgotten. There is no
 * storage, no slot pool, no request tracking: a reply is the request's 36 bytes
 * of header and ATA argument copied into a preallocated frame (whose data area
 * stays zero forever), the addresses swapped, the response flag and status set,
 * queued on the loop, and sent with the batch's other replies in one sendmmsg.
 * What `aoede serve` does beyond this is its protocol checks and the storage.
 *
 * Not a product target: it lies about the data. `aoede bench --null-target`.
 */
import {
  AOE_VERSION,
  AtaCmd,
  AtaErrorBit,
  AtaStatus,
  BROADCAST_MAC,
  buildIdentify,
  Command,
  ConfigCmd,
  encodeConfig,
  encodeHeader,
  Flag,
  maxSectorsForMtu,
  newFrame,
  SECTOR_SIZE,
} from "../aoe/index.ts";
import type { RawLink } from "../../ffi/rawlink.ts";
import type { EventLoop } from "../net/loop.ts";

const ATA_HDR = 36;
/** Reply frames in rotation: more than the loop ever queues before it flushes (1024). */
const RING = 2048;

export interface NullTargetOptions {
  shelf: number;
  slot: number;
  /** advertised buffer count */
  bufcnt: number;
  /** advertised size in sectors */
  sectors: number;
}

export class NullTarget {
  readonly maxSectors: number;
  /** counters */
  reads = 0;
  writes = 0;
  other = 0;
  private readonly ring: Uint8Array[] = [];
  private next = 0;
  private readonly identify: Uint8Array;
  private readonly detach: () => void;

  constructor(
    private readonly loop: EventLoop,
    private readonly link: RawLink,
    private readonly o: NullTargetOptions,
  ) {
    this.maxSectors = maxSectorsForMtu(link.mtu);
    const frameLen = ATA_HDR + this.maxSectors * SECTOR_SIZE;
    for (let i = 0; i < RING; i++) this.ring.push(newFrame(Math.max(frameLen, ATA_HDR + SECTOR_SIZE)));
    this.identify = buildIdentify({ sectors: o.sectors, model: "AoEde null target", serial: `null${o.shelf}.${o.slot}`, firmware: "null" });
    this.detach = loop.attach(link, (f) => this.handle(f));
  }

  close(): void {
    this.detach();
  }

  /** Broadcast the Query Config reply that announces the target. */
  announce(): void {
    const out = newFrame(ATA_HDR + 64);
    const end = this.config(out, BROADCAST_MAC, 0);
    this.loop.queueSend(this.link, out.subarray(0, end));
  }

  private config(out: Uint8Array, dst: Uint8Array, tag: number): number {
    encodeHeader(
      { dst, src: this.link.mac, version: AOE_VERSION, flags: Flag.Response, error: 0, major: this.o.shelf, minor: this.o.slot, command: Command.QueryConfig, tag },
      out,
    );
    return encodeConfig(
      { bufferCount: this.o.bufcnt, firmware: 1, sectorCount: this.maxSectors, aoeVersion: AOE_VERSION, ccmd: ConfigCmd.Read, config: new Uint8Array(0) },
      out,
    );
  }

  private handle(f: Uint8Array): void {
    if (f.length < 24) return;
    if (f[14]! & Flag.Response) return;
    const major = (f[16]! << 8) | f[17]!;
    const minor = f[18]!;
    if ((major !== this.o.shelf && major !== 0xffff) || (minor !== this.o.slot && minor !== 0xff)) return;
    // unicast to another station: not ours
    if ((f[0]! & 1) === 0) {
      const mac = this.link.mac;
      for (let i = 0; i < 6; i++) if (f[i] !== mac[i]) return;
    }
    const cmd = f[19]!;
    if (cmd === Command.QueryConfig) {
      if (f.length >= 32 && (f[29]! & 0x0f) !== ConfigCmd.Read) return; // only reads; this target keeps no config string
      const out = newFrame(ATA_HDR + 64); // rare: its own buffer, the ring's data areas stay zero
      const tag = ((f[20]! << 24) | (f[21]! << 16) | (f[22]! << 8) | f[23]!) >>> 0;
      this.other++;
      this.loop.queueSend(this.link, out.subarray(0, this.config(out, f.subarray(6, 12), tag)));
      return;
    }
    if (cmd !== Command.ATA || f.length < ATA_HDR) return;
    const out = this.slot();
    out.set(f.subarray(0, ATA_HDR));
    out.copyWithin(0, 6, 12); // dst = requester
    out.set(this.link.mac, 6);
    out[14] = (AOE_VERSION << 4) | Flag.Response;
    out[15] = 0;
    const count = f[26]!;
    let len = ATA_HDR;
    switch (f[27]) {
      case AtaCmd.Read:
      case AtaCmd.ReadExt:
        if (count > this.maxSectors) return this.abort(out);
        len += count * SECTOR_SIZE;
        this.reads++;
        break;
      case AtaCmd.Write:
      case AtaCmd.WriteExt:
        this.writes++;
        break;
      case AtaCmd.Identify: {
        const id = newFrame(ATA_HDR + SECTOR_SIZE);
        id.set(out.subarray(0, ATA_HDR));
        id[25] = 0;
        id[27] = AtaStatus.Drdy;
        id.set(this.identify, ATA_HDR);
        this.other++;
        this.loop.queueSend(this.link, id);
        return;
      }
      case AtaCmd.Flush:
      case AtaCmd.FlushExt:
      case AtaCmd.CheckPower:
        this.other++;
        break;
      default:
        return this.abort(out);
    }
    out[25] = 0;
    out[27] = AtaStatus.Drdy;
    this.loop.queueSend(this.link, out.subarray(0, len));
  }

  private abort(out: Uint8Array): void {
    out[25] = AtaErrorBit.Abrt;
    out[27] = AtaStatus.Drdy | AtaStatus.Err;
    this.other++;
    this.loop.queueSend(this.link, out.subarray(0, ATA_HDR));
  }

  /** The next reply frame of the ring (its data area is zero). */
  private slot(): Uint8Array {
    const out = this.ring[this.next]!;
    this.next = (this.next + 1) % RING;
    return out;
  }
}
