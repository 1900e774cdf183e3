/**
 * What every backend does the same way when it sends: pad short frames with
 * zeroes, and tell a frame the kernel had no room for (dropped and counted; AoE
 * retransmits) from a frame it refused as wrong (an error).
 */
import { Errno } from "./errno.ts";
import { RawLinkError } from "./errors.ts";
import type { LinkStats } from "./rawlink.ts";

/** Ethernet's minimum frame (without FCS). veth and tap do not pad: we must. */
export const MIN_FRAME = 60;

const TRANSIENT = new Set([Errno.EAGAIN, Errno.ENOBUFS, Errno.EINTR, Errno.ENETDOWN, Errno.ENXIO, Errno.ENODEV]);

/** No room or no link right now: the rest of a batch would fail alike. */
export function isTransientSendError(errno: number): boolean {
  return TRANSIENT.has(errno);
}

/**
 * `frame` copied into `into` (at least MIN_FRAME bytes, an FFI buffer) with the
 * rest zeroed; returns the MIN_FRAME-byte view to send.
 */
export function zeroPadded(frame: Uint8Array, into: Uint8Array): Uint8Array {
  const out = into.subarray(0, MIN_FRAME);
  out.set(frame);
  out.fill(0, frame.length);
  return out;
}

/** After a failed send: count a transient failure, throw anything else. */
export function noteSendFailure(stats: LinkStats, link: string, e: { errno: number; code: string; text: string }): void {
  if (!TRANSIENT.has(e.errno)) throw new RawLinkError(e.code, `send on ${link} failed: ${e.text}`);
  stats.sendDropped++;
  stats.lastError = e.code;
}
