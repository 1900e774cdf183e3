/**
 * The management commands of one export: Query Config (the config string),
 * Mac Mask List and Reserve/Release. The Export (export.ts) dispatches to them
 * and lends them what they answer with: its addresses, counters, access control,
 * the port of the request being handled and its reply paths (a change is
 * acknowledged only once the state is saved, when the export keeps one).
 */
import {
  AOE_VERSION,
  AoEError,
  ConfigCmd,
  CONFIG_STRING_OFFSET,
  decodeConfig,
  decodeMacMask,
  decodeReserve,
  DirectiveCmd,
  encodeConfig,
  encodeHeader,
  encodeMacMask,
  encodeReserve,
  HEADER_LEN,
  MacMaskCmd,
  MAX_CONFIG_LEN,
  newFrame,
  replyHeader,
  ReserveCmd,
  type Header,
} from "../aoe/index.ts";
import { keyToMac, macKey, type AccessControl } from "./access.ts";
import type { ExportCounters } from "./counters.ts";
import type { Port } from "./port.ts";

/** Firmware version announced in Query Config replies. */
export const FIRMWARE_VERSION = 0x0001;

/** What the management commands use of their export. */
export interface ManagementHost {
  readonly shelf: number;
  readonly slot: number;
  readonly bufcnt: number;
  /** most sectors per request (the request slots' size) */
  readonly maxSectors: number;
  readonly counters: ExportCounters;
  readonly access: AccessControl;
  /** the port of the request being handled */
  readonly port: Port;
  /** a reply buffer for answers sent at once */
  readonly scratch: Uint8Array;
  /** send `out[0, end)` on the current port now */
  reply(out: Uint8Array, end: number): void;
  /** save the state (if kept), then send `out[0, end)` (built in a buffer of its own) */
  persistThenSend(out: Uint8Array, end: number): void;
  aoeError(h: Header, error: number): void;
}

export class Management {
  /** the config string */
  config: Uint8Array;

  constructor(
    private readonly x: ManagementHost,
    config: Uint8Array,
  ) {
    this.config = config.slice(0, MAX_CONFIG_LEN);
  }

  // ---- Query Config ----------------------------------------------------------

  /** Query Config: read, test, test prefix, set, force set. */
  queryConfig(h: Header, frame: Uint8Array): void {
    const q = decodeConfig(frame);
    this.x.counters.configCommands++;
    const out = this.x.scratch;
    switch (q.ccmd) {
      case ConfigCmd.Read:
        break;
      case ConfigCmd.Test:
        if (!bytesEqual(q.config, this.config)) return;
        break;
      case ConfigCmd.TestPrefix:
        if (!startsWith(this.config, q.config)) return;
        break;
      case ConfigCmd.Set:
        // vblade's rule: a set that would not change the string is no conflict
        if (this.config.length !== 0 && !bytesEqual(q.config, this.config)) {
          return this.configReply(h, q.ccmd, out, AoEError.ConfigStringPresent);
        }
        return this.setConfig(h, q.ccmd, q.config);
      case ConfigCmd.ForceSet:
        return this.setConfig(h, q.ccmd, q.config);
      default:
        return this.configReply(h, q.ccmd, out, AoEError.BadArgument);
    }
    this.configReply(h, q.ccmd, out, 0);
  }

  setConfig(h: Header, ccmd: number, config: Uint8Array): void {
    this.config = config;
    // The reply acknowledges a durable change: build it now, send it once saved.
    const out = newFrame(CONFIG_STRING_OFFSET + this.config.length);
    encodeHeader(replyHeader(h, this.x.port.mac, this.x.shelf, this.x.slot), out);
    const end = this.encodeConfigInfo(ccmd, out);
    this.x.persistThenSend(out, end);
  }

  configReply(h: Header, ccmd: number, out: Uint8Array, error: number): void {
    if (error !== 0) this.x.counters.aoeErrors++;
    encodeHeader(replyHeader(h, this.x.port.mac, this.x.shelf, this.x.slot, error), out);
    this.x.reply(out, this.encodeConfigInfo(ccmd, out));
  }

