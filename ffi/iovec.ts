/**
 * struct iovec { void *iov_base; size_t iov_len; } on every 64-bit target: 16 bytes,
 * written as four u32 halves so that no BigInt is made per call (a frame, a request).
 */
export const IOVEC_LEN = 8 + 8;

/** iovec number `i` of the array `u32` views = { address, length }. */
export function putIovec(u32: Uint32Array, i: number, address: number, length: number): void {
  const w = 4 * i;
  u32[w] = address % 0x1_0000_0000;
  u32[w + 1] = Math.floor(address / 0x1_0000_0000);
  u32[w + 2] = length >>> 0;
  u32[w + 3] = 0;
}
