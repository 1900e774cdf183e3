/**
 * Data for copies through the initiator: random bytes to write, and a
 * writeRange source that hands them out from memory.
 */

/** `n` random bytes (crypto.getRandomValues fills at most 65536 bytes a call). */
export function randomBytes(n: number): Uint8Array {
  const data = new Uint8Array(n);
  for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  return data;
}

/** A writeRange source giving `data` front to back, at most `max` bytes a call; a fresh one starts at the front again. */
export function sourceOf(data: Uint8Array): (max: number) => Promise<Uint8Array> {
  let pos = 0;
  return async (max) => {
    const b = data.subarray(pos, pos + max);
    pos += b.length;
    return b;
  };
}
