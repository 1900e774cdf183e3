/**
 * A relay that makes a good target look broken, for proving that
 * peers.test.ts's checks can fail. It forwards every frame between two raw
 * links (the middle namespace of test/helpers/impair-relay.ts's makeRelayWorld)
 * and breaks them in one way:
 *
 *   ip netns exec NS bun test/interop/broken-relay.ts IF_TARGET IF_INITIATOR MODE
 *
 *   pass                  forward everything unchanged
 *   retag-reply:N         the Nth ATA reply towards the initiator gets bit 30 of
 *                         its tag flipped (bit 31 stays set, and the tag is far
 *                         from every outstanding one, so no other request can
 *                         claim it): a reply to a request nobody sent
 *   drop-write-replies    every reply to an ATA write is dropped (the data still
 *                         reaches the target: only the acknowledgement is lost)
 *   corrupt-write:N       every Nth ATA write request has the last byte of its
 *                         data flipped on its way to the target
 *
 * Prints "ready" once both links are open, and its counters as JSON when
 * SIGTERM or SIGINT stops it.
 */
import { openRawLink, type RawLink } from "../../ffi/rawlink.ts";
import { EventLoop } from "../../src/net/loop.ts";

const AOE_TYPE = 0x88a2;
/** offsets in the frame: Ethernet header 14 bytes, then the AoE header */
const VER_FLAGS = 14;
const COMMAND = 19;
const TAG = 20;
const AFLAGS = 24;
const ATA_DATA = 36;
const RESPONSE = 0x08;
const WRITE = 0x01;

export type Mode = { kind: "pass" } | { kind: "retag-reply"; n: number } | { kind: "drop-write-replies" } | { kind: "corrupt-write"; n: number };

export function parseMode(s: string): Mode {
  const [kind, arg] = s.split(":");
  const n = Number(arg);
  if (kind === "pass" || kind === "drop-write-replies") return { kind };
  if ((kind === "retag-reply" || kind === "corrupt-write") && Number.isInteger(n) && n > 0) return { kind, n };
  throw new Error(`mode "${s}": pass, retag-reply:N, drop-write-replies or corrupt-write:N`);
}

export interface BreakCounters {
  toTarget: number;
  toInitiator: number;
  retagged: number;
  dropped: number;
  corrupted: number;
}

/**
 * What to do with a frame going to the target (`towardsTarget`) or to the
 * initiator: the frame to send (possibly changed), or undefined to drop it.
 * `frame` is the relay's own copy.
 */
export function breaker(mode: Mode): { counters: BreakCounters; pass(frame: Uint8Array, towardsTarget: boolean): Uint8Array | undefined } {
  const counters: BreakCounters = { toTarget: 0, toInitiator: 0, retagged: 0, dropped: 0, corrupted: 0 };
  const writeTags = new Set<number>();
  let ataReplies = 0;
  let writes = 0;
  const view = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset, f.byteLength);
  return {
    counters,
    pass(frame, towardsTarget) {
      const isAta = frame.length >= ATA_DATA && view(frame).getUint16(12) === AOE_TYPE && frame[COMMAND] === 0;
      const isReply = isAta && (frame[VER_FLAGS]! & RESPONSE) !== 0;
      if (towardsTarget) {
        counters.toTarget++;
        if (isAta && !isReply && (frame[AFLAGS]! & WRITE) !== 0) {
          writeTags.add(view(frame).getUint32(TAG));
          writes++;
          if (mode.kind === "corrupt-write" && writes % mode.n === 0 && frame.length > ATA_DATA) {
            frame[frame.length - 1]! ^= 0xff;
            counters.corrupted++;
          }
        }
        return frame;
      }
      counters.toInitiator++;
      if (!isReply) return frame;
      const tag = view(frame).getUint32(TAG);
      if (mode.kind === "drop-write-replies" && writeTags.has(tag)) {
        counters.dropped++;
        return undefined;
      }
      if (mode.kind === "retag-reply" && ++ataReplies === mode.n) {
        view(frame).setUint32(TAG, (tag ^ 0x4000_0000) >>> 0);
        counters.retagged++;
      }
      return frame;
    },
  };
}

if (import.meta.main) {
  const [toTarget, toInitiator, modeArg] = process.argv.slice(2);
  if (!toTarget || !toInitiator || !modeArg) {
    process.stderr.write("usage: broken-relay.ts IF_TARGET IF_INITIATOR MODE (pass, retag-reply:N, drop-write-replies, corrupt-write:N)\n");
    process.exit(2);
  }
  const b = breaker(parseMode(modeArg));
  const t: RawLink = openRawLink(toTarget, { bufferFrames: 4096 });
  const i: RawLink = openRawLink(toInitiator, { bufferFrames: 4096 });
  const loop = new EventLoop();
  const forward = (out: RawLink, towardsTarget: boolean) => (frame: Uint8Array) => {
    const copy = new Uint8Array(new ArrayBuffer(frame.length));
    copy.set(frame);
    const f = b.pass(copy, towardsTarget);
    if (f) loop.queueSend(out, f);
  };
  loop.attach(t, forward(i, false));
  loop.attach(i, forward(t, true));
  const stop = () => {
    process.stdout.write(JSON.stringify(b.counters) + "\n");
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdout.write("ready\n");
}
