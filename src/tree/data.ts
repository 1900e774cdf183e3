/**
 * The `data` file as a disk: reads and writes at any offset and length. The
 * sectors a request touches are read or written whole; a write that starts or
 * ends inside a sector first reads that sector and keeps the bytes it does not
 * cover (read-modify-write). Overlapping writes wait for each other, so that
 * two writes patching the same sector cannot undo one another. A write returns
 * once the target has acknowledged every sector (AoE writes are acknowledged
 * after the target wrote them).
 */
import { SECTOR_SIZE } from "../aoe/constants.ts";
import type { Initiator } from "../initiator/engine.ts";
import { patchSectors } from "../initiator/io.ts";
import type { Target } from "../initiator/target.ts";

interface Busy {
  from: number;
  to: number;
  done: Promise<void>;
}

/** Sector ranges with a write in progress, per target. */
export class WriteLocks {
  private readonly busy: Busy[] = [];

  /** Runs `fn` once no write overlapping sectors [from, to) is in progress. */
  async run<T>(from: number, to: number, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const clash = this.busy.filter((b) => b.from < to && from < b.to);
      if (clash.length === 0) break;
      await Promise.allSettled(clash.map((b) => b.done));
    }
    let release!: () => void;
    const entry: Busy = { from, to, done: new Promise<void>((r) => (release = r)) };
    this.busy.push(entry);
    try {
      return await fn();
    } finally {
      this.busy.splice(this.busy.indexOf(entry), 1);
      release();
    }
  }
}

/** Bytes [offset, offset + length) of a device of `size` bytes, clipped at its end. */
export async function readData(ini: Initiator, t: Target, size: number, offset: number, length: number): Promise<Uint8Array> {
  if (offset >= size || length <= 0) return new Uint8Array(0);
  const end = Math.min(size, offset + length);
  const first = Math.floor(offset / SECTOR_SIZE);
  const last = Math.ceil(end / SECTOR_SIZE);
  const buf = new Uint8Array((last - first) * SECTOR_SIZE);
  await ini.read(t, first, last - first, buf);
  const from = offset - first * SECTOR_SIZE;
  return buf.subarray(from, from + (end - offset));
}

/**
 * Writes `data` at `offset`, clipped at the device's end; returns the bytes
 * written (0 at or past the end: the caller says ENOSPC).
 */
export async function writeData(ini: Initiator, t: Target, locks: WriteLocks, size: number, offset: number, data: Uint8Array): Promise<number> {
  if (offset >= size || data.length === 0) return 0;
  const end = Math.min(size, offset + data.length);
  const n = end - offset;
  const first = Math.floor(offset / SECTOR_SIZE);
  const last = Math.ceil(end / SECTOR_SIZE);
  await locks.run(first, last, async () => {
    const buf = await patchSectors(ini, t, first, offset - first * SECTOR_SIZE, n === data.length ? data : data.subarray(0, n));
    await ini.write(t, first, last - first, buf);
  });
  return n;
}
