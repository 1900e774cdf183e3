/**
 * A TPACKET_V2 receive ring (PACKET_RX_RING) on an AF_PACKET socket: the kernel
 * writes each frame into a slot of memory this process has mmap'd, and receive()
 * hands out views into the slots, read in place (no recvmmsg copy, no syscall per
 * batch). ../shared/notes/datapath.md measured it as what closes the gap to C.
 *
 * Slot layout (x86-64/aarch64 Linux, linux/if_packet.h), one per frame slot:
 *
 *   0                 32            52              66                 frameSize
 *   | tpacket2_hdr    | sockaddr_ll | pad           | frame (tp_mac) ...      |
 *
 *   tpacket2_hdr: tp_status u32 @0, tp_len u32 @4, tp_snaplen u32 @8, tp_mac u16 @12,
 *   tp_net u16 @14, tp_sec u32 @16, tp_nsec u32 @20, vlan tci u16 @24, tpid u16 @26,
 *   padding 4 @28: 32 bytes.
 *
 * Ownership is the status word: TP_STATUS_KERNEL (0) the kernel may fill the slot,
 * TP_STATUS_USER (bit 0) it holds a frame for us. The kernel writes the frame, then
 * (after a write barrier) the status; we read the status first (Atomics.load, a
 * sequentially consistent load, so the data reads cannot move above it) and then the
 * data. We hand a slot back by storing TP_STATUS_KERNEL with Atomics.store (its
 * barrier keeps our reads of the frame before the kernel can see the slot free).
 * The kernel fills slots in ring order and drops a frame (counted in
 * PACKET_STATISTICS, TP_STATUS_LOSING on the next frame) when the slot at its head
 * is still ours; so we read in ring order too and never skip a slot.
 *
 * poll() on the socket reports POLLIN while the slot the kernel filled last is not
 * handed back: a caller must call receive() until it returns nothing before it
 * blocks in poll(), or poll() returns at once (the last batch still held).
 *
 * Lifetime: the mapping is reached through one ArrayBuffer made by bun:ffi
 * toArrayBuffer (external memory, never moved or freed by the collector). unmap()
 * first detaches that ArrayBuffer (transfer(0)), which turns every view ever handed
 * out into a zero-length view, then munmaps. The rule for a view kept past close()
 * (or refresh()): it is empty — length 0, indexing gives undefined, slice()/set()
 * throw TypeError ("detached") — and never reaches the unmapped memory (no crash).
 * The same holds for views of the last batch: they are the ring's slots, so copy
 * what must outlive the handler call, as with any receive buffer.
 */
import { toArrayBuffer, type Pointer } from "bun:ffi";
import { lastError, libc } from "../libc.ts";
import { RawLinkError } from "../errors.ts";

const SOL_PACKET = 263;
const PACKET_RX_RING = 5;
const PACKET_VERSION = 10;
const TPACKET_V2 = 1;

export const TP_STATUS_KERNEL = 0;
export const TP_STATUS_USER = 1;
export const TP_STATUS_LOSING = 4;

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

/** TPACKET_ALIGNMENT */
const ALIGN = 16;
const align = (n: number): number => (n + ALIGN - 1) & ~(ALIGN - 1);

const TPACKET2_HDR_LEN = 32;
const SOCKADDR_LL_LEN = 20;
/** TPACKET2_HDRLEN: the header, aligned, plus the sockaddr_ll the kernel writes after it */
export const TPACKET2_HDRLEN = align(TPACKET2_HDR_LEN) + SOCKADDR_LL_LEN;
const ETH_HLEN = 14;
const VLAN_TAG_LEN = 4;
/**
 * Where the frame starts in a slot (tp_mac) for an Ethernet SOCK_RAW socket:
 * the kernel puts the network header at TPACKET_ALIGN(hdrlen + max(maclen, 16)) and
 * the 14-byte MAC header just before it (af_packet.c tpacket_rcv): 80 - 14 = 66.
 */
export const FRAME_OFFSET = align(TPACKET2_HDRLEN + 16) - ETH_HLEN;

