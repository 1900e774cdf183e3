/**
 * Where an export's replies go: one per link the export serves on. `aoede serve`
 * has one (its link); the daemon gives an export one per interface it is attached
 * to. A reply leaves on the port its request came in on, from that port's MAC, and
 * Query Config advertises that port's sectors per frame (its MTU's).
 */

/** Sends one frame; the buffer may be reused as soon as it returns. */
export type SendFrame = (frame: Uint8Array) => void;
/** Sends frames in one go (sendmmsg); the buffers may be reused as soon as it returns. */
export type SendFrames = (frames: Uint8Array[]) => void;

export interface Port {
  /** our MAC on the link (6 bytes; replies come from it) */
  readonly mac: Uint8Array;
  /** `mac` as a 48-bit key (access.ts macKey) */
  readonly macKey: number;
  /** sectors per ATA request this link carries (from its MTU), advertised in Query Config */
  readonly maxSectors: number;
  readonly send: SendFrame;
  readonly sendBatch: SendFrames;
}
