/**
 * ATA command execution for an exported device: decide what an AoE ATA request
 * asks for. Pure: storage transfers are returned as plans for the dispatcher to
 * run asynchronously; everything else is answered on the spot.
 *
 * The rules (shared/notes/aoe-protocol.md):
 * - READ/WRITE SECTORS use 28-bit addresses, masked to 28 bits (Linux puts 0xE0 in
 *   the top nibble of lba3); the EXT forms use all 48 bits.
 * - More sectors than the advertised maximum, or a write whose payload is shorter
 *   than its sector count: AoE error 2 (bad argument), not an ATA error.
 * - Past the end of the device: ATA ERR with IDNF.
 * - IDENTIFY DEVICE returns one sector; CHECK POWER MODE says "active" (0xFF);
 *   FLUSH CACHE (EXT) is a real fdatasync; anything else is ERR with ABRT.
 */
import { AoEError, AtaCmd, AtaErrorBit, AtaStatus, SECTOR_SIZE, type AtaArg } from "../aoe/index.ts";

export const LBA28_MASK = 0x0fffffff;

/** Status of a successful command. */
export const STATUS_OK: number = AtaStatus.Drdy;
/** Status of a failed one: the error register says why. */
export const STATUS_ERR: number = AtaStatus.Drdy | AtaStatus.Err;

/** CHECK POWER MODE's sector count for "active or idle". */
export const POWER_ACTIVE = 0xff;

export type AtaPlan =
  /** read `count` sectors at `lba` into the reply */
  | { kind: "read"; lba: number; count: number }
  /** write the request's first `count` sectors of data at `lba` */
  | { kind: "write"; lba: number; count: number }
  /** fdatasync, then reply */
  | { kind: "flush" }
  /** reply now with these ATA registers (and data, for IDENTIFY) */
  | { kind: "reply"; status: number; error: number; sectorCount: number; data?: Uint8Array }
  /** reply now with this AoE error */
  | { kind: "aoeError"; error: AoEError };

export interface AtaDevice {
  /** sectors exported */
  readonly sectors: number;
  readonly readOnly: boolean;
  /** most sectors one request may carry (from the MTU) */
  readonly maxSectors: number;
  /** the IDENTIFY DEVICE sector, built once */
  readonly identify: Uint8Array;
}

const abort = (sectorCount: number): AtaPlan => ({ kind: "reply", status: STATUS_ERR, error: AtaErrorBit.Abrt, sectorCount });

/**
 * What to do for this request. `payload` is the number of data bytes the frame
 * carries after the ATA argument (the frame may be padded: count decides).
 */
export function planAta(dev: AtaDevice, arg: AtaArg, payload: number): AtaPlan {
  switch (arg.cmdStatus) {
    case AtaCmd.Read:
      return transfer(dev, "read", arg.lba & LBA28_MASK, arg.sectorCount, payload);
    case AtaCmd.ReadExt:
      return transfer(dev, "read", arg.lba, arg.sectorCount, payload);
    case AtaCmd.Write:
      return transfer(dev, "write", arg.lba & LBA28_MASK, arg.sectorCount, payload);
    case AtaCmd.WriteExt:
      return transfer(dev, "write", arg.lba, arg.sectorCount, payload);
    case AtaCmd.Identify:
      return { kind: "reply", status: STATUS_OK, error: 0, sectorCount: arg.sectorCount, data: dev.identify };
    case AtaCmd.CheckPower:
      return { kind: "reply", status: STATUS_OK, error: 0, sectorCount: POWER_ACTIVE };
    case AtaCmd.Flush:
    case AtaCmd.FlushExt:
      return { kind: "flush" };
    default:
      return abort(arg.sectorCount);
  }
}

function transfer(dev: AtaDevice, kind: "read" | "write", lba: number, count: number, payload: number): AtaPlan {
  if (count > dev.maxSectors) return { kind: "aoeError", error: AoEError.BadArgument };
  if (kind === "write") {
    if (payload < count * SECTOR_SIZE) return { kind: "aoeError", error: AoEError.BadArgument };
    if (dev.readOnly) return abort(count);
  }
  if (lba + count > dev.sectors) return { kind: "reply", status: STATUS_ERR, error: AtaErrorBit.Idnf, sectorCount: count };
  return { kind, lba, count };
}

/**
 * The ATA error register for a transfer the storage failed: a read that met a bad
 * medium (EIO) is UNC, as a disk reports an unreadable sector; anything else (a
 * full file system, a read-only one, a device that went away) ABRT.
 */
export function ioErrorBits(isRead: boolean, err: NodeJS.ErrnoException): number {
  return isRead && err.code === "EIO" ? AtaErrorBit.Unc : AtaErrorBit.Abrt;
}
