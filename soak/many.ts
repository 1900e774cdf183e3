/**
 * Many initiators on one export: `paths` veth pairs joined by a bridge in the
 * target's namespace (serve listens on the bridge), `initiators` `aoede write`
 * processes at once, round-robin over the paths, each on a disjoint region of the
 * image; then as many `aoede read`s at once, each region's sha256 compared.
 *
 * Then two initiators on two paths (two MACs) race `aoede reserve --set self`:
 * exactly one wins. The loser's `aoede write` fails with AoE error 6, every one of
 * `loserWrites` raw ATA writes from it is answered with error 6, and none of its
 * data reaches the image; the winner's copy still works, and it can release.
 */
import fs from "node:fs";
import path from "node:path";
import { AtaCmd, Flag, parseMac } from "../src/aoe/index.ts";
import { aoede, type CliResult } from "../test/helpers/aoede-cli.ts";
import { makeVethWorld, type VethWorld } from "../test/helpers/netns.ts";
import { RawClient } from "../test/helpers/raw-client.ts";
import { ataFrame } from "../test/helpers/requests.ts";
import { startServe, type ServeProc } from "../test/helpers/serve-proc.ts";
import { readFileRange, seededBytes, sha256 } from "./bytes.ts";
import { tearDown } from "./serve.ts";

const MIB = 1 << 20;
const SHELF = 9;
const SLOT = 1;
const NAME = `e${SHELF}.${SLOT}`;

export interface ManyOptions {
  initiators: number;
  paths: number;
  regionMiB: number;
  loserWrites: number;
  seed: number;
  log?: (line: string) => void;
}

export interface ManyFigures {
  initiators: number;
  paths: number;
  regionBytes: number;
  regionsIntact: number;
  race: { winner: string; loser: string; loserExit: number; loserError: string; loserWritesRefused: number; loserBytesOnImage: number };
}

