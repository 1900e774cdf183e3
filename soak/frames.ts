/**
 * Hostile AoE frames for the flood, made with the project's codec from a seed
 * (any failure replays exactly): every command (ATA with every command the target
 * knows and some it does not, Query Config with every ccmd, Mac Mask, Reserve,
 * unknown and vendor commands), every version, broadcast and unicast destinations,
 * forged sources (random, multicast, broadcast, zero, the target's own), zero,
 * huge and over-the-maximum counts, LBAs past the end and at the 28/48-bit edges,
 * Mac Mask directives with bad commands, config strings at and over 1024 bytes —
 * then, for a share of them, bytes flipped and the frame cut short at any length
 * from the end of the Ethernet header on.
 *
 * `guard` (the interleaved phase) keeps a flood from doing what AoE rightly lets
 * any station do and that would spoil the legitimate copy running beside it:
 * writing into the copy's sectors, masking or reserving the target away from it,
 * and using the tag half (bit 31) the AoEde initiator owns.
 */
import {
  AtaCmd,
  AtaFlag,
  Command,
  ConfigCmd,
  encodeAta,
  encodeConfig,
  encodeHeader,
  encodeMacMask,
  encodeReserve,
  HEADER_LEN,
  SECTOR_SIZE,
} from "../src/aoe/index.ts";
import { seededUint32 } from "../test/helpers/prng.ts";

/** The ATA commands a target must know, and a few it must abort. */
const ATA_CMDS = [
  AtaCmd.Read,
  AtaCmd.ReadExt,
  AtaCmd.Write,
  AtaCmd.WriteExt,
  AtaCmd.Identify,
  AtaCmd.CheckPower,
  AtaCmd.Flush,
  AtaCmd.FlushExt,
  0x00,
  0x25,
  0x35,
  0xc8,
  0xff,
];

export interface FloodTarget {
  mac: Uint8Array;
  shelf: number;
  slot: number;
  /** sectors exported */
  sectors: number;
  /** most sectors per frame (from the MTU) */
  maxSectors: number;
}

export interface GuardOptions {
  /** no write may land in [first, first + count) */
  protect: { first: number; count: number };
  /** MACs the flood must not forge (the legitimate initiator's) */
  avoidSources: Uint8Array[];
}

export interface FrameGeneratorOptions {
  seed: number;
  target: FloodTarget;
  /** largest frame the link carries (MTU + 14) */
  maxFrame: number;
  /** keep the interleaved copy safe; undefined: anything goes (the lockout phase) */
  guard?: GuardOptions;
}

/** What the generator made, by kind, for the report. */
export interface FrameMix {
  ata: number;
  config: number;
  mask: number;
  reserve: number;
  unknown: number;
  random: number;
  truncated: number;
  mutated: number;
  badVersion: number;
  forgedSource: number;
  broadcastDst: number;
  configOver1024: number;
  /** writes into the copy's sectors made reads, Mac Mask edits and reservations defused */
  guarded: number;
}

export class FrameGenerator {
  readonly mix: FrameMix = {
    ata: 0,
    config: 0,
    mask: 0,
    reserve: 0,
    unknown: 0,
    random: 0,
    truncated: 0,
    mutated: 0,
    badVersion: 0,
    forgedSource: 0,
    broadcastDst: 0,
    configOver1024: 0,
    guarded: 0,
  };
  private readonly next: () => number;
  private readonly buf: Uint8Array;
  private readonly t: FloodTarget;
  private readonly maxFrame: number;
  private readonly guard: GuardOptions | undefined;
  /** MACs never forged, as 48-bit numbers */
  private readonly avoid: Set<number>;
  private readonly data: Uint8Array;

  constructor(o: FrameGeneratorOptions) {
    this.next = seededUint32(o.seed);
    this.t = o.target;
    this.maxFrame = o.maxFrame;
    this.guard = o.guard;
    this.buf = new Uint8Array(new ArrayBuffer(Math.max(o.maxFrame, 2048) + 64));
    this.avoid = new Set((o.guard?.avoidSources ?? []).map((m) => macNumber(m, 0)));
    this.data = new Uint8Array(256 * SECTOR_SIZE);
    for (let i = 0; i < this.data.length; i++) this.data[i] = this.next() & 255;
  }

  private below(n: number): number {
    return this.next() % n;
  }

  private chance(oneIn: number): boolean {
    return this.next() % oneIn === 0;
  }

  private mac(kind: number): Uint8Array {
    const m = new Uint8Array(6);
    switch (kind) {
      case 0: // random unicast, locally administered
        for (let i = 0; i < 6; i++) m[i] = this.next() & 255;
        m[0] = (m[0]! & 0xfc) | 0x02;
        return m;
      case 1: // multicast
        for (let i = 0; i < 6; i++) m[i] = this.next() & 255;
        m[0] = m[0]! | 0x01;
        return m;
      case 2:
        return m.fill(0xff);
      case 3:
        return m; // all zero
      default:
        return this.t.mac.slice();
    }
  }

