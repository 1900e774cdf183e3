/**
 * Many initiators at CI size (soak/many.ts): 8 `aoede write`/`aoede read`
 * processes on 4 veth paths, disjoint regions sha256-checked; two initiators race
 * for the reservation, the loser is refused with error 6 on every write.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { canUseNetns } from "../helpers/netns.ts";
import { manyCampaign } from "../../soak/many.ts";
import { soakSizes, soakUnavailable } from "../../soak/sizes.ts";

setDefaultTimeout(300_000);

const sizes = soakSizes("ci");

test.skipIf(!canUseNetns() || soakUnavailable() !== undefined)(`${sizes.initiators} initiators on ${sizes.paths} paths, then a reservation race`, async () => {
  const m = await manyCampaign({ initiators: sizes.initiators, paths: sizes.paths, regionMiB: sizes.regionMiB, loserWrites: sizes.loserWrites, seed: sizes.seed });
  console.log(`many figures: ${JSON.stringify(m)}`);
  expect(m.regionsIntact).toBe(sizes.initiators);
  expect(m.race.winner).not.toBe(m.race.loser);
  expect(m.race.loserExit).toBe(1);
  expect(m.race.loserError).toContain("AoE error 6");
  expect(m.race.loserWritesRefused).toBe(sizes.loserWrites);
  expect(m.race.loserBytesOnImage).toBe(0);
});
