/**
 * The management commands: Query Config (read, test, test prefix, set, force
 * set), Mac Mask List (read, edit) and Reserve/Release (read, set, force set),
 * each one frame to the target and its reply, through the engine so that they
 * are resent and timed like any other frame.
 */
import { Command } from "../aoe/constants.ts";
import { ConfigCmd, decodeConfig, encodeConfig } from "../aoe/config.ts";
import { decodeMacMask, encodeMacMask, DirectiveCmd, MacMaskCmd, MacMaskError, type Directive } from "../aoe/macmask.ts";
import { decodeReserve, encodeReserve, ReserveCmd } from "../aoe/reserve.ts";
import { Flag } from "../aoe/constants.ts";
import type { Initiator } from "./engine.ts";
import { aoeErrorText } from "./errors.ts";
import { InitiatorError } from "./request.ts";
import type { Target } from "./target.ts";

export interface ConfigResult {
  /** the target's config string after the command */
  config: Uint8Array;
  /** AoE error in the reply (4: a set on a target whose string is not empty) */
  error?: number;
}

/**
 * Sends a Query Config command to the target. For Test and TestPrefix a target
 * whose string does not match stays silent: after `silenceMs` the result is
 * undefined ("no match") rather than an error.
 */
export function queryConfig(
  ini: Initiator,
  t: Target,
  ccmd: number,
  text: Uint8Array = new Uint8Array(0),
  silenceMs = 1000,
): Promise<ConfigResult | undefined> {
  const silentOnMismatch = ccmd === ConfigCmd.Test || ccmd === ConfigCmd.TestPrefix;
  return ini.command<ConfigResult | undefined>(t, {
    command: Command.QueryConfig,
    encode: (out) =>
      encodeConfig({ bufferCount: 0, firmware: 0, sectorCount: 0, aoeVersion: 1, ccmd, config: text }, out),
    accept: (reply, h) => {
      const qc = decodeConfig(reply);
      if (h.flags & Flag.Error) return { config: qc.config, error: h.error };
      return { config: qc.config };
    },
    ...(silentOnMismatch ? { deadlineMs: silenceMs, onDeadline: () => undefined } : {}),
  });
}

export interface MaskResult {
  /** the list after the command (on success) */
  macs: Uint8Array[];
  /** MError on failure: 1 unspecified, 2 bad directive, 3 list full */
  merror: number;
  /** with merror, the index of the directive that failed */
  failedAt?: number;
}

/** Reads the Mac Mask list (no directives) or edits it (adds and deletes, applied in order). */
export function macMask(ini: Initiator, t: Target, edits: Directive[] = []): Promise<MaskResult> {
  const mcmd = edits.length > 0 ? MacMaskCmd.Edit : MacMaskCmd.Read;
  return ini.command<MaskResult>(t, {
    command: Command.MacMask,
    encode: (out) => encodeMacMask({ mcmd, merror: 0, directives: edits }, out),
    accept: (reply, h) => {
      if (h.flags & Flag.Error) throw new InitiatorError("aoe", `${t.name}: Mac Mask: ${aoeErrorText(h.error)}`);
      const m = decodeMacMask(reply);
      if (m.merror !== 0) return { macs: [], merror: m.merror, failedAt: m.count };
      return { macs: m.directives.map((d) => d.mac), merror: 0 };
    },
  });
}

export function maskErrorText(merror: number): string {
  switch (merror) {
    case MacMaskError.Unspecified:
      return "unspecified error";
    case MacMaskError.BadDirective:
      return "bad directive";
    case MacMaskError.ListFull:
      return "the list is full";
    default:
      return `error ${merror}`;
  }
}

export { DirectiveCmd };

export interface ReserveResult {
  /** the reserve list in the reply (the current one) */
  macs: Uint8Array[];
  /** AoE error (6: reserved by another initiator) */
  error?: number;
}

/** Reads (rcmd Read), sets (Set: only if free or ours) or force-sets the reserve list; an empty list releases. */
export function reserve(ini: Initiator, t: Target, rcmd: number, macs: Uint8Array[] = []): Promise<ReserveResult> {
  return ini.command<ReserveResult>(t, {
    command: Command.Reserve,
    encode: (out) => encodeReserve({ rcmd, macs }, out),
    accept: (reply, h) => {
      let list: Uint8Array[] = [];
      try {
        list = decodeReserve(reply).macs;
      } catch {
        // error replies may carry no list
      }
      if (h.flags & Flag.Error) return { macs: list, error: h.error };
      return { macs: list };
    },
  });
}

export { ReserveCmd, ConfigCmd };
