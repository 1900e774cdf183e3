/**
 * Copying images in and out: byte ranges cut into chunks of whole sectors,
 * several chunks queued on the target at once so that its window stays full
 * across chunk boundaries, chunks handed over in order.
 */
import { SECTOR_SIZE } from "../aoe/constants.ts";
import type { Initiator } from "./engine.ts";
import { InitiatorError } from "./request.ts";
import type { Target } from "./target.ts";

/** Bytes per chunk: a few windows' worth at jumbo frames. */
export const CHUNK_BYTES = 2 << 20;
/** Chunks queued on the target at once. */
export const CHUNK_DEPTH = 3;

export interface ReadRangeOptions {
  offset: number;
  length: number;
  /**
   * receives the bytes in order; the copy waits for it. The buffer is reused once
   * the sink has returned (resolved): copy what must be kept.
   */
  sink: (bytes: Uint8Array) => void | Promise<void>;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  chunkBytes?: number;
  depth?: number;
}

function deviceBytes(t: Target): number {
  if (t.sizeBytes === undefined) throw new InitiatorError("protocol", `${t.name}: size unknown (no IDENTIFY answer)`);
  return t.sizeBytes;
}

/** Reads [offset, offset + length) of the device into `sink`. */
export async function readRange(ini: Initiator, t: Target, o: ReadRangeOptions): Promise<number> {
  const size = deviceBytes(t);
  if (o.offset < 0 || o.length < 0 || o.offset + o.length > size) {
    throw new RangeError(`${t.name}: range ${o.offset}+${o.length} is outside the device (${size} bytes)`);
  }
  const chunkSectors = Math.max(1, Math.floor((o.chunkBytes ?? CHUNK_BYTES) / SECTOR_SIZE));
  const depth = Math.max(1, o.depth ?? CHUNK_DEPTH);
  const first = Math.floor(o.offset / SECTOR_SIZE);
  const end = Math.ceil((o.offset + o.length) / SECTOR_SIZE);
  const pending: { lba: number; sectors: number; buf: Uint8Array; done: Promise<void> }[] = [];
  let next = first;
  let delivered = 0;
  // Chunk buffers are recycled: a fresh 2 MiB array per chunk costs a page fault per
  // 4 KiB on first touch, which made `aoede read` 0.4x `aoede bench` (the frame
  // copies into new pages took 60 % of its CPU).
  const spare: Uint8Array[] = [];
  const issue = () => {
    while (pending.length < depth && next < end) {
      const sectors = Math.min(chunkSectors, end - next);
      const reuse = spare.pop();
      const buf = reuse !== undefined && reuse.length === sectors * SECTOR_SIZE ? reuse : new Uint8Array(sectors * SECTOR_SIZE);
      const done = ini.read(t, next, sectors, buf);
      done.catch(() => {}); // awaited in order below; a later chunk's failure must not go unhandled meanwhile
      pending.push({ lba: next, sectors, buf, done });
      next += sectors;
    }
  };
  t.nopen++;
  try {
    issue();
    while (pending.length > 0) {
      const c = pending.shift()!;
      await c.done;
      issue();
      // Trim the partial sectors at either end of the range.
      const from = Math.max(o.offset, c.lba * SECTOR_SIZE) - c.lba * SECTOR_SIZE;
      const to = Math.min(o.offset + o.length, (c.lba + c.sectors) * SECTOR_SIZE) - c.lba * SECTOR_SIZE;
      const bytes = from === 0 && to === c.buf.length ? c.buf : c.buf.subarray(from, to);
      await o.sink(bytes);
      spare.push(c.buf);
      delivered += bytes.length;
      o.onProgress?.(delivered, o.length);
    }
  } finally {
    t.nopen--;
  }
  return delivered;
}

export interface WriteRangeOptions {
  /** byte offset on the device: a multiple of 512 */
  offset: number;
  /**
   * the next bytes of the image, at most `max`; an empty array at the end. `into`,
   * when given, is a spare buffer of at least `max` bytes the source may fill and
   * return a view of (it is reused once that chunk is written).
   */
  source: (max: number, into?: Uint8Array) => Promise<Uint8Array>;
  /** total bytes, when known beforehand (for progress and the size check) */
  length?: number;
  onProgress?: (doneBytes: number, totalBytes: number | undefined) => void;
  chunkBytes?: number;
  depth?: number;
  /** FLUSH CACHE at the end (default true) */
  flush?: boolean;
}

