/**
 * The soak campaign's hostile flood at CI size (soak/flood.ts; `bun run soak`
 * runs it at full size): a million seeded hostile frames at a running
 * `aoede serve` beside sha256-checked copies, then the lockout phase.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { canUseNetns } from "../helpers/netns.ts";
import { floodCampaign, PROBE_MS } from "../../soak/flood.ts";
import { soakSizes, soakUnavailable } from "../../soak/sizes.ts";

// A million frames through a veth on a shared 2-core machine: minutes, not seconds.
setDefaultTimeout(600_000);

const sizes = soakSizes("ci");

test.skipIf(!canUseNetns() || soakUnavailable() !== undefined)(
  `hostile flood: ${sizes.floodFrames} frames, copies intact, serve alive, memory flat, lockout undone`,
  async () => {
    const f = await floodCampaign({ frames: sizes.floodFrames, lockoutFrames: sizes.lockoutFrames, seed: sizes.seed, copyMiB: sizes.floodCopyMiB, pps: sizes.floodPps });
    console.log(`flood figures: ${JSON.stringify({ ...f, rssSamplesKiB: undefined, lockout: { ...f.lockout, masks: f.lockout.masks.length, reservation: f.lockout.reservation.length } })}`);
    expect(f.sent + f.sendFailures).toBe(sizes.floodFrames);
    expect(f.sendFailures).toBeLessThan(sizes.floodFrames / 1000);
    expect(f.crashes).toBe(0);
    // every kind of frame went out
    for (const k of ["ata", "config", "mask", "reserve", "unknown", "random", "truncated", "mutated", "badVersion", "forgedSource", "broadcastDst", "configOver1024", "guarded"] as const) {
      expect(f.mix[k]).toBeGreaterThan(0);
    }
    // serve took them in and answered what deserved an answer
    expect(f.served.frames).toBeGreaterThan(sizes.floodFrames / 4);
    expect(f.served.replies).toBeGreaterThan(0);
    expect(f.served.malformed).toBeGreaterThan(0);
    expect(f.served.forgedSource).toBeGreaterThan(0);
    expect(f.served.aoeErrors).toBeGreaterThan(0);
    expect(f.served.ataErrors).toBeGreaterThan(0);
    expect(f.copies).toBeGreaterThanOrEqual(2);
    // (floodCampaign holds the samples to their bound; after minus before is the figure the brief names)
    expect(f.rssAfterKiB - f.rssBeforeKiB).toBeLessThan(32 * 1024);
    expect(f.probeMs).toBeLessThan(PROBE_MS);
    expect(f.lockout.recovered).toBe(true);
    expect(f.lockout.served.frames).toBeGreaterThan(0);
  },
);
