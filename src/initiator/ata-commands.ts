/**
 * The one-frame ATA commands the engine sends outside copies: IDENTIFY DEVICE
 * and FLUSH CACHE (EXT). Each is a CommandSpec: how to encode the request and
 * how to read the reply; the engine sends, resends and times them like any frame.
 */
import { AtaCmd, AtaErrorBit, AtaFlag, AtaStatus, Command, SECTOR_SIZE } from "../aoe/constants.ts";
import { decodeAta, encodeAta } from "../aoe/ata.ts";
import { ataErrorText } from "./errors.ts";
import { IGNORE, InitiatorError, type CommandSpec } from "./request.ts";
import type { Target } from "./target.ts";

/** IDENTIFY DEVICE (0xEC): resolves with the 512 bytes. */
export function identifySpec(t: Target): CommandSpec<Uint8Array> {
  return {
    command: Command.ATA,
    encode: (out) =>
      encodeAta({ aflags: 0, errFeature: 0, sectorCount: 1, cmdStatus: AtaCmd.Identify, lba: 0xa0 * 2 ** 24 }, out),
    accept: (reply) => {
      const a = decodeAta(reply);
      if (a.cmdStatus & AtaStatus.failureMask) {
        throw new InitiatorError("ata", `${t.name}: IDENTIFY failed: ${ataErrorText(a.cmdStatus, a.errFeature)}`);
      }
      if (a.data.length < SECTOR_SIZE) return IGNORE; // runt: wait for the resend
      return a.data.slice(0, SECTOR_SIZE);
    },
  };
}

/**
 * FLUSH CACHE (EXT on LBA48 devices): written data is on stable storage when
 * it answers. Resolves false when the target aborts it (does not support it).
 */
export function flushSpec(t: Target): CommandSpec<boolean> {
  const ext = t.identify?.flushExt ?? false;
  return {
    command: Command.ATA,
    encode: (out) =>
      encodeAta(
        { aflags: ext ? AtaFlag.Ext : 0, errFeature: 0, sectorCount: 0, cmdStatus: ext ? AtaCmd.FlushExt : AtaCmd.Flush, lba: ext ? 0 : 0xe0 * 2 ** 24 },
        out,
      ),
    accept: (reply) => {
      const a = decodeAta(reply);
      if (a.cmdStatus & AtaStatus.failureMask) {
        if (a.cmdStatus & AtaStatus.Err && a.errFeature & AtaErrorBit.Abrt) return false;
        throw new InitiatorError("ata", `${t.name}: FLUSH CACHE failed: ${ataErrorText(a.cmdStatus, a.errFeature)}`);
      }
      return true;
    },
  };
}
