/**
 * Storage faults under a running `aoede serve`, each on storage the campaign makes
 * itself:
 *   - ENOSPC: a sparse image larger than the small tmpfs it lives on;
 *   - EIO: a device-mapper device with an `error` target spliced between two
 *     linear pieces of a loop device (exported with -d, so that every transfer
 *     meets the device, and without, for reads);
 *   - read-only: an ext4 file system on a loop device of its own that goes
 *     read-only under serve (`mount -o remount,ro`, or, when open files keep it
 *     busy, ext4's own errors=remount-ro through its trigger_fs_error knob).
 * Every sector of the image is written and read with raw AoE frames. A failed
 * transfer must be answered ATA ERR (UNC for an unreadable sector, ABRT for the
 * rest), logged and counted by serve; every write answered as done must be on the
 * storage (no false success); the rest of the image keeps being served; and
 * `aoede write` fails with a line that names the LBA.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AtaCmd, AtaErrorBit, AtaStatus, Flag, parseMac } from "../src/aoe/index.ts";
import { aoede } from "../test/helpers/aoede-cli.ts";
import { makeVethWorld, type VethWorld } from "../test/helpers/netns.ts";
import { RawClient } from "../test/helpers/raw-client.ts";
import { ataFrame, type Addr, type Reply } from "../test/helpers/requests.ts";
import { startServe, type ServeProc } from "../test/helpers/serve-proc.ts";
import { readFileRange, seededBytes } from "./bytes.ts";
import { cTool, serveCounters } from "./serve.ts";

const MIB = 1 << 20;
const SHELF = 10;
const SLOT = 1;
/** sectors per request (fits MTU 1500) */
const PER = 2;

export interface FaultFigures {
  fault: string;
  sectors: number;
  writesOk: number;
  writesFailed: number;
  readsOk: number;
  readsFailed: number;
  /** ATA error registers seen on failures, with counts */
  errorBits: Record<string, number>;
  /** writes answered as done whose data is not on the storage */
  falseSuccess: number;
  /** serve's own I/O error count */
  serveIoErrors: number;
  /** the initiator's one-line error */
  initiatorError: string;
}

