/**
 * Driving a Vfs as the FUSE server will: paths walked with lookup, files
 * opened, read to the end and released, writes as one write(2) each.
 */
import { expect } from "bun:test";
import { VfsError, type Vfs } from "../../src/fuse/vfs.ts";
import { ROOT_INO } from "../../src/tree/inode.ts";

export function walk(vfs: Vfs, path: string): number {
  let ino = ROOT_INO;
  for (const part of path.split("/").filter((p) => p !== "")) ino = vfs.lookup(ino, part).ino;
  return ino;
}

/** The whole file, read in `chunk`-byte requests from offset 0 until a read returns nothing. */
export async function readBytes(vfs: Vfs, path: string, chunk = 4096): Promise<Uint8Array> {
  const ino = walk(vfs, path);
  const { handle } = vfs.open(ino, 0);
  try {
    const parts: Uint8Array[] = [];
    let off = 0;
    for (;;) {
      const b = await vfs.read(ino, handle, off, chunk);
      if (b.length === 0) break;
      parts.push(b.slice());
      off += b.length;
    }
    return Buffer.concat(parts);
  } finally {
    vfs.release(ino, handle);
  }
}

export async function readText(vfs: Vfs, path: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(vfs, path));
}

/** One write(2) of `text` at offset 0, as `echo text > path` does after its truncation. */
export async function writeText(vfs: Vfs, path: string, text: string): Promise<number> {
  const ino = walk(vfs, path);
  const { handle } = vfs.open(ino, 1);
  try {
    vfs.setSize(ino, 0);
    return await vfs.write(ino, handle, 0, new TextEncoder().encode(text));
  } finally {
    vfs.release(ino, handle);
  }
}

/** The errno a call failed with (fails the test if it did not fail with a VfsError). */
export async function errnoOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VfsError);
    return (e as VfsError).errno;
  }
  throw new Error("expected a VfsError, but the call succeeded");
}

/** Every event the log holds now, one read each. */
export async function drainLog(vfs: Vfs): Promise<string[]> {
  const ino = walk(vfs, "log");
  const { handle } = vfs.open(ino, 0);
  const out: string[] = [];
  try {
    for (;;) {
      const b = await vfs.read(ino, handle, 0, 4096);
      if (b.length === 0) break;
      out.push(new TextDecoder().decode(b));
    }
  } finally {
    vfs.release(ino, handle);
  }
  return out;
}

/** Waits until `cond` holds, polling every 20 ms; fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/**
 * A golden text where {N} stands for any decimal number (counters and timings
 * that differ from run to run); everything else must match byte for byte.
 */
export function expectShape(actual: string, template: string): void {
  const re = new RegExp("^" + template.split("{N}").map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\d+") + "$");
  if (!re.test(actual)) expect(actual).toBe(template);
}
