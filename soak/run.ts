/**
 * `bun run soak`: the whole soak and fault campaign at full size (issue 13) —
 * hostile flood, many initiators, crashes, storage faults, bad daemon config
 * files — one part after the
 * other, each in worlds of its own that it removes. Prints what each part did and
 * one JSON line with every figure; exits 1 at the first broken promise.
 *
 *   bun run soak            full size (10 million frames, 20 kills, ...)
 *   bun run soak --ci       the size the test suite runs (test/soak/)
 *   bun run soak --only flood,crash
 * Sizes can be changed from the environment: see soak/sizes.ts.
 */
import { consola } from "consola";
import { netnsUnavailable, sweepStale } from "../src/net/netns.ts";
import { configFuzzCampaign } from "./config-fuzz.ts";
import { crashCampaign } from "./crash.ts";
import { floodCampaign } from "./flood.ts";
import { manyCampaign } from "./many.ts";
import { faultsUnavailable, soakSizes, soakUnavailable } from "./sizes.ts";
import { storageCampaign } from "./storage.ts";

const PARTS = ["flood", "many", "crash", "storage", "config"] as const;
type Part = (typeof PARTS)[number];

const argv = process.argv.slice(2);
const profile = argv.includes("--ci") ? "ci" : "full";
const onlyAt = argv.indexOf("--only");
const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? "").split(",") : [...PARTS];
for (const p of only) if (!PARTS.includes(p as Part)) throw new Error(`--only: unknown part ${p}; parts: ${PARTS.join(",")}`);

const why = soakUnavailable() ?? netnsUnavailable();
if (why) {
  consola.error(`soak: ${why}`);
  process.exit(1);
}
for (const tag of ["fl", "cr", "mi", "sf", "cf"]) sweepStale(tag);
const sizes = soakSizes(profile);
consola.start(`soak (${profile}): ${JSON.stringify(sizes)}`);
const log = (l: string) => consola.info(l);
const figures: Record<string, unknown> = { profile, sizes };
const t0 = performance.now();
try {
  if (only.includes("flood")) {
    const f = await floodCampaign({ frames: sizes.floodFrames, lockoutFrames: sizes.lockoutFrames, seed: sizes.seed, copyMiB: sizes.floodCopyMiB, pps: sizes.floodPps, log });
    figures.flood = f;
    consola.success(
      `flood: ${f.sent} frames sent (${f.sendFailures} refused by the kernel); serve received ${f.served.frames}, replied ${f.served.replies}, ` +
        `${f.served.ataErrors} ATA / ${f.served.aoeErrors} AoE errors, dropped ${f.served.malformed} malformed, ${f.served.forgedSource} forged sources, ` +
        `${f.served.notForUs} not for it, ${f.served.kernelDrops} kernel drops; ${f.copies} copies of ${f.copyBytes >> 20} MiB intact; ` +
        `RSS ${f.rssBeforeKiB} -> ${f.rssAfterKiB} KiB (trend ${f.rssGrowthKiB} KiB, range ${Math.min(...f.rssSamplesKiB)}-${Math.max(...f.rssSamplesKiB)}); Query Config after: ${f.probeMs.toFixed(0)} ms; crashes ${f.crashes}; ` +
        `lockout: ${f.lockout.sent} frames, mask list ${f.lockout.masks.length}, reservation ${f.lockout.reservation.length}, recovered`,
    );
  }
  if (only.includes("many")) {
    const m = await manyCampaign({ initiators: sizes.initiators, paths: sizes.paths, regionMiB: sizes.regionMiB, loserWrites: sizes.loserWrites, seed: sizes.seed, log });
    figures.many = m;
    consola.success(
      `many: ${m.initiators} initiators on ${m.paths} paths, ${m.regionsIntact} regions of ${m.regionBytes >> 20} MiB intact; ` +
        `reservation race: 1 winner, ${m.race.loserWritesRefused} loser writes refused with error 6, ${m.race.loserBytesOnImage} bytes of its data on the image`,
    );
  }
  if (only.includes("crash")) {
    const c = await crashCampaign({ kills: sizes.kills, syncKills: sizes.syncKills, seed: sizes.seed, copyMiB: sizes.crashCopyMiB, log });
    figures.crash = c;
    consola.success(
      `crash: ${c.kills} SIGKILLs over ${c.copies} copies of ${c.copyBytes >> 20} MiB, all intact; -s: ${c.syncKills} kills, ` +
        `${c.ackedWrites} acknowledged writes, ${c.ackedChecks} checks on the image, ${c.lostAcked} lost`,
    );
  }
  if (only.includes("storage")) {
    const missing = faultsUnavailable();
    if (missing) throw new Error(`storage faults: ${missing}`);
    const s = await storageCampaign({ imageMiB: sizes.faultImageMiB, log });
    figures.storage = s;
    for (const f of s) {
      consola.success(
        `storage ${f.fault}: writes ${f.writesOk} ok / ${f.writesFailed} failed, reads ${f.readsOk} ok / ${f.readsFailed} failed, ` +
          `errors ${JSON.stringify(f.errorBits)}, serve counted ${f.serveIoErrors}, false successes ${f.falseSuccess}`,
      );
    }
  }
  if (only.includes("config")) {
    const c = await configFuzzCampaign({ files: sizes.configFiles, seed: sizes.seed, log });
    figures.config = { ...c, violations: c.violations.map((v) => v.why) };
    if (c.violations.length > 0) throw new Error(`config fuzz: ${c.violations.length} violations: ${c.violations.map((v) => v.why).join(" | ")}`);
    consola.success(`config: ${c.files} mutated daemon config files: ${c.refused} refused with exit 2 having opened nothing, ${c.started} started fully and stopped cleanly`);
  }
} catch (e) {
  consola.error(`soak failed after ${((performance.now() - t0) / 1000).toFixed(0)} s: ${(e as Error).stack ?? e}`);
  process.exit(1);
}
figures.seconds = Math.round((performance.now() - t0) / 1000);
consola.success(`soak (${profile}) passed in ${figures.seconds} s`);
process.stdout.write(JSON.stringify(figures) + "\n");