function sh(args: string[], allowFail = false): string {
  const r = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0 && !allowFail) throw new Error(`${args.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.exitCode === 0 ? r.stdout.toString() : "";
}

/** Send requests with up to `window` outstanding; the replies, in request order. */
async function exchange(client: RawClient, make: (tag: number, i: number) => Uint8Array, count: number, window = 16): Promise<Reply[]> {
  const out: Reply[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const tag = client.tag();
      out[i] = await client.ask(make(tag, i), tag, 10_000);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  client.received.length = 0; // keep memory flat over thousands of requests
  return out;
}

const failed = (r: Reply) => (r.h.flags & Flag.Error) !== 0 || (r.ata().cmdStatus & AtaStatus.Err) !== 0;

const pattern = (seed: number, sectors: number) => seededBytes(seed, sectors * 512);

interface Scenario {
  fault: string;
  /** the exported file or device */
  path: string;
  serveArgs: string[];
  /** make the fault happen (after serve started); undefined: it is there from the start */
  inject?: () => string;
  /** read the storage back, bypassing serve, to check acknowledged writes */
  readBack: (offset: number, length: number) => Uint8Array;
  /** the expected error register of a failed read / write (undefined: none may fail) */
  readError?: number;
  writeError?: number;
  /** how many requests of PER sectors must fail; undefined: at least one write */
  failures?: (requests: number) => { writes: number; reads: number };
}

async function runScenario(w: VethWorld, client: RawClient, dir: string, s: Scenario, log: (l: string) => void): Promise<FaultFigures> {
  const serve: ServeProc = await startServe(w.prefix(w.nsA), ["-b", "16", ...s.serveArgs, String(SHELF), String(SLOT), w.ifA, s.path], client, SHELF, SLOT);
  try {
    const how = s.inject?.() ?? "";
    const at: Addr = client.to(parseMac(w.macA), SHELF, SLOT);
    await serve.waitOutput(/: e\d+\.\d+, \d+ sectors/);
    const sectors = Number(/: e\d+\.\d+, (\d+) sectors/.exec(serve.output())![1]);
    const requests = sectors / PER;
    const data = pattern(sectors, sectors);
    const bits: Record<string, number> = {};
    const note = (r: Reply, want: number | undefined, what: string, lba: number) => {
      if (r.h.flags & Flag.Error) throw new Error(`${s.fault}: ${what} at LBA ${lba}: AoE error ${r.h.error}, an ATA error was expected`);
      const a = r.ata();
      const key = `0x${a.cmdStatus.toString(16)}/0x${a.errFeature.toString(16)}`;
      bits[key] = (bits[key] ?? 0) + 1;
      if (want === undefined) throw new Error(`${s.fault}: ${what} at LBA ${lba} failed (${key}) where none may`);
      if (a.errFeature !== want || a.cmdStatus !== (AtaStatus.Drdy | AtaStatus.Err)) throw new Error(`${s.fault}: ${what} at LBA ${lba} failed with ${key}, expected 0x41/0x${want.toString(16)}`);
    };
    const writes = await exchange(client, (tag, i) => ataFrame(at, tag, { cmd: AtaCmd.WriteExt, lba: i * PER, count: PER, data: data.subarray(i * PER * 512, (i + 1) * PER * 512) }), requests);
    let writesOk = 0;
    let writesFailed = 0;
    let falseSuccess = 0;
    const okAt: boolean[] = [];
    writes.forEach((r, i) => {
      if (failed(r)) {
        writesFailed++;
        note(r, s.writeError, "write", i * PER);
      } else {
        writesOk++;
        okAt[i] = true;
      }
    });
    // acknowledged = on the storage (read around serve, after serve's own flush is not needed: no
    // write may be answered before it reached the file or device)
    const back = s.readBack(0, sectors * 512);
    writes.forEach((_, i) => {
      if (!okAt[i]) return;
      for (let k = i * PER * 512; k < (i + 1) * PER * 512; k++) {
        if (back[k] !== data[k]) {
          falseSuccess++;
          break;
        }
      }
    });
    const reads = await exchange(client, (tag, i) => ataFrame(at, tag, { cmd: AtaCmd.ReadExt, lba: i * PER, count: PER }), requests);
    let readsOk = 0;
    let readsFailed = 0;
    reads.forEach((r, i) => {
      if (failed(r)) {
        readsFailed++;
        note(r, s.readError, "read", i * PER);
      } else readsOk++;
    });
    const want = s.failures?.(requests);
    if (want ? want.writes !== writesFailed || want.reads !== readsFailed : writesFailed === 0) {
      throw new Error(`${s.fault}: ${writesFailed} writes and ${readsFailed} reads failed, expected ${want ? `${want.writes} and ${want.reads}` : "some writes"}`);
    }
    // the initiator's view: a whole-image copy fails, naming an LBA
    const src = path.join(dir, "whole.in");
    fs.writeFileSync(src, pattern(7, sectors));
    const wr = await aoede(w.nsB, ["write", `e${SHELF}.${SLOT}`, "-i", w.ifB, src], { killAfterMs: 120_000 });
    const initiatorError = wr.err.trim();
    const expectFail = writesFailed > 0;
    if (expectFail && (wr.code === 0 || !/at LBA \d+ failed: ATA status 0x41 error 0x/.test(initiatorError))) {
      throw new Error(`${s.fault}: aoede write of the whole image: exit ${wr.code}, "${initiatorError}"`);
    }
    const c = await serveCounters(serve);
    if ((writesFailed > 0 || readsFailed > 0) && (c.ioErrors < writesFailed + readsFailed || !/failed: .*I\/O errors so far/.test(serve.output()))) {
      throw new Error(`${s.fault}: serve counted ${c.ioErrors} I/O errors for ${writesFailed + readsFailed} failures:\n${serve.output().slice(-2000)}`);
    }
    if (serve.proc.exitCode !== null) throw new Error(`${s.fault}: serve exited`);
    log(`storage ${s.fault}${how ? ` (${how})` : ""}: writes ${writesOk} ok / ${writesFailed} failed, reads ${readsOk} ok / ${readsFailed} failed, errors ${JSON.stringify(bits)}, false successes ${falseSuccess}`);
    await serve.stop("SIGTERM", 15_000);
    return { fault: s.fault + (how ? ` (${how})` : ""), sectors, writesOk, writesFailed, readsOk, readsFailed, errorBits: bits, falseSuccess, serveIoErrors: c.ioErrors, initiatorError };
  } finally {
    serve.kill();
  }
}

const fileReader = (file: string) => (offset: number, length: number) => readFileRange(file, offset, length);

export interface StorageOptions {
  /** MiB of the exported image in each scenario */
  imageMiB: number;
  log?: (line: string) => void;
}

/** ENOSPC: an image of `imageMiB` on a tmpfs of half that. */
async function enospc(w: VethWorld, client: RawClient, dir: string, o: StorageOptions, log: (l: string) => void): Promise<FaultFigures> {
  const mnt = path.join(dir, "small");
  fs.mkdirSync(mnt);
  sh(["mount", "-t", "tmpfs", "-o", `size=${(o.imageMiB / 2) * 1024}k`, "soak-enospc", mnt]);
  try {
    const img = path.join(mnt, "disk.img");
    fs.writeFileSync(img, "");
    fs.truncateSync(img, o.imageMiB * MIB);
    return await runScenario(w, client, dir, { fault: "ENOSPC", path: img, serveArgs: [], readBack: fileReader(img), writeError: AtaErrorBit.Abrt }, log);
  } finally {
    sh(["umount", "-l", mnt], true);
  }
}

/**
 * EIO: a FUSE file of the campaign's own (soak/badfile.c) whose middle fails
 * every transfer, as an unreadable stretch of disk does. (A device-mapper
 * `error` target would do the same; kernels without device-mapper have FUSE.)
 */
async function eio(w: VethWorld, client: RawClient, dir: string, o: StorageOptions, direct: boolean, log: (l: string) => void): Promise<FaultFigures> {
  const backing = path.join(dir, "eio.backing");
  fs.writeFileSync(backing, "");
  fs.truncateSync(backing, o.imageMiB * MIB);
  const total = (o.imageMiB * MIB) / 512;
  const badFirst = Math.floor(total / 2);
  const badCount = 64;
  const mnt = path.join(dir, direct ? "eio-direct" : "eio");
  fs.mkdirSync(mnt);
  const fuse = Bun.spawn([cTool("badfile", "fuse3"), backing, String(badFirst), String(badCount), mnt], { stdout: "pipe", stderr: "pipe" });
  try {
    for (let i = 0; i < 250 && !mounted(mnt); i++) await Bun.sleep(20);
    if (!mounted(mnt)) throw new Error(`the FUSE file did not mount: ${await new Response(fuse.stderr).text()}`);
    const img = path.join(mnt, "disk.img");
    // the backing file holds what reached the "disk"; the bad stretch never does
    const readBack = fileReader(backing);
    return await runScenario(
      w,
      client,
      dir,
      { fault: direct ? "EIO (FUSE), O_DIRECT" : "EIO (FUSE)", path: img, serveArgs: direct ? ["-d"] : [], readBack, readError: AtaErrorBit.Unc, writeError: AtaErrorBit.Abrt, failures: () => ({ writes: badCount / PER, reads: badCount / PER }) },
      log,
    );
  } finally {
    sh(["umount", "-l", mnt], true);
    fuse.kill();
    await fuse.exited;
  }
}

function mounted(mnt: string): boolean {
  return fs.readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === mnt);
}

/** A file system that goes read-only under serve. */
async function readOnly(w: VethWorld, client: RawClient, dir: string, o: StorageOptions, log: (l: string) => void): Promise<FaultFigures> {
  const fsImage = path.join(dir, "ext4.img");
  fs.writeFileSync(fsImage, "");
  fs.truncateSync(fsImage, (o.imageMiB * 2 + 16) * MIB);
  sh(["mkfs.ext4", "-q", "-F", fsImage]);
  const loop = sh(["losetup", "--find", "--show", fsImage]).trim();
  const mnt = path.join(dir, "ro");
  fs.mkdirSync(mnt);
  sh(["mount", "-t", "ext4", "-o", "errors=remount-ro", loop, mnt]);
  try {
    const img = path.join(mnt, "disk.img");
    fs.writeFileSync(img, new Uint8Array(o.imageMiB * MIB)); // allocated: only the read-only state can fail a write
    const inject = () => {
      const r = Bun.spawnSync(["mount", "-o", "remount,ro", mnt], { stderr: "pipe" });
      if (r.exitCode === 0) return "mount -o remount,ro";
      // busy (serve holds the image open for writing): ext4 goes read-only by itself on an error
      const dev = path.basename(loop);
      fs.writeFileSync(`/sys/fs/ext4/${dev}/trigger_fs_error`, "soak: read-only test\n");
      for (let i = 0; i < 100 && !/\bro\b/.test(mountOptions(mnt)); i++) Bun.sleepSync(20);
      if (!/\bro\b/.test(mountOptions(mnt))) throw new Error(`${mnt} did not go read-only`);
      return "remount,ro was refused as busy; ext4 errors=remount-ro";
    };
    // after the remount nothing new can reach the file: acknowledged writes must be the zeroes that were there
    return await runScenario(w, client, dir, { fault: "read-only file system", path: img, serveArgs: [], inject, readBack: fileReader(img), writeError: AtaErrorBit.Abrt, failures: (n) => ({ writes: n, reads: 0 }) }, log);
  } finally {
    sh(["umount", "-l", mnt], true);
    sh(["losetup", "-d", loop], true);
  }
}

function mountOptions(mnt: string): string {
  const line = fs.readFileSync("/proc/mounts", "utf8").split("\n").find((l) => l.split(" ")[1] === mnt);
  return line?.split(" ")[3] ?? "";
}

export async function storageCampaign(o: StorageOptions): Promise<FaultFigures[]> {
  const log = o.log ?? (() => {});
  const w = makeVethWorld("sf");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-soak-faults-"));
  const client = new RawClient(w.ifB, w.nsB);
  try {
    const out: FaultFigures[] = [];
    out.push(await enospc(w, client, dir, o, log));
    out.push(await eio(w, client, dir, o, true, log));
    out.push(await eio(w, client, dir, o, false, log));
    out.push(await readOnly(w, client, dir, o, log));
    return out;
  } finally {
    client.close();
    await Bun.sleep(50);
    fs.rmSync(dir, { recursive: true, force: true });
    w.dispose();
  }
}
