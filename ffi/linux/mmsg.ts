/**
 * Arrays of struct mmsghdr for recvmmsg/sendmmsg (x86-64/aarch64 Linux layout, from
 * ../shared/notes/bun-raw-ethernet.md): mmsghdr 64 bytes = msghdr 56 (name @0,
 * namelen @8, iov @16, iovlen @24, control @32, controllen @40, flags @48) + msg_len
 * u32 @56; iovec 16 bytes (base @0, len @8). One iovec per message, no name, no
 * control data (the socket is bound; the Ethernet header carries the addresses).
 */
import { IOVEC_LEN, putIovec } from "../iovec.ts";
import { ptr } from "bun:ffi";

export const MMSGHDR_LEN = 64;
const OFF_IOV = 16;
const OFF_IOVLEN = 24;
const OFF_FLAGS = 48;
const OFF_LEN = 56;

export class MmsgArray {
  /** the mmsghdr array, passed to the syscall */
  readonly headers: Uint8Array;
  private readonly iovecs: Uint8Array;
  private readonly h32: Uint32Array;
  private readonly iov32: Uint32Array;

  constructor(readonly capacity: number) {
    this.headers = new Uint8Array(new ArrayBuffer(capacity * MMSGHDR_LEN));
    this.iovecs = new Uint8Array(new ArrayBuffer(capacity * IOVEC_LEN));
    this.h32 = new Uint32Array(this.headers.buffer);
    this.iov32 = new Uint32Array(this.iovecs.buffer);
    const hdr64 = new BigUint64Array(this.headers.buffer);
    const iovBase = BigInt(ptr(this.iovecs));
    for (let i = 0; i < capacity; i++) {
      hdr64[(i * MMSGHDR_LEN + OFF_IOV) / 8] = iovBase + BigInt(i * IOVEC_LEN);
      hdr64[(i * MMSGHDR_LEN + OFF_IOVLEN) / 8] = 1n;
    }
  }

  /**
   * Point message i at `address`/`length`. The caller keeps the memory referenced
   * while the kernel may use it (pitfall 2 of the note).
   */
  setBuffer(i: number, address: number, length: number): void {
    putIovec(this.iov32, i, address, length);
  }

  /** msg_len after the call: bytes received or sent for message i */
  length(i: number): number {
    return this.h32[(i * MMSGHDR_LEN + OFF_LEN) >>> 2]!;
  }

  /** msg_flags after recvmmsg (MSG_TRUNC...) */
  flags(i: number): number {
    return this.h32[(i * MMSGHDR_LEN + OFF_FLAGS) >>> 2]!;
  }
}