  /** The Query Config argument with this export's figures and the port's sectors per frame; returns the frame's end. */
  encodeConfigInfo(ccmd: number, out: Uint8Array): number {
    return encodeConfig(
      {
        bufferCount: this.x.bufcnt,
        firmware: FIRMWARE_VERSION,
        sectorCount: Math.min(this.x.port.maxSectors, this.x.maxSectors),
        aoeVersion: AOE_VERSION,
        ccmd,
        config: this.config,
      },
      out,
    );
  }

  // ---- Mac Mask List ---------------------------------------------------------

  /** Mac Mask List: read, or edit with directives. */
  macMask(h: Header, frame: Uint8Array): void {
    const m = decodeMacMask(frame);
    this.x.counters.maskCommands++;
    if (m.mcmd === MacMaskCmd.Read) return this.maskReply(h, this.x.scratch);
    if (m.mcmd !== MacMaskCmd.Edit) return this.x.aoeError(h, AoEError.BadArgument);
    const result = this.x.access.editMasks(m.directives.map((d) => ({ cmd: d.dcmd, mac: macKey(d.mac) })));
    const out = newFrame(HEADER_LEN + 4 + 255 * 8);
    if (result.ok) {
      encodeHeader(replyHeader(h, this.x.port.mac, this.x.shelf, this.x.slot), out);
      const end = encodeMacMask({ mcmd: m.mcmd, merror: 0, directives: this.maskDirectives() }, out);
      return this.x.persistThenSend(out, end);
    }
    // The failing directive's index in the count, the directives echoed; the ones
    // before it did apply, so the state is saved all the same.
    encodeHeader(replyHeader(h, this.x.port.mac, this.x.shelf, this.x.slot), out);
    const end = encodeMacMask({ mcmd: m.mcmd, merror: result.error, directives: m.directives, count: result.index }, out);
    this.x.persistThenSend(out, end);
  }

  maskReply(h: Header, out: Uint8Array): void {
    encodeHeader(replyHeader(h, this.x.port.mac, this.x.shelf, this.x.slot), out);
    this.x.reply(out, encodeMacMask({ mcmd: MacMaskCmd.Read, merror: 0, directives: this.maskDirectives() }, out));
  }

  maskDirectives() {
    return this.x.access.maskList.map((k) => ({ dcmd: DirectiveCmd.None, mac: keyToMac(k) }));
  }

  // ---- Reserve/Release -------------------------------------------------------

  /** Reserve/Release: read, set, force set. */
  reserve(h: Header, src: number, frame: Uint8Array): void {
    const r = decodeReserve(frame);
    this.x.counters.reserveCommands++;
    if (r.rcmd === ReserveCmd.Read) return this.reserveReply(h, r.rcmd, this.x.scratch, 0);
    if (r.rcmd !== ReserveCmd.Set && r.rcmd !== ReserveCmd.ForceSet) {
      return this.reserveReply(h, r.rcmd, this.x.scratch, AoEError.BadArgument);
    }
    const result = this.x.access.reserve(src, r.macs.map((m) => macKey(m)), r.rcmd === ReserveCmd.ForceSet);
    if (!result.ok) return this.reserveReply(h, r.rcmd, this.x.scratch, result.aoeError);
    const out = newFrame(HEADER_LEN + 2 + 255 * 6);
    encodeHeader(replyHeader(h, this.x.port.mac, this.x.shelf, this.x.slot), out);
    const end = encodeReserve({ rcmd: r.rcmd, macs: this.x.access.reservationList.map(keyToMac) }, out);
    this.x.persistThenSend(out, end);
  }

  reserveReply(h: Header, rcmd: number, out: Uint8Array, error: number): void {
    if (error !== 0) this.x.counters.aoeErrors++;
    encodeHeader(replyHeader(h, this.x.port.mac, this.x.shelf, this.x.slot, error), out);
    this.x.reply(out, encodeReserve({ rcmd, macs: this.x.access.reservationList.map(keyToMac) }, out));
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Does `s` start with `prefix`? */
function startsWith(s: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > s.length) return false;
  for (let i = 0; i < prefix.length; i++) if (s[i] !== prefix[i]) return false;
  return true;
}
