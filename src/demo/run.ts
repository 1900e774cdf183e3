/**
 * `aoede demo`: the whole product on one machine, in a world of its own.
 *
 * Two network namespaces joined by a veth pair, a sparse image in a temporary
 * directory; the target serves the image on one end and the initiator, in this
 * same process and on the same event loop, finds it from the other end, writes
 * random data, reads it back and compares sha256 three ways (written, on the
 * target's disk, read back). Then the stat table and the numbers, and everything
 * the demo made is removed — after success, failure, or a signal.
 */
import { mkdtempSync, openSync, closeSync, ftruncateSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatMac } from "../aoe/mac.ts";
import { openRawLink, type RawLink } from "../../ffi/rawlink.ts";
import { sharedLoop } from "../net/loop.ts";
import { parseServeArgs } from "../target/config.ts";
import { startExport, type RunningExport } from "../target/server.ts";
import { Initiator } from "../initiator/engine.ts";
import { discover } from "../initiator/discover.ts";
import { readRange, writeRange } from "../initiator/io.ts";
import { formatStatTable } from "../initiator/table.ts";
import { statRow } from "../initiator/views.ts";
import { makeVethWorld, netnsUnavailable, sweepStale, type VethWorld } from "../net/netns.ts";

export interface DemoOptions {
  /** MiB of random data written and read back */
  sizeMiB: number;
  /** MTU of the veth pair */
  mtu: number;
  /** the target's buffer count (serve -b) */
  bufcnt: number;
  /** where the lines go */
  out?: (line: string) => void;
}

export const DEMO_DEFAULTS: DemoOptions = { sizeMiB: 64, mtu: 1500, bufcnt: 64 };

const SHELF = 9;
const SLOT = 0;

/** The demo could not run (not root, no iproute2...): one line, exit 1. */
export class DemoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DemoError";
  }
}

/** Undo steps, run last-first, each at most once; a synchronous path for exit handlers. */
export class Teardown {
  readonly #steps: { name: string; run: () => void | Promise<void>; sync: () => void; done: boolean }[] = [];

  /** `sync` is the fallback used when there is no time to await `run` (default: run, not awaited). */
  add(name: string, run: () => void | Promise<void>, sync?: () => void): void {
    this.#steps.push({ name, run, sync: sync ?? (() => void run()), done: false });
  }

  async run(timeoutMs = 5000): Promise<string[]> {
    const failed: string[] = [];
    for (const s of [...this.#steps].reverse()) {
      if (s.done) continue;
      s.done = true;
      try {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.resolve(s.run()),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("timed out")), timeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
      } catch (e) {
        failed.push(`${s.name}: ${(e as Error).message}`);
        try {
          s.sync();
        } catch {
          // best effort
        }
      }
    }
    return failed;
  }

