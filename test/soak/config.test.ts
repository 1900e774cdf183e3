/**
 * Bad configuration input to `aoede daemon` at CI size (soak/config-fuzz.ts):
 * seeded mutations of packaging/aoede.toml.example either exit 2 having opened
 * nothing (no socket, no state directory, no frame) or start fully, as --check said.
 */
import { expect, setDefaultTimeout, test } from "bun:test";
import { canUseNetns } from "../helpers/netns.ts";
import { configFuzzCampaign } from "../../soak/config-fuzz.ts";
import { soakSizes } from "../../soak/sizes.ts";

setDefaultTimeout(300_000);

const sizes = soakSizes("ci");

test.skipIf(!canUseNetns() || !Bun.which("unshare"))(`${sizes.configFiles} mutated daemon config files: refused whole or started whole`, async () => {
  const c = await configFuzzCampaign({ files: sizes.configFiles, seed: sizes.seed });
  console.log(`config figures: ${JSON.stringify({ ...c, violations: c.violations.map((v) => v.why) })}`);
  expect(c.violations.map((v) => `${v.why}\n--- file ---\n${v.file}`)).toEqual([]);
  expect(c.refused + c.started).toBe(sizes.configFiles);
  expect(c.refused).toBeGreaterThan(0);
  expect(c.started).toBeGreaterThan(0); // the example itself, at least
});