/**
 * Bytes of ring to aim for: the 4 MiB the recvmmsg path asks of the socket buffer,
 * in whole slots at the link's MTU, so that the ring absorbs at least the bursts the
 * socket buffer did (the loop's tests keep 2048 frames of 1 KiB in flight): MTU 1500,
 * 2650 slots, 4.14 MiB; MTU 9000, 462 slots, 4.13 MiB. Resident, unswappable kernel
 * pages for as long as the link is open (the socket buffer costs memory only while
 * frames wait in it). At 10 Gb/s that is 3.3 ms of 1518-byte frames, 3.4 ms of
 * 9018-byte ones. At least MIN_FRAMES, at most MAX_DEFAULT_FRAMES slots (small MTUs).
 */
const RING_BYTES = 4 << 20;
const MIN_FRAMES = 256;
const MAX_DEFAULT_FRAMES = 4096;
/** An explicit bufferFrames beyond the default is honoured up to this. */
const MAX_FRAMES = 8192;
/** Largest block tried, in pages: 64 KiB (order 4) blocks at 4 KiB pages. */
const MAX_BLOCK_PAGES = 16;
/** Share of a block left over after its last slot that is good enough. */
const MAX_TAIL_WASTE = 0.05;

/** struct tpacket_req, and what follows from it. */
export interface RingLayout {
  readonly frameSize: number;
  readonly frameCount: number;
  readonly blockSize: number;
  readonly blockCount: number;
  readonly framesPerBlock: number;
  /** bytes mapped (blockSize * blockCount) */
  readonly bytes: number;
}

/** Slot size for an MTU: header, frame of MTU + Ethernet header + a VLAN tag's room, aligned. */
export function ringFrameSizeFor(mtu: number): number {
  return align(FRAME_OFFSET + mtu + ETH_HLEN + VLAN_TAG_LEN);
}

/**
 * The ring for an MTU: frames never span blocks, and the kernel allocates each block
 * as 2^order pages (get_order), so a block of 12 pages would cost 16: blocks are a
 * power of two of pages, the smallest (up to MAX_BLOCK_PAGES) that loses at most
 * MAX_TAIL_WASTE to the tail of each block, else the one that loses least.
 * `wantFrames` is rounded up to whole blocks.
 */
export function ringLayoutFor(mtu: number, pageSize: number, wantFrames?: number): RingLayout {
  const frameSize = ringFrameSizeFor(mtu);
  let bestPages = 0;
  let bestWaste = Infinity;
  for (let p = 1; p <= MAX_BLOCK_PAGES && bestWaste > MAX_TAIL_WASTE; p *= 2) {
    const block = p * pageSize;
    const fit = Math.floor(block / frameSize);
    if (fit === 0) continue;
    const waste = (block - fit * frameSize) / block;
    if (waste < bestWaste) {
      bestWaste = waste;
      bestPages = p;
    }
  }
  // frames beyond MAX_BLOCK_PAGES: one a block, of the next power of two of pages
  if (bestPages === 0) bestPages = 2 ** Math.ceil(Math.log2(Math.ceil(frameSize / pageSize)));
  const blockSize = bestPages * pageSize;
  const framesPerBlock = Math.floor(blockSize / frameSize);
  const want = Math.max(1, wantFrames ?? defaultFrames(frameSize));
  const blockCount = Math.ceil(want / framesPerBlock);
  return {
    frameSize,
    frameCount: blockCount * framesPerBlock,
    blockSize,
    blockCount,
    framesPerBlock,
    bytes: blockSize * blockCount,
  };
}

/** Frames for a link asked to buffer `bufferFrames` full frames (vblade's -b): the default unless more was asked. */
export function ringFramesFor(mtu: number, bufferFrames: number | undefined): number {
  return Math.max(defaultFrames(ringFrameSizeFor(mtu)), Math.min(MAX_FRAMES, bufferFrames ?? 0));
}

/** RING_BYTES in slots of `frameSize`, within MIN_FRAMES..MAX_DEFAULT_FRAMES. */
function defaultFrames(frameSize: number): number {
  return Math.min(MAX_DEFAULT_FRAMES, Math.max(MIN_FRAMES, Math.floor(RING_BYTES / frameSize)));
}

