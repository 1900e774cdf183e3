/**
 * The one raw-link interface: everything above ffi/ reaches Ethernet through it.
 * Backends: ffi/linux/packet.ts (AF_PACKET) and ffi/freebsd/bpf.ts (/dev/bpf).
 * Only ffi/ makes syscalls.
 */
import { RawLinkError } from "./errors.ts";
import { BpfLink } from "./freebsd/bpf.ts";
import { listEthernetInterfaces as listFreeBSD } from "./freebsd/interfaces.ts";
import { listEthernetInterfaces as listLinux, type EthernetInterface } from "./linux/interfaces.ts";
import { PacketLink } from "./linux/packet.ts";

export { RawLinkError };
export type { EthernetInterface };

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
  /**
   * Linux: drop frames this socket's own host sends on the interface (PACKET_IGNORE_OUTGOING);
   * default true. Two links of one process on one interface then do not see each other:
   * share one link through the event loop instead.
   */
  ignoreOutgoing?: boolean;
}

/** Counters of one link since it was opened. */
export interface LinkStats {
  /** frames handed out by receive() */
  received: number;
  /** frames longer than a receive slot (MTU raised without refresh()), dropped */
  truncated: number;
  /** frames the kernel accepted for sending */
  sent: number;
  /** frames the kernel had no room for (EAGAIN, ENOBUFS) or could not send (ENETDOWN, ENXIO) */
  sendDropped: number;
  /** failed receive calls other than "nothing waiting" */
  receiveErrors: number;
  /** errno name of the last failure, if any */
  lastError: string | undefined;
}

export interface RawLink extends LinkInfo {
  /** false after close() */
  readonly open: boolean;
  /** pollable descriptor, for the poller */
  readonly fd: number;
  /**
   * Non-blocking: the frames waiting, up to `batch`, as views into buffers the link
   * reuses — valid only until the next receive(). Empty when nothing is waiting.
   * Only AoE (ethertype 0x88A2) frames arrive: a kernel filter drops the rest.
   */
  receive(): Uint8Array[];
  /**
   * Most frames one receive() call returns (the `batch` option). A call that took
   * fewer found the socket empty, so the loop need not ask again in this round.
   * 0: ask until receive() returns nothing. A link whose empty receive() costs no
   * syscall (the Linux ring) says so, and needs it: each receive() hands the previous
   * batch's ring slots back, so the last batch goes back only with the receive()
   * that finds nothing, and until then poll() keeps reporting the descriptor ready.
   * (Absent, src/net/loop.ts takes one receive() per wake.)
   */
  readonly batchSize?: number;
  /** Send one frame; frames under 60 bytes go out zero-padded. False when the kernel had no room (dropped). */
  send(frame: Uint8Array): boolean;
  /**
   * Send many frames in one syscall where the platform can; returns how many went out.
   * Never throws for one bad frame (EMSGSIZE...): it is skipped and counted in
   * stats.sendDropped with stats.lastError, and the others still go out. When the
   * kernel has no room (EAGAIN, ENOBUFS) the rest of the call is dropped likewise.
   */
  sendBatch(frames: readonly Uint8Array[]): number;
  /** Re-read the MTU (after `ip link set mtu`) and re-size the receive slots to it. */
  refresh(): void;
  readonly stats: Readonly<LinkStats>;
  /** Frames the kernel dropped for want of receive-buffer room (or a free ring slot) since open (cumulative). */
  kernelDrops(): number;
  /** Call `cb` once when the link closes (the loop uses it to stop polling); returns the unsubscribe function. */
  onClose?(cb: () => void): () => void;
  close(): void;
}


/**
 * Open the raw link on interface `name` with the backend of this platform.
 * Throws RawLinkError (ENODEV no such interface, EPERM not root, ENETDOWN down...).
 */
export function openRawLink(name: string, opts: RawLinkOptions = {}): RawLink {
  switch (process.platform) {
    case "linux":
      return PacketLink.open(name, opts);
    case "freebsd":
      // UNVERIFIED on a FreeBSD kernel: see ffi/freebsd/bpf.ts
      return BpfLink.open(name, opts);
    default:
      throw new RawLinkError("EOPNOTSUPP", `raw Ethernet is not supported on ${process.platform}`);
  }
}

/**
 * Ethernet interfaces that are up (not loopback), for the initiator's default.
 * `netns` (Linux): list the interfaces of that named namespace instead.
 */
export function listEthernetInterfaces(opts: { netns?: string } = {}): EthernetInterface[] {
  switch (process.platform) {
    case "linux":
      return listLinux(opts);
    case "freebsd":
      if (opts.netns !== undefined) throw new RawLinkError("EOPNOTSUPP", "network namespaces are Linux only");
      return listFreeBSD();
    default:
      throw new RawLinkError("EOPNOTSUPP", `raw Ethernet is not supported on ${process.platform}`);
  }
}
