/**
 * Crashes: `aoede serve` killed with SIGKILL at seeded random moments and started
 * again at once.
 *
 * Copies: `aoede write` of seeded data runs while the target dies under it, round
 * after round, until `kills` kills are done; each round's data must then be on the
 * image (read from the file itself) and read back intact with `aoede read`.
 *
 * Acknowledged writes under -s (O_SYNC): an in-process initiator (src/initiator)
 * keeps a window of one-sector writes going, each LBA once with a pattern of its
 * own, and logs every write the target acknowledged. After each kill, before the
 * restart, every acknowledged write must be on the image.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openRawLink, type RawLink } from "../ffi/rawlink.ts";
import { discover } from "../src/initiator/discover.ts";
import { Initiator } from "../src/initiator/engine.ts";
import type { Target } from "../src/initiator/target.ts";
import { sharedLoop } from "../src/net/loop.ts";
import { aoede } from "../test/helpers/aoede-cli.ts";
import { makeVethWorld, type VethWorld } from "../test/helpers/netns.ts";
import { seededRandom } from "../test/helpers/prng.ts";
import { RawClient } from "../test/helpers/raw-client.ts";
import { startServe, type ServeProc } from "../test/helpers/serve-proc.ts";
import { readFileRange, seededBytes, sha256 } from "./bytes.ts";
import { tearDown } from "./serve.ts";

const MIB = 1 << 20;
const SHELF = 8;
const SLOT = 1;

export interface CrashOptions {
  /** SIGKILLs during copies */
  kills: number;
  /** SIGKILLs during the acknowledged-write check (-s) */
  syncKills: number;
  seed: number;
  copyMiB: number;
  log?: (line: string) => void;
}

export interface CrashFigures {
  seed: number;
  kills: number;
  copies: number;
  copyBytes: number;
  syncKills: number;
  /** writes acknowledged under -s, each checked on the image after every kill that followed */
  ackedWrites: number;
  ackedChecks: number;
  lostAcked: number;
}

async function kill9(s: ServeProc): Promise<void> {
  s.proc.kill("SIGKILL");
  await s.proc.exited;
}

export async function crashCampaign(o: CrashOptions): Promise<CrashFigures> {
  const log = o.log ?? (() => {});
  const w = makeVethWorld("cr");
  // on disk, not tmpfs: O_SYNC must mean something
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aoede-soak-crash-"));
  const img = path.join(dir, "disk.img");
  const copyBytes = o.copyMiB * MIB;
  fs.writeFileSync(img, "");
  fs.truncateSync(img, copyBytes + 16 * MIB);
  const client = new RawClient(w.ifB, w.nsB);
  const random = seededRandom(o.seed);
  let serve: ServeProc | undefined;
  const start = (extra: string[] = []) => startServe(w.prefix(w.nsA), ["-b", "32", ...extra, String(SHELF), String(SLOT), w.ifA, img], client, SHELF, SLOT, 20_000);
  try {
    // ---- copies killed under --------------------------------------------------------------
    serve = await start();
    let kills = 0;
    let copies = 0;
    const name = `e${SHELF}.${SLOT}`;
    while (kills < o.kills) {
      const data = seededBytes(o.seed + copies, copyBytes);
      const src = path.join(dir, "copy.in");
      fs.writeFileSync(src, data);
      let done = false;
      const wr = aoede(w.nsB, ["write", name, "-i", w.ifB, src], { killAfterMs: 600_000 }).finally(() => (done = true));
      while (!done && kills < o.kills) {
        const pause = 200 + random() * 1500;
        const until = Date.now() + pause;
        while (!done && Date.now() < until) await Bun.sleep(20);
        if (done) break;
        await kill9(serve);
        kills++;
        serve = await start();
      }
      const r = await wr;
      if (r.code !== 0) throw new Error(`copy ${copies} under kills failed (${r.code}): ${r.err}`);
      const onImage = sha256(readFileRange(img, 0, copyBytes));
      if (onImage !== sha256(data)) throw new Error(`copy ${copies}: the image differs from what was written after ${kills} kills`);
      const out = path.join(dir, "copy.out");
      const rd = await aoede(w.nsB, ["read", name, "-i", w.ifB, "-n", String(copyBytes), out], { killAfterMs: 600_000 });
      if (rd.code !== 0 || sha256(fs.readFileSync(out)) !== sha256(data)) throw new Error(`copy ${copies}: read back failed or differs: ${rd.err}`);
      copies++;
      log(`crash: copy ${copies} intact, ${kills} kills so far`);
    }
    await serve.stop("SIGTERM", 15_000);

    // ---- acknowledged writes under O_SYNC ---------------------------------------------------
    serve = await start(["-s"]);
    const sync = await syncWrites(w, img, copyBytes / 512, o, () => serve!, async () => {
      await kill9(serve!);
      return async () => {
        serve = await start(["-s"]);
      };
    }, random, log);
    await serve.stop("SIGTERM", 15_000);
    return { seed: o.seed, kills, copies, copyBytes, syncKills: o.syncKills, ...sync };
  } finally {
    await tearDown(serve, client, dir, w);
  }
}

