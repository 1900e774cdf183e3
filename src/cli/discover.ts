/**
 * `aoede discover [-i IFACE ...] [--timeout MS] [--json]`: broadcast Query
 * Config on each interface, gather replies for --timeout ms, one row per
 * target (paths merged by shelf.slot).
 */
import { defineCommand } from "citty";
import { commonArgs, commonOptions, hintNothingFound, jsonArg, runCommand } from "../initiator/cliutil.ts";
import { formatDiscoverTable } from "../initiator/table.ts";
import { discoverRow, discoveredJson } from "../initiator/views.ts";

export default defineCommand({
  meta: { name: "discover", description: "Find AoE targets: Query Config broadcast on each interface. Example: aoede discover -i eth0 -i eth1 --timeout 500" },
  args: { ...commonArgs, ...jsonArg },
  run: ({ args, rawArgs }) =>
    runCommand("discover", () => commonOptions(args, rawArgs), async (s, o) => {
      const targets = await s.discover(o.timeoutMs);
      if (targets.length === 0) hintNothingFound("discover", s.links.map((l) => l.name), o.timeoutMs);
      if (args.json) process.stdout.write(JSON.stringify(targets.map(discoveredJson), null, 2) + "\n");
      else process.stdout.write(formatDiscoverTable(targets.map(discoverRow)));
    }),
});
