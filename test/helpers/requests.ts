/**
 * AoE request frames for tests, built with the project's codec, and a decoder for
 * the replies. Frames are left unpadded unless `pad` is asked for, so tests can
 * check that short complete requests are answered.
 */
import {
  AOE_VERSION,
  AtaCmd,
  AtaFlag,
  Command,
  decodeAta,
  decodeConfig,
  decodeHeader,
  decodeMacMask,
  decodeReserve,
  encodeAta,
  encodeConfig,
  encodeHeader,
  encodeMacMask,
  encodeReserve,
  MIN_FRAME_LEN,
  parseMac,
  SECTOR_SIZE,
  type Header,
} from "../../src/aoe/index.ts";

export interface Addr {
  /** initiator MAC (source) */
  src: Uint8Array;
  /** target MAC or broadcast (destination) */
  dst: Uint8Array;
  major: number;
  minor: number;
}

export const mac = (s: string) => parseMac(s);

function header(a: Addr, command: number, tag: number, version = AOE_VERSION, flags = 0): Header {
  return { dst: a.dst, src: a.src, version, flags, error: 0, major: a.major, minor: a.minor, command, tag };
}

function finish(buf: Uint8Array, end: number, pad: boolean): Uint8Array {
  return buf.slice(0, pad ? Math.max(end, MIN_FRAME_LEN) : end);
}

export interface AtaRequest {
  cmd: number;
  lba?: number;
  count?: number;
  /** write payload (count x 512 unless testing short payloads) */
  data?: Uint8Array;
  aflags?: number;
  feature?: number;
  version?: number;
  flags?: number;
  pad?: boolean;
}

export function ataFrame(a: Addr, tag: number, r: AtaRequest): Uint8Array {
  const data = r.data;
  const buf = new Uint8Array(new ArrayBuffer(36 + (data?.length ?? 0) + 64));
  encodeHeader(header(a, Command.ATA, tag, r.version, r.flags), buf);
  const ext = r.cmd === AtaCmd.ReadExt || r.cmd === AtaCmd.WriteExt || r.cmd === AtaCmd.FlushExt;
  const write = r.cmd === AtaCmd.Write || r.cmd === AtaCmd.WriteExt;
  const aflags = r.aflags ?? ((ext ? AtaFlag.Ext : 0) | (write ? AtaFlag.Write : 0));
  const end = encodeAta(
    { aflags, errFeature: r.feature ?? 0, sectorCount: r.count ?? 0, cmdStatus: r.cmd, lba: r.lba ?? 0, data },
    buf,
  );
  return finish(buf, end, r.pad ?? false);
}

export const readFrame = (a: Addr, tag: number, lba: number, count: number, ext = true) =>
  ataFrame(a, tag, { cmd: ext ? AtaCmd.ReadExt : AtaCmd.Read, lba, count });

export const writeFrame = (a: Addr, tag: number, lba: number, data: Uint8Array, ext = true) =>
  ataFrame(a, tag, { cmd: ext ? AtaCmd.WriteExt : AtaCmd.Write, lba, count: data.length / SECTOR_SIZE, data });

export function configFrame(a: Addr, tag: number, ccmd: number, config = new Uint8Array(0), pad = false): Uint8Array {
  const buf = new Uint8Array(new ArrayBuffer(32 + config.length + 64));
  encodeHeader(header(a, Command.QueryConfig, tag), buf);
  const end = encodeConfig({ bufferCount: 0, firmware: 0, sectorCount: 0, aoeVersion: AOE_VERSION, ccmd, config }, buf);
  return finish(buf, end, pad);
}

export function maskFrame(a: Addr, tag: number, mcmd: number, directives: { dcmd: number; mac: Uint8Array }[] = []): Uint8Array {
  const buf = new Uint8Array(new ArrayBuffer(28 + 8 * directives.length + 64));
  encodeHeader(header(a, Command.MacMask, tag), buf);
  return finish(buf, encodeMacMask({ mcmd, merror: 0, directives }, buf), false);
}

export function reserveFrame(a: Addr, tag: number, rcmd: number, macs: Uint8Array[] = []): Uint8Array {
  const buf = new Uint8Array(new ArrayBuffer(26 + 6 * macs.length + 64));
  encodeHeader(header(a, Command.Reserve, tag), buf);
  return finish(buf, encodeReserve({ rcmd, macs }, buf), false);
}

/** A bare header with any command / version / flags (unknown commands, version checks). */
export function rawFrame(a: Addr, tag: number, command: number, opts: { version?: number; flags?: number; extra?: number } = {}): Uint8Array {
  const buf = new Uint8Array(new ArrayBuffer(24 + (opts.extra ?? 0)));
  encodeHeader(header(a, command, tag, opts.version, opts.flags), buf);
  return buf;
}

/** A reply, decoded as far as its command allows. */
export function parseReply(frame: Uint8Array) {
  const h = decodeHeader(frame);
  const view = frame.slice();
  return {
    frame: view,
    length: frame.length,
    h: { ...h, dst: h.dst.slice() as Uint8Array, src: h.src.slice() as Uint8Array },
    ata: () => decodeAta(view),
    config: () => decodeConfig(view),
    mask: () => decodeMacMask(view),
    reserve: () => decodeReserve(view),
  };
}
export type Reply = ReturnType<typeof parseReply>;