  runSync(): void {
    for (const s of [...this.#steps].reverse()) {
      if (s.done) continue;
      s.done = true;
      try {
        s.sync();
      } catch {
        // best effort: the process is leaving
      }
    }
  }
}

const MB = 1e6;
const mbps = (bytes: number, ms: number) => `${(bytes / MB / (ms / 1000)).toFixed(1)} MB/s`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function randomBytes(n: number): Uint8Array {
  const buf = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(buf.subarray(o, Math.min(n, o + 65536)));
  return buf;
}

function sha256(parts: Iterable<Uint8Array>): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** sha256 of the first `length` bytes of a file, read as the target's disk holds them. */
function sha256OfFile(path: string, length: number): string {
  const h = new Bun.CryptoHasher("sha256");
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(1 << 20);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), done);
      if (n <= 0) throw new Error(`short read of ${path} at ${done}`);
      h.update(buf.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

/**
 * Runs the demo; resolves when it passed, throws when it did not. Everything it
 * made is gone by the time it settles. `teardown` is the caller's, so that a
 * signal handler can run it too.
 */
export async function runDemo(opts: DemoOptions, teardown: Teardown): Promise<void> {
  const out = opts.out ?? ((l: string) => console.log(l));
  const why = netnsUnavailable();
  if (why) throw new DemoError(`aoede demo: ${why}`);
  if (!(opts.sizeMiB >= 1)) throw new DemoError("aoede demo: --size must be at least 1 (MiB)");
  if (!(opts.mtu >= 576 && opts.mtu <= 65535)) throw new DemoError("aoede demo: --mtu must be between 576 and 65535");

  const swept = sweepStale("demo");
  if (swept.length) out(`(removed ${swept.length} namespaces left by an earlier demo that was killed)`);

  const size = opts.sizeMiB * 2 ** 20;
  const imageBytes = Math.max(256 * 2 ** 20, size * 2);

  // the world
  const dir = mkdtempSync(join(tmpdir(), "aoede-demo-"));
  teardown.add("temporary directory", () => rmSync(dir, { recursive: true, force: true }));
  const image = join(dir, "disk.img");
  const fd = openSync(image, "w");
  ftruncateSync(fd, imageBytes); // sparse: takes no space until written
  closeSync(fd);
  let world: VethWorld;
  try {
    world = makeVethWorld("demo", opts.mtu);
  } catch (e) {
    throw new DemoError(`aoede demo: could not build the network namespaces: ${(e as Error).message}`);
  }
  teardown.add("network namespaces", () => world.dispose());
  out("aoede demo: a private AoE world on this machine; nothing outside it is touched");
  out(`  namespaces  ${world.nsA} (target), ${world.nsB} (initiator)`);
  out(`  veth pair   ${world.ifA} <-> ${world.ifB}, MTU ${opts.mtu}`);
  out(`  image       ${image}, ${mib(imageBytes)} sparse`);

  // the target, in this process, its link opened inside the target's namespace
  const cfg = parseServeArgs(["-b", String(opts.bufcnt), String(SHELF), String(SLOT), world.ifA, image]);
  const running: RunningExport = startExport(cfg, { netns: world.nsA });
  teardown.add("target", () => running.stop(), () => running.link.close());
  out(
    `serve     e${SHELF}.${SLOT} on ${world.ifA} ${formatMac(running.link.mac)}, ${running.storage.sectors} sectors, ` +
      `bufcnt ${opts.bufcnt}, ${running.exp.maxSectors} sectors per frame`,
  );

  // the initiator, same process, same event loop, its link inside the other namespace
  const link: RawLink = openRawLink(world.ifB, { netns: world.nsB, bufferFrames: 256 });
  teardown.add("initiator link", () => link.close());
  const notices: string[] = [];
  const ini = new Initiator(sharedLoop(), [link], { log: (m) => notices.push(m) });
  teardown.add("initiator", () => ini.close());

  let t0 = performance.now();
  const found = await discover(ini, { timeoutMs: 5000, shelf: SHELF, slot: SLOT, settleMs: 50 });
  const tDiscover = performance.now() - t0;
  const target = found.find((t) => t.shelf === SHELF && t.slot === SLOT);
  if (!target) throw new Error(`discover: e${SHELF}.${SLOT} did not answer on ${world.ifB} within 5 s`);
  await ini.identify(target);
  out(
    `discover  ${target.name} found in ${tDiscover.toFixed(1)} ms on ${world.ifB}: ${((target.sizeBytes ?? 0) / MB).toFixed(1)} MB, ` +
      `bufcnt ${target.bufferCount}, ${target.maxSectors()} sectors per frame`,
  );

  // write random data, read it back
  const data = randomBytes(size);
  const written = sha256([data]);
  let fed = 0;
  t0 = performance.now();
  await writeRange(ini, target, {
    offset: 0,
    length: size,
    source: async (max) => {
      const piece = data.subarray(fed, Math.min(size, fed + max));
      fed += piece.length;
      return piece;
    },
    flush: true,
  });
  const tWrite = performance.now() - t0;
  out(`write     ${mib(size)} of random data in ${(tWrite / 1000).toFixed(2)} s: ${mbps(size, tWrite)}`);

  const back = new Bun.CryptoHasher("sha256");
  let got = 0;
  t0 = performance.now();
  await readRange(ini, target, {
    offset: 0,
    length: size,
    sink: (bytes) => {
      back.update(bytes);
      got += bytes.length;
    },
  });
  const tRead = performance.now() - t0;
  const readBack = back.digest("hex");
  out(`read      ${mib(got)} in ${(tRead / 1000).toFixed(2)} s: ${mbps(got, tRead)}`);

  const onDisk = sha256OfFile(image, size);
  const match = written === onDisk && onDisk === readBack && got === size;
  out(
    match
      ? `verify    sha256 ${written.slice(0, 16)}… written = on the target's disk = read back: match`
      : `verify    sha256 MISMATCH: written ${written.slice(0, 16)}…, on disk ${onDisk.slice(0, 16)}…, read back ${readBack.slice(0, 16)}… (${got} of ${size} bytes)`,
  );

  out("stat");
  out(formatStatTable([statRow(target, true)]).trimEnd());
  const c = running.exp.counters;
  out(
    `  target: ${c.received} frames in, ${c.replies} replies, ${c.writes} writes, ${c.reads} reads, ` +
      `${c.ataErrors + c.aoeErrors + c.ioErrors} errors`,
  );
  const resent = target.paths.paths.reduce((n, p) => n + p.resent, 0);
  out(`  initiator: ${plural(resent, "frame")} resent, ${plural(ini.unmatchedReplies, "stray reply", "stray replies")}`);
  for (const n of notices) out(`  note: ${n}`);

  if (!match) throw new Error("the data read back is not the data written");
}