  private source(): Uint8Array {
    // mostly a small set of forged initiators (so that some reach the target often), else anything
    let m: Uint8Array;
    do {
      m = this.chance(2) ? new Uint8Array([0x02, 0x50, 0, 0, 0, this.below(16)]) : this.mac(this.below(5));
    } while (this.avoid.has(macNumber(m, 0)));
    this.mix.forgedSource++;
    return m;
  }

  private lba(): number {
    const s = this.t.sectors;
    switch (this.below(8)) {
      case 0:
        return 0;
      case 1:
        return s - 1;
      case 2:
        return s; // the first sector past the end
      case 3:
        return s + this.below(1 << 20);
      case 4:
        return 2 ** 48 - 1 - this.below(4);
      case 5:
        return 0xe0 * 2 ** 24 + this.below(s); // LBA28 with the Linux driver's top nibble
      case 6:
        return 0x0fffffff - this.below(4);
      default:
        return this.below(s);
    }
  }

  private count(): number {
    switch (this.below(6)) {
      case 0:
        return 0;
      case 1:
        return this.t.maxSectors + 1;
      case 2:
        return 255;
      case 3:
        return this.t.maxSectors;
      default:
        return 1 + this.below(Math.max(1, this.t.maxSectors));
    }
  }

  /** The next frame: a view valid until the next call. */
  frame(): Uint8Array {
    const b = this.buf;
    let end: number;
    if (this.chance(16)) {
      end = 14 + this.below(this.maxFrame - 14 + 1);
      for (let i = 0; i < end; i++) b[i] = this.next() & 255;
      b[12] = 0x88;
      b[13] = 0xa2;
      if (this.chance(2)) b.set(this.t.mac, 0);
      this.mix.random++;
    } else {
      end = this.wellFormed();
      if (this.chance(3)) {
        const flips = 1 + this.below(4);
        for (let k = 0; k < flips; k++) b[14 + this.below(end - 14)] = this.next() & 255;
        this.mix.mutated++;
      }
      if (this.chance(4)) {
        end = 14 + this.below(end - 14);
        this.mix.truncated++;
      }
    }
    if (this.guard !== undefined && this.applyGuard(b, end)) this.mix.guarded++;
    return b.subarray(0, end);
  }

  private wellFormed(): number {
    const b = this.buf;
    const t = this.t;
    const dstKind = this.below(8);
    const dst = dstKind < 5 ? t.mac : dstKind < 7 ? this.mac(2) : this.mac(this.below(2));
    if (dstKind >= 5 && dstKind < 7) this.mix.broadcastDst++;
    let version = 1;
    if (this.chance(12)) {
      version = this.below(16);
      if (version !== 1) this.mix.badVersion++;
    }
    const pick = this.below(20);
    const command = pick < 10 ? Command.ATA : pick < 13 ? Command.QueryConfig : pick < 16 ? Command.MacMask : pick < 19 ? Command.Reserve : 4 + this.below(252);
    const who = this.below(8);
    encodeHeader(
      {
        dst,
        src: this.source(),
        version,
        flags: this.chance(32) ? this.below(16) : 0,
        error: this.chance(32) ? this.below(256) : 0,
        major: who < 6 ? t.shelf : who === 6 ? 0xffff : this.below(0x10000),
        minor: who < 6 ? t.slot : who === 6 ? 0xff : this.below(256),
        command,
        tag: this.next(),
      },
      b,
    );
    switch (command) {
      case Command.ATA:
        this.mix.ata++;
        return this.ata();
      case Command.QueryConfig:
        this.mix.config++;
        return this.config();
      case Command.MacMask:
        this.mix.mask++;
        return this.macMask();
      case Command.Reserve:
        this.mix.reserve++;
        return this.reserve();
      default:
        this.mix.unknown++;
        return Math.min(this.maxFrame, HEADER_LEN + this.below(64));
    }
  }

  private ata(): number {
    const cmd = ATA_CMDS[this.below(ATA_CMDS.length)]!;
    const write = cmd === AtaCmd.Write || cmd === AtaCmd.WriteExt;
    const ext = cmd === AtaCmd.ReadExt || cmd === AtaCmd.WriteExt || cmd === AtaCmd.FlushExt;
    const count = this.count();
    let aflags = (ext ? AtaFlag.Ext : 0) | (write ? AtaFlag.Write : 0);
    if (this.chance(8)) aflags = this.below(256);
    // writes: the data the count asks for, or a payload cut short of it
    let dataLen = write ? Math.min(count, 255) * SECTOR_SIZE : 0;
    if (write && this.chance(6)) dataLen = this.below(dataLen + 1);
    dataLen = Math.min(dataLen, this.maxFrame - 36);
    const off = this.below(this.data.length - dataLen + 1);
    return encodeAta(
      {
        aflags,
        errFeature: this.chance(8) ? this.below(256) : 0,
        sectorCount: count,
        cmdStatus: cmd,
        lba: this.lba(),
        data: dataLen > 0 ? this.data.subarray(off, off + dataLen) : undefined,
      },
      this.buf,
    );
  }