/** The pattern of one sector: its LBA and a seed, in every 4 bytes. */
function pattern(seed: number, lba: number): Uint8Array {
  const b = new Uint8Array(512);
  const v = new DataView(b.buffer);
  for (let i = 0; i < 512; i += 8) {
    v.setUint32(i, lba);
    v.setUint32(i + 4, (seed * 2654435761 + lba) >>> 0);
  }
  return b;
}

async function syncWrites(
  w: VethWorld,
  img: string,
  firstLba: number,
  o: CrashOptions,
  _serve: () => ServeProc,
  kill: () => Promise<() => Promise<void>>,
  random: () => number,
  log: (s: string) => void,
): Promise<{ ackedWrites: number; ackedChecks: number; lostAcked: number }> {
  const link: RawLink = openRawLink(w.ifB, { netns: w.nsB, bufferFrames: 1024 });
  const ini = new Initiator(sharedLoop(), [link], { deadlineMs: 60_000 });
  try {
    const [t] = (await discover(ini, { timeoutMs: 3000, shelf: SHELF, slot: SLOT })) as [Target];
    if (!t) throw new Error(`e${SHELF}.${SLOT} (-s) did not answer discovery`);
    await ini.identify(t);
    const acked: number[] = [];
    let next = firstLba;
    const sectors = Math.min(16 * 2048, (t.sizeBytes ?? 0) / 512 - firstLba);
    let failure: unknown;
    let stop = false;
    const WINDOW = 16;
    const worker = async () => {
      while (!stop && next < firstLba + sectors) {
        const lba = next++;
        await ini.write(t, lba, 1, pattern(o.seed, lba));
        acked.push(lba);
      }
    };
    const workers = Array.from({ length: WINDOW }, () => worker().catch((e) => void (failure ??= e)));
    let checks = 0;
    let lost = 0;
    const check = () => {
      const fd = fs.openSync(img, "r");
      try {
        const b = new Uint8Array(512);
        for (const lba of acked) {
          fs.readSync(fd, b, 0, 512, lba * 512);
          checks++;
          const want = pattern(o.seed, lba);
          for (let i = 0; i < 512; i++) {
            if (b[i] !== want[i]) {
              lost++;
              break;
            }
          }
        }
      } finally {
        fs.closeSync(fd);
      }
    };
    for (let k = 0; k < o.syncKills && failure === undefined; k++) {
      const start = acked.length;
      const pause = 300 + random() * 1500;
      const until = Date.now() + pause;
      // wait for the pause, and until some writes have been acknowledged since the last kill
      while ((Date.now() < until || acked.length === start) && failure === undefined && next < firstLba + sectors) await Bun.sleep(20);
      const restart = await kill();
      const n = acked.length;
      check();
      log(`crash -s: kill ${k + 1}: ${n} writes acknowledged so far, all on the image: ${lost === 0}`);
      await restart();
    }
    stop = true;
    await Promise.all(workers);
    if (failure) throw failure;
    check();
    return { ackedWrites: acked.length, ackedChecks: checks, lostAcked: lost };
  } finally {
    ini.close();
    link.close();
    await Bun.sleep(50);
  }
}