/** `paths` veth pairs; their nsA ends on one bridge. */
function bridgedWorld(paths: number): { w: VethWorld; bridge: string; ifsB: string[] } {
  const w = makeVethWorld("mi");
  for (let i = 1; i < paths; i++) w.addPair();
  const bridge = `brmi${process.pid}`.slice(0, 15);
  const a = (args: string[]) => w.exec(w.nsA, ["ip", ...args]);
  a(["link", "add", bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
  for (const p of w.pairs) a(["link", "set", p.ifA, "master", bridge]);
  a(["link", "set", bridge, "up"]);
  return { w, bridge, ifsB: w.pairs.map((p) => p.ifB) };
}

export async function manyCampaign(o: ManyOptions): Promise<ManyFigures> {
  const log = o.log ?? (() => {});
  const { w, bridge, ifsB } = bridgedWorld(o.paths);
  const dir = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : "/tmp", "aoede-soak-many-"));
  const img = path.join(dir, "disk.img");
  const region = o.regionMiB * MIB;
  fs.writeFileSync(img, "");
  fs.truncateSync(img, region * (o.initiators + 1));
  const client = new RawClient(ifsB[0]!, w.nsB);
  let serve: ServeProc | undefined;
  try {
    serve = await startServe(w.prefix(w.nsA), ["-b", "64", String(SHELF), String(SLOT), bridge, img], client, SHELF, SLOT);
    const datas = Array.from({ length: o.initiators }, (_, i) => seededBytes(o.seed * 100 + i, region));
    datas.forEach((d, i) => fs.writeFileSync(path.join(dir, `in${i}`), d));
    const via = (i: number) => ifsB[i % ifsB.length]!;
    const expectOk = (what: string, r: CliResult) => {
      if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.err}`);
    };
    const writes = await Promise.all(
      datas.map((_, i) => aoede(w.nsB, ["write", NAME, "-i", via(i), "-o", String(i * region), path.join(dir, `in${i}`)], { killAfterMs: 600_000 })),
    );
    writes.forEach((r, i) => expectOk(`writer ${i} on ${via(i)}`, r));
    log(`many: ${o.initiators} writers on ${o.paths} paths done`);
    const reads = await Promise.all(
      datas.map((_, i) => aoede(w.nsB, ["read", NAME, "-i", via(i + 1), "-o", String(i * region), "-n", String(region), path.join(dir, `out${i}`)], { killAfterMs: 600_000 })),
    );
    reads.forEach((r, i) => expectOk(`reader ${i}`, r));
    let intact = 0;
    datas.forEach((d, i) => {
      if (sha256(fs.readFileSync(path.join(dir, `out${i}`))) !== sha256(d)) throw new Error(`region ${i} read back differs`);
      intact++;
    });
    log(`many: ${intact} regions intact`);

    // ---- the reservation race ------------------------------------------------------------
    const [ifW, ifL] = [ifsB[0]!, ifsB[1 % ifsB.length]!];
    const racers = await Promise.all([ifW, ifL].map((i) => aoede(w.nsB, ["reserve", NAME, "-i", i, "--set", "self"])));
    const winners = racers.filter((r) => r.code === 0).length;
    if (winners !== 1) throw new Error(`reservation race: ${winners} winners: ${racers.map((r) => r.code + " " + r.err).join(" | ")}`);
    const wonBy = racers[0]!.code === 0 ? 0 : 1;
    const winner = [ifW, ifL][wonBy]!;
    const loser = [ifW, ifL][1 - wonBy]!;
    const loserRace = racers[1 - wonBy]!;
    if (!/reserved by/.test(loserRace.err)) throw new Error(`the race's loser said: ${loserRace.err}`);
    const lastRegion = o.initiators * region;
    const before = sha256(readFileRange(img, lastRegion, region));
    const loserData = seededBytes(0xbad, region);
    fs.writeFileSync(path.join(dir, "loser"), loserData);
    const lw = await aoede(w.nsB, ["write", NAME, "-i", loser, "-o", String(lastRegion), path.join(dir, "loser")]);
    if (lw.code === 0 || !/AoE error 6/.test(lw.err)) throw new Error(`the loser's write was not refused with AoE error 6 (${lw.code}): ${lw.err}`);
    // every raw write from the loser's MAC: error 6
    const raw = loser === ifsB[0] ? client : new RawClient(loser, w.nsB);
    let refused = 0;
    try {
      // serve answers from the bridge's MAC
      const bridgeMac = /link\/ether ([0-9a-f:]{17})/.exec(w.exec(w.nsA, ["ip", "-o", "link", "show", bridge]))![1]!;
      const at = raw.to(parseMac(bridgeMac), SHELF, SLOT);
      for (let k = 0; k < o.loserWrites; k++) {
        const j = k % (region / 1024);
        const tag = raw.tag();
        const data = loserData.subarray(j * 1024, j * 1024 + 1024);
        const r = await raw.ask(ataFrame(at, tag, { cmd: AtaCmd.WriteExt, lba: lastRegion / 512 + j * 2, count: 2, data }), tag, 3000);
        if (r.h.flags & Flag.Error && r.h.error === 6) refused++;
      }
    } finally {
      if (raw !== client) raw.close();
    }
    if (refused !== o.loserWrites) throw new Error(`${o.loserWrites - refused} of the loser's ${o.loserWrites} writes were not refused with error 6`);
    const after = readFileRange(img, lastRegion, region);
    if (sha256(after) !== before) throw new Error(`the loser's data reached the image`);
    const loserBytesOnImage = countSame(after, loserData);
    // the holder still writes, and releases
    const ww = await aoede(w.nsB, ["write", NAME, "-i", winner, "-o", String(lastRegion), path.join(dir, "in0")]);
    expectOk("the holder's write", ww);
    const rel = await aoede(w.nsB, ["reserve", NAME, "-i", winner, "--release"]);
    expectOk("the holder's release", rel);
    log(`many: reservation race won by ${winner}; ${refused} writes from ${loser} refused with error 6`);
    if ((await serve.stop("SIGTERM", 15_000)) !== 0) throw new Error(`serve did not exit 0:\n${serve.output().slice(-2000)}`);
    return {
      initiators: o.initiators,
      paths: o.paths,
      regionBytes: region,
      regionsIntact: intact,
      race: { winner, loser, loserExit: lw.code, loserError: lw.err.trim(), loserWritesRefused: refused, loserBytesOnImage },
    };
  } finally {
    await tearDown(serve, client, dir, w);
  }
}

/** 512-byte sectors of `a` equal to the same sector of `b` (the loser's data, if any got through). */
function countSame(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let s = 0; s + 512 <= a.length; s += 512) {
    let same = true;
    for (let i = s; i < s + 512 && same; i++) same = a[i] === b[i];
    if (same) n += 512;
  }
  return n;
}