const NO_RING = { blockSize: 0, blockCount: 0, frameSize: 0, frameCount: 0 };

/** PACKET_RX_RING with `l`; NO_RING (all zero) takes the ring off the socket. */
function setRing(fd: number, l: Pick<RingLayout, "blockSize" | "blockCount" | "frameSize" | "frameCount">): number {
  // struct tpacket_req { u32 tp_block_size, tp_block_nr, tp_frame_size, tp_frame_nr; }
  const req = new Uint32Array(new ArrayBuffer(16));
  req[0] = l.blockSize;
  req[1] = l.blockCount;
  req[2] = l.frameSize;
  req[3] = l.frameCount;
  return libc.setsockopt(fd, SOL_PACKET, PACKET_RX_RING, req, 16);
}

function fail(what: string): never {
  const e = lastError();
  throw new RawLinkError(e.code, `${what}: ${e.text}`);
}

export class RxRing {
  readonly layout: RingLayout;
  /** frames handed out so far */
  received = 0;
  /** frames longer than a slot (tp_snaplen < tp_len: the MTU was raised), dropped */
  truncated = 0;
  /** frames that arrived flagged TP_STATUS_LOSING (the kernel dropped some before them) */
  losing = 0;

  readonly #fd: number;
  readonly #address: Pointer;
  #buffer: ArrayBuffer;
  readonly #bytes: Uint8Array;
  readonly #words: Uint32Array;
  readonly #halves: Uint16Array;
  /** slot i's header starts at word #slotWord[i] of the mapping */
  readonly #slotWord: Int32Array;
  /** next slot to look at: the oldest the kernel may have filled */
  #next = 0;
  /** slots of the last batch, still ours until the next receive() */
  readonly #held: Int32Array;
  #heldCount = 0;
  /**
   * One view per slot, remade only when a frame of another length (or offset) lands
   * there: steady traffic of a few frame sizes allocates nothing per frame. Measured
   * (bench/rxring.ts, 1038-byte frames): receive() costs 90 ns a frame so,
   * 286 ns with a fresh subarray per frame, 1281 ns through recvmmsg.
   */
  readonly #views: (Uint8Array | undefined)[];
  readonly #viewKey: Uint32Array;
  readonly #frames: Uint8Array[] = [];
  readonly #batch: number;
  readonly #reuseViews: boolean;

  private constructor(fd: number, layout: RingLayout, address: Pointer, batch: number, reuseViews: boolean) {
    this.#fd = fd;
    this.layout = layout;
    this.#address = address;
    this.#batch = batch;
    this.#reuseViews = reuseViews;
    this.#buffer = toArrayBuffer(address, 0, layout.bytes);
    this.#bytes = new Uint8Array(this.#buffer);
    this.#words = new Uint32Array(this.#buffer);
    this.#halves = new Uint16Array(this.#buffer);
    this.#slotWord = new Int32Array(layout.frameCount);
    for (let i = 0; i < layout.frameCount; i++) {
      const block = Math.floor(i / layout.framesPerBlock);
      const inBlock = i % layout.framesPerBlock;
      this.#slotWord[i] = (block * layout.blockSize + inBlock * layout.frameSize) >>> 2;
    }
    this.#held = new Int32Array(batch);
    this.#views = new Array(layout.frameCount).fill(undefined);
    this.#viewKey = new Uint32Array(layout.frameCount);
  }