  private config(): number {
    const lengths = [0, 1, 8, 1023, 1024, 1025, 1100];
    let len = this.chance(2) ? lengths[this.below(lengths.length)]! : this.below(1200);
    len = Math.min(len, this.maxFrame - 32);
    if (len > 1024) this.mix.configOver1024++;
    // the codec refuses strings over 1024 bytes (MAX_CONFIG_LEN): encode 1024, then add the rest by hand
    const config = this.data.subarray(0, Math.min(len, 1024));
    let end = encodeConfig(
      { bufferCount: this.below(0x10000), firmware: this.below(0x10000), sectorCount: this.below(256), aoeVersion: this.chance(8) ? this.below(16) : 1, ccmd: this.below(16), config },
      this.buf,
    );
    if (len > 1024) {
      this.buf.set(this.data.subarray(1024, len), end);
      end += len - 1024;
      new DataView(this.buf.buffer).setUint16(30, len);
    }
    // a declared length other than the bytes that follow (both ways)
    if (this.chance(6)) new DataView(this.buf.buffer).setUint16(30, this.below(0x10000));
    return end;
  }

  private macMask(): number {
    const n = this.chance(32) ? 255 : this.below(12);
    const directives: { dcmd: number; mac: Uint8Array }[] = [];
    for (let i = 0; i < n && 28 + 8 * (i + 1) <= this.maxFrame; i++) {
      directives.push({ dcmd: this.chance(3) ? this.below(256) : 1 + this.below(2), mac: this.chance(2) ? new Uint8Array([0x02, 0x50, 0, 0, 0, this.below(16)]) : this.mac(this.below(5)) });
    }
    const end = encodeMacMask({ mcmd: this.chance(5) ? this.below(256) : this.below(2), merror: this.chance(8) ? this.below(256) : 0, directives }, this.buf);
    if (this.chance(6)) this.buf[27] = this.below(256); // a directive count the frame does not hold
    return end;
  }

  private reserve(): number {
    const n = this.chance(32) ? 255 : this.below(6);
    const macs: Uint8Array[] = [];
    for (let i = 0; i < n && 26 + 6 * (i + 1) <= this.maxFrame; i++) macs.push(this.chance(2) ? new Uint8Array([0x02, 0x50, 0, 0, 0, this.below(16)]) : this.mac(this.below(5)));
    const end = encodeReserve({ rcmd: this.chance(5) ? this.below(256) : this.below(3), macs }, this.buf);
    if (this.chance(6)) this.buf[25] = this.below(256);
    return end;
  }

  /**
   * Make the frame harmless to the interleaved copy; true when it changed it.
   * Reads what the target would read (src/target/export.ts, ata.ts).
   */
  private applyGuard(b: Uint8Array, end: number): boolean {
    const g = this.guard!;
    let changed = false;
    // not counted as guarded: they change whose frame it is, not what it asks
    if (end >= 24) b[20] = b[20]! & 0x7f; // bit 31 of the tag: the AoEde initiator's half
    if (end >= 12 && this.avoid.has(macNumber(b, 6))) b[11] = b[11]! ^ 0x40;
    const command = end >= 20 ? b[19] : -1;
    if (command === Command.ATA && end >= 36) {
      const cmd = b[27]!;
      if (cmd === AtaCmd.Write || cmd === AtaCmd.WriteExt) {
        let lba = b[28]! + b[29]! * 2 ** 8 + b[30]! * 2 ** 16 + b[31]! * 2 ** 24 + b[32]! * 2 ** 32 + b[33]! * 2 ** 40;
        if (cmd === AtaCmd.Write) lba %= 2 ** 28;
        const count = b[26]!;
        const p = g.protect;
        if (lba < p.first + p.count && lba + Math.max(count, 1) > p.first) {
          b[27] = AtaCmd.ReadExt; // the same request, as a read
          changed = true;
        }
      }
    } else if (command === Command.MacMask && end >= 26 && b[25] === 1) {
      // an edit: its first directive (if the frame holds one) gets a bad command, so none applies
      if (end >= 30) b[29] = 3 + this.below(253);
      else b[25] = 0;
      changed = true;
    } else if (command === Command.Reserve && end >= 25 && (b[24] === 1 || b[24] === 2)) {
      b[24] = 0; // set and force set would reserve the target for forged initiators
      changed = true;
    }
    return changed;
  }
}

function macNumber(b: Uint8Array, at: number): number {
  return ((b[at]! * 256 + b[at + 1]!) * 256 + b[at + 2]!) * 2 ** 24 + ((b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!);
}

/**
 * `count` frames as flood.c's input: records of a little-endian 2-byte length and
 * the frame, in chunks of about `chunkBytes`.
 */
export function* floodRecords(gen: FrameGenerator, count: number, chunkBytes = 1 << 20): Generator<Uint8Array> {
  let chunk = new Uint8Array(chunkBytes + 16384);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const f = gen.frame();
    chunk[at] = f.length & 255;
    chunk[at + 1] = f.length >> 8;
    chunk.set(f, at + 2);
    at += 2 + f.length;
    if (at >= chunkBytes) {
      yield chunk.subarray(0, at);
      chunk = new Uint8Array(chunkBytes + 16384);
      at = 0;
    }
  }
  if (at > 0) yield chunk.subarray(0, at);
}
