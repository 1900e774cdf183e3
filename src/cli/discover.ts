/**
 * `aoede discover [-i IFACE ...] [--timeout MS] [--json]`: broadcast Query
 * Config on each interface, gather replies for --timeout ms, one row per
 * target (paths merged by shelf.slot). -q only broadcasts, as aoetools'
 * aoe-discover makes the kernel driver do.
 */
import { defineCommand } from "citty";
import { commonArgs, commonOptions, hintNothingFound, jsonArg, runCommand } from "../initiator/cliutil.ts";
import { formatDiscoverTable } from "../initiator/table.ts";
import { discoverRow, discoveredJson } from "../initiator/views.ts";

/** -q waits only long enough for the broadcasts to leave (nothing is shown of the replies). */
const QUIET_TIMEOUT_MS = 100;

export default defineCommand({
  meta: { name: "discover", description: "Find AoE targets: Query Config broadcast on each interface. Example: aoede discover -i eth0 -i eth1 --timeout 500" },
  args: {
    ...commonArgs,
    ...jsonArg,
    quiet: {
      type: "boolean",
      alias: "q",
      description: "print nothing, only broadcast (and wait --timeout, default here 100 ms): aoetools' aoe-discover, for a kernel aoe driver that hears the replies too",
    },
  },
  run: ({ args, rawArgs }) =>
    runCommand("discover", () => commonOptions(args, rawArgs), async (s, o) => {
      if (args.quiet) {
        await s.discover(args.timeout === undefined ? QUIET_TIMEOUT_MS : o.timeoutMs);
        return;
      }
      const targets = await s.discover(o.timeoutMs);
      if (targets.length === 0) hintNothingFound("discover", s.links.map((l) => l.name), o.timeoutMs);
      if (args.json) process.stdout.write(JSON.stringify(targets.map(discoveredJson), null, 2) + "\n");
      else process.stdout.write(formatDiscoverTable(targets.map(discoverRow)));
    }),
});
