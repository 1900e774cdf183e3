/**
 * The Linux backend of RawLink: an AF_PACKET SOCK_RAW socket bound to one interface
 * and to ethertype 0x88A2, non-blocking, fed with sendmmsg. Frames are received from
 * a TPACKET_V2 ring read in place (linux/rxring.ts), or with recvmmsg into buffers
 * of our own when the ring cannot be had (old kernel, ENOMEM) or is turned off
 * (option rxRing: false, or AOEDE_RX_RING=0 in the environment).
 */
import { CloseListeners } from "../close-listeners.ts";
import { ptr } from "bun:ffi";
import { encodeProgram, ethertypeFilter, programHeader } from "../bpf-filter.ts";
import { Errno } from "../errno.ts";
import { lastError, libc } from "../libc.ts";
import { RawLinkError } from "../errors.ts";
import { isTransientSendError, MIN_FRAME, noteSendFailure, zeroPadded } from "../send-rules.ts";
import type { LinkStats, RawLink, RawLinkOptions } from "../rawlink.ts";
import {
  ARPHRD_ETHER,
  IFF_UP,
  interfaceFlags,
  interfaceHwaddr,
  interfaceIndex,
  interfaceMtu,
} from "./ifreq.ts";
import { MMSGHDR_LEN, MmsgArray } from "./mmsg.ts";
import { withNetns } from "./netns.ts";
import { RxRing, ringFramesFor } from "./rxring.ts";

export const ETHERTYPE_AOE = 0x88a2;
const ETH_HLEN = 14;
const VLAN_TAG_LEN = 4;

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0x800;
const SOCK_CLOEXEC = 0x80000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_ATTACH_FILTER = 26;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const SOL_PACKET = 263;
const PACKET_STATISTICS = 6;
const PACKET_IGNORE_OUTGOING = 23;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const SOCKADDR_LL_LEN = 20;

/**
 * The note measured the default 208 KiB receive buffer overflowing within a
 * millisecond under load, and 93 % delivery with 4 MiB: never go below that.
 */
const MIN_SOCKET_BUFFER = 4 << 20;
/** Kernel bookkeeping per queued frame (skb truesize beyond the data), roughly. */
const SKB_OVERHEAD = 768;
/** Most frames one sendmmsg call carries (the kernel caps at UIO_MAXIOV = 1024). */
const SEND_CHUNK = 64;

/** Errors that mean "this frame did not go out now", not "the program is wrong". */

function setIntOption(fd: number, level: number, name: number, value: number): boolean {
  const v = new Int32Array(new ArrayBuffer(4));
  v[0] = value;
  return libc.setsockopt(fd, level, name, v, 4) === 0;
}

function getIntOption(fd: number, level: number, name: number): number {
  const v = new Int32Array(new ArrayBuffer(4));
  const len = new Uint32Array(new ArrayBuffer(4));
  len[0] = 4;
  return libc.getsockopt(fd, level, name, v, len) === 0 ? v[0]! : -1;
}

/** SO_*BUFFORCE (root, beyond net.core.*mem_max), else the capped SO_*BUF. */
function sizeSocketBuffer(fd: number, force: number, plain: number, bytes: number): void {
  if (!setIntOption(fd, SOL_SOCKET, force, bytes)) setIntOption(fd, SOL_SOCKET, plain, bytes);
}

function attachAoeFilter(fd: number): void {
  const code = encodeProgram(ethertypeFilter(ETHERTYPE_AOE));
  const header = programHeader(code);
  const ok = libc.setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, header, header.length) === 0;
  void code; // referenced until here: the kernel copied the program during the call
  if (!ok) {
    const e = lastError();
    throw new RawLinkError(e.code, `cannot attach the AoE packet filter: ${e.text}`);
  }
}

function openSocket(): number {
  // Protocol 0 here: the socket receives nothing until bind() names the interface
  // and the ethertype, so no frame of another interface slips in between.
  const fd = libc.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const e = lastError();
    if (e.code === "EPERM" || e.code === "EACCES") {
      throw new RawLinkError(e.code, "raw Ethernet needs root or CAP_NET_RAW");
    }
    throw new RawLinkError(e.code, `cannot open a packet socket: ${e.text}`);
  }
  return fd;
}

function bindTo(fd: number, ifindex: number, name: string, protocol: number): void {
  const sll = new Uint8Array(new ArrayBuffer(SOCKADDR_LL_LEN));
  const dv = new DataView(sll.buffer);
  dv.setUint16(0, AF_PACKET, true);
  dv.setUint16(2, protocol, false);
  dv.setInt32(4, ifindex, true);
  if (libc.bind(fd, sll, SOCKADDR_LL_LEN) !== 0) {
    const e = lastError();
    throw new RawLinkError(e.code, `cannot bind to ${name}: ${e.text}`);
  }
}