  /**
   * Switch `fd` to TPACKET_V2, give it a receive ring of `frames` slots for `mtu`
   * and map it. Throws RawLinkError (EINVAL, ENOMEM, EPERM, EBUSY: a ring is already
   * there) with no ring left on the socket, so the caller can fall back to recvmmsg
   * (the version set to TPACKET_V2 matters to rings only).
   * `batch`: most frames one receive() returns. `reuseViews` false makes a fresh
   * subarray per frame (for the measurement that chose the default).
   */
  static attach(fd: number, mtu: number, opts: { frames?: number; batch?: number; reuseViews?: boolean } = {}): RxRing {
    const layout = ringLayoutFor(mtu, libc.getpagesize(), opts.frames);
    const v = new Int32Array(new ArrayBuffer(4));
    v[0] = TPACKET_V2;
    if (libc.setsockopt(fd, SOL_PACKET, PACKET_VERSION, v, 4) !== 0) fail("cannot select TPACKET_V2");
    if (setRing(fd, layout) !== 0) fail(`cannot set up a receive ring of ${layout.frameCount} frames`);
    const address = libc.mmap(null, layout.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) as unknown;
    if (typeof address !== "number" || address === 0) {
      const e = lastError();
      setRing(fd, NO_RING);
      throw new RawLinkError(e.code, `cannot map the receive ring (${layout.bytes} bytes): ${e.text}`);
    }
    return new RxRing(fd, layout, address as Pointer, Math.max(1, opts.batch ?? 64), opts.reuseViews ?? true);
  }

  get mapped(): boolean {
    return this.#buffer.byteLength !== 0;
  }

  /**
   * Hands the previous batch's slots back to the kernel, then returns the frames
   * waiting, oldest first, up to `batch`, as views into the ring valid until the next
   * receive() (or release(), or unmap()). Never blocks; empty when nothing is there.
   * The array is reused by the next call.
   */
  receive(): Uint8Array[] {
    const frames = this.#frames;
    frames.length = 0;
    if (!this.mapped) return frames;
    this.release();
    const words = this.#words;
    const slotWord = this.#slotWord;
    const held = this.#held;
    const count = slotWord.length;
    const max = this.#batch;
    let i = this.#next;
    let n = 0;
    while (n < max) {
      const w = slotWord[i]!;
      const status = Atomics.load(words, w);
      if ((status & TP_STATUS_USER) === 0) break;
      if (status & TP_STATUS_LOSING) this.losing++;
      const len = words[w + 1]!;
      const snap = words[w + 2]!;
      if (snap < len) {
        // Cut to the slot: the MTU grew beyond the ring's. Drop it, as recvmmsg's MSG_TRUNC.
        this.truncated++;
        Atomics.store(words, w, TP_STATUS_KERNEL);
      } else {
        const mac = this.#halves[(w << 1) + 6]!;
        frames.push(this.#view(i, (w << 2) + mac, snap, mac));
        held[n++] = w;
      }
      i = i + 1 === count ? 0 : i + 1;
    }
    this.#next = i;
    this.#heldCount = n;
    this.received += n;
    return frames;
  }

  #view(slot: number, start: number, length: number, mac: number): Uint8Array {
    if (!this.#reuseViews) return this.#bytes.subarray(start, start + length);
    const key = mac * 0x10000 + length; // both below 2^16: a frame slot is smaller
    const cached = this.#views[slot];
    if (cached !== undefined && this.#viewKey[slot] === key) return cached;
    const v = this.#bytes.subarray(start, start + length);
    this.#views[slot] = v;
    this.#viewKey[slot] = key;
    return v;
  }

  /** Hand the last batch's slots back now; its views must not be read after this. */
  release(): void {
    const words = this.#words;
    const held = this.#held;
    for (let k = 0; k < this.#heldCount; k++) Atomics.store(words, held[k]!, TP_STATUS_KERNEL);
    this.#heldCount = 0;
  }

  /**
   * Detach every view (they read as empty from now on), unmap, and take the ring off
   * the socket (PACKET_RX_RING with a zero request) so that the socket can get a new
   * one or receive through recvmmsg. Idempotent. The socket itself stays open.
   */
  unmap(): void {
    if (!this.mapped) return;
    this.#heldCount = 0;
    // #frames is left as it is: a caller iterating the last batch (a handler closed
    // the link mid-batch) gets empty views, which decoders reject as short, not undefined.
    this.#views.fill(undefined);
    // transfer(0) detaches the ArrayBuffer: every Uint8Array over it becomes empty.
    // The buffer was made without a deallocator, so nothing frees the mapping but us.
    this.#buffer = this.#buffer.transfer(0);
    libc.munmap(this.#address, this.layout.bytes);
    setRing(this.#fd, NO_RING);
  }
}
