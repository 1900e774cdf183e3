/**
 * Crashes at CI size (soak/crash.ts): serve SIGKILLed at seeded moments during
 * copies and restarted, the copies intact; under -s every acknowledged write on
 * the image after every kill.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { canUseNetns } from "../helpers/netns.ts";
import { crashCampaign } from "../../soak/crash.ts";
import { soakSizes, soakUnavailable } from "../../soak/sizes.ts";

setDefaultTimeout(300_000);

const sizes = soakSizes("ci");

test.skipIf(!canUseNetns() || soakUnavailable() !== undefined)(`${sizes.kills} SIGKILLs during copies, ${sizes.syncKills} under -s`, async () => {
  const c = await crashCampaign({ kills: sizes.kills, syncKills: sizes.syncKills, seed: sizes.seed, copyMiB: sizes.crashCopyMiB });
  console.log(`crash figures: ${JSON.stringify(c)}`);
  expect(c.kills).toBe(sizes.kills);
  expect(c.copies).toBeGreaterThanOrEqual(1);
  expect(c.ackedWrites).toBeGreaterThan(sizes.syncKills);
  expect(c.ackedChecks).toBeGreaterThanOrEqual(c.ackedWrites);
  expect(c.lostAcked).toBe(0);
});