/** Receive slot size for an MTU: the whole frame, a VLAN tag's headroom, 64-byte aligned. */
export function slotSizeFor(mtu: number): number {
  return (mtu + ETH_HLEN + VLAN_TAG_LEN + 63) & ~63;
}

/** Linux-only extras, for tests and diagnostics. */
export interface PacketLinkOptions extends RawLinkOptions {
  /** ethertype to bind to (host order); default 0x88A2. ETH_P_ALL (3) sees every frame. */
  protocol?: number;
  /** attach the AoE-only BPF filter; default true */
  filter?: boolean;
  /**
   * receive through a TPACKET_V2 ring (falling back to recvmmsg if the kernel refuses
   * it); default true unless the environment has AOEDE_RX_RING=0
   */
  rxRing?: boolean;
  /** ring slots; default from the MTU and bufferFrames (linux/rxring.ts ringFramesFor) */
  rxRingFrames?: number;
  /** ring: reuse one view per slot while frame lengths repeat; default true (false: a subarray per frame) */
  rxRingReuseViews?: boolean;
}

/** How a link receives: the mmap'd ring, or recvmmsg copies. */
export type ReceiveMode = "ring" | "recvmmsg";

/** The ring unless the caller or AOEDE_RX_RING=0 says no. */
function wantsRing(opts: PacketLinkOptions): boolean {
  return opts.rxRing ?? process.env.AOEDE_RX_RING !== "0";
}

export const ETH_P_ALL = 3;

export class PacketLink implements RawLink {
  readonly stats: LinkStats = {
    received: 0,
    truncated: 0,
    sent: 0,
    sendDropped: 0,
    receiveErrors: 0,
    lastError: undefined,
  };

  #fd: number;
  #mtu: number;
  #kernelDrops = 0;
  readonly #batch: number;
  readonly #bufferFrames: number;
  readonly #ringOpts: { frames?: number; reuseViews?: boolean } | undefined;
  /** the receive ring; undefined: recvmmsg */
  #ring: RxRing | undefined;
  /** why the ring was not used, when it was wanted */
  #ringError: RawLinkError | undefined;

  // Receive side: one ArrayBuffer cut into slots; the mmsghdr array points into it.
  #slotSize = 0;
  #slots!: Uint8Array;
  #recvMsgs!: MmsgArray;
  /** reused result array: receive() hands out views valid until the next call */
  readonly #frames: Uint8Array[] = [];

  // Send side.
  readonly #sendMsgs = new MmsgArray(SEND_CHUNK);
  /** zeroed 60-byte buffers for short frames, one per message of a sendmmsg call */
  readonly #pad = new Uint8Array(new ArrayBuffer(MIN_FRAME * SEND_CHUNK));
  readonly #padAddress = ptr(this.#pad);
  /** keeps the frames of the sendmmsg in flight referenced (pitfall 2) */
  readonly #sending: Uint8Array[] = [];

  private constructor(
    readonly name: string,
    fd: number,
    readonly index: number,
    readonly mac: Uint8Array,
    mtu: number,
    opts: PacketLinkOptions,
  ) {
    this.#fd = fd;
    this.#mtu = mtu;
    this.#batch = Math.max(1, opts.batch ?? 64);
    this.#bufferFrames = Math.max(2, opts.bufferFrames ?? 16);
    this.#ringOpts = wantsRing(opts) ? { frames: opts.rxRingFrames, reuseViews: opts.rxRingReuseViews } : undefined;
    this.#layoutReceive();
  }