/**
 * Writes the image `source` yields at `offset`. A last partial sector is
 * merged with what the device holds there (read, patch, write). Returns the
 * bytes written. Writing past the end of the device fails before anything
 * past it is sent.
 */
export async function writeRange(ini: Initiator, t: Target, o: WriteRangeOptions): Promise<number> {
  const size = deviceBytes(t);
  if (o.offset % SECTOR_SIZE !== 0) throw new RangeError(`offset ${o.offset} is not a multiple of ${SECTOR_SIZE}`);
  if (o.length !== undefined && o.offset + o.length > size) {
    throw new RangeError(`${t.name}: ${o.length} bytes at offset ${o.offset} do not fit in the device (${size} bytes)`);
  }
  const chunk = Math.max(1, Math.floor((o.chunkBytes ?? CHUNK_BYTES) / SECTOR_SIZE)) * SECTOR_SIZE;
  const depth = Math.max(1, o.depth ?? CHUNK_DEPTH);
  const pending: { done: Promise<void>; own?: Uint8Array }[] = [];
  // Buffers of written chunks go back to the source (see readRange: fresh pages cost a fault each).
  const spare: Uint8Array[] = [];
  const settle = async () => {
    const p = pending.shift()!;
    await p.done;
    if (p.own) spare.push(p.own);
  };
  let pos = o.offset;
  let written = 0;
  t.nopen++;
  try {
    for (;;) {
      const into = spare.pop() ?? new Uint8Array(chunk);
      const bytes = await fill(o.source, chunk, into);
      if (bytes.length === 0) break;
      if (pos + bytes.length > size) {
        throw new RangeError(`${t.name}: the image is larger than the device (${size} bytes from offset ${o.offset})`);
      }
      const tail = bytes.length % SECTOR_SIZE;
      // Last partial sector: keep the device's bytes after the image's end.
      const data = tail === 0 ? bytes : await patchSectors(ini, t, pos / SECTOR_SIZE, 0, bytes);
      const sectors = data.length / SECTOR_SIZE;
      const done = ini.write(t, pos / SECTOR_SIZE, sectors, data);
      done.catch(() => {});
      pending.push({ done, own: bytes.buffer === into.buffer ? into : undefined });
      if (bytes.buffer !== into.buffer) spare.push(into);
      pos += bytes.length;
      written += bytes.length;
      while (pending.length >= depth) await settle();
      o.onProgress?.(written - inflightBytes(pending.length, chunk, written), o.length);
      if (tail !== 0) break;
    }
    while (pending.length > 0) await settle();
    o.onProgress?.(written, o.length);
    if (o.flush ?? true) await ini.flush(t);
  } finally {
    t.nopen--;
  }
  return written;
}

/**
 * `data` placed `head` bytes into sector `lba`, as a buffer of whole sectors:
 * a sector that `data` covers only in part is read first, so that the bytes
 * outside `data` keep what the device holds (read-modify-write). Already whole
 * sectors are returned as they are.
 */
export async function patchSectors(ini: Initiator, t: Target, lba: number, head: number, data: Uint8Array): Promise<Uint8Array> {
  const end = head + data.length;
  if (head === 0 && end % SECTOR_SIZE === 0) return data;
  const sectors = Math.ceil(end / SECTOR_SIZE);
  const buf = new Uint8Array(sectors * SECTOR_SIZE);
  const edges = new Set<number>();
  if (head !== 0) edges.add(0);
  if (end % SECTOR_SIZE !== 0) edges.add(sectors - 1);
  await Promise.all([...edges].map((i) => ini.read(t, lba + i, 1, buf.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE))));
  buf.set(data, head);
  return buf;
}

/** Progress counts only chunks the target acknowledged. */
function inflightBytes(n: number, chunk: number, written: number): number {
  return Math.min(written, n * chunk);
}

/** Reads from `source` until `want` bytes or the end. */
async function fill(source: WriteRangeOptions["source"], want: number, into: Uint8Array): Promise<Uint8Array> {
  const first = await source(want, into);
  if (first.length === 0 || first.length === want) return first;
  const parts = [first];
  let have = first.length;
  while (have < want) {
    const more = await source(want - have);
    if (more.length === 0) break;
    parts.push(more);
    have += more.length;
  }
  const out = new Uint8Array(have);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
