/** Bytes the campaign writes and reads back: seeded data, digests, a file's range read around serve. */
import { createHash } from "node:crypto";
import fs from "node:fs";
import { seededUint32 } from "../test/helpers/prng.ts";

export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** `n` bytes from a seed (n a multiple of 4 for every byte to be random). */
export function seededBytes(seed: number, n: number): Uint8Array {
  const next = seededUint32(seed);
  const out = new Uint8Array(n);
  const v = new Uint32Array(out.buffer, 0, n >> 2);
  for (let i = 0; i < v.length; i++) v[i] = next();
  return out;
}

/** `length` bytes of a file or device at `offset` (what is really there, not what serve says). */
export function readFileRange(file: string, offset: number, length: number): Uint8Array {
  const fd = fs.openSync(file, "r");
  try {
    const b = new Uint8Array(length);
    fs.readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}