  /** Open `name` (inside `opts.netns` if given). Throws RawLinkError. */
  static open(name: string, opts: PacketLinkOptions = {}): PacketLink {
    return withNetns(opts.netns, () => {
      const fd = openSocket();
      let link: PacketLink | undefined;
      try {
        const index = interfaceIndex(fd, name);
        const { hatype, mac } = interfaceHwaddr(fd, name);
        if (hatype !== ARPHRD_ETHER) {
          throw new RawLinkError("EINVAL", `${name} is not an Ethernet interface (hardware type ${hatype})`);
        }
        if ((interfaceFlags(fd, name) & IFF_UP) === 0) {
          throw new RawLinkError("ENETDOWN", `interface ${name} is down; bring it up with "ip link set ${name} up"`);
        }
        const mtu = interfaceMtu(fd, name);
        if (opts.filter ?? true) attachAoeFilter(fd);
        if (opts.ignoreOutgoing ?? true) {
          // Best effort: kernels before 4.20 lack it, and then we only see other
          // sockets' outgoing frames, which handlers must tolerate anyway.
          setIntOption(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
        }
        link = new PacketLink(name, fd, index, mac, mtu, opts);
        link.#sizeBuffers();
        bindTo(fd, index, name, opts.protocol ?? ETHERTYPE_AOE);
        return link;
      } catch (e) {
        // the link, once made, owns a mapped ring: its close() unmaps it too
        if (link) link.close();
        else libc.close(fd);
        throw e;
      }
    });
  }

  /**
   * recvmmsg: the batch size, so that the loop stops after a short batch (asking
   * again costs a syscall). Ring: 0, so that the loop asks until receive() returns
   * nothing — free with a ring, and it hands the last batch's slots back to the
   * kernel before the poller polls again (a held slot keeps POLLIN raised).
   */
  get batchSize(): number {
    return this.#ring ? 0 : this.#batch;
  }

  /** "ring" when frames are read in place from the TPACKET_V2 ring, else "recvmmsg". */
  get receiveMode(): ReceiveMode {
    return this.#ring ? "ring" : "recvmmsg";
  }

  /** Why the ring was wanted but not set up (the link then uses recvmmsg). */
  get ringError(): RawLinkError | undefined {
    return this.#ringError;
  }

  /** The ring's shape (slot size, count, bytes mapped), when there is one. */
  get ring(): RxRing | undefined {
    return this.#ring;
  }

  get fd(): number {
    return this.#fd;
  }
  get mtu(): number {
    return this.#mtu;
  }
  get open(): boolean {
    return this.#fd >= 0;
  }

  /** Bytes the kernel grants this socket for receiving (after its doubling). */
  get receiveBufferBytes(): number {
    return getIntOption(this.#fd, SOL_SOCKET, SO_RCVBUF);
  }

  #layoutReceive(): void {
    if (this.#ringOpts) {
      try {
        this.#ring = RxRing.attach(this.#fd, this.#mtu, {
          frames: this.#ringOpts.frames ?? ringFramesFor(this.#mtu, this.#bufferFrames),
          batch: this.#batch,
          reuseViews: this.#ringOpts.reuseViews,
        });
        this.#ringError = undefined;
        return;
      } catch (e) {
        if (!(e instanceof RawLinkError)) throw e;
        this.#ringError = e; // recvmmsg below
      }
    }
    this.#slotSize = slotSizeFor(this.#mtu);
    this.#slots = new Uint8Array(new ArrayBuffer(this.#slotSize * this.#batch));
    this.#recvMsgs = new MmsgArray(this.#batch);
    const base = ptr(this.#slots);
    for (let i = 0; i < this.#batch; i++) this.#recvMsgs.setBuffer(i, base + i * this.#slotSize, this.#slotSize);
  }

  #sizeBuffers(): void {
    const bytes = Math.max(MIN_SOCKET_BUFFER, this.#bufferFrames * (this.#mtu + ETH_HLEN + SKB_OVERHEAD));
    sizeSocketBuffer(this.#fd, SO_RCVBUFFORCE, SO_RCVBUF, bytes);
    sizeSocketBuffer(this.#fd, SO_SNDBUFFORCE, SO_SNDBUF, bytes);
  }

  receive(): Uint8Array[] {
    const ring = this.#ring;
    if (ring) {
      const truncated = ring.truncated;
      const got = ring.receive();
      this.stats.received += got.length;
      this.stats.truncated += ring.truncated - truncated;
      return got;
    }
    const frames = this.#frames;
    frames.length = 0;
    if (this.#fd < 0) return frames;
    const n = libc.recvmmsg(this.#fd, this.#recvMsgs.headers, this.#batch, MSG_DONTWAIT, null);
    if (n <= 0) {
      if (n < 0) {
        const e = lastError();
        if (e.errno !== Errno.EAGAIN && e.errno !== Errno.EINTR) {
          this.stats.receiveErrors++;
          this.stats.lastError = e.code;
        }
      }
      return frames;
    }
    const msgs = this.#recvMsgs;
    const slots = this.#slots;
    const size = this.#slotSize;
    for (let i = 0; i < n; i++) {
      if ((msgs.flags(i) & MSG_TRUNC) !== 0) {
        this.stats.truncated++;
        continue;
      }
      const start = i * size;
      frames.push(slots.subarray(start, start + msgs.length(i)));
    }
    this.stats.received += frames.length;
    return frames;
  }

  send(frame: Uint8Array): boolean {
    if (this.#fd < 0) throw new RawLinkError("EBADF", `link ${this.name} is closed`);
    const buf = frame.length < MIN_FRAME ? zeroPadded(frame, this.#pad) : frame;
    const len = buf.length;
    // The typed array is passed as the argument: Bun takes its address at call
    // time, so even a small, engine-owned array is safe here.
    if (libc.sendto(this.#fd, buf, len, 0, null, 0) === len) {
      this.stats.sent++;
      return true;
    }
    this.#sendFailed();
    return false;
  }

  sendBatch(frames: readonly Uint8Array[]): number {
    if (this.#fd < 0) throw new RawLinkError("EBADF", `link ${this.name} is closed`);
    let done = 0;
    let sent = 0;
    while (done < frames.length) {
      const n = Math.min(SEND_CHUNK, frames.length - done);
      const took = this.#sendChunk(frames, done, n);
      done += took;
      sent += took;
      if (took === n) continue;
      // The kernel refused frame `done`.
      const e = lastError();
      this.stats.lastError = e.code;
      if (isTransientSendError(e.errno)) {
        // No room (or no link): the rest would fail alike. Dropped; AoE retransmits.
        this.stats.sendDropped += frames.length - done;
        break;
      }
      // That frame is bad (EMSGSIZE...): skip it alone, the others still go out.
      this.stats.sendDropped++;
      done++;
    }
    this.stats.sent += sent;
    return sent;
  }

  /** sendmmsg of frames[from, from+n); how many the kernel took (errno tells why not all). */
  #sendChunk(frames: readonly Uint8Array[], from: number, n: number): number {
    const msgs = this.#sendMsgs;
    const sending = this.#sending;
    for (let i = 0; i < n; i++) {
      const f = frames[from + i]!;
      if (f.length < MIN_FRAME) {
        const off = i * MIN_FRAME;
        zeroPadded(f, this.#pad.subarray(off));
        msgs.setBuffer(i, this.#padAddress + off, MIN_FRAME);
      } else {
        // Touching .buffer first moves an engine-owned small array into a real
        // ArrayBuffer whose address then stays put (the note's pitfall 1);
        // `sending` keeps it alive until the call returns (pitfall 2).
        void f.buffer;
        msgs.setBuffer(i, ptr(f), f.length);
        sending[i] = f;
      }
    }
    let done = 0;
    try {
      while (done < n) {
        const r = libc.sendmmsg(this.#fd, msgs.headers.subarray(done * MMSGHDR_LEN), n - done, 0);
        if (r > 0) {
          done += r;
          continue;
        }
        if (r < 0 && lastError().errno === Errno.EINTR) continue;
        break;
      }
    } finally {
      sending.length = 0;
    }
    return done;
  }

  #sendFailed(): void {
    noteSendFailure(this.stats, this.name, lastError());
  }

  refresh(): void {
    if (this.#fd < 0) return;
    const mtu = interfaceMtu(this.#fd, this.name);
    if (mtu === this.#mtu) return;
    this.#mtu = mtu;
    this.#ring?.unmap();
    this.#ring = undefined;
    this.#layoutReceive();
    this.#sizeBuffers();
    if (this.#ring) {
      // Between the old ring (or none) and the new one, frames queued on the socket
      // the ordinary way; a ring never reads them and they would keep poll() ready:
      // drop them (AoE retransmits), counted as kernel drops.
      this.#kernelDrops += this.#discardQueued();
    }
  }

  #discardQueued(): number {
    const scratch = new Uint8Array(new ArrayBuffer(64));
    let n = 0;
    while (libc.recvfrom(this.#fd, scratch, scratch.length, MSG_DONTWAIT | MSG_TRUNC, null, null) >= 0) n++;
    return n;
  }

  /**
   * Frames the kernel dropped since open (cumulative): receive buffer or, with the
   * ring, no free slot (PACKET_STATISTICS counts both).
   */
  kernelDrops(): number {
    if (this.#fd >= 0) {
      // struct tpacket_stats {u32 packets; u32 drops}; reading resets the kernel's counters.
      const st = new Uint32Array(new ArrayBuffer(8));
      const len = new Uint32Array(new ArrayBuffer(4));
      len[0] = 8;
      if (libc.getsockopt(this.#fd, SOL_PACKET, PACKET_STATISTICS, st, len) === 0) this.#kernelDrops += st[1]!;
    }
    return this.#kernelDrops;
  }

  readonly #closeListeners = new CloseListeners();

  onClose(cb: () => void): () => void {
    return this.#closeListeners.add(cb);
  }

  close(): void {
    if (this.#fd < 0) return;
    this.#closeListeners.fire();
    // Views handed out become empty, the mapping goes, then the socket (and the ring).
    this.#ring?.unmap();
    this.#ring = undefined;
    libc.close(this.#fd);
    this.#fd = -1;
  }
}
