/**
 * Block devices and O_DIRECT buffers: the two things the target's storage needs
 * from libc that node:fs does not give.
 *
 * - The size of a block device: fstat reports 0 for it, so ask the kernel with
 *   ioctl(BLKGETSIZE64).
 * - Buffers at a given alignment: O_DIRECT transfers need the memory address
 *   aligned to the device's logical block size (4096 covers every device).
 */
import { ptr } from "bun:ffi";
import { lastError, libc } from "./libc.ts";

/** _IOR(0x12, 114, size_t) on Linux */
const BLKGETSIZE64 = 0x80081272;

/** Size in bytes of the block device open on `fd`; throws with the errno on failure. */
export function blockDeviceSize(fd: number): number {
  if (process.platform !== "linux") {
    throw new Error("block device size: only Linux is supported so far");
  }
  const out = new BigUint64Array(new ArrayBuffer(8));
  if (libc.ioctl(fd, BLKGETSIZE64, ptr(out)) !== 0) {
    const e = lastError();
    throw new Error(`ioctl(BLKGETSIZE64) failed: ${e.code} ${e.text}`);
  }
  return Number(out[0]);
}

/**
 * A view of `length` bytes whose address plus `lead` is a multiple of `alignment`.
 * Over-allocates one ArrayBuffer (large ArrayBuffers never move) and picks the
 * offset, so that e.g. the data part of a frame (after a 36-byte header) can be
 * handed to an O_DIRECT read or write as is.
 */
export function alignedBytes(length: number, alignment = 4096, lead = 0): Uint8Array {
  const backing = new ArrayBuffer(length + alignment * 2);
  const base = ptr(new Uint8Array(backing));
  // first offset o with (base + o + lead) % alignment == 0
  const offset = (((alignment - ((base + lead) % alignment)) % alignment) + alignment) % alignment;
  return new Uint8Array(backing, offset, length);
}
