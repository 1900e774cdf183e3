/**
 * Words for what a target can answer instead of data: AoE errors (the header's
 * error byte under the E flag) and ATA failures (status and error registers).
 */
import { AoEError, AtaErrorBit, AtaStatus } from "../aoe/constants.ts";

const AOE_ERRORS: Record<number, string> = {
  [AoEError.UnrecognizedCommand]: "unrecognized command code",
  [AoEError.BadArgument]: "bad argument parameter",
  [AoEError.DeviceUnavailable]: "device unavailable",
  [AoEError.ConfigStringPresent]: "config string present",
  [AoEError.UnsupportedVersion]: "unsupported version",
  [AoEError.TargetReserved]: "target is reserved by another initiator",
};

export function aoeErrorText(error: number): string {
  return `AoE error ${error}: ${AOE_ERRORS[error] ?? "unknown"}`;
}

export function ataErrorText(status: number, error: number): string {
  const why: string[] = [];
  if (status & AtaStatus.Err) {
    if (error & AtaErrorBit.Idnf) why.push("address out of range (IDNF)");
    if (error & AtaErrorBit.Unc) why.push("uncorrectable data (UNC)");
    if (error & AtaErrorBit.Abrt) why.push("command aborted (ABRT)");
  }
  if (status & AtaStatus.Df) why.push("device fault");
  if (status & AtaStatus.Bsy) why.push("device busy");
  const hex = (v: number) => "0x" + v.toString(16).padStart(2, "0");
  return `ATA status ${hex(status)} error ${hex(error)}${why.length ? ` (${why.join(", ")})` : ""}`;
}
