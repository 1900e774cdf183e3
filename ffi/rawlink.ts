/**
 * The one raw-link interface: everything above ffi/ reaches Ethernet through it.
 * Backends: ffi/linux/packet.ts (AF_PACKET) and ffi/freebsd/bpf.ts (/dev/bpf).
 * Only ffi/ makes syscalls.
 */

/** What a link is: read once at open (refresh() re-reads MTU). */
export interface LinkInfo {
  readonly name: string;
  readonly index: number;
  /** 6 bytes */
  readonly mac: Uint8Array;
  readonly mtu: number;
}

export interface RawLinkOptions {
  /** open the link inside this named network namespace (/var/run/netns/NAME); tests and the demo use it */
  netns?: string;
  /** size the kernel receive buffer for this many full frames (vblade's -b); default 16 */
  bufferFrames?: number;
  /** most frames taken by one receive() call; default 64 */
  batch?: number;
}

export interface RawLink extends LinkInfo {
  /** pollable descriptor, for the poller */
  readonly fd: number;
  /**
   * Non-blocking: the frames waiting, up to `batch`, as views into buffers the link
   * reuses — valid only until the next receive(). Empty when nothing is waiting.
   * Only AoE (ethertype 0x88A2) frames arrive: a kernel filter drops the rest.
   */
  receive(): Uint8Array[];
  /** Send one frame; frames under 60 bytes go out zero-padded. False when the kernel had no room (dropped). */
  send(frame: Uint8Array): boolean;
  /** Send many frames in one syscall where the platform can; returns how many went out. */
  sendBatch(frames: readonly Uint8Array[]): number;
  /** Re-read the MTU (after `ip link set mtu`). */
  refresh(): void;
  close(): void;
}

/** A link could not be opened or used: code is the errno name (ENODEV, EPERM, ...). */
export class RawLinkError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "RawLinkError";
  }
}
