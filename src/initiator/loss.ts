/**
 * When a frame in flight counts as lost, and how we know (see engine.ts): its
 * resend timeout expired ("rto"), or a frame sent after it on the same path was
 * answered and it has been out longer than the round trip plus a reordering
 * allowance ("rack", the RACK idea of RFC 8985).
 */
import type { Frame } from "./request.ts";

export type Loss = "rto" | "rack";

/** Least time (ms) a frame must be out, beyond the round trip, before later replies declare it lost. */
const REORDER_MIN_MS = 1;

/** Whether the last transmission of `f` is lost by now, and how we know. */
export function lossOf(f: Frame, now: number): Loss | undefined {
  const last = f.last;
  const path = last.path;
  const age = now - last.sentAt;
  if (age >= path.rtt.timeoutMs()) return "rto";
  if (last.sentAt < path.latestAnsweredSentAt && path.rtt.samples > 0) {
    const srtt = path.rtt.srtt;
    if (age >= srtt + Math.max(REORDER_MIN_MS, srtt / 4)) return "rack";
  }
  return undefined;
}
