/**
 * Errors of the tree: Plan 9's error string (what devaoe would return, and
 * what goes in the log) with the closest errno for the FUSE reply.
 */
import type { ErrnoName } from "../fuse/vfs.ts";
import { InitiatorError } from "../initiator/request.ts";
import { CmdError } from "./cmd.ts";

export class TreeError extends Error {
  constructor(
    readonly errno: ErrnoName,
    message: string,
  ) {
    super(message);
    this.name = "TreeError";
  }
}

/** devaoe's strings. */
export const Enotup = "aoe device is down";
export const Eio = "i/o error";
export const Etimedout = "connection timed out";
export const Eperm = "permission denied";
export const Etoobig = "read or write too large";
export const Eunit = "unit lookup failure";

/** 9front's aoeerror(): the AoE error number of a reply, in words (index >= 7 is "unknown"). */
export function aoeProtocolError(n: number): string {
  const errs = [
    "unknown",
    "bad command code",
    "bad argument param",
    "device unavailable",
    "config string present",
    "unsupported version",
    "target is reserved",
  ];
  return `aoe protocol error: ${errs[n] ?? errs[0]}`;
}

/** What a failed engine request means to a reader of the tree. */
export function fromInitiator(e: unknown): TreeError {
  if (e instanceof TreeError) return e;
  if (e instanceof CmdError) return new TreeError("EINVAL", e.message);
  if (e instanceof InitiatorError) {
    switch (e.code) {
      case "deadline":
        return new TreeError("ETIMEDOUT", Etimedout);
      case "aoe":
        return new TreeError("EIO", aoeProtocolError(e.aoeError ?? 0));
      case "closed":
      case "no-path":
        return new TreeError("ENXIO", Enotup);
      default:
        return new TreeError("EIO", Eio);
    }
  }
  return new TreeError("EIO", e instanceof Error ? e.message : String(e));
}
